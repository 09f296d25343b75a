"""Concrete series for unit tests: label values that satisfy (or violate) a selector's matchers.

Regex matchers get the shortest string their pattern accepts, built from Python's own
regex parser and confirmed with a full match, as Prometheus anchors label regexes. A value a
matcher must not take (the other side of `!=` and `!~`, or of a matcher to violate) is found
among generated candidates, each checked against every matcher.
"""

from __future__ import annotations

import re

# The regex parser behind `re` (re._parser since 3.11; typeshed knows it by its old name).
import re._constants as sre_constants  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import product
from typing import Any

from obskit.shown import shown
from obskit.spec.promql import Selector

Matcher = tuple[str, str, str]
FALLBACK_VALUES = ("obskit", "ok", "200", "0", "x")


class SeriesError(ValueError):
    """No label values can satisfy the selectors as asked; `regex`: because of a regex Python
    cannot read or build a value for (RE2 has constructs Python lacks)."""

    def __init__(self, message: str, regex: bool = False) -> None:
        super().__init__(message)
        self.regex = regex


def _shortest(parsed: Iterable[tuple[Any, Any]]) -> str:
    text = ""
    for op, arg in parsed:
        if op == sre_constants.LITERAL:
            text += chr(arg)
        elif op == sre_constants.ANY:
            text += "0"  # "5.." becomes "500", a plausible status code
        elif op == sre_constants.IN:
            text += _in_class(arg)
        elif op == sre_constants.BRANCH:
            text += min((_shortest(branch) for branch in arg[1]), key=len)
        elif op == sre_constants.SUBPATTERN:
            text += _shortest(arg[-1])
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            low, _high, inner = arg
            text += _shortest(inner) * low
        elif op == sre_constants.AT:
            continue
        elif op == sre_constants.NOT_LITERAL:
            text += "a" if chr(arg) != "a" else "b"
        else:
            raise SeriesError(f"regex construct {op} is not supported for test series")
    return text


_CATEGORY_EXAMPLES = {
    sre_constants.CATEGORY_DIGIT: "0",
    sre_constants.CATEGORY_NOT_DIGIT: "a",
    sre_constants.CATEGORY_WORD: "a",
    sre_constants.CATEGORY_NOT_WORD: "-",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_SPACE: "a",
}


def _in_class(items: list[tuple[Any, Any]]) -> str:
    if items and items[0][0] == sre_constants.NEGATE:
        excluded = re.compile("[" + "".join(_describe_item(item) for item in items[1:]) + "]")
        for candidate in "abcxyz0123456789-_":
            if not excluded.fullmatch(candidate):
                return candidate
        raise SeriesError("cannot find a character outside a negated class")
    op, arg = items[0]
    if op == sre_constants.LITERAL:
        return chr(arg)
    if op == sre_constants.RANGE:
        return chr(arg[0])
    if op == sre_constants.CATEGORY:
        return _CATEGORY_EXAMPLES[arg]
    raise SeriesError(f"character class item {op} is not supported for test series")


def _describe_item(item: tuple[Any, Any]) -> str:
    op, arg = item
    if op == sre_constants.LITERAL:
        return re.escape(chr(arg))
    if op == sre_constants.RANGE:
        return f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}"
    if op == sre_constants.CATEGORY:
        return {
            sre_constants.CATEGORY_DIGIT: r"\d",
            sre_constants.CATEGORY_WORD: r"\w",
            sre_constants.CATEGORY_SPACE: r"\s",
        }.get(arg, "")
    return ""


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise SeriesError(f"cannot read the regex {shown(pattern)}: {err}", regex=True) from None


@cache
def regex_example(pattern: str) -> str:
    try:
        example = _shortest(sre_parse.parse(pattern))
    except (re.error, SeriesError, KeyError) as err:
        raise SeriesError(f"cannot build a label value for the regex {shown(pattern)}: {err}", regex=True) from None
    if not _compiled(pattern).fullmatch(example):
        raise SeriesError(f"cannot build a label value for the regex {shown(pattern)}", regex=True)
    return example


def holds(matcher: Matcher, value: str) -> bool:
    _label, op, expected = matcher
    if op == "=":
        return value == expected
    if op == "!=":
        return value != expected
    matched = _compiled(expected).fullmatch(value) is not None
    return matched if op == "=~" else not matched


# Values tried when a label must avoid some values or patterns: plausible ones first, then every
# printable character and pairs of them, then longer text, which a regex of bounded length refuses.
_OTHER_CHARACTERS = "abcxyzABCXYZ0123456789-_.:/@+=,;#%&*!?~^$()[]{}<>|'\"\\ "
_MAX_PAIRS = 2000


def _other_values() -> Iterator[str]:
    yield from FALLBACK_VALUES
    yield ""
    yield from _OTHER_CHARACTERS
    for count, (first, second) in enumerate(product(_OTHER_CHARACTERS, repeat=2)):
        if count == _MAX_PAIRS:
            break
        yield first + second
    for length in (3, 8, 64, 256):
        yield "obskit" * length


def _candidates(constraints: list[Matcher], must_fail: Matcher | None) -> Iterator[str]:
    """Values to try for a label: what its positive matchers name, what the matcher to violate
    excludes (its `!=` value, an example of its `!~` regex), then values to avoid the rest."""
    for _label, op, value in constraints:
        if op == "=":
            yield value
        elif op == "=~":
            yield regex_example(value)
    if must_fail is not None:
        _label, op, value = must_fail
        if op == "!=":
            yield value
        elif op == "!~":
            yield regex_example(value)
    yield from _other_values()


def satisfying_labels(matchers: Iterable[Matcher], violate: Matcher | None = None) -> dict[str, str]:
    """Labels (empty value = label absent) that hold every matcher, and fail `violate` if given."""
    by_label: dict[str, list[Matcher]] = {}
    for matcher in matchers:
        by_label.setdefault(matcher[0], []).append(matcher)
    if violate is not None:
        by_label.setdefault(violate[0], [])
    labels: dict[str, str] = {}
    for label, constraints in sorted(by_label.items()):
        must_fail = violate if violate is not None and violate[0] == label else None
        for value in _candidates(constraints, must_fail):
            if all(holds(c, value) for c in constraints) and (must_fail is None or not holds(must_fail, value)):
                if value:
                    labels[label] = value
                break
        else:
            raise SeriesError(
                f"no value of label {shown(label)} satisfies {_matchers_text(constraints)}"
                + (f" while failing {_matchers_text([must_fail])}" if must_fail else "")
            )
    return labels


def _matchers_text(matchers: list[Matcher]) -> str:
    """Matchers as PromQL writes them: {code!~"2..",code!="404"}."""
    return Selector("", tuple(matchers)).with_name("")


def series_text(metric: str, labels: dict[str, str]) -> str:
    return Selector(metric, tuple((name, "=", labels[name]) for name in sorted(labels))).with_name(metric)


def event_series(errors: Selector, total: Selector) -> tuple[str, str]:
    """(error series, success series) for a ratio SLI. When both selectors read one metric the
    total counts the error series too, so a success series is needed that `total` selects and
    `errors` does not; with two metrics the second item is the total series itself."""
    if errors.metric != total.metric:
        return (
            series_text(errors.metric, satisfying_labels(errors.matchers)),
            series_text(total.metric, satisfying_labels(total.matchers)),
        )
    error_labels = satisfying_labels((*errors.matchers, *total.matchers))
    for matcher in errors.matchers:
        if matcher in total.matchers:
            continue
        try:
            success_labels = satisfying_labels(total.matchers, violate=matcher)
        except SeriesError:
            continue
        return series_text(errors.metric, error_labels), series_text(total.metric, success_labels)
    raise SeriesError(f"every series that {total} selects is also an error by {errors}; nothing can succeed")
