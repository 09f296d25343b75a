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
    """`promtool test rules` on unit-test files given relative to root, on up to `processes`
    promtool processes at once (promtool tests its files one after another, on one core)."""
    if not files:
        return Outcome(True, "no test files")
    # Largest first, in batches taken by whichever process is free: the long files start early and
    # the short ones fill the gaps. Batches of a few files spare promtool's start-up per file.
    ordered = sorted(files, key=lambda name: (-(root / name).stat().st_size, name))
    size = max(1, len(ordered) // (max(1, processes) * 8))
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    with ThreadPoolExecutor(max_workers=max(1, processes)) as pool:
        outcomes = list(pool.map(lambda batch: _run(["test", "rules", *batch], root), batches))
    return Outcome(all(o.ok for o in outcomes), "\n".join(o.output for o in outcomes if not o.ok or len(outcomes) == 1))
