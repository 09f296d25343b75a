"""Services whose rule and unit-test files are the same up to a renaming of their names.

`promtool test rules` costs seconds per service, and a fleet's services mostly share a few
shapes: the same tier, SLO kinds and datastores, differing only in their service, namespace
and team names. Testing one service of a shape then says what promtool would say for every
other service of it, provided the renaming cannot change an outcome. This module finds the
shapes and proves that proviso for each, or leaves a service to be tested on its own.

A service's canonical text is its files with its names (the file's service name, and its
namespace and team as its rules label them) replaced by placeholders. Services with equal
canonical text form a shape. Service B's files are then service A's with each of A's names
replaced by B's, everywhere. promtool's outcome is the same up to that renaming when the
placeholders of the shared text sit only where promtool compares strings for equality:

* label values: of equality matchers, of input and expected series, of rule and expected
  alert labels (no regex matcher on a label where a renamed value may appear, no function
  that reads or rewrites label values, no topk-style selection that breaks ties by labels);
* literal text of annotations and labels, outside template actions, and template actions
  that only print a label (`{{ $labels.service }}`);
* group names and the test's path to its own rule file;

and the names themselves cannot change how YAML or PromQL reads the text (lower-case
letters, digits and dashes, starting with a letter, not a YAML 1.1 boolean or null). The
renaming is one-to-one on strings, so equal label values stay equal and different ones
stay different. Anything else, an unknown field included, and the service is tested alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

RULE_FILES = "prometheus/rulefiles"
TEST_FILES = "prometheus/tests"
MARK = "\u00a7"  # "§": in no name (checked), so placeholders cannot be confused with text
_NAME = re.compile(r"[a-z][a-z0-9-]*")
CRON = re.compile(r"[0-9*/,-]+(?: [0-9*/,-]+){4}")  # a CronJob's or Velero Schedule's schedule, as obskit writes it
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
# How obskit's rules label a service's namespace and team; the service name is the file's.
_LABELLED = {role: re.compile(rf"^ +{role}: ({_NAME.pattern})$", re.MULTILINE) for role in ("namespace", "team")}
# Functions whose result depends on label values beyond their equality.
_LABEL_READERS = {"label_replace", "label_join", "sort_by_label", "sort_by_label_desc", "info"}
_TIE_BREAKERS = {"topk", "bottomk", "limitk", "limit_ratio"}
_ACTION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_PRINTED_LABEL = re.compile(r"\{\{-?\s*(?:\$labels|\.Labels|\$externalLabels)\.[A-Za-z_][A-Za-z0-9_]*\s*-?\}\}")


@dataclass(frozen=True)
class Unit:
    """One service's files that promtool reads, relative to the tree's root."""

    service: str
    rule_file: str
    test_files: tuple[str, ...]


@dataclass(frozen=True)
class Shape:
    """Services tested by testing the first: `services[0]` is the one promtool runs."""

    unit: Unit
    services: tuple[str, ...]


def units(root: Path) -> list[Unit]:
    """Each service's plain rule file and the unit-test files that load it."""
    tests: dict[str, list[str]] = {}
    for path in sorted((root / TEST_FILES).glob("*.test.yaml")):
        tests.setdefault(path.name.split(".", 1)[0], []).append(path.relative_to(root).as_posix())
    return [
        Unit(path.name.removesuffix(".rules.yaml"), path.relative_to(root).as_posix(), tuple(tests.get(name, ())))
        for path in sorted((root / RULE_FILES).glob("*.rules.yaml"))
        if (name := path.name.removesuffix(".rules.yaml"))
    ]


def _eligible(name: str) -> bool:
    """A name YAML and PromQL read as plain text wherever it stands, or a five-field cron schedule."""
    if CRON.fullmatch(name):
        return True
    return len(name) >= 2 and _NAME.fullmatch(name) is not None and name not in _YAML_WORDS


def names(unit: Unit, rule_text: str) -> list[str]:
    """The names renamed between services of a shape, in a fixed order of roles."""
    found = [unit.service]
    for pattern in _LABELLED.values():
        match = pattern.search(rule_text)
        found.append(match.group(1) if match else "")
    return found


def canonical(texts: list[str], found: list[str]) -> str | None:
    """The texts with the names replaced by placeholders (one per distinct name, numbered by its
    first role), or None when a name is unfit or the texts could be mistaken for placeholders."""
    joined = "\0".join(texts)
    if MARK in joined or not found or not _eligible(found[0]):
        return None
    placeholders: dict[str, str] = {}
    for role, name in enumerate(found):
        if name and name not in placeholders:
            if not _eligible(name):
                return None
            placeholders[name] = placeholder(role)
    for name in sorted(placeholders, key=lambda name: (-len(name), name)):
        joined = joined.replace(name, placeholders[name])
    if any(name in joined for name in placeholders):  # pragma: no cover - str.replace leaves none
        return None
    return joined


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

    def label_set(self, labels: Any, where: str) -> None:
        if labels is None:
            return
        if not isinstance(labels, dict):
            raise _Unsound(f"{where}: not a label map")
        for name, value in labels.items():
            self.plain(name, where)
            self.template(value, where)
            if MARK in str(value) or "$labels" in str(value) or ".Labels" in str(value):
                self.renamed_labels.add(str(name))

    def template(self, text: Any, where: str) -> None:
        """Literal text may hold renamed names; template actions may only print a label."""
        for action in _ACTION.findall(str(text)):
            self.plain(action, where)
            reads_labels = any(word in action for word in ("$labels", ".Labels", "$externalLabels"))
            if "query" in action or (reads_labels and not _PRINTED_LABEL.fullmatch(action)):
                raise _Unsound(f"{where}: template action {action} reads labels")

    def promql(self, text: Any, where: str) -> None:
        try:
            expr = promql_parser.parse(str(text))
        except ValueError as err:
            raise _Unsound(f"{where}: {err}") from None
        equal_values: list[str] = []
        for node in _nodes(expr):
            if isinstance(node, promql_parser.VectorSelector):
                self.plain(node.name or "", where)
                for matchers in [node.matchers.matchers, *node.matchers.or_matchers]:
                    for matcher in matchers:
                        if matcher.op in (promql_parser.MatchOp.Re, promql_parser.MatchOp.NotRe):
                            self.regex_labels.add(matcher.name)
                        elif MARK in matcher.value:
                            if matcher.name == "__name__":
                                raise _Unsound(f"{where}: a renamed metric name")
                            self.renamed_labels.add(matcher.name)
                            equal_values.append(matcher.value)
            elif isinstance(node, promql_parser.Call) and node.func.name in _LABEL_READERS:
                raise _Unsound(f"{where}: {node.func.name}() reads label values")
            elif isinstance(node, promql_parser.AggregateExpr) and str(node.op).lower() in _TIE_BREAKERS:
                raise _Unsound(f"{where}: {node.op} breaks ties by labels")
        # every placeholder of the text must be one of an equality matcher's value
        if str(text).count(MARK) != sum(value.count(MARK) for value in equal_values):
            raise _Unsound(f"{where}: a renamed name outside equality matchers")

    def check_regexes(self) -> None:
        both = self.regex_labels & self.renamed_labels
        if both:
            raise _Unsound(f"a regex matcher reads label {sorted(both)[0]}, whose values are renamed")


def _nodes(expr: Any) -> Iterator[Any]:
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
            audit.label_set(rule.get("labels"), where)
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
        _audit_rules(audit, yaml.load(texts[0], Loader=_Loader), unit.rule_file)
        rule_file = Path("..", *Path(unit.rule_file).parts[1:]).as_posix()  # as the tests name it
        for name, text in zip(unit.test_files, texts[1:], strict=True):
            _audit_tests(audit, yaml.load(text, Loader=_Loader), rule_file, name)
        audit.check_regexes()
    except _Unsound as err:
        return str(err)
    except yaml.YAMLError as err:
        return f"not YAML: {err}"
    return None


@dataclass(frozen=True)
class Shapes:
    found: list[Shape]
    alone: dict[str, str]  # service -> why it is tested on its own
    names: dict[str, list[str]]  # service -> its names, in the order of their roles


def shapes(root: Path, all_units: list[Unit]) -> Shapes:
    """The shapes of the tree's services, why each service tested alone could not share one, and
    each service's names."""
    by_text: dict[str, list[Unit]] = {}
    alone: list[Unit] = []
    reasons: dict[str, str] = {}
    names_of: dict[str, list[str]] = {}
    for unit in all_units:
        texts = [(root / name).read_text(encoding="utf-8") for name in (unit.rule_file, *unit.test_files)]
        names_found = names_of[unit.service] = names(unit, texts[0])
        text = canonical([name.replace(unit.service, "") for name in unit.test_files] + texts, names_found)
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
        why = unsound(_canonical_unit(members[0]), parts)
        if why is None:
            found.append(Shape(members[0], tuple(unit.service for unit in members)))
        else:
            found += [Shape(unit, (unit.service,)) for unit in members]
            reasons.update({unit.service: why for unit in members})
    return Shapes(sorted(found, key=lambda shape: shape.unit.service), reasons, names_of)


def placeholder(role: int) -> str:
    return f"{MARK}{role}{MARK}"


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
