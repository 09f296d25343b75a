"""What every importer hands back, the checks they share, and the commented spec they become."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from obskit import defaults
from obskit.output import yamltext
from obskit.shown import shown
from obskit.spec.problems import FieldPath, Problem, SpecInvalid
from obskit.spec.yaml_lines import Located, load_yaml_documents

# Labels and annotations obskit writes itself on every SLO alert: a source's are noted, not kept.
OBSKIT_LABELS = frozenset(
    ("service", "namespace", "tier", "team", "severity", "slo", "long_window", "short_window", "alertname", "job",
     "managed_by")
)  # fmt: skip
OBSKIT_ANNOTATIONS = frozenset(("summary", "description", "runbook_url", "dashboard_url"))
_GO_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")


class Refused(Exception):
    """A feature obskit cannot carry, at a field of a document: the one being read, or `document`
    (another that it references)."""

    def __init__(self, path: FieldPath, message: str, document: Document | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.document = document

    def problem(self, reading: Document) -> Problem:
        return (self.document or reading).problem(self.path, self.message)


@dataclass
class ImportedSLO:
    name: str
    objective: Decimal  # percent
    window: str
    sli: dict[str, Any]  # obskit's SLI fields: errors/total, or error_query/total_query
    source: str  # FILE:LINE
    description: str | None = None
    alerts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportedService:
    name: str
    source: str
    team: str | None = None
    namespace: str | None = None
    slos: list[ImportedSLO] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    """One YAML document of a source file, with its lines."""

    located: Located

    @property
    def data(self) -> Any:
        return self.located.data

    def where(self, path: FieldPath) -> str:
        return f"{self.located.file}:{self.located.line_of(path)}"

    def problem(self, path: FieldPath, message: str) -> Problem:
        return Problem(self.located.file, self.located.line_of(path), path, message)


def documents(paths: list[Path]) -> Iterator[Document | Problem]:
    for path in paths:
        loaded = load_yaml_documents(path)
        if isinstance(loaded, Problem):
            yield loaded
            continue
        yield from (Document(located) for located in loaded)


def field_of(data: Any, path: FieldPath, key: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
    """`data[key]` checked to be of `kind`; None when absent and not required."""
    if not isinstance(data, dict):
        raise Refused(path, f"expected a mapping, got {shown(data)}")
    if key not in data or data[key] is None:
        if required:
            raise Refused(path, f"required field {key!r} is missing")
        return None
    value = data[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise Refused((*path, key), f"expected {_kind_name(kind)}, got {shown(value)}")
    if not isinstance(value, kind):
        raise Refused((*path, key), f"expected {_kind_name(kind)}, got {shown(value)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {dict: "a mapping", list: "a list", str: "text", int: "a number", float: "a number", bool: "true or false"}
    return " or ".join(dict.fromkeys(names.get(each, each.__name__) for each in kinds))


def percent(value: Any, path: FieldPath, fraction: bool) -> Decimal:
    """An objective as obskit's percentage, from a fraction (0.999) or a percentage (99.9)."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Refused(path, f"{shown(value)} is not a number") from None
    result = (number * 100 if fraction else number).normalize()
    if not Decimal(0) < result < Decimal(100):
        bounds = "between 0 and 1" if fraction else "between 0 and 100"
        raise Refused(path, f"{shown(value)} is not an objective {bounds}, exclusive")
    return result


def dns_name(text: str, path: FieldPath, notes: list[str]) -> str:
    """A name obskit accepts (a DNS label: services and SLOs become label values and object names),
    noting a rename."""
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")[:63].rstrip("-")
    if not name:
        raise Refused(path, f"{shown(text)} has no letter or digit to name it by")
    if name != text:
        notes.append(f"renamed from {shown(text)}: obskit's names are DNS labels")
    return name


def window_query(query: str) -> str:
    """A query with Sloth's Go-template window as obskit's placeholder."""
    return _GO_WINDOW.sub("{{window}}", query)


def read_each(paths: list[Path], read: Callable[[Document], None], problems: list[Problem]) -> None:
    """`read` on every document of the files; what cannot be read, or is refused, goes to `problems`."""
    for document in documents(paths):
        if isinstance(document, Problem):
            problems.append(document)
            continue
        try:
            read(document)
        except Refused as err:
            problems.append(err.problem(document))


def collect(parse: Callable[[Document], Iterator[ImportedService]], paths: list[Path]) -> list[ImportedService]:
    """Every file's services; every problem at once (SpecInvalid), the way validate reports."""
    problems: list[Problem] = []
    services: list[ImportedService] = []
    read_each(paths, lambda document: services.extend(parse(document)), problems)
    if problems:
        raise SpecInvalid(problems)
    return merged(services)


def merged(services: list[ImportedService]) -> list[ImportedService]:
    """Services named twice (one per file, or per document) as one, their SLOs in order."""
    by_name: dict[str, ImportedService] = {}
    for service in services:
        known = by_name.setdefault(service.name, ImportedService(service.name, service.source))
        known.team = known.team or service.team
        known.namespace = known.namespace or service.namespace
        known.slos += service.slos
        known.notes += [note for note in service.notes if note not in known.notes]
    return [by_name[name] for name in sorted(by_name)]


def _comments(lines: list[str], pad: str) -> str:
    """Comment lines; text from the source (a description, a file name) may hold line breaks, and
    every line of it stays a comment, never YAML of the spec."""
    return "".join(f"{pad}# {part}\n" for line in lines for part in (line.splitlines() or [""]))


def _nested(document: dict[str, Any], pad: str) -> str:
    return "".join(pad + line + "\n" if line else "\n" for line in yamltext.dump(document).splitlines())


def render(services: list[ImportedService], tool: str, sources: list[str]) -> str:
    """The services as an obskit spec file, commented: where each SLO came from, what was not
    carried over, and the fields the source does not say, with placeholders to replace."""
    out = [
        _comments([f"Imported by `obskit import {tool}` from {', '.join(sources)}."], ""),
        "# Put this file beside your environments' spec, replace every TODO, then `obskit validate`.\n",
        "apiVersion: obskit/v1\n",
        "services:\n",
    ]
    for service in services:
        out.append(_comments([f"from {service.source}", *service.notes], "  "))
        head: dict[str, Any] = {
            "namespace": service.namespace or service.name,
            "team": service.team or service.name,
            "tier": "tier2_standard",
            "selector": {"app.kubernetes.io/name": service.name},
            "metrics": {"port": "metrics"},
        }
        placeholders = [
            field_name
            for field_name, known in (("namespace", service.namespace), ("team", service.team))
            if known is None
        ]
        out.append(f"  {service.name}:\n")
        unknown = ", ".join([*placeholders, "tier", "selector", "metrics"])
        todo = [f"TODO: {unknown} are placeholders: the source does not say them"]
        out.append(_comments(todo, "    "))
        out.append(_nested(head, "    "))
        out.append("    slos:\n")
        for slo in service.slos:
            out.append(_comments([f"from {slo.source}", *slo.notes], "      "))
            body: dict[str, Any] = {"objective": _number(slo.objective), "window": slo.window}
            if slo.description:
                body["description"] = slo.description
            body.update(slo.sli)
            if slo.alerts:
                body["alerts"] = slo.alerts
            out.append(_nested({slo.name: body}, "      "))
    return "".join(out)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


DEFAULT_WINDOW = defaults.SLO_WINDOW
