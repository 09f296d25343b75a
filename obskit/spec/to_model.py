"""Turning validated spec dicts into the typed model, by the declarations (declare.build); what the
spec alone cannot give (names, where fields are written, what needs the engines) is given here.
Inputs have passed every check."""

from __future__ import annotations

from typing import Any

from obskit.spec import model
from obskit.spec.declare import build
from obskit.spec.failover import EnvironmentFailover
from obskit.spec.fragment import Kinds
from obskit.spec.problems import FieldPath


def tier(name: str, data: dict[str, Any]) -> model.Tier:
    return build(model.Tier, data, name=name)


def _datastore(service: str, name: str, data: dict[str, Any], kinds: Kinds) -> model.Datastore:
    kind = next(kind for kind in kinds if kind.key == (data["engine"], data["method"]))
    return build(model.Datastore, data, name=name, settings=kind.settings(service, name, data))


def _backup(service: str, data: dict[str, Any] | None, namespace: str, kinds: Kinds) -> model.Backup | None:
    if data is None:
        return None
    datastores = data.get("datastores") or {}
    return build(
        model.Backup,
        data,
        service_namespace=namespace,
        datastores=tuple(_datastore(service, name, datastores[name], kinds) for name in sorted(datastores)),
    )


def service(name: str, data: dict[str, Any], where: dict[FieldPath, tuple[str, int]], kinds: Kinds) -> model.Service:
    backup = _backup(name, data.get("backup"), data["namespace"], kinds)
    return build(model.Service, data, name=name, backup=backup, where=where)


def environment(
    name: str,
    data: dict[str, Any],
    services: tuple[model.Service, ...],
    teams: dict[str, dict[str, Any]],
    where: dict[FieldPath, tuple[str, int]],
    kinds: Kinds,
) -> model.Environment:
    """`teams`: the teams of the environment's services that the spec gives receivers of their own."""
    readers = {kind.section: kind for kind in reversed(kinds)}  # a section is typed by the first engine reading it
    sections = tuple((key, readers[key].section_settings(data[key])) for key in sorted(readers) if key in data)
    alerting = data.get("alerting")
    return build(
        model.Environment,
        data,
        name=name,
        sections=sections,
        services=services,
        alerting=None if alerting is None else _alerting(alerting, teams),
        failover=failover(data.get("failover"), kinds),
        where=where,
    )


def failover(data: dict[str, Any] | None, kinds: Kinds) -> EnvironmentFailover | None:
    if data is None:
        return None
    readers = {kind.section: kind for kind in reversed(kinds) if kind.dr_fields is not None}
    sections = tuple((key, readers[key].dr_settings(data[key])) for key in sorted(readers) if key in data)
    return build(EnvironmentFailover, data, sections=sections)


def _alerting(data: dict[str, Any], teams: dict[str, dict[str, Any]]) -> model.Alerting:
    routes = tuple((team, build(model.Routes, teams[team])) for team in sorted(teams))
    return build(model.Alerting, data, teams=routes)
