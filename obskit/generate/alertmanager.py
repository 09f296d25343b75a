"""Alertmanager routing for the environment, from the routing plan: a complete Alertmanager
configuration, the same routing as an AlertmanagerConfig (monitoring.coreos.com/v1alpha1), and
the routing tests `obskit test` runs with amtool."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from obskit.generate.artifact import File
from obskit.output import escape, layout, render
from obskit.plan.meta import object_metadata
from obskit.plan.routing import GROUP_BY, MARKER, ROOT_GROUP_BY, SEVERITIES, Other, Route, RoutingPlan
from obskit.plan.types import Plan
from obskit.spec import am_routes
from obskit.spec.am_routes import NULL_RECEIVER
from obskit.spec.model import Receiver
from obskit.spec.refs import SecretRef

# Where the operator mounts the Secrets named in alertmanagerSpec.secrets
SECRETS_DIR = "/etc/alertmanager/secrets"

# Per integration: the config's list key and the resource's, and per spec field its key in each.
INTEGRATIONS: dict[str, tuple[str, str, dict[str, tuple[str, str]]]] = {
    "pagerduty": ("pagerduty_configs", "pagerdutyConfigs", {"routing_key": ("routing_key_file", "routingKey")}),
    "slack": (
        "slack_configs",
        "slackConfigs",
        {"api_url": ("api_url_file", "apiURL"), "channel": ("channel", "channel")},
    ),
    # url_file needs Alertmanager 0.26 or later; the operator reads urlSecret itself
    "webhook": ("webhook_configs", "webhookConfigs", {"url": ("url", "url"), "url_secret": ("url_file", "urlSecret")}),
    "email": (
        "email_configs",
        "emailConfigs",
        {
            "to": ("to", "to"),
            "from": ("from", "from"),
            "smarthost": ("smarthost", "smarthost"),
            "auth_username": ("auth_username", "authUsername"),
            "auth_password": ("auth_password_file", "authPassword"),
        },
    ),
    "opsgenie": (
        "opsgenie_configs",
        "opsgenieConfigs",
        {"api_key": ("api_key_file", "apiKey"), "api_url": ("api_url", "apiURL")},
    ),
}


# What on-call reads in a notification (Alertmanager's Go templates): each alert's summary and
# description, and the runbook_url and dashboard_url annotations obskit's alerts carry (the
# chart's carry runbook_url too). PagerDuty drops a link whose href comes out empty.
SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.alertname }}{{ with .CommonLabels.service }} ({{ . }}){{ end }}"
)
SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n{{ .Annotations.description }}\n"
    "{{ with .Annotations.runbook_url }}<{{ . }}|Runbook> {{ end }}"
    "{{ with .Annotations.dashboard_url }}<{{ . }}|Dashboard>{{ end }}\n{{ end }}"
)
# PagerDuty's severities are critical, error, warning and info: obskit's `info` and the Watchdog's `none` are info
PAGERDUTY_SEVERITY = (
    '{{ if eq .CommonLabels.severity "critical" "error" "warning" }}{{ .CommonLabels.severity }}{{ else }}info{{ end }}'
)
PAGERDUTY_LINKS = (
    ("{{ .CommonAnnotations.runbook_url }}", "Runbook"),
    ("{{ .CommonAnnotations.dashboard_url }}", "Dashboard"),
)
# Per integration, what obskit adds to the spec's fields: in the configuration, and in the resource.
PAYLOADS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "slack": (
        {"title": SLACK_TITLE, "text": SLACK_TEXT, "send_resolved": True},
        {"title": SLACK_TITLE, "text": SLACK_TEXT, "sendResolved": True},
    ),
    "pagerduty": (
        {
            "severity": PAGERDUTY_SEVERITY,
            "links": [{"href": href, "text": text} for href, text in PAGERDUTY_LINKS],
            "send_resolved": True,
        },
        {
            "severity": PAGERDUTY_SEVERITY,
            "pagerDutyLinkConfigs": [{"href": href, "alt": text} for href, text in PAGERDUTY_LINKS],
            "sendResolved": True,
        },
    ),
}


def _config_receiver(receiver: Receiver) -> dict[str, Any]:
    list_key, _, fields = INTEGRATIONS[receiver.integration]
    settings = {
        fields[name][0]: f"{SECRETS_DIR}/{value.secret}/{value.key}" if isinstance(value, SecretRef) else value
        for name, value in receiver.settings
    }
    return {"name": receiver.name, list_key: [{**settings, **PAYLOADS.get(receiver.integration, ({}, {}))[0]}]}


def _resource_receiver(receiver: Receiver) -> dict[str, Any]:
    _, list_key, fields = INTEGRATIONS[receiver.integration]
    settings = {
        fields[name][1]: {"name": value.secret, "key": value.key} if isinstance(value, SecretRef) else value
        for name, value in receiver.settings
    }
    return {"name": receiver.name, list_key: [{**settings, **PAYLOADS.get(receiver.integration, ({}, {}))[1]}]}


def _resource_matcher(label: str, op: str, value: str) -> dict[str, str]:
    return {"name": label, "matchType": op, "value": value}


@dataclass(frozen=True)
class _Format:
    """How one rendering spells the same routing: its matchers and its keys (snake or camel case)."""

    matcher: Callable[[str, str, str], Any]
    keys: dict[str, str]

    def matchers(self, matchers: Iterable[tuple[str, str, str]]) -> list[Any]:
        return [self.matcher(*m) for m in matchers]


_TIMING = ("group_wait", "group_interval", "repeat_interval")
CONFIG_FORMAT = _Format(
    escape.am_matcher,
    {**{key: key for key in (*_TIMING, "group_by")}, "source": "source_matchers", "target": "target_matchers"},
)
RESOURCE_FORMAT = _Format(
    _resource_matcher,
    {"group_wait": "groupWait", "group_interval": "groupInterval", "repeat_interval": "repeatInterval",
     "group_by": "groupBy", "source": "sourceMatch", "target": "targetMatch"},
)  # fmt: skip


def _route_matchers(route: Route) -> list[tuple[str, str, str]]:
    team = [("team", "=", route.team)] if route.team is not None else []
    return [*team, ("severity", "=", route.severity)]


def _routes(routing: RoutingPlan, fmt: _Format) -> list[dict[str, Any]]:
    return [
        {
            "matchers": fmt.matchers(_route_matchers(route)),
            "receiver": route.receiver,
            **{fmt.keys[key]: str(getattr(route.timing, key)) for key in _TIMING},
        }
        for route in routing.routes
    ]


def _other(other: Other | None, fmt: _Format, **extra: Any) -> list[dict[str, Any]]:
    if other is None:
        return []
    return [
        {
            "matchers": fmt.matchers(other.matchers),
            "receiver": other.receiver,
            **{fmt.keys[key]: str(getattr(other.timing, key)) for key in _TIMING},
            **extra,
        }
    ]


def _tree(routing: RoutingPlan, fmt: _Format, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Under the root: the Watchdog's heartbeat first (nothing before it can take it to a ticket),
    the spec's extra routes, obskit's alerts by their marker, then critical alerts that are not
    obskit's."""
    obskit = {
        "matchers": fmt.matchers([MARKER]),
        "receiver": routing.fallback_receiver,
        fmt.keys["group_by"]: list(GROUP_BY),
        "routes": _routes(routing, fmt),
    }
    return [*_other(routing.watchdog, fmt, **{"continue": False}), *extra, obskit, *_other(routing.other_critical, fmt)]


def _receivers(routing: RoutingPlan, render_one: Callable[[Receiver], dict[str, Any]], null: bool) -> list[Any]:
    rendered = [render_one(receiver) for receiver in routing.alerting.receivers]
    if null:
        rendered.append({"name": NULL_RECEIVER})
    return sorted(rendered, key=lambda receiver: str(receiver["name"]))


def _inhibit_rules(routing: RoutingPlan, fmt: _Format) -> list[dict[str, Any]]:
    return [
        {
            fmt.keys["source"]: fmt.matchers(rule.source),
            fmt.keys["target"]: fmt.matchers(rule.target),
            "equal": list(rule.equal),
        }
        for rule in routing.inhibitions
    ]


def alertmanager_config(routing: RoutingPlan) -> dict[str, Any]:
    """A complete configuration: obskit's alerts routed by its labels; of the others, the Watchdog,
    critical ones and those the extra routes take go where the spec says, and the rest to a receiver
    without integrations (dropped). obskit's inhibit rules touch only obskit's alerts."""
    extra = [route.route for route in routing.alerting.extra_routes]
    return {
        "route": {
            "receiver": routing.unmanaged_receiver,
            "group_by": list(ROOT_GROUP_BY),
            "routes": _tree(routing, CONFIG_FORMAT, extra),
        },
        "inhibit_rules": _inhibit_rules(routing, CONFIG_FORMAT),
        "receivers": _receivers(routing, _config_receiver, null=True),
    }


def _resource_route(routing: RoutingPlan) -> dict[str, Any]:
    """The operator puts this route before the chart's own with `continue: true`, so every alert
    goes on to the chart's routes after it. Routing only obskit's alerts, it matches their marker;
    routing others too, it matches every alert, and those its routes do not take reach a receiver
    without integrations here (and the chart's routes after it)."""
    if not routing.routes_unmanaged:
        return {
            "receiver": routing.fallback_receiver,
            "groupBy": list(GROUP_BY),
            "matchers": RESOURCE_FORMAT.matchers([MARKER]),
            "routes": _routes(routing, RESOURCE_FORMAT),
        }
    extra = [am_routes.as_resource_route(route.route) for route in routing.alerting.extra_routes]
    return {
        "receiver": routing.unmanaged_receiver,
        "groupBy": list(ROOT_GROUP_BY),
        "routes": _tree(routing, RESOURCE_FORMAT, extra),
    }


def alertmanager_resource(plan: Plan, routing: RoutingPlan) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": object_metadata(plan, routing.name, routing.alerting.namespace),
        "spec": {
            "route": _resource_route(routing),
            "inhibitRules": _inhibit_rules(routing, RESOURCE_FORMAT),
            "receivers": _receivers(routing, _resource_receiver, null=routing.routes_unmanaged),
        },
    }


def _taken_by_extra_routes(routing: RoutingPlan, labels: dict[str, str]) -> bool:
    """Whether an extra route's own matchers match the labels (so the spec decides where they go)."""
    return any(
        all(am_routes.matches(matcher, labels) for matcher in am_routes.matchers(route.route))
        for route in routing.alerting.extra_routes
    )


# Alerts that are not obskit's: the chart's heartbeat, a critical and a warning of someone else's.
UNMANAGED_CASES = (
    {"alertname": "Watchdog", "severity": "none"},
    {"alertname": "NotObskits", "severity": "critical"},
    {"alertname": "NotObskits", "severity": "warning"},
)


def route_tests(plan: Plan, routing: RoutingPlan) -> dict[str, Any]:
    """Every severity each service's alerts can carry, with the labels they carry, and the
    receiver it must reach; and alerts of someone else's, with the receiver the spec gives them
    (the Watchdog's, other_critical's, or none) unless an extra route takes them."""
    cases = [
        {
            "labels": {**service_plan.labels, "alertname": "ObskitRouteTest", "severity": severity},
            "receiver": routing.receiver(service_plan.service.team, severity),
        }
        for service_plan in plan.services
        for _, severity in SEVERITIES
    ]
    cases += [
        {"labels": labels, "receiver": routing.unmanaged(labels)}
        for labels in UNMANAGED_CASES
        if (labels["alertname"] == "Watchdog" and routing.watchdog) or not _taken_by_extra_routes(routing, labels)
    ]
    return {"config": "alertmanager.yaml", "cases": cases}


def files(plan: Plan) -> list[File]:
    """The configuration and its routing tests always (`obskit test` runs amtool on them); the
    AlertmanagerConfig only when the kustomization applies it (the tree's kustomization turns the
    configuration into a Secret otherwise)."""
    routing = plan.routing
    if routing is None:
        return []
    env = plan.environment.name
    resource = [
        File(layout.ALERTMANAGER_RESOURCE, render.yaml_file(env, alertmanager_resource(plan, routing)), kubernetes=True)
    ]
    return [
        File(layout.ALERTMANAGER_CONFIG, render.yaml_file(env, alertmanager_config(routing))),
        *(resource if routing.as_resource else []),
        File(layout.ROUTE_TESTS, render.yaml_file(env, route_tests(plan, routing))),
    ]
