"""`make bench`: wall time and peak RSS of `obskit validate`, `gen` and `test` on synthetic specs,
against the targets the README states.

Each command runs as its own process. Peak RSS is the largest sum over the command's
process tree (its workers and promtool included), sampled every 20 ms from /proc.
Sizes default to 100, 1000 and 5000 services (BENCH_SIZES to change); `test` runs up to
BENCH_TEST_LIMIT services (default 5000). `gen` runs BENCH_REPEAT times (default 3) into a
fresh directory each time, and the fastest run is reported; after each run, a bare loop
writes the same files and bytes (`disk-bare`), so that the disk's cost at that moment is
printed beside gen's; where /dev/shm exists, `gen` also runs writing to memory, which leaves
obskit's own time.

Nothing written to disk is deleted before the end: on a journal-less ext4 (the development
machine's), creating a file skips every inode freed in the last five to ten minutes, one
lookup each, so a run right after deleting a tree pays for that deletion (benchmarks/README.md).
Before each run that writes to disk, what earlier runs wrote is flushed (sync), so that no run
waits on the kernel writing back another's gigabytes.
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


MEMORY = Path("/dev/shm")
TARGETS = "gen: at most 3 s and 300 MiB for 1000 services, at most 5x that for 5000; test: at most 15 s for 1000"


def _gen(spec: Path, out: Path, root: Path) -> tuple[float, float, int]:
    os.sync()
    return measure([OBSKIT, "gen", "--env", "prod", "--spec", str(spec), "--out", str(out)], root)


def _read_tree(root: Path) -> list[tuple[str, bytes]]:
    return [(str(path.relative_to(root)), path.read_bytes()) for path in sorted(root.rglob("*")) if path.is_file()]


def _bare_write(files: list[tuple[str, bytes]], into: Path) -> tuple[float, float, int]:
    """The same files and bytes written by a bare loop, as obskit's writer writes them: what
    this disk costs at the moment, beside gen's figure (it varies severalfold over an hour)."""
    os.sync()
    started = time.monotonic()
    for relative, data in files:
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(descriptor, data)
        finally:
            os.close(descriptor)
    return time.monotonic() - started, 0.0, 0


def _fastest(runs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    return min(runs, key=lambda run: (run[2] != 0, run[0]))


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


BYTES_PER_SERVICE = 300_000  # a synthetic service's files, about 282 KB


def main() -> int:
    sizes = [int(size) for size in os.environ.get("BENCH_SIZES", "100 1000 5000").split()]
    test_limit = int(os.environ.get("BENCH_TEST_LIMIT", "5000"))
    repeat = max(1, int(os.environ.get("BENCH_REPEAT", "3")))
    needed = sum(sizes) * BYTES_PER_SERVICE * 2 * repeat  # gen's trees and the bare loop's, kept to the end
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < needed:
        print(
            f"make bench keeps what it writes until the end: it needs {needed / 1e9:.1f} GB free in "
            f"{tempfile.gettempdir()}, which has {free / 1e9:.1f} GB (BENCH_SIZES and BENCH_REPEAT to change)"
        )
        return 2
    root = Path(tempfile.mkdtemp(prefix="obskit-bench-"))
    memory = Path(tempfile.mkdtemp(prefix="obskit-bench-", dir=MEMORY)) if os.access(MEMORY, os.W_OK) else None
    results: dict[int, dict[str, tuple[float, float, int]]] = {}
    try:
        for size in sizes:
            spec = write_spec(root / f"spec-{size}", size)
            out = root / f"out-{size}"
            results[size] = {"validate": measure([OBSKIT, "validate", "--spec", str(spec)], root)}
            runs, bare = [], []
            files: list[tuple[str, bytes]] = []
            for attempt in range(repeat):
                target = out if attempt == repeat - 1 else root / f"out-{size}-{attempt}"
                runs.append(_gen(spec, target, root))
                files = files or _read_tree(target)
                bare.append(_bare_write(files, root / f"bare-{size}-{attempt}"))
            results[size]["gen"] = _fastest(runs)
            results[size]["disk-bare"] = _fastest(bare)
            if memory is not None:
                in_memory = []
                for attempt in range(repeat):
                    in_memory.append(_gen(spec, memory / f"out-{size}-{attempt}", root))
                    shutil.rmtree(memory / f"out-{size}-{attempt}", ignore_errors=True)
                results[size]["gen-mem"] = _fastest(in_memory)
            if size <= test_limit:
                results[size]["test"] = measure([OBSKIT, "test", "--env", "prod", "--out", str(out)], root)
            for command, (wall, rss, code) in results[size].items():
                flag = "" if code == 0 else f"  (exit {code})"
                if command == "disk-bare":
                    megabytes = sum(len(data) for _, data in files) / 1e6
                    print(
                        f"{size:>6} services  {command:<9} {wall:8.2f} s  ({len(files)} files, {megabytes:.0f} MB "
                        "written by a bare loop: the disk's own cost)",
                        flush=True,
                    )
                    continue
                print(f"{size:>6} services  {command:<9} {wall:8.2f} s  {rss:8.0f} MiB{flag}", flush=True)
            if "test" not in results[size]:
                print(f"{size:>6} services  test      skipped above BENCH_TEST_LIMIT={test_limit}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if memory is not None:
            shutil.rmtree(memory, ignore_errors=True)
    for small, large in itertools.pairwise(sizes):
        ratios = ", ".join(
            f"{command} {results[large][command][0] / max(results[small][command][0], 1e-9):.1f}x"
            for command in ("validate", "gen", "gen-mem", "test")
            if command in results[small] and command in results[large]
        )
        print(f"growth {large}/{small} services (wall): {ratios}")
    _targets(results)
    return 0


def _targets(results: dict[int, dict[str, tuple[float, float, int]]]) -> None:
    print(f"targets ({TARGETS}):")
    if 1000 in results:
        for command in ("gen", "gen-mem"):
            if command in results[1000]:
                wall, rss, _ = results[1000][command]
                where = "to disk" if command == "gen" else "to memory"
                bare = (
                    f" (the bare write of its files: {results[1000]['disk-bare'][0]:.2f} s)" if command == "gen" else ""
                )
                verdict = _verdict(wall <= 3 and rss <= 300)
                print(f"  gen 1000 services {where}: {wall:.2f} s, {rss:.0f} MiB{bare}: {verdict}")
        if 5000 in results:
            for command in ("gen", "gen-mem"):
                if command in results[1000] and command in results[5000]:
                    ratio = results[5000][command][0] / results[1000][command][0]
                    where = "to disk" if command == "gen" else "to memory"
                    print(f"  gen 5000 / 1000 services {where}: {ratio:.1f}x: {_verdict(ratio <= 5)}")
        if "test" in results[1000]:
            wall = results[1000]["test"][0]
            print(f"  test 1000 services: {wall:.2f} s: {_verdict(wall <= 15)}")


if __name__ == "__main__":
    sys.exit(main())
