"""Pages: runs of services rendered together. Each page is one part of the tree, rendered on
its own, possibly in a worker."""

from __future__ import annotations

from dataclasses import dataclass

from obskit.plan.types import Plan

# Services per part: enough to amortise a worker's start, few enough to keep the parts even.
SERVICES_PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    """The run of services [start, stop) drawn together."""

    start: int
    stop: int
    number: int = 1
    count: int = 1


def pages(plan: Plan, services_per_page: int = SERVICES_PER_PAGE) -> list[Page]:
    starts = range(0, len(plan.services), services_per_page) or range(1)
    return [
        Page(start, min(start + services_per_page, len(plan.services)), number, len(starts))
        for number, start in enumerate(starts, 1)
    ]
