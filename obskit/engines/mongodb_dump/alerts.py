"""MongoDB with mongodump: the DR alerts of one datastore, with the promtool cases that make each
fire and stay silent. Thresholds are the plan's: an alert fires exactly when reality leaves what
the schedule promises.

- MongoDBDumpTooOld (page): the last successful dump is older than its interval + duration +
  upload: the RPO the plan promised no longer holds. Its `cause: absent` twin fires when no dump
  ever reported success (or the Pushgateway lost it) for as long.
- MongoDBDumpFailed (ticket): the last dump failed; TooOld pages if the next ones fail too.
- MongoDBRestoreDrillOverdue, with its absent twin; MongoDBRestoreDrillFailed and
  MongoDBRestoreDrillTooSlow (tickets): their metrics are pushed with the drill's, so an absent
  drill is the Overdue twin's.
- MongoDBOplogWindowTooShort (ticket), when the environment scrapes mongodb_exporter: a dump with
  --oplog fails when the oplog rolls over while it runs, so the window (newest minus oldest entry)
  must exceed the dump's duration with a margin. Its absent twin fires when the exporter does not
  report the window (it does only with --compatible-mode, on a replica set member).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from obskit.alerting.alerts import (
    Case,
    CheckedAlert,
    age_cases,
    alert,
    constant,
    last_attempt_failed,
    secs,
    when_absent,
)
from obskit.alerting.timing import FOR_STEP, check_time
from obskit.engines.mongodb_dump import metrics
from obskit.output import escape
from obskit.plan import conventions as names
from obskit.plan.types import ServicePlan
from obskit.spec.series import series_text
from obskit.units import Duration, human_duration

if TYPE_CHECKING:  # the plan module calls this one
    from obskit.engines.mongodb_dump.plan import MongodumpPlan

GROUP = "mongodump"  # the rule group: obskit/<service>/<datastore>/mongodump
DUMP_TOO_OLD = "MongoDBDumpTooOld"  # the alert that says the data is not being backed up


def _pushed(service_plan: ServicePlan, ds: MongodumpPlan) -> tuple[dict[str, str], str]:
    """The labels of what the jobs push for the datastore (with --engine), and their selector."""
    labels = {"datastore": ds.name, "engine": metrics.ENGINE_LABEL, "service": service_plan.name}
    return labels, escape.label_selector(labels)


def _pushed_age(
    service_plan: ServicePlan,
    ds: MongodumpPlan,
    name: str,
    metric: str,
    limit: Duration,
    severity: str,
    text: tuple[str, str],
) -> CheckedAlert:
    """When what the jobs last pushed as a success is older than `limit`."""
    for_ = service_plan.tier.platform_alert_for
    pushed, match = _pushed(service_plan, ds)
    rule = alert(service_plan, name, f"time() - {metric}{match} > {secs(limit)}", severity, text, for_)
    at = check_time(for_, FOR_STEP)
    return CheckedAlert(rule, age_cases(series_text(metric, pushed), pushed, limit, at), at, FOR_STEP)


def dump_too_old(service_plan: ServicePlan, ds: MongodumpPlan) -> CheckedAlert:
    assert ds.backup_limit is not None and ds.interval is not None
    return _pushed_age(
        service_plan,
        ds,
        DUMP_TOO_OLD,
        names.BACKUP_LAST_SUCCESS,
        ds.backup_limit,
        "page",  # the dump is the only copy: past this, more than the RPO is at risk
        (
            "The last successful mongodump is older than the schedule allows.",
            f"The last successful dump of {{{{ $labels.service }}}}/{{{{ $labels.datastore }}}} is older than "
            f"{ds.backup_limit} (a dump every {ds.interval}, taking {human_duration(ds.dump_duration.seconds)}, "
            f"and its upload): writes since then are at risk, past the RPO of {service_plan.tier.rpo}. "
            "Read the backup Job's log.",
        ),
    )


def dump_failed(service_plan: ServicePlan, ds: MongodumpPlan) -> CheckedAlert:
    pushed, match = _pushed(service_plan, ds)
    text = (
        "The last mongodump failed.",
        "The last dump of {{ $labels.service }}/{{ $labels.datastore }} failed (mongodump, or WAL-G's upload): "
        f"{DUMP_TOO_OLD} pages if no dump succeeds in time. Read the backup Job's log.",
    )
    return last_attempt_failed(
        service_plan, "MongoDBDumpFailed", names.BACKUP_LAST_ATTEMPT_SUCCESS, pushed, match, text
    )


def drill_overdue(service_plan: ServicePlan, ds: MongodumpPlan) -> CheckedAlert:
    return _pushed_age(
        service_plan,
        ds,
        "MongoDBRestoreDrillOverdue",
        names.DRILL_LAST_SUCCESS,
        ds.drill_limit,
        "warning",
        (
            "No successful restore drill within the drill interval.",
            f"{{{{ $labels.service }}}}/{{{{ $labels.datastore }}}} has had no successful restore drill for over "
            f"{ds.drill_limit} (drills run every {service_plan.tier.restore_drill_interval} at the latest).",
        ),
    )


def drill_failed(service_plan: ServicePlan, ds: MongodumpPlan) -> CheckedAlert:
    pushed, match = _pushed(service_plan, ds)
    text = (
        "The last restore drill failed.",
        "The last restore drill of {{ $labels.service }}/{{ $labels.datastore }} failed: the latest dump may not "
        "restore (a truncated archive, a dump without its oplog, documents mongorestore could not insert). "
        "Read the drill Job's log.",
    )
    return last_attempt_failed(
        service_plan, "MongoDBRestoreDrillFailed", names.DRILL_LAST_ATTEMPT_SUCCESS, pushed, match, text
    )


def drill_too_slow(service_plan: ServicePlan, ds: MongodumpPlan) -> CheckedAlert:
    tier = service_plan.tier
    pushed, match = _pushed(service_plan, ds)
    rule = alert(
        service_plan,
        "MongoDBRestoreDrillTooSlow",
        f"{names.DRILL_DURATION}{match} > {secs(tier.rto)}",
        "warning",
        (
            "The last successful restore drill took longer than the RTO.",
            "The last successful restore drill of {{ $labels.service }}/{{ $labels.datastore }} took longer than its "
            f"RTO of {tier.rto} (the plan estimates {human_duration(ds.restore.total.seconds)}).",
        ),
        None,
    )
    at = check_time(Duration(0))
    duration = series_text(names.DRILL_DURATION, pushed)
    return CheckedAlert(
        rule,
        (
            Case("fires", {duration: constant(secs(tier.rto) + 60, at)}, True, pushed),
            Case("silent", {duration: constant(secs(tier.rto) // 2, at)}, False),
        ),
        at,
    )


def oplog_window_too_short(service_plan: ServicePlan, ds: MongodumpPlan, exporter_job: str) -> CheckedAlert:
    for_ = service_plan.tier.platform_alert_for
    exporter = {"job": exporter_job}
    job = escape.label_selector(exporter)
    limit = ds.oplog_window_limit
    rule = alert(
        service_plan,
        "MongoDBOplogWindowTooShort",
        f"{metrics.OPLOG_HEAD}{job} - {metrics.OPLOG_TAIL}{job} < {secs(limit)}",
        "warning",
        (
            "The oplog holds less time than a dump needs.",
            f"The oplog of {service_plan.name}/{ds.name} (exporter job {{{{ $labels.job }}}}) spans less than {limit}: "
            f"a dump takes {human_duration(ds.dump_duration.seconds)}, and mongodump --oplog fails when the oplog "
            "rolls over while it runs. Enlarge the oplog (replSetResizeOplog) or lower the write volume.",
        ),
        for_,
        {"datastore": ds.name},
    )
    at = check_time(for_, FOR_STEP)
    head, tail = series_text(metrics.OPLOG_HEAD, exporter), series_text(metrics.OPLOG_TAIL, exporter)
    start = 1_800_000_000  # any time: the window is a difference
    return CheckedAlert(
        rule,
        (
            Case("fires", {head: constant(start, at), tail: constant(start - secs(limit) + 60, at)}, True, exporter),
            Case("silent", {head: constant(start, at), tail: constant(start - 2 * secs(limit), at)}, False),
        ),
        at,
        FOR_STEP,
    )


def datastore_alerts(
    service_plan: ServicePlan, ds: MongodumpPlan, exporter_job: str | None
) -> tuple[str, list[CheckedAlert]]:
    """(rule group suffix, alerts) of one datastore; the oplog's only with a mongodb_exporter job."""
    assert ds.backup_limit is not None
    pushed, _ = _pushed(service_plan, ds)
    too_old = dump_too_old(service_plan, ds)
    overdue = drill_overdue(service_plan, ds)
    checked = [
        too_old,
        when_absent(
            too_old, series_text(names.BACKUP_LAST_SUCCESS, pushed), pushed, ds.backup_limit, "A successful dump"
        ),
        dump_failed(service_plan, ds),
        overdue,
        when_absent(
            overdue, series_text(names.DRILL_LAST_SUCCESS, pushed), pushed, ds.drill_limit, "A successful restore drill"
        ),
        drill_failed(service_plan, ds),
        drill_too_slow(service_plan, ds),
    ]
    if exporter_job is not None:
        window = oplog_window_too_short(service_plan, ds, exporter_job)
        exporter = {"job": exporter_job}
        checked += [
            window,
            when_absent(
                window,
                series_text(metrics.OPLOG_HEAD, exporter),
                exporter,
                service_plan.tier.platform_alert_for,
                "The oplog's newest entry (mongodb_exporter, --compatible-mode)",
            ),
        ]
    return GROUP, checked
