"""Tree assembly: the output table's files for a plan, in parts, then the kustomization.

The tree is built in parts (a page of services with their files and their dashboards) that
do not depend on each other, so a large plan can be rendered by several processes
(obskit.generate.parallel) with the same bytes as one. Environment-level outputs are
rendered once, after the parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from obskit.generate.artifact import File
from obskit.generate.outputs import Scope, of_scope
from obskit.generate.shaped import ServiceFiles, ShapedRenderer, render_directly
from obskit.output import layout, render
from obskit.plan.meta import object_metadata
from obskit.plan.pages import SERVICES_PER_PAGE, Page, pages
from obskit.plan.types import Plan

Tree = dict[str, str]

KUSTOMIZATION = "kustomization.yaml"
SERVICES_PER_PART = SERVICES_PER_PAGE


@dataclass
class PartFiles:
    objects: Tree = field(default_factory=dict)  # Kubernetes objects, listed in the kustomization
    files: Tree = field(default_factory=dict)  # everything else
    # another cluster's objects (the DR region's), listed in the kustomization of its folder
    elsewhere: dict[str, Tree] = field(default_factory=dict)

    def add(self, produced: Iterable[File]) -> None:
        for item in produced:
            if item.kubernetes and item.cluster:
                self.elsewhere.setdefault(item.cluster, {})[item.path] = item.content
            else:
                (self.objects if item.kubernetes else self.files)[item.path] = item.content


def kustomization(resources: list[str], secrets: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(resources),
        **({"secretGenerator": secrets} if secrets else {}),
    }


def alertmanager_secret(plan: Plan) -> list[dict[str, object]]:
    """With `alerting.deploy: alertmanager_yaml`, the configuration as the Secret the operator reads
    (`alertmanager.yaml` key; the Alertmanager's `configSecret`), named like the AlertmanagerConfig
    it stands for. Its name keeps no content hash, so the Alertmanager resource can name it."""
    routing = plan.routing
    if routing is None or routing.as_resource:
        return []
    metadata = object_metadata(plan, routing.name, routing.alerting.namespace)
    return [
        {
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "files": [f"alertmanager.yaml={layout.ALERTMANAGER_CONFIG}"],
            "options": {"disableNameSuffixHash": True, "labels": metadata["labels"]},
        }
    ]


def plan_parts(plan: Plan, services_per_part: int = SERVICES_PER_PART) -> list[Page]:
    """Runs of services, each rendered on its own with its dashboard page."""
    return pages(plan, services_per_part)


def renderer(plan: Plan, shaped: bool = True) -> ServiceFiles:
    """What renders one service's files: through its shape's template (obskit.generate.shaped),
    or every service directly."""
    return ShapedRenderer(plan).render if shaped else lambda service_plan: render_directly(plan, service_plan)


def render_part(plan: Plan, part: Page, service_files: ServiceFiles, template_dir: str | None = None) -> PartFiles:
    result = PartFiles()
    for service_plan in plan.services[part.start : part.stop]:
        result.add(service_files(service_plan))
    for per_page in of_scope(Scope.PAGE):
        result.add(per_page(plan, part, template_dir))
    return result


def environment_part(plan: Plan) -> PartFiles:
    result = PartFiles()
    for per_environment in of_scope(Scope.ENVIRONMENT):
        result.add(per_environment(plan))
    return result


def _then_environment(plan: Plan, parts: Iterable[PartFiles]) -> Iterator[PartFiles]:
    yield from parts  # as they come: a large tree is written while later parts render
    yield environment_part(plan)


def tree_files(plan: Plan, parts: Iterable[PartFiles]) -> Iterator[tuple[str, str]]:
    """The parts' files as they come, the environment's own, then the kustomization listing
    every object. A path written twice is a bug in a generator, never a silent overwrite."""
    objects: list[str] = []
    elsewhere: dict[str, list[str]] = {}
    seen: set[str] = set()
    for part in _then_environment(plan, parts):
        others = [
            (cluster, path, content) for cluster, tree in part.elsewhere.items() for path, content in tree.items()
        ]
        for path, content in (*part.objects.items(), *part.files.items(), *((p, c) for _, p, c in others)):
            if path in seen:
                raise ValueError(f"two outputs write {path}")
            seen.add(path)
            yield path, content
        objects += part.objects
        for cluster, path, _ in others:
            elsewhere.setdefault(cluster, []).append(path.removeprefix(f"{cluster}/"))
    yield KUSTOMIZATION, render.yaml_file(plan.environment.name, kustomization(objects, alertmanager_secret(plan)))
    for cluster, paths in sorted(elsewhere.items()):
        yield f"{cluster}/{KUSTOMIZATION}", render.yaml_file(plan.environment.name, kustomization(paths))


def generate_tree(plan: Plan, template_dir: str | None = None, shaped: bool = True) -> Tree:
    """Every file of the output tree for the plan's environment, in this process (shaped=False:
    every service rendered directly, for comparing)."""
    service_files = renderer(plan, shaped)
    parts = (render_part(plan, part, service_files, template_dir) for part in plan_parts(plan))
    return dict(sorted(tree_files(plan, parts)))
