"""The pipeline end to end, for the CLI and the tests: spec -> plan -> tree."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from obskit.engines.registry import ENGINES
from obskit.generate.parallel import generate_tree_parallel, stream_tree
from obskit.generate.rules.choice import disable_problems
from obskit.importers import common as imports
from obskit.importers import openslo, sloth
from obskit.output.writer import stream_with_manifest, with_manifest
from obskit.plan.build import build_plan
from obskit.plan.types import Plan
from obskit.spec import json_schema, resolve
from obskit.spec.alert_templates import AlertTemplate, builtin_catalog_files, load_catalog, scope_problems
from obskit.spec.fragment import Kinds
from obskit.spec.model import Spec
from obskit.spec.problems import Problem, SpecInvalid

# The datastore engines' parts of the spec, in the registry's order
KINDS: Kinds = tuple(engine.spec for engine in ENGINES.values())


def load_spec(spec_path: Path, environments: list[str] | None = None) -> Spec:
    """The typed spec with the named environments resolved (all when None); raises SpecInvalid
    listing every problem of the spec itself, or UnknownEnvironment."""
    return resolve.load_spec(spec_path, KINDS, environments)


def spec_json_schema() -> dict[str, Any]:
    """The spec format as a JSON Schema, for editors."""
    return json_schema.spec_json_schema(KINDS)


def _catalog(spec: Spec) -> tuple[AlertTemplate, ...]:
    return load_catalog([*builtin_catalog_files(), *spec.alert_catalogs])


def plan_problems(plan: Plan) -> list[Problem]:
    """What only the plan can find: SLO alerts that could never fire, DR targets no schedule meets."""
    return [*plan.problems, *(finding.problem(plan.environment) for finding in plan.infeasible)]


def _validated(spec_path: Path, environment: str | None) -> tuple[Spec, dict[str, Plan]]:
    spec, problems = resolve.load_valid_parts(spec_path, KINDS, [environment] if environment else None)
    try:
        catalog = _catalog(spec)
    except SpecInvalid as err:
        raise SpecInvalid([*problems, *err.problems]) from None
    problems += scope_problems(catalog, spec.service_names, spec.team_names)
    plans = {env.name: build_plan(spec, env.name, catalog, ENGINES) for env in spec.environments}
    for plan in plans.values():
        problems += plan_problems(plan)
        problems += disable_problems(plan)
    problems = list(dict.fromkeys(problems))  # a service's SLO problem is found in every environment
    if problems:
        raise SpecInvalid(problems)
    return spec, plans


def validate(spec_path: Path, environment: str | None = None) -> Spec:
    """Every check, across the stages, in one run: the spec's own, then the plan's for the valid
    parts of every environment (or the one named). Raises SpecInvalid with every problem,
    sorted by file and line, or UnknownEnvironment."""
    return _validated(spec_path, environment)[0]


def starter_spec() -> str:
    """The commented starter spec `obskit init` writes."""
    return resources.files("obskit").joinpath("starter", "obskit.yaml").read_text(encoding="utf-8")


IMPORTERS = {"openslo": openslo.imported, "sloth": sloth.imported}


def imported_spec(tool: str, paths: list[Path]) -> str:
    """The SLOs of another tool's files as a commented obskit spec; SpecInvalid names every
    problem at its FILE:LINE."""
    return imports.render(IMPORTERS[tool](paths), tool, [str(path) for path in paths])


def load_plan(spec_path: Path, environment: str, feasible: bool = True) -> Plan:
    """The plan of one environment. Raises SpecInvalid (with every problem `validate` finds for
    it, the DR targets no schedule meets included unless `feasible` is False) or UnknownEnvironment."""
    if feasible:
        return _validated(spec_path, environment)[1][environment]
    spec = load_spec(spec_path, [environment])
    catalog = _catalog(spec)
    plan = build_plan(spec, environment, catalog, ENGINES)
    problems = [*plan.problems, *scope_problems(catalog, spec.service_names, spec.team_names), *disable_problems(plan)]
    if problems:
        raise SpecInvalid(problems)
    return plan


def output_tree(plan: Plan, jobs: int = 1) -> dict[str, str]:
    """Every file of the output tree, the manifest included, rendered by up to `jobs` processes."""
    return with_manifest(generate_tree_parallel(plan, jobs))


def output_files(plan: Plan, jobs: int = 1) -> Iterator[tuple[str, str]]:
    """The output tree file by file as it is rendered, the manifest last: for writing a large
    tree without holding it in memory."""
    return stream_with_manifest(stream_tree(plan, jobs))
