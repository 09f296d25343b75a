"""Failover alerts of a service: a region found unhealthy by its health checks, a probe gone, the DR
copy of its Kubernetes resources too old, and each datastore's DR copy (from its engine), with the
promtool cases that make each fire and stay silent.

A region is unhealthy once every probe over `interval x unhealthy_threshold` failed
(obskit/plan/failover.py): the alert reads `probe_success` over that span and half an interval, and
fires when all of the threshold + 1 probes there failed; or on a range an interval longer, which
holds threshold + 1 probes at every evaluation, so that it keeps firing between two probes. Counting
them keeps a lone failed probe after a gap in the probes (the prober restarted) from firing it. No
`for:`, which would add its own delay and could carry a pending state over a success between two
evaluations.
"""

from __future__ import annotations

from typing import Any

from obskit.alerting.alerts import Case, CheckedAlert, Group, age_cases, alert, secs, when_absent
from obskit.alerting.timing import FOR_STEP, aligned, check_time
from obskit.generate.rules.cases import Expected, case_groups
from obskit.output import escape
from obskit.plan import conventions as names
from obskit.plan.failover import FailoverPlan, ProbePlan
from obskit.plan.types import ServicePlan
from obskit.spec.series import series_text
from obskit.units import Duration

PROBE_LEAD = 4  # successful probes before a case's failures start


def probe_labels(service_plan: ServicePlan, probe: ProbePlan) -> dict[str, str]:
    """The labels of the probe's series under the operator: its static labels (region, service),
    the Probe's namespace, the job it names and the target as instance."""
    return {
        "instance": probe.check.endpoint,
        "job": probe.job,
        "namespace": service_plan.service.namespace,
        "region": probe.region,
        "service": service_plan.name,
    }


def _selector(probe: ProbePlan) -> str:
    return escape.selector(names.PROBE_SUCCESS, [("job", "=", probe.job)])


def _values(*runs: tuple[int, int]) -> str:
    """promtool values: (value, count) runs, e.g. four successes then three failures."""
    return " ".join(f"{value}x{count - 1}" if count > 1 else str(value) for value, count in runs if count)


def _unhealthy(service_plan: ServicePlan, failover: FailoverPlan, probe: ProbePlan) -> CheckedAlert:
    primary = probe.region == failover.environment.primary_region
    check = probe.check
    threshold, interval = check.unhealthy_threshold, check.interval
    name = "FailoverPrimaryUnhealthy" if primary else "FailoverStandbyRegionUnhealthy"
    what = (
        "the region serving it is down for its clients: fail over to "
        f"{failover.environment.dr_region} by the failover runbook"
        if primary
        else f"the region it fails over to is not ready: fix it before {failover.environment.primary_region} needs it"
    )
    first, steady = (f"{_selector(probe)}[{window}]" for window in (probe.window, probe.steady_window))
    rule = alert(
        service_plan,
        name,
        f"(max_over_time({first}) == 0 and count_over_time({first}) > {threshold})"
        f" or (max_over_time({steady}) == 0 and count_over_time({steady}) > {threshold})",
        "page" if primary else "warning",
        (
            f"{service_plan.name}'s health check in {probe.region} has failed for {probe.unhealthy_after}.",
            f"The health check {{{{ $labels.instance }}}} of {service_plan.name} in region {{{{ $labels.region }}}} "
            f"failed every probe for {probe.unhealthy_after} ({threshold + 1} probes, every {interval}): {what}. "
            "One failed probe is no reason to fail over, and does not raise this alert.",
        ),
        None,
    )
    labels = probe_labels(service_plan, probe)
    series = series_text(names.PROBE_SUCCESS, labels)
    step = failover.evaluation_interval
    gap = threshold + 2  # probes missed: longer than the window
    # checked once the threshold + 1-th failed probe is in (at lead + threshold intervals), and once the
    # silent cases are over (the gap case's last failed probe is at gap + threshold intervals)
    at = aligned(Duration(interval.ms * max(PROBE_LEAD + threshold, gap + threshold + 1)), step)
    failures = (at.ms - interval.ms * PROBE_LEAD) // interval.ms + 3  # still failing when checked
    return CheckedAlert(
        rule,
        (
            Case(f"{probe.name} fails", {series: _values((1, PROBE_LEAD), (0, failures), (1, 2))}, True, labels),
            # silent: one probe short of the span, twice; flapping; one short after a gap. Every probe's
            # silent cases of a kind share a group (each feeds only its own series and expects silence)
            Case(
                "health checks fail too short",
                {series: _values((1, PROBE_LEAD), (0, threshold), (1, 1), (0, threshold), (1, 3))},
                False,
            ),
            Case("health checks flap", {series: " ".join(["1", "0"] * (PROBE_LEAD + threshold))}, False),
            Case(
                "health checks fail short after a gap",
                {series: f"1 _x{gap - 1} {_values((0, threshold), (1, threshold + 2))}"},
                False,
            ),
        ),
        at,
        step,
        interval,
    )


def _probe_missing(service_plan: ServicePlan, failover: FailoverPlan, probe: ProbePlan) -> CheckedAlert:
    """The prober is down, the Probe object gone or its module unknown: no probe_success at all, so
    the region's health is unknown."""
    hold = Duration(probe.check.interval.ms * 2)  # over the first scrape and one lost
    rule = alert(
        service_plan,
        "FailoverProbeMissing",
        f"absent({_selector(probe)})",
        "warning",
        (
            f"{service_plan.name}'s health check in {probe.region} reports nothing.",
            f"The health check {probe.check.endpoint} of {service_plan.name} in region {probe.region} has "
            f"reported no probe_success (job {{{{ $labels.job }}}}) for {hold}: the blackbox_exporter at "
            f"{failover.environment.prober.url} is down or unreachable, or the Probe {probe.name} is gone. Until it "
            "reports, a failure of the region raises no alert.",
        ),
        hold,
        {"region": probe.region},
    )
    step = failover.evaluation_interval
    at = check_time(hold, step)

    def reporting(each: ProbePlan) -> tuple[str, str]:
        return series_text(names.PROBE_SUCCESS, probe_labels(service_plan, each)), _values(
            (1, at.ms // probe.check.interval.ms + 2)
        )

    # the other probes report in both cases: each case asserts every FailoverProbeMissing alert
    others = dict(reporting(each) for each in failover.probes if each is not probe)
    return CheckedAlert(
        rule,
        (
            Case(f"{probe.name} reports nothing", others, True, {"job": probe.job}),
            Case(f"{probe.name} reports", {**others, **dict([reporting(probe)])}, False),
        ),
        at,
        step,
        probe.check.interval,
    )


def _dr_copy_too_old(service_plan: ServicePlan, failover: FailoverPlan) -> list[CheckedAlert]:
    """The daily Velero backup to the DR region's storage location."""
    velero = service_plan.velero
    schedule = velero.dr if velero else None
    if velero is None or schedule is None:
        return []
    limit = Duration(schedule.interval.ms + (-(-velero.backup_duration.ms // 60_000) * 60_000) + 60 * 60_000)
    labels = {"schedule": schedule.name}
    rule = alert(
        service_plan,
        "FailoverBackupTooOld",
        f"time() - {escape.selector(names.VELERO_LAST_SUCCESS, [('schedule', '=', schedule.name)])} > {secs(limit)}",
        "warning",
        (
            f"{service_plan.name}'s Kubernetes resources have no recent copy in {failover.environment.dr_region}.",
            f"The last successful Velero backup of {service_plan.name} to the DR region's storage location "
            f"(schedule {{{{ $labels.schedule }}}}, daily) is older than {limit}: a failover would start the service "
            f"in {failover.environment.dr_region} from older objects. Check `velero backup get` for the schedule.",
        ),
        service_plan.tier.platform_alert_for,
    )
    at = check_time(service_plan.tier.platform_alert_for, FOR_STEP)
    too_old = CheckedAlert(
        rule, age_cases(series_text(names.VELERO_LAST_SUCCESS, labels), labels, limit, at), at, FOR_STEP
    )
    selector = series_text(names.VELERO_LAST_SUCCESS, labels)
    return [too_old, when_absent(too_old, selector, labels, limit, "A successful Velero backup to the DR region")]


def failover_alerts(service_plan: ServicePlan) -> list[CheckedAlert]:
    failover = service_plan.failover
    if failover is None:
        return []
    found = []
    for probe in failover.probes:
        found += [_unhealthy(service_plan, failover, probe), _probe_missing(service_plan, failover, probe)]
    found += _dr_copy_too_old(service_plan, failover)
    for _, datastore in failover.datastores:
        found += datastore.alerts(service_plan)
    return found


def failover_groups(service_plan: ServicePlan) -> list[Group]:
    failover = service_plan.failover
    alerts = failover_alerts(service_plan)
    if failover is None or not alerts:
        return []
    return [
        {
            "name": names.group_name(service_plan.name, "failover"),
            "interval": str(failover.evaluation_interval),
            "rules": [checked.rule for checked in alerts],
        }
    ]


def failover_test_groups(service_plan: ServicePlan, expected: Expected) -> dict[Duration, list[dict[str, Any]]]:
    return case_groups(failover_alerts(service_plan), "failover", expected)
