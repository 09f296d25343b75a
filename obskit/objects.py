"""Checking generated Kubernetes objects against typed models (cloudcoil).

The models drop fields they do not know without a word, so an object passes only if it
survives the round trip unchanged: parsed, dumped, and equal to what was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cloudcoil.models.prometheus_operator import v1 as prometheus_operator

MODELS: dict[tuple[str, str], Any] = {
    ("monitoring.coreos.com/v1", "PrometheusRule"): prometheus_operator.PrometheusRule,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): prometheus_operator.ServiceMonitor,
}


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
    model = MODELS.get((document.get("apiVersion"), document.get("kind")))
    if model is None:
        return [f"no model for apiVersion {document.get('apiVersion')!r} kind {document.get('kind')!r}"]
    try:
        parsed = model.model_validate(document)
    except ValueError as err:  # pydantic.ValidationError
        return [f"rejected by the {document['kind']} model: {err}"]
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    return list(_differences(document, dumped, ""))
