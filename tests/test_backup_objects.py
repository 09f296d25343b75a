"""Velero Schedules and WAL-G objects: upstream schemas, Kubernetes' own schemas, the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from obskit.cli import main
from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from obskit.plan.conventions import k8s_name
from obskit.verify.objects import object_problems
from tests.conftest import EXAMPLES, JOBS, WALG_JOBS
from tests.schemas import crd_validator, schema_errors

SCHEDULE_CRD = ("schemas", "velero", "velero.io_schedules.yaml")


@pytest.fixture(scope="module")
def tree() -> dict[str, str]:
    return generate_tree(load_plan(EXAMPLES, "prod"))


def documents(tree: dict[str, str], path: str) -> list[dict]:
    return list(yaml.safe_load_all(tree[path]))


def test_schedules_match_the_upstream_crd_and_the_plan(tree: dict[str, str]) -> None:
    """The frequent schedule meets the RPO with a ttl that keeps under 300 Backups; a daily one keeps
    the tier's retention."""
    validator = crd_validator(*SCHEDULE_CRD)
    frequent, daily, dr = documents(tree, "backup/velero/checkout.yaml")
    for schedule in (frequent, daily, dr, *documents(tree, "backup/velero/catalog-api.yaml")):
        assert schema_errors(validator, schedule) == []
        assert schedule["metadata"]["namespace"] == "velero"
    assert (frequent["metadata"]["name"], daily["metadata"]["name"]) == ("checkout", "checkout-daily")
    assert frequent["spec"]["schedule"] == "2-59/3 * * * *"
    template = {
        "includedNamespaces": ["shop"],
        "snapshotVolumes": True,
        "defaultVolumesToFsBackup": False,
        "storageLocation": "default",
    }
    assert frequent["spec"]["template"] == {**template, "ttl": "14h0m0s"}  # 281 Backups at most
    assert daily["spec"]["template"] == {**template, "ttl": "720h0m0s"}
    assert daily["spec"]["schedule"].split()[2:] == ["*", "*", "*"]
    # checkout fails over: a daily copy to the DR region's location, with the cluster's resources
    assert dr["metadata"]["name"] == "checkout-dr" and dr["spec"]["schedule"].split()[2:] == ["*", "*", "*"]
    copy = {**template, "storageLocation": "dr-us-west-2", "includeClusterResources": True, "ttl": "720h0m0s"}
    assert dr["spec"]["template"] == copy
    fs, _ = documents(tree, "backup/velero/catalog-api.yaml")
    assert (fs["spec"]["template"]["snapshotVolumes"], fs["spec"]["template"]["defaultVolumesToFsBackup"]) == (
        False,
        True,
    )
    assert fs["spec"]["template"]["ttl"] == "99h0m0s"


def test_the_strict_crd_catches_a_field_velero_does_not_know(tree: dict[str, str]) -> None:
    schedule, *_ = documents(tree, "backup/velero/checkout.yaml")
    schedule["spec"]["template"]["ttlDays"] = 30
    assert any("ttlDays" in error for error in schema_errors(crd_validator(*SCHEDULE_CRD), schedule))
    assert object_problems(schedule) == ["spec.template.ttlDays: not part of the schema (the model dropped it)"]


def test_every_backup_object_passes_its_model_or_kubernetes_schema(tree: dict[str, str]) -> None:
    for path in [p for p in tree if p.startswith("backup/")]:
        for document in documents(tree, path):
            assert object_problems(document) == [], (path, document["kind"], document["metadata"]["name"])


def test_walg_objects_follow_the_plan(tree: dict[str, str]) -> None:
    env, files, base, retention, drill = documents(tree, "backup/walg/checkout-orders-db.yaml")
    assert env["data"] == {
        "WALG_S3_PREFIX": "s3://acme-pg-backups/prod/checkout/orders-db",
        "WALG_COMPRESSION_METHOD": "zstd",
        "PGHOST": "orders-db",
        "PGPORT": "5432",
        "OBSKIT_PUSHGATEWAY": "http://pushgateway.monitoring.svc:9091",
    }
    assert files["data"]["postgresql-archive.conf"].splitlines()[2:] == [
        "archive_mode = on",
        "archive_command = '/etc/obskit/walg/files/wal-g-env wal-push %p'",
        "archive_timeout = 270s",
    ]
    assert files["data"]["wal-g-env"] == (WALG_JOBS / "wal-g-env").read_text()
    assert files["data"]["obskit_job.py"] == (JOBS / "obskit_job.py").read_text()
    assert base["spec"]["schedule"] == "8 5-23/8 * * *"
    assert retention["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "wal-g",
        "delete",
        "retain",
        "FULL",
        "91",
        "--confirm",
    ]
    for cron_job in (base, retention, drill):
        spec = cron_job["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert {"secretRef": {"name": "walg-s3"}} in container["envFrom"]
        assert "env" not in container  # credentials only through the Secret
    base_command = base["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert base_command[-3:] == ["--", "wal-g", "backup-push"]
    assert base_command[2:7] == ["backup", "--service", "checkout", "--datastore", "orders-db"]


def test_object_names_fit_kubernetes_limits() -> None:
    long = k8s_name("a" * 40, "b" * 30, "restore-drill", limit=52)
    assert len(long) == 52 and long == k8s_name("a" * 40, "b" * 30, "restore-drill", limit=52)
    assert k8s_name("checkout", "orders-db", "base-backup", limit=52) == "checkout-orders-db-base-backup"


def test_plan_command_shows_targets_against_what_the_schedules_achieve() -> None:
    result = CliRunner().invoke(main, ["plan", "--env", "prod", "--spec", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "service",
        "datastore",
        "tier",
        "rpo",
        "achieves",
        "rto",
        "restore",
        "schedule",
        "retention",
        "status",
    ]
    (orders,) = [line for line in lines if line.startswith("checkout") and "orders-db" in line]
    assert "archive_timeout 4m30s" in orders and "retain FULL 91" in orders and orders.endswith("ok")
    (frequent,) = [line for line in lines if line.split()[:2] == ["checkout", "(velero)"]]
    assert "5m (every 3m + 1m queued + 1m)" in frequent and "ttl 14h0m0s (281 kept)" in frequent
    assert "(velero daily)" in result.output and "ttl 720h0m0s (31 kept)" in result.output
    assert "Velero (namespace velero): the schedules keep 0.385 of 4 backup worker(s) busy" in result.output
    data = json.loads(CliRunner().invoke(main, ["plan", "--env", "prod", "--spec", str(EXAMPLES), "--json"]).output)
    (row,) = [r for r in data["rows"] if r["datastore"] == "orders-db"]
    assert row["restore_estimate_seconds"] <= row["rto_seconds"] == 900
    assert row["restore_breakdown_seconds"] == {"startup": 120, "base_backup": 102, "wal_replay": 513}
    assert data["feasible"] is True
    assert data["velero"] == {
        "namespace": "velero",
        "concurrent_backups": 4,
        "load": 0.385,
        "longest_queue_wait_seconds": 60,
    }


BACKUP_SPEC = """\
apiVersion: obskit/v1
defaults: {runbook_url: "https://r/{service}/{alert}"}
environments:
  prod:
    velero: {namespace: velero, storage_location: default}
    walg: {prefix: "s3://b/p", credentials_secret: walg, image: "registry.example.com/obskit-walg-runner:1"}
    pushgateway: http://pgw:9091
services:
"""
INFEASIBLE = (
    BACKUP_SPEC
    + """\
  ledger:
    namespace: money
    tier: tier1_critical
    team: core
    selector: {app: ledger}
    metrics: {port: metrics}
    backup:
      duration: 1m
      datastores:
        ledger-db: {engine: postgres, method: wal-g, size: 2Ti, restore_throughput: 50MiB/s}
"""
)


def test_infeasible_targets_exit_2_with_the_reason_and_write_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "obskit.yaml"
    spec.write_text(INFEASIBLE)
    reason = (
        "ledger/ledger-db: restoring 2Ti at 50MiB/s takes ~11.7h (plus 2m start-up) against an RTO of 15m: "
        "a replica or a faster restore path is needed"
    )
    planned = CliRunner().invoke(main, ["plan", "--env", "prod", "--spec", str(spec)])
    assert planned.exit_code == 2
    assert "INFEASIBLE" in planned.output and reason in planned.output
    generated = CliRunner().invoke(main, ["gen", "--env", "prod", "--spec", str(spec), "--out", str(tmp_path / "out")])
    assert generated.exit_code == 2
    assert reason in generated.output
    assert not (tmp_path / "out").exists()
    validated = CliRunner().invoke(main, ["validate", "--spec", str(spec)])
    assert validated.exit_code == 2 and reason in validated.output


def test_jobs_retry_once_and_mount_a_service_account_token_only_when_one_is_named(write_spec) -> None:
    """A transient storage failure gets one retry; the jobs never call the Kubernetes API, so no token,
    unless walg.service_account names the account whose token IRSA / Workload Identity exchange."""
    for cron_job in documents(generate_tree(load_plan(EXAMPLES, "prod")), "backup/walg/checkout-orders-db.yaml")[2:]:
        job = cron_job["spec"]["jobTemplate"]["spec"]
        assert job["backoffLimit"] == 1
        assert job["template"]["spec"]["automountServiceAccountToken"] is False
        assert "serviceAccountName" not in job["template"]["spec"]
    platform = (EXAMPLES / "platform.yaml").read_text()
    spec = {name: (EXAMPLES / f"{name}.yaml").read_text() for name in ("catalog", "payments")}
    named = platform.replace(
        'walg: {prefix: "s3://acme-pg-backups/prod", credentials_secret: walg-s3, image: "registry.example.com/obskit-walg-runner:1-pg{pg_major}"}',
        'walg: {prefix: "file:///backups/prod", credentials_secret: walg-s3, service_account: walg-backup, image: "registry.example.com/obskit-walg-runner:1", volume_claim: pg-backups}',
    )
    assert named != platform
    tree = generate_tree(load_plan(write_spec(platform=named, **spec), "prod"))
    env, _, base, *_ = documents(tree, "backup/walg/checkout-orders-db.yaml")
    pod = base["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("walg-backup", True)
    # WAL-G reads WALG_FILE_PREFIX as a plain path and refuses a file:// URL
    assert env["data"]["WALG_FILE_PREFIX"] == "/backups/prod/checkout/orders-db"


EXAMPLE_WALG = (
    'walg: {prefix: "s3://acme-pg-backups/prod", credentials_secret: walg-s3, '
    'image: "registry.example.com/obskit-walg-runner:1-pg{pg_major}"}'
)


def example_with_walg(write_spec, walg: str) -> Path:
    platform = (EXAMPLES / "platform.yaml").read_text()
    assert EXAMPLE_WALG in platform
    teams = {name: (EXAMPLES / f"{name}.yaml").read_text() for name in ("catalog", "payments")}
    return write_spec(platform=platform.replace(EXAMPLE_WALG, walg), **teams)


def pod_of(cron_job: dict) -> dict:
    return cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_the_database_pod_gets_only_the_credentials_archiving_needs(tree: dict[str, str]) -> None:
    """archive_command (wal-push) needs the storage credentials, not PGUSER/PGPASSWORD: the patch lists
    the keys it mounts from the credentials Secret, readable by owner and group only."""
    patch = yaml.safe_load(tree["patches/walg/checkout-orders-db.yaml"])["spec"]["template"]["spec"]
    (secret,) = [volume["secret"] for volume in patch["volumes"] if volume["name"] == "obskit-walg-secret"]
    keys = [item["key"] for item in secret["items"]]
    assert all(item["path"] == item["key"] for item in secret["items"])
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "WALG_LIBSODIUM_KEY"} <= set(keys)
    assert not {"PGUSER", "PGPASSWORD"} & set(keys)
    assert secret["defaultMode"] == 0o440 and secret["optional"] is True  # a key the Secret lacks is left out


def test_a_gs_key_file_and_a_file_volume_are_mounted_where_wal_g_runs(write_spec) -> None:
    """In every job and, through the patch, in the database pod: GOOGLE_APPLICATION_CREDENTIALS names
    the mounted key; a file:// prefix's path is a mounted volume."""
    gs = example_with_walg(
        write_spec,
        'walg: {prefix: "gs://acme-pg/prod", credentials_secret: walg-pg, image: "r/w:1", '
        "key_file: {secret: walg-gcs, key: key.json}}",
    )
    tree = generate_tree(load_plan(gs, "prod"))
    env, _, *cron_jobs = documents(tree, "backup/walg/checkout-orders-db.yaml")
    assert env["data"]["WALG_GS_PREFIX"] == "gs://acme-pg/prod/checkout/orders-db"
    assert env["data"]["GOOGLE_APPLICATION_CREDENTIALS"] == "/etc/obskit/walg/key/key.json"
    key_volume = {
        "name": "walg-key",
        "secret": {"secretName": "walg-gcs", "items": [{"key": "key.json", "path": "key.json"}], "defaultMode": 0o440},
    }
    key_mount = {"name": "walg-key", "mountPath": "/etc/obskit/walg/key", "readOnly": True}
    for cron_job in cron_jobs:
        assert key_volume in pod_of(cron_job)["volumes"]
        assert key_mount in pod_of(cron_job)["containers"][0]["volumeMounts"]
    patch = yaml.safe_load(tree["patches/walg/checkout-orders-db.yaml"])["spec"]["template"]["spec"]
    assert key_volume in patch["volumes"] and key_mount in patch["containers"][0]["volumeMounts"]

    on_disk = example_with_walg(
        write_spec,
        'walg: {prefix: "file:///backups/prod", credentials_secret: walg-pg, image: "r/w:1", volume_claim: pg-backups}',
    )
    tree = generate_tree(load_plan(on_disk, "prod"))
    env, _, *cron_jobs = documents(tree, "backup/walg/checkout-orders-db.yaml")
    assert env["data"]["WALG_FILE_PREFIX"] == "/backups/prod/checkout/orders-db"
    claim = {"name": "walg-storage", "persistentVolumeClaim": {"claimName": "pg-backups"}}
    for cron_job in cron_jobs:
        assert claim in pod_of(cron_job)["volumes"]
        assert {"name": "walg-storage", "mountPath": "/backups/prod"} in pod_of(cron_job)["containers"][0][
            "volumeMounts"
        ]
    for document in documents(tree, "backup/walg/checkout-orders-db.yaml"):
        assert object_problems(document) == []


@pytest.mark.parametrize(
    ("walg", "problem"),
    [
        (
            'walg: {prefix: "gs://acme-pg/prod", credentials_secret: s, image: "r/w:1"}',
            "environments.prod.walg.key_file: required for a gs:// prefix: WAL-G reads the service account key "
            "from a file (or set service_account for Workload Identity)",
        ),
        (
            'walg: {prefix: "file:///backups", credentials_secret: s, image: "r/w:1"}',
            "environments.prod.walg.volume_claim: required for a file:// prefix",
        ),
        (
            'walg: {prefix: "s3://b/p", credentials_secret: s, image: "r/w:1", key_file: {secret: k, key: k.json}}',
            "environments.prod.walg.key_file: is for gs:// prefixes only (this prefix is s3://)",
        ),
        ('walg: {prefix: "s3://b/p", credentials_secret: s}', "environments.prod.walg.image: required field"),
    ],
)
def test_what_a_storage_scheme_needs_is_checked_at_its_line(write_spec, walg: str, problem: str) -> None:
    spec = example_with_walg(write_spec, walg)
    result = CliRunner().invoke(main, ["validate", "--spec", str(spec)])
    assert result.exit_code == 2
    assert f"platform.yaml:18: {problem}" in result.output


def test_the_drill_restores_onto_a_volume_of_its_own(write_spec) -> None:
    """A generic ephemeral volume sized from the datastore (20Gi x 1.25), not a node's emptyDir;
    ephemeral-storage requested for the rest; read-only credentials for drills when given."""
    spec = example_with_walg(
        write_spec,
        'walg: {prefix: "s3://acme-pg-backups/prod", credentials_secret: walg-s3, image: "r/w:1", '
        "drill_credentials_secret: walg-s3-read, drill_storage_class: fast-ssd}",
    )
    _, _, base, retention, drill = documents(
        generate_tree(load_plan(spec, "prod")), "backup/walg/checkout-orders-db.yaml"
    )
    (scratch,) = [volume for volume in pod_of(drill)["volumes"] if volume["name"] == "scratch"]
    claim = scratch["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast-ssd",
        "resources": {"requests": {"storage": "25Gi"}},
    }
    for cron_job in (base, retention, drill):
        (container,) = pod_of(cron_job)["containers"]
        assert container["resources"]["requests"]["ephemeral-storage"]
        assert container["resources"]["limits"]["ephemeral-storage"]
        secret = "walg-s3-read" if cron_job is drill else "walg-s3"
        assert {"secretRef": {"name": secret}} in container["envFrom"]
        assert object_problems(cron_job) == []
