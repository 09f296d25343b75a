"""Regular expressions as Prometheus reads them (Go's regexp, RE2 syntax), for the spec's relabelings.

promql-parser compiles a regex with Rust's engine, whose syntax is RE2's but for a few points
where Go refuses what Rust takes: stacked repetition operators (`a**`, `a++`) and repeat counts
above 1000; and Go before 1.22 (Prometheus 2) refuses the group name syntax `(?<name>...)`. Those are
checked here by a scan of the text, the rest by compiling it. Where Rust
refuses what Go takes (`\\Q...\\E`), the regex is refused: a safe mistake.
"""

from __future__ import annotations

import re

from obskit.output import escape
from obskit.shown import shown
from obskit.spec import promql

MAX_REPEAT = 1000  # Go's regexp/syntax limit on {n,m}
_COUNTED = re.compile(r"\{(\d+)(,(\d*))?\}")


def _skip_class(text: str, at: int) -> int:
    """The index after the character class starting at `at` (`[`); len(text) when unclosed."""
    at += 1
    if text.startswith("^", at):
        at += 1
    if text.startswith("]", at):  # a leading ] is a literal
        at += 1
    while at < len(text) and text[at] != "]":
        if text[at] == "\\":
            at += 2
        elif text.startswith("[:", at):
            end = text.find(":]", at + 2)
            at = end + 2 if end != -1 else at + 1
        else:
            at += 1
    return at + 1


def _skip_escape(text: str, at: int) -> int:
    """The index after the escape starting at `at` (`\\`), a braced one (`\\x{41}`, `\\p{Greek}`) whole."""
    if at + 2 < len(text) and text[at + 1] in "xpP" and text[at + 2] == "{":
        end = text.find("}", at + 3)
        return end + 1 if end != -1 else len(text)
    return at + 2


def _go_problem(text: str) -> str | None:
    """What Go refuses of the points where it differs from Rust, or None."""
    at, repeated = 0, False
    while at < len(text):
        char = text[at]
        counted = _COUNTED.match(text, at) if char == "{" else None
        if char in "*+?" or counted:
            if counted:
                low, high = int(counted.group(1)), counted.group(3)
                if low > MAX_REPEAT or (high and (int(high) > MAX_REPEAT or int(high) < low)):
                    return f"the repeat count {counted.group(0)} is invalid (at most {MAX_REPEAT})"
            if repeated:
                return "stacks repetition operators (such as `**` or `++`), which Go's regexp refuses"
            at = counted.end() if counted else at + 1
            if text.startswith("?", at):  # lazy: one `?` belongs to the operator
                at += 1
            repeated = True
            continue
        if text.startswith("(?<", at) and not text.startswith(("(?<=", "(?<!"), at):
            return "names a group (?<name>...), which Prometheus 2 refuses: write (?P<name>...)"
        repeated = False
        at = _skip_class(text, at) if char == "[" else _skip_escape(text, at) if char == "\\" else at + 1
    return None


def check(text: str) -> None:
    """Raise ValueError saying why Prometheus would refuse the regex."""
    problem = _go_problem(text)
    if problem is None:
        try:
            promql.parse(f'x{{x=~"{escape.string_body(text)}"}}')
        except ValueError:
            problem = "balanced brackets, no lookaround or backreferences"
    if problem is not None:
        raise ValueError(f"{shown(text)} is not a regular expression Prometheus accepts (RE2 syntax): {problem}")
