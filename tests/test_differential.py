"""The gate for `obskit test`'s speed machinery: on small random rule files and unit tests,
promtool passes and fails the packed test groups (obskit.generate.rules.testpacking) and the
pruned parts (obskit.verify.pruning) exactly as it does the whole file, naming the same failing
tests with the same failed assertions, on Prometheus 2.x and 3.x.

The rules are recording and alerting rules over two metrics and the series they record: label
sets, thresholds just above and below the inputs' values, `absent()`, `or`, `and on()`,
`unless`, selectors without a metric name, constant rules (`vector()`), rules that write the
same name, and `for:`. The tests feed series that are absent, appear or vanish mid-window,
carry stale markers, repeat (the same series twice), and expect alerts and samples that are
sometimes right and sometimes wrong.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from obskit.generate.rules.testpacking import may_write_one_series_twice, pack
from obskit.output.yamltext import dump
from obskit.verify import pruning
from tests.conftest import budget
from tests.servers import VERSION_PARAMS, VERSIONS, require_binary

RULES = "prometheus/rulefiles/svc.rules.yaml"
TESTS = "prometheus/tests/svc.test.yaml"
RECORDS = ("r0", "r1", "r2")
ALERTS = ("A0", "A1", "A2", "A3")
SERIES = ('m1{job="a"}', 'm1{job="b"}', 'm2{job="a"}', 'm2{job="b"}', 'r0{job="a"}', "m2")
VALUES = ("1x9", "0x9", "2x9", "_x4 1x5", "1x4 _x5", "1 stale 1x7", "0+1x9", "_x9", "1 2 stale _x6 2")
THRESHOLDS = ("0", "0.9999", "1", "1.0001", "2")

_SELECTORS = ['m1{job="a"}', "m1", 'm2{job="b"}', "m2", "r0", "r1", 'r2{job="a"}', '{job="a"}', '{__name__=~"m.*"}']
_selector = st.sampled_from([*_SELECTORS, '{__name__="m1"}', 'ALERTS{alertname="A0"}', "ALERTS"])


def _expr(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        _selector,
        st.builds(lambda s: f"absent({s})", st.sampled_from(['m1{job="a"}', "m2", "r0", 'r1{job="b"}'])),
        st.just("vector(1)"),
        st.builds(lambda s: f"sum({s}) or vector(0)", _selector),
    )
    if depth == 0:
        return leaves
    inner = _expr(depth - 1)
    return st.one_of(
        leaves,
        st.builds(
            lambda e, op, t: f"{e} {op} {t}",
            inner,
            st.sampled_from([">", "<", "==", ">="]),
            st.sampled_from(THRESHOLDS),
        ),
        st.builds(lambda e: f"sum by (job) ({e})", inner),
        st.builds(lambda e: f"max_over_time(({e})[3m:1m])", _selector),
        st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(["or", "and on()", "unless"]), inner),
        st.just('label_replace(vector(1), "job", "a", "", "")'),
    )


@st.composite
def _rule(draw: st.DrawFn, alert: str | None) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": alert} if alert else {"record": draw(st.sampled_from(RECORDS))}
    rule["expr"] = draw(_expr(2))
    if alert and draw(st.booleans()):
        rule["for"] = draw(st.sampled_from(["1m", "3m"]))
    labels = draw(st.sampled_from([{}, {}, {}, {"severity": "page"}, {"job": "a"}]))
    if labels:
        rule["labels"] = labels
    return rule


@st.composite
def _rule_groups(draw: st.DrawFn) -> list[dict[str, Any]]:
    alerts = iter(ALERTS)
    groups = []
    for number in range(draw(st.integers(1, 3))):
        rules = [
            draw(_rule(next(alerts, None) if draw(st.booleans()) else None)) for _ in range(draw(st.integers(1, 2)))
        ]
        groups.append({"name": f"g{number}", "rules": rules})
    return groups


def _alerts(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


@st.composite
def _test_groups(draw: st.DrawFn, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    alerts = _alerts(groups)
    tests = []
    for number in range(draw(st.integers(1, 4))):
        test: dict[str, Any] = {"name": f"t{number}", "interval": "1m"}
        test["input_series"] = [
            {"series": draw(st.sampled_from(SERIES)), "values": draw(st.sampled_from(VALUES))}
            for _ in range(draw(st.integers(0, 3)))
        ]
        cases = []
        for _ in range(draw(st.integers(0, 2)) if alerts else 0):
            name = draw(st.sampled_from(sorted(alerts)))
            jobs = draw(st.sampled_from([[], [], ["a"], ["b"], ["a", "b"], [None]]))
            own = alerts[name].get("labels", {})
            expected = [{"exp_labels": {**({"job": job} if job else {}), **own}} for job in jobs]
            cases.append(
                {
                    "eval_time": draw(st.sampled_from(["1m", "3m", "5m", "8m"])),
                    "alertname": name,
                    "exp_alerts": expected,
                }
            )
        if cases:
            test["alert_rule_test"] = cases
        if draw(st.booleans()) or not cases:
            expr = draw(st.sampled_from(["r0", 'r1{job="a"}', "r2", "m1", "sum(m2)", "count(ALERTS)"]))
            value = draw(st.sampled_from([None, 0, 1, 2]))
            metric = "" if expr.startswith(("sum", "count")) else expr.split("{")[0]
            samples = [] if value is None else [{"labels": f'{metric}{{job="a"}}' if metric else "{}", "value": value}]
            test["promql_expr_test"] = [
                {"expr": expr, "eval_time": draw(st.sampled_from(["2m", "5m"])), "exp_samples": samples}
            ]
        tests.append(test)
    return tests


def _files(root: Path, groups: list[dict[str, Any]], tests: list[dict[str, Any]], name: str = TESTS) -> None:
    (root / RULES).parent.mkdir(parents=True, exist_ok=True)
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / RULES).write_text(dump({"groups": groups}), encoding="utf-8")
    document = {
        "rule_files": ["../rulefiles/svc.rules.yaml"],
        "evaluation_interval": "1m",
        "group_eval_order": [group["name"] for group in groups],
        "tests": tests,
    }
    (root / name).write_text(dump(document), encoding="utf-8")


_NAME = re.compile(r"^    name: (.*),$")


@dataclass(frozen=True)
class _Outcome:
    """What promtool said: passed or not, the tests it named (it names a test when one of its
    alert assertions fails), and each failed assertion (a line indented by four spaces and those
    indented deeper after it), however often."""

    ok: bool
    named: frozenset[str]
    failed: Counter[str]


def _run(promtool: str, root: Path, files: list[str]) -> _Outcome:
    completed = subprocess.run(
        [promtool, "test", "rules", *files], cwd=root, capture_output=True, text=True, timeout=120
    )
    named: set[str] = set()
    chunks: list[list[str]] = []
    open_chunk = False
    for line in (completed.stdout + completed.stderr).splitlines():
        name = _NAME.match(line)
        if name:
            named.add(name.group(1))
            open_chunk = False
        elif line.startswith("     ") and open_chunk:
            chunks[-1].append(line)
        elif line.startswith("    "):
            chunks.append([line])
            open_chunk = True
        else:
            open_chunk = False
    return _Outcome(completed.returncode == 0, frozenset(named), Counter("\n".join(chunk) for chunk in chunks))


_ALERT = re.compile(r"^    alertname: (\S+), time: (\S+), ")
_EXPR = re.compile(r'^    expr: "(.*)", time: (\S+),')
_ALERT_LABELS = re.compile(r"^ +Labels:\{(.*)\}$")
_SAMPLE = re.compile(r"\{([^}]*)\} ([^,\s]+)")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def _put_right(test: dict[str, Any], failed: Counter[str]) -> dict[str, Any]:
    """The test with the expectations promtool found wrong replaced by what it got."""
    test = {**test, "alert_rule_test": [dict(case) for case in test.get("alert_rule_test", [])]}
    test["promql_expr_test"] = [dict(case) for case in test.get("promql_expr_test", [])]
    for chunk in failed:
        lines = chunk.splitlines()
        got = lines[next(i for i, line in enumerate(lines) if "got:" in line) :] if "got:" in chunk else []
        if alert := _ALERT.match(lines[0]):
            alerts = [dict(_LABEL.findall(label.group(1))) for line in got if (label := _ALERT_LABELS.match(line))]
            expected = [{"exp_labels": {k: v for k, v in labels.items() if k != "alertname"}} for labels in alerts]
            for case in test["alert_rule_test"]:
                if (case["alertname"], case["eval_time"]) == alert.groups():
                    case["exp_alerts"] = expected
        elif expr := _EXPR.match(lines[0]):
            samples = []
            for labels, value in _SAMPLE.findall(got[0].split("got:", 1)[1]) if got else []:
                pairs = dict(_LABEL.findall(labels))
                name = pairs.pop("__name__", "")
                text = ", ".join(f'{k}="{v}"' for k, v in pairs.items())
                samples.append({"labels": f"{name}{{{text}}}", "value": float(value)})
            for case in test["promql_expr_test"]:
                if (case["expr"], case["eval_time"]) == (expr.group(1).replace('\\"', '"'), expr.group(2)):
                    case["exp_samples"] = samples
    return {key: value for key, value in test.items() if value or key == "input_series"}


def _errors(failed: Counter[str]) -> set[str]:
    """The rules' evaluation errors promtool reported."""
    return {chunk for chunk in failed if chunk.startswith("    rule: ")}


def _pruned(root: Path, test_file: str) -> list[str]:
    parts = pruning.split(
        test_file, (root / test_file).read_text(encoding="utf-8"), {RULES: (root / RULES).read_text(encoding="utf-8")}
    )
    assert parts is not None  # every file here is one obskit splits
    event(
        f"{test_file.split('.')[-3]}: {'groups left out' if any(p.groups < p.of for p in parts) else 'every group kept'}"
    )
    for part in parts:
        (root / part.test_path).write_text(part.test_text, encoding="utf-8")
        (root / part.rule_path).write_text(part.rule_text, encoding="utf-8")
    return [part.test_path for part in parts]


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSION_PARAMS)
@settings(max_examples=budget(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_packed_and_pruned_tests_pass_and_fail_as_the_whole_file(
    version: str, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    promtool = require_binary(VERSIONS[version][1])
    groups = data.draw(_rule_groups(), label="rule groups")
    tests = data.draw(_test_groups(groups), label="tests")
    root = tmp_path_factory.mktemp("differential")
    # expectations right and wrong: each test's wrong ones put right, or not, as drawn
    for number, test in enumerate(tests):
        alone = f"prometheus/tests/svc.t{number}.test.yaml"
        _files(root, groups, [test], alone)
        if data.draw(st.booleans(), label=f"put {test['name']} right"):
            tests[number] = _put_right(test, _run(promtool, root, [alone]).failed)
    _files(root, groups, tests)
    whole = _run(promtool, root, [TESTS])
    event(f"whole file: {'passes' if whole.ok else 'fails'}, {len(whole.failed)} assertions fail")

    # pruned, as `obskit test` runs each file: the same assertions fail
    assert _run(promtool, root, _pruned(root, TESTS)) == whole

    # packed, as `obskit gen` writes them: a packed test fails with its members' failures. A file
    # where two rules may write one series is left unpacked (testpacking.may_write_one_series_twice):
    # whether their samples meet depends on what each test feeds.
    if may_write_one_series_twice(groups):
        event("packed: left unpacked (two rules may write one series)")
    packed = pack(tests, groups)
    event(f"packed: {len(tests)} tests into {len(packed)}")
    packed_file = "prometheus/tests/svc.packed.test.yaml"
    _files(root, groups, packed, packed_file)
    packed_outcome = _run(promtool, root, [packed_file])
    assert packed_outcome.ok == whole.ok
    members = {group["name"]: set(group["name"].split(" + ")) for group in packed}
    named = {name for name, names in members.items() if names & whole.named}
    if not _errors(whole.failed):
        assert packed_outcome.failed == whole.failed
        assert packed_outcome.named == named
    else:
        # promtool reports a rule's evaluation error once per test that meets it, and stops
        # testing there: in a packed test, its members' later assertions go unreported
        assert _errors(packed_outcome.failed) <= _errors(whole.failed)
        assert not packed_outcome.failed - whole.failed
        assert packed_outcome.named <= named

    # and the packed file pruned, as `obskit test` runs what `obskit gen` wrote
    assert _run(promtool, root, _pruned(root, packed_file)) == packed_outcome
