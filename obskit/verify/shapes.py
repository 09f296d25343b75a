"""Services whose rule and unit-test files are the same up to a renaming of their names.

`promtool test rules` costs seconds per service, and a fleet's services mostly share a few
shapes: the same tier, SLO kinds and datastores, differing only in their service, namespace
and team names. This module finds the shapes, so that promtool runs once per shape.

A service's canonical text is its files with its names (the file's service name, and its
namespace and team as its rules label them) replaced by placeholders (`§a§`, `§b§`, `§c§`: the
renaming `gen` uses, obskit.output.renaming).
Services with equal canonical text form a shape, and promtool runs on that text itself,
written out with the placeholders standing as names. Each service's files are that text
with its own names put in, one to one. The run speaks for every service of the shape when
the names can only be copied and compared for equality:

* placeholders sit only in label values of equality matchers, input and expected series and
  alert labels, in the literal text of annotations, in group names and in the test's path to
  its own rule file; no regex matcher reads a label whose values are renamed, no function
  reads or rewrites label values (label_replace, topk's ties, histogram_quantile's `le`);
* template actions only print a label or the value (`{{ $labels.job }}`,
  `{{ $value | humanizePercentage }}`), and a rule's label is literal text or one such
  action, never a concatenation that could spell a name;
* no escape sequence can spell a name past the renaming (no double-quoted YAML, matcher
  values written as they read), and every plain YAML scalar with a name in it reads as text
  whatever the name (it starts with the name or a letter and is too long for `true`);
* names are lower-case letters, digits and dashes, at least three long, starting with a
  letter, and not YAML or PromQL words.

Since the placeholders' `§` is in no file, a placeholder is never made or broken by joining
strings, so what promtool computes for a service is what it computes for the shared text with
the service's names put in. When the shared text fails, each service of the shape is tested
on its own: a failure is then reported against the real files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from obskit.output import layout, renaming
from obskit.output.renaming import CRON, NAME, PLACEHOLDER, placeholder
from obskit.output.renaming import MARK as MARK  # the object check (verify.tree) reads it here
from obskit.spec import promql
from obskit.spec.series_flow import nodes

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

RULE_FILES = layout.RULE_FILES
TEST_FILES = layout.TEST_FILES
# Characters no YAML number, boolean, null or timestamp has: a plain scalar with one is text.
_ONLY_IN_TEXT = set("{}()[]\"'/,*|@!#%&?;`")
# How obskit's rules label a service's namespace and team; the service name is the file's.
_LABELLED = {role: re.compile(rf"^ +{role}: ({NAME.pattern})$", re.MULTILINE) for role in ("namespace", "team")}
# Functions whose result depends on label values beyond their equality.
_LABEL_READERS = {"label_replace", "label_join", "sort_by_label", "sort_by_label_desc", "info"}
_NUMERIC_LABELS = {"le", "quantile"}  # read as numbers by histogram_quantile and summaries
_TIE_BREAKERS = {"topk", "bottomk", "limitk", "limit_ratio"}
_PRINTED_LABEL = r"\{\{ ?\$labels\.[A-Za-z_][A-Za-z0-9_]* ?\}\}"
_HUMANIZE = "humanize|humanize1024|humanizePercentage|humanizeDuration|humanizeTimestamp"
_PRINTED_VALUE = rf"\{{\{{ ?\$value(?: \| (?:{_HUMANIZE}))? ?\}}\}}"
_ALLOWED_ACTIONS = re.compile(rf"{_PRINTED_LABEL}|{_PRINTED_VALUE}")


@dataclass(frozen=True)
class Unit:
    """One service's files that promtool reads, relative to the tree's root."""

    service: str
    rule_file: str
    test_files: tuple[str, ...]


@dataclass(frozen=True)
class Shape:
    """Services tested together: one service's own files, or for several the shared text's
    (`files`, by path, the placeholders standing as names) that promtool runs instead."""

    unit: Unit
    services: tuple[str, ...]
    files: tuple[tuple[str, str], ...] = ()

    @property
    def shared(self) -> bool:
        return bool(self.files)


def units(root: Path) -> list[Unit]:
    """Each service's plain rule file and the unit-test files that load it."""
    tests: dict[str, list[str]] = {}
    for path in sorted((root / TEST_FILES).glob(f"*{layout.TEST_FILE_SUFFIX}")):
        tests.setdefault(path.name.split(".", 1)[0], []).append(path.relative_to(root).as_posix())
    return [
        Unit(name, path.relative_to(root).as_posix(), tuple(tests.get(name, ())))
        for path in sorted((root / RULE_FILES).glob(f"*{layout.RULE_FILE_SUFFIX}"))
        if (name := path.name.removesuffix(layout.RULE_FILE_SUFFIX))
    ]


def names(unit: Unit, rule_text: str) -> list[str]:
    """The names renamed between services of a shape, in a fixed order of roles."""
    found = [unit.service]
    for pattern in _LABELLED.values():
        match = pattern.search(rule_text)
        found.append(match.group(1) if match else "")
    return found


def canonical(texts: list[str], found: list[str]) -> str | None:
    """The texts, joined, with the names replaced by placeholders (obskit.output.renaming), or
    None when a name is unfit or the texts could be mistaken for placeholders."""
    return renaming.canonical("\0".join(texts), found)


class _Unsound(Exception):
    """The shared text puts a placeholder where a renaming could change promtool's outcome."""


class _Audit:
    """Walks a shape's canonical files and raises _Unsound at the first doubtful placeholder."""

    def __init__(self) -> None:
        self.renamed_labels: set[str] = set()
        self.regex_labels: set[str] = set()

    def plain(self, value: Any, where: str) -> None:
        if MARK in str(value):
            raise _Unsound(f"{where}: a renamed name in {value!r}")

    def label_set(self, labels: Any, where: str, templated: bool = False) -> None:
        """Label names are never renamed; a value is literal or, in a rule, one printed label."""
        if labels is None:
            return
        if not isinstance(labels, dict):
            raise _Unsound(f"{where}: not a label map")
        for name, value in labels.items():
            self.plain(name, where)
            text = str(value)
            if "{{" in text or "}}" in text:
                if not templated or re.fullmatch(_PRINTED_LABEL, text) is None:
                    raise _Unsound(f"{where}: label {name} is built by a template")
                self.renamed_labels.add(str(name))
            elif MARK in text:
                self.renamed_labels.add(str(name))

    def template(self, text: Any, where: str) -> None:
        """Literal text may hold renamed names; template actions may only print a label or the value."""
        rest = _ALLOWED_ACTIONS.sub("", str(text))
        if "{{" in rest or "}}" in rest:
            raise _Unsound(f"{where}: a template action beyond printing a label or the value")

    def promql(self, text: Any, where: str) -> None:
        text = str(text)
        try:
            expr = promql.parse(text)
        except ValueError as err:
            raise _Unsound(f"{where}: {err}") from None
        equal_values: list[str] = []
        strings: list[str] = []
        for node in nodes(expr):
            if isinstance(node, promql_parser.VectorSelector):
                self.plain(node.name or "", where)
                for matchers in [node.matchers.matchers, *node.matchers.or_matchers]:
                    for matcher in matchers:
                        strings.append(matcher.value)
                        if matcher.op in (promql_parser.MatchOp.Re, promql_parser.MatchOp.NotRe):
                            self.regex_labels.add(matcher.name)
                        elif MARK in matcher.value:
                            if matcher.name == "__name__":
                                raise _Unsound(f"{where}: a renamed metric name")
                            if not any(f"{quote}{matcher.value}{quote}" in text for quote in "\"'`"):
                                raise _Unsound(f"{where}: a matcher value written with escapes")
                            self.renamed_labels.add(matcher.name)
                            equal_values.append(matcher.value)
            elif isinstance(node, promql_parser.StringLiteral):
                strings.append(node.val)
            elif isinstance(node, promql_parser.Call) and node.func.name in _LABEL_READERS:
                raise _Unsound(f"{where}: {node.func.name}() reads label values")
            elif isinstance(node, promql_parser.AggregateExpr) and str(node.op).lower() in _TIE_BREAKERS:
                raise _Unsound(f"{where}: {node.op} breaks ties by labels")
        # every placeholder, as written and as read, is one of an equality matcher's value
        placed = sum(value.count(MARK) for value in equal_values)
        if text.count(MARK) != placed or sum(value.count(MARK) for value in strings) != placed:
            raise _Unsound(f"{where}: a renamed name outside equality matchers")

    def check_labels(self) -> None:
        both = self.regex_labels & self.renamed_labels
        if both:
            raise _Unsound(f"a regex matcher reads label {sorted(both)[0]}, whose values are renamed")
        numeric = _NUMERIC_LABELS & self.renamed_labels
        if numeric:
            raise _Unsound(f"label {sorted(numeric)[0]} is read as a number, and its values are renamed")


def yaml_reads_names_as_text(text: str) -> bool:
    """Whether the YAML text (with placeholders) reads alike for any names put in."""
    try:
        _yaml_reads_names_as_text(text, "")
    except (_Unsound, yaml.YAMLError):
        return False
    return True


def _yaml_reads_names_as_text(text: str, where: str) -> None:
    """No double-quoted scalar (its escapes could spell a name), and every plain scalar with a
    placeholder reads as text for any name: it is the name, or holds a character no YAML number
    or word has, or starts with a name or a letter and is too long to be a YAML word."""
    pending = list(yaml.compose_all(text, Loader=_Loader))
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.ScalarNode):
            value = str(node.value)
            if node.style == '"':
                raise _Unsound(f"{where}: a double-quoted scalar")
            if not node.style and MARK in value and not PLACEHOLDER.fullmatch(value):  # plain
                literal = PLACEHOLDER.sub("", value)
                names = len(PLACEHOLDER.findall(value))
                starts_as_text = (value[0].isalpha() or value[0] == MARK) and len(literal) + 3 * names >= 6
                if not starts_as_text and not _ONLY_IN_TEXT.intersection(literal):
                    raise _Unsound(f"{where}: {value!r} could read as other than text for some name")
        elif isinstance(node, yaml.MappingNode):
            pending += [item for pair in node.value for item in pair]
        elif isinstance(node, yaml.SequenceNode):
            pending += node.value


def _only(mapping: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(mapping, dict) or not set(mapping) <= allowed:
        raise _Unsound(f"{where}: fields beyond those audited")
    return mapping


_GROUP_FIELDS = {"name", "interval", "rules", "limit", "query_offset"}
_RULE_FIELDS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
_TEST_FILE_FIELDS = {"rule_files", "evaluation_interval", "group_eval_order", "tests"}
_TEST_FIELDS = {"name", "interval", "input_series", "alert_rule_test", "promql_expr_test", "external_labels"}


def _audit_rules(audit: _Audit, document: Any, where: str) -> None:
    for group in _only(document, {"groups"}, where).get("groups") or []:
        group = _only(group, _GROUP_FIELDS, where)
        for field in ("interval", "limit", "query_offset"):
            audit.plain(group.get(field, ""), where)
        for rule in group.get("rules") or []:
            rule = _only(rule, _RULE_FIELDS, where)
            for field in ("record", "alert", "for", "keep_firing_for"):
                audit.plain(rule.get(field, ""), where)
            audit.promql(rule.get("expr", ""), f"{where}: {rule.get('record') or rule.get('alert')}")
            audit.label_set(rule.get("labels"), where, templated=True)
            for name, text in (rule.get("annotations") or {}).items():
                audit.plain(name, where)
                audit.template(text, where)


def _audit_tests(audit: _Audit, document: Any, rule_file: str, where: str) -> None:
    document = _only(document, _TEST_FILE_FIELDS, where)
    if document.get("rule_files") != [rule_file]:
        raise _Unsound(f"{where}: loads rule files other than its service's")
    audit.plain(document.get("evaluation_interval", ""), where)
    for test in document.get("tests") or []:
        test = _only(test, _TEST_FIELDS, where)
        audit.plain(test.get("interval", ""), where)
        audit.label_set(test.get("external_labels"), where)
        for series in test.get("input_series") or []:
            series = _only(series, {"series", "values"}, where)
            audit.promql(series.get("series", ""), where)
            audit.plain(series.get("values", ""), where)
        for case in test.get("alert_rule_test") or []:
            case = _only(case, {"eval_time", "alertname", "exp_alerts"}, where)
            audit.plain(case.get("eval_time", ""), where)
            audit.plain(case.get("alertname", ""), where)
            for alert in case.get("exp_alerts") or []:
                alert = _only(alert, {"exp_labels", "exp_annotations"}, where)
                audit.label_set(alert.get("exp_labels"), where)
                for name in alert.get("exp_annotations") or {}:
                    audit.plain(name, where)
        for case in test.get("promql_expr_test") or []:
            case = _only(case, {"expr", "eval_time", "exp_samples"}, where)
            audit.plain(case.get("eval_time", ""), where)
            audit.promql(case.get("expr", ""), where)
            for sample in case.get("exp_samples") or []:
                sample = _only(sample, {"labels", "value", "histogram"}, where)
                audit.plain(sample.get("value", ""), where)
                audit.plain(sample.get("histogram", ""), where)
                if sample.get("labels"):
                    audit.promql(sample["labels"], where)


def unsound(unit: Unit, texts: list[str]) -> str | None:
    """Why testing this canonical unit would not speak for its shape's other services (None: it does)."""
    audit = _Audit()
    try:
        for name, text in zip((unit.rule_file, *unit.test_files), texts, strict=True):
            _yaml_reads_names_as_text(text, name)
        _audit_rules(audit, yaml.load(texts[0], Loader=_Loader), unit.rule_file)
        rule_file = Path("..", *Path(unit.rule_file).parts[1:]).as_posix()  # as the tests name it
        for name, text in zip(unit.test_files, texts[1:], strict=True):
            _audit_tests(audit, yaml.load(text, Loader=_Loader), rule_file, name)
        audit.check_labels()
    except _Unsound as err:
        return str(err)
    except yaml.YAMLError as err:
        return f"not YAML: {err}"
    return None


@dataclass(frozen=True)
class Shapes:
    found: list[Shape]
    alone: dict[str, str]  # service -> why it is tested on its own


def names_by_service(root: Path, all_units: list[Unit]) -> dict[str, list[str]]:
    """Each service's names, in the order of their roles, read from its rule file."""
    return {unit.service: names(unit, (root / unit.rule_file).read_text(encoding="utf-8")) for unit in all_units}


def shapes(root: Path, all_units: list[Unit]) -> Shapes:
    """The shapes of the tree's services, and why each service tested alone could not share one."""
    by_text: dict[str, list[Unit]] = {}
    alone: list[Unit] = []
    reasons: dict[str, str] = {}
    for unit in all_units:
        texts = [(root / name).read_text(encoding="utf-8") for name in (unit.rule_file, *unit.test_files)]
        text = canonical([name.replace(unit.service, "") for name in unit.test_files] + texts, names(unit, texts[0]))
        if text is None:
            alone.append(unit)
            reasons[unit.service] = "its names could be mistaken for YAML or PromQL syntax"
        else:
            by_text.setdefault(text, []).append(unit)
    found = [Shape(unit, (unit.service,)) for unit in alone]
    for text, members in by_text.items():
        if len(members) == 1:
            found.append(Shape(members[0], (members[0].service,)))
            continue
        parts = text.split("\0")[len(members[0].test_files) :]
        unit = _canonical_unit(members[0])
        why = unsound(unit, parts)
        if why is None:
            files = tuple(zip((unit.rule_file, *unit.test_files), parts, strict=True))
            found.append(Shape(unit, tuple(member.service for member in members), files))
        else:
            found += [Shape(unit, (unit.service,)) for unit in members]
            reasons.update({unit.service: why for unit in members})
    return Shapes(sorted(found, key=lambda shape: shape.services[0]), reasons)


def schedules(text: str) -> list[str]:
    """The cron schedules of a file's `schedule:` lines, in order."""
    found, start = [], text.find("schedule: ")
    while start >= 0:
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line_start = text.rfind("\n", 0, start) + 1
        value = text[start + len("schedule: ") : end]
        if not text[line_start:start].strip(" ") and CRON.fullmatch(value):
            found.append(value)
        start = text.find("schedule: ", end)
    return found


def crons_only_scheduled(text: str, roles: range) -> bool:
    """Whether each cron placeholder (of the roles given) is nothing but a `schedule:` value."""
    return all(
        text.count(placeholder(role)) == len(re.findall(rf"^ *schedule: {placeholder(role)}$", text, re.MULTILINE))
        for role in roles
        if placeholder(role) in text
    )


def _canonical_unit(unit: Unit) -> Unit:
    """The unit with its service's name as the first placeholder, as in the canonical text."""
    first = placeholder(0)
    return Unit(
        first,
        unit.rule_file.replace(unit.service, first),
        tuple(name.replace(unit.service, first) for name in unit.test_files),
    )
