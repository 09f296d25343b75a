"""`obskit test`: the checks a generated tree must pass, run on the tree as written."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from obskit.output.writer import MANIFEST
from obskit.verify import amtool, objects, promtool, shapes

RULE_FILES = shapes.RULE_FILES
TEST_FILES = shapes.TEST_FILES
PROMETHEUS_RULES = "prometheus/rules"
ALERTMANAGER_CONFIG = "alertmanager/alertmanager.yaml"
ROUTE_TESTS = "alertmanager/routes.test.yaml"


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
            if key is not None and not shapes.crons_only_scheduled(key, roles):
                key = None
        if key is None:
            key = f"{resource}\0{text}"  # on its own
        by_shape.setdefault(key, []).append(resource)
    problems: list[str] = []
    count = checked = 0
    for key, members in by_shape.items():
        shared = yaml.load_all(key.split("\0", 1)[1], Loader=_Loader) if len(members) > 1 else None
        alike = shared is not None and all(objects.renaming_safe(doc, shapes.MARK) for doc in shared if doc is not None)
        for resource in members[:1] if alike else members:
            documents = _load_documents(root, resource)
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


def _same_groups_text(crd: str, plain: str) -> bool:
    """Whether the PrometheusRule's text ends in the plain file's groups, indented under `spec:`:
    equal text reads as equal groups, and comparing it spares parsing both."""
    _, spec, crd_groups = crd.partition("\nspec:\n  groups:\n")
    _, top, plain_groups = plain.partition("\ngroups:\n")
    return bool(spec and top) and crd_groups == "".join(f"  {line}" for line in plain_groups.splitlines(keepends=True))


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
        crd_groups = _load_documents(root, relative)[0]["spec"]["groups"]
        if crd_groups != _load_documents(root, plain.relative_to(root).as_posix())[0]["groups"]:
            problems.append(f"{relative}: groups differ from {plain.relative_to(root)}")
    return Check("PrometheusRules match the plain rule files", not problems, "\n".join(problems))


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
    """Which services each tested service spoke for, and why any was tested alone."""
    lines = []
    for shape in found:
        if len(shape.services) > 1:
            others = ", ".join(shape.services[1:4]) + (", ..." if len(shape.services) > 4 else "")
            lines.append(f"{shape.unit.service}: {len(shape.services)} services of one shape ({others} renamed)")
        elif shape.unit.service in alone:
            lines.append(f"{shape.unit.service}: tested alone ({alone[shape.unit.service]})")
    return "\n".join(lines)


def check_tree(root: Path) -> Report:
    """Every check of the tree at root; raises PromtoolMissing when promtool cannot be found, and
    AmtoolMissing when the tree has an Alertmanager configuration and amtool cannot be found.

    promtool runs on one service per shape (obskit.verify.shapes): the others are the same files
    renamed, and the report says how many services each tested one covered."""
    report = Report()
    if not (root / MANIFEST).is_file():
        report.checks.append(Check(f"{root} holds an obskit tree", False, f"no {MANIFEST}: run `obskit gen` first"))
        return report
    all_units = shapes.units(root)
    shaped = shapes.shapes(root, all_units)
    found = shaped.found
    covered = {unit.rule_file for unit in all_units}
    rule_files = [shape.unit.rule_file for shape in found]
    rule_files += [name for name in _relative(root, RULE_FILES, ".rules.yaml") if name not in covered]
    test_files = sorted(name for shape in found for name in shape.unit.test_files)
    tested = {name for unit in all_units for name in unit.test_files}
    test_files += [name for name in _relative(root, TEST_FILES, ".test.yaml") if name not in tested]
    # The promtool processes and the Python checks run side by side: they share nothing. Unit tests
    # take most of the time, so they get a process per core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        checking = pool.submit(promtool.check_rules, root, rule_files)
        testing = pool.submit(promtool.test_rules, root, test_files, os.cpu_count() or 1)
        same_rules = _same_rules_check(root)
        objects_checked = _object_check(root, shaped.names)
        routing = _routing_checks(root) if (root / ALERTMANAGER_CONFIG).is_file() else []
        checked, test_outcome = checking.result(), testing.result()
    runs = f"{len(all_units)} services of {len(found)} shape{'s' if len(found) != 1 else ''}"
    report.checks.append(
        Check(
            f"promtool check rules --lint-fatal ({len(rule_files)} files; {runs})",
            checked.ok,
            "" if checked.ok else checked.output,
        )
    )
    shape_lines = _shape_lines(found, shaped.alone)
    failure = "" if test_outcome.ok else test_outcome.output + ("\n" if shape_lines else "")
    report.checks.append(
        Check(f"promtool test rules ({len(test_files)} files; {runs})", test_outcome.ok, failure + shape_lines)
    )
    report.checks.append(same_rules)
    report.checks.append(objects_checked)
    report.checks += routing
    return report
