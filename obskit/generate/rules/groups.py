"""Every rule group of a service: platform alerts from the catalog, then each SLO's groups, then
the DR alerts; written as a PrometheusRule object and as a plain Prometheus rule file, with
the promtool tests of the same groups and a runbook behind each alert."""

from __future__ import annotations

from obskit.alerting.alerts import Group, Rule
from obskit.generate.artifact import File
from obskit.generate.rules import runbooks
from obskit.generate.rules.catalog import applies, catalog_rule
from obskit.generate.rules.dr import dr_groups
from obskit.generate.rules.failover import failover_groups
from obskit.generate.rules.slo import slo_groups
from obskit.generate.rules.tests import service_tests
from obskit.output import layout, render
from obskit.plan.conventions import group_name
from obskit.plan.meta import object_metadata
from obskit.plan.types import Plan, ServicePlan

MAX_RULES_PER_GROUP = 20  # the monitoring-mixin lint's limit


def _chunked(name: str, rules: list[Rule]) -> list[Group]:
    chunks = [rules[i : i + MAX_RULES_PER_GROUP] for i in range(0, len(rules), MAX_RULES_PER_GROUP)]
    return [{"name": name if i == 0 else f"{name}-{i + 1}", "rules": chunk} for i, chunk in enumerate(chunks)]


def service_groups(plan: Plan, service_plan: ServicePlan) -> list[Group]:
    groups: list[Group] = []
    by_group: dict[str, list[Rule]] = {}
    for template in plan.alert_templates:
        if applies(plan, service_plan, template):
            by_group.setdefault(template.group, []).append(catalog_rule(plan, service_plan, template))
    interval = str(service_plan.evaluation_interval)
    for catalog_group, rules in by_group.items():
        groups += [
            {**chunk, "interval": interval} for chunk in _chunked(group_name(service_plan.name, catalog_group), rules)
        ]
    for slo_plan in service_plan.slos:
        groups += slo_groups(service_plan, slo_plan)
    groups += dr_groups(service_plan)
    groups += failover_groups(service_plan)
    return _without(groups, service_plan.service.alerts.disable)


def _without(groups: list[Group], disabled: tuple[str, ...]) -> list[Group]:
    """The groups without the alerts the service disables (the catalog's are never rendered),
    and without a group that held nothing else."""
    if not disabled:
        return groups
    kept = [{**group, "rules": [r for r in group["rules"] if r.get("alert") not in disabled]} for group in groups]
    return [group for group in kept if group["rules"]]


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


def files(plan: Plan, service_plan: ServicePlan) -> list[File]:
    env, name = plan.environment.name, service_plan.name
    groups = service_groups(plan, service_plan)
    text = groups_yaml(groups)
    tests = service_tests(plan, service_plan, layout.rule_file_from_tests(name), groups)
    return [
        File(layout.prometheus_rule(name), prometheus_rule(plan, service_plan, text), kubernetes=True),
        File(layout.rule_file(name), rule_file(env, text)),
        *(File(layout.test_file(name, kind), render.yaml_file(env, content)) for kind, content in tests.items()),
        *runbooks.files(plan, service_plan, groups),
    ]
