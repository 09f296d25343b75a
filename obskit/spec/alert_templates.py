"""The alert catalog: alert templates as data (alerts/*.yaml), checked and rendered per service.

A template's `[[name]]` placeholders are filled from the plan; `{{ $labels.name }}` is left
for Prometheus. Each template carries its own test cases (series that make it fire and
series that keep it silent), which become promtool unit tests for every service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from obskit.output import escape
from obskit.shown import shown
from obskit.spec import promql, schema, series_flow
from obskit.spec.problems import Problem, SpecInvalid
from obskit.spec.yaml_lines import Located, load_yaml_file
from obskit.units import DURATION_PATTERN

API_VERSION = "obskit/alerts/v1"
SEVERITIES = ("page", "critical", "warning", "info")
PLACEHOLDERS = (
    "service",
    "job",
    "namespace",
    "pod_labels",
    "tier",
    "team",
    "platform_for",
    "span",
    "backup_job_owners",
    "backup_job",
)
# A template using one renders only for the services where it has a value: the CronJobs obskit
# writes for the service's datastores, as `kube_job_owner` selectors joined by `or` (equality
# matchers, not a regular expression of names: `obskit test` shares a run between services whose
# files differ only in names within equality matchers), and the first CronJob's name.
CONDITIONAL_PLACEHOLDERS = ("backup_job_owners", "backup_job")
_PLACEHOLDER = re.compile(r"\[\[\s*([a-z_]+)\s*\]\]")
_LABEL_TEMPLATE = escape.LABEL_TEMPLATE

_CASE = {
    "series": {"type": "dict", "keysrules": {"type": "string"}, "valuesrules": {"type": "string"}},
    "labels": {"type": "dict", "keysrules": {"type": "string"}, "valuesrules": {"type": "string"}},
}
_ALERT = {
    "expr": {"type": "string", "required": True, "empty": False},
    "for": {"type": "string"},
    "severity": {"type": "string", "required": True, "allowed": list(SEVERITIES)},
    "summary": {"type": "string", "required": True, "empty": False},
    "description": {"type": "string", "required": True, "empty": False},
    "labels": {
        "type": "dict",
        "keysrules": {"type": "string", "check_with": "prom_label_name"},
        "valuesrules": {"type": "string"},
    },
    "mutes": {
        "type": "dict",
        "schema": {
            "alerts": {
                "type": "list",
                "required": True,
                "empty": False,
                "schema": {"type": "string", "regex": r"[A-Z][A-Za-z0-9]*"},
            },
            "equal": {
                "type": "list",
                "required": True,
                "empty": False,
                "schema": {"type": "string", "check_with": "prom_label_name"},
            },
        },
    },
    "services": {"type": "list", "empty": False, "schema": {"type": "string", "empty": False}},
    "teams": {"type": "list", "empty": False, "schema": {"type": "string", "empty": False}},
    "runbook": {
        "type": "dict",
        "schema": {
            "first_steps": {
                "type": "list",
                "required": True,
                "empty": False,
                "schema": {"type": "string", "empty": False},
            }
        },
    },
    "tests": {
        "type": "dict",
        "required": True,
        "schema": {
            "fires": {"type": "dict", "required": True, "schema": _CASE},
            "silent": {"type": "dict", "required": True, "schema": _CASE},
        },
    },
}
CATALOG = {
    "apiVersion": {"type": "string", "required": True, "allowed": [API_VERSION]},
    "group": {"type": "string", "required": True, "regex": r"[a-z][a-z0-9-]*"},
    "alerts": {
        "type": "dict",
        "required": True,
        "keysrules": {"type": "string", "regex": r"[A-Z][A-Za-z0-9]*"},
        "valuesrules": {"type": "dict", "schema": _ALERT},
    },
}


@dataclass(frozen=True)
class TestCase:
    series: tuple[tuple[str, str], ...]  # (series selector, promtool values)
    labels: tuple[tuple[str, str], ...]  # labels the firing alert takes from its series


@dataclass(frozen=True)
class AlertTemplate:
    group: str
    name: str
    expr: str
    for_: str | None
    severity: str
    summary: str
    description: str
    labels: tuple[tuple[str, str], ...]
    fires: TestCase
    silent: TestCase
    services: tuple[str, ...] = ()  # the scope: these services and the services of `teams`;
    teams: tuple[str, ...] = ()  # both empty: every service
    first_steps: tuple[str, ...] = ()  # the runbook's "What to do first"; empty: obskit's own
    mutes: tuple[str, ...] = ()  # other alerts (kube-prometheus-stack's twins) it mutes while it fires
    mutes_equal: tuple[str, ...] = ()  # the labels the alert and those share
    file: str = field(default="", compare=False)  # where the template is written, for problems
    scope_lines: tuple[tuple[str, int, int], ...] = field(default=(), compare=False)  # (key, index, line)

    @property
    def scoped(self) -> bool:
        return bool(self.services or self.teams)

    def in_scope(self, service: str, team: str) -> bool:
        return not self.scoped or service in self.services or team in self.teams

    @cached_property  # asked for every service
    def conditions(self) -> tuple[str, ...]:
        """The conditional placeholders it uses: it renders only where each has a value."""
        texts = [self.expr, *(f"{s} {v}" for s, v in (*self.fires.series, *self.silent.series, *self.fires.labels))]
        used = {name for text in texts for name in _PLACEHOLDER.findall(text)}
        return tuple(name for name in CONDITIONAL_PLACEHOLDERS if name in used)


def fill(text: str, params: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: params[match.group(1)], text)


def render_label_templates(text: str, labels: dict[str, str]) -> str:
    """What Prometheus makes of `{{ $labels.x }}` for an alert with these labels."""
    return escape.expand_templates(text, labels)


_SAMPLE_PARAMS = {name: "x" for name in PLACEHOLDERS} | {
    "platform_for": "5m",
    "span": "10",
    "pod_labels": 'label_x="x"',
    "backup_job_owners": 'kube_job_owner{owner_name="x-backup"}',
    "backup_job": "x-backup",
}


def reads(template: AlertTemplate) -> frozenset[str]:
    """The metric names a template's expression selects (the one analysis: series_flow)."""
    return series_flow.reads(fill(template.expr, _SAMPLE_PARAMS))


def uses(template: AlertTemplate, placeholder: str) -> bool:
    """Whether the template's expression has the [[placeholder]]."""
    return placeholder in _PLACEHOLDER.findall(template.expr)


def _template_problems(alert: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    found: list[tuple[tuple[str, ...], str]] = []
    texts: list[tuple[tuple[str, ...], str]] = [
        ((key,), alert[key]) for key in ("expr", "for", "summary", "description") if isinstance(alert.get(key), str)
    ]
    for case in ("fires", "silent"):
        for key in ("series", "labels"):
            for name, value in ((alert.get("tests") or {}).get(case) or {}).get(key, {}).items():
                texts.append((("tests", case, key, name), f"{name} {value}"))
    for path, text in texts:
        unknown = sorted(set(_PLACEHOLDER.findall(text)) - set(PLACEHOLDERS))
        if unknown:
            found.append((path, f"unknown placeholder [[{unknown[0]}]]; known: {', '.join(PLACEHOLDERS)}"))
    summary = alert.get("summary")
    if isinstance(summary, str) and ("{{" in summary or "[[" in summary or not summary.endswith(".")):
        found.append((("summary",), f"{shown(summary)}: a summary has no templates and ends with a full stop"))
    description = alert.get("description")
    if isinstance(description, str) and "{{" in _LABEL_TEMPLATE.sub("", description):
        found.append((("description",), f"{shown(description)}: only {{{{ $labels.name }}}} templates are supported"))
    mutes = alert.get("mutes")
    fires = ((alert.get("tests") or {}).get("fires") or {}).get("labels") or {}
    if isinstance(mutes, dict) and isinstance(fires, dict):
        # obskit sets namespace on every alert; the others must come from the alert's series
        missing = [name for name in mutes.get("equal") or () if name not in {*fires, "namespace"}]
        if missing:
            found.append(
                (
                    ("mutes", "equal"),
                    f"label {shown(missing[0])} is not one the alert takes from its series (tests.fires.labels): "
                    "the muted alert would never be equal to it",
                )
            )
    for_ = alert.get("for")
    if isinstance(for_, str) and not found and not re.fullmatch(DURATION_PATTERN, fill(for_, _SAMPLE_PARAMS) or "-"):
        found.append((("for",), f"{shown(for_)}: not a duration (e.g. 15m) or [[platform_for]]"))
    expr = alert.get("expr")
    if isinstance(expr, str) and not found:
        try:
            promql.parse(fill(expr, _SAMPLE_PARAMS))
        except ValueError as err:
            found.append((("expr",), f"not valid PromQL: {err}"))
    return found


def _load_file(located: Located) -> tuple[list[AlertTemplate], list[Problem]]:
    data = located.data
    problems = (
        [
            Problem(located.file, located.line_of(path), path, message)
            for path, message in schema.validate(data, CATALOG)
        ]
        if isinstance(data, dict)
        else [Problem(located.file, 1, (), "an alert catalog file must be a mapping")]
    )
    if problems:
        return [], problems
    templates = []
    for name, alert in data["alerts"].items():
        found = _template_problems(alert)
        problems += [
            Problem(located.file, located.line_of(("alerts", name, *p)), ("alerts", name, *p), m) for p, m in found
        ]
        if found:
            continue
        tests = alert["tests"]
        templates.append(
            AlertTemplate(
                group=data["group"],
                name=name,
                expr=alert["expr"].strip(),
                for_=alert.get("for"),
                severity=alert["severity"],
                summary=alert["summary"],
                description=alert["description"],
                labels=tuple(sorted((alert.get("labels") or {}).items())),
                fires=TestCase(
                    tuple(tests["fires"].get("series", {}).items()),
                    tuple(sorted(tests["fires"].get("labels", {}).items())),
                ),
                silent=TestCase(tuple(tests["silent"].get("series", {}).items()), ()),
                services=tuple(alert.get("services") or ()),
                teams=tuple(alert.get("teams") or ()),
                first_steps=tuple((alert.get("runbook") or {}).get("first_steps") or ()),
                mutes=tuple((alert.get("mutes") or {}).get("alerts") or ()),
                mutes_equal=tuple((alert.get("mutes") or {}).get("equal") or ()),
                file=located.file,
                scope_lines=tuple(
                    (key, index, located.line_of(("alerts", name, key, index)))
                    for key in ("services", "teams")
                    for index in range(len(alert.get(key) or ()))
                ),
            )
        )
    return templates, problems


def builtin_catalog_files() -> list[Path]:
    root = resources.files("obskit.builtin_alerts")
    return sorted(Path(str(entry)) for entry in root.iterdir() if entry.name.endswith(".yaml"))


def load_catalog(files: list[Path] | None = None) -> tuple[AlertTemplate, ...]:
    """Every template of the catalog files (the built-in ones by default); SpecInvalid on problems."""
    templates: list[AlertTemplate] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in builtin_catalog_files() if files is None else files:
        located = load_yaml_file(path)
        if isinstance(located, Problem):
            problems.append(located)
            continue
        loaded, found = _load_file(located)
        problems += found
        for template in loaded:
            if template.name in seen:
                problems.append(
                    Problem(
                        located.file,
                        located.line_of(("alerts", template.name)),
                        ("alerts", template.name),
                        f"alert defined twice; first in {seen[template.name]}",
                    )
                )
                continue
            seen[template.name] = located.file
            templates.append(template)
    if problems:
        raise SpecInvalid(problems)
    return tuple(templates)


MAX_LISTED = 12  # known names a problem lists in full; beyond it only the closest


def unknown_name(
    kind: str, name: str, known: tuple[str, ...] | list[str], listed_as: str = "known", most: int = MAX_LISTED
) -> str:
    """'unknown service 'x'; known: a, b; did you mean 'y'?', the list left out when long."""
    listed = f"; {listed_as}: {', '.join(known) or 'none'}" if len(known) <= most else ""
    return f"unknown {kind} {shown(name)}{listed}" + schema.did_you_mean(name, known)


def scope_problems(
    templates: tuple[AlertTemplate, ...], services: tuple[str, ...], teams: tuple[str, ...]
) -> list[Problem]:
    """A template's `services:` and `teams:` must name the spec's own, at the catalog file's line."""
    found = []
    for template in templates:
        for key, index, line in template.scope_lines:
            name, known = (template.services[index], services) if key == "services" else (template.teams[index], teams)
            if name not in known:
                found.append(
                    Problem(
                        template.file, line, ("alerts", template.name, key, index), unknown_name(key[:-1], name, known)
                    )
                )
    return found
