"""The job wrapper every engine's backup and drill jobs run (obskit/jobs/obskit_job.py): it times
one command and pushes the obskit_backup_* or obskit_restore_drill_* metrics of conventions.py.
Engines ship it in their jobs' ConfigMaps beside their own scripts."""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from typing import Any

from obskit import units
from obskit.spec.model import JobPlacement, JobResources
from obskit.units import Duration

WRAPPER = "obskit_job.py"


@cache
def wrapper_text() -> str:
    return resources.files("obskit.jobs").joinpath(WRAPPER).read_text(encoding="utf-8")


BACKOFF_LIMIT = 1  # one retry: a transient storage or network failure does not fail the run
SCRIPTS_DIR = "/opt/obskit"  # where the jobs' ConfigMap of scripts is mounted


def seconds(duration: Duration) -> int:
    return math.ceil(duration.ms / 1000)


def service_account(name: str | None) -> dict[str, Any]:
    """The jobs talk to object storage, never to the Kubernetes API: no token unless the spec names a
    service account (whose token IRSA or Workload Identity exchange for storage credentials)."""
    if name is None:
        return {"automountServiceAccountToken": False}
    return {"serviceAccountName": name, "automountServiceAccountToken": True}


def cron_job(
    metadata: dict[str, Any],
    schedule: str,
    deadline: Duration,
    uid: int,
    account: dict[str, Any],
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
) -> dict[str, Any]:
    """A backup or drill CronJob as every engine runs them: never two at once (the plans count a
    run skipped while the last one runs), in UTC, as the image's non-root user."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata,
        "spec": {
            "schedule": schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": BACKOFF_LIMIT,
                    "activeDeadlineSeconds": seconds(deadline),
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            **account,
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": uid,
                                "runAsGroup": uid,
                                "fsGroup": uid,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "containers": [container],
                            "volumes": volumes,
                        }
                    },
                }
            },
        },
    }


def rule(group: str, resource: str, *verbs: str, names: tuple[str, ...] = ()) -> dict[str, Any]:
    """One RBAC rule: these verbs on one resource of one API group, on the named objects only if any."""
    return {"apiGroups": [group], "resources": [resource], **({"resourceNames": list(names)} if names else {}),
            "verbs": list(verbs)}  # fmt: skip


def access(metadata: dict[str, Any], rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ServiceAccount for a job that talks to the Kubernetes API, and a Role (with its binding) that
    allows it `rules` in its namespace and nothing more; all three take `metadata`'s name."""
    name, namespace = metadata["name"], metadata["namespace"]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata, "rules": rules},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    ]


def sized(container: dict[str, Any], sizing: JobResources) -> dict[str, Any]:
    """The container with the environment's requests and limits over its own; a limit below the
    request it now has rises to it, as Kubernetes refuses a request above its limit."""
    if not sizing.requests and not sizing.limits:
        return container
    own = container.get("resources", {})
    requests = {**own.get("requests", {}), **dict(sizing.requests)}
    limits = {**own.get("limits", {}), **dict(sizing.limits)}
    for name, request in requests.items():
        if name in limits and units.parse_quantity(request) > units.parse_quantity(limits[name]):
            limits[name] = request
    sized_resources = {key: value for key, value in (("requests", requests), ("limits", limits)) if value}
    return {**container, "resources": sized_resources}


def placed(objects: list[dict[str, Any]], placement: JobPlacement) -> list[dict[str, Any]]:
    """The objects with the environment's `jobs` settings in every CronJob's pod: its registry's pull
    Secrets, the nodes it runs on, the taints it tolerates, its containers' resources."""
    pod: dict[str, Any] = {}
    if placement.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in placement.image_pull_secrets]
    if placement.node_selector:
        pod["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        pod["tolerations"] = [
            {
                key: value
                for key, value in (
                    ("key", each.key),
                    ("operator", each.operator),
                    ("value", each.value),
                    ("effect", each.effect),
                    ("tolerationSeconds", each.toleration_seconds),
                )
                if value is not None
            }
            for each in placement.tolerations
        ]
    sizing = placement.resources
    if not pod and not sizing.requests and not sizing.limits:
        return objects
    result = []
    for item in objects:
        if item.get("kind") == "CronJob":
            template = item["spec"]["jobTemplate"]["spec"]["template"]
            containers = [sized(container, sizing) for container in template["spec"]["containers"]]
            template = {**template, "spec": {**template["spec"], **pod, "containers": containers}}
            job = {**item["spec"]["jobTemplate"], "spec": {**item["spec"]["jobTemplate"]["spec"], "template": template}}
            item = {**item, "spec": {**item["spec"], "jobTemplate": job}}
        result.append(item)
    return result
