"""Checking generated Kubernetes objects: custom resources against typed models (cloudcoil),
core objects against the Kubernetes OpenAPI schemas (kubernetes-validate, strict).

The cloudcoil models drop fields they do not know without a word, so a custom resource
passes only if it survives the round trip unchanged: parsed, dumped, equal to what was
written. The strict schema check refuses fields the Kubernetes API does not define.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import schema_contents
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

KUBERNETES_SCHEMA = "kubernetes"
# How each kind obskit writes is checked: a core kind against the Kubernetes schema, a custom
# resource by a round trip through its typed model ("module:Class"). A new kind is a new line.
KINDS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): KUBERNETES_SCHEMA,
    ("batch/v1", "CronJob"): KUBERNETES_SCHEMA,
    ("monitoring.coreos.com/v1", "PrometheusRule"): "cloudcoil.models.prometheus_operator.v1:PrometheusRule",
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): (
        "cloudcoil.models.prometheus_operator.v1alpha1:AlertmanagerConfig"
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "cloudcoil.models.prometheus_operator.v1:ServiceMonitor",
    ("monitoring.coreos.com/v1", "PodMonitor"): "cloudcoil.models.prometheus_operator.v1:PodMonitor",
    ("velero.io/v1", "Schedule"): "cloudcoil.models.velero.v1:Schedule",
    ("monitoring.coreos.com/v1", "Probe"): "cloudcoil.models.prometheus_operator.v1:Probe",
    ("v1", "ServiceAccount"): KUBERNETES_SCHEMA,
    ("rbac.authorization.k8s.io/v1", "Role"): KUBERNETES_SCHEMA,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): KUBERNETES_SCHEMA,
}
KUBERNETES_VERSION = kubernetes_validate.latest_version()


@cache
def _core_schema(api_version: str, kind: str) -> tuple[dict[str, Any], Registry[Any]]:
    schema_dir = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # batch/v1 -> batch-v1
    schema = schema_contents(f"{schema_dir}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION)
    definitions = schema_contents(f"{schema_dir}/_definitions.json", KUBERNETES_VERSION)
    return schema, Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())


@cache
def _core_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    """The strict schema validator for one kind, built once: kubernetes_validate.validate reads
    and parses the schema files on every call."""
    schema, registry = _core_schema(api_version, kind)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _core_problems(document: dict[str, Any]) -> list[str]:
    try:
        _core_validator(document["apiVersion"], document["kind"]).validate(document)
    except jsonschema.ValidationError as err:
        where = ".".join(str(part) for part in err.path) or "(object)"
        return [f"{where}: {err.message} (Kubernetes {KUBERNETES_VERSION} schema)"]
    return []


@cache
def _model(path: str) -> Any:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _differences(written: Any, dumped: Any, path: str) -> Iterator[str]:
    if isinstance(written, dict) and isinstance(dumped, dict):
        for key in sorted(set(written) | set(dumped), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in dumped:
                yield f"{where}: not part of the schema (the model dropped it)"
            elif key not in written:
                yield f"{where}: added by the model ({_shown(dumped[key])})"
            else:
                yield from _differences(written[key], dumped[key], where)
    elif isinstance(written, list) and isinstance(dumped, list) and len(written) == len(dumped):
        for index, (left, right) in enumerate(zip(written, dumped, strict=True)):
            yield from _differences(left, right, f"{path}[{index}]")
    elif written != dumped:
        yield f"{path}: written {_shown(written)}, the model reads {_shown(dumped)}"


def _rejections(err: ValueError) -> list[tuple[str, str]]:
    """Where and why a model refused an object, without pydantic's reprs of the input."""
    errors = getattr(err, "errors", None)
    if not callable(errors):
        return [("(object)", str(err))]
    return [
        (".".join(str(part) for part in error.get("loc", ())) or "(object)", str(error.get("msg", "invalid")))
        for error in errors(include_url=False, include_input=False)
    ]


def _shown(value: Any, limit: int = 200) -> str:
    """A value as YAML and JSON write it (`"v1"`, `5`, `null`), not as a Python repr; bounded."""
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def object_problems(document: Any) -> list[str]:
    """What is wrong with one generated object ([] when it round-trips unchanged)."""
    if not isinstance(document, dict):
        return ["not a Kubernetes object (a mapping with apiVersion and kind)"]
    checker = KINDS.get((str(document.get("apiVersion")), str(document.get("kind"))))
    if checker is None:
        return [f"no model for apiVersion {_shown(document.get('apiVersion'))} kind {_shown(document.get('kind'))}"]
    if checker == KUBERNETES_SCHEMA:
        return _core_problems(document)
    model = _model(checker)
    try:
        parsed = model.model_validate(document)
    except ValueError as err:  # pydantic.ValidationError
        return [f"rejected by the {document['kind']} model: {where}: {what}" for where, what in _rejections(err)]
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    return list(_differences(document, dumped, ""))


# What a schema may require of a string beyond its type; minLength up to a name's shortest is harmless.
_STRING_CONSTRAINTS = ("pattern", "format", "enum", "const", "maxLength", "contentEncoding")
_MODEL_URI = "urn:obskit:model"
_UNWALKED = ("not", "if", "prefixItems", "patternProperties", "dependentSchemas", "contains", "propertyNames")


@cache
def _schema_of(api_version: str, kind: str) -> tuple[dict[str, Any], Registry[Any], str]:
    """The JSON schema a kind is checked against (the typed model's own for a custom resource)."""
    checker = KINDS[(api_version, kind)]
    if checker == KUBERNETES_SCHEMA:
        schema, registry = _core_schema(api_version, kind)
        return schema, registry, str(schema.get("$id", ""))
    schema = _model(checker).model_json_schema(by_alias=True)
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    return schema, Registry().with_resource(_MODEL_URI, resource), _MODEL_URI


def _unconstrained(schema: Any, value: Any, resolver: Any, mark: str) -> bool:
    if not isinstance(schema, dict):
        return True
    if any(keyword in schema for keyword in _UNWALKED):
        return False
    if "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        return _unconstrained(resolved.contents, value, resolved.resolver, mark) and _unconstrained(
            {key: item for key, item in schema.items() if key != "$ref"}, value, resolver, mark
        )
    for keyword in ("anyOf", "oneOf", "allOf"):
        if not all(_unconstrained(branch, value, resolver, mark) for branch in schema.get(keyword, [])):
            return False
    if isinstance(value, str):
        if mark not in value:
            return True
        return not any(key in schema for key in _STRING_CONSTRAINTS) and schema.get("minLength", 0) <= 2
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties", {})
        return all(
            mark not in str(key)
            and _unconstrained(properties.get(key, extra if isinstance(extra, dict) else {}), item, resolver, mark)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return all(_unconstrained(schema.get("items", {}), item, resolver, mark) for item in value)
    return True


def renaming_safe(document: Any, mark: str) -> bool:
    """Whether an object whose strings hold placeholders (marked by `mark`) passes or fails its
    check alike for any names put in their place: every such string stands where the kind's
    schema asks nothing of a string but its type, and no key holds one."""
    if not isinstance(document, dict):
        return False
    key = (str(document.get("apiVersion")), str(document.get("kind")))
    if key not in KINDS:
        return False
    schema, registry, base = _schema_of(*key)
    return _unconstrained(schema, document, registry.resolver(base_uri=base), mark)
