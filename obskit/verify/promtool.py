"""promtool, Prometheus' own checker, run once for all rule files and once for all tests.

One process per kind of check, for all files at once: far faster than one call per file (benchmarks/README.md).
`check rules` runs with --lint-fatal, since a duplicate rule otherwise still exits 0.
"""

from __future__ import annotations

import subprocess
from collections.abc import Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from obskit.verify.tools import Outcome, find_tool

INSTALL_HINT = "install Debian's `prometheus` package (apt-get install prometheus) or set OBSKIT_PROMTOOL"
TIMEOUT_SECONDS = 1800
K = TypeVar("K", bound=Hashable)


class PromtoolMissing(Exception):
    pass


def find_promtool() -> str:
    return find_tool("promtool", "OBSKIT_PROMTOOL", INSTALL_HINT, PromtoolMissing)


def version() -> str:
    """The first line of `promtool --version` (e.g. "promtool, version 3.5.3 ...")."""
    completed = subprocess.run([find_promtool(), "--version"], capture_output=True, text=True, timeout=60, check=False)
    lines = (completed.stdout or completed.stderr).strip().splitlines()
    return lines[0] if lines else "promtool, version unknown"


def _run(args: list[str], cwd: Path) -> Outcome:
    try:
        completed = subprocess.run(
            [find_promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome(False, f"promtool {args[0]} {args[1]} did not finish within {TIMEOUT_SECONDS} s")
    return Outcome(completed.returncode == 0, (completed.stdout + completed.stderr).strip())


def check_rules(root: Path, files: list[str]) -> Outcome:
    """`promtool check rules --lint-fatal` on rule files given relative to root."""
    return _run(["check", "rules", "--lint-fatal", *files], root) if files else Outcome(True, "no rule files")


def batches(root: Path, files: list[str], processes: int) -> list[tuple[Path, list[str]]]:
    """Unit-test files in batches for `processes` promtool processes: largest first, so that the long
    files start early and the short ones fill the gaps, a few per batch to spare promtool's
    start-up per file."""
    ordered = sorted(files, key=lambda name: (-(root / name).stat().st_size, name))
    size = max(1, len(ordered) // (max(1, processes) * 8))
    return [(root, ordered[i : i + size]) for i in range(0, len(ordered), size)]


def test_rules(root: Path, files: list[str], processes: int = 1) -> Outcome:
    """`promtool test rules` on unit-test files given relative to root, on up to `processes`
    promtool processes at once (promtool tests its files one after another, on one core)."""
    if not files:
        return Outcome(True, "no test files")
    outcomes = _run_all(batches(root, files, processes), processes)
    return Outcome(all(o.ok for o in outcomes), "\n".join(o.output for o in outcomes if not o.ok or len(outcomes) == 1))


def test_rule_sets(sets: list[tuple[Path, list[str]]], processes: int = 1) -> list[Outcome]:
    """One outcome per set of unit-test files (relative to its root), each set tested by one
    promtool process, up to `processes` at once; an empty set passes."""
    return _run_all(sets, processes)


@dataclass(frozen=True)
class Run:
    """One promtool process on files relative to root: `test rules`, or `check rules --lint-fatal`."""

    root: Path
    files: tuple[str, ...]
    check: bool = False


def run_keyed(runs: Mapping[K, Run], processes: int = 1) -> dict[K, Outcome]:
    """Each run's outcome under its key, up to `processes` promtool processes at once, started in
    the mapping's order; a run without files passes."""

    def run(item: Run) -> Outcome:
        if item.check:
            return check_rules(item.root, list(item.files))
        return _run(["test", "rules", *item.files], item.root) if item.files else Outcome(True, "no test files")

    with ThreadPoolExecutor(max_workers=max(1, processes)) as pool:
        return dict(zip(runs, pool.map(run, runs.values()), strict=True))


def _run_all(sets: list[tuple[Path, list[str]]], processes: int) -> list[Outcome]:
    def run(item: tuple[Path, list[str]]) -> Outcome:
        root, files = item
        return _run(["test", "rules", *files], root) if files else Outcome(True, "no test files")

    with ThreadPoolExecutor(max_workers=max(1, processes)) as pool:
        return list(pool.map(run, sets))
