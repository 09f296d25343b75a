"""Alertmanager routing of one environment: which receiver each of obskit's alerts reaches (by
team and severity), how alerts are grouped and repeated, and which alerts mute which. Both
renderings (a complete Alertmanager config, an AlertmanagerConfig resource) and the routing
tests read this one plan."""

from __future__ import annotations

from dataclasses import dataclass

from obskit.plan import conventions
from obskit.spec.alert_templates import AlertTemplate
from obskit.spec.model import Alerting, Environment, Routes
from obskit.units import Duration, parse_duration

# What an alert asks of people, and the severity label that says it.
SEVERITIES = (("page", "critical"), ("ticket", "warning"), ("info", "info"))
GROUP_BY = ("alertname", "service", "slo")
MARKER = (conventions.ALERT_MARKER[0], "=", conventions.ALERT_MARKER[1])  # the matcher of obskit's alerts


@dataclass(frozen=True)
class Timing:
    group_wait: Duration  # before the first notification of a new group
    group_interval: Duration  # before notifying of alerts added to a group
    repeat_interval: Duration  # before repeating a notification still firing


# Pages go out fast and repeat within the hour; tickets and infos batch and repeat daily at most.
TIMINGS = {
    "critical": Timing(parse_duration("30s"), parse_duration("5m"), parse_duration("1h")),
    "warning": Timing(parse_duration("1m"), parse_duration("10m"), parse_duration("12h")),
    "info": Timing(parse_duration("5m"), parse_duration("30m"), parse_duration("24h")),
}


@dataclass(frozen=True)
class Route:
    team: str | None  # None: every team without receivers of its own
    severity: str
    receiver: str
    timing: Timing


@dataclass(frozen=True)
class Inhibition:
    source: tuple[tuple[str, str, str], ...]  # (label, "=" or "=~", value)
    target: tuple[tuple[str, str, str], ...]
    equal: tuple[str, ...]


@dataclass(frozen=True)
class RoutingPlan:
    alerting: Alerting
    routes: tuple[Route, ...]  # teams' own first, then the environment's; the first match wins
    root_receiver: str  # what alerts without obskit's marker reach (the environment's ticket receiver)
    inhibitions: tuple[Inhibition, ...]
    name: str  # of the AlertmanagerConfig

    def receiver(self, team: str, severity: str) -> str:
        """The receiver an alert of obskit's with this team and severity reaches."""
        return next(r.receiver for r in self.routes if r.team in (team, None) and r.severity == severity)


def _routes(team: str | None, routes: Routes) -> list[Route]:
    """A route per severity the team (None: the environment) names a receiver for; a team's
    missing ones fall through to the environment's routes after it."""
    return [
        Route(team, severity, receiver, TIMINGS[severity])
        for kind, severity in SEVERITIES
        if (receiver := getattr(routes, kind)) is not None
    ]


def _twins(templates: tuple[AlertTemplate, ...]) -> tuple[Inhibition, ...]:
    """Each catalog alert mutes its kube-prometheus-stack twins (its `mutes:`) on the same object,
    so that the chart's KubePodCrashLooping and obskit's ServicePodCrashLooping never both notify."""
    return tuple(
        Inhibition(
            (MARKER, ("alertname", "=", template.name)),
            (("alertname", "=~" if len(template.mutes) > 1 else "=", "|".join(template.mutes)),),
            template.mutes_equal,
        )
        for template in templates
        if template.mutes
    )


def _inhibitions(env: Environment) -> tuple[Inhibition, ...]:
    """Nothing crosses services: every rule requires the same environment labels, namespace and service."""
    same_service = (*(name for name, _ in env.labels), "namespace", "service")
    return (
        # a page mutes the same service's tickets of the same alert (a slow burn of the same SLO)
        Inhibition(
            (MARKER, ("severity", "=", "critical")),
            (MARKER, ("severity", "=~", "warning|info")),
            (*same_service, "slo", "alertname"),
        ),
        # a service that is down (or has no targets) mutes its SLO alerts: they only echo it
        Inhibition(
            (MARKER, ("alertname", "=~", "|".join(conventions.SERVICE_DOWN_ALERTS))),
            (MARKER, ("alertname", "=~", "|".join(conventions.SLO_ALERTS))),
            same_service,
        ),
    )


def routing_plan(env: Environment, templates: tuple[AlertTemplate, ...] = ()) -> RoutingPlan | None:
    alerting = env.alerting
    if alerting is None:
        return None
    routes = [route for team, own in alerting.teams for route in _routes(team, own)]
    routes += _routes(None, alerting.routes)
    assert alerting.routes.ticket is not None
    return RoutingPlan(
        alerting=alerting,
        routes=tuple(routes),
        root_receiver=alerting.routes.ticket,
        inhibitions=_inhibitions(env) + _twins(templates),
        name=conventions.alertmanager_config_name(env.name),
    )
