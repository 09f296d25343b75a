"""The pipeline end to end, for the CLI and the tests: spec -> plan -> tree."""

from __future__ import annotations

from pathlib import Path

from obskit.alertcatalog import builtin_catalog_files, load_catalog
from obskit.generate import generate_tree
from obskit.plan import Plan, build_plan
from obskit.resolve import load_spec
from obskit.writer import with_manifest


def load_plan(spec_path: Path, environment: str) -> Plan:
    """Raises SpecInvalid or UnknownEnvironment."""
    spec = load_spec(spec_path, [environment])
    return build_plan(spec, environment, load_catalog([*builtin_catalog_files(), *spec.alert_catalogs]))


def output_tree(plan: Plan) -> dict[str, str]:
    """Every file of the output tree, the manifest included."""
    return with_manifest(generate_tree(plan))
