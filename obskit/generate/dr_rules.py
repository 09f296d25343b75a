"""Disaster-recovery alerts, with the promtool cases that make each fire and stay silent.

Thresholds come from the plan, so an alert fires exactly when reality leaves what the
schedules promise: a backup older than the RPO, a base backup older than the interval
the RTO requires, a drill slower than the RTO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from obskit.dr import DatastorePlan
from obskit.generate.series import series_text
from obskit.generate.slo_rules import Group, Rule, alert_labels, group_name
from obskit.generate.timing import INPUT_STEP, check_time, input_steps
from obskit.model import Tier
from obskit.plan import Plan, ServicePlan
from obskit.units import Duration

FAILURE_WINDOW = "1h"
ARCHIVE_FAILURE_WINDOW = "5m"
# Kept apart: increase() over one selector of all three would drop the names and collide.
TUPLE_WRITES = ("pg_stat_database_tup_inserted", "pg_stat_database_tup_updated", "pg_stat_database_tup_deleted")


@dataclass(frozen=True)
class Case:
    name: str
    series: dict[str, str]  # series -> promtool values
    fires: bool
    labels: dict[str, str] = field(default_factory=dict)  # the alert's labels from its series


@dataclass(frozen=True)
class CheckedAlert:
    rule: Rule
    cases: tuple[Case, ...]
    eval_time: Duration


def _secs(duration: Duration) -> int:
    return duration.ms // 1000


def _steps(until: Duration) -> int:
    return input_steps(until)


def _constant(value: float | int, until: Duration) -> str:
    return f"{value}x{_steps(until)}"


def _alert(
    plan: Plan,
    service_plan: ServicePlan,
    name: str,
    expr: str,
    severity: str,
    summary: str,
    description: str,
    for_: Duration | None,
    extra: dict[str, str],
) -> Rule:
    rule: Rule = {
        "alert": name,
        "expr": expr,
        "labels": {**alert_labels(plan, service_plan, service_plan.severity(severity)), **extra},
        "annotations": {"summary": summary, "description": description, "runbook_url": service_plan.runbook_url(name)},
    }
    if for_ is not None:
        rule["for"] = str(for_)
    return rule


def _age_cases(
    series: str, labels: dict[str, str], threshold: Duration, for_: Duration, eval_time: Duration
) -> tuple[Case, ...]:
    """A timestamp series old enough to fire through the whole `for`, and one fresh enough not to.
    Timestamps before the test's start are negative, so a short test covers any threshold."""
    stale = -(_secs(threshold) + _secs(eval_time) + 60)  # older than the threshold from the start
    fresh = _secs(eval_time) - _secs(threshold) // 2  # half the threshold old when checked
    return (
        Case("fires", {series: _constant(stale, eval_time)}, True, labels),
        Case("silent", {series: _constant(fresh, eval_time)}, False),
    )


def base_backup_limit(datastore_plan: DatastorePlan) -> Duration:
    """How old the last base backup may be: the interval plus the backup's own duration."""
    assert datastore_plan.base_interval is not None
    return datastore_plan.base_interval + datastore_plan.base_backup_duration


def drill_limit(datastore_plan: DatastorePlan, tier: Tier) -> Duration:
    """How long without a successful drill: the schedule's longest gap plus one RTO for the drill."""
    return datastore_plan.drill.max_gap + tier.rto


def velero_alerts(plan: Plan, service_plan: ServicePlan) -> list[CheckedAlert]:
    velero = service_plan.velero
    if velero is None:
        return []
    tier = service_plan.tier
    schedule = {"schedule": service_plan.name}
    match = f'{{schedule="{service_plan.name}"}}'
    for_ = tier.platform_alert_for
    eval_time = check_time(for_)
    too_old = _alert(
        plan,
        service_plan,
        "BackupTooOld",
        f"time() - velero_backup_last_successful_timestamp{match} > {_secs(tier.rpo)}",
        "page",
        "The last successful backup is older than the RPO.",
        f"The last successful Velero backup of {service_plan.name} (schedule {{{{ $labels.schedule }}}}) is older "
        f"than its RPO of {tier.rpo}; backups run on '{velero.cron}' and take about {velero.backup_duration}.",
        for_,
        {},
    )
    failure_steps = _steps(check_time(Duration(0)))
    failed = _alert(
        plan,
        service_plan,
        "BackupFailed",
        f"increase(velero_backup_failure_total{match}[{FAILURE_WINDOW}]) > 0\n"
        f"or\nincrease(velero_backup_partial_failure_total{match}[{FAILURE_WINDOW}]) > 0",
        "warning",
        "A backup failed or partially failed.",
        f"A Velero backup of {service_plan.name} (schedule {{{{ $labels.schedule }}}}) failed or partially failed "
        f"within the last {FAILURE_WINDOW}; check `velero backup logs`.",
        None,
        {},
    )
    failure = series_text("velero_backup_failure_total", schedule)
    partial = series_text("velero_backup_partial_failure_total", schedule)
    return [
        CheckedAlert(
            too_old,
            _age_cases(
                series_text("velero_backup_last_successful_timestamp", schedule), schedule, tier.rpo, for_, eval_time
            ),
            eval_time,
        ),
        CheckedAlert(
            failed,
            (
                Case("fires", {failure: f"0x3 1x{failure_steps - 3}", partial: f"0x{failure_steps}"}, True, schedule),
                Case("silent", {failure: f"0x{failure_steps}", partial: f"0x{failure_steps}"}, False),
            ),
            check_time(Duration(0)),
        ),
    ]


def datastore_alerts(plan: Plan, service_plan: ServicePlan, datastore_plan: DatastorePlan) -> list[CheckedAlert]:
    assert datastore_plan.base_interval is not None
    tier = service_plan.tier
    ds = datastore_plan.name
    exporter = {"job": datastore_plan.datastore.exporter_job}
    job_match = f'job="{exporter["job"]}"'
    pushed = {"datastore": ds, "service": service_plan.name}
    pushed_match = f'{{datastore="{ds}",service="{service_plan.name}"}}'
    extra = {"datastore": ds}
    for_ = tier.platform_alert_for
    where = f"{service_plan.name}/{ds}"
    alerts: list[CheckedAlert] = []

    # An idle database archives nothing and its archive ages without anything being lost, so the
    # age only counts while tuples were written within the RPO. After an idle spell PostgreSQL
    # switches segments as soon as anything is written (archive_timeout has long passed), so a
    # working archiver clears the condition well within the `for:`.
    rpo = tier.rpo
    too_old = _alert(
        plan,
        service_plan,
        "WALArchiveTooOld",
        f"pg_stat_archiver_last_archive_age{{{job_match}}} > {_secs(rpo)}\n"
        "and on() (\n"
        + "\n+ ".join(f"(sum(increase({name}{{{job_match}}}[{rpo}])) or vector(0))" for name in TUPLE_WRITES)
        + "\n) > 0",
        "page",
        "Written data is not reaching the WAL archive within the RPO.",
        f"{where} (exporter job {{{{ $labels.job }}}}) has written data within the last {rpo}, but its last "
        f"archived WAL segment is older than the RPO of {rpo} (archive_timeout is "
        f"{_secs(datastore_plan.archive_timeout)}s); check the archiver and wal-g.",
        for_,
        extra,
    )
    eval_time = check_time(for_)
    age = series_text("pg_stat_archiver_last_archive_age", exporter)
    inserted = series_text("pg_stat_database_tup_inserted", {**exporter, "datname": "app"})
    # updated rows too, in the same database: the sums must not collide over equal label sets
    updated = series_text("pg_stat_database_tup_updated", {**exporter, "datname": "app"})
    old_age = f"{_secs(rpo) + 60}+60x{_steps(eval_time)}"
    alerts.append(
        CheckedAlert(
            too_old,
            (
                Case(
                    "fires",
                    {age: old_age, inserted: f"0+10x{_steps(eval_time)}", updated: _constant(7, eval_time)},
                    True,
                    exporter,
                ),
                Case(
                    "silent when idle",
                    {age: old_age, inserted: _constant(100, eval_time), updated: _constant(7, eval_time)},
                    False,
                ),
                Case(
                    "silent while archiving",
                    {age: _constant(5, eval_time), inserted: f"0+10x{_steps(eval_time)}"},
                    False,
                ),
            ),
            eval_time,
        )
    )

    failing = _alert(
        plan,
        service_plan,
        "WALArchiveFailing",
        f"increase(pg_stat_archiver_failed_count{{{job_match}}}[{ARCHIVE_FAILURE_WINDOW}]) > 0",
        "page",
        "WAL archiving is failing.",
        f"archive_command of {where} (exporter job {{{{ $labels.job }}}}) has failed within the last "
        f"{ARCHIVE_FAILURE_WINDOW} for {for_}; "
        "PostgreSQL keeps the WAL and retries, but the RPO is at risk and pg_wal grows.",
        for_,
        extra,
    )
    failing_at = check_time(for_)
    failed_count = series_text("pg_stat_archiver_failed_count", exporter)
    alerts.append(
        CheckedAlert(
            failing,
            (
                Case("fires", {failed_count: f"0+1x{_steps(failing_at)}"}, True, exporter),
                Case("silent", {failed_count: _constant(3, failing_at)}, False),
            ),
            failing_at,
        )
    )

    base_limit = base_backup_limit(datastore_plan)
    base_at = check_time(for_)
    base = _alert(
        plan,
        service_plan,
        "BaseBackupTooOld",
        f"time() - obskit_backup_last_success_timestamp_seconds{pushed_match} > {_secs(base_limit)}",
        "page",
        "The last base backup is older than the RTO allows.",
        f"The last successful base backup of {{{{ $labels.service }}}}/{{{{ $labels.datastore }}}} is older than "
        f"{base_limit}: base backups every "
        f"{datastore_plan.base_interval} keep the WAL to replay, and so the restore, within the RTO of {tier.rto}.",
        for_,
        {},
    )
    alerts.append(
        CheckedAlert(
            base,
            _age_cases(
                series_text("obskit_backup_last_success_timestamp_seconds", pushed),
                pushed,
                base_limit,
                for_,
                base_at,
            ),
            base_at,
        )
    )

    drill_limit_value = drill_limit(datastore_plan, tier)
    drill_at = check_time(for_)
    overdue = _alert(
        plan,
        service_plan,
        "RestoreDrillOverdue",
        f"time() - obskit_restore_drill_last_success_timestamp_seconds{pushed_match} > {_secs(drill_limit_value)}",
        "warning",
        "No successful restore drill within the drill interval.",
        f"{{{{ $labels.service }}}}/{{{{ $labels.datastore }}}} has had no successful restore drill for over "
        f"{drill_limit_value} (drills run on "
        f"'{datastore_plan.drill.cron}', every {tier.restore_drill_interval} at the latest).",
        for_,
        {},
    )
    alerts.append(
        CheckedAlert(
            overdue,
            _age_cases(
                series_text("obskit_restore_drill_last_success_timestamp_seconds", pushed),
                pushed,
                drill_limit_value,
                for_,
                drill_at,
            ),
            drill_at,
        )
    )

    slow = _alert(
        plan,
        service_plan,
        "RestoreDrillTooSlow",
        f"obskit_restore_drill_duration_seconds{pushed_match} > {_secs(tier.rto)}",
        "page",
        "The last restore drill took longer than the RTO.",
        f"The last restore drill of {{{{ $labels.service }}}}/{{{{ $labels.datastore }}}} took longer than its "
        f"RTO of {tier.rto} "
        f"(the plan estimates {datastore_plan.restore.total if datastore_plan.restore else 'n/a'}).",
        None,
        {},
    )
    duration = series_text("obskit_restore_drill_duration_seconds", pushed)
    alerts.append(
        CheckedAlert(
            slow,
            (
                Case("fires", {duration: _constant(_secs(tier.rto) + 60, check_time(Duration(0)))}, True, pushed),
                Case("silent", {duration: _constant(_secs(tier.rto) // 2, check_time(Duration(0)))}, False),
            ),
            check_time(Duration(0)),
        )
    )
    return alerts


def dr_alerts(plan: Plan, service_plan: ServicePlan) -> list[tuple[str, list[CheckedAlert]]]:
    """(rule group name, alerts) for the service's backups."""
    groups = []
    velero = velero_alerts(plan, service_plan)
    if velero:
        groups.append((group_name(service_plan, "backup"), velero))
    for datastore_plan in service_plan.datastores:
        groups.append(
            (
                group_name(service_plan, datastore_plan.name, "wal-g"),
                datastore_alerts(plan, service_plan, datastore_plan),
            )
        )
    return groups


def dr_groups(plan: Plan, service_plan: ServicePlan) -> list[Group]:
    return [{"name": name, "rules": [a.rule for a in alerts]} for name, alerts in dr_alerts(plan, service_plan)]


def dr_test_groups(plan: Plan, service_plan: ServicePlan, expected: Any) -> list[dict[str, Any]]:
    """promtool test groups, one per kind of case ("fires", "silent", ...) with every DR alert's
    case of that kind: their series are distinct metrics, and fewer groups mean fewer passes
    over the service's rules. `expected(rule, series_labels)` renders an expected alert."""
    groups: dict[str, dict[str, Any]] = {}
    for _, alerts in dr_alerts(plan, service_plan):
        for alert in alerts:
            name = alert.rule["alert"]
            for case in alert.cases:
                group = groups.setdefault(
                    case.name,
                    {
                        "name": f"backups: {case.name}",
                        "interval": str(INPUT_STEP),
                        "input_series": [],
                        "alert_rule_test": [],
                    },
                )
                group["input_series"] += [{"series": s, "values": v} for s, v in case.series.items()]
                group["alert_rule_test"].append(
                    {
                        "eval_time": str(alert.eval_time),
                        "alertname": name,
                        "exp_alerts": [expected(alert.rule, case.labels)] if case.fires else [],
                    }
                )
    return list(groups.values())
