"""Rules that relate one field to another, run on data that already passed the schema."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from obskit import defaults
from obskit.shown import shown
from obskit.spec import am_routes, failover_checks
from obskit.spec.am_routes import NULL_RECEIVER
from obskit.spec.declare import rules_of
from obskit.spec.fragment import DatastoreKind, Kinds
from obskit.spec.problems import FieldPath
from obskit.spec.promql import parse_selector
from obskit.spec.schema import INTEGRATIONS, did_you_mean
from obskit.spec.series import SeriesError, event_series, satisfying_labels
from obskit.units import parse_duration

# The longest burn-rate alert window is 3d; an SLO window must hold it several times over.
MIN_SLO_WINDOW = parse_duration("7d")
# Labels obskit puts on its own rules and alerts; environment labels may not reuse them.
RESERVED_LABELS = (
    "service",
    "namespace",
    "tier",
    "team",
    "severity",
    "slo",
    "long_window",
    "short_window",
    "alertname",
    "job",
    "managed_by",
)

# Annotations obskit writes on every alert; an SLO's own annotations add to them.
RESERVED_ANNOTATIONS = ("summary", "description", "runbook_url", "dashboard_url")

Finding = tuple[FieldPath, str]

_SLI_FORMS = (("errors", "total"), ("latency",), ("error_query", "total_query"), ("freshness",))
_ONE_SLI = "give exactly one SLI: 'errors' with 'total', 'latency', 'error_query' with 'total_query', or 'freshness'"


def check_service(
    service: dict[str, Any],
    tier_names: list[str],
    kinds: Kinds,
    env_labels: Collection[str] = (),
    runbook_base: bool = False,
) -> Iterator[Finding]:
    """Cross-field rules; values of the wrong type are left to the schema's own message."""
    if "runbook_url" not in service and not runbook_base:
        yield (
            ("runbook_url",),
            "required field is missing (or set the environment's runbook_base to link the runbooks obskit writes)",
        )
    yield from _check_scrape(service)
    tier = service.get("tier")
    if isinstance(tier, str) and tier not in tier_names:
        yield (
            ("tier",),
            f"unknown tier {shown(tier)}; known tiers: {', '.join(tier_names)}" + did_you_mean(tier, tier_names),
        )
    slos = service.get("slos")
    for slo_name, slo in slos.items() if isinstance(slos, dict) else ():
        if isinstance(slo, dict):
            for path, message in check_slo(slo):
                yield ("slos", slo_name, *path), message
            for path, message in _check_slo_alerts(slo.get("alerts"), env_labels):
                yield ("slos", slo_name, "alerts", *path), message
    backup = service.get("backup")
    datastores = backup.get("datastores") if isinstance(backup, dict) else None
    for name, datastore in datastores.items() if isinstance(datastores, dict) else ():
        if isinstance(datastore, dict):
            for path, message in check_datastore(datastore, kinds):
                yield ("backup", "datastores", name, *path), message
    yield from _one_per_engine(datastores if isinstance(datastores, dict) else {})
    for path, message in failover_checks.check_steps(service.get("failover")):
        yield ("failover", *path), message


# Labels obskit's relabelings set on every target after the spec's own: a relabeling may not write them.
SCRAPE_IDENTITY = ("job", "service", "tier", "team")
# Relabel actions that write `target_label` (Prometheus requires it), and the fields only some take.
_WRITING = ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal")
_ONLY = {
    "labeldrop": ("regex",),
    "labelkeep": ("regex",),
    "keepequal": ("source_labels", "target_label"),
    "dropequal": ("source_labels", "target_label"),
}
_RELABEL_FIELDS = ("source_labels", "separator", "regex", "modulus", "target_label", "replacement")


def _check_scrape(service: dict[str, Any]) -> Iterator[Finding]:
    """A scraped service names what to scrape; one with `scrape: false` has nothing to name."""
    if service.get("scrape") is False:
        for name in ("selector", "metrics"):
            if name in service:
                yield (
                    (name,),
                    f"the service sets `scrape: false`, so nothing is scraped: remove `{name}` (in an environment's "
                    f"override, `{name}: null`)",
                )
        return
    for name in ("selector", "metrics"):
        if name not in service:
            yield (
                (name,),
                "required field is missing (or set `scrape: false` for a service Prometheus does not scrape, "
                "such as a batch job)",
            )
    metrics = service.get("metrics")
    if isinstance(metrics, dict):
        for path, message in check_metrics(metrics):
            yield ("metrics", *path), message


def check_metrics(metrics: dict[str, Any]) -> Iterator[Finding]:
    """TLS and credentials need https; one kind of credential; each relabeling as Prometheus takes it."""
    https = metrics.get("scheme") == "https"
    if "tls" in metrics and not https:
        yield ("tls",), "TLS settings need `scheme: https`: Prometheus scrapes this endpoint over plain http"
    for name in ("bearer_token_secret", "basic_auth"):
        if name in metrics and not https:
            yield (name,), "would be sent in clear text: set `scheme: https` (and `tls`) to scrape with credentials"
    if "bearer_token_secret" in metrics and "basic_auth" in metrics:
        yield ("basic_auth",), "choose one of `bearer_token_secret` and `basic_auth`: a scrape sends one credential"
    tls = metrics.get("tls")
    if isinstance(tls, dict) and ("cert_secret" in tls) != ("key_secret" in tls):
        given, missing = ("cert_secret", "key_secret") if "cert_secret" in tls else ("key_secret", "cert_secret")
        yield ("tls", given), f"a client certificate needs both `cert_secret` and `key_secret`: add `{missing}`"
    for key in ("relabelings", "metric_relabelings"):
        items = metrics.get(key)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                for path, message in check_relabeling(item):
                    yield (key, index, *path), message


def check_relabeling(item: dict[str, Any]) -> Iterator[Finding]:
    """The fields each action takes, as Prometheus checks a relabel_config when it loads one."""
    action = item.get("action", "replace")
    if not isinstance(action, str):
        return
    only = _ONLY.get(action)
    if only is not None:
        for name in _RELABEL_FIELDS:
            if name in item and name not in only:
                yield (name,), f"the {action} action takes only {' and '.join(f'`{n}`' for n in only)}"
    if action in _WRITING and "target_label" not in item:
        yield ("action",), f"the {action} action writes a label: `target_label` is required"
    if action in ("keepequal", "dropequal") and "source_labels" not in item:
        yield ("action",), f"the {action} action compares labels: `source_labels` is required"
    if action == "hashmod" and "modulus" not in item:
        yield ("action",), "the hashmod action needs `modulus`"
    target = item.get("target_label")
    if target in SCRAPE_IDENTITY:
        yield (
            ("target_label",),
            f"{shown(target)} is set by obskit on every target (from the service's `{target}`) and the rules "
            "select on it; relabel another label",
        )


def _one_per_engine(datastores: dict[Any, Any]) -> Iterator[Finding]:
    """Two datastores of one engine in a service raise alerts of the same names and labels, whose
    generated tests cannot tell one datastore's from the other's."""
    first: dict[str, str] = {}
    for name, datastore in sorted(datastores.items(), key=lambda item: str(item[0])):
        engine = datastore.get("engine") if isinstance(datastore, dict) else None
        if not isinstance(engine, str):
            continue
        if engine in first:
            yield (
                ("backup", "datastores", name),
                f"a second {engine} datastore in one service ({shown(first[engine])} is the first) is not "
                "supported yet: their alerts would share names and labels; give it a service of its own",
            )
        else:
            first[engine] = str(name)


def check_datastore(datastore: dict[str, Any], kinds: Kinds) -> Iterator[Finding]:
    """The method must be one of the engine's, and the fields those of its engine."""
    engine, method = datastore.get("engine"), datastore.get("method")
    if not isinstance(engine, str) or not isinstance(method, str):
        return  # the schema reports it
    methods = sorted(kind.method for kind in kinds if kind.engine == engine)
    if not methods or method not in {kind.method for kind in kinds}:
        return  # the schema names the engine or method it does not know
    kind = next((kind for kind in kinds if kind.key == (engine, method)), None)
    if kind is None:
        yield (
            ("method",),
            f"{shown(method)} is not a method of engine {shown(engine)}; choose one of: {', '.join(methods)}",
        )
        return
    own_rules = rules_of(kind.fields)
    own = set(own_rules)
    for name in sorted(own):
        if own_rules[name].get("required") and name not in datastore:
            yield (name,), f"required field is missing (a {engine} datastore needs it)"
    for name in sorted(datastore, key=str):
        owners = sorted({other.engine for other in kinds if name in rules_of(other.fields) and name not in own})
        if owners:
            yield (
                (name,),
                f"is a field of {' and '.join(owners)} datastores, not of {shown(engine)} ones"
                + did_you_mean(name, sorted(own)),
            )


def _check_slo_alerts(alerts: Any, env_labels: Collection[str]) -> Iterator[Finding]:
    """An SLO's own labels and annotations add to obskit's; they may not replace them."""
    if not isinstance(alerts, dict):
        return
    labels = alerts.get("labels")
    for label in sorted(labels if isinstance(labels, dict) else {}, key=str):
        if label in RESERVED_LABELS:
            yield ("labels", label), f"label {shown(label)} is set by obskit itself; choose another name"
        elif label in env_labels:
            yield ("labels", label), f"label {shown(label)} is already set by the environment's labels"
    annotations = alerts.get("annotations")
    for name in sorted(annotations if isinstance(annotations, dict) else {}, key=str):
        if name in RESERVED_ANNOTATIONS:
            yield ("annotations", name), f"annotation {shown(name)} is written by obskit itself; choose another name"


def check_slo(slo: dict[str, Any]) -> Iterator[Finding]:
    given = [form for form in _SLI_FORMS if any(key in slo for key in form)]
    if len(given) != 1:
        found = sorted(key for form in given for key in form if key in slo)
        yield (
            (),
            _ONE_SLI + (f"; found {', '.join(found)}" if found else "; found none"),
        )
    else:
        for key in given[0]:
            if key not in slo:
                partner = next(other for other in given[0] if other != key)
                yield (key,), f"required field is missing ('{partner}' needs '{key}')"
    yield from _check_testable(slo)
    yield from _check_freshness_alerts(slo)
    yield from _check_description(slo.get("description"))
    try:
        window = parse_duration(slo.get("window", defaults.SLO_WINDOW))
    except ValueError:
        return
    if window < MIN_SLO_WINDOW:
        yield (
            ("window",),
            (
                f"{shown(slo['window'])} is too short: SLO windows must be at least {MIN_SLO_WINDOW} "
                "so the 3d slow-burn alert window is a small part of the budget period"
            ),
        )
        return


def _check_freshness_alerts(slo: dict[str, Any]) -> Iterator[Finding]:
    """A freshness SLI counts time, not events: no failed events for min_errors to count."""
    alerts = slo.get("alerts")
    if "freshness" in slo and isinstance(alerts, dict) and "min_errors" in alerts:
        yield (
            ("alerts", "min_errors"),
            "counts failed events, and a freshness SLO counts time (its burn alerts need no minimum): remove it",
        )


def _check_description(description: Any) -> Iterator[Finding]:
    """The description goes into the burn alerts' description annotation, which Prometheus
    expands as a Go template: a `{{` there would run as template code."""
    if isinstance(description, str) and "{{" in description:
        yield (
            ("description",),
            "holds '{{', which Prometheus would expand as a template in the alerts' description; write it without '{{'",
        )


def _check_testable(slo: dict[str, Any]) -> Iterator[Finding]:
    """obskit proves each SLI's alerts with series that its selectors match: a ratio SLI needs a
    series that is counted in `total` but is not an error, and every regex a value it accepts."""
    try:
        if "errors" in slo and "total" in slo:
            errors, total = parse_selector(slo["errors"]), parse_selector(slo["total"])
            if errors == total:
                yield ("errors",), "is the same selector as 'total': every event would be an error"
                return
            event_series(errors, total)
        elif isinstance(slo.get("latency"), dict) and "histogram" in slo["latency"]:
            satisfying_labels(parse_selector(slo["latency"]["histogram"]).matchers)
        elif isinstance(slo.get("freshness"), dict) and "last_success" in slo["freshness"]:
            satisfying_labels(parse_selector(slo["freshness"]["last_success"]).matchers)
    except ValueError as err:  # a selector the schema already reports, or a SeriesError
        if isinstance(err, SeriesError):
            hint = _SERIES_HINT if err.regex else ""
            path = (
                ("errors",)
                if "errors" in slo
                else ("freshness", "last_success")
                if "freshness" in slo
                else ("latency", "histogram")
            )
            yield path, f"{err}{hint}"


_SERIES_HINT = (
    "; obskit must build test series from the selector: write the regex with constructs that RE2 and "
    "Python share (e.g. [0-9] instead of \\pN or [[:digit:]])"
)


def check_tier(tier: dict[str, Any]) -> Iterator[Finding]:
    interval = parse_duration(tier["scrape_interval"])
    if "scrape_timeout" in tier and parse_duration(tier["scrape_timeout"]) > interval:
        yield ("scrape_timeout",), f"{shown(tier['scrape_timeout'])} is longer than the scrape interval {interval}"


def check_environment(
    env: dict[str, Any], service_names: list[str], needs_velero: bool, needs: Collection[DatastoreKind], kinds: Kinds
) -> Iterator[Finding]:
    """`needs`: the engines of the environment's datastores, whose sections it must have."""
    labels = env.get("labels")
    for label in sorted(labels if isinstance(labels, dict) else {}, key=str):
        if label in RESERVED_LABELS:
            yield ("labels", label), f"label {shown(label)} is set by obskit itself; choose another name"
    overrides = env.get("services")
    for name in sorted(overrides if isinstance(overrides, dict) else {}, key=str):
        if name not in service_names:
            yield (
                ("services", name),
                f"overrides service {shown(name)}, which is not defined under 'services'"
                + did_you_mean(name, service_names),
            )
    if needs_velero and "velero" not in env:
        yield ("velero",), "required field is missing: services in this environment have backups"
    missing: dict[str, list[str]] = {}
    for kind in needs:
        for key in (kind.section, *kind.needs):
            if key not in env and kind.label not in missing.setdefault(key, []):
                missing[key].append(kind.label)
    for key, labels in missing.items():
        yield (
            (key,),
            f"required field is missing: services in this environment back up datastores with {' and '.join(labels)}",
        )
    for kind in {kind.section: kind for kind in reversed(kinds)}.values():
        section = env.get(kind.section)
        if isinstance(section, dict):
            yield from (((kind.section, *path), message) for path, message in kind.section_checks(section))
    yield from ((("failover", *path), message) for path, message in failover_checks.check_dns(env.get("failover")))


def _check_webhook(name: str, webhook: Any) -> Iterator[Finding]:
    given = [key for key in ("url", "url_secret") if key in webhook] if isinstance(webhook, dict) else ["url"]
    if len(given) != 1:
        yield (
            ("receivers", name, "webhook"),
            "give exactly one of url (with no credential in it) and url_secret "
            f"({{secret: <Secret name>, key: <key holding the URL>}}); found {' and '.join(given) or 'none'}",
        )


def check_alerting(alerting: dict[str, Any], teams: dict[str, dict[str, Any]]) -> Iterator[tuple[str | None, Finding]]:
    """An environment's routing against the teams its services belong to: every receiver named
    exists and has exactly one integration, and every receiver is used by some route. Yields
    (team name, finding) for a team's fields, (None, finding) for the environment's `alerting`."""
    receivers = alerting.get("receivers")
    receivers = receivers if isinstance(receivers, dict) else {}
    known = sorted(receivers, key=str)
    for name in known:
        value = receivers[name]
        if name == NULL_RECEIVER:
            yield (
                None,
                (
                    ("receivers", name),
                    f"{shown(name)} is the receiver obskit writes to drop alerts (with no integration): "
                    "name yours otherwise",
                ),
            )
        integrations = sorted(value) if isinstance(value, dict) else []
        if len(integrations) != 1:
            yield (
                None,
                (
                    ("receivers", name),
                    f"a receiver has exactly one integration ({', '.join(INTEGRATIONS)}); found "
                    + (", ".join(integrations) or "none"),
                ),
            )
        elif integrations == ["webhook"]:
            yield from ((None, finding) for finding in _check_webhook(name, value["webhook"]))
    used = set()
    routed = [
        *((None, (key,), alerting.get(key)) for key in ("page", "ticket", "info")),
        *(
            (team, (key,), routes.get(key))
            for team, routes in sorted(teams.items())
            for key in ("page", "ticket", "info")
        ),
    ]
    watchdog = alerting.get("watchdog")
    heartbeat = watchdog.get("receiver") if isinstance(watchdog, dict) else None
    if heartbeat is not None and heartbeat in {receiver for _, _, receiver in routed}:
        yield (
            None,
            (
                ("watchdog", "receiver"),
                f"{shown(heartbeat)} also gets alerts that ask for people: the Watchdog always fires, so it would "
                "notify every repeat_interval; give the heartbeat a receiver of its own (a dead man's switch)",
            ),
        )
    extra = [
        (None, ("extra_routes", index), receiver)
        for index, route in enumerate(alerting.get("extra_routes") or [])
        for receiver in am_routes.receivers(route)
        if receiver != NULL_RECEIVER
    ]
    for team, path, receiver in [*routed, (None, ("watchdog", "receiver"), heartbeat), *extra]:
        if receiver is None:
            continue
        used.add(receiver)
        if receiver not in receivers:
            where = "this environment's" if team is None else "the environment's"
            yield (
                team,
                (
                    path,
                    f"{shown(receiver)} is not one of {where} alerting receivers ({', '.join(map(str, known))})"
                    + did_you_mean(receiver, [str(k) for k in known]),
                ),
            )
    for name in known:
        if name not in used and name != NULL_RECEIVER:
            yield (
                None,
                (
                    ("receivers", name),
                    f"receiver {shown(name)} is not used by any route: name it in page, ticket, info, watchdog "
                    "or extra_routes here or in a team of this environment's services, or remove it",
                ),
            )
