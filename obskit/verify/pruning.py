"""A unit-test file's tests, each run with the rule groups that can change its outcome.

promtool evaluates every group of a test file's rule files at every step of every test, up to
the test's last `eval_time`; most of a service's tests feed a few of its groups (a test of the
platform alerts never reaches the SLI recording rules). This module splits a test file into
parts, the tests that reach the same groups, each part with a rule file of those groups only.

What promtool computes is the same. Say a series is *present* in a test if it is an input, or
written by a kept group, or is a rule's *own sample*: what the rule yields when none of the
series it selects exists (nothing, or one sample such as `vector(1)`'s or `absent()`'s, whose
labels this module computes; a rule it cannot tell about keeps its group). A test keeps a group
when the group:

* holds an alert the test names;
* selects a metric name that is present (a selector without a name selects every name);
* writes an own sample whose name a kept group or one of the test's expressions reads;
* writes an own sample whose name an input series has (the two could be one series, written
  twice: an evaluation error, which fails the test); or
* has an own sample that another rule could also write: another own sample with the same name
  and labels, or a rule of another group writing that name unless it selects no series at all
  and its own sample is told.

Take a group left out. None of the series it selects is ever there: the first such series
would be an input, or written by a kept group, or an own sample (all present, and the group
would be kept), or written otherwise by a group left out before that group saw a series of its
own, which cannot be. So each of its rules yields exactly its own sample at every step, or
nothing:

* it changes nothing that is read: no kept group and no expression of the test reads its names;
* it meets no evaluation error: a sample alone breaks no limit and meets no matching or label
  set error, no input has its name, and no other rule writes the same series (the last two
  points above);
* it holds no alert the test names.

So the kept groups read the same series and fail alike at every step, and the tests' alerts and
expressions see the same. A group's own interval is not used by unit tests; `group_eval_order`
keeps its kept names in their order. Template actions beyond printing a label or the value
(such as `query`) are refused earlier, by the shape audit (obskit.verify.shapes).

The parts are cut from the files' text, line by line, so that every value reads exactly as
written. Anything this module does not expect (flow style, text it cannot parse) leaves the
file whole.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import promql_parser
import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from obskit.spec import promql, series_flow
from obskit.spec.series_flow import EVERY_NAME, names_read

_SCALAR, _STRING = promql_parser.ValueType.Scalar, promql_parser.ValueType.String


class _Unexpected(Exception):
    """Text this module does not split; the file runs whole."""


class _Nothing:
    """An expression's result when none of the series it selects exists: no sample."""


NOTHING = _Nothing()
Labels = frozenset[tuple[str, str]]
# What an expression yields when none of the series it selects exists: NOTHING, at most one
# sample with these labels, or None when this module cannot tell.
Alone = _Nothing | Labels | None


@dataclass(frozen=True)
class _Group:
    reads: frozenset[str]
    writes: frozenset[str]  # metric names
    alerts: frozenset[str]
    alone: tuple[tuple[str, Labels], ...]  # each rule's one sample when nothing it reads exists: (writer, labels)
    alone_writes: frozenset[str]  # the metric names of those samples
    unknown: bool  # a rule whose result without series this module cannot tell
    # the writers (record name, or ALERTS: and the alert's name) of rules that may write any series
    # under their name: rules that select series, and those whose result without series is not told
    selecting: frozenset[str]


@dataclass(frozen=True)
class Part:
    """Tests of one file that reach the same rule groups: their file, and the rule file of those groups."""

    test_path: str
    test_text: str
    rule_path: str
    rule_text: str
    tests: int
    groups: int  # rule groups kept, of `of`
    of: int


def _kind(node: Any) -> str:
    """The expression's type: "vector" (a range vector too), "scalar" or "string"."""
    if isinstance(node, promql_parser.NumberLiteral):
        return "scalar"
    if isinstance(node, promql_parser.StringLiteral):
        return "string"
    if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr):
        return _kind(node.expr)
    if isinstance(node, promql_parser.BinaryExpr):
        return "scalar" if _kind(node.lhs) == _kind(node.rhs) == "scalar" else "vector"
    if isinstance(node, promql_parser.Call):
        returns = node.func.return_type
        return "scalar" if returns == _SCALAR else "string" if returns == _STRING else "vector"
    return "vector"


def _absent_labels(argument: Any) -> Alone:
    """absent()'s labels: those matched by equality, to a value that is not empty (Prometheus'
    createLabelsForAbsentFunction). A label matched twice is read differently by Prometheus 2
    and 3: not told."""
    selector = argument.vector_selector if isinstance(argument, promql_parser.MatrixSelector) else argument
    if not isinstance(selector, promql_parser.VectorSelector):
        return frozenset()
    matchers = [matcher for matcher in selector.matchers.matchers if matcher.name != "__name__"]
    names = [matcher.name for matcher in matchers]
    if selector.matchers.or_matchers or len(set(names)) != len(names):
        return None
    return _labels({matcher.name: matcher.value for matcher in matchers if matcher.op == promql_parser.MatchOp.Equal})


def _labels(labels: dict[str, str]) -> Labels:
    """A label set as Prometheus keeps it: a label with an empty value is no label."""
    return frozenset((name, value) for name, value in labels.items() if value)


def alone(node: Any) -> Alone:
    """What the expression yields when none of the series it selects exists (an upper bound)."""
    if _kind(node) != "vector":
        return frozenset()  # a scalar, recorded as one sample without labels
    if isinstance(node, promql_parser.VectorSelector | promql_parser.MatrixSelector):
        return NOTHING
    if isinstance(node, promql_parser.Call):
        if node.func.name == "vector" or not node.args:  # hour() is hour(vector(time()))
            return frozenset()
        if node.func.name in ("absent", "absent_over_time"):
            return _absent_labels(node.args[0])
        vectors = [arg for arg in node.args if _kind(arg) == "vector"]
        # every other function keeps a subset of its (first) vector's series
        return NOTHING if vectors and alone(vectors[0]) is NOTHING else None
    if isinstance(node, promql_parser.BinaryExpr):
        left, right = node.lhs, node.rhs
        if _kind(left) != "vector" or _kind(right) != "vector":  # a vector and a scalar: that vector's series
            return alone(left if _kind(left) == "vector" else right)
        mine, theirs = alone(left), alone(right)
        operator = str(node.op)
        if operator == "or":
            if mine is NOTHING or theirs is NOTHING:
                return theirs if mine is NOTHING else mine
            return mine if mine == theirs else None
        if operator == "unless":
            return mine
        if mine is NOTHING or theirs is NOTHING:  # `and`, arithmetic and comparison need both sides
            return NOTHING
        return mine if operator == "and" else None
    if isinstance(node, promql_parser.AggregateExpr):
        return NOTHING if alone(node.expr) is NOTHING else None
    return alone(node.expr)  # parentheses, minus, subquery


def _parsed(expr: str) -> Any:
    try:
        return promql.parse(expr)
    except ValueError:
        raise _Unexpected(f"not PromQL: {expr!r}") from None


def reads(expr: str) -> frozenset[str]:
    """The metric names a PromQL expression selects (EVERY_NAME for a selector without one)."""
    try:
        return series_flow.reads(expr)
    except ValueError:
        raise _Unexpected(f"not PromQL: {expr!r}") from None


def _group(group: Any) -> _Group:
    if not isinstance(group, dict) or not isinstance(group.get("rules"), list):
        raise _Unexpected("a rule group without rules")
    names: set[str] = set()
    writes: set[str] = set()
    alerts: set[str] = set()
    outputs: list[tuple[str, Labels]] = []
    alone_writes: set[str] = set()
    selecting: set[str] = set()
    unknown = False
    for rule in group["rules"]:
        if not isinstance(rule, dict) or not isinstance(rule.get("expr"), str):
            raise _Unexpected("a rule without an expression")
        parsed = _parsed(rule["expr"])
        rule_reads = names_read(parsed)
        names |= rule_reads
        written = series_flow.writes(rule)
        writer = series_flow.writer(rule)
        writes |= written
        if rule_reads:
            selecting.add(writer)
        if "alert" in rule:
            alerts.add(str(rule["alert"]))
        result = alone(parsed)
        if result is NOTHING:
            continue
        labels = dict(result) if isinstance(result, frozenset) else None
        rule_labels = {str(name): str(value) for name, value in (rule.get("labels") or {}).items()}
        if labels is None or any("{{" in value for value in rule_labels.values()):
            unknown = True
            selecting.add(writer)
            continue
        outputs.append((writer, _labels({**labels, **rule_labels})))
        alone_writes |= written
    return _Group(
        frozenset(names),
        frozenset(writes),
        frozenset(alerts),
        tuple(outputs),
        frozenset(alone_writes),
        unknown,
        frozenset(selecting),
    )


def _droppable(groups: list[_Group]) -> list[bool]:
    """Whether each group may be left out when nothing it reads exists: each of its samples then is
    one no other rule can write (no other rule's own sample has its name and labels, and no rule of
    another group writes its name unless that rule selects no series, writing its own sample only,
    which this module tells)."""
    counted: dict[tuple[str, Labels], int] = {}
    for group in groups:
        for output in group.alone:
            counted[output] = counted.get(output, 0) + 1
    verdicts = []
    for index, group in enumerate(groups):
        others = [other for number, other in enumerate(groups) if number != index]
        verdicts.append(
            not group.unknown
            and all(counted[output] == 1 for output in group.alone)
            and not any(writer in other.selecting for writer, _ in group.alone for other in others)
        )
    return verdicts


def _input_names(test: dict[str, Any]) -> set[str]:
    try:
        return {series_flow.series_name(str(series["series"])) for series in test.get("input_series") or []}
    except ValueError:
        raise _Unexpected("an input series that is not a selector") from None


def kept_groups(groups: list[_Group], droppable: list[bool], test: dict[str, Any]) -> frozenset[int]:
    """The groups (by index) that can change the test's outcome. Every other group reads only
    series that never exist in the test, and writes at most its one sample per rule, which no
    kept group and no expression of the test reads, and no input series has."""
    named = {str(case.get("alertname")) for case in test.get("alert_rule_test") or []}
    tested = set().union(*(reads(str(case["expr"])) for case in test.get("promql_expr_test") or []))
    inputs = _input_names(test)
    kept = {
        index
        for index, group in enumerate(groups)
        if group.alerts & named
        or (group.alone and not droppable[index])
        or group.unknown
        or group.alone_writes & inputs
    }
    present = inputs.union(*(group.alone_writes for group in groups))
    while True:
        present |= {name for index in kept for name in groups[index].writes}
        read = tested.union(*(groups[index].reads for index in kept))
        more = {
            index
            for index, group in enumerate(groups)
            if index not in kept
            and (
                EVERY_NAME in group.reads
                or group.reads & present
                or EVERY_NAME in present
                or (group.alone_writes and (group.alone_writes & read or EVERY_NAME in read))
            )
        }
        if not more:
            return frozenset(kept)
        kept |= more


def _lines_of_items(sequence: Any) -> list[tuple[int, int]]:
    """Each item of a block sequence as a range of lines: from its own line to the next item's."""
    if not isinstance(sequence, yaml.SequenceNode) or sequence.flow_style:
        raise _Unexpected("not a block sequence")
    starts = [item.start_mark.line for item in sequence.value]
    if len(set(starts)) != len(starts):
        raise _Unexpected("two items on one line")
    return list(zip(starts, [*starts[1:], sequence.end_mark.line], strict=True))


def _top_level(text: str) -> dict[str, Any]:
    root = yaml.compose(text, Loader=_Loader)
    if not isinstance(root, yaml.MappingNode):
        raise _Unexpected("not a mapping")
    return {str(key.value): value for key, value in root.value}


def _without_items(lines: list[str], dropped: Iterable[tuple[int, int]]) -> list[str]:
    gone = {line for first, end in dropped for line in range(first, end)}
    return [line for number, line in enumerate(lines) if number not in gone]


@dataclass(frozen=True)
class _RuleFile:
    """A rule file read once for all the test files that load it."""

    lines: list[str]
    spans: list[tuple[int, int]]  # each group's lines
    names: list[str]
    groups: list[_Group]
    droppable: list[bool]

    def text(self, keep: frozenset[int]) -> str:
        return "".join(_without_items(self.lines, [span for i, span in enumerate(self.spans) if i not in keep]))


@lru_cache(maxsize=4)  # the test files of a shape come one after another
def _rule_file(text: str) -> _RuleFile:
    document = yaml.load(text, Loader=_Loader)
    groups = [_group(group) for group in document["groups"]]
    spans = _lines_of_items(_top_level(text).get("groups"))
    names = [str(group["name"]) for group in document["groups"]]
    return _RuleFile(text.splitlines(keepends=True), spans, names, groups, _droppable(groups))


def _test_text(text: str, tests: set[int], group_names: set[str], rule_path: str) -> str:
    top = _top_level(text)
    lines = text.splitlines(keepends=True)
    (first, end), *more = _lines_of_items(top["rule_files"])
    line = lines[first]
    if more or end != first + 1 or not line.lstrip(" ").startswith("- "):
        raise _Unexpected("rule_files not one item on one line")
    lines[first] = line[: line.index("- ") + 2] + rule_path + "\n"
    dropped = [span for index, span in enumerate(_lines_of_items(top["tests"])) if index not in tests]
    if "group_eval_order" in top:
        order = top["group_eval_order"]
        dropped += [
            span
            for item, span in zip(order.value, _lines_of_items(order), strict=True)
            if str(item.value) not in group_names
        ]
    return "".join(_without_items(lines, dropped))


def split(test_path: str, test_text: str, rule_texts: dict[str, str]) -> list[Part] | None:
    """The test file's parts, each with the rule groups its tests reach (paths relative to the
    tree's root; the file itself as its one part when every test reaches every group), or None
    when it is not a file this module splits. `rule_texts` holds the rule files by path; a test
    file loading several is not split."""
    try:
        return _split(test_path, test_text, rule_texts)
    except (_Unexpected, yaml.YAMLError, AttributeError, KeyError, TypeError, ValueError):
        return None


def _split(test_path: str, test_text: str, rule_texts: dict[str, str]) -> list[Part] | None:
    document = yaml.load(test_text, Loader=_Loader)
    loads = document.get("rule_files") if isinstance(document, dict) else None
    if not isinstance(loads, list) or len(loads) != 1:
        return None
    rule_path = posixpath.normpath(posixpath.join(posixpath.dirname(test_path), loads[0]))
    rule_text = rule_texts[rule_path]
    rules = _rule_file(rule_text)
    by_kept: dict[frozenset[int], set[int]] = {}
    for index, test in enumerate(document["tests"]):
        # a test with no group to keep runs with the first: any superset of the kept groups computes the same
        keep = kept_groups(rules.groups, rules.droppable, test) or frozenset({0})
        by_kept.setdefault(keep, set()).add(index)
    every = len(rules.groups)
    if list(by_kept) == [frozenset(range(every))]:
        return [Part(test_path, test_text, rule_path, rule_text, len(document["tests"]), every, every)]
    parts = []
    for number, (keep, tests) in enumerate(by_kept.items(), start=1):
        stem = posixpath.basename(rule_path).removesuffix(".yaml")
        part_rules = posixpath.join(posixpath.dirname(rule_path), f"{stem}.{_stem(test_path)}.part-{number}.yaml")
        names = {rules.names[index] for index in keep}
        relative = posixpath.relpath(part_rules, posixpath.dirname(test_path))
        parts.append(
            Part(
                posixpath.join(posixpath.dirname(test_path), f"{_stem(test_path)}.part-{number}.yaml"),
                _test_text(test_text, tests, names, relative),
                part_rules,
                rules.text(keep),
                len(tests),
                len(keep),
                every,
            )
        )
    return parts


def _stem(path: str) -> str:
    return posixpath.basename(path).removesuffix(".yaml")
