"""Every rule group of a service: platform alerts from the catalog, then each SLO's groups;
written as a PrometheusRule object and as a plain Prometheus rule file."""

from __future__ import annotations

from obskit.alertcatalog import AlertTemplate, fill
from obskit.generate import render
from obskit.generate.dr_rules import dr_groups
from obskit.generate.meta import object_metadata
from obskit.generate.slo_rules import Group, Rule, alert_labels, group_name, slo_groups
from obskit.generate.timing import check_time, input_steps
from obskit.plan import Plan, ServicePlan

MAX_RULES_PER_GROUP = 20  # the monitoring-mixin lint's limit


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


def catalog_rule(plan: Plan, service_plan: ServicePlan, template: AlertTemplate) -> Rule:
    params = template_params(service_plan)
    rule: Rule = {
        "alert": template.name,
        "expr": fill(template.expr, params),
        "labels": {
            **alert_labels(plan, service_plan, service_plan.severity(template.severity)),
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


def _chunked(name: str, rules: list[Rule]) -> list[Group]:
    chunks = [rules[i : i + MAX_RULES_PER_GROUP] for i in range(0, len(rules), MAX_RULES_PER_GROUP)]
    return [{"name": name if i == 0 else f"{name}-{i + 1}", "rules": chunk} for i, chunk in enumerate(chunks)]


def service_groups(plan: Plan, service_plan: ServicePlan) -> list[Group]:
    groups: list[Group] = []
    by_group: dict[str, list[Rule]] = {}
    for template in plan.alert_templates:
        by_group.setdefault(template.group, []).append(catalog_rule(plan, service_plan, template))
    for catalog_group, rules in by_group.items():
        groups += _chunked(group_name(service_plan, catalog_group), rules)
    for slo_plan in service_plan.slos:
        groups += slo_groups(plan, service_plan, slo_plan)
    groups += dr_groups(plan, service_plan)
    return groups


def rule_file(environment: str, groups_yaml: str) -> str:
    """The plain rule file: the groups' YAML under `groups:`."""
    return render.header(environment) + "groups:\n" + groups_yaml


def prometheus_rule(plan: Plan, service_plan: ServicePlan, groups_yaml: str) -> str:
    """The PrometheusRule: the same groups' YAML nested under `spec:` (rendered once, used twice;
    `spec` sorts after `apiVersion`, `kind` and `metadata`)."""
    head = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": object_metadata(plan, service_plan.name, service_plan.service.namespace),
    }
    return render.yaml_file(plan.environment.name, head) + "spec:\n  groups:\n" + render.indented(groups_yaml, 2)


def groups_yaml(groups: list[Group]) -> str:
    """The rule groups as a YAML sequence, rendered once for both files."""
    return render.to_yaml([groups])  # one document that is a list
