"""Which of its alerts a service may leave out (`services.<name>.alerts.disable`), and the
problems of its list: a name obskit does not know, or an alert that keeps a promise of the tier."""

from __future__ import annotations

from obskit.generate.rules.dr import dr_groups
from obskit.generate.rules.failover import failover_groups
from obskit.plan import conventions
from obskit.plan.types import Plan, ServicePlan
from obskit.spec.alert_templates import unknown_name
from obskit.spec.problems import Problem

BURN = "ErrorBudgetBurn"
# Alerts about an SLO's inputs: a service that knows its metrics come and go may leave them out.
OPTIONAL_SLO_ALERTS = tuple(name for name in conventions.SLO_ALERTS if name != BURN)
MAX_LISTED = 20

_BURN_MESSAGE = (
    f"{BURN} cannot be disabled: it is what the service's SLOs alert with; drop an SLO's fast or slow "
    "burns with `slos.<name>.alerts.page: false` or `ticket: false` instead"
)
_GUARDED_MESSAGE = (
    "{name} cannot be disabled: obskit's backup, restore drill and failover alerts are what hold the "
    "tier's RPO and RTO (a backup that stops would go unnoticed); remove the backup or failover instead"
)


def _guarded(service_plan: ServicePlan) -> set[str]:
    """The service's DR and failover alerts."""
    groups = [*dr_groups(service_plan), *failover_groups(service_plan)]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def _message(name: str, optional: list[str], guarded: set[str]) -> str | None:
    if name in optional:
        return None
    if name == BURN:
        return _BURN_MESSAGE
    if name in guarded:
        return _GUARDED_MESSAGE.format(name=name)
    return unknown_name("alert", name, optional, "the alerts a service may disable", MAX_LISTED)


def disable_problems(plan: Plan) -> list[Problem]:
    """Each name of a service's `alerts.disable` that is not a catalog alert, SLIMetricMissing or
    SLIBucketMissing, at its line."""
    choosing = [service_plan for service_plan in plan.services if service_plan.service.alerts.disable]
    if not choosing:
        return []
    optional = sorted({template.name for template in plan.alert_templates} | set(OPTIONAL_SLO_ALERTS))
    named = {name for service_plan in choosing for name in service_plan.service.alerts.disable}
    # rendering every service's DR rules only to name a refused one
    guarded = {n for sp in plan.services for n in _guarded(sp)} if named - {*optional, BURN} else set()
    problems = []
    for service_plan in choosing:
        service = service_plan.service
        for index, name in enumerate(service.alerts.disable):
            message = _message(name, optional, guarded)
            if message is not None:
                path = ("alerts", "disable", index)
                file, line = service.where.get(path) or service.where[()]
                problems.append(Problem(file, line, ("services", service.name, *path), message))
    return problems
