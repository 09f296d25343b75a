"""promtool in `obskit test`: the runs planned, run, and reported, each result under its run's key.

One run per shape's test file on the shape's shared text (obskit.verify.shapes), the file split
into the parts that spare rule groups (obskit.verify.pruning); the files of services tested on
their own in batches; `check rules` on the tree's own rule files and on each shape's. What fails
on shared text or in parts is run again on the real files (a second plan, from the first's
results), so that the report names them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from obskit.output import layout
from obskit.verify import promtool, pruning, shapes
from obskit.verify.checks import Check
from obskit.verify.tools import Outcome


@dataclass(frozen=True)
class ShapeTests:
    """A shape's test file (or its parts) on the shape's shared text."""

    shape: int
    test_file: str


@dataclass(frozen=True)
class Batch:
    """Test files run as they are: those of services tested on their own, and any other."""

    number: int


@dataclass(frozen=True)
class PartBatch:
    """Parts of the test files of services tested on their own."""

    number: int


@dataclass(frozen=True)
class RuleCheck:
    """`check rules` on a shape's shared rule file, or (shape None) on the tree's other rule files."""

    shape: int | None


@dataclass(frozen=True)
class FileRetest:
    """A test file whose parts failed, run again as it is."""

    test_file: str


@dataclass(frozen=True)
class ServiceRetest:
    """A service of a shape whose shared run failed, tested on its own files."""

    service: str


@dataclass(frozen=True)
class AllRulesCheck:
    """`check rules` on every real rule file, when a check on shared text failed."""


RunKey = ShapeTests | Batch | PartBatch | RuleCheck | FileRetest | ServiceRetest | AllRulesCheck
Runs = dict[RunKey, promtool.Run]
Results = dict[RunKey, Outcome]
K = TypeVar("K", bound=RunKey)


@dataclass
class Pruned:
    """How many of their rule groups the tests ran with (obskit.verify.pruning)."""

    kept: int = 0
    of: int = 0
    whole: int = 0  # test files not split

    def count(self, parts: list[pruning.Part] | None) -> None:
        if parts is None:
            self.whole += 1
            return
        self.kept += sum(part.tests * part.groups for part in parts)
        self.of += sum(part.tests * part.of for part in parts)

    def line(self) -> str:
        if not self.of:
            return ""
        share = f"tests ran with the rule groups that can change their outcome, {self.kept / self.of:.0%} of them"
        return share + (f"; {self.whole} test files run whole" if self.whole else "")


@dataclass
class Plan:
    """The first runs, and what the report and the second plan need to read their results."""

    root: Path
    found: list[shapes.Shape]
    units: list[shapes.Unit]
    alone: dict[str, str]  # service -> why it is tested on its own
    shared: list[shapes.Shape] = field(default_factory=list)  # by number, as in ShapeTests and RuleCheck
    runs: Runs = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # each part's test file
    other_rules: list[str] = field(default_factory=list)
    other_tests: list[str] = field(default_factory=list)
    pruned: Pruned = field(default_factory=Pruned)


def _relative(root: Path, folder: str, suffix: str) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in (root / folder).glob(f"*{suffix}"))


def _write(root: Path, files: Iterable[tuple[str, str]]) -> None:
    for name, text in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def _split(name: str, text: str, rules: dict[str, str], pruned: Pruned) -> list[pruning.Part] | None:
    """The test file's parts when it splits (None: it runs as it is)."""
    parts = pruning.split(name, text, rules)
    pruned.count(parts)
    return None if parts is None or [part.test_path for part in parts] == [name] else parts


def _write_parts(root: Path, parts: list[pruning.Part]) -> tuple[str, ...]:
    _write(root, [(part.rule_path, part.rule_text) for part in parts])
    _write(root, [(part.test_path, part.test_text) for part in parts])
    return tuple(part.test_path for part in parts)


def _shape_runs(number: int, root: Path, shape: shapes.Shape, pruned: Pruned) -> Runs:
    """A run per test file of the shape, the file split into its parts where that spares rule
    groups (the parts written beside it)."""
    texts = dict(shape.files)
    rules = {shape.unit.rule_file: texts[shape.unit.rule_file]}
    runs: Runs = {}
    for name in shape.unit.test_files:
        parts = _split(name, texts[name], rules, pruned)
        runs[ShapeTests(number, name)] = promtool.Run(root, (name,) if parts is None else _write_parts(root, parts))
    return runs


def _size(run: promtool.Run) -> int:
    return sum((run.root / name).stat().st_size for name in run.files)


def _batches(root: Path, files: list[str], processes: int) -> list[promtool.Run]:
    return [promtool.Run(root, tuple(batch)) for _, batch in promtool.batches(root, files, processes)]


def plan(root: Path, found: shapes.Shapes, all_units: list[shapes.Unit], scratch: Path, processes: int) -> Plan:
    """The first runs: each shared shape's text written under scratch, a run per test file of a
    shape (the largest first), then the batches of files run as they are and of the parts (written
    under scratch) of services tested on their own, then the rule checks."""
    planned = Plan(root, found.found, all_units, found.alone)
    planned.shared = [shape for shape in found.found if shape.shared]
    known = {name for unit in all_units for name in (unit.rule_file, *unit.test_files)}
    planned.other_rules = [
        name for name in _relative(root, shapes.RULE_FILES, layout.RULE_FILE_SUFFIX) if name not in known
    ]
    planned.other_tests = [
        name for name in _relative(root, shapes.TEST_FILES, layout.TEST_FILE_SUFFIX) if name not in known
    ]
    shape_runs: Runs = {}
    shape_roots = []
    for number, shape in enumerate(planned.shared):
        shape_root = scratch / f"shape-{number}"
        _write(shape_root, shape.files)
        shape_roots.append(shape_root)
        shape_runs |= _shape_runs(number, shape_root, shape, planned.pruned)
    planned.runs = dict(sorted(shape_runs.items(), key=lambda item: -_size(item[1])))
    own = [shape.unit for shape in found.found if not shape.shared]
    whole: list[str] = []
    alone_root = scratch / "alone"
    for unit in own:
        rules = {unit.rule_file: (root / unit.rule_file).read_text(encoding="utf-8")}
        for name in unit.test_files:
            parts = _split(name, (root / name).read_text(encoding="utf-8"), rules, planned.pruned)
            if parts is None:
                whole.append(name)
            else:
                planned.origin.update(dict.fromkeys(_write_parts(alone_root, parts), name))
    for number, run in enumerate(_batches(root, sorted(whole) + planned.other_tests, processes)):
        planned.runs[Batch(number)] = run
    if planned.origin:
        for number, run in enumerate(_batches(alone_root, sorted(planned.origin), processes)):
            planned.runs[PartBatch(number)] = run
    own_rules = tuple(unit.rule_file for unit in own) + tuple(planned.other_rules)
    planned.runs[RuleCheck(None)] = promtool.Run(root, own_rules, check=True)
    for number, (shape_root, shape) in enumerate(zip(shape_roots, planned.shared, strict=True)):
        planned.runs[RuleCheck(number)] = promtool.Run(shape_root, (shape.unit.rule_file,), check=True)
    return planned


def _failed(results: Results, kind: type[K]) -> list[K]:
    return [key for key, outcome in results.items() if isinstance(key, kind) and not outcome.ok]


def retests(planned: Plan, results: Results) -> Runs:
    """The second runs, on the real files: each test file whose parts failed; each service of a
    shape whose shared run failed (promtool 3 does not name the file that failed); every rule file
    when a check on shared text failed."""
    root = planned.root
    failed_files = sorted(
        {planned.origin[part] for key in _failed(results, PartBatch) for part in planned.runs[key].files}
    )
    runs: Runs = {FileRetest(name): promtool.Run(root, (name,)) for name in failed_files}
    failed_shapes = {key.shape for key in _failed(results, ShapeTests)}
    units = {unit.service: unit for unit in planned.units}
    for number, shape in enumerate(planned.shared):
        if number in failed_shapes:
            for service in shape.services:
                runs[ServiceRetest(service)] = promtool.Run(root, units[service].test_files)
    if _failed(results, RuleCheck) and planned.shared:
        every = tuple(unit.rule_file for unit in planned.units) + tuple(planned.other_rules)
        runs[AllRulesCheck()] = promtool.Run(root, every, check=True)
    return runs


def run(runs: Runs, processes: int) -> Results:
    return promtool.run_keyed(runs, processes)


def _shape_lines(found: list[shapes.Shape], alone: dict[str, str]) -> str:
    """How many services each promtool run covered, and why any service was tested alone."""
    lines = []
    for shape in found:
        if shape.shared:
            others = ", ".join(shape.services[:3]) + (", ..." if len(shape.services) > 3 else "")
            lines.append(f"{len(shape.services)} services of one shape in one run ({others})")
        elif shape.unit.service in alone:
            lines.append(f"{shape.unit.service}: tested alone ({alone[shape.unit.service]})")
    return "\n".join(lines)


def report(planned: Plan, results: Results) -> list[Check]:
    """The rule check and the test check, from every run's result: a failure names the service
    of a shape, the batch's files, or the real test file of failed parts."""
    units = planned.units
    failures = [f"{key.service}:\n{results[key].output}" for key in _failed(results, ServiceRetest)]
    failures += [  # promtool 3 does not name the file that failed: name the run's
        f"{', '.join(planned.runs[key].files)}:\n{results[key].output}" for key in _failed(results, Batch)
    ]
    failures += [f"{key.test_file}:\n{results[key].output}" for key in _failed(results, FileRetest)]
    checks: list[RunKey] = [key for key in results if isinstance(key, AllRulesCheck)] or [
        key for key in results if isinstance(key, RuleCheck)
    ]
    runs_text = (
        f"{len(units)} services in {len(planned.found)} run{'s' if len(planned.found) != 1 else ''}, one per shape"
    )
    files = sum(len(unit.test_files) for unit in units) + len(planned.other_tests)
    lines = "\n".join(part for part in (_shape_lines(planned.found, planned.alone), planned.pruned.line()) if part)
    details = "\n".join(part for part in (*failures, lines) if part)
    return [
        Check(
            f"promtool check rules --lint-fatal ({len(units) + len(planned.other_rules)} files; {runs_text})",
            all(results[key].ok for key in checks),
            "\n".join(results[key].output for key in checks if not results[key].ok),
        ),
        Check(f"promtool test rules ({files} files; {runs_text})", not failures, details),
    ]


def promtool_checks(root: Path, found: shapes.Shapes, all_units: list[shapes.Unit]) -> tuple[list[Check], Results]:
    """promtool's two checks of the tree, and every run's result by its key."""
    processes = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="obskit-shapes-") as scratch:
        planned = plan(root, found, all_units, Path(scratch), processes)
        results = run(planned.runs, processes)
    results |= run(retests(planned, results), processes)
    return report(planned, results), results
