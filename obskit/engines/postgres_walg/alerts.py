"""PostgreSQL with WAL-G: the DR alerts of one datastore, with the promtool cases that make each
fire and stay silent. Thresholds are the plan's: an alert fires exactly when reality leaves
what the schedules promise."""

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
from obskit.alerting.timing import FOR_STEP, INPUT_STEP, LONG_HORIZON, check_time, input_steps, long_step
from obskit.engines.postgres_walg import metrics
from obskit.output import escape
from obskit.plan import conventions as names
from obskit.plan.types import ServicePlan
from obskit.spec.series import series_text
from obskit.units import Duration, human_duration, parse_duration

if TYPE_CHECKING:  # the plan module calls this one
    from obskit.engines.postgres_walg.plan import WalgPlan

GROUP = "wal-g"  # the rule group: obskit/<service>/<datastore>/wal-g
ARCHIVE_FAILURE_WINDOW = "5m"
FAILURE_WINDOW = "1h"
ARCHIVE_TOO_OLD = "WALArchiveTooOld"  # the alert that says the data is not being archived


def _pushed(service_plan: ServicePlan, ds: WalgPlan) -> tuple[dict[str, str], str]:
    """The labels of what obskit's jobs push for the datastore, and their selector."""
    return {
        "datastore": ds.name,
        "service": service_plan.name,
    }, escape.label_selector({"datastore": ds.name, "service": service_plan.name})


def write_window(service_plan: ServicePlan) -> Duration:
    """How far back past the RPO WALArchiveTooOld looks for written rows: two scrapes at least, and
    two input steps of the generated cases, so that an increase has two samples to compare."""
    return Duration(2 * max(service_plan.scrape_interval.ms, INPUT_STEP.ms))


def archive_too_old(service_plan: ServicePlan, ds: WalgPlan) -> CheckedAlert:
    # An idle database archives nothing and its archive ages without anything being lost, so the
    # age counts only with rows written at least the RPO ago: archive_timeout ships a write within
    # the RPO. Rows written since may still wait, and rightly: after an idle spell the checkpointer
    # checks archive_timeout only every archive_timeout, so the first write waits up to that long
    # for its segment switch while the archive's age is far past the RPO (CheckArchiveTimeout in
    # PostgreSQL's checkpointer.c). Rows written between RPO and RPO + window ago are all newer
    # than an archive older than RPO + window: unarchived, past the RPO, a loss in waiting.
    tier, for_ = service_plan.tier, service_plan.tier.platform_alert_for
    rpo, window = tier.rpo, write_window(service_plan)
    exporter = {"job": ds.fields.exporter_job}
    job_match = escape.matchers([("job", "=", exporter["job"])])
    rule = alert(
        service_plan,
        ARCHIVE_TOO_OLD,
        f"{metrics.ARCHIVE_AGE}{{{job_match}}} > {secs(rpo + window)}\nand on() (\n"
        f"{_writes(job_match, window, offset=rpo)}\n) > 0",
        "page",
        (
            "Written data is not reaching the WAL archive within the RPO.",
            f"{service_plan.name}/{ds.name} (exporter job {{{{ $labels.job }}}}) wrote rows {rpo} to "
            f"{rpo + window} ago that are not in the WAL archive: its last archived segment is older than "
            f"{rpo + window}, past the RPO of {rpo} (archive_timeout is {secs(ds.archive_timeout)}s, so a "
            "working archiver ships a write within the RPO); check the archiver and wal-g.",
        ),
        for_,
        {"datastore": ds.name},
    )
    eval_time, step = _too_old_check(service_plan)
    steps = input_steps(eval_time)
    age = series_text(metrics.ARCHIVE_AGE, exporter)
    inserted = series_text(metrics.TUPLE_WRITES[0], {**exporter, "datname": "app"})
    # updated rows too, in the same database: the sums must not collide over equal label sets
    updated = series_text(metrics.TUPLE_WRITES[1], {**exporter, "datname": "app"})
    old_age = _old_age(service_plan)
    writing = f"0+10x{steps}"
    # idle until less than the RPO before the check, then writing: the segment switch may still be due
    quiet = input_steps(eval_time - rpo) + 1
    resumed = f"100x{quiet} 100+10x{steps - quiet}"
    return CheckedAlert(
        rule,
        (
            Case("fires", {age: old_age, inserted: writing, updated: constant(7, eval_time)}, True, exporter),
            # idle, then writing again less than the RPO before the check: silent at every step
            Case("silent when idle and when writes resume", {age: old_age, inserted: resumed}, False),
            Case("silent while archiving", {age: constant(5, eval_time), inserted: writing}, False),
        ),
        eval_time,
        step,
    )


def _too_old_check(service_plan: ServicePlan) -> tuple[Duration, Duration]:
    """When WALArchiveTooOld's cases are checked, and at what step: its condition holds once rows
    written from time 0 are the RPO old, a day and more for a low tier (then checked hourly or
    coarser, as the other long cases are)."""
    tier = service_plan.tier
    holds = tier.rpo + write_window(service_plan) + tier.platform_alert_for
    step = long_step(holds) if check_time(holds, FOR_STEP) > LONG_HORIZON else FOR_STEP
    return check_time(holds, step), step


def _old_age(service_plan: ServicePlan) -> str:
    """An archive age past the RPO from the start, growing: no segment archived for a while. One
    series for the WAL alerts' cases of a name, which share their inputs: as long as the latest."""
    return f"{secs(service_plan.tier.rpo) + 60}+60x{input_steps(_too_old_check(service_plan)[0])}"


def _failure_cases(service_plan: ServicePlan, ds: WalgPlan, at: Duration) -> dict[str, dict[str, str]]:
    """The archiver's inputs per case, shared by the page and the ticket (one metric, one feed)."""
    exporter = {"job": ds.fields.exporter_job}
    steps = input_steps(at)
    failed, age = series_text(metrics.ARCHIVE_FAILURES, exporter), series_text(metrics.ARCHIVE_AGE, exporter)
    # one failure, retried at once: the next segment archives, the age stays small. It happens
    # within WALArchiveErrors' window before `at` (a `for:` of an hour or more checks later than that)
    failed_at = max(1, steps - input_steps(parse_duration(FAILURE_WINDOW)) // 2)
    before = "0" if failed_at == 1 else f"0x{failed_at - 1}"
    return {
        "fires": {failed: f"0+1x{steps}", age: _old_age(service_plan)},
        "silent": {failed: constant(3, at), age: constant(5, at)},
        "transient failure": {failed: f"{before} 1x{steps - failed_at}", age: constant(5, at)},
    }


def archive_stuck(service_plan: ServicePlan, ds: WalgPlan) -> CheckedAlert:
    """Failures growing while the last archived segment is older than archive_timeout (a segment
    should have gone out by then): the archiver is stuck and the RPO is at risk. After a failure
    PostgreSQL retried successfully the age is small again: no page."""
    for_ = service_plan.tier.platform_alert_for
    exporter = {"job": ds.fields.exporter_job}
    job = escape.label_selector(exporter)
    window = ARCHIVE_FAILURE_WINDOW
    rule = alert(
        service_plan,
        "WALArchiveFailing",
        f"increase({metrics.ARCHIVE_FAILURES}{job}[{window}]) > 0\n"
        f"and\n{metrics.ARCHIVE_AGE}{job} > {secs(ds.archive_timeout)}",
        "page",
        (
            "WAL archiving is failing and segments are not getting out.",
            f"archive_command of {service_plan.name}/{ds.name} (exporter job {{{{ $labels.job }}}}) has failed "
            f"within the last {window} and nothing was archived for longer than archive_timeout "
            f"({secs(ds.archive_timeout)}s), for {for_}: PostgreSQL keeps the WAL and retries, but the RPO is at "
            "risk and pg_wal grows.",
        ),
        for_,
        {"datastore": ds.name},
    )
    at = check_time(for_, FOR_STEP)
    cases = _failure_cases(service_plan, ds, at)
    return CheckedAlert(
        rule,
        (
            Case("fires", cases["fires"], True, exporter),
            Case("silent", cases["silent"], False),
            Case("transient failure", cases["transient failure"], False),
        ),
        at,
        FOR_STEP,
    )


def archive_failed(service_plan: ServicePlan, ds: WalgPlan) -> CheckedAlert:
    """Any failure within the hour, even one PostgreSQL retried successfully: a ticket."""
    exporter = {"job": ds.fields.exporter_job}
    rule = alert(
        service_plan,
        "WALArchiveErrors",
        f"increase({escape.selector(metrics.ARCHIVE_FAILURES, [('job', '=', exporter['job'])])}[{FAILURE_WINDOW}]) > 0",
        "warning",
        (
            "WAL archiving failed at least once.",
            f"archive_command of {service_plan.name}/{ds.name} (exporter job {{{{ $labels.job }}}}) failed within "
            f"the last {FAILURE_WINDOW}; PostgreSQL retries, and a stuck archiver pages on its own. Check the "
            "PostgreSQL log for the archive_command's error.",
        ),
        None,
        {"datastore": ds.name},
    )
    at = check_time(service_plan.tier.platform_alert_for, FOR_STEP)  # the stuck alert's cases, fed the same
    cases = _failure_cases(service_plan, ds, at)
    return CheckedAlert(
        rule,
        (
            Case("transient failure", cases["transient failure"], True, exporter),
            Case("silent", cases["silent"], False),
        ),
        at,
        FOR_STEP,
    )


def _pushed_age(
    service_plan: ServicePlan, ds: WalgPlan, name: str, metric: str, limit: Duration, text: tuple[str, str]
) -> CheckedAlert:
    """A ticket when what obskit's jobs last pushed for the datastore is older than `limit`."""
    for_ = service_plan.tier.platform_alert_for
    pushed, match = _pushed(service_plan, ds)
    rule = alert(service_plan, name, f"time() - {metric}{match} > {secs(limit)}", "warning", text, for_)
    at = check_time(for_, FOR_STEP)
    return CheckedAlert(rule, age_cases(series_text(metric, pushed), pushed, limit, at), at, FOR_STEP)


def base_backup_too_old(service_plan: ServicePlan, ds: WalgPlan) -> CheckedAlert:
    # a ticket: the restore would take longer; no data is at risk while WAL is archived
    assert ds.base_backup_limit is not None
    return _pushed_age(
        service_plan,
        ds,
        "BaseBackupTooOld",
        names.BACKUP_LAST_SUCCESS,
        ds.base_backup_limit,
        (
            "The last base backup is older than the RTO allows.",
            f"The last successful base backup of {{{{ $labels.service }}}}/{{{{ $labels.datastore }}}} is older "
            f"than {ds.base_backup_limit}: base backups every {ds.base_interval} keep the WAL to replay, and so "
            f"the restore, within the RTO of {service_plan.tier.rto}.",
        ),
    )


def drill_overdue(service_plan: ServicePlan, ds: WalgPlan) -> CheckedAlert:
    return _pushed_age(
        service_plan,
        ds,
        "RestoreDrillOverdue",
        names.DRILL_LAST_SUCCESS,
        ds.drill_limit,
        (
            "No successful restore drill within the drill interval.",
            f"{{{{ $labels.service }}}}/{{{{ $labels.datastore }}}} has had no successful restore drill for over "
            f"{ds.drill_limit} (drills run every {service_plan.tier.restore_drill_interval} at the latest; the "
            "disaster-recovery runbook gives their schedule).",
        ),
    )


def drill_too_slow(service_plan: ServicePlan, ds: WalgPlan) -> CheckedAlert:
    tier = service_plan.tier
    pushed, match = _pushed(service_plan, ds)
    rule = alert(
        service_plan,
        "RestoreDrillTooSlow",
        f"{names.DRILL_DURATION}{match} > {secs(tier.rto)}",
        "warning",  # a drill result: a ticket, never a page on a Sunday evening
        (
            "The last successful restore drill took longer than the RTO.",
            f"The last successful restore drill of {{{{ $labels.service }}}}/{{{{ $labels.datastore }}}} took "
            "longer than its "
            f"RTO of {tier.rto} (the plan estimates "
            f"{human_duration(ds.restore.total.seconds) if ds.restore else 'n/a'}).",
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


def drill_failed(service_plan: ServicePlan, ds: WalgPlan) -> CheckedAlert:
    """The last drill failed: the backups may not restore (a gap in the WAL archive, a backup that
    does not start). A ticket; RestoreDrillOverdue follows if no drill succeeds in time."""
    pushed, match = _pushed(service_plan, ds)
    text = (
        "The last restore drill failed.",
        "The last restore drill of {{ $labels.service }}/{{ $labels.datastore }} failed: the backups may not "
        "restore to the end of the WAL archive. Read the drill Job's log.",
    )
    return last_attempt_failed(
        service_plan, "RestoreDrillFailed", names.DRILL_LAST_ATTEMPT_SUCCESS, pushed, match, text
    )


def _writes(job_match: str, window: Duration, offset: Duration | None = None) -> str:
    shift = f" offset {offset}" if offset is not None else ""
    return "\n+ ".join(
        f"(sum(increase({name}{{{job_match}}}[{window}]{shift})) or vector(0))" for name in metrics.TUPLE_WRITES
    )


def archive_never_reported(service_plan: ServicePlan, ds: WalgPlan, too_old: CheckedAlert) -> CheckedAlert:
    """postgres_exporter reports the archive age only once something was archived: a database
    that writes and has never archived (archiving not set up) has no age at all."""
    rpo = service_plan.tier.rpo
    exporter = {"job": ds.fields.exporter_job}
    job_match = escape.matchers([("job", "=", exporter["job"])])
    writing = series_text(metrics.TUPLE_WRITES[0], {**exporter, "datname": "app"})
    at = check_time(rpo)
    return when_absent(
        too_old,
        series_text(metrics.ARCHIVE_AGE, exporter),
        exporter,
        rpo,
        "An archived WAL segment",
        # within the RPO, and at least two scrapes back (an RPO of seconds holds no two samples)
        condition=f"\nand on () (\n{_writes(job_match, max(rpo, write_window(service_plan)))}\n) > 0",
        series={writing: f"0+10x{input_steps(at)}"},
    )


def _pushed_absent(
    service_plan: ServicePlan, ds: WalgPlan, checked: CheckedAlert, metric: str, limit: Duration, what: str
) -> CheckedAlert:
    pushed, _ = _pushed(service_plan, ds)
    return when_absent(checked, series_text(metric, pushed), pushed, limit, what)


def datastore_alerts(service_plan: ServicePlan, ds: WalgPlan) -> tuple[str, list[CheckedAlert]]:
    """(rule group suffix, alerts) of one datastore, each input also watched for being absent."""
    assert ds.base_backup_limit is not None
    too_old = archive_too_old(service_plan, ds)
    base = base_backup_too_old(service_plan, ds)
    overdue = drill_overdue(service_plan, ds)
    return GROUP, [
        too_old,
        archive_never_reported(service_plan, ds, too_old),
        archive_stuck(service_plan, ds),
        archive_failed(service_plan, ds),
        base,
        _pushed_absent(
            service_plan, ds, base, names.BACKUP_LAST_SUCCESS, ds.base_backup_limit, "A successful base backup"
        ),
        overdue,
        _pushed_absent(
            service_plan, ds, overdue, names.DRILL_LAST_SUCCESS, ds.drill_limit, "A successful restore drill"
        ),
        drill_too_slow(service_plan, ds),
        drill_failed(service_plan, ds),
    ]
