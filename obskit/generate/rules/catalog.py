"""Platform alerts from the alert catalog's templates, filled in for one service."""

from __future__ import annotations

from obskit.generate.rules.common import Rule
from obskit.generate.rules.timing import check_time, input_steps
from obskit.plan.types import ServicePlan
from obskit.spec.alert_templates import AlertTemplate, fill


def template_params(service_plan: ServicePlan) -> dict[str, str]:
    """Values of the catalog's [[placeholders]] for one service."""
    platform_for = service_plan.tier.platform_alert_for
    return {
        "service": service_plan.name,
        "job": service_plan.service.job,
        "namespace": service_plan.service.namespace,
        "tier": service_plan.tier.name,
        "team": service_plan.service.team,
        "platform_for": str(platform_for),
        # samples of a test series: long enough to pass the `for:` and be checked
        "span": str(input_steps(check_time(platform_for))),
    }


def catalog_rule(service_plan: ServicePlan, template: AlertTemplate) -> Rule:
    params = template_params(service_plan)
    rule: Rule = {
        "alert": template.name,
        "expr": fill(template.expr, params),
        "labels": {
            **service_plan.alert_labels(template.severity),
            **{name: fill(value, params) for name, value in template.labels},
        },
        "annotations": {
            "summary": template.summary,
            "description": fill(template.description, params),
            "runbook_url": service_plan.runbook_url(template.name),
        },
    }
    if template.for_:
        rule["for"] = fill(template.for_, params)
    return rule
