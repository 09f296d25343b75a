"""Disaster-recovery arithmetic shared by every method: cron steps and offsets, drill schedules,
and the findings of a plan that cannot meet its targets.

Everything here is pure and exact (durations in milliseconds, rates as Fractions). The
numbers are derived once per service in the plan; the Velero and engine objects, the DR
alerts, `obskit plan` and the dashboards all read them from there.

Velero is planned in obskit/plan/velero.py, datastores by their engine (obskit/engines),
from the helpers here.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from fractions import Fraction

from obskit.spec.model import Environment
from obskit.spec.problems import FieldPath, Problem
from obskit.units import Duration, parse_duration

MINUTE = parse_duration("1m")
HOUR = parse_duration("1h")
DAY = parse_duration("1d")


# Cron-expressible steps: minutes that divide an hour, hours that divide a day, a day.
MINUTE_STEPS = tuple(parse_duration(f"{m}m") for m in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30))
HOUR_STEPS = tuple(parse_duration(f"{h}h") for h in (1, 2, 3, 4, 6, 8, 12))
CRON_STEPS = (*MINUTE_STEPS, *HOUR_STEPS, DAY)


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


def seconds_duration(value: Fraction) -> Duration:
    return Duration(math.ceil(value * 1000))


def ceil_to_seconds(duration: Duration) -> Duration:
    return Duration(-(-duration.ms // 1000) * 1000)


def floor_to_seconds(duration: Duration) -> Duration:
    return Duration(duration.ms // 1000 * 1000)


@dataclass(frozen=True)
class Infeasible:
    """A target the schedules cannot meet: where, and why, with what would make it feasible."""

    service: str | None  # None: the environment's Velero installation
    datastore: str | None  # None: the service's Velero backups
    reason: str
    field: FieldPath | None = None  # within the service, when not its backup or datastore (its failover)

    @property
    def where(self) -> str:
        if self.service is None:
            return "velero"
        return f"{self.service}/{self.datastore}" if self.datastore else self.service

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"

    def problem(self, environment: Environment) -> Problem:
        """The finding at the line to edit: the datastore, the service's backup for Velero, or the
        environment's velero settings."""
        message = f"{environment.name}: {self} (`obskit plan --env {environment.name}` shows the numbers)"
        if self.service is None:
            file, line = environment.where.get(("velero",), ("(spec)", 0))
            return Problem(file, line, ("environments", environment.name, "velero"), message)
        service = next(s for s in environment.services if s.name == self.service)
        path: FieldPath = self.field or (("backup", "datastores", self.datastore) if self.datastore else ("backup",))
        file, line = service.where.get(path, service.where.get((), ("(spec)", 0)))
        return Problem(file, line, ("services", self.service, *path), message)


@dataclass
class DRFindings:
    infeasible: list[Infeasible] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
