"""promtool, Prometheus' own checker, run once for all rule files and once for all tests.

One process per kind of check, for all files at once: far faster than one call per file (benchmarks/README.md).
`check rules` runs with --lint-fatal, since a duplicate rule otherwise still exits 0.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from obskit.verify.tools import Outcome, find_tool

INSTALL_HINT = "install Debian's `prometheus` package (apt-get install prometheus) or set OBSKIT_PROMTOOL"
TIMEOUT_SECONDS = 1800


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


def test_rules(root: Path, files: list[str], processes: int = 1) -> Outcome:
    """`promtool test rules` on unit-test files given relative to root, split over `processes`
    promtool processes (promtool tests its files one after another, on one core)."""
    if not files:
        return Outcome(True, "no test files")
    # the largest files first, dealt round-robin: shares of about equal work
    ordered = sorted(files, key=lambda name: (-(root / name).stat().st_size, name))
    shares = [ordered[i :: max(1, processes)] for i in range(max(1, processes))]
    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        outcomes = list(pool.map(lambda share: _run(["test", "rules", *share], root), [s for s in shares if s]))
    return Outcome(all(o.ok for o in outcomes), "\n".join(o.output for o in outcomes if not o.ok or len(outcomes) == 1))
