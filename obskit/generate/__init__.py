"""Generators: pure functions from a Plan to {relative path: file content}."""

from __future__ import annotations

from obskit.generate import render
from obskit.generate.dashboards import config_map, render_dashboards
from obskit.generate.rule_tests import service_tests
from obskit.generate.rules import groups_yaml, prometheus_rule, rule_file, service_groups
from obskit.generate.servicemonitor import service_monitor
from obskit.generate.velero import schedule
from obskit.generate.walg import walg_objects
from obskit.plan import Plan

Tree = dict[str, str]

KUSTOMIZATION = "kustomization.yaml"


def kustomization(resources: list[str]) -> dict[str, object]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(resources),
    }


def generate_tree(plan: Plan) -> Tree:
    """Every file of the output tree for the plan's environment."""
    env = plan.environment.name
    objects: Tree = {}
    files: Tree = {}
    for service_plan in plan.services:
        name = service_plan.name
        groups = service_groups(plan, service_plan)
        objects[f"prometheus/servicemonitors/{name}.yaml"] = render.yaml_file(env, service_monitor(plan, service_plan))
        groups_text = groups_yaml(groups)
        objects[f"prometheus/rules/{name}.yaml"] = prometheus_rule(plan, service_plan, groups_text)
        files[f"prometheus/rulefiles/{name}.rules.yaml"] = rule_file(env, groups_text)
        files[f"prometheus/tests/{name}.test.yaml"] = render.yaml_file(
            env, service_tests(plan, service_plan, f"../rulefiles/{name}.rules.yaml", [g["name"] for g in groups])
        )
        if service_plan.velero is not None:
            objects[f"backup/velero/{name}.yaml"] = render.yaml_file(env, schedule(plan, service_plan))
        for datastore_plan in service_plan.datastores:
            objects[f"backup/walg/{name}-{datastore_plan.name}.yaml"] = render.yaml_file(
                env, walg_objects(plan, service_plan, datastore_plan)
            )
    for uid, dashboard in render_dashboards(plan).items():
        dashboard_json = render.json_file(dashboard)
        files[f"grafana/dashboards/{uid}.json"] = dashboard_json
        objects[f"grafana/configmaps/{uid}.yaml"] = render.yaml_file(env, config_map(plan, uid, dashboard_json))
    tree: Tree = {**objects, **files}
    tree[KUSTOMIZATION] = render.yaml_file(env, kustomization(list(objects)))
    return dict(sorted(tree.items()))
