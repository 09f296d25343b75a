"""`obskit test` runs each unit test with the rule groups that can change its outcome
(obskit.verify.pruning). These tests hold the analysis to PromQL's semantics and show, with
promtool itself, that the parts pass and fail exactly as the whole file does: on the example's
tree as generated, and with the faults that leaving a group out could hide."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import promql_parser
import pytest
import yaml

from obskit.verify import pruning
from tests.servers import VERSION_PARAMS, VERSIONS, require_binary

GOLDEN = Path(__file__).parent / "golden" / "prod"
RULES = "prometheus/rulefiles/checkout.rules.yaml"
TESTS = sorted(f"prometheus/tests/{path.name}" for path in (GOLDEN / "prometheus/tests").glob("checkout.*.yaml"))


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", pruning.NOTHING),
        ("rate(x[5m])", pruning.NOTHING),
        ("time() - x > 300", pruning.NOTHING),
        ("sum(x) or vector(0)", frozenset()),
        ("vector(1)", frozenset()),
        ("1", frozenset()),
        ("hour()", frozenset()),
        ("hour(x)", pruning.NOTHING),
        ('absent(x{job="a",env=~"p.*"})', frozenset({("job", "a")})),
        ('absent(x{job="a",job="b"})', None),  # a label matched twice: Prometheus 2 and 3 differ
        ('absent(x{job="a",env=""})', frozenset({("job", "a")})),  # an empty value is no label
        ('absent_over_time(x{job="a"}[5m])', frozenset({("job", "a")})),
        ('absent(x{job="a"}) and on() (sum(y) or vector(0)) > 0', frozenset({("job", "a")})),
        ('x and on() absent(y{job="a"})', pruning.NOTHING),
        ('absent(x{job="a"}) unless y', frozenset({("job", "a")})),
        ('absent(x{job="a"}) or absent(y{job="b"})', None),  # two samples: not told
        ("sum(vector(1))", None),
        ('label_replace(vector(1), "a", "b", "", "")', None),
        ("scalar(x) * 2", frozenset()),
        ("x * scalar(y)", pruning.NOTHING),
        ("histogram_quantile(0.9, sum by (le) (rate(b[5m])))", pruning.NOTHING),
        ("max_over_time(x[1h:5m])", pruning.NOTHING),
    ],
)
def test_what_an_expression_yields_when_no_series_it_selects_exists(expr: str, expected: object) -> None:
    assert pruning.alone(promql_parser.parse(expr)) == expected


def test_a_selector_without_a_metric_name_reads_every_name() -> None:
    assert pruning.reads('{job="a"} + on() b') == {pruning.EVERY_NAME, "b"}
    assert pruning.reads('{__name__="a"}') == {"a"}


def _rules(*groups: list[dict[str, object]]) -> str:
    return yaml.safe_dump({"groups": [{"name": f"g{i}", "rules": rules} for i, rules in enumerate(groups)]})


def _tests(*tests: dict[str, object]) -> str:
    return yaml.safe_dump({"rule_files": ["../rules/r.yaml"], "evaluation_interval": "1m", "tests": list(tests)})


PLATFORM = [{"alert": "Down", "expr": "up == 0"}, {"alert": "Missing", "expr": 'absent(up{job="a"})'}]
SLI = [{"record": "sli:rate5m", "expr": "rate(requests_total[5m])"}]
CONSTANT = [{"record": "objective", "expr": "vector(0.99)", "labels": {"slo": "a"}}]
ALERTS = [{"alert": "Burn", "expr": "sli:rate5m > on() group_left() objective"}]


def _parts(rules: str, *tests: dict[str, object]) -> list[pruning.Part] | None:
    return pruning.split("prometheus/tests/t.yaml", _tests(*tests), {"prometheus/rules/r.yaml": rules})


def _case(name: str, series: str, alert: str) -> dict[str, object]:
    return {
        "name": name,
        "interval": "1m",
        "input_series": [{"series": series, "values": "1x5"}],
        "alert_rule_test": [{"eval_time": "5m", "alertname": alert, "exp_alerts": []}],
    }


def test_tests_of_separate_groups_run_apart_with_what_they_read() -> None:
    rules = _rules(PLATFORM, SLI, CONSTANT, ALERTS)
    parts = _parts(rules, _case("platform", 'up{job="a"}', "Down"), _case("slo", "requests_total", "Burn"))
    assert parts is not None
    assert [(part.tests, part.groups, part.of) for part in parts] == [(1, 3, 4), (1, 3, 4)]
    platform, slo = ([group["name"] for group in yaml.safe_load(part.rule_text)["groups"]] for part in parts)
    # Burn reads `objective`, which its constant group writes in every test: both are kept, and
    # each test leaves out the other's source
    assert (platform, slo) == (["g0", "g2", "g3"], ["g1", "g2", "g3"])
    assert yaml.safe_load(parts[1].test_text)["rule_files"] == ["../rules/r.t.part-2.yaml"]


def test_a_group_whose_own_sample_another_rule_also_writes_is_always_kept() -> None:
    twice = _rules(PLATFORM, SLI, CONSTANT, [*CONSTANT, *ALERTS])
    parts = _parts(twice, _case("platform", 'up{job="a"}', "Down"))
    assert parts is not None and [part.groups for part in parts] == [3]  # g0, and both writers of `objective`
    # another group's rule that selects series can write any labels under that name
    other = [
        {"record": "objective", "expr": "vector(0.5)", "labels": {"slo": "b"}},
        {"record": "objective", "expr": "x"},
    ]
    selecting = _rules(PLATFORM, CONSTANT, other)
    parts = _parts(selecting, _case("platform", 'up{job="a"}', "Down"))
    assert parts is not None and [part.groups for part in parts] == [2]  # g0 and g1; g2 reads nothing there
    unknown = _rules(PLATFORM, [{"record": "x", "expr": 'label_replace(vector(1), "a", "b", "", "")'}])
    parts = _parts(unknown, _case("platform", 'up{job="a"}', "Down"))
    assert parts is not None and [part.groups for part in parts] == [2]


def test_a_file_every_test_of_which_reaches_every_group_runs_as_it_is() -> None:
    rules = _rules(PLATFORM)
    text = _tests(_case("platform", 'up{job="a"}', "Down"))
    parts = pruning.split("prometheus/tests/t.yaml", text, {"prometheus/rules/r.yaml": rules})
    assert parts is not None and [(part.test_path, part.test_text) for part in parts] == [
        ("prometheus/tests/t.yaml", text)
    ]
    # a file to split that is written otherwise than this module expects runs whole
    flow = text.replace("rule_files:\n- ../rules/r.yaml\n", "rule_files: [../rules/r.yaml]\n")
    assert flow != text
    assert pruning.split("prometheus/tests/t.yaml", flow, {"prometheus/rules/r.yaml": _rules(PLATFORM, SLI)}) is None


def _mutated(tmp_path: Path, fault: str) -> Path:
    root = tmp_path / fault
    shutil.copytree(GOLDEN / "prometheus", root / "prometheus")
    rules = root / RULES
    text = rules.read_text(encoding="utf-8")
    if fault == "threshold":  # ServiceDown waits ten times as long: its cases fail
        text = text.replace('(up{job="checkout"}) == 0\n    for: 2m', '(up{job="checkout"}) == 0\n    for: 20m', 1)
    elif fault == "collision":  # a second RTO limit with another value: a duplicate sample at every step
        rto = re.search(r"  - expr: vector\(900\)\n(?:    .*\n)*?    record: dr:limit:seconds\n", text)
        assert rto is not None
        text = text.replace(rto.group(0), rto.group(0) + rto.group(0).replace("vector(900)", "vector(901)"), 1)
    elif fault == "labelset":  # two series made one by the rule's labels, wherever `up` exists
        rule = (
            '  - expr: sum by (instance) (up{job="checkout"}) or sum by (job) (up{job="checkout"})\n'
            "    labels:\n      instance: a\n      job: b\n    record: obskit:test:collision\n"
        )
        text = text.replace(
            "  name: obskit/checkout/platform\n  rules:\n", f"  name: obskit/checkout/platform\n  rules:\n{rule}", 1
        )
    rules.write_text(text, encoding="utf-8")
    return root


def _passes(promtool: str, root: Path, files: list[str]) -> bool:
    completed = subprocess.run([promtool, "test", "rules", *files], cwd=root, capture_output=True, timeout=300)
    return completed.returncode == 0


@pytest.mark.parametrize("version", VERSION_PARAMS)
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param("none", marks=pytest.mark.slow),
        pytest.param("threshold", marks=pytest.mark.slow),
        "collision",  # the cheapest: `make test-fast` runs it
        pytest.param("labelset", marks=pytest.mark.slow),
    ],
)
def test_the_parts_pass_and_fail_as_the_whole_file_does(version: str, fault: str, tmp_path: Path) -> None:
    promtool = require_binary(VERSIONS[version][1])
    root = _mutated(tmp_path, fault)
    rules = {RULES: (root / RULES).read_text(encoding="utf-8")}
    outcomes = []
    for name in TESTS:
        parts = pruning.split(name, (root / name).read_text(encoding="utf-8"), rules)
        assert parts is not None, name
        for part in parts:
            (root / part.test_path).write_text(part.test_text, encoding="utf-8")
            (root / part.rule_path).write_text(part.rule_text, encoding="utf-8")
        whole = _passes(promtool, root, [name])
        assert _passes(promtool, root, [part.test_path for part in parts]) == whole, (fault, name)
        outcomes.append(whole)
    assert all(outcomes) == (fault == "none")
    assert any(
        part.groups < part.of for name in TESTS for part in pruning.split(name, (root / name).read_text(), rules) or []
    )


def test_a_group_whose_own_sample_an_input_series_could_be_is_kept() -> None:
    # absent()'s sample r0{job="a"} and the input r0{job="a"}: one series written twice, an
    # evaluation error that fails the test (found by tests/test_differential.py on promtool 3.5)
    rules = _rules(PLATFORM, [{"record": "r0", "expr": 'absent(m1{job="a"})'}], SLI)
    parts = _parts(rules, _case("platform", 'r0{job="a"}', "Down"))
    assert parts is not None and [part.groups for part in parts] == [2]  # g0 and g1, not g2


def test_a_group_whose_own_sample_a_rule_not_told_about_could_write_is_kept() -> None:
    # `sum by (job) (vector(1))` is not told, and writes r1{} as the other group's `or vector(0)`
    # does: a duplicate sample (found by tests/test_differential.py on promtool 2.42)
    untold = [{"record": "r1", "expr": "sum by (job) (vector(1))"}]
    rules = _rules(PLATFORM, untold, [{"record": "r1", "expr": 'sum(m1{job="a"}) or vector(0)'}])
    parts = _parts(rules, _case("platform", 'up{job="a"}', "Down"))
    assert parts is not None and [part.groups for part in parts] == [3]
