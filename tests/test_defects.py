"""Each defect the alerts were fixed for, held against its generated promtool case on Prometheus
2.x and 3.x: the case passes on today's rules and fails on the same rules with that one fix
undone (the rule put back as 0.5.1 wrote it), so the case really tests the fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree
from obskit.plan import burnrate
from obskit.verify import promtool
from tests.conftest import EXAMPLES
from tests.servers import VERSION_PARAMS, VERSIONS, require_binary

Rule = dict[str, Any]


@dataclass(frozen=True)
class Defect:
    service: str
    undo: Callable[[Rule], Rule | None]  # a rule as 0.5.1 had it; None drops the rule
    case: str  # the generated test groups (by name) that must catch it
    test_file: str = ""  # the test file name's infix: "" for the main file, "every-1m", "every-1h"


def _record(name: str, slo: str, change: Callable[[str], str]) -> Callable[[Rule], Rule | None]:
    def undo(rule: Rule) -> Rule | None:
        if rule.get("record") == name and rule["labels"].get("slo") == slo:
            return {**rule, "expr": change(rule["expr"])}
        return rule

    return undo


def _alert(name: str, change: Callable[[str], str] | None) -> Callable[[Rule], Rule | None]:
    def undo(rule: Rule) -> Rule | None:
        if rule.get("alert") != name:
            return rule
        return None if change is None else {**rule, "expr": change(rule["expr"])}

    return undo


def _scaled_down_factors(rule: Rule) -> Rule | None:
    """0.5.1 scaled the 30d factors by window/30d: a 7d SLO ticketed at 0.7x and 0.233x."""
    if rule.get("alert") != "ErrorBudgetBurn":
        return rule
    pair = next(p for p in burnrate.PAIRS if str(p.long) == rule["labels"]["long_window"])
    budget = Fraction(1, 100)  # search-indexer's freshness: 99% over 7d
    new = burnrate.decimal_text(pair.budget_share * Fraction(burnrate.FACTOR_WINDOW.ms, pair.long.ms) * budget)
    old = burnrate.decimal_text(pair.budget_share * Fraction(7 * 86_400_000, pair.long.ms) * budget)
    return {**rule, "expr": rule["expr"].replace(f"> {new}\n", f"> {old}\n")}


DEFECTS = {
    # 1: an error series that does not exist yet recorded nothing, not 0
    "1 absent error series": Defect(
        "checkout",
        _record("slo:sli_errors:rate5m", "availability", lambda expr: expr.split("\nor on ()")[0]),
        "errors appear mid-window",
    ),
    # 2: le matched only as Prometheus 3 spells it; the client wrote 0.30
    "2 le spelling": Defect(
        "checkout",
        _record("slo:sli_errors:rate5m", "latency", lambda expr: expr.replace('le=~"0\\\\.30*"', 'le="0.3"')),
        "SLOs: fast burn",
    ),
    "2 no bucket at the threshold": Defect("checkout", _alert("SLIBucketMissing", None), "no bucket at the threshold"),
    # 5: one failure PostgreSQL retried paged
    "5 transient archive failure": Defect(
        "checkout",
        _alert("WALArchiveFailing", lambda expr: expr.split("\nand\n")[0]),
        "transient failure",
        "every-1m",
    ),
    # 6: failed validation (storage location unavailable) was not a failure
    "6 failed validation": Defect(
        "checkout", _alert("BackupFailed", lambda expr: expr.split("\nor\n")[0]), "fires on failed validation"
    ),
    # 7: one pod down paged, as 0.5.1's TargetDown did
    "7 one target down": Defect(
        "checkout", _alert("ServiceDown", lambda _: 'up{job="checkout"} == 0'), "ServiceDown silent", "every-1m"
    ),
    # 8: a 7d SLO ticketed below 1x
    "8 factors below 1x": Defect("search-indexer", _scaled_down_factors, "SLOs: within budget"),
    # 12: one failed request among a handful paged
    "12 near-zero traffic": Defect(
        "checkout",
        _alert("ErrorBudgetBurn", lambda expr: expr.split("\nand\nslo:sli_errors:increase")[0]),
        "traffic near zero",
    ),
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("defects") / "prod"
    write(out, output_tree(load_plan(EXAMPLES, "prod")))
    return out


def _run(root: Path, rule_file: str, rules: str, test_file: str, tests: dict[str, Any]) -> promtool.Outcome:
    (root / rule_file).write_text(rules)
    (root / test_file).write_text(yaml.safe_dump(tests))
    return promtool.test_rules(root, [test_file])


@pytest.mark.parametrize("version", VERSION_PARAMS)
@pytest.mark.parametrize("defect", list(DEFECTS))
def test_the_generated_case_catches_the_defect(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, defect: str
) -> None:
    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary(VERSIONS[version][1]))
    spec = DEFECTS[defect]
    kind = f".{spec.test_file}" if spec.test_file else ""
    rule_file = f"prometheus/rulefiles/{spec.service}.rules.yaml"
    test_file = f"prometheus/tests/{spec.service}{kind}.test.yaml"
    root = tmp_path / "prod"
    (root / "prometheus/rulefiles").mkdir(parents=True)
    (root / "prometheus/tests").mkdir()
    rules_text = (tree / rule_file).read_text()
    tests = yaml.safe_load((tree / test_file).read_text())
    tests["tests"] = [group for group in tests["tests"] if spec.case in group["name"]]
    assert tests["tests"], f"no generated case named {spec.case!r}"

    fixed = _run(root, rule_file, rules_text, test_file, tests)
    assert fixed.ok, fixed.output

    groups = yaml.safe_load(rules_text)["groups"]
    undone = 0
    for group in groups:
        rules = []
        for rule in group["rules"]:
            old = spec.undo(rule)
            undone += old != rule
            if old is not None:
                rules.append(old)
        group["rules"] = rules
    assert undone, "the defect's fix was not found in the rules"
    broken = _run(root, rule_file, yaml.safe_dump({"groups": groups}), test_file, tests)
    assert not broken.ok, f"the case {spec.case!r} passes on the rules without the fix"
