"""The PostgreSQL engine's part of a failover, from the bundled example: the DR loss arithmetic and
its refusal, the DR cluster's objects against the Kubernetes schema, the promote step's pod, the
standby alerts proved by promtool 2.x on their own cases, and the runbook section."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from obskit.alerting.alerts import CheckedAlert
from obskit.engines.postgres_walg.failover import WalgFailover
from obskit.pipeline import load_plan
from obskit.plan.types import Plan, ServicePlan
from obskit.units import Duration, parse_duration
from obskit.verify.objects import object_problems
from tests import alert_cases
from tests.conftest import EXAMPLES, WALG_JOBS
from tests.servers import require_binary


def checkout(plan: Plan) -> tuple[ServicePlan, WalgFailover]:
    service_plan = next(each for each in plan.services if each.name == "checkout")
    assert service_plan.failover is not None
    ((name, failover),) = service_plan.failover.datastores
    assert name == "orders-db" and isinstance(failover, WalgFailover)
    return service_plan, failover


@pytest.fixture(scope="module")
def example() -> tuple[Plan, ServicePlan, WalgFailover]:
    plan = load_plan(EXAMPLES, "prod")  # feasible: load_plan refuses an infeasible plan
    return (plan, *checkout(plan))


@pytest.fixture(scope="module")
def copy_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, ServicePlan, WalgFailover]:
    """The example without stream_from: the DR standby replays the DR copy only."""
    spec = tmp_path_factory.mktemp("spec")
    for path in EXAMPLES.glob("*.yaml"):
        shutil.copy(path, spec / path.name)
    lines = (spec / "payments.yaml").read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.lstrip().startswith("stream_from:")]
    assert len(kept) == len(lines) - 1
    (spec / "payments.yaml").write_text("".join(kept))
    plan = load_plan(spec, "prod", feasible=False)
    return (plan, *checkout(plan))


def test_the_example_streams_and_its_loss_is_the_rpo(example: tuple[Plan, ServicePlan, WalgFailover]) -> None:
    plan, _, failover = example
    assert not [each for each in plan.infeasible if each.datastore == "orders-db"]
    assert failover.stream_from == "orders-db.shop.us-east-1.example.internal:5432"
    assert failover.dr_loss == parse_duration("5m")
    assert "StandbyReplayBehind pages" in failover.dr_loss_basis
    # the copy, a fallback now, runs after each base backup (every 8h)
    assert failover.copy_step == parse_duration("8h")


def test_a_copy_alone_is_refused_with_its_arithmetic_and_the_remedy(
    copy_only: tuple[Plan, ServicePlan, WalgFailover],
) -> None:
    plan, _, failover = copy_only
    # the prefix wal-g copy copies on every run: 91 base backups of 20GiB and 91 x 8h of WAL at
    # 2GiB/h, 3276GiB, at 200MiB/s (the datastore's restore throughput): 16773s
    assert failover.copy_run == Duration(16_773_120)
    assert failover.copy_step == parse_duration("6h")  # the first cron step a run fits in
    # 2 x 4m30s + 30s upload + 6h + 4h39m33s
    assert failover.dr_loss == parse_duration("9m30s") + parse_duration("6h") + Duration(16_773_120)
    (refused,) = [each for each in plan.infeasible if each.datastore == "orders-db"]
    assert "against an RPO of 5m" in refused.reason
    assert "set the datastore's `stream_from`" in refused.reason
    problem = refused.problem(plan.environment)
    assert problem.file.endswith("payments.yaml") and problem.line > 0


def test_the_copy_meets_a_loose_rpo_only_without_the_archive_eating_it(
    copy_only: tuple[Plan, ServicePlan, WalgFailover],
) -> None:
    """The engine's archive_timeout is the RPO less the upload: twice that alone passes the RPO, so
    no tier's RPO is met by a copy alone."""
    _, service_plan, failover = copy_only
    assert 2 * failover.ds.archive_timeout.ms > service_plan.tier.rpo.ms


def _documents(failover: WalgFailover, plan: Plan, service_plan: ServicePlan) -> dict[str, dict[str, Any]]:
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in failover.objects(plan, service_plan)}


def test_the_dr_objects_pass_the_kubernetes_schema(example: tuple[Plan, ServicePlan, WalgFailover]) -> None:
    plan, service_plan, failover = example
    documents = _documents(failover, plan, service_plan)
    assert sorted(documents) == [
        "ConfigMap/checkout-orders-db-walg-dr-env",
        "ConfigMap/checkout-orders-db-walg-dr-files",
        "CronJob/checkout-orders-db-dr-copy",
        "Role/checkout-orders-db-promote",
        "RoleBinding/checkout-orders-db-promote",
        "ServiceAccount/checkout-orders-db-promote",
    ]
    # the promote step may suspend the DR copy, and touch nothing else
    assert documents["Role/checkout-orders-db-promote"]["rules"] == [
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "resourceNames": ["checkout-orders-db-dr-copy"],
         "verbs": ["get", "patch"]}
    ]  # fmt: skip
    for name, document in documents.items():
        assert object_problems(document) == [], name
        assert document["metadata"]["namespace"] == "shop"


def test_the_copy_job_copies_the_primary_prefix_into_the_dr_prefix(
    example: tuple[Plan, ServicePlan, WalgFailover],
) -> None:
    plan, service_plan, failover = example
    documents = _documents(failover, plan, service_plan)
    files = documents["ConfigMap/checkout-orders-db-walg-dr-files"]["data"]
    assert json.loads(files["copy-from.json"]) == {"WALG_S3_PREFIX": "s3://acme-pg-backups/prod/checkout/orders-db"}
    assert json.loads(files["copy-to.json"]) == {"WALG_S3_PREFIX": "s3://acme-pg-backups-dr/prod/checkout/orders-db"}
    env = documents["ConfigMap/checkout-orders-db-walg-dr-env"]["data"]
    assert env["WALG_S3_PREFIX"] == "s3://acme-pg-backups-dr/prod/checkout/orders-db"
    cron_job = documents["CronJob/checkout-orders-db-dr-copy"]["spec"]
    assert cron_job["schedule"] == failover.copy_cron and cron_job["concurrencyPolicy"] == "Forbid"
    (container,) = cron_job["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        "wal-g", "copy", "--from", "/opt/obskit/copy-from.json", "--to", "/opt/obskit/copy-to.json",
    ]  # fmt: skip
    # credentials by reference: the Secret (failover.walg names none: walg's), never a value
    assert container["envFrom"][1] == {"secretRef": {"name": "walg-s3"}}
    assert "AWS_SECRET_ACCESS_KEY" not in json.dumps(documents)


def test_the_standby_settings_replay_the_dr_copy_and_stream(example: tuple[Plan, ServicePlan, WalgFailover]) -> None:
    plan, service_plan, failover = example
    files = _documents(failover, plan, service_plan)["ConfigMap/checkout-orders-db-walg-dr-files"]["data"]
    settings = files["postgresql-standby.conf"]
    assert "restore_command = '/etc/obskit/walg/files/wal-g-env wal-fetch %f %p'\n" in settings
    assert "recovery_target_timeline = 'latest'\n" in settings
    assert (
        "primary_conninfo = 'host=orders-db.shop.us-east-1.example.internal port=5432 "
        "application_name=checkout-orders-db-dr'\n"
    ) in settings
    assert "password" not in settings.split("primary_conninfo")[1]
    assert files["standby-queries.yaml"] == (WALG_JOBS / "standby-queries.yaml").read_text()
    assert files["failover_promote.py"] == (WALG_JOBS / "failover_promote.py").read_text()


def test_without_stream_from_the_standby_only_replays(copy_only: tuple[Plan, ServicePlan, WalgFailover]) -> None:
    plan, service_plan, failover = copy_only
    files = _documents(failover, plan, service_plan)["ConfigMap/checkout-orders-db-walg-dr-files"]["data"]
    assert "primary_conninfo" not in files["postgresql-standby.conf"]


def _job_of(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod as the integrator's step generator runs it: a suspended CronJob `kubectl create job --from=` starts."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "checkout-promote", "namespace": "shop"},
        "spec": {"schedule": "0 0 1 1 *", "suspend": True, "jobTemplate": {"spec": {"template": {"spec": pod}}}},
    }


def test_the_promote_pod_suspends_the_copy_then_fences_and_promotes(
    example: tuple[Plan, ServicePlan, WalgFailover],
) -> None:
    plan, service_plan, failover = example
    pod = failover.promote_pod(plan, service_plan, "registry.example.com/obskit-failover:1")
    assert object_problems(_job_of(pod)) == []
    # the DR copy is suspended first, by kubectl in the failover image; then the engine's image promotes
    (suspend,) = pod["initContainers"]
    assert suspend["image"] == "registry.example.com/obskit-failover:1"
    assert suspend["command"] == [
        "kubectl", "--namespace=shop", "patch", "cronjob/checkout-orders-db-dr-copy", "--type=merge",
        '--patch={"spec":{"suspend":true}}',
    ]  # fmt: skip
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.com/obskit-walg-runner:1-pg16"
    assert container["command"] == ["python3", "/opt/obskit/failover_promote.py", "--wait-seconds", "60"]
    env = {each["name"]: each.get("value", each.get("valueFrom")) for each in container["env"]}
    assert env["PGHOST"] == "orders-db" and env["PGPORT"] == "5432"
    assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "walg-s3", "key": "PGPASSWORD"}}
    assert env["OBSKIT_FENCE_PGHOST"] == "orders-db.shop.us-east-1.example.internal"
    assert env["OBSKIT_FENCE_PGPASSWORD"] == {"secretKeyRef": {"name": "walg-s3", "key": "PGPASSWORD"}}
    assert pod["volumes"][0]["configMap"]["name"] == "checkout-orders-db-walg-dr-files"


def test_without_an_address_the_promote_pod_skips_the_fence(copy_only: tuple[Plan, ServicePlan, WalgFailover]) -> None:
    plan, service_plan, failover = copy_only
    (container,) = failover.promote_pod(plan, service_plan, "img")["containers"]
    assert container["command"][-1] == "--skip-fence"
    assert not [each for each in container["env"] if each["name"].startswith("OBSKIT_FENCE_")]
    assert "fence it by hand first" in failover.runbook(plan, service_plan)


def test_the_runbook_promotes_verifies_and_fails_back(example: tuple[Plan, ServicePlan, WalgFailover]) -> None:
    plan, service_plan, failover = example
    text = failover.runbook(plan, service_plan)
    for heading in ("## Datastore orders-db (PostgreSQL standby)", "### Promote", "### Verify", "### Fail back"):
        assert heading in text
    assert "SELECT pg_is_in_recovery()" in text and "pg_basebackup" in text
    assert "one failed probe" in text
    assert '{"spec":{"suspend":false}}' in text


def test_the_alerts_and_their_inputs(example: tuple[Plan, ServicePlan, WalgFailover]) -> None:
    _, service_plan, failover = example
    checked = failover.alerts(service_plan)
    assert [(c.rule["alert"], c.rule["labels"].get("cause", "")) for c in checked] == [
        ("StandbyReplayBehind", ""),
        ("StandbyReplayBehind", "absent"),
        ("StandbyNotReplica", ""),
    ]
    behind, absent, not_replica = checked
    assert behind.rule["expr"].startswith(
        'time() - obskit_standby_last_replay_timestamp_seconds{job="checkout-orders-db-standby"} > 420\n'
    )
    assert "[2m] offset 5m" in behind.rule["expr"]
    assert behind.rule["labels"]["severity"] == "critical" and behind.rule["labels"]["datastore"] == "orders-db"
    assert (
        absent.rule["expr"] == 'absent(obskit_standby_last_replay_timestamp_seconds{job="checkout-orders-db-standby"})'
    )
    assert absent.rule["for"] == "5m"
    assert not_replica.rule["expr"] == 'obskit_standby_in_recovery{job="checkout-orders-db-standby"} == 0'
    assert not_replica.rule["labels"]["severity"] == "warning"
    assert [str(selector) for selector, _ in failover.inputs(service_plan)] == [
        'obskit_standby_last_replay_timestamp_seconds{job="checkout-orders-db-standby"}',
        'obskit_standby_in_recovery{job="checkout-orders-db-standby"}',
    ]


def promtool_files(tmp_path: Path, checked: list[CheckedAlert]) -> list[str]:
    return alert_cases.promtool_files(tmp_path, checked, "obskit/checkout/orders-db/standby", "standby")


@pytest.mark.tools("promtool")
def test_promtool_proves_every_case(
    tmp_path: Path, example: tuple[Plan, ServicePlan, WalgFailover], monkeypatch: pytest.MonkeyPatch
) -> None:
    from obskit.verify import promtool

    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary("promtool"))
    _, service_plan, failover = example
    files = promtool_files(tmp_path, failover.alerts(service_plan))
    checked_rules = promtool.check_rules(tmp_path, ["standby.rules.yaml"])
    assert checked_rules.ok, checked_rules.output
    outcome = promtool.test_rules(tmp_path, files)
    assert outcome.ok, outcome.output


@pytest.mark.tools("promtool")
def test_promtool_sees_a_wrong_threshold(
    tmp_path: Path, example: tuple[Plan, ServicePlan, WalgFailover], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cases bite: a lag threshold an hour longer stays silent on the firing case."""
    from obskit.verify import promtool

    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary("promtool"))
    _, service_plan, failover = example
    behind = failover.alerts(service_plan)[0]
    weakened = dataclasses.replace(behind, rule={**behind.rule, "expr": behind.rule["expr"].replace("> 420", "> 4020")})
    assert not promtool.test_rules(tmp_path, promtool_files(tmp_path, [weakened])).ok
