"""OpenSLO v1 (openslo/v1): Service, DataSource, SLI, SLO, AlertPolicy and AlertCondition documents,
read together across the files given; an SLO's indicator and alert policies may be inline or
named references."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import promql_parser

from obskit import units
from obskit.importers.common import (
    Document,
    ImportedService,
    ImportedSLO,
    Refused,
    dns_name,
    field_of,
    merged,
    percent,
    read_each,
)
from obskit.plan.burnrate import PAIRS, decimal_text
from obskit.shown import shown
from obskit.spec import promql
from obskit.spec.problems import FieldPath, Problem, SpecInvalid

API_VERSION = "openslo/v1"
KINDS = ("Service", "DataSource", "SLI", "SLO", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")


@dataclass
class Catalog:
    """The documents of every file, by kind and name: what references resolve against."""

    named: dict[tuple[str, str], tuple[Document, dict[str, Any], FieldPath]] = field(default_factory=dict)
    slos: list[tuple[Document, dict[str, Any]]] = field(default_factory=list)

    def find(self, kind: str, name: Any, where: FieldPath) -> tuple[Document, dict[str, Any], FieldPath]:
        if not isinstance(name, str) or (kind, name) not in self.named:
            known = sorted(known for known_kind, known in self.named if known_kind == kind)
            raise Refused(
                where, f"no {kind} named {shown(name)} in the files given (known: {', '.join(known) or 'none'})"
            )
        return self.named[(kind, name)]


def add(catalog: Catalog, document: Document) -> None:
    data = document.data
    if not isinstance(data, dict):
        raise Refused((), f"expected an OpenSLO document (a mapping), got {shown(data)}")
    version = data.get("apiVersion")
    if version != API_VERSION:
        hint = " (v1alpha: convert it to v1, e.g. with oslo convert)" if version == "openslo/v1alpha" else ""
        raise Refused(("apiVersion",), f"{shown(version)} is not supported: obskit reads {API_VERSION}{hint}")
    kind = field_of(data, (), "kind", str)
    if kind not in KINDS:
        raise Refused(("kind",), f"{shown(kind)} is not an OpenSLO v1 kind obskit reads ({', '.join(KINDS)})")
    name = field_of(field_of(data, (), "metadata", dict), ("metadata",), "name", str)
    if kind == "SLO":
        catalog.slos.append((document, data))
    catalog.named[(kind, name)] = (document, data, ())


def _service_of(catalog: Catalog, document: Document, slo: dict[str, Any]) -> ImportedService:
    spec = field_of(slo, (), "spec", dict)
    notes: list[str] = []
    service_name = field_of(spec, ("spec",), "service", str)
    service = ImportedService(dns_name(service_name, ("spec", "service"), notes), document.where(("spec", "service")))
    service.notes += notes
    if ("Service", service_name) in catalog.named:
        service_document, service_data, _ = catalog.named[("Service", service_name)]
        service.source = service_document.where(())
        description = (service_data.get("spec") or {}).get("description")
        if isinstance(description, str):
            service.notes.append(description)
    service.slos += _slos(catalog, document, slo)
    return service


def _slos(catalog: Catalog, document: Document, slo: dict[str, Any]) -> list[ImportedSLO]:
    at: FieldPath = ("spec",)
    spec = slo["spec"]
    method = field_of(spec, at, "budgetingMethod", str)
    if method != "Occurrences":
        raise Refused(
            (*at, "budgetingMethod"), f"{shown(method)} budgeting is not supported: obskit counts Occurrences"
        )
    window = _window(field_of(spec, at, "timeWindow", list), (*at, "timeWindow"))
    sli = _indicator(catalog, document, spec, at)
    objectives = field_of(spec, at, "objectives", list)
    if not objectives:
        raise Refused((*at, "objectives"), "at least one objective is needed")
    page, ticket, alert_notes = _alerts(catalog, spec, at, units.parse_duration(window))
    name_notes: list[str] = []
    base = dns_name(slo["metadata"]["name"], ("metadata", "name"), name_notes)
    imported = []
    for index, objective in enumerate(objectives):
        where = (*at, "objectives", index)
        if not isinstance(objective, dict):
            raise Refused(where, f"expected a mapping, got {shown(objective)}")
        if "timeSliceTarget" in objective or "timeSliceWindow" in objective:
            raise Refused(where, "Timeslices objectives are not supported: obskit counts Occurrences")
        if "target" in objective:
            value = percent(objective["target"], (*where, "target"), fraction=True)
        else:
            value = percent(field_of(objective, where, "targetPercent", (int, float)), (*where, "targetPercent"), False)
        notes = list(name_notes)
        name = base
        if len(objectives) > 1:
            name = dns_name(f"{base}-{objective.get('displayName') or index + 1}", where, notes)
        description = spec.get("description") if isinstance(spec.get("description"), str) else None
        alerts: dict[str, Any] = {}
        if not page:
            alerts["page"] = False
        if not ticket:
            alerts["ticket"] = False
        imported.append(
            ImportedSLO(name, value, window, sli, document.where(where), description, alerts, notes + alert_notes)
        )
    return imported


def _window(windows: list[Any], at: FieldPath) -> str:
    if len(windows) != 1:
        raise Refused(at, f"{len(windows)} time windows: obskit's SLO has one")
    window = windows[0]
    where = (*at, 0)
    if not isinstance(window, dict):
        raise Refused(where, f"expected a mapping, got {shown(window)}")
    if window.get("isRolling") is not True or "calendar" in window:
        raise Refused(where, "calendar windows are not supported: obskit's windows are rolling (isRolling: true)")
    duration: str = field_of(window, where, "duration", str)
    try:
        units.parse_duration(duration)
    except ValueError as err:
        raise Refused((*where, "duration"), f"{err} (obskit reads m, h, d and w)") from None
    return duration


def _indicator(catalog: Catalog, document: Document, spec: dict[str, Any], at: FieldPath) -> dict[str, Any]:
    if "indicator" in spec:
        indicator = field_of(spec, at, "indicator", dict)
        return _ratio(catalog, field_of(indicator, (*at, "indicator"), "spec", dict), (*at, "indicator", "spec"))
    name = field_of(spec, at, "indicatorRef", str)
    sli_document, sli, _ = catalog.find("SLI", name, (*at, "indicatorRef"))
    try:
        return _ratio(catalog, field_of(sli, (), "spec", dict), ("spec",))
    except Refused as err:  # the problem is in the SLI's own document
        raise Refused(err.path, err.message, err.document or sli_document) from None


def _ratio(catalog: Catalog, sli: dict[str, Any], at: FieldPath) -> dict[str, Any]:
    if "thresholdMetric" in sli:
        raise Refused((*at, "thresholdMetric"), "thresholdMetric is not supported: obskit's SLIs are ratios of events")
    ratio = field_of(sli, at, "ratioMetric", dict)
    where = (*at, "ratioMetric")
    if ratio.get("counter") is not True:
        raise Refused(where, "a ratioMetric with counter: false (a gauge) is not supported: obskit reads counters")
    if "raw" in ratio:
        raise Refused((*where, "raw"), "a raw ratioMetric is not supported yet: give good or bad, and total")
    total = _counter(catalog, ratio, where, "total")
    if "bad" in ratio:
        return {"errors": _counter(catalog, ratio, where, "bad"), "total": total}
    good = _counter(catalog, ratio, where, "good")
    return {
        "error_query": f"sum(rate({total}[{{{{window}}}}])) - sum(rate({good}[{{{{window}}}}]))",
        "total_query": f"sum(rate({total}[{{{{window}}}}]))",
    }


def _counter(catalog: Catalog, ratio: dict[str, Any], at: FieldPath, part: str) -> str:
    """The counter's selector from a Prometheus metric source: a selector, or a selector summed."""
    where = (*at, part, "metricSource")
    source = field_of(field_of(ratio, at, part, dict), (*at, part), "metricSource", dict)
    kind = source.get("type")
    if kind is None and "metricSourceRef" in source:
        _, data_source, _ = catalog.find("DataSource", source["metricSourceRef"], (*where, "metricSourceRef"))
        kind = (data_source.get("spec") or {}).get("type")
    if not isinstance(kind, str) or kind.lower() != "prometheus":
        raise Refused(where, f"a {shown(kind)} metric source is not supported: obskit reads Prometheus")
    query = field_of(field_of(source, where, "spec", dict), where, "query", str)
    return _selector(query, (*where, "spec", "query"))


def _selector(query: str, at: FieldPath) -> str:
    try:
        expr = promql.parse(query)
    except (ValueError, TypeError) as err:
        raise Refused(at, f"{shown(query)} is not PromQL: {err}") from None
    while isinstance(expr, promql_parser.ParenExpr):
        expr = expr.expr
    if isinstance(expr, promql_parser.AggregateExpr) and str(expr.op).lower().endswith("sum"):
        expr = expr.expr
    text = str(expr) if isinstance(expr, promql_parser.VectorSelector) else None
    try:
        return str(promql.parse_selector(text)) if text is not None else _not_a_counter(query, at)
    except ValueError as err:
        raise Refused(at, str(err)) from None


def _not_a_counter(query: str, at: FieldPath) -> str:
    raise Refused(
        at, f"{shown(query)}: a counter's query must be a series selector, or one summed; obskit takes the rate itself"
    )


def _alerts(
    catalog: Catalog, spec: dict[str, Any], at: FieldPath, window: units.Duration
) -> tuple[bool, bool, list[str]]:
    """Whether the policies' burn-rate conditions ask for obskit's page and ticket alerts: a
    condition maps where its lookback window is one of obskit's long windows."""
    policies = field_of(spec, at, "alertPolicies", list, required=False)
    if not policies:
        return True, True, ["no alert policy: obskit's page and ticket burn-rate alerts are on (alerts.page/ticket)"]
    page = ticket = False
    notes: list[str] = []
    windows = {pair.long: pair for pair in PAIRS}
    for index, policy in enumerate(policies):
        for condition, where in _conditions(catalog, policy, (*at, "alertPolicies", index)):
            kind = condition.get("kind")
            if kind != "burnrate":
                raise Refused(where, f"a {shown(kind)} alert condition is not supported: obskit's are burn rates")
            lookback = field_of(condition, where, "lookbackWindow", str)
            try:
                pair = windows.get(units.parse_duration(lookback))
            except ValueError as err:
                raise Refused((*where, "lookbackWindow"), str(err)) from None
            threshold = condition.get("threshold")
            if pair is None:
                notes.append(f"burn rate over {lookback}: not one of obskit's windows, not carried")
                continue
            page, ticket = page or pair.fast, ticket or not pair.fast
            factor = pair.factor(window)
            if not isinstance(threshold, (int, float)) or Fraction(str(threshold)) != factor:
                notes.append(
                    f"burn rate {shown(threshold)} over {lookback}: obskit's factor there is {decimal_text(factor)}"
                )
    return page, ticket, notes


def _conditions(catalog: Catalog, policy: Any, at: FieldPath) -> Iterator[tuple[dict[str, Any], FieldPath]]:
    if isinstance(policy, str):
        _, policy_data, _ = catalog.find("AlertPolicy", policy, at)
        policy = policy_data
    spec = field_of(policy, at, "spec", dict) if isinstance(policy, dict) and "spec" in policy else policy
    for index, item in enumerate(field_of(spec, at, "conditions", list)):
        where = (*at, "conditions", index)
        if isinstance(item, dict) and "conditionRef" in item:
            _, found, _ = catalog.find("AlertCondition", item["conditionRef"], (*where, "conditionRef"))
            item = found
        condition_spec = field_of(item, where, "spec", dict) if isinstance(item, dict) and "spec" in item else item
        yield field_of(condition_spec, where, "condition", dict), (*where, "condition")


def imported(paths: list[Path]) -> list[ImportedService]:
    """The services of every SLO in the files; every problem at once (SpecInvalid)."""
    catalog = Catalog()
    problems: list[Problem] = []
    read_each(paths, lambda document: add(catalog, document), problems)
    found: list[ImportedService] = []
    for document, slo in catalog.slos:
        try:
            found.append(_service_of(catalog, document, slo))
        except Refused as err:
            problems.append(err.problem(document))
    if not problems and not found:
        problems.extend(Problem(str(path), 1, (), "no OpenSLO SLO document in the file") for path in paths)
    if problems:
        raise SpecInvalid(problems)
    return merged(found)
