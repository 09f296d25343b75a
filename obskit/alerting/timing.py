"""When generated promtool tests sample their input and check their rules.

Inputs are sampled every minute (rates need several samples per 5m). The SLO and DR cases
evaluate the rules every five minutes, which keeps them to a handful of evaluations of the
service's rule set (promtool evaluates every rule of the file at every step of every test
group, whatever a group's own `interval`). The platform alerts' cases, whose `for:` of minutes
decides whether a blip fires, evaluate at the interval their groups run at in Prometheus.
"""

from __future__ import annotations

from obskit.units import Duration, parse_duration

INPUT_STEP = Duration(60_000)
EVAL_STEP = Duration(5 * 60_000)
# Cases whose `for:` is minutes (DR alerts held for the tier's platform_alert_for) evaluate as often
# as their inputs change, so that a blip shorter than the `for:` shows between two evaluations.
FOR_STEP = INPUT_STEP
# Cases whose `for:` spans days (an input absent for a drill limit of weeks or months) go to a file
# evaluated at a coarser step, the finest that checks them within MAX_LONG_EVALUATIONS: promtool
# evaluates every rule of the file at every step, and at EVAL_STEP a 90d limit would be 26,000 steps.
LONG_HORIZON = Duration(24 * 3600_000)  # a case checked later than this goes to such a file
LONG_STEPS = tuple(parse_duration(text) for text in ("1h", "2h", "4h", "6h", "12h", "1d", "2d", "7d"))
MAX_LONG_EVALUATIONS = 48
SLO_CHECK_TIME = Duration(15 * 60_000)


def platform_step(evaluation_interval: Duration) -> Duration:
    """The platform cases' evaluation step: their groups' own interval, but no finer than the
    inputs change (every INPUT_STEP), where more evaluations would only repeat the same ones."""
    return max(evaluation_interval, INPUT_STEP)


def aligned(duration: Duration, step: Duration = EVAL_STEP) -> Duration:
    """The first evaluation at or after `duration`."""
    return Duration(-(-duration.ms // step.ms) * step.ms)


def check_time(for_: Duration, step: Duration = EVAL_STEP) -> Duration:
    """When an alert whose condition holds from the start has surely passed its `for:`:
    pending at the first evaluation where its inputs allow, firing `for` later, plus a step."""
    return aligned(for_, step) + step + step


def input_steps(until: Duration) -> int:
    """Samples of a test series from time 0 to `until`, for promtool's `aXn` notation."""
    return until.ms // INPUT_STEP.ms


def long_step(for_: Duration) -> Duration:
    """The finest of LONG_STEPS at which a case held for `for_` is checked within MAX_LONG_EVALUATIONS."""
    return next(
        (step for step in LONG_STEPS if check_time(for_, step).ms // step.ms <= MAX_LONG_EVALUATIONS),
        LONG_STEPS[-1],
    )
