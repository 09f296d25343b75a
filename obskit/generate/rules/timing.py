"""When generated promtool tests sample their input and check their rules.

Inputs are sampled every minute (rates need several samples per 5m); rules are evaluated
every five minutes, which keeps a service's tests to a handful of evaluations of its
rule set (promtool evaluates every rule of the file at every step of every test group).
"""

from __future__ import annotations

from obskit.units import Duration

INPUT_STEP = Duration(60_000)
EVAL_STEP = Duration(5 * 60_000)
SLO_CHECK_TIME = Duration(15 * 60_000)


def aligned(duration: Duration) -> Duration:
    """The first evaluation at or after `duration`."""
    return Duration(-(-duration.ms // EVAL_STEP.ms) * EVAL_STEP.ms)


def check_time(for_: Duration) -> Duration:
    """When an alert whose condition holds from the start has surely passed its `for:`:
    pending at the first evaluation where its inputs allow, firing `for` later, plus a step."""
    return aligned(for_) + EVAL_STEP + EVAL_STEP


def input_steps(until: Duration) -> int:
    """Samples of a test series from time 0 to `until`, for promtool's `aXn` notation."""
    return until.ms // INPUT_STEP.ms
