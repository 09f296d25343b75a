"""Checking generated Kubernetes objects: custom resources against typed models (cloudcoil),
core objects against the Kubernetes OpenAPI schemas (kubernetes-validate, strict).

The cloudcoil models drop fields they do not know without a word, so a custom resource
passes only if it survives the round trip unchanged: parsed, dumped, equal to what was
written. The strict schema check refuses fields the Kubernetes API does not define.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes_validate
from cloudcoil.models.prometheus_operator import v1 as prometheus_operator
from cloudcoil.models.velero import v1 as velero

MODELS: dict[tuple[str, str], Any] = {
    ("monitoring.coreos.com/v1", "PrometheusRule"): prometheus_operator.PrometheusRule,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): prometheus_operator.ServiceMonitor,
    ("velero.io/v1", "Schedule"): velero.Schedule,
}
CORE_KINDS = {("v1", "ConfigMap"), ("batch/v1", "CronJob")}
KUBERNETES_VERSION = kubernetes_validate.latest_version()


def _core_problems(document: dict[str, Any]) -> list[str]:
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        where = ".".join(str(part) for part in err.path) or "(object)"
        return [f"{where}: {err.message} (Kubernetes {KUBERNETES_VERSION} schema)"]
    return []


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
    kind = (document.get("apiVersion"), document.get("kind"))
    if kind in CORE_KINDS:
        return _core_problems(document)
    model = MODELS.get(kind)
    if model is None:
        return [f"no model for apiVersion {document.get('apiVersion')!r} kind {document.get('kind')!r}"]
    try:
        parsed = model.model_validate(document)
    except ValueError as err:  # pydantic.ValidationError
        return [f"rejected by the {document['kind']} model: {err}"]
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    return list(_differences(document, dumped, ""))
