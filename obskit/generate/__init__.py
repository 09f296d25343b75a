"""Generators: pure functions from a Plan to {relative path: file content}."""

from __future__ import annotations

from obskit.generate import render
from obskit.generate.servicemonitor import service_monitor
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
    for service_plan in plan.services:
        path = f"prometheus/servicemonitors/{service_plan.name}.yaml"
        objects[path] = render.yaml_file(env, service_monitor(plan, service_plan))
    tree: Tree = dict(objects)
    tree[KUSTOMIZATION] = render.yaml_file(env, kustomization(list(objects)))
    return dict(sorted(tree.items()))
