"""Disaster-recovery arithmetic: from RTO and RPO to schedules, and back to what they achieve.

Everything here is pure and exact (durations in milliseconds, rates as Fractions). The
numbers are derived once per service in the plan; the Velero and WAL-G objects, the DR
alerts, `obskit plan` and the dashboards all read them from there.

Velero: backups never overlap and never catch up, so the worst-case loss is the interval
plus a backup's duration; the interval is the longest cron step that keeps both within
the RPO.

WAL-G: `archive_timeout` forces a WAL segment out at least that often while the database
writes, so the worst-case loss is archive_timeout plus the upload of one segment. The
worst-case restore is: start-up + base backup size / restore throughput + the WAL written
since that base backup (one base-backup interval plus the backup's own duration) / replay
throughput. The base-backup interval is the longest candidate whose restore fits the RTO.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from fractions import Fraction

from obskit.model import Datastore, Service, Tier
from obskit.units import Duration, format_size, format_throughput, parse_duration, parse_throughput

MINUTE = parse_duration("1m")
HOUR = parse_duration("1h")
DAY = parse_duration("1d")

# Documented, conservative defaults for what a spec leaves out.
DEFAULT_VELERO_BACKUP_DURATION = parse_duration("1m")
DEFAULT_RESTORE_THROUGHPUT = parse_throughput("50MiB/s")
DEFAULT_REPLAY_THROUGHPUT = parse_throughput("16MiB/s")
MIN_DEFAULT_WAL_RATE = parse_throughput("256MiB/h")
DEFAULT_WAL_RATE_SHARE_PER_HOUR = Fraction(2, 100)  # of the data size, when wal_rate is not given
RESTORE_STARTUP = parse_duration("2m")  # pod scheduling, fetch start-up, postgres start and checks
WAL_UPLOAD_ALLOWANCE = parse_duration("30s")  # compress and upload one 16MiB segment, with a retry
MIN_ARCHIVE_TIMEOUT = parse_duration("10s")

# Cron-expressible steps: minutes that divide an hour, hours that divide a day, a day.
MINUTE_STEPS = tuple(parse_duration(f"{m}m") for m in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30))
HOUR_STEPS = tuple(parse_duration(f"{h}h") for h in (1, 2, 3, 4, 6, 8, 12))
CRON_STEPS = (*MINUTE_STEPS, *HOUR_STEPS, DAY)
BASE_BACKUP_STEPS = CRON_STEPS  # minutes only for small databases that write a lot under a tight RTO


def spread(name: str, modulus: int) -> int:
    """A stable offset in [0, modulus) from a name, so a hundred schedules do not all start at :00."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulus


def cron_every(step: Duration, name: str) -> str:
    """A 5-field cron expression (Velero and Kubernetes reject 6) running every `step`."""
    if step < HOUR:
        minutes = step.ms // MINUTE.ms
        offset = spread(name, minutes)
        return f"{offset}-59/{minutes} * * * *" if minutes > 1 else "* * * * *"
    minute = spread(name, 60)
    if step < DAY:
        hours = step.ms // HOUR.ms
        return f"{minute} {spread(name + '/h', hours)}-23/{hours} * * *"
    return f"{minute} {spread(name + '/h', 24)} * * *"


@dataclass(frozen=True)
class DrillSchedule:
    cron: str
    max_gap: Duration  # the longest time between two runs


def drill_schedule(interval: Duration, name: str) -> DrillSchedule:
    """The sparsest of daily, weekly, twice-monthly and monthly whose longest gap fits the interval."""
    minute, hour = spread(name, 60), spread(name + "/h", 24)
    candidates = [
        (parse_duration("31d"), f"{minute} {hour} {1 + spread(name + '/d', 28)} * *"),
        (parse_duration("17d"), f"{minute} {hour} 1,15 * *"),
        (parse_duration("7d"), f"{minute} {hour} * * {spread(name + '/w', 7)}"),
        (DAY, f"{minute} {hour} * * *"),
    ]
    for gap, cron in candidates:
        if gap <= interval:
            return DrillSchedule(cron, gap)
    return DrillSchedule(f"{minute} {hour} * * *", DAY)


def _seconds(value: Fraction) -> Duration:
    return Duration(math.ceil(value * 1000))


def ceil_to_seconds(duration: Duration) -> Duration:
    return Duration(-(-duration.ms // 1000) * 1000)


def floor_to_seconds(duration: Duration) -> Duration:
    return Duration(duration.ms // 1000 * 1000)


@dataclass(frozen=True)
class VeleroPlan:
    interval: Duration
    cron: str
    backup_duration: Duration
    backup_duration_assumed: bool
    ttl: Duration

    @property
    def worst_case_loss(self) -> Duration:
        return self.interval + self.backup_duration


@dataclass(frozen=True)
class RestoreEstimate:
    startup: Duration
    base_restore: Duration
    wal_replay: Duration

    @property
    def total(self) -> Duration:
        return self.startup + self.base_restore + self.wal_replay


@dataclass(frozen=True)
class DatastorePlan:
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

    @property
    def name(self) -> str:
        return self.datastore.name

    @property
    def worst_case_loss(self) -> Duration:
        return self.archive_timeout + WAL_UPLOAD_ALLOWANCE


@dataclass(frozen=True)
class Infeasible:
    """A target the schedules cannot meet: where, and why, with what would make it feasible."""

    service: str
    datastore: str | None  # None: the service's Velero backups
    reason: str

    def __str__(self) -> str:
        where = f"{self.service}/{self.datastore}" if self.datastore else self.service
        return f"{where}: {self.reason}"


@dataclass
class DRFindings:
    infeasible: list[Infeasible] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def velero_plan(service: Service, tier: Tier, findings: DRFindings) -> VeleroPlan | None:
    backup = service.backup
    if backup is None or not backup.velero:
        return None
    duration = backup.duration or DEFAULT_VELERO_BACKUP_DURATION
    room = tier.rpo - duration
    fitting = [step for step in CRON_STEPS if step <= room]
    if not fitting:
        findings.infeasible.append(
            Infeasible(
                service.name,
                None,
                f"an RPO of {tier.rpo} leaves no room for Velero backups that take {duration}: "
                f"backups must run at least every minute and finish within the RPO; "
                f"{'measure the backup duration and set backup.duration, or ' if backup.duration is None else ''}"
                "loosen the RPO, or protect the data with a datastore method that streams changes (wal-g)",
            )
        )
        return None
    if backup.duration is None:
        findings.notes.append(
            f"{service.name}: Velero backups are assumed to take {duration}; set backup.duration to the measured time"
        )
    interval = fitting[-1]
    ttl = max(tier.retention, interval)
    return VeleroPlan(
        interval, cron_every(interval, service.name), duration, backup.duration is None, ceil_to_seconds(ttl)
    )


def restore_estimate(
    size: int,
    restore_tp: Fraction,
    replay_tp: Fraction,
    wal_rate: Fraction,
    base_interval: Duration,
    base_backup_duration: Duration,
) -> RestoreEstimate:
    wal_bytes = wal_rate * (base_interval + base_backup_duration).seconds
    return RestoreEstimate(RESTORE_STARTUP, _seconds(size / restore_tp), _seconds(wal_bytes / replay_tp))


def _human(duration: Duration) -> str:
    hours = duration.seconds / 3600
    if hours >= 1:
        return f"~{float(hours):.1f}h"
    return f"~{float(duration.seconds / 60):.0f}m" if duration >= MINUTE else f"~{float(duration.seconds):.0f}s"


def datastore_plan(service: Service, tier: Tier, datastore: Datastore, findings: DRFindings) -> DatastorePlan:
    where = f"{service.name}/{datastore.name}"  # for notes and schedule offsets
    assumed = []
    restore_tp = datastore.restore_throughput
    if restore_tp is None:
        restore_tp = DEFAULT_RESTORE_THROUGHPUT
        assumed.append(f"restore_throughput {format_throughput(restore_tp)}")
    replay_tp = datastore.replay_throughput
    if replay_tp is None:
        replay_tp = DEFAULT_REPLAY_THROUGHPUT
        assumed.append(f"replay_throughput {format_throughput(replay_tp)}")
    wal_rate = datastore.wal_rate
    if wal_rate is None:
        per_hour_mib = math.ceil(datastore.size_bytes * DEFAULT_WAL_RATE_SHARE_PER_HOUR / 2**20)
        wal_rate = max(MIN_DEFAULT_WAL_RATE, Fraction(per_hour_mib * 2**20, 3600))
        assumed.append(f"wal_rate {format_throughput(wal_rate)}")
    if assumed:
        findings.notes.append(f"{where}: assumed {', '.join(assumed)}; set them from measurements")

    archive_timeout = tier.rpo - WAL_UPLOAD_ALLOWANCE
    if archive_timeout < MIN_ARCHIVE_TIMEOUT:
        findings.infeasible.append(
            Infeasible(
                service.name,
                datastore.name,
                f"an RPO of {tier.rpo} is below what WAL archiving can promise "
                f"(archive_timeout of at least {MIN_ARCHIVE_TIMEOUT} plus {WAL_UPLOAD_ALLOWANCE} to upload a segment): "
                "a synchronous replica is needed for this RPO",
            )
        )
        archive_timeout = MIN_ARCHIVE_TIMEOUT

    backup_duration = _seconds(datastore.size_bytes / restore_tp)
    chosen = None
    for step in BASE_BACKUP_STEPS:
        estimate = restore_estimate(datastore.size_bytes, restore_tp, replay_tp, wal_rate, step, backup_duration)
        if estimate.total <= tier.rto and backup_duration < step:
            chosen = (step, estimate)
    if chosen is None:
        base_only = RESTORE_STARTUP + _seconds(datastore.size_bytes / restore_tp)
        if base_only > tier.rto:
            findings.infeasible.append(
                Infeasible(
                    service.name,
                    datastore.name,
                    f"restoring {format_size(datastore.size_bytes)} at {format_throughput(restore_tp)} takes "
                    f"{_human(base_only - RESTORE_STARTUP)} (plus {RESTORE_STARTUP} start-up) "
                    f"against an RTO of {tier.rto}: "
                    "a replica or a faster restore path is needed",
                )
            )
        else:
            first = restore_estimate(
                datastore.size_bytes, restore_tp, replay_tp, wal_rate, BASE_BACKUP_STEPS[0], backup_duration
            )
            findings.infeasible.append(
                Infeasible(
                    service.name,
                    datastore.name,
                    f"even with base backups every minute a restore takes {_human(first.total)} "
                    f"({_human(first.base_restore)} base backup, {_human(first.wal_replay)} replaying WAL at "
                    f"{format_throughput(wal_rate)} written) against an RTO of {tier.rto}: "
                    "a faster restore or replay path, or a replica, is needed",
                )
            )
    base_interval, estimate = chosen if chosen else (None, None)
    retain = math.ceil(Fraction(tier.retention.ms, base_interval.ms)) + 1 if base_interval else None
    return DatastorePlan(
        datastore=datastore,
        restore_throughput=restore_tp,
        replay_throughput=replay_tp,
        wal_rate=wal_rate,
        assumed=tuple(assumed),
        archive_timeout=floor_to_seconds(archive_timeout),
        base_backup_duration=backup_duration,
        base_interval=base_interval,
        base_cron=cron_every(base_interval, where) if base_interval else None,
        retain_full=retain,
        retention_cron=cron_every(DAY, where + "/retention"),
        drill=drill_schedule(tier.restore_drill_interval, where + "/drill"),
        restore=estimate,
    )
