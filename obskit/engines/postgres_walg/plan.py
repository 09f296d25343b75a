"""PostgreSQL with WAL-G, planned: archive_timeout from the RPO, the base-backup interval from
the RTO, retention and drills, and every limit the alerts and dashboards use.

`archive_timeout` forces a WAL segment out at least that often while the database writes,
so the worst-case loss is archive_timeout plus the upload of one segment. The worst-case
restore is: start-up + base backup size / restore throughput + the WAL written since that
base backup (one base-backup interval plus the backup's own duration) / replay throughput.
The base-backup interval is the longest candidate whose restore fits the RTO.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

from obskit.alerting.alerts import CheckedAlert
from obskit.engines import walg_storage
from obskit.engines.postgres_walg import alerts, defaults, failover, metrics, objects, runbook, spec
from obskit.engines.postgres_walg.spec import KIND
from obskit.plan import conventions as names
from obskit.plan.dr import (
    CRON_STEPS,
    DAY,
    MINUTE,
    DRFindings,
    DrillSchedule,
    Infeasible,
    cron_every,
    drill_schedule,
    floor_to_seconds,
    seconds_duration,
)
from obskit.plan.engine import DatastoreFailover, Limit
from obskit.plan.types import Plan, ServicePlan
from obskit.spec.failover import EnvironmentFailover
from obskit.spec.fragment import DatastoreKind
from obskit.spec.model import Datastore, Service, Tier
from obskit.spec.promql import Selector
from obskit.units import Duration, format_size, format_throughput

BASE_BACKUP_STEPS = CRON_STEPS  # minutes only for small databases that write a lot under a tight RTO
# Why every base backup is a full one. WAL-G's delta backups (WALG_DELTA_MAX_STEPS) read the pages'
# LSNs in the data directory; `wal-g backup-push` without one, as the base-backup job runs it (over
# the replication protocol, from its own pod), takes full backups only (backup_push_handler.go:
# "Features like delta backup and partial restore are disabled"), whatever the setting says.
STORAGE_REMARK = (
    "PostgreSQL: every base backup is a full one; WAL-G takes delta backups only from the data directory, "
    "and the base-backup job streams its backup from its own pod over the replication protocol"
)
MANY_FULL_BACKUPS = 100  # a plan that retains more says so in a note, with what would retain fewer


@dataclass(frozen=True)
class RestoreEstimate:
    startup: Duration
    base_restore: Duration
    wal_replay: Duration

    @property
    def total(self) -> Duration:
        return self.startup + self.base_restore + self.wal_replay


@dataclass(frozen=True)
class RestoreInputs:
    restore_throughput: Fraction  # bytes per second
    replay_throughput: Fraction  # bytes per second
    wal_rate: Fraction  # bytes per second
    assumed: tuple[str, ...]  # the inputs that fell back to defaults


@dataclass(frozen=True)
class WalgPlan:
    datastore: Datastore
    restore_throughput: Fraction
    replay_throughput: Fraction
    wal_rate: Fraction
    assumed: tuple[str, ...]  # the inputs that fell back to defaults
    archive_timeout: Duration
    base_backup_duration: Duration
    base_interval: Duration | None  # None: no interval meets the RTO
    base_cron: str | None
    retain_full: int | None
    retention_cron: str
    drill: DrillSchedule
    restore: RestoreEstimate | None  # at base_interval
    base_backup_limit: Duration | None  # how old the last base backup may be: interval + its own duration
    drill_limit: Duration  # how long without a successful drill: the longest gap + one RTO for the drill
    pg_major: int  # the PostgreSQL major the drill's image carries: the datastore's `version`
    storage: walg_storage.StorageEstimate | None  # None: no base-backup interval meets the RTO

    @property
    def name(self) -> str:
        return self.datastore.name

    @property
    def fields(self) -> spec.PostgresFields:
        return spec.fields(self.datastore)

    @property
    def series_job(self) -> str:
        return self.fields.exporter_job

    @property
    def major_text(self) -> str:
        return f"PostgreSQL {self.pg_major}" + (" (assumed)" if self.fields.version is None else "")

    @property
    def worst_case_loss(self) -> Duration:
        return self.archive_timeout + defaults.WAL_UPLOAD_ALLOWANCE

    # The engine interface (obskit/plan/engine.py's DatastorePlan)

    @property
    def folder(self) -> str:
        return "walg"

    @property
    def backed_up_by(self) -> str:
        return "WAL-G"

    @property
    def schedules(self) -> list[str]:
        return [self.base_cron or "", self.retention_cron, self.drill.cron]

    def limits(self, service_plan: ServicePlan) -> list[Limit]:
        job = self.fields.exporter_job
        limits = [Limit("archive_age", service_plan.tier.rpo, {"datastore": self.name, "exporter_job": job})]
        if self.base_backup_limit is not None:
            limits.append(Limit("base_backup_age", self.base_backup_limit, {"datastore": self.name}))
        limits.append(Limit("drill_age", self.drill_limit, {"datastore": self.name}))
        if self.restore is not None:
            limits.append(Limit("restore_estimate", self.restore.total, {"datastore": self.name}))
        return limits

    def alerts(self, service_plan: ServicePlan) -> tuple[str, list[CheckedAlert]]:
        return alerts.datastore_alerts(service_plan, self)

    def objects(self, plan: Plan, service_plan: ServicePlan) -> list[dict[str, Any]]:
        return objects.objects(plan, service_plan, self)

    def database_patch(self, plan: Plan, service_plan: ServicePlan) -> dict[str, Any] | None:
        return objects.database_patch(plan, service_plan, self)

    def runbook(self, plan: Plan, service_plan: ServicePlan) -> str:
        return runbook.section(plan, service_plan, self)

    def fresh_backup(self, service_plan: ServicePlan) -> str:
        return runbook.fresh_backup(service_plan, self)

    def inputs(self, service_plan: ServicePlan) -> list[tuple[Selector, str]]:
        job = self.fields.exporter_job
        pushed = (("service", "=", service_plan.name), ("datastore", "=", self.name))
        return [
            (Selector(metrics.ARCHIVED, (("job", "=", job),)), f"postgres_exporter (job {job})"),
            *(
                (Selector(metric, pushed), f"the {job_name} job via the Pushgateway")
                for metric, job_name in (
                    (names.BACKUP_LAST_SUCCESS, "base-backup"),
                    (names.DRILL_LAST_SUCCESS, "restore-drill"),
                )
            ),
        ]

    @property
    def runbook_steps(self) -> dict[str, tuple[str, ...]]:
        return runbook.FIRST_STEPS

    def failover(
        self, service: Service, tier: Tier, environment: EnvironmentFailover, findings: DRFindings
    ) -> DatastoreFailover | None:
        return failover.failover_plan(service, tier, self, environment, findings)

    def summary(self) -> tuple[str, str]:
        achieves = f"{floor_to_seconds(self.worst_case_loss)} (archive_timeout {self.archive_timeout})"
        return achieves, f"retain FULL {self.retain_full}" if self.retain_full else "-"

    def report(self) -> dict[str, Any]:
        restore = self.restore
        return {
            "worst_case_loss_seconds": _s(self.worst_case_loss),
            "archive_timeout_seconds": _s(self.archive_timeout),
            "restore_estimate_seconds": _s(restore.total) if restore else None,
            "restore_breakdown_seconds": {
                "startup": _s(restore.startup),
                "base_backup": _s(restore.base_restore),
                "wal_replay": _s(restore.wal_replay),
            }
            if restore
            else None,
            "schedule": self.base_cron,
            "base_backup_interval_seconds": _s(self.base_interval),
            "base_backup_duration_seconds": _s(self.base_backup_duration),
            "retain_full": self.retain_full,
            "drill_schedule": self.drill.cron,
            "postgres_major": self.pg_major,
            "postgres_major_assumed": self.fields.version is None,
            "delta_backups": 0,  # WAL-G takes deltas only from a data directory: see STORAGE_REMARK
            "storage": self.storage.report() if self.storage else None,
            "storage_text": f"{self.major_text}; {self.storage.text('full backup')}" if self.storage else None,
            "storage_remarks": [walg_storage.UNCOMPRESSED, STORAGE_REMARK] if self.storage else [],
            "assumed": list(self.assumed),
        }


@dataclass(frozen=True)
class PostgresWalG:
    """The engine: PostgreSQL backed up with WAL-G."""

    key: tuple[str, str] = (defaults.ENGINE, defaults.METHOD)
    spec: DatastoreKind = KIND

    @property
    def restore_note(self) -> str:
        return (
            "Restore a database backed up with WAL-G with WAL-G (below): a file-system copy\n"
            "of a running PostgreSQL is not consistent."
        )

    @property
    def freshness_alert(self) -> str:
        return alerts.ARCHIVE_TOO_OLD

    @property
    def streams_changes(self) -> bool:
        return True

    @property
    def velero_note(self) -> str:
        return "WAL-G backs them up, and Velero's copy of a live PostgreSQL data directory is not consistent"

    @property
    def dashboard_rows(self) -> str:
        return str(resources.files(__package__).joinpath("dashboard.libsonnet"))

    @property
    def dashboard_series(self) -> dict[str, str]:
        return metrics.DASHBOARD_SERIES

    def plan(self, service: Service, tier: Tier, datastore: Datastore, findings: DRFindings) -> WalgPlan:
        return datastore_plan(service, tier, datastore, findings)


ENGINE = PostgresWalG()


def _s(duration: Duration | None) -> int | None:
    return None if duration is None else duration.ms // 1000


def restore_estimate(
    size: int, inputs: RestoreInputs, base_interval: Duration, base_backup_duration: Duration
) -> RestoreEstimate:
    wal_bytes = inputs.wal_rate * (base_interval + base_backup_duration).seconds
    return RestoreEstimate(
        defaults.RESTORE_STARTUP,
        seconds_duration(size / inputs.restore_throughput),
        seconds_duration(wal_bytes / inputs.replay_throughput),
    )


def _human(duration: Duration) -> str:
    hours = duration.seconds / 3600
    if hours >= 1:
        return f"~{float(hours):.1f}h"
    return f"~{float(duration.seconds / 60):.0f}m" if duration >= MINUTE else f"~{float(duration.seconds):.0f}s"


def restore_inputs(datastore: Datastore) -> RestoreInputs:
    """The spec's measured throughputs, or the documented defaults (named in `assumed`)."""
    assumed = []
    restore_tp = datastore.restore_throughput
    if restore_tp is None:
        restore_tp = defaults.RESTORE_THROUGHPUT
        assumed.append(f"restore_throughput {format_throughput(restore_tp)}")
    own = spec.fields(datastore)
    replay_tp = own.replay_throughput
    if replay_tp is None:
        replay_tp = defaults.REPLAY_THROUGHPUT
        assumed.append(f"replay_throughput {format_throughput(replay_tp)}")
    wal_rate = own.wal_rate
    if wal_rate is None:
        per_hour_mib = math.ceil(datastore.size_bytes * defaults.WAL_RATE_SHARE_PER_HOUR / 2**20)
        wal_rate = max(defaults.MIN_WAL_RATE, Fraction(per_hour_mib * 2**20, 3600))
        assumed.append(f"wal_rate {format_throughput(wal_rate)}")
    return RestoreInputs(restore_tp, replay_tp, wal_rate, tuple(assumed))


def _archive_timeout(service: Service, tier: Tier, datastore: Datastore, findings: DRFindings) -> Duration:
    archive_timeout = tier.rpo - defaults.WAL_UPLOAD_ALLOWANCE
    if archive_timeout >= defaults.MIN_ARCHIVE_TIMEOUT:
        return floor_to_seconds(archive_timeout)
    findings.infeasible.append(
        Infeasible(
            service.name,
            datastore.name,
            f"an RPO of {tier.rpo} is below what WAL archiving can promise "
            f"(archive_timeout of at least {defaults.MIN_ARCHIVE_TIMEOUT} plus {defaults.WAL_UPLOAD_ALLOWANCE} "
            "to upload a segment): a synchronous replica is needed for this RPO",
        )
    )
    return defaults.MIN_ARCHIVE_TIMEOUT


def _no_base_interval(
    service: Service, tier: Tier, datastore: Datastore, inputs: RestoreInputs, backup_duration: Duration
) -> Infeasible:
    """Why no base-backup interval meets the RTO, and what would help."""
    base_only = defaults.RESTORE_STARTUP + seconds_duration(datastore.size_bytes / inputs.restore_throughput)
    if base_only > tier.rto:
        return Infeasible(
            service.name,
            datastore.name,
            f"restoring {format_size(datastore.size_bytes)} at {format_throughput(inputs.restore_throughput)} takes "
            f"{_human(base_only - defaults.RESTORE_STARTUP)} (plus {defaults.RESTORE_STARTUP} start-up) "
            f"against an RTO of {tier.rto}: a replica or a faster restore path is needed",
        )
    first = restore_estimate(datastore.size_bytes, inputs, BASE_BACKUP_STEPS[0], backup_duration)
    return Infeasible(
        service.name,
        datastore.name,
        f"even with base backups every minute a restore takes {_human(first.total)} "
        f"({_human(first.base_restore)} base backup, {_human(first.wal_replay)} replaying WAL at "
        f"{format_throughput(inputs.wal_rate)} written) against an RTO of {tier.rto}: "
        "a faster restore or replay path, or a replica, is needed",
    )


def _base_interval(
    tier: Tier, datastore: Datastore, inputs: RestoreInputs, backup_duration: Duration
) -> tuple[Duration, RestoreEstimate] | None:
    """The longest base-backup interval whose restore fits the RTO and that a base backup fits in."""
    return _longest_base_interval(tier.rto, datastore.size_bytes, inputs, backup_duration)


@cache  # a fleet's datastores repeat a few sizes and tiers
def _longest_base_interval(
    rto: Duration, size: int, inputs: RestoreInputs, backup_duration: Duration
) -> tuple[Duration, RestoreEstimate] | None:
    chosen = None
    for step in BASE_BACKUP_STEPS:
        estimate = restore_estimate(size, inputs, step, backup_duration)
        if estimate.total <= rto and backup_duration < step:
            chosen = (step, estimate)
    return chosen


def datastore_plan(service: Service, tier: Tier, datastore: Datastore, findings: DRFindings) -> WalgPlan:
    where = f"{service.name}/{datastore.name}"  # for notes and schedule offsets
    inputs = restore_inputs(datastore)
    if inputs.assumed:
        findings.notes.append(f"{where}: assumed {', '.join(inputs.assumed)}; set them from measurements")
    archive_timeout = _archive_timeout(service, tier, datastore, findings)
    backup_duration = seconds_duration(datastore.size_bytes / inputs.restore_throughput)
    chosen = _base_interval(tier, datastore, inputs, backup_duration)
    if chosen is None:
        findings.infeasible.append(_no_base_interval(service, tier, datastore, inputs, backup_duration))
    base_interval, estimate = chosen if chosen else (None, None)
    retain = math.ceil(Fraction(tier.retention.ms, base_interval.ms)) + 1 if base_interval else None
    drill = drill_schedule(tier.restore_drill_interval, where + "/drill")
    major = _major(spec.fields(datastore), findings)
    storage = (
        walg_storage.StorageEstimate(
            kept=retain,
            size=datastore.size_bytes,
            interval=base_interval,
            per_day=Fraction(DAY.ms, base_interval.ms),
            log_rate=inputs.wal_rate,
        )
        if retain and base_interval
        else None
    )
    if storage is not None and storage.kept > MANY_FULL_BACKUPS:
        findings.notes.append(_many_backups(where, tier, storage, inputs))
    return WalgPlan(
        datastore=datastore,
        restore_throughput=inputs.restore_throughput,
        replay_throughput=inputs.replay_throughput,
        wal_rate=inputs.wal_rate,
        assumed=inputs.assumed,
        archive_timeout=archive_timeout,
        base_backup_duration=backup_duration,
        base_interval=base_interval,
        base_cron=cron_every(base_interval, where) if base_interval else None,
        retain_full=retain,
        retention_cron=cron_every(DAY, where + "/retention"),
        drill=drill,
        restore=estimate,
        # whole minutes, as people read an age limit: an estimate's milliseconds mean nothing there
        base_backup_limit=Duration(-(-(base_interval + backup_duration).ms // 60_000) * 60_000)
        if base_interval
        else None,
        drill_limit=drill.max_gap + tier.rto,
        pg_major=major,
        storage=storage,
    )


def _major(own: spec.PostgresFields, findings: DRFindings) -> int:
    """The datastore's PostgreSQL major. What the drills assume, or need of the image, is said once
    per environment (a fleet's datastores share it); `obskit plan` shows each datastore's major."""
    if own.version is None:
        note = (
            f"the restore drills of PostgreSQL datastores without `version` assume PostgreSQL {defaults.PG_MAJOR} "
            "(the image's default build); set each one's `version` to its major"
        )
    elif own.version != defaults.PG_MAJOR:
        note = (
            f"the restore drills of PostgreSQL {own.version} datastores need PostgreSQL {own.version} in their image: "
            f"walg.image must carry {defaults.IMAGE_MAJOR} in its tag (obskit puts {own.version} there) or be "
            f"built with --build-arg PG_MAJOR={own.version}"
        )
    else:
        return own.version
    if note not in findings.notes:
        findings.notes.append(note)
    return defaults.PG_MAJOR if own.version is None else own.version


def _many_backups(where: str, tier: Tier, storage: walg_storage.StorageEstimate, inputs: RestoreInputs) -> str:
    """Why the plan retains so many full backups, and what would retain fewer."""
    assumed = [text for text in inputs.assumed if not text.startswith("wal_rate")]
    measured = f"a measured {' and '.join(assumed)} (assumed now), " if assumed else ""
    return (
        f"{where}: retains {storage.kept} full backups ({walg_storage.human_size(storage.stored_bytes)} with "
        f"their WAL, uncompressed): its RTO of {tier.rto} needs a base backup every {storage.interval}, and its "
        f"tier keeps {tier.retention}. Fewer need a longer interval: {measured}a faster restore or replay, "
        "or a tier that keeps less"
    )
