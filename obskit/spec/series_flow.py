"""Which series a PromQL expression reads, and which a rule writes, by metric name.

Test packing (obskit.generate.rules.testpacking), pruning (obskit.verify.pruning) and the shape
audit (obskit.verify.shapes) all ask it here. A selector reads the metric it names, by its name or
by a `__name__` equality matcher; one without (`{job="a"}`, `{__name__=~"a.*"}`) reads every name
(EVERY_NAME). A recording rule writes its record; an alerting rule writes ALERTS and
ALERTS_FOR_STATE.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import promql_parser

from obskit.spec import promql

EVERY_NAME = "*"  # what a selector without a metric name reads
ALERT_SERIES = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


def nodes(expr: Any) -> Iterator[Any]:
    """Every node of a parsed PromQL expression, itself included."""
    pending = [expr]
    while pending:
        node = pending.pop()
        yield node
        for attribute in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(node, attribute, None)
            if child is not None and not isinstance(child, str | int | float):
                pending.append(child)
        if isinstance(node, promql_parser.Call):
            pending.extend(node.args)


def selected_name(selector: Any) -> str:
    """The metric name a vector selector reads, or EVERY_NAME."""
    if selector.name:
        return str(selector.name)
    if selector.matchers.or_matchers:
        return EVERY_NAME
    names = [
        matcher.value
        for matcher in selector.matchers.matchers
        if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal
    ]
    return names[0] if names else EVERY_NAME


def names_read(parsed: Any) -> frozenset[str]:
    """The metric names a parsed expression selects."""
    return frozenset(selected_name(node) for node in nodes(parsed) if isinstance(node, promql_parser.VectorSelector))


@lru_cache(maxsize=4096)  # a shape's rules come again for each of its test files
def reads(expr: str) -> frozenset[str]:
    """The metric names a PromQL expression selects; raises ValueError when it is not PromQL."""
    return names_read(promql.parse(expr))


def series_name(series: str) -> str:
    """The metric name of a unit test's input series (`name{labels}`); ValueError if it is none."""
    selector = promql.parse(series)
    if not isinstance(selector, promql_parser.VectorSelector):
        raise ValueError(f"not a series: {series!r}")
    return selected_name(selector)


def writer(rule: dict[str, Any]) -> str:
    """What a rule writes, told apart from every other rule's output: its record, or `ALERTS:` and its alert."""
    return f"ALERTS:{rule['alert']}" if "alert" in rule else str(rule["record"])


def writes(rule: dict[str, Any]) -> frozenset[str]:
    """The metric names a rule writes."""
    return ALERT_SERIES if "alert" in rule else frozenset({str(rule["record"])})


def overlap(written: frozenset[str], read: frozenset[str]) -> bool:
    """Whether any name written is among those read (EVERY_NAME standing for any name)."""
    return bool(written & read) or bool(written and read and EVERY_NAME in written | read)
