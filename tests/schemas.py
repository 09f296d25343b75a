"""Upstream schemas from ../shared, made strict: a field the schema does not define is an error."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.conftest import shared_path


class _CRDLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml reads the CRDs 5x faster
    """YAML 1.1 reads a bare `=` as the 'value' type; CRDs (an enum of matchTypes) mean the string."""


_CRDLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def strict(node: Any) -> Any:
    """Copy of an OpenAPI v3 schema where objects with declared properties allow no others."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {key: strict(value) for key, value in node.items()}
    open_object = "additionalProperties" in copied or copied.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in copied and not open_object:
        copied["additionalProperties"] = False
    if copied.get("x-kubernetes-int-or-string"):
        copied.pop("type", None)
        copied.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    return copied


@cache
def crd_validator(*parts: str) -> jsonschema.protocols.Validator:
    path: Path = shared_path(*parts)
    crd = yaml.load(path.read_text(), Loader=_CRDLoader)
    (version,) = crd["spec"]["versions"]
    schema = strict(version["schema"]["openAPIV3Schema"])
    # metadata is `type: object` only in CRDs; check the parts obskit writes.
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name", "namespace"],
        "properties": {
            "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
            "namespace": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": False,
    }
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
    group = crd["spec"]["group"]
    schema["properties"]["apiVersion"] = {"const": f"{group}/{version['name']}"}
    schema["properties"]["kind"] = {"const": crd["spec"]["names"]["kind"]}
    return jsonschema.Draft7Validator(schema)


def schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return sorted(
        f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(document)
    )
