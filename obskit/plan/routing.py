"""Alertmanager routing of one environment: which receiver each of obskit's alerts reaches (by
team and severity), where the alerts obskit does not manage go (the chart's Watchdog, other
critical alerts, the spec's extra routes; nowhere else), how alerts are grouped and repeated, and
which alerts mute which. Both renderings (a complete Alertmanager config, an AlertmanagerConfig
resource) and the routing tests read this one plan."""

from __future__ import annotations

from dataclasses import dataclass

from obskit.plan import conventions
from obskit.spec.alert_templates import AlertTemplate
from obskit.spec.am_routes import NULL_RECEIVER
from obskit.spec.model import DEPLOY_RESOURCE, Alerting, Environment, Routes
from obskit.units import Duration, parse_duration

# What an alert asks of people, and the severity label that says it.
SEVERITIES = (("page", "critical"), ("ticket", "warning"), ("info", "info"))
GROUP_BY = ("alertname", "service", "slo")
ROOT_GROUP_BY = ("alertname", "namespace")  # alerts that are not obskit's: as kube-prometheus-stack's rules label them
# kube-prometheus-stack's always-firing heartbeat, as its general.rules label it
WATCHDOG = (("alertname", "=", "Watchdog"), ("severity", "=", "none"))
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


def heartbeat(repeat_interval: Duration) -> Timing:
    """The Watchdog's notification goes out at once and then every repeat_interval: the group is
    looked at every 15s, so a repeat is never held back for a whole extra group_interval."""
    return Timing(parse_duration("0s"), parse_duration("15s"), repeat_interval)


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
class Other:
    """A route for alerts that are not obskit's."""

    matchers: tuple[tuple[str, str, str], ...]
    receiver: str
    timing: Timing


@dataclass(frozen=True)
class RoutingPlan:
    alerting: Alerting
    routes: tuple[Route, ...]  # teams' own first, then the environment's; the first match wins
    fallback_receiver: str  # obskit's alerts that no route of theirs matches (the environment's ticket receiver)
    inhibitions: tuple[Inhibition, ...]
    name: str  # of the AlertmanagerConfig
    watchdog: Other | None  # before every other route
    other_critical: Other | None  # after obskit's
    # what alerts that are not obskit's reach when no route matches them: nothing (a receiver without integrations)
    unmanaged_receiver: str = NULL_RECEIVER

    @property
    def routes_unmanaged(self) -> bool:
        """Whether any route takes alerts that are not obskit's (the AlertmanagerConfig then matches every alert)."""
        return bool(self.watchdog or self.other_critical or self.alerting.extra_routes)

    @property
    def as_resource(self) -> bool:
        return self.alerting.deploy == DEPLOY_RESOURCE

    def unmanaged(self, labels: dict[str, str]) -> str:
        """The receiver an alert that is not obskit's reaches, when no extra route takes it."""
        for other in (self.watchdog, self.other_critical):
            if other is not None and all(labels.get(label) == value for label, _, value in other.matchers):
                return other.receiver
        return self.unmanaged_receiver

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
    watchdog = alerting.watchdog
    other = {"page": alerting.page, "ticket": alerting.ticket}.get(alerting.other_critical)
    return RoutingPlan(
        alerting=alerting,
        routes=tuple(routes),
        fallback_receiver=alerting.routes.ticket,
        inhibitions=_inhibitions(env) + _twins(templates),
        name=conventions.alertmanager_config_name(env.name),
        watchdog=None if watchdog is None else Other(WATCHDOG, watchdog.receiver, heartbeat(watchdog.repeat_interval)),
        other_critical=None
        if other is None
        else Other(
            (("severity", "=", "critical"),),
            other,
            TIMINGS["critical" if alerting.other_critical == "page" else "warning"],
        ),
    )
