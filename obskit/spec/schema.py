"""The spec's shape as cerberus schemas, read off the declarations (model.py and the engines'
fragments), and the validator that turns cerberus' errors into messages.

Only shape and per-value rules live here (types, unknown keys, units, names, PromQL: validator.py);
rules that relate fields to each other are in cross_checks.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cerberus

from obskit.shown import got, shown
from obskit.spec import fast_path
from obskit.spec.declare import fields, rules_of
from obskit.spec.fragment import DatastoreKind, Kinds
from obskit.spec.model import (
    API_VERSION,
    DEFAULTABLE_FIELDS,
    Alerting,
    Datastore,
    Environment,
    Integrations,
    Routes,
    Service,
    SpecFile,
    Tier,
)
from obskit.spec.problems import FieldPath
from obskit.spec.rules import named
from obskit.spec.tiers import TIER_FIELDS
from obskit.spec.validator import SpecValidator

__all__ = ["API_VERSION", "DEFAULTABLE_FIELDS"]

TIER = rules_of(Tier)
assert set(TIER_FIELDS) <= set(TIER)
ROUTES = rules_of(Routes)  # a team's receivers by severity
ALERTING = rules_of(Alerting)
INTEGRATIONS = tuple(field.key for field in fields(Integrations))
SEVERITY_ROUTES = tuple(field.key for field in fields(Routes))  # what an environment's alerting and a team route


def nullable(fields: dict[str, Any]) -> dict[str, Any]:
    """The same field rules with null allowed at every level: what an override may say. Value
    rules (check_with) are left to the check of the merged service, which reports at the
    override's line: cerberus would run them on a null too."""
    result = {}
    for name, field_rules in fields.items():
        rules = {key: value for key, value in field_rules.items() if key != "check_with"} | {"nullable": True}
        if rules.get("type") == "dict" and "schema" in rules:
            rules["schema"] = nullable(rules["schema"])
        if isinstance(rules.get("valuesrules"), dict) and "schema" in rules["valuesrules"]:
            inner = rules["valuesrules"]
            rules["valuesrules"] = {**inner, "nullable": True, "schema": nullable(inner["schema"])}
        result[name] = rules
    return result


def _named(schema: dict[str, Any], nullable_values: bool = False) -> dict[str, Any]:
    """A mapping of DNS-label names to documents of `schema`."""
    return named({"type": "dict", "schema": schema} | ({"nullable": True} if nullable_values else {}))


@dataclass(frozen=True, eq=False)
class Shape:
    """The spec's schemas with the datastore engines' fragments in them."""

    datastore: dict[str, Any]
    service: dict[str, Any]
    environment: dict[str, Any]  # without `services`: the overrides are checked as merged services
    file: dict[str, Any]
    kinds: Kinds


def _union(kinds: Kinds, fields_of: Callable[[DatastoreKind], Mapping[str, Any]], what: str) -> dict[str, Any]:
    """The fields of every engine; engines that share a field or a section declare it alike."""
    result: dict[str, Any] = {}
    for kind in kinds:
        for name, rules in fields_of(kind).items():
            if result.setdefault(name, rules) != rules:
                raise ValueError(f"engines declare {what} {name!r} differently")
    return result


def _optional(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: {key: value for key, value in rules.items() if key != "required"} for name, rules in fields.items()}


@lru_cache(maxsize=8)
def shape(kinds: Kinds) -> Shape:
    # An engine's required fields are required of its own datastores only: check_datastore says so.
    common = rules_of(Datastore)
    datastore = {
        **_union(kinds, lambda kind: _optional(rules_of(kind.fields)), "the datastore field"),
        **common,
        "engine": {**common["engine"], "allowed": sorted({kind.engine for kind in kinds})},
        "method": {**common["method"], "allowed": sorted({kind.method for kind in kinds})},
    }
    service_rules = rules_of(Service)
    backup = {**service_rules["backup"]["schema"], "datastores": _named(datastore)}
    service = {**service_rules, "backup": {**service_rules["backup"], "schema": backup}}
    sections = _union(
        kinds, lambda kind: {kind.section: {"type": "dict", "schema": rules_of(kind.section_fields)}}, "the section"
    )
    dr_sections = _union(
        kinds,
        lambda kind: {kind.section: {"type": "dict", "schema": rules_of(kind.dr_fields)}} if kind.dr_fields else {},
        "the failover section",
    )
    env_rules = rules_of(Environment)
    failover = {**env_rules["failover"], "schema": {**env_rules["failover"]["schema"], **dr_sections}}
    environment = {key: rules for key, rules in env_rules.items() if key != "services"} | sections
    environment["failover"] = failover
    # an override: any field of a service, or null to remove a field, an entry or the service
    overrides = _named(nullable(service), nullable_values=True)
    file = {
        **rules_of(SpecFile),
        "environments": _named({**environment, "services": overrides}),
        "services": _named(service),
    }
    return Shape(datastore, service, environment, file, kinds)


_TYPE_CODES = (cerberus.errors.BAD_TYPE.code, cerberus.errors.NOT_NULLABLE.code)


def did_you_mean(given: object, known: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest known name, or nothing when none is close."""
    close = difflib.get_close_matches(str(given), list(known), n=1, cutoff=0.6)
    return f"; did you mean {shown(close[0])}?" if close else ""


def _fields_at(schema: dict[str, Any], path: FieldPath) -> list[str]:
    """The fields the schema allows in the mapping at `path` (names of map entries skipped)."""
    fields: dict[str, Any] | None = schema
    rules: dict[str, Any] | None = None
    for key in path:
        if rules is not None and "valuesrules" in rules:  # `key` names an entry of a map
            fields, rules = rules["valuesrules"].get("schema"), None
            continue
        rules = fields.get(str(key)) if fields else None
        if rules is None:
            return []
        fields = rules.get("schema") if rules.get("type") == "dict" else None
    if rules is not None and "valuesrules" in rules:
        return []
    return sorted(fields or ())


def _describe(error: cerberus.errors.ValidationError, schema: dict[str, Any]) -> str:
    """A human message for one leaf cerberus error, quoting the value."""
    value = error.value
    code = error.code
    if code == cerberus.errors.UNKNOWN_FIELD.code:
        name = error.document_path[-1]
        return f"unknown field {shown(name)}" + did_you_mean(name, _fields_at(schema, tuple(error.document_path[:-1])))
    if code == cerberus.errors.REQUIRED_FIELD.code:
        return "required field is missing"
    if code == cerberus.errors.NOT_NULLABLE.code:
        return "must have a value, got null"
    if code == cerberus.errors.BAD_TYPE.code:
        wanted = error.constraint if isinstance(error.constraint, str) else " or ".join(error.constraint)
        article = {
            "dict": "a mapping",
            "list": "a list",
            "string": "a string",
            "boolean": "true or false",
            "integer": "a whole number",
            "number": "a number",
        }
        wanted_text = " or ".join(article.get(part, part) for part in wanted.split(" or "))
        return f"must be {wanted_text}, got {got(value, text_wanted='string' in wanted)}"
    if code == cerberus.errors.UNALLOWED_VALUE.code:
        choices = list(map(str, error.constraint))
        hint = did_you_mean(value, choices) if len(choices) > 1 else ""
        return f"{shown(value)} is not allowed; choose one of: {', '.join(choices)}{hint}"
    if code == cerberus.errors.EMPTY_NOT_ALLOWED.code:
        return "must not be empty"
    if code == cerberus.errors.REGEX_MISMATCH.code:
        return f"{shown(value)} does not match the pattern {error.constraint}"
    if code == cerberus.errors.CUSTOM.code:
        return str(error.info[0]) if error.info else "invalid value"
    message: str = cerberus.errors.BasicErrorHandler.messages.get(code, "invalid")
    # formatted before the value is put in front: a shown mapping holds braces
    return f"{shown(value)}: " + message.format(constraint=error.constraint, field=error.field, value=shown(value))


def _leaf_errors(errors: list[Any]) -> Iterator[cerberus.errors.ValidationError]:
    for error in errors:
        if error.is_group_error:
            yield from _leaf_errors(error.child_errors)
        else:
            yield error


_validators: dict[int, SpecValidator] = {}


def _validator(key: int, schema: dict[str, Any]) -> SpecValidator:
    # Building a validator checks the schema itself, which is slow; the schemas here are constants.
    if key not in _validators:
        _validators[key] = SpecValidator(schema)
    return _validators[key]


def validate(data: Any, schema: dict[str, Any], partial: bool = False) -> list[tuple[FieldPath, str]]:
    """(field path, message) for every problem; `partial` skips required-field checks."""
    if isinstance(data, Mapping) and fast_path.accepts(id(schema), schema, partial)(data):
        return []
    validator = _validator(id(schema), schema)
    # No normalization: obskit applies defaults itself, and cerberus' normalization pass
    # costs more than validation does.
    if validator.validate(data, update=partial, normalize=False):
        return []
    leaves = list(_leaf_errors(validator._errors))
    # A value of the wrong type also fails its check_with rule; the type message says it better.
    mistyped = {tuple(e.document_path) for e in leaves if e.code in _TYPE_CODES}
    return [
        (tuple(error.document_path), _describe(error, schema))
        for error in leaves
        if not (error.code == cerberus.errors.CUSTOM.code and tuple(error.document_path) in mistyped)
    ]
