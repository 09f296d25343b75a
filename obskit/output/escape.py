"""The one place where a value from the spec becomes text of another language, or is refused.

obskit writes spec values into PromQL (selectors, promtool series), Alertmanager matchers,
relabeling replacements, Go templates (Prometheus expands alert labels and annotations,
Alertmanager a Slack channel and email addresses) and Markdown (runbooks). Each language
has one quoting function here; what no quoting can make safe is refused at validation by the
`*_problem` functions, which the spec's schema calls. YAML and JSON are written by their own
emitters in this package, which quote whatever they are given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from obskit.shown import shown

Matcher = tuple[str, str, str]  # (label, operator, value)

# --- PromQL and Alertmanager matchers -------------------------------------------------------


def quoted(value: str) -> str:
    """A double-quoted string as PromQL (and promtool's series notation) and Alertmanager's
    matchers read it: both unescape exactly \\\\, \\" and \\n, and refuse a raw line break."""
    return f'"{string_body(value)}"'


def string_body(value: str) -> str:
    """The inside of a double-quoted PromQL string: what a template's `"[[job]]"` is filled with."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def matchers(pairs: Iterable[Matcher]) -> str:
    """`label op "value"` joined by commas, the inside of a PromQL selector's braces."""
    return ",".join(f"{label}{op}{quoted(value)}" for label, op, value in pairs)


def selector(metric: str, pairs: Iterable[Matcher] = ()) -> str:
    """A PromQL series selector; `metric` may be empty for a bare `{...}`."""
    inner = matchers(pairs)
    return f"{metric}{{{inner}}}" if inner or not metric else metric


def label_selector(labels: dict[str, str]) -> str:
    """`{a="x",b="y"}`: equality matchers for every label, in the order given."""
    return selector("", [(name, "=", value) for name, value in labels.items()])


def am_matcher(label: str, op: str, value: str) -> str:
    """One matcher of an Alertmanager route or inhibit rule (or an amtool label argument)."""
    return f"{label}{op}{quoted(value)}"


def relabel_replacement(value: str) -> str:
    """A relabeling `replacement`: Prometheus expands `$1` and `${name}` in it, and `$$` is one `$`."""
    return value.replace("$", "$$")


# --- Go templates ------------------------------------------------------------------------------

# The only template action obskit's alert texts may carry: print one of the alert's labels.
LABEL_TEMPLATE = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


# How Go template text spells a literal `{{`: an action printing the string "{{".
LITERAL_OPEN = '{{ "{{" }}'
_EXPANDED = re.compile(LABEL_TEMPLATE.pattern + "|" + re.escape(LITERAL_OPEN))


def template_text(value: str) -> str:
    """`value` as Go template text that prints it as written (alert annotations)."""
    return value.replace("{{", LITERAL_OPEN)


def expand_templates(text: str, labels: dict[str, str]) -> str:
    """What Prometheus prints for template text obskit wrote: `{{ $labels.x }}` with the alert's
    label (`<no value>` when it has none), and template_text's literal braces as braces."""
    return _EXPANDED.sub(
        lambda match: "{{" if match.group(1) is None else labels.get(match.group(1), "<no value>"), text
    )


def template_value_problem(value: str) -> str | None:
    """A value that lands in Go template text as it is (an alert label, a Slack channel, an
    email address): it must hold no template action."""
    if "{{" in value:
        return (
            f"{shown(value)} contains '{{{{', which Prometheus and Alertmanager expand as a template: "
            "remove it (labels and routing values are plain text)"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """A value obskit puts on every alert and its routing: printable text on one line, no template."""
    if value == "":
        return "an empty value: Prometheus drops a label whose value is empty, so leave the label out"
    if not value.isprintable():
        return f"{shown(value)} must be printable text on one line (no line breaks, tabs or control characters)"
    return template_value_problem(value)


def annotation_problem(value: str) -> str | None:
    """Alert annotation text: any text (UTF-8) whose only template actions print a label."""
    if _unencodable(value):
        return f"{shown(value)} is not valid Unicode text"
    if "{{" in LABEL_TEMPLATE.sub("", value):
        return f"{shown(value)}: the only templates allowed are {{{{ $labels.name }}}}; write other braces differently"
    return None


def _unencodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which YAML's \\ud800 escapes can spell
        return True
    return False


# --- Grafana ------------------------------------------------------------------------------------

# What Grafana replaces in a dashboard's queries with a variable's value: $name, ${name...}, [[name]].
_GRAFANA_VARIABLE = re.compile(r"\$\w|\$\{|\[\[")


def dashboard_value_problem(value: str) -> str | None:
    """A label value the dashboards' queries select on (an environment label): Grafana has no
    escape for its variable syntax, so a value that spells a variable is refused."""
    problem = label_value_problem(value)
    if problem is None and _GRAFANA_VARIABLE.search(value):
        return (
            f"{shown(value)} holds '$name', '${{' or '[[', which Grafana replaces with a variable "
            "in the dashboards' queries"
        )
    return problem


# --- Markdown ----------------------------------------------------------------------------------

# Characters with a meaning in CommonMark inline text (and GFM tables, strikethrough), escaped with
# a backslash, which CommonMark allows before any ASCII punctuation; `_` only where it could open
# or close emphasis (not between two letters or digits, as in snake_case).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>&|~#]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def markdown_text(value: str) -> str:
    """Text that Markdown shows as written, on the line it stands on."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(value.splitlines()))


_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def markdown_with_code(value: str) -> str:
    """Text that Markdown shows as written but for its code spans, kept as code (where Markdown
    reads nothing): a step someone wrote with a command in backticks, on one line."""
    value = " ".join(value.splitlines())
    parts, last = [], 0
    for match in _CODE_SPAN.finditer(value):
        parts += [markdown_text(value[last : match.start()]), match.group(0)]
        last = match.end()
    return "".join([*parts, markdown_text(value[last:])])


def markdown_code(value: str) -> str:
    """An inline code span showing `value` as written: fenced by more backticks than it holds."""
    value = " ".join(value.splitlines())
    ticks = "`" * (max(map(len, re.findall("`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def markdown_block(code: str, info: str = "") -> str:
    """A fenced code block holding `code`: the fence is longer than any backtick run in it."""
    fence = "`" * max(3, max(map(len, re.findall("`+", code)), default=0) + 1)
    return f"{fence}{info}\n{code}\n{fence}"
