"""What every alert generator shares: the rule and group shapes, an alert built from the plan's
labels, and promtool cases for alerts whose inputs are distinct series."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from obskit.alerting.timing import EVAL_STEP, INPUT_STEP, LONG_HORIZON, check_time, input_steps, long_step
from obskit.spec.series import series_text
from obskit.units import Duration

Rule = dict[str, Any]
ABSENT_LABEL = "cause"  # on the variant of an alert that fires for an input absent too long: cause="absent"
Group = dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    series: dict[str, str]  # series -> promtool values
    fires: bool
    labels: dict[str, str] = field(default_factory=dict)  # the alert's labels from its series


@dataclass(frozen=True)
class CheckedAlert:
    rule: Rule
    cases: tuple[Case, ...]
    eval_time: Duration
    step: Duration = EVAL_STEP  # the evaluation interval of the test file its cases go into
    input_step: Duration = INPUT_STEP  # the interval of its cases' input samples


def secs(duration: Duration) -> int:
    return duration.ms // 1000


def constant(value: float | int, until: Duration) -> str:
    return f"{value}x{input_steps(until)}"


class AlertOwner(Protocol):
    """What an alert takes from the plan of the service it watches (a ServicePlan)."""

    def alert_labels(self, severity: str) -> dict[str, str]: ...

    def links(self, alert: str) -> dict[str, str]: ...


def alert(
    service_plan: AlertOwner,
    name: str,
    expr: str,
    severity: str,
    text: tuple[str, str],
    for_: Duration | None,
    extra: dict[str, str] | None = None,
) -> Rule:
    """An alert with the plan's labels; `text` is (summary, description)."""
    summary, description = text
    rule: Rule = {
        "alert": name,
        "expr": expr,
        "labels": {**service_plan.alert_labels(severity), **(extra or {})},
        "annotations": {"summary": summary, "description": description, **service_plan.links(name)},
    }
    if for_ is not None:
        rule["for"] = str(for_)
    return rule


def age_cases(series: str, labels: dict[str, str], threshold: Duration, eval_time: Duration) -> tuple[Case, ...]:
    """A timestamp series old enough to fire through the whole `for`, and one fresh enough not to.
    Timestamps before the test's start are negative, so a short test covers any threshold."""
    stale = -(secs(threshold) + secs(eval_time) + 60)  # older than the threshold from the start
    fresh = secs(eval_time) - secs(threshold) // 2  # half the threshold old when checked
    return (
        Case("fires", {series: constant(stale, eval_time)}, True, labels),
        Case("silent", {series: constant(fresh, eval_time)}, False),
    )


def when_absent(
    checked: CheckedAlert,
    selector: str,
    labels: dict[str, str],
    threshold: Duration,
    what: str,
    condition: str = "",
    series: dict[str, str] | None = None,
) -> CheckedAlert:
    """The same alert for an input that is not there at all (never reported, or lost with a
    Pushgateway restart) for longer than the alert's threshold: a second rule of the same name,
    `absent(selector)` for `threshold`. `condition` (e.g. `and on () writes > 0`) limits it to
    when the thing watched is expected to report; `series` feeds that condition in its case."""
    rule = checked.rule
    absent_rule: Rule = {
        **rule,
        "expr": f"absent({selector}){condition}",
        # a label of its own: two rules of one name and labels are one rule twice to promtool
        "labels": {**rule["labels"], ABSENT_LABEL: "absent"},
        "for": str(threshold),
        "annotations": {
            **rule["annotations"],
            "description": f"{what} has not been reported at all for over {threshold}: it never succeeded, "
            "or what reports it (exporter, Pushgateway) lost it or stopped. " + rule["annotations"]["description"],
        },
    }
    step = long_step(threshold) if check_time(threshold) > LONG_HORIZON else EVAL_STEP
    at = check_time(threshold, step)
    return CheckedAlert(absent_rule, (Case("absent", series or {}, True, labels),), at, step)


def last_attempt_failed(
    owner: AlertOwner, name: str, metric: str, pushed: dict[str, str], match: str, text: tuple[str, str]
) -> CheckedAlert:
    """A ticket while a job's last attempt failed: what it pushed as `*_last_attempt_success` is 0
    (the pushes keep the last success, so the age alerts page if no attempt succeeds in time)."""
    rule = alert(owner, name, f"{metric}{match} == 0", "warning", text, None)
    at = check_time(Duration(0))
    attempt = series_text(metric, pushed)
    return CheckedAlert(
        rule,
        (Case("fires", {attempt: constant(0, at)}, True, pushed), Case("silent", {attempt: constant(1, at)}, False)),
        at,
    )
