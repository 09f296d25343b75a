"""Velero Schedules (velero.io/v1) for a service's namespaces, timed by the plan: the frequent one
that meets the RPO and, where its ttl would keep too many Backups, a daily one for the retention."""

from __future__ import annotations

from typing import Any

from obskit.generate.artifact import File
from obskit.output import layout, render
from obskit.plan.meta import object_metadata
from obskit.plan.types import Plan, ServicePlan
from obskit.plan.velero import VeleroSchedule
from obskit.units import format_go_duration

# volumes: how a service's persistent volumes are captured
_VOLUME_MODES = {
    "snapshot": {"snapshotVolumes": True, "defaultVolumesToFsBackup": False},
    "fs": {"snapshotVolumes": False, "defaultVolumesToFsBackup": True},
    "none": {"snapshotVolumes": False, "defaultVolumesToFsBackup": False},
}


def schedule(plan: Plan, service_plan: ServicePlan, planned: VeleroSchedule) -> dict[str, Any]:
    velero = service_plan.velero
    backup = service_plan.service.backup
    settings = plan.environment.velero
    assert velero is not None and backup is not None and settings is not None
    scope = {"labelSelector": {"matchLabels": dict(velero.selector)}} if velero.selector else {}
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": object_metadata(plan, planned.name, settings.namespace),
        "spec": {
            "schedule": planned.cron,
            "useOwnerReferencesInBackup": False,
            "template": {
                "includedNamespaces": list(backup.namespaces),
                **scope,
                **_VOLUME_MODES[backup.volumes],
                # the failover's copy holds what the namespaces need from the cluster too (CRDs, roles)
                **({"includeClusterResources": True} if planned.purpose == "dr" else {}),
                "storageLocation": planned.location or settings.storage_location,
                "ttl": format_go_duration(planned.ttl),
            },
        },
    }


def files(plan: Plan, service_plan: ServicePlan) -> list[File]:
    if service_plan.velero is None:
        return []
    schedules = [schedule(plan, service_plan, planned) for planned in service_plan.velero.schedules]
    document = render.yaml_file(plan.environment.name, schedules)
    return [File(f"{layout.VELERO}/{service_plan.name}.yaml", document, kubernetes=True)]
