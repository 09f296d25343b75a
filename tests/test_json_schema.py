"""`obskit schema`: the JSON Schema editors read, translated from the validation schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from obskit.cli import main
from obskit.pipeline import spec_json_schema
from tests.conftest import EXAMPLES, MINIMAL


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(spec_json_schema())


def test_the_schema_is_a_valid_draft_2020_12_schema_and_printed_as_is() -> None:
    jsonschema.Draft202012Validator.check_schema(spec_json_schema())
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0 and json.loads(result.output) == spec_json_schema()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_example_file_validates(path: Path) -> None:
    assert list(validator().iter_errors(yaml.safe_load(path.read_text()))) == []


def test_the_starter_spec_and_minimal_spec_validate(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(tmp_path)]).exit_code == 0
    for text in ((tmp_path / "obskit.yaml").read_text(), MINIMAL):
        assert list(validator().iter_errors(yaml.safe_load(text))) == []


def _with(path: tuple[str, ...], key: str, value: Any) -> dict[str, Any]:
    document = yaml.safe_load(MINIMAL)
    document["services"]["checkout"]["slos"] = {"availability": {"errors": "a_total{c='5'}", "total": "a_total"}}
    document["services"]["checkout"]["backup"] = {"datastores": {"db": {"engine": "postgres", "method": "wal-g"}}}
    node = document
    for part in path:
        node = node[part]
    node[key] = value
    return document


@pytest.mark.parametrize(
    ("path", "key", "value"),
    [
        ((), "extra", 1),
        (("services", "checkout"), "namespce", "shop"),
        (("services", "checkout", "slos", "availability"), "objectiv", 99),
        (("environments", "prod"), "lables", {}),
        (("services", "checkout", "backup", "datastores", "db"), "sise", "1Gi"),
        (("services", "checkout", "backup"), "volumes", "snapshots"),
        (("services", "checkout"), "namespace", "Shop"),
        (("services", "checkout", "slos", "availability"), "objective", 100),
        (("services", "checkout", "slos", "availability"), "window", "30 days"),
    ],
)
def test_unknown_keys_wrong_values_and_types_are_refused(path: tuple[str, ...], key: str, value: Any) -> None:
    assert list(validator().iter_errors(_with(path, key, value)))


def test_an_override_may_remove_with_null() -> None:
    document = yaml.safe_load(MINIMAL)
    document["environments"]["staging"] = {"services": {"checkout": {"backup": None, "slos": {"x": None}}}}
    assert list(validator().iter_errors(document)) == []


def _property_names(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for name, child in (node.get("properties") or {}).items():
            found |= {name} | _property_names(child)
        for key in ("additionalProperties", "items"):
            found |= _property_names(node.get(key))
    return found


def test_the_field_reference_names_every_field() -> None:
    reference = (EXAMPLES.parent / "docs" / "spec.md").read_text()
    missing = sorted(name for name in _property_names(spec_json_schema()) if f"`{name}`" not in reference
                     and f".{name}`" not in reference)  # fmt: skip
    assert missing == [], f"docs/spec.md does not describe: {missing}"
