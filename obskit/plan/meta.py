"""metadata shared by every Kubernetes object obskit writes."""

from __future__ import annotations

from typing import Any

from obskit.plan.types import Plan

MANAGED_BY = {"app.kubernetes.io/managed-by": "obskit"}


def object_metadata(plan: Plan, name: str, namespace: str) -> dict[str, Any]:
    """The environment's selector_labels (so the operator picks the object up) and managed-by."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": {**dict(plan.selector_labels), **MANAGED_BY},
    }
