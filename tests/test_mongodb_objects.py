"""The mongodump engine's objects: each passes its Kubernetes schema (obskit.verify.objects), the
commands are exec form, the URI comes from a Secret and only into the dump's pod, the schedules
and retention are the plan's."""

from __future__ import annotations

from typing import Any

import pytest

from obskit.engines.mongodb_dump import objects
from obskit.engines.mongodb_dump.plan import MongodumpPlan
from obskit.engines.mongodb_dump.spec import MongodumpSection
from obskit.plan.types import Plan
from obskit.spec.model import Environment
from obskit.spec.refs import SecretRef
from obskit.verify.objects import object_problems
from tests.test_mongodb_alerts import service_plan
from tests.test_mongodb_plan import builtin, plan, spec

URI = SecretRef("events-db-backup", "uri")
IMAGE = "registry.example.com/obskit-mongodb-runner:1"


def environment(prefix: str = "s3://acme-backups/prod", **section: Any) -> Environment:
    return Environment(
        name="prod",
        labels=(),
        selector_labels=(("release", "kube-prometheus-stack"),),
        velero=None,
        sections=(
            (
                "mongodump",
                MongodumpSection(prefix=prefix, credentials_secret="walg-credentials", image=IMAGE, **section),
            ),
        ),
        pushgateway="http://pushgateway.monitoring.svc:9091",
        services=(),
    )


def planned(**fields: Any) -> MongodumpPlan:
    the_plan, findings = plan(spec(uri_secret=URI, **fields), builtin("tier3_low"))
    assert findings.infeasible == []
    return the_plan


def generated(ds: MongodumpPlan | None = None, env: Environment | None = None) -> list[dict[str, Any]]:
    whole = Plan(env or environment(), (), (), (), ())
    return (ds or planned()).objects(whole, service_plan())


def container(cron_job: dict[str, Any]) -> dict[str, Any]:
    (only,) = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


@pytest.mark.parametrize(
    "env",
    [
        environment(),
        environment("gs://acme/prod", key_file=SecretRef("gcs", "key.json"), service_account="backup"),
        environment("file:///backups", volume_claim="backups", drill_storage_class="fast"),
    ],
)
def test_every_object_passes_its_kubernetes_schema(env: Environment) -> None:
    for document in generated(env=env):
        assert object_problems(document) == [], (document["kind"], document["metadata"]["name"])


def test_the_objects_follow_the_plan() -> None:
    env, files, dump, retention, drill = generated()
    assert env["metadata"]["name"] == "svc-events-db-mongodump-env"
    assert env["data"] == {
        "WALG_S3_PREFIX": "s3://acme-backups/prod/svc/events-db",
        "WALG_STREAM_CREATE_COMMAND": "exec python3 /opt/obskit/mongodb_stream.py dump",
        "OBSKIT_MONGODB_REPLICA_SET": "rs0",
        "OBSKIT_PUSHGATEWAY": "http://pushgateway.monitoring.svc:9091",
        "HOME": "/tmp",
    }
    assert sorted(files["data"]) == ["mongodb_drill.py", "mongodb_stream.py", "obskit_job.py"]
    assert dump["spec"]["schedule"] == "0 */4 * * *"
    assert dump["spec"]["concurrencyPolicy"] == "Forbid"
    assert container(dump)["command"] == [
        "python3",
        "/opt/obskit/obskit_job.py",
        "backup",
        "--service",
        "svc",
        "--datastore",
        "events-db",
        "--engine",
        "mongodb",
        "--",
        "wal-g",
        "backup-push",
    ]
    assert container(retention)["command"] == ["wal-g", "delete", "--retain-count", "43", "--confirm"]
    assert container(drill)["command"][-7:] == [
        "--",
        "python3",
        "/opt/obskit/mongodb_drill.py",
        "--dbpath",
        "/scratch/db",
        "--timeout",
        "28800",  # twice the RTO of 4h
    ]
    claim = drill["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"][-1]["ephemeral"]
    assert claim["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "75Gi"  # 50Gi and indexes


def test_the_uri_comes_from_the_secret_and_only_into_the_dump() -> None:
    _, _, dump, retention, drill = generated()
    assert container(dump)["env"] == [
        {"name": "MONGODB_URI", "valueFrom": {"secretKeyRef": {"name": "events-db-backup", "key": "uri"}}}
    ]
    assert "env" not in container(drill) and "env" not in container(retention)
    text = repr(generated())
    assert "mongodb://" not in text


def test_a_dump_without_oplog_says_so_to_the_dump_and_the_drill() -> None:
    env, _, _, _, drill = generated(planned(oplog=False, replica_set=None))
    assert env["data"]["WALG_STREAM_CREATE_COMMAND"].endswith("dump --no-oplog")
    assert "OBSKIT_MONGODB_REPLICA_SET" not in env["data"]
    assert container(drill)["command"][-1] == "--no-oplog"


def test_the_scripts_shipped_are_the_package_files() -> None:
    _, files, *_ = generated()
    assert files["data"]["mongodb_stream.py"] == objects.script_text("mongodb_stream.py")
    assert "def dump_command" in files["data"]["mongodb_stream.py"]
    assert "pushadd_to_gateway" in files["data"]["obskit_job.py"]


def test_the_schema_check_bites() -> None:
    _, _, dump, _, _ = generated()
    container(dump)["envFrom"][0]["configMap"] = {"name": "x"}  # configMapRef is the field
    assert object_problems(dump) != []


def test_the_runbook_names_the_objects_and_the_limits_of_dumps() -> None:
    ds = planned()
    text = ds.runbook(Plan(environment(), (), (), (), ()), service_plan())
    assert text.startswith("## Datastore events-db (MongoDB, mongodump)\n")
    assert "`s3://acme-backups/prod/svc/events-db`, `0 */4 * * *` (CronJob `svc-events-db-dump`)" in text
    assert "4h between dumps" in text and "(RPO 1d)" in text
    assert "--oplogReplay --archive --gzip --stopOnError" in text
    assert "Percona Backup for MongoDB" in text and "`--oplogLimit`" in text
    assert "kubectl -n ns create job --from=cronjob/svc-events-db-dump svc-events-db-dump-now" in text
    # a first step for every alert the engine writes (the oplog's with mongodb_exporter)
    with_exporter = planned(exporter_job="events-db-exporter")
    assert set(ds.runbook_steps) == {c.rule["alert"] for c in with_exporter.alerts(service_plan())[1]}
    assert ds.fresh_backup(service_plan()).startswith("`kubectl -n ns create job --from=cronjob/svc-events-db-dump ")
