"""Every rule group of a service: platform alerts from the catalog, then each SLO's groups, then
the DR alerts; written for the environment's rule engine (`targets`) and as a plain Prometheus rule
file, with the promtool tests of the same groups and a runbook behind each alert."""

from __future__ import annotations

from obskit.alerting.alerts import Group, Rule
from obskit.generate.artifact import File
from obskit.generate.rules import runbooks, targets
from obskit.generate.rules.catalog import catalog_rule, templates
from obskit.generate.rules.dr import dr_groups
from obskit.generate.rules.failover import failover_groups
from obskit.generate.rules.slo import slo_groups
from obskit.generate.rules.tests import service_tests
from obskit.output import layout, render
from obskit.plan.conventions import group_name
from obskit.plan.types import Plan, ServicePlan

MAX_RULES_PER_GROUP = 20  # the monitoring-mixin lint's limit


def _chunked(name: str, rules: list[Rule]) -> list[Group]:
    chunks = [rules[i : i + MAX_RULES_PER_GROUP] for i in range(0, len(rules), MAX_RULES_PER_GROUP)]
    return [{"name": name if i == 0 else f"{name}-{i + 1}", "rules": chunk} for i, chunk in enumerate(chunks)]


def service_groups(plan: Plan, service_plan: ServicePlan) -> list[Group]:
    groups: list[Group] = []
    by_group: dict[str, list[Rule]] = {}
    for template in templates(plan, service_plan):
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


def files(plan: Plan, service_plan: ServicePlan) -> list[File]:
    env, name = plan.environment.name, service_plan.name
    groups = service_groups(plan, service_plan)
    text = targets.groups_yaml(groups)
    tests = service_tests(plan, service_plan, layout.rule_file_from_tests(name), groups)
    return [
        *targets.deployed(plan, service_plan, groups, text),
        File(layout.rule_file(name), targets.rule_file(env, text)),
        *(File(layout.test_file(name, kind), render.yaml_file(env, content)) for kind, content in tests.items()),
        *runbooks.files(plan, service_plan, groups),
    ]
