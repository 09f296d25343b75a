"""What every alert generator shares: the rule and group shapes, an alert built from the plan's
labels, and promtool cases for alerts whose inputs are distinct series."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from obskit.generate.rules.timing import input_steps
from obskit.plan.types import ServicePlan
from obskit.units import Duration

Rule = dict[str, Any]
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


def secs(duration: Duration) -> int:
    return duration.ms // 1000


def constant(value: float | int, until: Duration) -> str:
    return f"{value}x{input_steps(until)}"


def alert(
    service_plan: ServicePlan,
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
        "annotations": {"summary": summary, "description": description, "runbook_url": service_plan.runbook_url(name)},
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
