"""Turning validated spec dicts into the typed model. Inputs here have passed every check."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from obskit import defaults, units
from obskit.spec import model, promql
from obskit.spec.fragment import Kinds
from obskit.spec.problems import FieldPath


def _labels(mapping: dict[str, str] | None) -> model.Labels:
    return tuple(sorted((mapping or {}).items()))


def _optional_duration(value: str | None) -> units.Duration | None:
    return units.parse_duration(value) if value is not None else None


def tier(name: str, data: dict[str, Any]) -> model.Tier:
    return model.Tier(
        name=name,
        rto=units.parse_duration(data["rto"]),
        rpo=units.parse_duration(data["rpo"]),
        scrape_interval=units.parse_duration(data["scrape_interval"]),
        scrape_timeout=_optional_duration(data.get("scrape_timeout")),
        slo_objective=units.exact_decimal(data["slo_objective"]),
        pages=data["pages"],
        restore_drill_interval=units.parse_duration(data["restore_drill_interval"]),
        retention=units.parse_duration(data["retention"]),
        platform_alert_for=units.parse_duration(data["platform_alert_for"]),
    )


def _sli(data: dict[str, Any]) -> model.SLI:
    if "latency" in data:
        return model.LatencySLI(
            histogram=promql.check_histogram_selector(data["latency"]["histogram"]),
            threshold=units.parse_duration(data["latency"]["threshold"]),
        )
    if "error_query" in data:
        return model.RawSLI(error_query=data["error_query"], total_query=data["total_query"])
    return model.RatioSLI(errors=promql.parse_selector(data["errors"]), total=promql.parse_selector(data["total"]))


def _slo(name: str, data: dict[str, Any]) -> model.SLO:
    objective = data.get("objective")
    return model.SLO(
        name=name,
        objective=units.exact_decimal(objective) if objective is not None else None,
        window=units.parse_duration(data.get("window", defaults.SLO_WINDOW)),
        description=data.get("description"),
        sli=_sli(data),
        alerts=_slo_alerts(data.get("alerts") or {}),
    )


def _slo_alerts(data: dict[str, Any]) -> model.SLOAlerts:
    return model.SLOAlerts(
        page=data.get("page", True),
        ticket=data.get("ticket", True),
        min_errors=data.get("min_errors", defaults.SLO_MIN_ERRORS),
        labels=tuple(sorted((data.get("labels") or {}).items())),
        annotations=tuple(sorted((data.get("annotations") or {}).items())),
    )


def _optional_throughput(value: str | None) -> Fraction | None:
    return units.parse_throughput(value) if value is not None else None


def _datastore(service: str, name: str, data: dict[str, Any], kinds: Kinds) -> model.Datastore:
    kind = next(kind for kind in kinds if kind.key == (data["engine"], data["method"]))
    return model.Datastore(
        name=name,
        engine=data["engine"],
        method=data["method"],
        size_bytes=units.parse_size(data["size"]),
        restore_throughput=_optional_throughput(data.get("restore_throughput")),
        settings=kind.settings(service, name, data),
    )


def _backup(service: str, data: dict[str, Any] | None, namespace: str, kinds: Kinds) -> model.Backup | None:
    if data is None:
        return None
    datastores = data.get("datastores") or {}
    return model.Backup(
        namespaces=tuple(data.get("namespaces") or [namespace]),
        volumes=data.get("volumes", defaults.VOLUMES),
        datastores=tuple(_datastore(service, name, datastores[name], kinds) for name in sorted(datastores)),
        duration=_optional_duration(data.get("duration")),
        velero=data.get("velero", True),
        selector=_labels(data.get("selector")),
        restore_duration=_optional_duration(data.get("restore_duration")),
    )


def service(name: str, data: dict[str, Any], where: dict[FieldPath, tuple[str, int]], kinds: Kinds) -> model.Service:
    metrics = data["metrics"]
    slos = data.get("slos") or {}
    return model.Service(
        name=name,
        namespace=data["namespace"],
        tier=data["tier"],
        team=data["team"],
        job=data.get("job", name),
        runbook_url=data.get("runbook_url"),
        selector=_labels(data["selector"]),
        metrics=model.Metrics(
            port=metrics["port"],
            path=metrics.get("path", defaults.METRICS_PATH),
            scheme=metrics.get("scheme", "http"),
            interval=_optional_duration(metrics.get("interval")),
        ),
        slos=tuple(_slo(slo_name, slos[slo_name]) for slo_name in sorted(slos)),
        backup=_backup(name, data.get("backup"), data["namespace"], kinds),
        where=where,
    )


def _routes(data: dict[str, Any]) -> model.Routes:
    return model.Routes(page=data.get("page"), ticket=data.get("ticket"), info=data.get("info"))


def _receiver(name: str, data: dict[str, Any]) -> model.Receiver:
    ((integration, fields),) = data.items()
    settings = tuple(
        (key, model.SecretRef(value["secret"], value["key"]) if isinstance(value, dict) else value)
        for key, value in sorted(fields.items())
    )
    return model.Receiver(name, integration, settings)


def alerting(data: dict[str, Any] | None, teams: dict[str, dict[str, Any]]) -> model.Alerting | None:
    """`teams`: the teams of the environment's services that the spec gives receivers of their own."""
    if data is None:
        return None
    receivers = data["receivers"]
    return model.Alerting(
        receivers=tuple(_receiver(name, receivers[name]) for name in sorted(receivers)),
        routes=model.Routes(page=data["page"], ticket=data["ticket"], info=data.get("info", data["ticket"])),
        teams=tuple((team, _routes(teams[team])) for team in sorted(teams)),
        namespace=data.get("alertmanager_namespace", defaults.ALERTMANAGER_NAMESPACE),
    )


def _sections(data: dict[str, Any], kinds: Kinds) -> tuple[tuple[str, object], ...]:
    """The engines' sections the environment has, each typed by the first engine that reads it."""
    readers = {kind.section: kind for kind in reversed(kinds)}
    return tuple((name, readers[name].section_settings(data[name])) for name in sorted(readers) if name in data)


def environment(
    name: str,
    data: dict[str, Any],
    services: tuple[model.Service, ...],
    teams: dict[str, dict[str, Any]],
    where: dict[FieldPath, tuple[str, int]],
    kinds: Kinds,
) -> model.Environment:
    velero = data.get("velero")
    return model.Environment(
        name=name,
        labels=_labels(data.get("labels")),
        selector_labels=_labels(data.get("selector_labels")),
        velero=model.Velero(velero["namespace"], velero["storage_location"], velero.get("concurrent_backups", 1))
        if velero
        else None,
        sections=_sections(data, kinds),
        pushgateway=data.get("pushgateway"),
        services=services,
        grafana_namespace=data.get("grafana_namespace", defaults.GRAFANA_NAMESPACE),
        grafana_url=data["grafana_url"].rstrip("/") if "grafana_url" in data else None,
        alerting=alerting(data.get("alerting"), teams),
        runbook_base=data["runbook_base"].rstrip("/") if "runbook_base" in data else None,
        where=where,
    )
