"""Sloth's specs: `version: prometheus/v1` files and the Kubernetes `PrometheusServiceLevel`
(sloth.slok.dev/v1), whose fields are the same in camelCase."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from obskit.importers.common import (
    DEFAULT_WINDOW,
    OBSKIT_ANNOTATIONS,
    OBSKIT_LABELS,
    Document,
    ImportedService,
    ImportedSLO,
    Refused,
    collect,
    dns_name,
    field_of,
    percent,
    window_query,
)
from obskit.shown import shown
from obskit.spec.problems import FieldPath

PLAIN_VERSION = "prometheus/v1"
K8S_API_VERSION = "sloth.slok.dev/v1"
K8S_KIND = "PrometheusServiceLevel"
_TEAM_LABELS = ("team", "owner")


def _key(name: str, camel: bool) -> str:
    """Sloth's snake_case field name, or the CRD's camelCase one."""
    if not camel:
        return name
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def parse(document: Document) -> Iterator[ImportedService]:
    data = document.data
    if not isinstance(data, dict):
        raise Refused((), f"expected a Sloth spec (a mapping), got {shown(data)}")
    if data.get("version") == PLAIN_VERSION:
        yield _service(document, data, (), camel=False, namespace=None)
        return
    if data.get("apiVersion") == K8S_API_VERSION and data.get("kind") == K8S_KIND:
        spec = field_of(data, (), "spec", dict)
        metadata = field_of(data, (), "metadata", dict, required=False) or {}
        namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else None
        yield _service(document, spec, ("spec",), camel=True, namespace=namespace)
        return
    raise Refused(
        (),
        f"not a Sloth spec: expected 'version: {PLAIN_VERSION}', or 'apiVersion: {K8S_API_VERSION}' with "
        f"'kind: {K8S_KIND}' (OpenSLO files: obskit import openslo)",
    )


def _service(
    document: Document, spec: dict[str, Any], at: FieldPath, camel: bool, namespace: str | None
) -> ImportedService:
    notes: list[str] = []
    name = dns_name(field_of(spec, at, "service", str), (*at, "service"), notes)
    service = ImportedService(name, document.where((*at, "service")), namespace=namespace, notes=notes)
    labels = field_of(spec, at, "labels", dict, required=False) or {}
    for key in _TEAM_LABELS:
        if isinstance(labels.get(key), str) and service.team is None:
            service.team = dns_name(labels[key], (*at, "labels", key), service.notes)
    others = {key: value for key, value in labels.items() if key not in _TEAM_LABELS}
    if others:
        service.notes.append(
            f"the service's labels {others} are not carried: obskit labels every series with service, team and "
            "tier, and the environment's labels"
        )
    slos = field_of(spec, at, "slos", list)
    for index, slo in enumerate(slos):
        service.slos.append(_slo(document, slo, (*at, "slos", index), camel))
    return service


def _slo(document: Document, slo: Any, at: FieldPath, camel: bool) -> ImportedSLO:
    notes: list[str] = []
    name = dns_name(field_of(slo, at, "name", str), (*at, "name"), notes)
    objective = percent(field_of(slo, at, "objective", (int, float)), (*at, "objective"), fraction=False)
    notes.append(f"window {DEFAULT_WINDOW}: Sloth's default SLO period (its --default-slo-period)")
    imported = ImportedSLO(
        name,
        objective,
        DEFAULT_WINDOW,
        _sli(field_of(slo, at, "sli", dict), (*at, "sli"), camel),
        document.where(at),
        description=field_of(slo, at, "description", str, required=False),
        notes=notes,
    )
    alerting = field_of(slo, at, "alerting", dict, required=False)
    if alerting is not None:
        imported.alerts = _alerts(alerting, (*at, "alerting"), camel, imported.notes)
    return imported


def _sli(sli: dict[str, Any], at: FieldPath, camel: bool) -> dict[str, Any]:
    events = field_of(sli, at, "events", dict, required=False)
    if events is not None:
        where = (*at, "events")
        return {
            "error_query": window_query(field_of(events, where, _key("error_query", camel), str)),
            "total_query": window_query(field_of(events, where, _key("total_query", camel), str)),
        }
    if "raw" in sli:
        raise Refused((*at, "raw"), "a raw SLI (error_ratio_query) is not supported yet: write it as events")
    if "plugin" in sli:
        raise Refused((*at, "plugin"), "SLI plugins are not supported: write the plugin's queries as events")
    raise Refused(at, "expected 'events' (error and total queries)")


def _alerts(alerting: dict[str, Any], at: FieldPath, camel: bool, notes: list[str]) -> dict[str, Any]:
    alerts: dict[str, Any] = {}
    if isinstance(alerting.get("name"), str):
        notes.append(f"alert name {alerting['name']!r}: obskit names its burn-rate alerts ErrorBudgetBurn")
    for key, obskit_own, why in (
        ("labels", OBSKIT_LABELS, "are obskit's own and not carried"),
        ("annotations", OBSKIT_ANNOTATIONS, "are written by obskit"),
    ):
        given = field_of(alerting, at, key, dict, required=False) or {}
        kept = {name: str(value) for name, value in given.items() if name not in obskit_own}
        if kept:
            alerts[key] = kept
        if len(kept) < len(given):
            notes.append(f"{key} {sorted(set(given) - set(kept))} {why}")
    for kind, obskit_name in (("page_alert", "page"), ("ticket_alert", "ticket")):
        alert = field_of(alerting, at, _key(kind, camel), dict, required=False)
        if alert is None:
            continue
        if alert.get("disable") is True:
            alerts[obskit_name] = False
        if alert.get("labels") or alert.get("annotations"):
            notes.append(
                f"{_key(kind, camel)}'s labels and annotations are not carried: obskit's {obskit_name} alerts carry "
                f"severity {'critical' if obskit_name == 'page' else 'warning'}, routed by the spec's alerting"
            )
    return alerts


def imported(paths: list[Path]) -> list[ImportedService]:
    """The services of every Sloth spec in the files; every problem at once (SpecInvalid)."""
    return collect(parse, paths)
