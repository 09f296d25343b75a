"""`make bench`: wall time and peak RSS of `obskit validate`, `gen` and `test` on synthetic specs.

Each command runs as its own process. Peak RSS is the largest sum over the command's
process tree (its workers and promtool included), sampled every 20 ms from /proc.
Sizes default to 100, 1000 and 5000 services (BENCH_SIZES to change). `obskit test` runs
only up to BENCH_TEST_LIMIT services (default 100): the generated tests' hostile cases cost
promtool several seconds of CPU per service, so 1000 would take most of an hour.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.synthetic import write_spec

OBSKIT = str(Path(sys.executable).parent / "obskit")


PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Bytes resident in a process and all its descendants (0 for those already gone)."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(args: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS of the process tree in MiB, exit code) of one command."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.02)
        wall = time.monotonic() - started
        if process.returncode != 0:
            errors.seek(0)
            sys.stderr.write(errors.read().decode()[-2000:])
    return wall, peak / 2**20, process.returncode


def main() -> int:
    sizes = [int(size) for size in os.environ.get("BENCH_SIZES", "100 1000 5000").split()]
    test_limit = int(os.environ.get("BENCH_TEST_LIMIT", "100"))
    root = Path(tempfile.mkdtemp(prefix="obskit-bench-"))
    results: dict[int, dict[str, tuple[float, float, int]]] = {}
    try:
        for size in sizes:
            spec = write_spec(root / f"spec-{size}", size)
            out = root / f"out-{size}"
            results[size] = {
                "validate": measure([OBSKIT, "validate", "--spec", str(spec)], root),
                "gen": measure([OBSKIT, "gen", "--env", "prod", "--spec", str(spec), "--out", str(out)], root),
            }
            if size <= test_limit:
                results[size]["test"] = measure([OBSKIT, "test", "--env", "prod", "--out", str(out)], root)
            for command, (wall, rss, code) in sorted(results[size].items(), key=lambda item: item[0] != "validate"):
                flag = "" if code == 0 else f"  (exit {code})"
                print(f"{size:>6} services  {command:<9} {wall:8.2f} s  {rss:8.0f} MiB{flag}", flush=True)
            if "test" not in results[size]:
                print(f"{size:>6} services  test      skipped above BENCH_TEST_LIMIT={test_limit}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for small, large in itertools.pairwise(sizes):
        ratios = ", ".join(
            f"{command} {results[large][command][0] / max(results[small][command][0], 1e-9):.1f}x"
            for command in ("validate", "gen", "test")
            if command in results[small] and command in results[large]
        )
        print(f"growth {large}/{small} services (wall): {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
