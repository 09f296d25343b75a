"""What the spec's PromQL fields must be, checked with a real PromQL parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import promql_parser

from obskit.output import escape
from obskit.shown import shown

WINDOW_PLACEHOLDER = "{{window}}"
# promql-parser's Rust parser recurses per bracket and per operator: some 10,000 of either
# overflow its stack and kill the process (no exception), and a few thousand take seconds.
# Expressions written by hand stay far below these bounds.
MAX_NESTING = 64
MAX_OPERATORS = 256
MAX_LENGTH = 16384
_STRINGS = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`")
_OPERATORS_IN_TEXT = re.compile(r"[-+*/%^]|[=!<>]=|[<>]|\b(?:and|or|unless|atan2)\b", re.IGNORECASE)
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


@dataclass(frozen=True)
class Selector:
    """A parsed instant-vector selector: metric name and its matchers as written."""

    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, value)

    def with_name(self, metric: str, *extra: tuple[str, str, str]) -> str:
        """The selector text for another metric name with the same matchers (and any extra ones)."""
        return escape.selector(metric, (*self.matchers, *extra))

    def __str__(self) -> str:
        return self.with_name(self.metric)


_OPERATORS = (
    (promql_parser.MatchOp.Equal, "="),
    (promql_parser.MatchOp.NotEqual, "!="),
    (promql_parser.MatchOp.Re, "=~"),
    (promql_parser.MatchOp.NotRe, "!~"),
)


def parse(text: str) -> Any:
    """The expression parsed by promql-parser, once it is known to be small enough for the parser
    to survive; raises ValueError saying what is wrong."""
    if len(text) > MAX_LENGTH:
        raise ValueError(f"{len(text)} characters long; a PromQL expression here may have at most {MAX_LENGTH}")
    bare = _STRINGS.sub('""', text)
    depth = deepest = 0
    for char in bare:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > MAX_NESTING:
        raise ValueError(f"brackets nested {deepest} deep; at most {MAX_NESTING} are supported")
    operators = len(_OPERATORS_IN_TEXT.findall(bare))
    if operators > MAX_OPERATORS:
        raise ValueError(f"{operators} operators; an expression here may have at most {MAX_OPERATORS}")
    return promql_parser.parse(text)


def _operator(op: promql_parser.MatchOp) -> str:
    return next(text for known, text in _OPERATORS if known == op)


def parse_selector(text: str) -> Selector:
    """Parse `metric{label="value",...}`; raise ValueError saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"expected a PromQL selector string, got {shown(text)}")
    return _parsed_selector(text)


@cache  # the schema, the cross-field checks and the typed model each read every selector
def _parsed_selector(text: str) -> Selector:
    try:
        expr = parse(text)
    except ValueError as err:
        raise ValueError(f"{shown(text)} is not valid PromQL: {err}") from None
    if not isinstance(expr, promql_parser.VectorSelector):
        raise ValueError(
            f"{shown(text)} must be a plain series selector such as 'metric{{label=\"value\"}}' "
            "(no functions, ranges or operators: obskit applies rate() itself)"
        )
    if expr.offset is not None or expr.at is not None:
        raise ValueError(f"{shown(text)}: offset and @ modifiers are not allowed in a selector")
    if expr.matchers.or_matchers:
        raise ValueError(f"{shown(text)}: 'or' inside a selector is not supported by Prometheus 2.x")
    metric = expr.name or ""
    matchers: list[tuple[str, str, str]] = []
    for matcher in expr.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
            metric = metric or matcher.value
            continue
        if not matcher.value.isprintable():
            raise ValueError(
                f"{shown(text)}: the value of {matcher.name} holds a line break or a control character, "
                "which obskit cannot carry through the rules, tests and alerts that quote it"
            )
        matchers.append((matcher.name, _operator(matcher.op), matcher.value))
    if not metric:
        raise ValueError(f"{shown(text)} must name its metric (e.g. 'http_requests_total{{job=\"api\"}}')")
    return Selector(metric, tuple(matchers))


def check_histogram_selector(text: str) -> Selector:
    selector = parse_selector(text)
    if selector.metric.endswith(HISTOGRAM_SUFFIXES):
        raise ValueError(
            f"{shown(text)}: give the histogram's base name without {'/'.join(HISTOGRAM_SUFFIXES)} "
            "(obskit reads the _bucket and _count series itself)"
        )
    if any(label == "le" for label, _, _ in selector.matchers):
        raise ValueError(f"{shown(text)}: do not match on 'le'; the latency threshold chooses the bucket")
    return selector


def check_window_query(text: str) -> None:
    """A raw query must contain {{window}} and parse once a window is put in."""
    if not isinstance(text, str):
        raise ValueError(f"expected a PromQL query string, got {shown(text)}")
    if WINDOW_PLACEHOLDER not in text:
        raise ValueError(f"{shown(text)} must contain the placeholder {WINDOW_PLACEHOLDER} where the range goes")
    try:
        parse(text.replace(WINDOW_PLACEHOLDER, "5m"))
    except ValueError as err:
        raise ValueError(f"{shown(text)} is not valid PromQL with {WINDOW_PLACEHOLDER}=5m: {err}") from None
