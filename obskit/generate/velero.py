"""Velero Schedule (velero.io/v1) for a service's namespaces, timed by the plan."""

from __future__ import annotations

from typing import Any

from obskit.generate.meta import object_metadata
from obskit.plan import Plan, ServicePlan
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
