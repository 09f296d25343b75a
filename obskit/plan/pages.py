"""Pages: runs of services drawn and rendered together. Each page is one part of the tree
(rendered on its own, possibly in a worker) with its own overview and DR dashboard once the
environment needs more than one."""

from __future__ import annotations

from dataclasses import dataclass

from obskit.plan.conventions import dashboard_uid
from obskit.plan.types import Plan

# Services per part and per dashboard page: keeps a full DR dashboard's ConfigMap well under
# Kubernetes' 1 MiB object limit and go-jsonnet's heap per evaluation small (benchmarks/README.md).
SERVICES_PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    """The run of services [start, stop) drawn together."""

    start: int
    stop: int
    number: int = 1
    count: int = 1

    def uid(self, env: str, kind: str) -> str:
        return dashboard_uid(env, kind) if self.number == 1 else dashboard_uid(env, kind, str(self.number))


def pages(plan: Plan, services_per_page: int = SERVICES_PER_PAGE) -> list[Page]:
    starts = range(0, len(plan.services), services_per_page) or range(1)
    return [
        Page(start, min(start + services_per_page, len(plan.services)), number, len(starts))
        for number, start in enumerate(starts, 1)
    ]
