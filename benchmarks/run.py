"""`make bench`: wall time and peak RSS of `obskit validate`, `gen` and `test` on two kinds of
spec, against the targets the README states.

`synthetic` (benchmarks/synthetic.py) is N services of three shapes: what shape sharing is at its
best. `fleet` (benchmarks/fleet.py) is N unlike services drawn from a seeded generator (SLO kinds,
windows, objectives, alert options, datastores, teams and tiers all vary): where it is weakest.
The targets are the synthetic spec's; the fleet's figures are printed beside them, with how many
shapes gen and test found.

Each command runs as its own process. Peak RSS is the largest sum over the command's
process tree (its workers and promtool included), sampled every 20 ms from /proc.
Sizes default to 100, 1000, 5000 and 10000 synthetic services (BENCH_SIZES to change) and 100
and 1000 fleet services (BENCH_FLEET); `test` runs up to BENCH_TEST_LIMIT synthetic services
(default 10000) and BENCH_FLEET_TEST_LIMIT fleet services (default 100: promtool takes seconds
for each service no shape covers). `gen` runs BENCH_REPEAT times (default 3) into a
fresh directory each time, and the fastest run is reported; after each run, a bare loop
writes the same files and bytes (`disk-bare`), so that the disk's cost at that moment is
printed beside gen's; where /dev/shm exists, `gen` also runs writing to memory, which leaves
obskit's own time. The load average is printed before and after each size: on a shared
machine, read the figures with it.

Nothing written to disk is deleted before the end: on a journal-less ext4 (the development
machine's), creating a file skips every inode freed in the last five to ten minutes, one
lookup each, so a run right after deleting a tree pays for that deletion (benchmarks/README.md).
Before each run that writes to disk, what earlier runs wrote is flushed (sync), so that no run
waits on the kernel writing back another's gigabytes.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.fleet import write_fleet
from benchmarks.synthetic import write_spec

OBSKIT = str(Path(sys.executable).parent / "obskit")
PAGE = os.sysconf("SC_PAGE_SIZE")
MEMORY = Path("/dev/shm")
BYTES_PER_SERVICE = 300_000  # a synthetic service's files, about 282 KB; a fleet service's fewer
SPECS: dict[str, Callable[[Path, int], Path]] = {"synthetic": write_spec, "fleet": write_fleet}
# "promtool test rules (N files; S services in R runs, one per shape)"
TEST_RUNS = re.compile(r"(\d+) services in (\d+) runs?, one per shape")


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    rss: float  # MiB, peak over the process tree
    code: int
    output: str = ""
    cpu: float = 0.0  # seconds, user and system, of the command and every process it waited for


@dataclass
class Sized:
    """One spec's figures: each command's run, and what the spec's shapes were."""

    runs: dict[str, Run] = field(default_factory=dict)
    files: int = 0
    megabytes: float = 0.0
    notes: list[str] = field(default_factory=list)


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


def measure(args: list[str], cwd: Path) -> Run:
    """Wall seconds, peak RSS of the process tree in MiB, exit code, output and CPU seconds of one
    command. The CPU seconds hardly depend on what else the machine runs: on a shared machine, they
    tell what the wall time would be on an idle one (at most, since the command uses several cores)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(args, cwd=cwd, stdout=output, stderr=errors)
        peak = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.02)
        wall = time.monotonic() - started
        process.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            errors.seek(0)
            sys.stderr.write(errors.read().decode()[-2000:])
        output.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Run(wall, peak / 2**20, code, output.read().decode(errors="replace"), cpu)


def _gen(spec: Path, out: Path, root: Path) -> Run:
    os.sync()
    return measure([OBSKIT, "gen", "--env", "prod", "--spec", str(spec), "--out", str(out)], root)


def _read_tree(root: Path) -> list[tuple[str, bytes]]:
    return [(str(path.relative_to(root)), path.read_bytes()) for path in sorted(root.rglob("*")) if path.is_file()]


def _bare_write(files: list[tuple[str, bytes]], into: Path) -> Run:
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
    return Run(time.monotonic() - started, 0.0, 0)


def _fastest(runs: list[Run]) -> Run:
    return min(runs, key=lambda run: (run.code != 0, run.wall))


def _load() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def _gen_shapes(spec: Path) -> str:
    """How many services gen renders through a shared shape (computed as gen does, in a process of its own)."""
    script = (
        "import sys; from pathlib import Path; from obskit.pipeline import load_plan; "
        "from obskit.generate.shaped import ShapedRenderer; "
        "plan = load_plan(Path(sys.argv[1]), 'prod'); shaped = ShapedRenderer(plan); "
        "print(len(plan.services) - shaped.rendered_directly, len(shaped._members))"
    )
    done = subprocess.run([sys.executable, "-c", script, str(spec)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return "shapes not counted"
    covered, count = done.stdout.split()
    return f"gen renders {covered} services through {count} shared shapes, the rest one by one"


def _bench(kind: str, size: int, root: Path, memory: Path | None, repeat: int, test: bool) -> Sized:
    spec = SPECS[kind](root / f"spec-{kind}-{size}", size)
    out = root / f"out-{kind}-{size}"
    sized = Sized(notes=[f"load average before: {_load()}"])
    sized.runs["validate"] = measure([OBSKIT, "validate", "--spec", str(spec)], root)
    runs, bare = [], []
    files: list[tuple[str, bytes]] = []
    for attempt in range(repeat):
        target = out if attempt == repeat - 1 else root / f"out-{kind}-{size}-{attempt}"
        runs.append(_gen(spec, target, root))
        files = files or _read_tree(target)
        bare.append(_bare_write(files, root / f"bare-{kind}-{size}-{attempt}"))
    sized.runs["gen"] = _fastest(runs)
    sized.runs["disk-bare"] = _fastest(bare)
    sized.files, sized.megabytes = len(files), sum(len(data) for _, data in files) / 1e6
    if memory is not None:
        in_memory = []
        for attempt in range(repeat):
            in_memory.append(_gen(spec, memory / f"out-{kind}-{size}-{attempt}", root))
            shutil.rmtree(memory / f"out-{kind}-{size}-{attempt}", ignore_errors=True)
        sized.runs["gen-mem"] = _fastest(in_memory)
    if test:
        sized.runs["test"] = measure([OBSKIT, "test", "--env", "prod", "--out", str(out)], root)
        found = TEST_RUNS.search(sized.runs["test"].output)
        if found:
            sized.notes.append(f"test runs promtool {found[2]} times for {found[1]} services (a run per shape)")
    if kind == "fleet":
        sized.notes.append(_gen_shapes(spec))
    sized.notes.append(f"load average after: {_load()}")
    return sized


def _print(kind: str, size: int, sized: Sized, test_limit: int) -> None:
    label = f"{kind:<9} {size:>6} services"
    for command, run in sized.runs.items():
        if command == "disk-bare":
            print(
                f"{label}  {command:<9} {run.wall:8.2f} s  ({sized.files} files, {sized.megabytes:.0f} MB "
                "written by a bare loop: the disk's own cost)"
            )
            continue
        flag = "" if run.code == 0 else f"  (exit {run.code})"
        print(f"{label}  {command:<9} {run.wall:8.2f} s  {run.rss:8.0f} MiB  {run.cpu:8.2f} s CPU{flag}")
    if "test" not in sized.runs:
        print(f"{label}  test      skipped above {test_limit} services (BENCH_TEST_LIMIT, BENCH_FLEET_TEST_LIMIT)")
    for note in sized.notes:
        print(f"{label}  {note}")
    sys.stdout.flush()


def _sizes(variable: str, default: str) -> list[int]:
    return [int(size) for size in os.environ.get(variable, default).split()]


def main() -> int:
    plan = [("synthetic", size) for size in _sizes("BENCH_SIZES", "100 1000 5000 10000")]
    plan += [("fleet", size) for size in _sizes("BENCH_FLEET", "100 1000")]
    limits = {
        "synthetic": int(os.environ.get("BENCH_TEST_LIMIT", "10000")),
        "fleet": int(os.environ.get("BENCH_FLEET_TEST_LIMIT", "100")),
    }
    repeat = max(1, int(os.environ.get("BENCH_REPEAT", "3")))
    needed = sum(size for _, size in plan) * BYTES_PER_SERVICE * 2 * repeat  # trees kept to the end
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < needed:
        print(
            f"make bench keeps what it writes until the end: it needs {needed / 1e9:.1f} GB free in "
            f"{tempfile.gettempdir()}, which has {free / 1e9:.1f} GB (BENCH_SIZES, BENCH_FLEET and BENCH_REPEAT "
            "to change)"
        )
        return 2
    root = Path(tempfile.mkdtemp(prefix="obskit-bench-"))
    memory = Path(tempfile.mkdtemp(prefix="obskit-bench-", dir=MEMORY)) if os.access(MEMORY, os.W_OK) else None
    results: dict[tuple[str, int], Sized] = {}
    try:
        for kind, size in plan:
            results[kind, size] = _bench(kind, size, root, memory, repeat, size <= limits[kind])
            _print(kind, size, results[kind, size], limits[kind])
        _summary(results)  # before the trees are deleted, which takes minutes at these sizes
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if memory is not None:
            shutil.rmtree(memory, ignore_errors=True)
    return 0


def _summary(results: dict[tuple[str, int], Sized]) -> None:
    for kind in SPECS:
        sizes = sorted(size for measured, size in results if measured == kind)
        for small, large in itertools.pairwise(sizes):
            before, after = results[kind, small].runs, results[kind, large].runs
            ratios = ", ".join(
                f"{command} {after[command].wall / max(before[command].wall, 1e-9):.1f}x"
                for command in ("validate", "gen", "gen-mem", "test")
                if command in before and command in after
            )
            print(f"growth {kind} {large}/{small} services (wall, {large / small:g}x the services): {ratios}")
    print("targets (synthetic services):")
    for line in targets({size: sized.runs for (kind, size), sized in results.items() if kind == "synthetic"}):
        print(f"  {line}")
    fleet = targets({size: sized.runs for (kind, size), sized in results.items() if kind == "fleet"}, unmeasured=False)
    if fleet:
        print("the same figures for the fleet of unlike services (not targets: where shapes share least):")
        for line in fleet:
            print(f"  {line}")
    sys.stdout.flush()


@dataclass(frozen=True)
class Target:
    """A limit on a command's figure at one size (or on the ratio of two sizes' wall times)."""

    text: str
    size: int
    command: str
    seconds: float
    mebibytes: float | None = None
    over: int | None = None  # a ratio: wall at `size` over wall at `over`


TARGETS = (
    Target("gen 1000 services {where}: at most 3 s and 300 MiB", 1000, "gen", 3, 300),
    Target("gen 5000 / 1000 services {where}: at most 5x", 5000, "gen", 5, over=1000),
    Target("gen 10000 services {where}: at most 30 s and 1 GiB", 10000, "gen", 30, 1024),
    Target("test 1000 services: at most 15 s", 1000, "test", 15),
    Target("test 10000 services: at most 60 s", 10000, "test", 60),
)


def targets(results: dict[int, dict[str, Run]], unmeasured: bool = True) -> list[str]:
    """Each target: its figures and met or NOT MET, or (unless told not to) why it was not measured."""
    lines = []
    for target in TARGETS:
        for command in (target.command, "gen-mem") if target.command == "gen" else (target.command,):
            text = target.text.format(where="to disk" if command == "gen" else "to memory")
            sizes = (target.size,) if target.over is None else (target.size, target.over)
            missing = [size for size in sizes if command not in results.get(size, {})]
            if missing:
                if unmeasured and command == target.command:  # gen-mem is absent without /dev/shm: say nothing
                    lines.append(f"{text}: not measured ({', '.join(map(str, missing))} services not run)")
                continue
            run = results[target.size][command]
            if target.over is not None:
                ratio = run.wall / max(results[target.over][command].wall, 1e-9)
                figures, ok = f"{ratio:.1f}x", ratio <= target.seconds
            else:
                figures, ok = f"{run.wall:.2f} s ({run.cpu:.1f} s CPU), {run.rss:.0f} MiB", run.wall <= target.seconds
                if target.mebibytes is not None:
                    ok = ok and run.rss <= target.mebibytes
            ok = ok and run.code == 0
            lines.append(f"{text}: {figures}: {'met' if ok else 'NOT MET'}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
