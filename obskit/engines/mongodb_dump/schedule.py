"""The arithmetic of a dump schedule: how long a dump takes, how much a schedule can lose, how long
a restore takes, and the schedule an RPO asks for. Pure and exact (durations in milliseconds,
throughputs as Fractions); plan.py turns the numbers into findings and the engine's plan.

A dump is a snapshot: what was written after the last completed dump is lost. Counting from the
start of the last completed dump (its collections are copied from then on), the next one completes
an interval, its own duration and the upload's tail later: worst-case loss = interval + dump
duration + upload. (With --oplog the restored state is as of the dump's end, so this is
conservative by at most one dump's duration; a dump without --oplog has no single point in time.)

A restore is: start-up + size / restore throughput + the oplog the dump captured, replayed. The
oplog replayed is what was written during the dump; mongorestore applies it one entry at a time,
so its replay is taken to last as long as the dump did unless a measured restore_duration says
otherwise.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

from obskit.engines.mongodb_dump import defaults
from obskit.plan.dr import CRON_STEPS, MINUTE, seconds_duration
from obskit.shown import shown
from obskit.units import Duration

DAY_MINUTES = 24 * 60

PITR_REMEDY = (
    "point-in-time recovery from continuous oplog archiving can (Percona Backup for MongoDB's PITR, or "
    "WAL-G's MongoDB oplog archiving with `wal-g oplog-push`), which obskit does not support yet"
)


class CronError(ValueError):
    pass


def _field(text: str, low: int, high: int) -> set[int]:
    """The values of one cron field: `*`, `*/n`, `a`, `a-b`, `a-b/n`, and comma lists of them."""
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        if body == "*":
            first, last = low, high
        elif "-" in body:
            first_text, _, last_text = body.partition("-")
            first, last = _number(first_text, low, high), _number(last_text, low, high)
        else:
            first = last = _number(body, low, high)
            if step_text:  # `a/n`: from a to the end, as cron reads it
                last = high
        step = _number(step_text, 1, high - low + 1) if step_text else 1
        if first > last:
            raise CronError(f"{shown(part)} is an empty range")
        values.update(range(first, last + 1, step))
    return values


def _number(text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise CronError(f"{shown(text)} is not a number from {low} to {high}")
    return int(text)


def run_minutes(cron: str) -> list[int]:
    """The minutes of the day a daily cron expression runs at (day of month, month and weekday `*`)."""
    fields = cron.split()
    if len(fields) != 5:
        raise CronError(f"{shown(cron)} has {len(fields)} fields, not 5")
    minute, hour, *days = fields
    if days != ["*", "*", "*"]:
        raise CronError(
            f"{shown(cron)} does not run every day: dump schedules give minutes and hours, with `*` for the day of the "
            "month, the month and the day of the week"
        )
    return sorted(h * 60 + m for h in _field(hour, 0, 23) for m in _field(minute, 0, 59))


def cron_gaps(cron: str) -> tuple[Duration, Duration]:
    """The shortest and the longest time between two runs of a daily cron expression (across midnight too)."""
    minutes = run_minutes(cron)
    gaps = [b - a for a, b in itertools.pairwise(minutes)] + [minutes[0] + DAY_MINUTES - minutes[-1]]
    return Duration(min(gaps) * MINUTE.ms), Duration(max(gaps) * MINUTE.ms)


def cron_interval(cron: str) -> Duration:
    """The longest time between two runs of a daily cron expression: what the loss is counted over."""
    return cron_gaps(cron)[1]


def dump_duration(size: int, throughput: Fraction) -> Duration:
    return seconds_duration(size / throughput)


def worst_case_loss(interval: Duration, dump: Duration) -> Duration:
    return interval + dump + defaults.UPLOAD_ALLOWANCE


def fits(interval: Duration, dump: Duration) -> bool:
    """A dump must complete before the next starts: the CronJob forbids overlapping runs and skips one."""
    return dump + defaults.UPLOAD_ALLOWANCE < interval


def longest_interval(rpo: Duration, dump: Duration) -> Duration | None:
    """The longest cron step whose dumps meet the RPO and complete before the next starts."""
    chosen = None
    for step in CRON_STEPS:
        if fits(step, dump) and worst_case_loss(step, dump) <= rpo:
            chosen = step
    return chosen


@dataclass(frozen=True)
class RestoreEstimate:
    startup: Duration
    restore: Duration  # size / restore throughput
    oplog_replay: Duration
    measured: Duration | None = None  # a measured restore_duration replaces the sum

    @property
    def total(self) -> Duration:
        if self.measured is not None:
            return self.measured
        return self.startup + self.restore + self.oplog_replay


def restore_estimate(size: int, throughput: Fraction, dump: Duration, measured: Duration | None) -> RestoreEstimate:
    return RestoreEstimate(defaults.RESTORE_STARTUP, seconds_duration(size / throughput), dump, measured)


def human(duration: Duration) -> str:
    """~4.3h, ~17m, ~40s: as the refusals speak of estimates."""
    seconds = duration.seconds
    if seconds >= 3600:
        return f"~{float(seconds / 3600):.1f}h"
    return f"~{float(seconds / 60):.0f}m" if duration >= MINUTE else f"~{float(seconds):.0f}s"


def loss_refusal(interval: Duration, dump: Duration, rpo: Duration, every: str) -> str:
    """Why a schedule's dumps lose more than the RPO, and what could meet it."""
    loss = worst_case_loss(interval, dump)
    because = (
        f"{every} loses up to {human(loss)} ({interval} between dumps + {human(dump)} dump + "
        f"{defaults.UPLOAD_ALLOWANCE} upload) against an RPO of {rpo}: "
    )
    shorter = longest_interval(rpo, dump)
    if shorter is not None:
        return because + f"a dump every {shorter} would meet it; or {PITR_REMEDY}"
    return (
        because
        + f"no dump schedule can (the dump and its upload alone take {human(dump + defaults.UPLOAD_ALLOWANCE)}); "
        f"{PITR_REMEDY}"
    )


def overlap_refusal(shortest: Duration, dump: Duration) -> str:
    return (
        f"a dump takes {human(dump)} plus {defaults.UPLOAD_ALLOWANCE} upload, longer than the {shortest} "
        "between two runs of the schedule: the next run would be skipped (the CronJob forbids overlapping runs) "
        "and the loss doubled; space the runs evenly, dump less often or measure `duration`"
    )


def restore_refusal(estimate: RestoreEstimate, size: str, throughput: str, rto: Duration) -> str:
    if estimate.measured is not None:
        return (
            f"the measured restore_duration of {estimate.measured} exceeds the RTO of {rto}: a faster restore path "
            "(a replica, or a file-system snapshot) is needed"
        )
    return (
        f"a restore takes {human(estimate.total)} ({estimate.startup} start-up + {human(estimate.restore)} restoring "
        f"{size} at {throughput} + {human(estimate.oplog_replay)} oplog replay) against an RTO of {rto}: "
        "a faster restore path (a replica, or a file-system snapshot) is needed"
    )
