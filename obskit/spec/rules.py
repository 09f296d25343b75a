"""cerberus rules the declarations share. `check_with` names a value rule of schema.SpecValidator."""

from __future__ import annotations

from typing import Any


def text(**extra: Any) -> dict[str, Any]:
    return {"type": "string", "empty": False, **extra}


def named(values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A map of DNS-label names to values of `values`."""
    return {
        "type": "dict",
        "keysrules": {"type": "string", "check_with": "dns1123_label"},
        "valuesrules": values,
        **extra,
    }


def mapping(schema: object, **extra: Any) -> dict[str, Any]:
    """One nested document; `schema` is a declared class or a mapping of rules."""
    return {"type": "dict", "schema": schema, **extra}


DURATION = {"check_with": "duration"}
BOOLEAN = {"type": "boolean"}
SECRET = {"check_with": "secret_ref"}
K8S_LABELS = {
    "type": "dict",
    "keysrules": {"type": "string", "check_with": "k8s_label_key"},
    "valuesrules": {"check_with": "k8s_label_value"},
}
PROM_LABELS = {
    "type": "dict",
    "keysrules": {"type": "string", "check_with": "prom_label_name"},
    "valuesrules": {"type": "string", "check_with": "label_value"},
}
