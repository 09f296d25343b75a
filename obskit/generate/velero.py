"""Velero Schedule (velero.io/v1) for a service's namespaces, timed by the plan."""

from __future__ import annotations

from typing import Any

from obskit.generate.artifact import File
from obskit.generate.meta import object_metadata
from obskit.output import render
from obskit.plan.types import Plan, ServicePlan
from obskit.units import format_go_duration

# volumes: how a service's persistent volumes are captured
_VOLUME_MODES = {
    "snapshot": {"snapshotVolumes": True, "defaultVolumesToFsBackup": False},
    "fs": {"snapshotVolumes": False, "defaultVolumesToFsBackup": True},
    "none": {"snapshotVolumes": False, "defaultVolumesToFsBackup": False},
}


def schedule(plan: Plan, service_plan: ServicePlan) -> dict[str, Any]:
    velero = service_plan.velero
    backup = service_plan.service.backup
    settings = plan.environment.velero
    assert velero is not None and backup is not None and settings is not None
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": object_metadata(plan, service_plan.name, settings.namespace),
        "spec": {
            "schedule": velero.cron,
            "useOwnerReferencesInBackup": False,
            "template": {
                "includedNamespaces": list(backup.namespaces),
                **_VOLUME_MODES[backup.volumes],
                "storageLocation": settings.storage_location,
                "ttl": format_go_duration(velero.ttl),
            },
        },
    }


def files(plan: Plan, service_plan: ServicePlan) -> list[File]:
    if service_plan.velero is None:
        return []
    document = render.yaml_file(plan.environment.name, schedule(plan, service_plan))
    return [File(f"backup/velero/{service_plan.name}.yaml", document, kubernetes=True)]
