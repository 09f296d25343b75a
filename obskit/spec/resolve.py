"""From merged spec files to the typed Spec: tiers over the catalog, defaults and
per-environment overrides applied to each service, every result validated.

A resolved value is built from layers (defaults, the service, the environment's
override); each problem is reported at the layer that supplied the offending field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from obskit.shown import shown
from obskit.spec import cross_checks, failover_checks, schema, to_model
from obskit.spec.files import Entry, MergedSpec, read_spec
from obskit.spec.fragment import DatastoreKind, Kinds
from obskit.spec.model import Environment, Service, Spec, Tier
from obskit.spec.problems import FieldPath, Problem, SpecInvalid
from obskit.spec.tiers import BUILTIN_TIERS, OPTIONAL_TIER_DEFAULTS, TIER_FIELDS
from obskit.spec.yaml_lines import Located


class UnknownEnvironment(Exception):
    def __init__(self, name: str, known: list[str]):
        super().__init__(
            f"unknown environment {shown(name)}; the spec defines: {', '.join(known) or 'none'}"
            + schema.did_you_mean(name, known)
        )


@dataclass(frozen=True)
class Layer:
    data: dict[str, Any]
    source: Located | None  # None: the built-in catalog
    base: FieldPath
    override: bool = False  # an environment's override of a service: null removes

    def has(self, path: FieldPath) -> bool:
        node: Any = self.data
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return False
            node = node[key]
        return True

    def problem(self, path: FieldPath, message: str) -> Problem:
        if self.source is None:
            return Problem("(built-in tier catalog)", 0, self.base + path, message)
        return Problem(self.source.file, self.source.line_of(self.base + path), self.base + path, message)


def _entry_layer(entry: Entry) -> Layer:
    return Layer(entry.value if isinstance(entry.value, dict) else {}, entry.source, entry.path)


def deep_merge(base: dict[str, Any], top: dict[str, Any], remove_nulls: bool = False) -> dict[str, Any]:
    """`top` over `base`, mappings merged key by key; with `remove_nulls` (an environment's
    override) a null removes the field or entry instead of setting it."""
    merged = dict(base)
    for key, value in top.items():
        if value is None and remove_nulls:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value, remove_nulls)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class Layered:
    """A value merged from layers (lowest first); `home` is where missing fields are reported."""

    layers: tuple[Layer, ...]
    home: Layer

    @cached_property  # read by the schema, the cross-field checks and the typed model
    def value(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer in self.layers:
            merged = deep_merge(merged, layer.data, remove_nulls=layer.override)
        return merged

    def problem(self, path: FieldPath, message: str) -> Problem:
        for depth in range(len(path), 0, -1):
            for layer in reversed(self.layers):
                if layer.has(path[:depth]):
                    return layer.problem(path, message)
        return self.home.problem(path, message)

    def validate(self, rules: dict[str, Any]) -> list[Problem]:
        return [self.problem(path, message) for path, message in schema.validate(self.value, rules)]


def _resolve_tiers(merged: MergedSpec, problems: list[Problem]) -> dict[str, Tier]:
    tiers: dict[str, Tier] = {}
    spec_tiers = merged.sections["tiers"]
    for name in sorted(set(BUILTIN_TIERS) | set(spec_tiers)):
        layers = []
        if name in BUILTIN_TIERS:
            layers.append(Layer(BUILTIN_TIERS[name], None, ("tiers", name)))
        if name in spec_tiers:
            layers.append(_entry_layer(spec_tiers[name]))
        layered = Layered(tuple(layers), layers[-1])
        value = {**OPTIONAL_TIER_DEFAULTS, **layered.value}
        missing = [field for field in TIER_FIELDS if field not in value]
        if missing:
            problems.append(layered.home.problem((), f"new tier {shown(name)} must set {', '.join(missing)}"))
            continue
        found = layered.validate(schema.TIER) or [layered.problem(p, m) for p, m in cross_checks.check_tier(value)]
        if found:
            problems.extend(found)
            continue
        tiers[name] = to_model.tier(name, value)
    return tiers


def _service_layers(merged: MergedSpec, name: str, override: Entry | None) -> Layered:
    defaults = [
        Layer({field: entry.value}, entry.source, ("defaults",))
        for field, entry in sorted(merged.sections["defaults"].items())
    ]
    home = _entry_layer(merged.sections["services"][name])
    own = [home] if override is None else [home, replace(_entry_layer(override), override=True)]
    if Layered(tuple(own), home).value.get("scrape") is False:
        # what to scrape does not apply to a service that is not scraped: `defaults.metrics` skips it
        defaults = [layer for layer in defaults if "metrics" not in layer.data]
    return Layered((*defaults, *own), home)


def _locations(layered: Layered) -> dict[FieldPath, tuple[str, int]]:
    """Where the fields that the plan may find fault with are written (the service itself, its
    tier and backup, each datastore, each SLO and its objective), so that a DR or SLO problem
    points at the line to edit."""
    paths: list[FieldPath] = [(), ("tier",), ("backup",)]
    slos = layered.value.get("slos")
    for slo, value in slos.items() if isinstance(slos, dict) else ():
        paths += [("slos", slo), ("slos", slo, "objective")]
        if isinstance(value, dict) and "freshness" in value:
            paths.append(("slos", slo, "freshness", "max_age"))  # checked against the scrape interval
    backup = layered.value.get("backup")
    if isinstance(backup, dict):
        paths += [("backup", "datastores", name) for name in backup.get("datastores") or {}]
    alerts = layered.value.get("alerts")
    disable = alerts.get("disable") if isinstance(alerts, dict) else None
    paths += [("alerts", "disable", index) for index in range(len(disable) if isinstance(disable, list) else 0)]
    failover = layered.value.get("failover")
    if isinstance(failover, dict):
        paths.append(("failover",))
        for key in ("health_checks", "steps"):
            paths += [("failover", key), *(("failover", key, index) for index in range(len(failover.get(key) or [])))]
    located = {}
    for path in paths:
        problem = layered.problem(path, "")
        located[path] = (problem.file, problem.line)
    return located


def _override_entries(env_entry: Entry) -> dict[str, Entry]:
    overrides = env_entry.value.get("services") if isinstance(env_entry.value, dict) else None
    if not isinstance(overrides, dict):
        return {}
    return {
        name: Entry(value, env_entry.source, (*env_entry.path, "services", name)) for name, value in overrides.items()
    }


def _resolve_environment(
    merged: MergedSpec,
    env_name: str,
    tiers: dict[str, Tier],
    tier_names: list[str],
    problems: list[Problem],
    shape: schema.Shape,
) -> Environment | None:
    env_entry = merged.sections["environments"][env_name]
    env_layer = _entry_layer(env_entry)
    overrides = _override_entries(env_entry)
    env_labels = env_entry.value.get("labels") if isinstance(env_entry.value, dict) else None
    env_label_names = [str(name) for name in env_labels] if isinstance(env_labels, dict) else []
    has_runbook_base = isinstance(env_entry.value, dict) and "runbook_base" in env_entry.value
    services: list[Service] = []
    team_names: set[str] = set()  # of every service in the environment, valid or not
    for name in sorted(merged.sections["services"]):
        if name in overrides and overrides[name].value is None:
            continue  # `services: {name: null}` leaves the service out of this environment
        layered = _service_layers(merged, name, overrides.get(name))
        team = layered.value.get("team")
        if isinstance(team, str):
            team_names.add(team)
        found = layered.validate(shape.service)
        found += [
            layered.problem(path, message)
            for path, message in cross_checks.check_service(
                layered.value, tier_names, shape.kinds, env_label_names, runbook_base=has_runbook_base
            )
        ]
        if found:
            problems.extend(found)
            continue
        if layered.value["tier"] not in tiers:
            continue  # its tier has problems of its own, reported there
        services.append(to_model.service(name, layered.value, _locations(layered), shape.kinds))
    env_value = env_layer.data
    # Override entries are partial services, checked above once merged; the rest is checked whole here.
    env_own = {key: value for key, value in env_value.items() if key != "services"}
    env_found = [env_layer.problem(path, message) for path, message in schema.validate(env_own, shape.environment)]
    env_found += [
        env_layer.problem(path, message)
        for path, message in cross_checks.check_environment(
            env_value,
            sorted(merged.sections["services"]),
            needs_velero=any(service.backup and service.backup.velero for service in services),
            needs=_engines_used(services, shape.kinds),
            kinds=shape.kinds,
        )
    ]
    teams = _team_routes(merged, team_names)
    alerting = env_own.get("alerting")
    if isinstance(alerting, dict) and not env_found:
        for team, (path, message) in cross_checks.check_alerting(alerting, {t: e.value for t, e in teams.items()}):
            if team is None:
                env_found.append(env_layer.problem(("alerting", *path), message))
            else:
                env_found.append(_entry_layer(teams[team]).problem(path, f"{message} (environment {env_name})"))
    if not env_found:
        env_failover = to_model.failover(env_own.get("failover"), shape.kinds)
        for service in services:
            for path, message in failover_checks.check_environment(env_failover, service, shape.kinds):
                env_found.append(_at(service, path, f"{message} (environment {env_name})"))
    problems.extend(env_found)
    if env_found:
        return None
    where: dict[FieldPath, tuple[str, int]] = {}
    paths: tuple[FieldPath, ...] = ((), ("velero",))
    for path in paths:
        located = env_layer.problem(path, "")
        where[path] = (located.file, located.line)
    teams_data = {t: e.value for t, e in teams.items()}
    return to_model.environment(env_name, env_value, tuple(services), teams_data, where, shape.kinds)


def _at(service: Service, path: FieldPath, message: str) -> Problem:
    """A problem of a valid service, at the line of the longest part of `path` whose line it knows."""
    for depth in range(len(path), -1, -1):
        if path[:depth] in service.where:
            file, line = service.where[path[:depth]]
            return Problem(file, line, ("services", service.name, *path), message)
    raise AssertionError("a service knows where it is written")


def _engines_used(services: list[Service], kinds: Kinds) -> list[DatastoreKind]:
    used = {(ds.engine, ds.method) for service in services if service.backup for ds in service.backup.datastores}
    return [kind for kind in kinds if kind.key in used]


def _team_routes(merged: MergedSpec, used: set[str]) -> dict[str, Entry]:
    """The teams of the environment's services that the spec gives receivers of their own, and
    that passed the schema (a team's own problems are reported with its file's). A service with
    problems of its own counts too: its mistake must not make its team's receivers look unused."""
    teams = merged.sections["teams"]
    return {
        name: entry
        for name, entry in sorted(teams.items())
        if name in used and isinstance(entry.value, dict) and not schema.validate(entry.value, schema.ROUTES)
    }


def load_spec(path: Path, kinds: Kinds, environments: Iterable[str] | None = None) -> Spec:
    """The typed spec with the named environments resolved (all when None).

    Raises SpecInvalid listing every problem, or UnknownEnvironment.
    """
    spec, problems = load_valid_parts(path, kinds, environments)
    if problems:
        raise SpecInvalid(problems)
    return spec


def load_valid_parts(path: Path, kinds: Kinds, environments: Iterable[str] | None = None) -> tuple[Spec, list[Problem]]:
    """The spec's valid parts (the environments and services without problems of their own)
    and every problem found, so that later stages can check what is valid in the same run.

    Raises UnknownEnvironment for an environment the spec does not define."""
    shape = schema.shape(kinds)
    merged = read_spec(path, shape.file)
    problems = list(merged.problems)
    known = sorted(merged.sections["environments"])
    wanted = known if environments is None else list(environments)
    if merged.files and not merged.problems and not known:
        problems.append(Problem(merged.first_file, 1, ("environments",), "at least one environment is required"))
    for name in wanted:
        if name not in known and not problems:
            raise UnknownEnvironment(name, known)
    tiers = _resolve_tiers(merged, problems)
    tier_names = sorted(set(BUILTIN_TIERS) | set(merged.sections["tiers"]))
    resolved = [
        _resolve_environment(merged, name, tiers, tier_names, problems, shape) for name in wanted if name in known
    ]
    spec = Spec(
        files=tuple(merged.files),
        tiers=tuple(tiers[name] for name in sorted(tiers)),
        environments=tuple(env for env in resolved if env is not None),
        alert_catalogs=tuple(merged.alert_catalogs),
        service_names=tuple(sorted(merged.sections["services"])),
        team_names=_team_names(merged),
    )
    return spec, problems


def _team_names(merged: MergedSpec) -> tuple[str, ...]:
    """Every team the spec names: a service's (its own, `defaults`', an environment's override)
    and those `teams:` gives receivers; for the alert catalog's scopes."""
    entries = list(merged.sections["services"].values())
    for env in merged.sections["environments"].values():
        entries += _override_entries(env).values()
    teams = [entry.value.get("team") for entry in entries if isinstance(entry.value, dict)]
    default = merged.sections["defaults"].get("team")
    teams += [default.value] if default is not None else []
    return tuple(sorted({*merged.sections["teams"], *(team for team in teams if isinstance(team, str))}))
