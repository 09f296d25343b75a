"""docs/spec.md's field tables, written from the declarations (declare.py): the prose around them
is the page's own, each table sits between `<!-- fields: NAME -->` and `<!-- /fields -->`.
`make reference` rewrites them; a test keeps the page current."""

from __future__ import annotations

import re
from collections.abc import Iterator

from obskit.spec import failover, model
from obskit.spec.declare import Field, fields
from obskit.spec.fragment import Kinds
from obskit.spec.tiers import BUILTIN_TIERS

HEADER = ("field", "type", "default", "example")
_MARKED = re.compile(r"(<!-- fields: (?P<name>[a-z0-9_.-]+) -->\n).*?(<!-- /fields -->)", re.S)


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _cell(text: str) -> str:
    escaped = text.replace("|", "\\|")
    return f" {escaped} " if text else " "


def _row(cells: tuple[str, ...]) -> str:
    return "|" + "|".join(map(_cell, cells)) + "|"


def _table(header: tuple[str, ...], rows: Iterator[tuple[str, ...]]) -> str:
    return "\n".join([_row(header), "|" + "---|" * len(header), *map(_row, rows)])


def _rows(cls: type, prefix: str = "", default: bool = True) -> Iterator[tuple[str, ...]]:
    for field in fields(cls):
        doc = field.declared.doc
        yield _code(prefix + field.key), doc.what, doc.default if default else "", _code(doc.example)
        if doc.inline and field.nested is not None:
            yield from _rows(field.nested, f"{prefix}{field.key}.", default)


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _tier_default(field: Field) -> str:
    values = [tier.get(field.key) for tier in BUILTIN_TIERS.values()]
    if any(value is None for value in values):
        return field.declared.doc.default
    given = " / ".join(map(_shown, values))
    return f"{given} ({field.declared.doc.default})" if field.declared.doc.default else given


def _tiers() -> str:
    rows = (
        (_code(field.key), field.declared.doc.what, _tier_default(field), _code(field.declared.doc.example))
        for field in fields(model.Tier)
    )
    return _table(("field", "type", f"default ({' / '.join(BUILTIN_TIERS)})", "example"), rows)


def _environment(kinds: Kinds) -> str:
    sections = {kind.section: kind for kind in reversed(kinds)}
    section_rows = (
        row
        for name in dict.fromkeys(kind.section for kind in kinds)
        for row in [
            (_code(name), sections[name].section_doc, "", ""),
            *_rows(sections[name].section_fields, f"{name}."),
        ]
    )
    return _table(HEADER, iter([*_rows(model.Environment), *section_rows]))


def _environment_failover(kinds: Kinds) -> str:
    engines = {kind.section: kind for kind in reversed(kinds) if kind.dr_fields is not None}
    dr_rows = (
        row
        for name in dict.fromkeys(kind.section for kind in kinds if kind.section in engines)
        for row in [
            (_code(name), f"mapping: the DR copy of the `{name}` section's backups", "", ""),
            *_rows(engines[name].dr_fields, f"{name}."),  # type: ignore[arg-type]
        ]
    )
    return _table(HEADER, iter([*_rows(failover.EnvironmentFailover), *dr_rows]))


def _datastore(kinds: Kinds) -> str:
    engines = list(dict.fromkeys(kind.engine for kind in kinds))
    methods = ", ".join(f"`{kind.method}` for `{kind.engine}`" for kind in kinds)
    what = {
        "engine": " or ".join(map(_code, engines)),
        "method": f"the engine's: {methods}",
    }
    example = {"engine": f"`engine: {kinds[0].engine}`", "method": f"`method: {kinds[0].method}`"}
    rows = (
        (cells[0], what.get(cells[0].strip("`"), cells[1]), cells[2], example.get(cells[0].strip("`"), cells[3]))
        for cells in _rows(model.Datastore)
    )
    return _table(HEADER, rows)


def _integrations() -> str:
    rows = (
        (_code(field.key), field.declared.doc.what, _code(field.declared.doc.example))
        for field in fields(model.Integrations)
    )
    return _table(("integration", "fields", "example"), rows)


def tables(kinds: Kinds) -> dict[str, str]:
    """Each table of docs/spec.md by its marker's name."""
    found = {
        "top": _table(HEADER, _rows(model.SpecFile)),
        "defaults": _table(
            HEADER,
            (row for row in _rows(model.Service, default=False) if row[0].strip("`") in model.DEFAULTABLE_FIELDS),
        ),
        "tiers": _tiers(),
        "environment": _environment(kinds),
        "alerting": _table(("field", "what", "default", "example"), _rows(model.Alerting)),
        "integrations": _integrations(),
        "service": _table(HEADER, _rows(model.Service)),
        "metrics": _table(HEADER, _rows(model.Metrics)),
        "relabeling": _table(HEADER, _rows(model.Relabeling)),
        "slo": _table(HEADER, _rows(model.SLO)),
        "backup": _table(HEADER, _rows(model.Backup)),
        "datastore": _datastore(kinds),
        "teams": _table(("field", "what", "default", "example"), _rows(model.Routes)),
        "environment-failover": _environment_failover(kinds),
        "service-failover": _table(HEADER, _rows(failover.ServiceFailover)),
        "health-check": _table(HEADER, _rows(failover.HealthCheck)),
        "step": _table(HEADER, _rows(failover.Step)),
    }
    for kind in kinds:
        found[f"engine.{kind.engine}.{kind.method}"] = kind.doc + "\n\n" + _table(HEADER, _rows(kind.fields))
    return found


def fill(page: str, kinds: Kinds) -> str:
    """The page with every marked table written anew; a marker naming no table is an error."""
    written = tables(kinds)

    def replace(match: re.Match[str]) -> str:
        return f"{match.group(1)}{written[match.group('name')]}\n{match.group(3)}"

    return _MARKED.sub(replace, page)


def missing(page: str, kinds: Kinds) -> list[str]:
    """The tables the page has no marker for."""
    marked = {match.group("name") for match in _MARKED.finditer(page)}
    return sorted(set(tables(kinds)) - marked)
