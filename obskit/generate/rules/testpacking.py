"""Packing independent promtool test groups into one.

promtool loads the whole rule file again for every test group and evaluates every rule at
every step, so a service's test time grows with its number of groups. Two groups can share
one when neither feeds a metric that anything the other asserts reads, directly or through
recording rules, and they assert different alerts. Names are matched as PromQL tokens, so the
check errs towards keeping groups apart (a label called like a metric also counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TestGroup = dict[str, Any]

_TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*!?=~?\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`)')


def _names(expr: str) -> set[str]:
    """The metric names an expression may read: its words outside strings (label values are no
    metric's name, and a service called sign-up must not read as the metric `up`), and the
    words of any `__name__` matcher's value."""
    names = set(_TOKEN.findall(_STRING.sub('""', expr)))
    for match in _NAME_MATCHER.finditer(expr):
        names.update(_TOKEN.findall(match.group(1)))
    return names


def rule_inputs(rule_groups: list[dict[str, Any]]) -> dict[str, frozenset[str]]:
    """For each alert and recorded series: every name its expression reads, through recording rules."""
    direct: dict[str, set[str]] = {}
    for group in rule_groups:
        for rule in group["rules"]:
            output = rule.get("alert") or rule["record"]
            direct.setdefault(output, set()).update(_names(rule["expr"]))
    closed: dict[str, frozenset[str]] = {}

    def close(name: str, visiting: frozenset[str]) -> frozenset[str]:
        if name in closed:
            return closed[name]
        reads = set(direct.get(name, ()))
        for token in list(reads):
            if token in direct and token not in visiting:
                reads |= close(token, visiting | {name})
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


def _footprint(group: TestGroup, inputs: dict[str, frozenset[str]]) -> _Footprint:
    fed = frozenset(entry["series"].split("{", 1)[0] for entry in group.get("input_series", []))
    alerts = frozenset(test["alertname"] for test in group.get("alert_rule_test", []))
    asserted = set(alerts)
    for test in group.get("promql_expr_test", []):
        asserted.update(_names(test["expr"]))
    reads = set(asserted)
    for name in asserted:
        reads |= inputs.get(name, frozenset())
    return _Footprint(fed, frozenset(reads), alerts)


def _independent(first: _Footprint, second: _Footprint) -> bool:
    return (
        not first.fed & second.reads
        and not second.fed & first.reads
        and not first.fed & second.fed
        and not first.alerts & second.alerts
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


def pack(groups: list[TestGroup], rule_groups: list[dict[str, Any]]) -> list[TestGroup]:
    """The groups packed first-fit, in order, into as few groups as independence allows."""
    inputs = rule_inputs(rule_groups)
    bins: list[list[tuple[TestGroup, _Footprint]]] = []
    for group in groups:
        footprint = _footprint(group, inputs)
        for members in bins:
            if members[0][0]["interval"] == group["interval"] and all(
                _independent(footprint, other) for _, other in members
            ):
                members.append((group, footprint))
                break
        else:
            bins.append([(group, footprint)])
    return [_merged([group for group, _ in members]) for members in bins]
