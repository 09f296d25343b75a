"""Rendering a plan's parts in worker processes, for large environments.

Workers are spawned, not forked: the parent has loaded go-jsonnet, and a forked copy of
the Go runtime's threads cannot be relied on. Each worker receives the plan once, renders
the parts it is given and returns their files, which the parent takes in part order (and
can write as they come), so the tree is byte-identical to a single-process run.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from obskit.generate.shaped import ServiceFiles, ShapedRenderer
from obskit.generate.tree import SERVICES_PER_PART, PartFiles, Tree, plan_parts, render_part, renderer, tree_files
from obskit.plan.pages import Page
from obskit.plan.types import Plan

# Services rendered one by one (no shape covers them): from two parts' worth on, workers pay off
# despite their start-up (benchmarks/README.md); services of a shape cost next to nothing.
MIN_DIRECT_FOR_WORKERS = 2 * SERVICES_PER_PART

_worker_plan: Plan | None = None
_worker_files: ServiceFiles | None = None


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _start_worker(plan: Plan) -> None:
    global _worker_plan, _worker_files
    _worker_plan = plan
    _worker_files = renderer(plan)
    gc.freeze()  # the plan lives as long as the worker: keep the collector's passes off it


def _render_in_worker(part: Page) -> PartFiles:
    assert _worker_plan is not None and _worker_files is not None, "worker started without a plan"
    return render_part(_worker_plan, part, _worker_files)


def rendered_parts(plan: Plan, jobs: int, services_per_part: int = SERVICES_PER_PART) -> Iterator[PartFiles]:
    """Every part's files, in part order, rendered by up to `jobs` processes."""
    parts = plan_parts(plan, services_per_part)
    shapes = ShapedRenderer(plan)
    if jobs <= 1 or len(parts) < 2 or shapes.rendered_directly < MIN_DIRECT_FOR_WORKERS:
        yield from (render_part(plan, part, shapes.render) for part in parts)
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(plan,))
    # A few parts ahead of the reader, not all of them: finished parts wait in the parent's
    # memory until they are taken, and a reader that writes files is slower than the workers.
    ahead = jobs + 1
    pending: deque[Future[PartFiles]] = deque()
    try:
        for part in parts:
            pending.append(pool.submit(_render_in_worker, part))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # on an error, or a reader that stops early, drop the parts not started
        pool.shutdown(wait=True, cancel_futures=True)


def stream_tree(plan: Plan, jobs: int, services_per_part: int = SERVICES_PER_PART) -> Iterator[tuple[str, str]]:
    """The tree's files as the parts arrive, the kustomization last."""
    return tree_files(plan, rendered_parts(plan, jobs, services_per_part))


def generate_tree_parallel(plan: Plan, jobs: int, services_per_part: int = SERVICES_PER_PART) -> Tree:
    """The same tree as generate_tree(plan), rendered by up to `jobs` processes."""
    return dict(sorted(stream_tree(plan, jobs, services_per_part)))
