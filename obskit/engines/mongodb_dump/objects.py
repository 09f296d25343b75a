"""MongoDB with mongodump, the objects of one datastore: the WAL-G settings, the job scripts, and
CronJobs for the dumps, retention and restore drills, timed by the plan.

The dump's CronJob runs `wal-g backup-push` under obskit/jobs/obskit_job.py (with --engine); WAL-G runs the fixed
WALG_STREAM_CREATE_COMMAND, which runs mongodump in exec form. The connection URI is the one
variable from the datastore's Secret (secretKeyRef), never in a manifest or a command line. The
drill's pod gets no URI at all: it restores into its own scratch mongod and cannot reach the
production database by mistake.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from obskit.engines import walg_storage
from obskit.engines.mongodb_dump import metrics
from obskit.plan import jobs
from obskit.plan.conventions import k8s_name
from obskit.plan.meta import object_metadata
from obskit.plan.types import Plan, ServicePlan
from obskit.spec.refs import SecretRef
from obskit.units import Duration, format_size

if TYPE_CHECKING:  # the plan module calls this one
    from obskit.engines.mongodb_dump.plan import MongodumpPlan

MAX_CRONJOB_NAME = 52  # Kubernetes appends 11 characters to name each Job
SCRATCH_DIR = "/scratch"
UID = 999  # the image's mongodb user
JOB_SCRIPTS = ("mongodb_stream.py", "mongodb_drill.py")
KEY_DIR = walg_storage.KEY_DIR
DUMP_COMMAND = f"exec python3 {jobs.SCRIPTS_DIR}/mongodb_stream.py dump"  # fixed: WAL-G runs it with $SHELL -c
_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "256Mi"},
    "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "1Gi"},
}
_DRILL_RESOURCES = {
    "requests": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "256Mi"},
    "limits": {"cpu": "4", "memory": "4Gi", "ephemeral-storage": "1Gi"},
}
TMP_LIMIT = "512Mi"
SCRATCH_SHARE = 1.5  # a restored database with its indexes rebuilt, against the data size


@dataclass(frozen=True)
class JobSettings:
    """What the objects need from the environment and the datastore beyond the plan's numbers."""

    image: str  # the jobs' image (jobs/Dockerfile)
    prefix: str  # WAL-G's storage prefix for the environment: s3://, gs://, az:// or file://
    credentials_secret: str  # WAL-G's storage credentials, as environment variables
    uri: SecretRef  # the key of the Secret holding the connection URI (a user with the backup role)
    pushgateway: str
    service_account: str | None = None
    key_file: SecretRef | None = None  # gs://: the key file WAL-G reads
    volume_claim: str | None = None  # file://: the claim holding the prefix's path
    drill_storage_class: str | None = None


@cache
def script_text(name: str) -> str:
    if name == jobs.WRAPPER:
        return jobs.wrapper_text()
    return resources.files("obskit.engines.mongodb_dump").joinpath("jobs", name).read_text(encoding="utf-8")


def object_names(service_plan: ServicePlan, ds: MongodumpPlan) -> dict[str, str]:
    base = (service_plan.name, ds.name)
    return {
        "env": k8s_name(*base, "mongodump-env"),
        "files": k8s_name(*base, "mongodump-files"),
        "dump": k8s_name(*base, "dump", limit=MAX_CRONJOB_NAME),
        "retention": k8s_name(*base, "retention", limit=MAX_CRONJOB_NAME),
        "restore-drill": k8s_name(*base, "restore-drill", limit=MAX_CRONJOB_NAME),
    }


def storage_prefix(settings: JobSettings, service_plan: ServicePlan, ds: MongodumpPlan) -> str:
    return f"{settings.prefix.rstrip('/')}/{service_plan.name}/{ds.name}"


def _env_config_map(
    plan: Plan, settings: JobSettings, service_plan: ServicePlan, ds: MongodumpPlan, name: str
) -> dict[str, Any]:
    prefix = storage_prefix(settings, service_plan, ds)
    key = {"GOOGLE_APPLICATION_CREDENTIALS": f"{KEY_DIR}/{settings.key_file.key}"} if settings.key_file else {}
    replica_set = {"OBSKIT_MONGODB_REPLICA_SET": ds.spec.replica_set} if ds.spec.replica_set else {}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_metadata(plan, name, service_plan.service.namespace),
        "data": {
            **walg_storage.prefix_setting(prefix),
            "WALG_STREAM_CREATE_COMMAND": DUMP_COMMAND + ("" if ds.spec.oplog else " --no-oplog"),
            **key,
            **replica_set,
            "OBSKIT_PUSHGATEWAY": settings.pushgateway,
            "HOME": "/tmp",  # mongosh keeps its logs under ~/.mongodb
        },
    }


def _files_config_map(plan: Plan, service_plan: ServicePlan, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_metadata(plan, name, service_plan.service.namespace),
        "data": {script: script_text(script) for script in (jobs.WRAPPER, *JOB_SCRIPTS)},
    }


def _container(
    settings: JobSettings, names: dict[str, str], job: str, command: list[str], scratch_bytes: int | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The job's container and its volumes: the scripts, /tmp, what the storage needs, the URI for
    the dump only (retention and drills never connect to the database), scratch space for a drill."""
    mounts: list[dict[str, Any]] = [
        {"name": "scripts", "mountPath": jobs.SCRIPTS_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "scripts", "configMap": {"name": names["files"], "defaultMode": 0o555}},
        {"name": "tmp", "emptyDir": {"sizeLimit": TMP_LIMIT}},
    ]
    if settings.key_file:
        volumes.append(
            {
                "name": "walg-key",
                "secret": {
                    "secretName": settings.key_file.secret,
                    "items": [{"key": settings.key_file.key, "path": settings.key_file.key}],
                    "defaultMode": 0o440,
                },
            }
        )
        mounts.append({"name": "walg-key", "mountPath": KEY_DIR, "readOnly": True})
    if settings.volume_claim:
        volumes.append({"name": "walg-storage", "persistentVolumeClaim": {"claimName": settings.volume_claim}})
        mounts.append({"name": "walg-storage", "mountPath": urlsplit(settings.prefix).path.rstrip("/") or "/"})
    env: list[dict[str, Any]] = []
    if job == "dump":
        env.append(
            {
                "name": "MONGODB_URI",
                "valueFrom": {"secretKeyRef": {"name": settings.uri.secret, "key": settings.uri.key}},
            }
        )
    if scratch_bytes is not None:
        mounts.append({"name": "scratch", "mountPath": SCRATCH_DIR})
        storage_class = {"storageClassName": settings.drill_storage_class} if settings.drill_storage_class else {}
        volumes.append(
            {
                "name": "scratch",
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "metadata": {"labels": {"app.kubernetes.io/managed-by": "obskit"}},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            **storage_class,
                            "resources": {"requests": {"storage": format_size(scratch_bytes)}},
                        },
                    }
                },
            }
        )
    container: dict[str, Any] = {
        "name": job,
        "image": settings.image,
        "command": command,
        "envFrom": [{"configMapRef": {"name": names["env"]}}, {"secretRef": {"name": settings.credentials_secret}}],
        **({"env": env} if env else {}),
        "resources": _DRILL_RESOURCES if scratch_bytes is not None else _RESOURCES,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    return container, volumes


def _cron_job(
    plan: Plan,
    settings: JobSettings,
    service_plan: ServicePlan,
    names: dict[str, str],
    job: str,
    schedule: str,
    command: list[str],
    deadline: Duration,
    scratch_bytes: int | None = None,
) -> dict[str, Any]:
    container, volumes = _container(settings, names, job, command, scratch_bytes)
    metadata = object_metadata(plan, names[job], service_plan.service.namespace)
    account = jobs.service_account(settings.service_account)
    return jobs.cron_job(metadata, schedule, deadline, UID, account, container, volumes)


def _wrapped(kind: str, service_plan: ServicePlan, ds: MongodumpPlan, command: list[str]) -> list[str]:
    job = f"{jobs.SCRIPTS_DIR}/{jobs.WRAPPER}"
    labels = ["--service", service_plan.name, "--datastore", ds.name, "--engine", metrics.ENGINE_LABEL]
    return ["python3", job, kind, *labels, "--", *command]


def objects(plan: Plan, settings: JobSettings, service_plan: ServicePlan, ds: MongodumpPlan) -> list[dict[str, Any]]:
    assert ds.interval is not None and ds.cron is not None and ds.retain_count is not None
    names = object_names(service_plan, ds)
    rto = service_plan.tier.rto
    drill_deadline = max(rto, ds.restore.total) + max(rto, ds.restore.total)  # the restore, then its slack
    drill_command = ["python3", f"{jobs.SCRIPTS_DIR}/mongodb_drill.py", "--dbpath", f"{SCRATCH_DIR}/db"]
    drill_command += ["--timeout", str(jobs.seconds(drill_deadline)), *(["--no-oplog"] if not ds.spec.oplog else [])]
    return [
        _env_config_map(plan, settings, service_plan, ds, names["env"]),
        _files_config_map(plan, service_plan, names["files"]),
        _cron_job(
            plan,
            settings,
            service_plan,
            names,
            "dump",
            ds.cron,
            _wrapped("backup", service_plan, ds, ["wal-g", "backup-push"]),
            deadline=ds.interval,
        ),
        _cron_job(
            plan,
            settings,
            service_plan,
            names,
            "retention",
            ds.retention_cron,
            ["wal-g", "delete", "--retain-count", str(ds.retain_count), "--confirm"],
            deadline=Duration(3600_000),
        ),
        _cron_job(
            plan,
            settings,
            service_plan,
            names,
            "restore-drill",
            ds.drill.cron,
            _wrapped("restore-drill", service_plan, ds, drill_command),
            deadline=drill_deadline,
            scratch_bytes=math.ceil(ds.datastore.size_bytes * SCRATCH_SHARE / 2**30) * 2**30,
        ),
    ]


def fresh_backup(service_plan: ServicePlan, ds: MongodumpPlan, namespace: str) -> str:
    """The command (Markdown) that dumps the datastore now."""
    name = k8s_name(service_plan.name, ds.name, "dump", limit=MAX_CRONJOB_NAME)
    return f"`kubectl -n {shlex.quote(namespace)} create job --from=cronjob/{name} {name}-manual-$(date +%s)`"
