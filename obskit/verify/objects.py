"""Checking generated Kubernetes objects: custom resources against typed models (cloudcoil),
core objects against the Kubernetes OpenAPI schemas (kubernetes-validate, strict).

The cloudcoil models drop fields they do not know without a word, so a custom resource
passes only if it survives the round trip unchanged: parsed, dumped, equal to what was
written. The strict schema check refuses fields the Kubernetes API does not define.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import schema_contents
from referencing import Registry, Resource

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
    ("velero.io/v1", "Schedule"): "cloudcoil.models.velero.v1:Schedule",
}
KUBERNETES_VERSION = kubernetes_validate.latest_version()


@cache
def _core_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    """The strict schema validator for one kind, built once: kubernetes_validate.validate reads
    and parses the schema files on every call."""
    schema_dir = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # batch/v1 -> batch-v1
    schema = schema_contents(f"{schema_dir}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION)
    definitions = schema_contents(f"{schema_dir}/_definitions.json", KUBERNETES_VERSION)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
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
                yield f"{where}: added by the model ({dumped[key]!r})"
            else:
                yield from _differences(written[key], dumped[key], where)
    elif isinstance(written, list) and isinstance(dumped, list) and len(written) == len(dumped):
        for index, (left, right) in enumerate(zip(written, dumped, strict=True)):
            yield from _differences(left, right, f"{path}[{index}]")
    elif written != dumped:
        yield f"{path}: written {written!r}, the model reads {dumped!r}"


def object_problems(document: Any) -> list[str]:
    """What is wrong with one generated object ([] when it round-trips unchanged)."""
    if not isinstance(document, dict):
        return ["not a Kubernetes object (a mapping with apiVersion and kind)"]
    checker = KINDS.get((str(document.get("apiVersion")), str(document.get("kind"))))
    if checker is None:
        return [f"no model for apiVersion {document.get('apiVersion')!r} kind {document.get('kind')!r}"]
    if checker == KUBERNETES_SCHEMA:
        return _core_problems(document)
    model = _model(checker)
    try:
        parsed = model.model_validate(document)
    except ValueError as err:  # pydantic.ValidationError
        return [f"rejected by the {document['kind']} model: {err}"]
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    return list(_differences(document, dumped, ""))
