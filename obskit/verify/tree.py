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
from obskit.verify import amtool, objects, promtool

RULE_FILES = "prometheus/rulefiles"
TEST_FILES = "prometheus/tests"
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


def _object_check(root: Path) -> Check:
    kustomization = _load_documents(root, "kustomization.yaml")[0]
    resources = kustomization.get("resources", []) if isinstance(kustomization, dict) else []
    problems = []
    count = 0
    for resource in resources:
        for document in _load_documents(root, resource):
            count += 1
            problems += [f"{resource}: {problem}" for problem in objects.object_problems(document)]
    return Check(f"objects pass their models and schemas ({count} objects)", not problems, "\n".join(problems))


def _same_rules_check(root: Path) -> Check:
    """Each PrometheusRule holds exactly the groups of its plain rule file."""
    problems = []
    for relative in _relative(root, PROMETHEUS_RULES, ".yaml"):
        name = Path(relative).stem
        plain = root / RULE_FILES / f"{name}.rules.yaml"
        if not plain.is_file():
            problems.append(f"{relative}: no plain rule file {plain.relative_to(root)}")
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


def check_tree(root: Path) -> Report:
    """Every check of the tree at root; raises PromtoolMissing when promtool cannot be found, and
    AmtoolMissing when the tree has an Alertmanager configuration and amtool cannot be found."""
    report = Report()
    if not (root / MANIFEST).is_file():
        report.checks.append(Check(f"{root} holds an obskit tree", False, f"no {MANIFEST}: run `obskit gen` first"))
        return report
    rule_files = _relative(root, RULE_FILES, ".rules.yaml")
    test_files = _relative(root, TEST_FILES, ".test.yaml")
    # The promtool processes and the Python checks run side by side: they share nothing. Unit tests
    # take most of the time, so they get a process per core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        checking = pool.submit(promtool.check_rules, root, rule_files)
        testing = pool.submit(promtool.test_rules, root, test_files, os.cpu_count() or 1)
        same_rules = _same_rules_check(root)
        objects_checked = _object_check(root)
        routing = _routing_checks(root) if (root / ALERTMANAGER_CONFIG).is_file() else []
        checked, tested = checking.result(), testing.result()
    report.checks.append(
        Check(
            f"promtool check rules --lint-fatal ({len(rule_files)} files)",
            checked.ok,
            "" if checked.ok else checked.output,
        )
    )
    report.checks.append(
        Check(f"promtool test rules ({len(test_files)} files)", tested.ok, "" if tested.ok else tested.output)
    )
    report.checks.append(same_rules)
    report.checks.append(objects_checked)
    report.checks += routing
    return report
