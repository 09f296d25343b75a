"""The pipeline end to end, for the CLI and the tests: spec -> plan -> tree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from obskit.generate.parallel import generate_tree_parallel, stream_tree
from obskit.output.writer import stream_with_manifest, with_manifest
from obskit.plan.build import build_plan
from obskit.plan.types import Plan
from obskit.spec.alert_templates import builtin_catalog_files, load_catalog
from obskit.spec.model import Spec
from obskit.spec.resolve import load_spec


@dataclass(frozen=True)
class Validation:
    spec: Spec
    infeasible: list[str]  # "<environment>: <finding>" for each DR target no schedule can meet


def validate(spec_path: Path, environment: str | None = None) -> Validation:
    """Every spec check and each environment's DR plan. Raises SpecInvalid or UnknownEnvironment."""
    spec = load_spec(spec_path, [environment] if environment else None)
    catalog = load_catalog([*builtin_catalog_files(), *spec.alert_catalogs])
    infeasible = [
        f"{env.name}: {finding}"
        for env in spec.environments
        for finding in build_plan(spec, env.name, catalog).infeasible
    ]
    return Validation(spec, infeasible)


def starter_spec() -> str:
    """The commented starter spec `obskit init` writes."""
    return resources.files("obskit").joinpath("starter", "obskit.yaml").read_text(encoding="utf-8")


def load_plan(spec_path: Path, environment: str) -> Plan:
    """Raises SpecInvalid or UnknownEnvironment."""
    spec = load_spec(spec_path, [environment])
    return build_plan(spec, environment, load_catalog([*builtin_catalog_files(), *spec.alert_catalogs]))


def output_tree(plan: Plan, jobs: int = 1) -> dict[str, str]:
    """Every file of the output tree, the manifest included, rendered by up to `jobs` processes."""
    return with_manifest(generate_tree_parallel(plan, jobs))


def output_files(plan: Plan, jobs: int = 1) -> Iterator[tuple[str, str]]:
    """The output tree file by file as it is rendered, the manifest last: for writing a large
    tree without holding it in memory."""
    return stream_with_manifest(stream_tree(plan, jobs))
