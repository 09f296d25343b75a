"""Packing independent promtool test groups into one.

promtool loads the whole rule file again for every test group and evaluates every rule at
every step, so a service's test time grows with its number of groups. Two groups can share
one when neither feeds a metric that anything the other asserts reads, directly or through
recording rules, they assert different alerts, and no rule reads what both feed or writes what
the other feeds (promtool fails a test on any rule's evaluation error, which series from both
could cause: a many-to-many match). A file where two recording rules may write one series (the
same name, and no static label that tells them apart) is not packed at all: Prometheus keeps the
first sample written and drops the other, so what a test reads depends on every series fed.
(Two alerting rules of one name write ALERTS samples of equal value, whichever comes first.)
What an expression
reads is told by obskit.spec.series_flow: a selector without a metric name reads every name,
and an expression reading ALERTS reads what every alert reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obskit.spec import series_flow
from obskit.spec.series_flow import ALERT_SERIES, EVERY_NAME, overlap

TestGroup = dict[str, Any]


def _reads(expr: str) -> frozenset[str]:
    try:
        return series_flow.reads(expr)
    except ValueError:  # not PromQL to the parser: it may read anything
        return frozenset({EVERY_NAME})


def rule_inputs(rule_groups: list[dict[str, Any]]) -> dict[str, frozenset[str]]:
    """For each alert and recorded series: every metric name its expression reads, through
    recording rules (and through every alert's, for one that reads ALERTS)."""
    direct: dict[str, set[str]] = {}
    alerts: set[str] = set()
    for group in rule_groups:
        for rule in group["rules"]:
            output = rule.get("alert") or rule["record"]
            alerts.update([output] if "alert" in rule else [])
            direct.setdefault(output, set()).update(_reads(rule["expr"]))
    closed: dict[str, frozenset[str]] = {}

    def close(name: str, visiting: frozenset[str]) -> frozenset[str]:
        if name in closed:
            return closed[name]
        reads = set(direct.get(name, ()))
        for read in list(reads):
            for source in alerts if read in ALERT_SERIES else [read]:
                if source in direct and source not in visiting:
                    reads |= close(source, visiting | {name})
        closed[name] = frozenset(reads)
        return closed[name]

    for output in direct:
        close(output, frozenset())
    return closed


@dataclass(frozen=True)
class _Footprint:
    fed: frozenset[str]  # metric names of the input series
    reads: frozenset[str]  # names the asserted alerts and expressions depend on
    alerts: frozenset[str]
    reached: frozenset[str]  # the rules (by output) whose expressions read what the group feeds
    writes: frozenset[str]  # the metric names those rules write


def _fed(series: str) -> str:
    try:
        return series_flow.series_name(series)
    except ValueError:
        return EVERY_NAME


def _footprint(group: TestGroup, inputs: dict[str, frozenset[str]], alerts_of: frozenset[str]) -> _Footprint:
    fed = frozenset(_fed(entry["series"]) for entry in group.get("input_series", []))
    alerts = frozenset(test["alertname"] for test in group.get("alert_rule_test", []))
    asserted = set(alerts)
    for test in group.get("promql_expr_test", []):
        asserted.update(_reads(test["expr"]))
    reads = set(asserted)
    for name in asserted:
        for source in inputs if name in ALERT_SERIES else [name]:
            reads |= inputs.get(source, frozenset())
    reached = frozenset(output for output, read in inputs.items() if overlap(fed, read))
    writes = frozenset(name for output in reached for name in (ALERT_SERIES if output in alerts_of else [output]))
    return _Footprint(fed, frozenset(reads), alerts, reached, writes)


def _independent(first: _Footprint, second: _Footprint) -> bool:
    return (
        not overlap(first.fed, second.reads)
        and not overlap(second.fed, first.reads)
        and not overlap(first.fed, second.fed)
        and not first.alerts & second.alerts
        and not first.reached & second.reached
        and not overlap(first.fed, second.writes)
        and not overlap(second.fed, first.writes)
    )


def _merged(groups: list[TestGroup]) -> TestGroup:
    if len(groups) == 1:
        return groups[0]
    merged: TestGroup = {"name": " + ".join(group["name"] for group in groups), "interval": groups[0]["interval"]}
    for key in ("input_series", "alert_rule_test", "promql_expr_test"):
        entries = [entry for group in groups for entry in group.get(key, [])]
        if entries or key == "input_series":
            merged[key] = entries
    return merged


def _apart(first: dict[str, str], second: dict[str, str]) -> bool:
    """Whether two rules' static labels keep their series apart: a label both set, to different values."""
    return any(key in second and second[key] != value for key, value in first.items())


def may_write_one_series_twice(rule_groups: list[dict[str, Any]]) -> bool:
    """Whether two recording rules may write one series."""
    written: dict[str, list[dict[str, str]]] = {}
    for group in rule_groups:
        for rule in group["rules"]:
            if "record" not in rule:
                continue
            labels = rule.get("labels") or {}
            name = rule["record"]
            if any(not _apart(labels, other) for other in written.get(name, [])):
                return True
            written.setdefault(name, []).append(labels)
    return False


def pack(groups: list[TestGroup], rule_groups: list[dict[str, Any]]) -> list[TestGroup]:
    """The groups packed first-fit, in order, into as few groups as independence allows."""
    if may_write_one_series_twice(rule_groups):
        return groups
    inputs = rule_inputs(rule_groups)
    alerts = frozenset(rule["alert"] for group in rule_groups for rule in group["rules"] if "alert" in rule)
    bins: list[list[tuple[TestGroup, _Footprint]]] = []
    for group in groups:
        footprint = _footprint(group, inputs, alerts)
        for members in bins:
            if members[0][0]["interval"] == group["interval"] and all(
                _independent(footprint, other) for _, other in members
            ):
                members.append((group, footprint))
                break
        else:
            bins.append([(group, footprint)])
    return [_merged([group for group, _ in members]) for members in bins]
