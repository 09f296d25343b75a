"""The plan's types: one environment's services with every tier value resolved and every
derived number computed once. Generators read only the plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from obskit.plan import burnrate, dr
from obskit.plan.conventions import runbook_anchor
from obskit.plan.engine import DatastorePlan, Engine
from obskit.plan.failover import FailoverPlan
from obskit.plan.routing import RoutingPlan
from obskit.plan.velero import InstallationLoad, VeleroPlan
from obskit.spec.alert_templates import AlertTemplate
from obskit.spec.model import SLO, Environment, Labels, Service, Tier
from obskit.spec.problems import Problem
from obskit.units import Duration


def severity(tier: Tier, kind: str) -> str:
    """`page` is critical in tiers that page and a warning elsewhere; other kinds stay as they are."""
    if kind == "page":
        return "critical" if tier.pages else "warning"
    return kind


@dataclass(frozen=True)
class BurnAlertPlan:
    """One ErrorBudgetBurn alert of an SLO: its window pair and the numbers it fires on."""

    pair: burnrate.WindowPair
    factor: Fraction  # times the sustainable burn rate
    threshold: Fraction  # error ratio over both windows
    severity: str


@dataclass(frozen=True)
class SLOPlan:
    slo: SLO
    objective: Decimal  # percent
    window: Duration
    budget: Fraction  # the allowed error ratio
    labels: dict[str, str]  # of every series recorded for the SLO
    selector: str  # those labels as a PromQL selector
    burn_alerts: tuple[BurnAlertPlan, ...]

    @property
    def name(self) -> str:
        return self.slo.name


@dataclass(frozen=True)
class ServicePlan:
    service: Service
    tier: Tier
    scrape_interval: Duration
    scrape_timeout: Duration
    slos: tuple[SLOPlan, ...]
    velero: VeleroPlan | None
    datastores: tuple[DatastorePlan, ...]
    labels: dict[str, str]  # every alert's labels but severity: the environment's, the marker, service, tier, team
    dashboard_uid: str
    dashboard_url: str | None  # None without the environment's grafana_url
    runbook_template: str  # the spec's runbook_url ({service}, {alert}), or the generated runbook's ({anchor} too)
    failover: FailoverPlan | None = None  # None: the service does not fail over

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def evaluation_interval(self) -> Duration:
        """Of the service's platform alert groups: its scrape interval, so that a `for:` of
        minutes sees every scrape, and their tests evaluate exactly as Prometheus does."""
        return self.scrape_interval

    def runbook_url(self, alert: str) -> str:
        return self.runbook_template.format(service=self.service.name, alert=alert, anchor=runbook_anchor(alert))

    def links(self, alert: str) -> dict[str, str]:
        """The annotations that take the on-call from an alert to its runbook and dashboard."""
        links = {"runbook_url": self.runbook_url(alert)}
        if self.dashboard_url:
            links["dashboard_url"] = self.dashboard_url
        return links

    def alert_labels(self, severity: str) -> dict[str, str]:
        return {**self.labels, "severity": self.severity(severity)}

    def severity(self, kind: str) -> str:
        return severity(self.tier, kind)


@dataclass(frozen=True)
class Plan:
    environment: Environment
    services: tuple[ServicePlan, ...]
    alert_templates: tuple[AlertTemplate, ...]
    infeasible: tuple[dr.Infeasible, ...]  # DR targets the schedules cannot meet, each with the reason
    notes: tuple[str, ...]  # assumptions worth a look (defaults used for unmeasured inputs)
    routing: RoutingPlan | None = None  # None: the environment has no `alerting`
    velero_load: InstallationLoad | None = None  # None: no service has Velero backups
    problems: tuple[Problem, ...] = ()  # what the spec asks that cannot work (SLO alerts that could never fire)
    engines: tuple[Engine, ...] = ()  # every engine obskit knows, in the registry's order

    def engines_of(self, datastores: Iterable[DatastorePlan]) -> tuple[Engine, ...]:
        """The engines that plan these datastores."""
        keys = {(ds.datastore.engine, ds.datastore.method) for ds in datastores}
        return tuple(engine for engine in self.engines if engine.key in keys)

    @property
    def engines_used(self) -> tuple[Engine, ...]:
        """The engines of the environment's datastores: the DR dashboard has their rows."""
        return self.engines_of(ds for service in self.services for ds in service.datastores)

    @property
    def labels(self) -> Labels:
        return self.environment.labels

    @property
    def selector_labels(self) -> Labels:
        return self.environment.selector_labels
