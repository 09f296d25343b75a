"""Velero, planned for one installation: each service's schedules, their retention, the load they put
on Velero's backup workers, the queueing that load adds to the RPO, and the restore against the RTO.

How Velero behaves (read from its schedule and backup-queue controllers):
- A schedule creates no backup while one of its own is New or InProgress: backups of one schedule
  never overlap and never catch up. A Queued one does not count, so an installation whose schedules
  need more workers than it has (`velero server --concurrent-backups`, default 1) queues backups
  without bound: the plan refuses that load.
- Queued backups start first in, first out. While one waits, every worker is busy with backups queued
  before it, at most one per other schedule (each waits less than its own interval), so it starts
  within the sum of the other schedules' backup durations divided by the workers.
- The worst-case loss of a schedule is therefore its interval + that wait + its own duration, and the
  interval is the longest cron step that keeps the three within the RPO.
- Velero lists every Backup of the installation each sync period: a schedule keeps at most
  MAX_BACKUPS_PER_SCHEDULE. A frequent schedule whose retention would keep more is split in two: the
  frequent one keeps a short ttl, a daily one keeps the tier's retention.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from obskit import defaults
from obskit.plan.dr import (
    CRON_STEPS,
    DAY,
    HOUR,
    MINUTE,
    DRFindings,
    Infeasible,
    ceil_to_seconds,
    cron_every,
    seconds_duration,
)
from obskit.plan.engine import Engines
from obskit.spec.model import Labels, Service, Tier, Velero
from obskit.units import Duration

MAX_BACKUPS_PER_SCHEDULE = defaults.VELERO_MAX_BACKUPS_PER_SCHEDULE
RESOURCES_INTERVAL = DAY  # Velero's interval when the service's data is in datastores only (their engines back it up)
EXCLUDE_LABEL = "velero.io/exclude-from-backup"  # Velero skips resources that carry it with "true"


@dataclass(frozen=True)
class VeleroSchedule:
    name: str  # the Schedule's name, and the `schedule` label of its metrics
    interval: Duration
    cron: str
    ttl: Duration
    purpose: str  # "rpo": the frequent one the alerts watch; "retention": the daily one; "dr": the failover's copy
    location: str | None = None  # the BackupStorageLocation when not the environment's: the DR region's

    @property
    def kept(self) -> int:
        """The most Backups the schedule holds at once: one per interval of the ttl, and the newest."""
        return math.ceil(Fraction(self.ttl.ms, self.interval.ms)) + 1


@dataclass(frozen=True)
class VeleroPlan:
    schedules: tuple[VeleroSchedule, ...]  # the first meets the RPO (or the practical interval)
    backup_duration: Duration
    backup_duration_assumed: bool
    queue_wait: Duration  # the longest a backup waits for a worker
    restore: Duration  # how long a restore takes, measured or estimated
    restore_assumed: bool
    resources_only: bool  # the service's data is in its datastores: Velero keeps its resources
    selector: Labels  # the Schedule's label selector; empty: the whole namespaces
    rpo: Duration

    @property
    def frequent(self) -> VeleroSchedule:
        return self.schedules[0]

    @property
    def dr(self) -> VeleroSchedule | None:
        """The daily copy to the DR region's storage location, for a service that fails over."""
        return next((schedule for schedule in self.schedules if schedule.purpose == "dr"), None)

    @property
    def interval(self) -> Duration:
        return self.frequent.interval

    @property
    def cron(self) -> str:
        return self.frequent.cron

    @property
    def worst_case_loss(self) -> Duration:
        return self.interval + self.queue_wait + self.backup_duration

    @property
    def age_limit(self) -> Duration:
        """How old the frequent schedule's last success may be: the RPO where data is at risk, else
        what the schedule promises (in whole minutes, as people read an age limit)."""
        if not self.resources_only:
            return self.rpo
        return Duration(-(-self.worst_case_loss.ms // MINUTE.ms) * MINUTE.ms)

    @property
    def load(self) -> Fraction:
        """Backup workers this service keeps busy on average."""
        return sum((Fraction(self.backup_duration.ms, s.interval.ms) for s in self.schedules), Fraction(0))


@dataclass(frozen=True)
class InstallationLoad:
    """Velero's workers against the schedules of one environment."""

    namespace: str
    workers: int
    load: Fraction
    longest_wait: Duration


def _schedule_count(velero: VeleroPlan | None) -> int:
    """A service without a plan still runs at least its frequent schedule."""
    return len(velero.schedules) if velero else 1


def resources_only(service: Service) -> bool:
    backup = service.backup
    return backup is not None and bool(backup.datastores) and backup.volumes == "none"


def _duration(service: Service) -> Duration:
    assert service.backup is not None
    return service.backup.duration or defaults.VELERO_BACKUP_DURATION


def _interval(service: Service, tier: Tier, wait: Duration) -> Duration | None:
    """The longest cron step within the RPO once the wait and the backup are added, and longer than
    both (a tick that finds the last backup still running is skipped)."""
    busy = _duration(service) + wait
    if resources_only(service):
        return RESOURCES_INTERVAL if busy < RESOURCES_INTERVAL else None
    fitting = [step for step in CRON_STEPS if step + busy <= tier.rpo and step > busy]
    return fitting[-1] if fitting else None


def _schedules(service: Service, tier: Tier, interval: Duration, dr_location: str | None) -> tuple[VeleroSchedule, ...]:
    name = service.name
    retention = max(tier.retention, interval)
    dr: tuple[VeleroSchedule, ...] = ()
    if dr_location is not None and service.failover is not None:
        copy = f"{name}-dr"
        dr = (VeleroSchedule(copy, DAY, cron_every(DAY, copy), ceil_to_seconds(retention), "dr", dr_location),)
    whole = VeleroSchedule(name, interval, cron_every(interval, name), ceil_to_seconds(retention), "rpo")
    if whole.kept <= MAX_BACKUPS_PER_SCHEDULE:
        return (whole, *dr)
    short_ttl = Duration(interval.ms * (MAX_BACKUPS_PER_SCHEDULE - 1))
    if short_ttl >= HOUR:
        short_ttl = Duration(short_ttl.ms // HOUR.ms * HOUR.ms)
    daily = f"{name}-daily"
    return (
        VeleroSchedule(name, interval, cron_every(interval, name), short_ttl, "rpo"),
        VeleroSchedule(daily, DAY, cron_every(DAY, daily), ceil_to_seconds(retention), "retention"),
        *dr,
    )


def _restore(service: Service) -> tuple[Duration, bool]:
    assert service.backup is not None
    if service.backup.restore_duration is not None:
        return service.backup.restore_duration, False
    return defaults.VELERO_RESTORE_STARTUP + Duration(_duration(service).ms * defaults.VELERO_RESTORE_FACTOR), True


@dataclass(frozen=True)
class _Queue:
    """Every schedule's backup duration on one installation, summed once."""

    schedules: int
    total_ms: int
    workers: int

    def wait(self, own: Duration) -> Duration:
        """With fewer other schedules than workers a worker is always free; else every worker is busy
        with backups queued before this one, at most one per other schedule."""
        if self.schedules - 1 < self.workers:
            return Duration(0)
        return seconds_duration(Fraction(self.total_ms - own.ms, 1000 * self.workers))


def _queue(durations: Sequence[Duration], workers: int) -> _Queue:
    return _Queue(len(durations), sum(d.ms for d in durations), workers)


def _plan_service(service: Service, tier: Tier, wait: Duration, dr_location: str | None) -> VeleroPlan | None:
    interval = _interval(service, tier, wait)
    if interval is None:
        return None
    assert service.backup is not None
    restore, restore_assumed = _restore(service)
    return VeleroPlan(
        schedules=_schedules(service, tier, interval, dr_location),
        backup_duration=_duration(service),
        backup_duration_assumed=service.backup.duration is None,
        queue_wait=wait,
        restore=restore,
        restore_assumed=restore_assumed,
        resources_only=resources_only(service),
        selector=service.backup.selector,
        rpo=tier.rpo,
    )


def _no_interval(service: Service, tier: Tier, wait: Duration, workers: int, engines: Engines) -> Infeasible:
    assert service.backup is not None
    duration = _duration(service)
    measure = "measure the backup duration and set backup.duration, or " if service.backup.duration is None else ""
    queue = (
        f" and may wait {wait} for one of Velero's {workers} backup worker(s) behind the other schedules"
        if wait.ms
        else ""
    )
    return Infeasible(
        service.name,
        None,
        f"an RPO of {tier.rpo} leaves no room for Velero backups that take {duration}{queue}: the interval "
        f"(a cron step of 1m to 1d) and both must fit in the RPO, the interval longer than both; {measure}"
        + ("raise velero.concurrent_backups, " if wait.ms else "")
        + "loosen the RPO, or protect the data with a datastore method that streams changes ("
        + ", ".join(method for (_, method), engine in engines.items() if engine.streams_changes)
        + ")",
    )


def _check(service: Service, tier: Tier, velero: VeleroPlan, findings: DRFindings) -> None:
    if velero.restore > tier.rto:
        how = (
            "an estimate; restore once, measure and set backup.restore_duration, or " if velero.restore_assumed else ""
        )
        findings.infeasible.append(
            Infeasible(
                service.name,
                None,
                f"a Velero restore takes {velero.restore} against an RTO of {tier.rto}: {how}"
                "loosen the RTO or make the restore faster (fewer resources, CSI snapshots instead of file copies)",
            )
        )
    for schedule in velero.schedules:
        if schedule.kept > MAX_BACKUPS_PER_SCHEDULE:
            findings.infeasible.append(
                Infeasible(
                    service.name,
                    None,
                    f"schedule {schedule.name} would keep {schedule.kept} Backups (ttl {schedule.ttl} every "
                    f"{schedule.interval}); Velero should keep at most {MAX_BACKUPS_PER_SCHEDULE} per schedule: "
                    "shorten the tier's retention",
                )
            )


def _overlaps(services: Sequence[Service]) -> list[Infeasible]:
    """Two Velero schedules over one namespace must each keep to their own resources."""
    found = []
    seen: dict[str, Service] = {}
    for service in services:
        assert service.backup is not None
        for namespace in service.backup.namespaces:
            other = seen.get(namespace)
            if other is None:
                seen[namespace] = service
                continue
            assert other.backup is not None
            if other.backup.selector and service.backup.selector and other.backup.selector != service.backup.selector:
                continue
            found.append(
                Infeasible(
                    service.name,
                    None,
                    f"its Velero backups and {other.name}'s both cover namespace {namespace}"
                    + (" with the same selector" if service.backup.selector else "")
                    + ": set backup.selector on each to the labels of its own resources, or turn one's "
                    "backup.velero off",
                )
            )
    return found


def velero_plans(
    services: Sequence[tuple[Service, Tier]],
    settings: Velero | None,
    findings: DRFindings,
    engines: Engines,
    dr_location: str | None = None,
) -> tuple[dict[str, VeleroPlan], InstallationLoad | None]:
    """Every service's Velero plan (None: infeasible, with the finding recorded) and the load;
    `engines` say why Velero must leave their datastores' volumes alone; a service that fails over
    gets a daily schedule to `dr_location` too (the failover's storage location in the DR region)."""
    with_velero = [(s, t) for s, t in services if s.backup is not None and s.backup.velero]
    if not with_velero or settings is None:
        return {}, None
    workers = settings.concurrent_backups
    waits = {service.name: Duration(0) for service, _ in with_velero}
    unqueued = [_plan_service(service, tier, Duration(0), dr_location) for service, tier in with_velero]
    # the least the schedules need, before any queueing: more than the workers is refused at its root
    least = sum((p.load for p in unqueued if p), Fraction(0))
    while True:  # waits only grow, and each takes one of a few values: the rounds settle
        plans = {
            service.name: _plan_service(service, tier, waits[service.name], dr_location)
            for service, tier in with_velero
        }
        queue = _queue(
            [_duration(service) for service, _ in with_velero for _ in range(_schedule_count(plans[service.name]))],
            workers,
        )
        new = {service.name: max(waits[service.name], queue.wait(_duration(service))) for service, _ in with_velero}
        if new == waits:
            break
        waits = new
    findings.infeasible += _overlaps([service for service, _ in with_velero])
    feasible: dict[str, VeleroPlan] = {}
    for service, tier in with_velero:
        velero = plans[service.name]
        if velero is None:
            # the wait behind the schedules that do run, for the message
            findings.infeasible.append(_no_interval(service, tier, queue.wait(_duration(service)), workers, engines))
            continue
        # the interval was chosen on a wait at least the final bound, and stays valid with it
        velero = dataclasses.replace(velero, queue_wait=queue.wait(velero.backup_duration))
        _check(service, tier, velero, findings)
        feasible[service.name] = velero
        if velero.backup_duration_assumed:
            findings.notes.append(
                f"{service.name}: Velero backups are assumed to take {velero.backup_duration}; "
                "set backup.duration to the measured time"
            )
        assert service.backup is not None
        if service.backup.datastores and not velero.resources_only:
            datastores = service.backup.datastores
            why = "; ".join(dict.fromkeys(engines[ds.engine, ds.method].velero_note for ds in datastores))
            findings.notes.append(
                f"{service.name}: label the PersistentVolumeClaims of "
                f"{', '.join(ds.name for ds in datastores)} {EXCLUDE_LABEL}=true: {why}"
            )
        if velero.resources_only:
            findings.notes.append(
                f"{service.name}: its data is in its datastores (backup.volumes none), whose own backups meet "
                f"the RPO; Velero keeps its Kubernetes resources every {velero.interval}"
            )
    load = sum((p.load for p in feasible.values()), Fraction(0))
    installation = InstallationLoad(
        settings.namespace,
        workers,
        max(load, least),
        max((p.queue_wait for p in feasible.values()), default=Duration(0)),
    )
    if installation.load > workers:
        busiest = {s.name: p for (s, _), p in zip(with_velero, unqueued, strict=True) if p}
        findings.infeasible.append(Infeasible(None, None, _overloaded(installation, busiest)))
    return feasible, installation


def _overloaded(installation: InstallationLoad, plans: dict[str, VeleroPlan]) -> str:
    heaviest = sorted(plans.items(), key=lambda item: (-item[1].load, item[0]))[:3]
    shares = ", ".join(f"{name} {float(p.load):.2f} ({p.backup_duration} every {p.interval})" for name, p in heaviest)
    needed = math.ceil(installation.load)
    return (
        f"Velero in namespace {installation.namespace} would need {float(installation.load):.2f} backups running at "
        f"once on average, but velero.concurrent_backups is {installation.workers} (busiest: {shares}); backups "
        f"would queue without end: set concurrent_backups to {needed} or more (and `velero server "
        "--concurrent-backups` to match; the queue wait still counts toward each RPO), measure and set "
        "backup.duration, or loosen the tiers' RPOs"
    )
