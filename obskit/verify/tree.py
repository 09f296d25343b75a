"""`obskit test`: the checks a generated tree must pass, run on the tree as written."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from obskit.output import layout
from obskit.output.writer import MANIFEST
from obskit.verify import amtool, listing, objects, promtool, pruning, shapes

RULE_FILES = shapes.RULE_FILES
TEST_FILES = shapes.TEST_FILES
PROMETHEUS_RULES = layout.PROMETHEUS_RULES
ALERTMANAGER_CONFIG = layout.ALERTMANAGER_CONFIG
ROUTE_TESTS = layout.ROUTE_TESTS


@dataclass(frozen=True)
class Check:
    title: str
    ok: bool
    details: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def _relative(root: Path, folder: str, suffix: str) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in (root / folder).glob(f"*{suffix}"))


def _load_documents(root: Path, relative: str) -> list[Any]:
    with open(root / relative, encoding="utf-8") as stream:
        return [doc for doc in yaml.load_all(stream, Loader=_Loader) if doc is not None]


def _owner(resource: str, services: set[str]) -> str | None:
    """The service a resource file belongs to: its name is the service's, or starts with it and a dash."""
    parts = Path(resource).name.removesuffix(".yaml").split("-")
    return next((stem for i in range(len(parts), 0, -1) if (stem := "-".join(parts[:i])) in services), None)


def _alike(shared: str) -> bool:
    """Whether objects written as this text (placeholders for names) pass or fail alike whatever
    the names: YAML reads every name as text, and the schema constrains no string holding one."""
    if not shapes.yaml_reads_names_as_text(shared):
        return False
    documents = yaml.load_all(shared, Loader=_Loader)
    return all(objects.renaming_safe(document, shapes.MARK) for document in documents if document is not None)


def _object_check(root: Path, names: dict[str, list[str]]) -> Check:
    """Every object of the kustomization against its model or schema. Files that are the same up to
    their service's names and schedules, with every name where the schema constrains no string,
    are checked once per shape (obskit.verify.shapes)."""
    kustomization = _load_documents(root, "kustomization.yaml")[0]
    resources = kustomization.get("resources", []) if isinstance(kustomization, dict) else []
    services = set(names)
    by_shape: dict[str, list[str]] = {}
    for resource in resources:
        text = (root / resource).read_text(encoding="utf-8")
        owner = _owner(resource, services)
        key = None
        if owner is not None:
            crons = shapes.schedules(text)
            key = shapes.canonical([resource.replace(owner, ""), text], [*names[owner], *crons])
            roles = range(len(names[owner]), len(names[owner]) + len(crons))
            # a shape already found passed this check on the same text
            if key is not None and key not in by_shape and not shapes.crons_only_scheduled(key, roles):
                key = None
        if key is None:
            key = f"{resource}\0{text}"  # on its own
        by_shape.setdefault(key, []).append(resource)
    problems: list[str] = []
    count = checked = 0
    for key, members in by_shape.items():
        alike = len(members) > 1 and _alike(key.split("\0", 1)[1])
        for resource in members[:1] if alike else members:
            try:
                documents = _load_documents(root, resource)
            except yaml.YAMLError as err:
                problems.append(f"{resource}: not YAML: {err}")
                continue
            checked += len(documents)
            found = [
                f"{resource}: {problem}" for document in documents for problem in objects.object_problems(document)
            ]
            if found and alike:
                found.append(
                    f"{resource}: the same holds for {len(members) - 1} files of its shape: {', '.join(members[1:])}"
                )
            problems += found
            count += len(documents) * (len(members) if alike else 1)
    title = f"objects pass their models and schemas ({count} objects; {checked} checked, one per shape)"
    return Check(title, not problems, "\n".join(problems))


def object_check(root: Path) -> Check:
    """The object check on its own, with each service's names read from its rule file: run in a
    process of its own from the start, it imports the typed models (seconds of CPU) while the
    shapes are still being found, when promtool is not yet running on the other core."""
    return _object_check(root, shapes.names_by_service(root, shapes.units(root)))


def _same_groups_text(crd: str, plain: str) -> bool:
    """Whether the PrometheusRule's text ends in the plain file's groups, indented under `spec:`:
    equal text reads as equal groups, and comparing it spares parsing both. One document each,
    no anchor in the PrometheusRule's head; anything else is left to parsing."""
    head, spec, crd_groups = crd.partition("\nspec:\n  groups:\n")
    _, top, plain_groups = plain.partition("\ngroups:\n")
    if not (spec and top) or "&" in head or "\n---" in crd or "\n---" in plain:
        return False
    return crd_groups == "".join(f"  {line}" for line in plain_groups.splitlines(keepends=True))


def _same_rules_check(root: Path) -> Check:
    """Each PrometheusRule holds exactly the groups of its plain rule file."""
    problems = []
    for relative in _relative(root, PROMETHEUS_RULES, ".yaml"):
        name = Path(relative).stem
        plain = root / RULE_FILES / f"{name}.rules.yaml"
        if not plain.is_file():
            problems.append(f"{relative}: no plain rule file {plain.relative_to(root)}")
            continue
        if _same_groups_text((root / relative).read_text(encoding="utf-8"), plain.read_text(encoding="utf-8")):
            continue
        plain_relative = plain.relative_to(root).as_posix()
        crd_groups = _groups(root, relative, ("spec", "groups"), problems)
        plain_groups = _groups(root, plain_relative, ("groups",), problems)
        if crd_groups is not None and plain_groups is not None and crd_groups != plain_groups:
            problems.append(f"{relative}: groups differ from {plain_relative}")
    return Check("PrometheusRules match the plain rule files", not problems, "\n".join(problems))


def _groups(root: Path, relative: str, keys: tuple[str, ...], problems: list[str]) -> Any:
    """The groups of a rule file's first document (at `keys`), or None with the problem noted."""
    try:
        documents = _load_documents(root, relative)
    except (yaml.YAMLError, RecursionError) as err:
        mark = getattr(err, "problem_mark", None)
        problems.append(f"{relative}: not YAML" + (f" at line {mark.line + 1}" if mark is not None else ""))
        return None
    found: Any = documents[0] if documents else None
    for key in keys:
        found = found.get(key) if isinstance(found, dict) else None
    if not isinstance(found, list):
        problems.append(f"{relative}: no {'.'.join(keys)} list")
        return None
    return found


def _routing_checks(root: Path) -> list[Check]:
    """amtool check-config on the Alertmanager configuration, then every routing test."""
    config = amtool.check_config(root, ALERTMANAGER_CONFIG)
    checks = [Check(f"amtool check-config {ALERTMANAGER_CONFIG}", config.ok, "" if config.ok else config.output)]
    if not config.ok:
        return checks
    results, error = amtool.test_routes(root, ROUTE_TESTS)
    if error:
        return [*checks, Check("amtool config routes test", False, error)]
    cases = sum(result.covers for result in results)
    wrong = [result for result in results if result.got != result.expected]
    title = f"Alertmanager routes ({cases} cases in {len(results)} amtool runs)"
    if not wrong:
        return [*checks, Check(title, True)]
    rows = [("service", "severity", "expected", "got")] + [
        (r.labels.get("service", "-"), r.labels.get("severity", "-"), r.expected, r.got or "(none)") for r in wrong
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    table = "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
    return [*checks, Check(title, False, table)]


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


def _write_shared(found: list[shapes.Shape], scratch: Path) -> list[Path]:
    """Each shape's shared text in a directory of its own (their paths are the same)."""
    roots = []
    for number, shape in enumerate(found):
        root = scratch / f"shape-{number}"
        _write(root, shape.files)
        roots.append(root)
    return roots


def _write(root: Path, files: Iterable[tuple[str, str]]) -> None:
    for name, text in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


@dataclass
class _Pruned:
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


def _split(name: str, text: str, rules: dict[str, str], pruned: _Pruned) -> list[pruning.Part] | None:
    """The test file's parts when it splits (None: it runs as it is)."""
    parts = pruning.split(name, text, rules)
    pruned.count(parts)
    return None if parts is None or [part.test_path for part in parts] == [name] else parts


def _write_parts(root: Path, parts: list[pruning.Part]) -> list[str]:
    _write(root, [(part.rule_path, part.rule_text) for part in parts])
    _write(root, [(part.test_path, part.test_text) for part in parts])
    return [part.test_path for part in parts]


def _shape_runs(root: Path, shape: shapes.Shape, pruned: _Pruned) -> list[tuple[Path, list[str]]]:
    """A promtool run per test file of the shape, the file split into its parts where that spares
    rule groups (the parts written beside it)."""
    texts = dict(shape.files)
    rules = {shape.unit.rule_file: texts[shape.unit.rule_file]}
    runs = []
    for name in shape.unit.test_files:
        parts = _split(name, texts[name], rules, pruned)
        runs.append((root, [name] if parts is None else _write_parts(root, parts)))
    return runs


def _own_parts(root: Path, own: list[shapes.Unit], scratch: Path, pruned: _Pruned) -> tuple[list[str], dict[str, str]]:
    """The test files of services tested on their own: those that run as they are, and the parts
    of the others (written under scratch), each with the file it comes from."""
    whole: list[str] = []
    origin: dict[str, str] = {}
    for unit in own:
        rules = {unit.rule_file: (root / unit.rule_file).read_text(encoding="utf-8")}
        for name in unit.test_files:
            parts = _split(name, (root / name).read_text(encoding="utf-8"), rules, pruned)
            if parts is None:
                whole.append(name)
            else:
                origin.update(dict.fromkeys(_write_parts(scratch, parts), name))
    return whole, origin


def _promtool_checks(
    root: Path, found: list[shapes.Shape], all_units: list[shapes.Unit], alone: dict[str, str]
) -> list[Check]:
    """promtool on one run per shape: a shape of several services on its shared text (written to
    a scratch directory); one that fails there is tested service by service, on the real files."""
    shared = [shape for shape in found if shape.shared]
    units = {unit.service: unit for unit in all_units}
    own = [shape.unit for shape in found if not shape.shared]
    known = {name for unit in all_units for name in (unit.rule_file, *unit.test_files)}
    other_rules = [name for name in _relative(root, RULE_FILES, ".rules.yaml") if name not in known]
    other_tests = [name for name in _relative(root, TEST_FILES, ".test.yaml") if name not in known]
    processes = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="obskit-shapes-") as scratch_dir:
        roots = _write_shared(shared, Path(scratch_dir))
        pruned = _Pruned()
        # a process per shared file (or its parts), the largest first, then the services tested on their own
        runs = sorted(
            (run for root, shape in zip(roots, shared, strict=True) for run in _shape_runs(root, shape, pruned)),
            key=lambda run: -sum((run[0] / name).stat().st_size for name in run[1]),
        )
        alone_root = Path(scratch_dir) / "alone"
        whole, origin = _own_parts(root, own, alone_root, pruned)
        batches = promtool.batches(root, sorted(whole) + other_tests, processes)
        part_batches = promtool.batches(alone_root, sorted(origin), processes) if origin else []
        outcomes = promtool.test_rule_sets([*runs, *batches, *part_batches], processes)
        checked = [promtool.check_rules(root, [unit.rule_file for unit in own] + other_rules)]
        checked += [
            promtool.check_rules(shape_root, [shape.unit.rule_file])
            for shape_root, shape in zip(roots, shared, strict=True)
        ]
    failed_roots = {run[0] for run, outcome in zip(runs, outcomes, strict=False) if not outcome.ok}
    failures = [  # promtool 3 does not name the file that failed: name the run's
        f"{', '.join(files)}:\n{outcome.output}"
        for (_, files), outcome in zip(batches, outcomes[len(runs) : len(runs) + len(batches)], strict=True)
        if not outcome.ok
    ]
    failed_files = sorted(
        {
            origin[part]
            for (_, files), outcome in zip(part_batches, outcomes[len(runs) + len(batches) :], strict=True)
            if not outcome.ok
            for part in files
        }
    )
    if failed_files:  # tested again as they are, so that the failures name the real files
        again = promtool.test_rule_sets([(root, [name]) for name in failed_files], processes)
        failures += [
            f"{name}:\n{outcome.output}" for name, outcome in zip(failed_files, again, strict=True) if not outcome.ok
        ]
    retested = [
        units[service]
        for shape_root, shape in zip(roots, shared, strict=True)
        if shape_root in failed_roots
        for service in shape.services
    ]
    if retested:  # a run per service: promtool 3 does not name the file that failed
        again = promtool.test_rule_sets([(root, list(unit.test_files)) for unit in retested], processes)
        failures[:0] = [
            f"{unit.service}:\n{outcome.output}"
            for unit, outcome in zip(retested, again, strict=True)
            if not outcome.ok
        ]
    rules_ok = all(outcome.ok for outcome in checked)
    if not rules_ok and shared:  # name the real files
        checked = [promtool.check_rules(root, [unit.rule_file for unit in all_units] + other_rules)]
    runs_text = f"{len(all_units)} services in {len(found)} run{'s' if len(found) != 1 else ''}, one per shape"
    files = sum(len(unit.test_files) for unit in all_units) + len(other_tests)
    lines = "\n".join(part for part in (_shape_lines(found, alone), pruned.line()) if part)
    tests_ok = not any(failures)
    details = "\n".join(part for part in (*failures, lines) if part)
    return [
        Check(
            f"promtool check rules --lint-fatal ({len(all_units) + len(other_rules)} files; {runs_text})",
            all(outcome.ok for outcome in checked),
            "\n".join(outcome.output for outcome in checked if not outcome.ok),
        ),
        Check(f"promtool test rules ({files} files; {runs_text})", tests_ok, details),
    ]


def check_tree(root: Path) -> Report:
    """Every check of the tree at root; raises PromtoolMissing when promtool cannot be found, and
    AmtoolMissing when the tree has an Alertmanager configuration and amtool cannot be found.

    promtool runs once per shape (obskit.verify.shapes), and the report says how many services
    each run covered."""
    report = Report()
    listed = listing.check_listing(root)
    if listed.problems:  # the other checks would read what is missing, broken or outside the tree
        details = "\n".join([*listed.problems, "the other checks did not run"])
        report.checks.append(Check(f"{root} holds the files {MANIFEST} lists, each as its kind needs", False, details))
        return report
    # promtool and the Python checks run side by side: they share nothing. Spawned, not forked:
    # the command has loaded go-jsonnet, whose runtime's threads a fork does not carry.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as process, ThreadPoolExecutor(max_workers=1) as pool:
        objects_checking = process.submit(object_check, root)
        all_units = shapes.units(root)
        shaped = shapes.shapes(root, all_units)
        running = pool.submit(_promtool_checks, root, shaped.found, all_units, shaped.alone)
        same_rules = _same_rules_check(root)
        routing = _routing_checks(root) if (root / ALERTMANAGER_CONFIG).is_file() else []
        report.checks += running.result()
        objects_checked = objects_checking.result()
    report.checks.append(same_rules)
    report.checks.append(objects_checked)
    report.checks += routing
    return report
