"""Generators: pure functions from a Plan to {relative path: file content}.

The tree is built in parts (a run of services with their files and their dashboard page)
that do not depend on each other, so a large plan can be rendered by several processes
(obskit.generate.parallel) with the same bytes as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from obskit.generate import render
from obskit.generate.dashboards import Page, config_map, pages, render_dashboards
from obskit.generate.rule_tests import service_tests
from obskit.generate.rules import groups_yaml, prometheus_rule, rule_file, service_groups
from obskit.generate.servicemonitor import service_monitor
from obskit.generate.velero import schedule
from obskit.generate.walg import walg_objects
from obskit.plan import Plan, ServicePlan

Tree = dict[str, str]

KUSTOMIZATION = "kustomization.yaml"
# Services per part and per dashboard page: keeps the DR dashboard's ConfigMap near 450 KB
# (Kubernetes refuses objects over 1 MiB) and go-jsonnet's heap for one evaluation near 80 MB.
SERVICES_PER_PART = 50


@dataclass
class PartFiles:
    objects: Tree  # Kubernetes objects, listed in the kustomization
    files: Tree  # everything else


def kustomization(resources: list[str]) -> dict[str, object]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(resources),
    }


def plan_parts(plan: Plan, services_per_part: int = SERVICES_PER_PART) -> list[Page]:
    """Runs of services, each rendered on its own with its dashboard page."""
    return pages(plan, services_per_part)


def _service_files(plan: Plan, service_plan: ServicePlan, into: PartFiles) -> None:
    env = plan.environment.name
    name = service_plan.name
    groups = service_groups(plan, service_plan)
    into.objects[f"prometheus/servicemonitors/{name}.yaml"] = render.yaml_file(env, service_monitor(plan, service_plan))
    groups_text = groups_yaml(groups)
    into.objects[f"prometheus/rules/{name}.yaml"] = prometheus_rule(plan, service_plan, groups_text)
    into.files[f"prometheus/rulefiles/{name}.rules.yaml"] = rule_file(env, groups_text)
    into.files[f"prometheus/tests/{name}.test.yaml"] = render.yaml_file(
        env, service_tests(plan, service_plan, f"../rulefiles/{name}.rules.yaml", groups)
    )
    if service_plan.velero is not None:
        into.objects[f"backup/velero/{name}.yaml"] = render.yaml_file(env, schedule(plan, service_plan))
    for datastore_plan in service_plan.datastores:
        into.objects[f"backup/walg/{name}-{datastore_plan.name}.yaml"] = render.yaml_file(
            env, walg_objects(plan, service_plan, datastore_plan)
        )


def render_part(plan: Plan, part: Page, template_dir: str | None = None) -> PartFiles:
    env = plan.environment.name
    result = PartFiles({}, {})
    for service_plan in plan.services[part.start : part.stop]:
        _service_files(plan, service_plan, result)
    for uid, dashboard in render_dashboards(plan, template_dir, part).items():
        dashboard_json = render.json_file(dashboard)
        result.files[f"grafana/dashboards/{uid}.json"] = dashboard_json
        result.objects[f"grafana/configmaps/{uid}.yaml"] = render.yaml_file(env, config_map(plan, uid, dashboard_json))
    return result


def tree_files(plan: Plan, parts: Iterable[PartFiles]) -> Iterator[tuple[str, str]]:
    """The parts' files as they come, then the kustomization listing their objects."""
    objects: list[str] = []
    for part in parts:
        objects += part.objects
        yield from part.objects.items()
        yield from part.files.items()
    yield KUSTOMIZATION, render.yaml_file(plan.environment.name, kustomization(objects))


def generate_tree(plan: Plan, template_dir: str | None = None) -> Tree:
    """Every file of the output tree for the plan's environment, in this process."""
    parts = (render_part(plan, part, template_dir) for part in plan_parts(plan))
    return dict(sorted(tree_files(plan, parts)))
