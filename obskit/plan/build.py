"""Building the plan of one environment from the typed spec: tiers resolved, DR math done,
every derived number and name computed once."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from obskit import defaults
from obskit.output import escape
from obskit.plan import burnrate, conventions, dr
from obskit.plan.engine import Engines
from obskit.plan.failover import failover_plan
from obskit.plan.reachable import unreachable_slos
from obskit.plan.routing import TIMINGS, routing_plan
from obskit.plan.types import BurnAlertPlan, Plan, ServicePlan, SLOPlan, severity
from obskit.plan.velero import VeleroPlan, velero_plans
from obskit.spec.alert_templates import AlertTemplate
from obskit.spec.model import SLO, Environment, Service, Spec, Tier
from obskit.units import Duration


def plan_slo(env: Environment, service: Service, tier: Tier, slo: SLO) -> SLOPlan:
    objective = slo.objective if slo.objective is not None else tier.slo_objective
    labels = {**dict(env.labels), "namespace": service.namespace, "service": service.name, "slo": slo.name}
    return SLOPlan(
        slo=slo,
        objective=objective,
        window=slo.window,
        budget=burnrate.error_budget(objective),
        labels=labels,
        selector=escape.label_selector({name: labels[name] for name in sorted(labels)}),
        burn_alerts=_burn_alerts(slo.window, objective, slo.alerts.page, slo.alerts.ticket, tier),
    )


@cache  # a fleet's SLOs repeat a few windows, objectives and tiers
def _burn_alerts(
    window: Duration, objective: Decimal, page: bool, ticket: bool, tier: Tier
) -> tuple[BurnAlertPlan, ...]:
    return tuple(
        BurnAlertPlan(
            pair=pair,
            factor=pair.factor(window),
            threshold=burnrate.threshold(pair, window, objective),
            severity=severity(tier, "page" if pair.fast else "warning"),
        )
        for pair in burnrate.PAIRS
        if (page if pair.fast else ticket)
    )


def plan_service(
    env: Environment,
    service: Service,
    tier: Tier,
    velero: VeleroPlan | None,
    findings: dr.DRFindings,
    engines: Engines,
) -> ServicePlan:
    interval = (service.metrics.interval if service.metrics else None) or tier.scrape_interval
    uid = conventions.dashboard_uid(env.name, "slo")

    datastores = tuple(
        engines[datastore.engine, datastore.method].plan(service, tier, datastore, findings)
        for datastore in (service.backup.datastores if service.backup else ())
    )
    failover = None
    if service.failover is not None:
        assert env.failover is not None, "validation requires the environment's failover with a service's"
        timing = (interval, TIMINGS[severity(tier, "page")].group_wait)
        copies = tuple((ds.name, ds.failover(service, tier, env.failover, findings)) for ds in datastores)
        kept = tuple((name, copy) for name, copy in copies if copy is not None)
        failover = failover_plan(service, tier, env.failover, timing, findings, kept)
    return ServicePlan(
        service=service,
        tier=tier,
        scrape_interval=interval,
        scrape_timeout=min(tier.scrape_timeout or defaults.SCRAPE_TIMEOUT, interval),
        slos=tuple(plan_slo(env, service, tier, slo) for slo in service.slos),
        velero=velero,
        datastores=datastores,
        # the service's own namespace, over an exporter's or the Pushgateway's: Alertmanager's
        # inhibit rules (kube-prometheus-stack's match on namespace) must not cross services
        labels={
            **dict(env.labels),
            conventions.ALERT_MARKER[0]: conventions.ALERT_MARKER[1],
            "namespace": service.namespace,
            "service": service.name,
            "tier": tier.name,
            "team": service.team,
        },
        dashboard_uid=uid,
        dashboard_url=f"{env.grafana_url}/d/{uid}?var-service={service.name}" if env.grafana_url else None,
        runbook_template=service.runbook_url or f"{env.runbook_base}/{conventions.RUNBOOK_PATH}",
        failover=failover,
    )


def build_plan(spec: Spec, environment: str, alert_templates: tuple[AlertTemplate, ...], engines: Engines) -> Plan:
    """The environment's plan; `engines` plan its datastores (the spec allows only their keys)."""
    env = spec.environment(environment)
    findings = dr.DRFindings()
    tiers = [(service, spec.tier(service.tier)) for service in env.services]
    dr_location = env.failover.velero.storage_location if env.failover and env.failover.velero else None
    velero, velero_load = velero_plans(tiers, env.velero, findings, engines, dr_location)
    services = tuple(
        plan_service(env, service, tier, velero.get(service.name), findings, engines) for service, tier in tiers
    )
    if services and env.grafana_url is None:
        findings.notes.append(
            f"environment {env.name}: alerts carry no dashboard_url; set grafana_url to link them to their dashboards"
        )
    return Plan(
        environment=env,
        services=services,
        alert_templates=alert_templates,
        infeasible=tuple(findings.infeasible),
        notes=tuple(findings.notes),
        routing=routing_plan(env, alert_templates),
        velero_load=velero_load,
        engines=tuple(engines.values()),
        problems=tuple(problem for service, tier in tiers for problem in unreachable_slos(service, tier)),
    )
