"""The mongodump engine's alerts, proved by promtool 2.x and 3.5 on their own cases: a stale push
fires and a fresh one is silent, an absent metric fires its `cause: absent` twin, a failed dump or
drill fires, an oplog window shorter than the dump plus its margin fires."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from obskit.alerting.alerts import CheckedAlert
from obskit.engines.mongodb_dump import alerts, metrics
from obskit.engines.mongodb_dump.plan import MongodumpPlan
from obskit.plan.types import ServicePlan
from obskit.units import parse_duration
from tests import alert_cases
from tests.servers import VERSION_PARAMS, VERSIONS, require_binary
from tests.test_dr import service
from tests.test_mongodb_plan import builtin, plan, spec


def service_plan(tier_name: str = "tier3_low") -> ServicePlan:
    the_tier = builtin(tier_name)
    return ServicePlan(
        service=service(),
        tier=the_tier,
        scrape_interval=parse_duration("30s"),
        scrape_timeout=parse_duration("10s"),
        slos=(),
        velero=None,
        datastores=(),
        labels={"managed_by": "obskit", "service": "svc", "tier": tier_name, "team": "team"},
        dashboard_uid="obskit-svc",
        dashboard_url=None,
        runbook_template="https://runbooks.example.com/{service}/{alert}",
    )


def planned(tier_name: str = "tier3_low", exporter_job: str | None = "events-db-exporter") -> MongodumpPlan:
    the_plan, findings = plan(spec(exporter_job=exporter_job), builtin(tier_name))
    assert findings.infeasible == [] or tier_name != "tier3_low"
    return the_plan


def checked_alerts(exporter_job: str | None = "events-db-exporter") -> list[CheckedAlert]:
    the_plan = planned(exporter_job=exporter_job)
    group, checked = the_plan.alerts(service_plan())
    assert group == "mongodump"
    return checked


def promtool_files(tmp_path: Path, checked: list[CheckedAlert]) -> list[str]:
    return alert_cases.promtool_files(tmp_path, checked, "obskit/svc/events-db/mongodump", "mongodb")


def names_and_causes(checked: list[CheckedAlert]) -> list[tuple[str, str]]:
    return [(c.rule["alert"], c.rule["labels"].get("cause", "")) for c in checked]


def test_every_alert_and_its_absent_twin() -> None:
    assert names_and_causes(checked_alerts()) == [
        ("MongoDBDumpTooOld", ""),
        ("MongoDBDumpTooOld", "absent"),
        ("MongoDBDumpFailed", ""),
        ("MongoDBRestoreDrillOverdue", ""),
        ("MongoDBRestoreDrillOverdue", "absent"),
        ("MongoDBRestoreDrillFailed", ""),
        ("MongoDBRestoreDrillTooSlow", ""),
        ("MongoDBOplogWindowTooShort", ""),
        ("MongoDBOplogWindowTooShort", "absent"),
    ]
    # without mongodb_exporter in the environment, no oplog alerts (their absent twin would never clear)
    assert ("MongoDBOplogWindowTooShort", "") not in names_and_causes(checked_alerts(exporter_job=None))


def test_thresholds_are_the_plans() -> None:
    by_name = {(c.rule["alert"], c.rule["labels"].get("cause", "")): c.rule for c in checked_alerts()}
    selector = '{datastore="events-db",engine="mongodb",service="svc"}'
    # 4h between dumps + 17m4s dump + 2m upload, up to whole minutes: 4h20m
    assert by_name["MongoDBDumpTooOld", ""]["expr"] == (
        f"time() - obskit_backup_last_success_timestamp_seconds{selector} > 15600"
    )
    assert by_name["MongoDBDumpTooOld", ""]["labels"]["severity"] == "warning"  # tier3 does not page
    assert by_name["MongoDBDumpTooOld", "absent"]["for"] == "4h20m"
    # the dump's 17m4s and the 1h margin, up to whole minutes: 1h18m
    assert by_name["MongoDBOplogWindowTooShort", ""]["expr"] == (
        f'{metrics.OPLOG_HEAD}{{job="events-db-exporter"}} - {metrics.OPLOG_TAIL}{{job="events-db-exporter"}} < 4680'
    )
    assert by_name["MongoDBRestoreDrillTooSlow", ""]["expr"].endswith("> 14400")


def test_a_paging_tier_pages_for_an_old_dump() -> None:
    the_plan, findings = plan(
        spec("1Gi", schedule=None, duration=parse_duration("1m"), exporter_job=None), builtin("tier2_standard")
    )
    assert findings.infeasible == []
    (too_old, *_) = alerts.datastore_alerts(service_plan("tier2_standard"), the_plan, None)[1]
    assert too_old.rule["labels"]["severity"] == "critical"
    assert too_old.rule["expr"].endswith("> 1380")  # 20m + 1m + 2m


def test_the_engine_reports_its_inputs_for_obskit_check() -> None:
    the_plan = planned()
    inputs = [(str(selector), source) for selector, source in the_plan.inputs(service_plan())]
    assert inputs[-1] == (
        f'{metrics.OPLOG_HEAD}{{job="events-db-exporter"}}',
        "mongodb_exporter (job events-db-exporter)",
    )
    assert all('engine="mongodb"' in selector for selector, _ in inputs[:2])


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_promtool_proves_every_case(tmp_path: Path, version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from obskit.verify import promtool

    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary(VERSIONS[version][1]))
    checked = checked_alerts()
    files = promtool_files(tmp_path, checked)
    checked_rules = promtool.check_rules(tmp_path, ["mongodb.rules.yaml"])
    assert checked_rules.ok, checked_rules.output
    outcome = promtool.test_rules(tmp_path, files)
    assert outcome.ok, outcome.output


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_promtool_sees_a_wrong_threshold(tmp_path: Path, version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cases bite: the oplog alert with a window one minute shorter than the plan's stays silent
    on its firing case."""
    from obskit.verify import promtool

    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary(VERSIONS[version][1]))
    (window, *_) = [c for c in checked_alerts() if c.rule["alert"] == "MongoDBOplogWindowTooShort"]
    weakened = dataclasses.replace(window, rule={**window.rule, "expr": window.rule["expr"].replace("4680", "4560")})
    outcome = promtool.test_rules(tmp_path, promtool_files(tmp_path, [weakened]))
    assert not outcome.ok


def test_a_refused_plan_has_no_dump_alerts_to_write() -> None:
    the_plan, findings = plan(spec(schedule=None), builtin("tier1_critical"))
    assert findings.infeasible and the_plan.backup_limit is None
    with pytest.raises(AssertionError):
        alerts.datastore_alerts(service_plan("tier1_critical"), the_plan, None)
