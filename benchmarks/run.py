"""`make bench`: wall time and peak RSS of `obskit validate`, `gen` and `test` on synthetic specs.

Each command runs as its own process; its peak RSS comes from wait4() (the largest of the
process and the children it waited for, promtool included). Sizes default to 100 and
1000 services; set BENCH_SIZES="100 1000 5000" for more. `obskit test` runs only up to
BENCH_TEST_LIMIT services (default 100): it costs about a second per service today, so
larger runs would not fit the ten minutes `make bench` may take.
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


def measure(args: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit code) of one command."""
    started = time.monotonic()
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 and process.stderr is not None:
        sys.stderr.write(process.stderr.read().decode()[-2000:])
    return wall, usage.ru_maxrss / 1024, process.returncode


def main() -> int:
    sizes = [int(size) for size in os.environ.get("BENCH_SIZES", "100 1000").split()]
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
