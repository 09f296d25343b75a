"""The plan: one environment's services with every tier value resolved and every
derived number computed once. Generators read only the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from obskit import dr
from obskit.alertcatalog import AlertTemplate
from obskit.model import SLO, Environment, Labels, Service, Spec, Tier
from obskit.units import Duration, parse_duration

# Prometheus' own default; a scrape may never take longer than its interval.
DEFAULT_SCRAPE_TIMEOUT = parse_duration("10s")


@dataclass(frozen=True)
class SLOPlan:
    slo: SLO
    objective: Decimal  # percent
    window: Duration

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
    velero: dr.VeleroPlan | None
    datastores: tuple[dr.DatastorePlan, ...]

    @property
    def name(self) -> str:
        return self.service.name

    def runbook_url(self, alert: str) -> str:
        return self.service.runbook_url.format(service=self.service.name, alert=alert)

    def severity(self, kind: str) -> str:
        """`page` is critical in tiers that page and a warning elsewhere; other kinds stay as they are."""
        if kind == "page":
            return "critical" if self.tier.pages else "warning"
        return kind


@dataclass(frozen=True)
class Plan:
    environment: Environment
    services: tuple[ServicePlan, ...]
    alert_templates: tuple[AlertTemplate, ...]
    infeasible: tuple[dr.Infeasible, ...]  # DR targets the schedules cannot meet, each with the reason
    notes: tuple[str, ...]  # assumptions worth a look (defaults used for unmeasured inputs)

    @property
    def labels(self) -> Labels:
        return self.environment.labels

    @property
    def selector_labels(self) -> Labels:
        return self.environment.selector_labels


def plan_service(service: Service, tier: Tier, findings: dr.DRFindings) -> ServicePlan:
    interval = service.metrics.interval or tier.scrape_interval
    timeout = min(tier.scrape_timeout or DEFAULT_SCRAPE_TIMEOUT, interval)
    return ServicePlan(
        service=service,
        tier=tier,
        scrape_interval=interval,
        scrape_timeout=timeout,
        slos=tuple(
            SLOPlan(
                slo=slo, objective=slo.objective if slo.objective is not None else tier.slo_objective, window=slo.window
            )
            for slo in service.slos
        ),
        velero=dr.velero_plan(service, tier, findings),
        datastores=tuple(
            dr.datastore_plan(service, tier, datastore, findings)
            for datastore in (service.backup.datastores if service.backup else ())
        ),
    )


def build_plan(spec: Spec, environment: str, alert_templates: tuple[AlertTemplate, ...]) -> Plan:
    env = spec.environment(environment)
    findings = dr.DRFindings()
    services = tuple(plan_service(service, spec.tier(service.tier), findings) for service in env.services)
    return Plan(
        environment=env,
        services=services,
        alert_templates=alert_templates,
        infeasible=tuple(findings.infeasible),
        notes=tuple(findings.notes),
    )
