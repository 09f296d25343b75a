"""ServiceMonitor (monitoring.coreos.com/v1) for each service: what to scrape, how often,
and relabelings that attach the service's identity to every scraped series."""

from __future__ import annotations

from typing import Any

from obskit.generate.artifact import File
from obskit.output import escape, layout, render
from obskit.plan.meta import object_metadata
from obskit.plan.types import Plan, ServicePlan


def _replace(target: str, value: str) -> dict[str, str]:
    return {"action": "replace", "targetLabel": target, "replacement": escape.relabel_replacement(value)}


def service_monitor(plan: Plan, service_plan: ServicePlan) -> dict[str, Any]:
    service = service_plan.service
    endpoint = {
        "port": service.metrics.port,
        "path": service.metrics.path,
        "scheme": service.metrics.scheme,
        "interval": str(service_plan.scrape_interval),
        "scrapeTimeout": str(service_plan.scrape_timeout),
        # The operator sets `job` from the Kubernetes Service; the spec's job wins so
        # that the rules' selectors and the scraped series agree.
        "relabelings": [
            _replace("job", service.job),
            _replace("service", service.name),
            _replace("tier", service_plan.tier.name),
            _replace("team", service.team),
        ],
    }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": object_metadata(plan, service.name, service.namespace),
        "spec": {
            "selector": {"matchLabels": dict(service.selector)},
            "namespaceSelector": {"matchNames": [service.namespace]},
            "endpoints": [endpoint],
        },
    }


def files(plan: Plan, service_plan: ServicePlan) -> list[File]:
    document = render.yaml_file(plan.environment.name, service_monitor(plan, service_plan))
    return [File(f"{layout.SERVICE_MONITORS}/{service_plan.name}.yaml", document, kubernetes=True)]
