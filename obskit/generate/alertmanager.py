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
from obskit.plan.routing import GROUP_BY, MARKER, SEVERITIES, Route, RoutingPlan
from obskit.plan.types import Plan
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


def _config_receiver(receiver: Receiver) -> dict[str, Any]:
    list_key, _, fields = INTEGRATIONS[receiver.integration]
    settings = {
        fields[name][0]: f"{SECRETS_DIR}/{value.secret}/{value.key}" if isinstance(value, SecretRef) else value
        for name, value in receiver.settings
    }
    return {"name": receiver.name, list_key: [settings]}


def _resource_receiver(receiver: Receiver) -> dict[str, Any]:
    _, list_key, fields = INTEGRATIONS[receiver.integration]
    settings = {
        fields[name][1]: {"name": value.secret, "key": value.key} if isinstance(value, SecretRef) else value
        for name, value in receiver.settings
    }
    return {"name": receiver.name, list_key: [settings]}


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
    escape.am_matcher, {**{key: key for key in _TIMING}, "source": "source_matchers", "target": "target_matchers"}
)
RESOURCE_FORMAT = _Format(
    _resource_matcher,
    {"group_wait": "groupWait", "group_interval": "groupInterval", "repeat_interval": "repeatInterval",
     "source": "sourceMatch", "target": "targetMatch"},
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
    """A complete configuration: obskit's alerts routed by its labels, every other alert to the
    root receiver, untouched by obskit's inhibit rules."""
    return {
        "route": {
            "receiver": routing.root_receiver,
            "group_by": ["alertname", "namespace"],
            "routes": [
                {
                    "matchers": CONFIG_FORMAT.matchers([MARKER]),
                    "receiver": routing.root_receiver,
                    "group_by": list(GROUP_BY),
                    "routes": _routes(routing, CONFIG_FORMAT),
                }
            ],
        },
        "inhibit_rules": _inhibit_rules(routing, CONFIG_FORMAT),
        "receivers": [_config_receiver(receiver) for receiver in routing.alerting.receivers],
    }


def alertmanager_resource(plan: Plan, routing: RoutingPlan) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": object_metadata(plan, routing.name, routing.alerting.namespace),
        "spec": {
            "route": {
                "receiver": routing.root_receiver,
                "groupBy": list(GROUP_BY),
                "matchers": RESOURCE_FORMAT.matchers([MARKER]),
                "routes": _routes(routing, RESOURCE_FORMAT),
            },
            "inhibitRules": _inhibit_rules(routing, RESOURCE_FORMAT),
            "receivers": [_resource_receiver(receiver) for receiver in routing.alerting.receivers],
        },
    }


def route_tests(plan: Plan, routing: RoutingPlan) -> dict[str, Any]:
    """Every severity each service's alerts can carry, with the labels they carry, and the
    receiver it must reach; and an alert of someone else's, which must reach the root receiver."""
    cases = [
        {
            "labels": {**service_plan.labels, "alertname": "ObskitRouteTest", "severity": severity},
            "receiver": routing.receiver(service_plan.service.team, severity),
        }
        for service_plan in plan.services
        for _, severity in SEVERITIES
    ]
    cases.append({"labels": {"alertname": "NotObskits", "severity": "critical"}, "receiver": routing.root_receiver})
    return {"config": "alertmanager.yaml", "cases": cases}


def files(plan: Plan) -> list[File]:
    routing = plan.routing
    if routing is None:
        return []
    env = plan.environment.name
    return [
        File(layout.ALERTMANAGER_CONFIG, render.yaml_file(env, alertmanager_config(routing))),
        File(
            layout.ALERTMANAGER_RESOURCE, render.yaml_file(env, alertmanager_resource(plan, routing)), kubernetes=True
        ),
        File(layout.ROUTE_TESTS, render.yaml_file(env, route_tests(plan, routing))),
    ]
