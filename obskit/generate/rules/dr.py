"""Disaster-recovery alerts of a service: its Velero schedule's here, each datastore's from its
engine (obskit/engines), with the promtool cases that make each fire and stay silent."""

from __future__ import annotations

from typing import Any

from obskit.alerting.alerts import Case, CheckedAlert, Group, age_cases, alert, secs, when_absent
from obskit.alerting.timing import FOR_STEP, check_time, input_steps
from obskit.generate.rules.cases import case_groups
from obskit.output import escape
from obskit.plan import conventions as names
from obskit.plan.types import ServicePlan
from obskit.spec.series import series_text
from obskit.units import Duration

FAILURE_WINDOW = "1h"


def _age_limit(service_plan: ServicePlan) -> tuple[Duration, str, str]:
    """How old the frequent schedule's last success may be, the alert's kind, and what the limit is.
    Data at risk pages at the RPO; a service whose data its datastores' engines archive has only its
    Kubernetes resources in Velero: a ticket once the schedule misses what it promises."""
    velero = service_plan.velero
    assert velero is not None
    limit = velero.age_limit
    if velero.resources_only:
        archivers = " and ".join(sorted({ds.backed_up_by for ds in service_plan.datastores}))
        return limit, "warning", f"the {limit} its schedule promises (its data is archived by {archivers})"
    return limit, "page", f"its RPO of {limit}"


def _backup_too_old(service_plan: ServicePlan) -> CheckedAlert:
    velero = service_plan.velero
    assert velero is not None
    for_ = service_plan.tier.platform_alert_for
    name = velero.frequent.name
    schedule = {"schedule": name}
    limit, kind, what = _age_limit(service_plan)
    rule = alert(
        service_plan,
        "BackupTooOld",
        f"time() - {escape.selector(names.VELERO_LAST_SUCCESS, [('schedule', '=', name)])} > {secs(limit)}",
        kind,
        (
            f"The last successful backup is older than {'the RPO' if kind == 'page' else 'planned'}.",
            f"The last successful Velero backup of {service_plan.name} (schedule {{{{ $labels.schedule }}}}) is "
            f"older than {what}; backups take about {velero.backup_duration}; the disaster-recovery runbook "
            "gives their schedule.",
        ),
        for_,
    )
    at = check_time(for_, FOR_STEP)
    cases = age_cases(series_text(names.VELERO_LAST_SUCCESS, schedule), schedule, limit, at)
    return CheckedAlert(rule, cases, at, FOR_STEP)


def _backup_never_succeeded(service_plan: ServicePlan, too_old: CheckedAlert) -> CheckedAlert:
    assert service_plan.velero is not None
    schedule = {"schedule": service_plan.velero.frequent.name}
    selector = series_text(names.VELERO_LAST_SUCCESS, schedule)
    limit, _, _ = _age_limit(service_plan)
    return when_absent(too_old, selector, schedule, limit, "A successful Velero backup")


def _backup_failed(service_plan: ServicePlan) -> CheckedAlert:
    """Any of the service's schedules: the daily one's backups count as much as the frequent one's."""
    assert service_plan.velero is not None
    scheduled = [planned.name for planned in service_plan.velero.schedules]
    schedule = {"schedule": scheduled[0]}
    match = escape.selector(
        "", [("schedule", "=~", "|".join(scheduled)) if len(scheduled) > 1 else ("schedule", "=", scheduled[0])]
    )
    rule = alert(
        service_plan,
        "BackupFailed",
        "\nor\n".join(
            f"increase({metric}{match}[{FAILURE_WINDOW}]) > 0"
            for metric in (names.VELERO_FAILURES, names.VELERO_PARTIAL_FAILURES, names.VELERO_VALIDATION_FAILURES)
        ),
        "warning",
        (
            "A backup failed, partially failed or failed validation.",
            f"A Velero backup of {service_plan.name} (schedule {{{{ $labels.schedule }}}}) failed, partially "
            f"failed or failed validation (for instance, its storage location was unavailable) within the last "
            f"{FAILURE_WINDOW}; check `velero backup describe` and `velero backup logs`.",
        ),
        None,
    )
    at = check_time(Duration(0))
    steps = input_steps(at)
    failure = series_text(names.VELERO_FAILURES, schedule)
    partial = series_text(names.VELERO_PARTIAL_FAILURES, schedule)
    invalid = series_text(names.VELERO_VALIDATION_FAILURES, schedule)
    quiet = f"0x{steps}"
    daily = [
        Case(
            f"fires on schedule {name}",
            {series_text(names.VELERO_FAILURES, {"schedule": name}): f"0x3 1x{steps - 3}"},
            True,
            {"schedule": name},
        )
        for name in scheduled[1:]
    ]
    return CheckedAlert(
        rule,
        (
            Case("fires", {failure: f"0x3 1x{steps - 3}", partial: quiet, invalid: quiet}, True, schedule),
            *daily,
            # the path every backup takes while the storage location is unavailable
            Case(
                "fires on failed validation",
                {failure: quiet, partial: quiet, invalid: f"0x3 1x{steps - 3}"},
                True,
                schedule,
            ),
            Case("silent", {failure: quiet, partial: quiet, invalid: quiet}, False),
        ),
        at,
    )


def dr_alerts(service_plan: ServicePlan) -> list[tuple[str, list[CheckedAlert]]]:
    """(rule group name, alerts) for the service's backups."""
    groups = []
    if service_plan.velero is not None:
        too_old = _backup_too_old(service_plan)
        alerts = [too_old, _backup_never_succeeded(service_plan, too_old), _backup_failed(service_plan)]
        groups.append((names.group_name(service_plan.name, "backup"), alerts))
    for datastore_plan in service_plan.datastores:
        suffix, alerts = datastore_plan.alerts(service_plan)
        groups.append((names.group_name(service_plan.name, datastore_plan.name, suffix), alerts))
    return groups


LIMITS_INTERVAL = Duration(60_000)  # within Prometheus' 5m lookback: dashboards see no gaps


def dr_limits(service_plan: ServicePlan) -> list[dict[str, Any]]:
    """The plan's DR numbers as series, so one templated dashboard draws every service's own."""
    tier = service_plan.tier
    base = {k: v for k, v in service_plan.labels.items() if k not in ("team", "tier", names.ALERT_MARKER[0])}

    def limit(kind: str, value: Duration, **labels: str) -> dict[str, Any]:
        return {"record": names.DR_LIMIT, "expr": f"vector({secs(value)})", "labels": {**base, "limit": kind, **labels}}

    rules = [limit("rpo", tier.rpo), limit("rto", tier.rto)]
    if service_plan.velero is not None:
        rules.append(limit("backup_age", service_plan.velero.age_limit, schedule=service_plan.velero.frequent.name))
    for ds in service_plan.datastores:
        rules += [limit(each.kind, each.value, **each.labels) for each in ds.limits(service_plan)]
    return rules


def dr_groups(service_plan: ServicePlan) -> list[Group]:
    groups: list[Group] = [
        {"name": name, "rules": [a.rule for a in alerts]} for name, alerts in dr_alerts(service_plan)
    ]
    if groups:
        groups.append(
            {
                "name": names.group_name(service_plan.name, "dr-limits"),
                "interval": str(LIMITS_INTERVAL),
                "rules": dr_limits(service_plan),
            }
        )
    return groups


def dr_test_groups(service_plan: ServicePlan, expected: Any) -> dict[Duration, list[dict[str, Any]]]:
    """promtool test groups of the DR alerts by the evaluation step their cases need (cases.py)."""
    return case_groups([checked for _, alerts in dr_alerts(service_plan) for checked in alerts], "backups", expected)
