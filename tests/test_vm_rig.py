"""The generated rules under VictoriaMetrics, measured on the real programs (issue 30's groundwork):
vmalert -dryRun takes every generated rule file; vmalert-tool runs promtool's generated cases and
fails where MetricsQL reads an expression differently; a real VictoriaMetrics answers the probe
expressions of docs/metricsql.md the way that page says, next to Prometheus' answers (promtool);
and vmalert on a real VictoriaMetrics sends WALArchiveErrors to a real Alertmanager on a constant
counter Prometheus stays silent on, while the increase_prometheus() rewrite stays silent too."""

from __future__ import annotations

import math
import subprocess
import time
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import alertmanager, require_binary, wait_for
from tests.vm import (
    Exposition,
    VictoriaMetrics,
    dry_run,
    failures,
    increase_prometheus,
    rate_where_positive,
    rewrite_rules,
    samples,
    side_by_side,
    victoria_metrics,
    vmalert,
    vmalert_tool,
    vmalert_tool_test,
    write_yaml,
)

RULEFILES = "prometheus/rulefiles"
WAL_GROUP = "obskit/checkout/orders-db/wal-g"


@pytest.mark.tools("vmalert")
def test_vmalert_dry_run_takes_every_generated_rule_file(prod_tree: dict[str, str], tmp_path: Path) -> None:
    files = sorted(path for path in prod_tree if path.startswith(f"{RULEFILES}/"))
    assert files
    for path in files:
        target = tmp_path / Path(path).name
        target.write_text(prod_tree[path])
        checked = dry_run(target)
        assert checked.returncode == 0, (path, checked.stdout[-2000:], checked.stderr[-2000:])
    # and it does parse: a broken expression is refused
    broken = write_yaml(
        tmp_path / "broken.yaml", {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "rate(x[5m]"}]}]}
    )
    assert dry_run(broken).returncode != 0


@pytest.mark.servers
@pytest.mark.tools("victoria-metrics")
def test_no_generated_expression_relies_on_implicit_conversion(prod_tree: dict[str, str], tmp_path: Path) -> None:
    """MetricsQL silently turns some PromQL errors into subqueries (`rate(sum(x))`); a VictoriaMetrics
    started with -search.disableImplicitConversion refuses them instead, and takes every generated
    expression."""
    exprs = [
        rule["expr"]
        for path, text in prod_tree.items()
        if path.startswith(f"{RULEFILES}/")
        for group in yaml.safe_load(text)["groups"]
        for rule in group["rules"]
    ]
    assert len(exprs) > 200
    with victoria_metrics(tmp_path, ("-search.disableImplicitConversion",)) as vm:
        refused = []
        for expr in exprs:
            try:
                vm.query(expr, time.time())
            except urllib.error.HTTPError as err:
                refused.append((expr, err.read().decode()[:300]))
        assert refused == []
        with pytest.raises(urllib.error.HTTPError):
            vm.query("rate(sum(x))", time.time())


def _unit_test_dir(prod_tree: dict[str, str], tmp_path: Path, rewrite: Callable[[str], str] | None = None) -> Path:
    """The prod tree's rule files (rewritten when asked) and its promtool tests in vmalert-tool's format."""
    for path, text in prod_tree.items():
        if path.startswith(f"{RULEFILES}/"):
            rules = yaml.safe_load(text)
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            write_yaml(target, rewrite_rules(rules, rewrite) if rewrite else rules)
        elif path.startswith("prometheus/tests/"):
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            write_yaml(target, vmalert_tool_test(yaml.safe_load(text)))
    return tmp_path / "prometheus/tests"


@pytest.mark.slow
@pytest.mark.tools("vmalert-tool")
def test_vmalert_tool_fails_walarchiveerrors_silent_case(prod_tree: dict[str, str], tmp_path: Path) -> None:
    """checkout's every-minute cases pass under vmalert-tool except two silent cases of one
    divergence: MetricsQL's increase() counts a new series' first sample from 0. WALArchiveErrors'
    pg_stat_archiver_failed_count of 3 that never moves reads as 3 failures at each evaluation, and
    ServicePodOOMKilled's restart counter, already at 1 when the case starts, as a fresh restart
    for the 10m of its window."""
    tests = _unit_test_dir(prod_tree, tmp_path)
    ran = vmalert_tool([tests / "checkout.every-1m.test.yaml"])
    assert ran.returncode != 0
    failed = sorted(set(failures(ran.stdout)))
    expected = [("ServicePodOOMKilled", f"{m}m0s") for m in range(1, 10)]
    expected += [("WALArchiveErrors", f"{m}m0s") for m in range(1, 5)]
    assert failed == expected, ran.stdout[-3000:]


@pytest.mark.slow
@pytest.mark.tools("vmalert-tool", "promtool")
@pytest.mark.parametrize("rewrite", [increase_prometheus, rate_where_positive])
def test_rewrite_passes_every_case(rewrite: Callable[[str], str], prod_tree: dict[str, str], tmp_path: Path) -> None:
    """The same cases all pass under vmalert-tool once rewritten: increase_prometheus() (MetricsQL
    only), or rate() where an increase is compared with 0, which promtool 2.42 also passes on every
    checkout test file."""
    tests = _unit_test_dir(prod_tree, tmp_path, rewrite)
    ran = vmalert_tool([tests / "checkout.every-1m.test.yaml"])
    assert ran.returncode == 0, ran.stdout[-3000:]
    if rewrite is rate_where_positive:
        promtool = require_binary("promtool")
        for name, text in prod_tree.items():
            if name.startswith("prometheus/tests/checkout"):
                (tmp_path / name).write_text(text)  # promtool's own format, on the rewritten rule file
                checked = subprocess.run(
                    [promtool, "test", "rules", name], capture_output=True, text=True, cwd=tmp_path, timeout=600
                )
                assert checked.returncode == 0, (name, checked.stdout[-3000:])


@pytest.mark.slow
@pytest.mark.tools("vmalert-tool")
def test_vmalert_tool_chained_recording_rules_need_short_steps(prod_tree: dict[str, str], tmp_path: Path) -> None:
    """vmalert writes a recording rule's result asynchronously: the next rule of the same group, at the
    same evaluation, does not see it (docs/vmalert.md, Limitations). vmalert-tool queries with a 5m
    step and flushes between groups, so at obskit's 5m test steps slo:sli_error:ratio_rate5m, which
    divides two recordings of its own group, reads nothing and ErrorBudgetBurn cannot fire; the same
    cases evaluated every minute pass (each level one evaluation late)."""
    tests = _unit_test_dir(prod_tree, tmp_path)
    ran = vmalert_tool([tests / "catalog-api.test.yaml"])
    assert ran.returncode != 0
    failed = {name for name, _ in failures(ran.stdout)}
    assert "ErrorBudgetBurn" in failed, ran.stdout[-3000:]
    assert any("ratio_rate5m" in name for name in failed), ran.stdout[-3000:]

    every_minute = yaml.safe_load((tests / "catalog-api.test.yaml").read_text())
    every_minute["evaluation_interval"] = "1m"
    ran = vmalert_tool([write_yaml(tests / "catalog-api.every-minute.test.yaml", every_minute)])
    assert ran.returncode == 0, ran.stdout[-3000:]


def _backup_failed(prod_tree: dict[str, str], rewrite: Callable[[str], str] | None = None) -> dict[str, Any]:
    rules = yaml.safe_load(prod_tree[f"{RULEFILES}/checkout.rules.yaml"])
    rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "BackupFailed")
    rule = {key: value for key, value in rule.items() if key != "annotations"}
    if rewrite:
        rule["expr"] = rewrite(rule["expr"])
    return {"groups": [{"name": "backup", "rules": [rule]}]}


def _without_namespace(expr: str) -> str:
    return f'label_replace(({expr}), "namespace", "", "namespace", ".*")'


@pytest.mark.tools("vmalert-tool", "promtool")
@pytest.mark.parametrize("rewrite", [None, _without_namespace], ids=["generated", "label_replace"])
def test_rule_labels_over_series_labels(
    rewrite: Callable[[str], str] | None, prod_tree: dict[str, str], tmp_path: Path
) -> None:
    """Velero's failure counter scraped with the exporter's namespace="velero"; BackupFailed sets
    namespace: shop. Prometheus replaces the series' label; vmalert keeps it as exported_namespace
    (labelSet.add in app/vmalert/rule/alerting.go; recording rules alike, RecordingRule.toTimeSeries).
    Dropping the label in the expression first gives the same labels on both."""
    rules = _backup_failed(prod_tree, rewrite)
    write_yaml(tmp_path / "backup.rules.yaml", rules)
    labels = {"schedule": "checkout", "job": "velero", **rules["groups"][0]["rules"][0]["labels"]}
    group = {
        "interval": "1m",
        "input_series": [
            {
                "series": 'velero_backup_failure_total{schedule="checkout",namespace="velero",job="velero"}',
                "values": "0x3 1x7",
            }
        ],
        "alert_rule_test": [{"eval_time": "10m", "alertname": "BackupFailed", "exp_alerts": [{"exp_labels": labels}]}],
    }
    test = {"rule_files": ["backup.rules.yaml"], "evaluation_interval": "1m", "tests": [group]}
    write_yaml(tmp_path / "promtool.test.yaml", test)
    checked = subprocess.run(
        [require_binary("promtool"), "test", "rules", "promtool.test.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    ran = vmalert_tool([write_yaml(tmp_path / "vmalert.test.yaml", vmalert_tool_test(test))])
    if rewrite is None:
        assert ran.returncode != 0
        assert 'exported_namespace="velero"' in ran.stdout, ran.stdout[-2000:]
    else:
        assert ran.returncode == 0, ran.stdout[-2000:]


@pytest.mark.tools("vmalert-tool", "promtool")
def test_annotation_labels_include_rule_labels_on_vmalert(tmp_path: Path) -> None:
    """In an annotation, Prometheus' $labels are the series' labels; vmalert's are the series' labels
    plus the rule's (the series' value kept on a conflict: labelSet.origin in alerting.go). A label
    only the rule sets renders empty on Prometheus and with its value on vmalert; no generated
    annotation reads one (their cases pass on both)."""
    rule = {
        "alert": "A",
        "expr": "x > 0",
        "labels": {"namespace": "shop", "team": "payments"},
        "annotations": {"d": "{{ $labels.namespace }}/{{ $labels.team }}"},
    }
    write_yaml(tmp_path / "r.rules.yaml", {"groups": [{"name": "g", "rules": [rule]}]})

    def test(rendered: str, **extra: str) -> dict[str, Any]:
        labels = {"namespace": "shop", "team": "payments", **extra}
        alert = {"exp_labels": labels, "exp_annotations": {"d": rendered}}
        group = {
            "interval": "1m",
            "input_series": [{"series": 'x{namespace="velero"}', "values": "1x10"}],
            "alert_rule_test": [{"eval_time": "5m", "alertname": "A", "exp_alerts": [alert]}],
        }
        return {"rule_files": ["r.rules.yaml"], "evaluation_interval": "1m", "tests": [group]}

    write_yaml(tmp_path / "p.test.yaml", test("velero/"))
    checked = subprocess.run(
        [require_binary("promtool"), "test", "rules", "p.test.yaml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    vmalert_test = test("velero/payments", exported_namespace="velero")  # see the test above
    ran = vmalert_tool([write_yaml(tmp_path / "v.test.yaml", vmalert_test)])
    assert ran.returncode == 0, ran.stdout[-2000:]


# ---- probes: one expression on Prometheus (promtool 2.42, its engine) and on VictoriaMetrics

T0 = 1767225600  # 2026-01-01T00:00:00Z, where the probes' series start on VictoriaMetrics
Sample = tuple[dict[str, str], float]

# name: (input series in promtool's notation at 1m steps, evaluation second, Prometheus' expression
# and answer, VictoriaMetrics' expression and answer); {P} stands for the probe's own label
PROBES: dict[str, tuple[dict[str, str], int, str, list[Sample], str, list[Sample]]] = {
    # MetricsQL's increase() takes a missing previous sample as 0 when the first is small (rollupDelta)
    "increase counts a new series' first sample": (
        {"c": "3x20"}, 600, "increase(c{P}[1h])", [({}, 0)], "increase(c{P}[1h])", [({}, 3)],
    ),
    "increase counts a blip's first sample": (
        {"e": "_x5 1x10"}, 420, "increase(e{P}[5m])", [({}, 0)], "increase(e{P}[5m])", [({}, 1)],
    ),
    "increase counts the whole value after a gap longer than the window": (
        {"c": "3x5 _x70 3x5"}, 4800, "increase(c{P}[1h])", [({}, 0)], "increase(c{P}[1h])", [({}, 3)],
    ),
    # the samples fetched start 5m before the window (eval.go, maxSilenceInterval): a scrape gap over 5m
    # just before the window hides the last sample, and the counter is counted from 0 again
    "increase after a 6m scrape gap before the window": (
        {"c": "3x80 _x6 3x30"}, 6060, "increase(c{P}[15m])", [({}, 0)], "increase(c{P}[15m])", [({}, 3)],
    ),
    "increase_prometheus after a 6m scrape gap": (
        {"c": "3x80 _x6 3x30"}, 6060, "increase(c{P}[15m])", [({}, 0)], "increase_prometheus(c{P}[15m])", [({}, 0)],
    ),
    "rate > 0 after a 6m scrape gap": (
        {"c": "3x80 _x6 3x30"}, 6060, "rate(c{P}[15m]) > 0", [], "rate(c{P}[15m]) > 0", [],
    ),
    "increase sees the sample before the window": (
        {"c": "0 0 1x8"}, 390, "increase(c{P}[5m]) > 0", [], "increase(c{P}[5m]) > 0", [({}, 1)],
    ),
    "increase_prometheus reads a constant counter as Prometheus' increase": (
        {"c": "3x20"}, 600, "increase(c{P}[1h])", [({}, 0)], "increase_prometheus(c{P}[1h])", [({}, 0)],
    ),
    "increase_prometheus after a gap": (
        {"c": "3x5 _x70 3x5"}, 4800, "increase(c{P}[1h])", [({}, 0)], "increase_prometheus(c{P}[1h])", [({}, 0)],
    ),
    "increase_prometheus ignores the sample before the window": (
        {"c": "0 0 1x8"}, 390, "increase(c{P}[5m]) > 0", [], "increase_prometheus(c{P}[5m]) > 0", [],
    ),
    "increase_prometheus counts a real failure (without extrapolation)": (
        {"c": "3x30 4x5"}, 2000, "increase(c{P}[1h]) > 0", [({}, 1.0252525252525253)],
        "increase_prometheus(c{P}[1h]) > 0", [({}, 1)],
    ),
    # the portable rewrite of `increase(x[w]) > 0`: rate(x[w]) > 0
    "rate > 0 on a new constant series": ({"c": "3x20"}, 600, "rate(c{P}[1h]) > 0", [], "rate(c{P}[1h]) > 0", []),
    "rate > 0 after a gap": ({"c": "3x5 _x70 3x5"}, 4800, "rate(c{P}[1h]) > 0", [], "rate(c{P}[1h]) > 0", []),
    "rate > 0 on a blip": ({"e": "_x5 1x10"}, 420, "rate(e{P}[5m]) > 0", [], "rate(e{P}[5m]) > 0", []),
    "rate > 0 sees the sample before the window": (
        {"c": "0 0 1x8"}, 390, "rate(c{P}[5m]) > 0", [], "rate(c{P}[5m]) > 0", [({}, 1 / 300)],
    ),
    # ServicePodCrashLooping's `>= 3`: Prometheus extrapolates 2 observed restarts past 3
    "increase >= 3 on two observed restarts": (
        {"c": "_x10 1 2 3"}, 750, "increase(c{P}[15m]) >= 3", [({}, 3.5)],
        "increase_prometheus(c{P}[15m]) >= 3", [],
    ),
    # rollupDerivFast: no previous sample means the window's first sample, never 0
    "rate of a new constant series": ({"c": "3x20"}, 600, "rate(c{P}[1h])", [({}, 0)], "rate(c{P}[1h])", [({}, 0)]),
    "rate of a new series is not extrapolated": (
        {"c": "3+1x20"}, 180, "rate(c{P}[5m])", [({}, 0.011666666666666667)], "rate(c{P}[5m])", [({}, 1 / 60)],
    ),
    # the window is (t-w, t] in MetricsQL and in Prometheus 3; Prometheus 2 takes [t-w, t]
    "count_over_time at the window's left edge": (
        {"g": "1x10"}, 600, "count_over_time(g{P}[5m])", [({}, 6)], "count_over_time(g{P}[5m])", [({}, 5)],
    ),
    "count_over_time with gaps": (
        {"g": "1 _ _ 1 1 _ 1"}, 360, "count_over_time(g{P}[5m])", [({}, 3)], "count_over_time(g{P}[5m])", [({}, 3)],
    ),
    # rollupFuncsKeepMetricName: MetricsQL keeps the name through max/min/avg/last_over_time
    "max_over_time keeps the metric name": (
        {"g": "0 _ _ 1 0 _ 0"}, 360, "max_over_time(g{P}[5m])", [({}, 1)],
        "max_over_time(g{P}[5m])", [({"__name__": "g"}, 1)],
    ),
    # MetricsQL drops NaN results: a 0/0 ratio is no series rather than NaN
    "0/0 is no series": (
        {"a": "0x10", "b": "0x10"}, 600, "count(sum(a{P}) / sum(b{P}))", [({}, 1)],
        "count(sum(a{P}) / sum(b{P}))", [],
    ),
    "subquery": (
        {"c": "0+1x30"}, 1500, "max_over_time(rate(c{P}[5m])[10m:1m])", [({}, 1 / 60)],
        "max_over_time(rate(c{P}[5m])[10m:1m])", [({}, 1 / 60)],
    ),
    "label_replace": (
        {'g{job="a-b"}': "1x10"}, 600, 'label_replace(g{P}, "svc", "$1", "job", "(.*)-b")',
        [({"__name__": "g", "job": "a-b", "svc": "a"}, 1)],
        'label_replace(g{P}, "svc", "$1", "job", "(.*)-b")', [({"__name__": "g", "job": "a-b", "svc": "a"}, 1)],
    ),
    "ignoring () group_left": (
        {'r{code="200"}': "0+3x10", 'r{code="500"}': "0+1x10"}, 600,
        "sum by (code) (rate(r{P}[5m])) / ignoring (code) group_left sum(rate(r{P}[5m]))",
        [({"code": "200"}, 0.75), ({"code": "500"}, 0.25)],
        "sum by (code) (rate(r{P}[5m])) / ignoring (code) group_left sum(rate(r{P}[5m]))",
        [({"code": "200"}, 0.75), ({"code": "500"}, 0.25)],
    ),
    # promtool's clock starts at 0, VictoriaMetrics' at T0: only differences of times compare
    "time() - timestamp()": ({"g": "1x10"}, 570, "time() - timestamp(g{P})", [({}, 30)], "time() - timestamp(g{P})", [({}, 30)]),
    "absent takes the equality matchers' labels": (
        {"g": "1x3"}, 180, 'absent(nothere{job="a",P})', [({"job": "a"}, 1)],
        'absent(nothere{job="a",P})', [({"job": "a"}, 1)],
    ),
    "absent of a series that stopped 6m ago (no staleness marker)": (
        {"g": "1x3"}, 540, "absent(g{P})", [({}, 1)], "absent(g{P})", [({}, 1)],
    ),
    "or on () with an empty left side": (
        {"t": "0+10x10"}, 600, "sum(rate(e{P}[5m])) or on () 0 * sum(rate(t{P}[5m]))", [({}, 0)],
        "sum(rate(e{P}[5m])) or on () 0 * sum(rate(t{P}[5m]))", [({}, 0)],
    ),
    # slo:sli_data:coverage_ratio's `or`: matched without __name__ on both, so only the left side
    "or of two *_over_time of different names": (
        {'a{s="x"}': "100x10", 'b{s="x"}': "200x10"}, 600, "last_over_time(a{P}[1h]) or min_over_time(b{P}[1h])",
        [({"__name__": "a", "s": "x"}, 100)],
        "last_over_time(a{P}[1h]) or min_over_time(b{P}[1h])", [({"__name__": "a", "s": "x"}, 100)],
    ),
    "unless on (pod)": (
        {'r{pod="a"}': "1x10", 'r{pod="b"}': "1x10", 'ph{pod="a"}': "1x10"}, 600,
        "max by (pod) (r{P}) == 1 unless on (pod) max by (pod) (ph{P}) == 1", [({"pod": "b"}, 1)],
        "max by (pod) (r{P}) == 1 unless on (pod) max by (pod) (ph{P}) == 1", [({"pod": "b"}, 1)],
    ),
}  # fmt: skip


def _expand(values: str) -> list[float | None]:
    """promtool's series notation (`a`, `axn`, `a+bxn`, `_`, `_xn`) as one value (or None) per step."""
    out: list[float | None] = []
    for item in values.split():
        if item == "_":
            out.append(None)
        elif "x" in item:
            head, count = item.split("x")
            if head == "_":
                out += [None] * int(count)
                continue
            start, _, step = head.partition("+")
            out += [float(start) + float(step or 0) * i for i in range(int(count) + 1)]
        else:
            out.append(float(item))
    return out


def _split(series: str) -> tuple[str, dict[str, str]]:
    name, _, rest = series.partition("{")
    labels = dict(pair.split("=", 1) for pair in rest.rstrip("}").split(",") if pair)
    return name, {key: value.strip('"') for key, value in labels.items()}


def _selector(expr: str, probe: str) -> str:
    return expr.replace("{P}", f'{{probe="{probe}"}}').replace(",P}", f',probe="{probe}"}}')


@pytest.fixture(scope="module")
def vm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    with victoria_metrics(tmp_path_factory.mktemp("vm")) as server:
        yield server


@pytest.mark.servers
@pytest.mark.tools("victoria-metrics", "promtool")
@pytest.mark.parametrize("name", list(PROBES))
def test_metricsql_probe(name: str, vm_server: VictoriaMetrics, tmp_path: Path) -> None:
    series, at, prom_expr, prom_answer, vm_expr, vm_answer = PROBES[name]
    probe = f"p{list(PROBES).index(name)}"
    # Prometheus: promtool's unit test must pass with Prometheus' answer
    input_series = []
    for text, values in series.items():
        metric, labels = _split(text)
        body = ",".join(f'{k}="{v}"' for k, v in {**labels, "probe": probe}.items())
        input_series.append({"series": f"{metric}{{{body}}}", "values": values})
        vm_server.import_samples(
            samples(
                metric,
                {**labels, "probe": probe},
                [(T0 + 60 * i, v) for i, v in enumerate(_expand(values)) if v is not None],
            )
        )
    expected = [
        {"labels": "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}", "value": value}
        for labels, value in prom_answer
    ]
    # the probe's own label, which keeps the probes apart on one VictoriaMetrics, dropped from the answer
    prom_query = f'label_replace({_selector(prom_expr, probe)}, "probe", "", "probe", ".*")'
    test = {
        "tests": [
            {
                "interval": "1m",
                "input_series": input_series,
                "promql_expr_test": [{"expr": prom_query, "eval_time": f"{at}s", "exp_samples": expected}],
            }
        ]
    }
    test_file = write_yaml(tmp_path / "probe.test.yaml", test)
    checked = subprocess.run(
        [require_binary("promtool"), "test", "rules", str(test_file)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    got = vm_server.query(_selector(vm_expr, probe), T0 + at)
    answer = sorted(
        (({k: v for k, v in r["metric"].items() if k != "probe"}, float(r["value"][1])) for r in got), key=str
    )
    assert len(answer) == len(vm_answer), answer
    for (labels, value), (want_labels, want) in zip(answer, sorted(vm_answer, key=str), strict=True):
        assert labels == want_labels, answer
        assert math.isclose(value, want, rel_tol=1e-9), answer


# ---- the rig: VictoriaMetrics + vmalert + Alertmanager on WALArchiveErrors' constant counter


def _wal_group(prod_tree: dict[str, str], variant: str, rewrite: Callable[[str], str] | None = None) -> dict[str, Any]:
    rules = yaml.safe_load(prod_tree[f"{RULEFILES}/checkout.rules.yaml"])
    group = next(g for g in rules["groups"] if g["name"] == WAL_GROUP)
    rule = next(r for r in group["rules"] if r.get("alert") == "WALArchiveErrors")
    rule = {**rule, "labels": {**rule["labels"], "variant": variant}}
    if rewrite:
        rule["expr"] = rewrite(rule["expr"])
    return {"groups": [{"name": f"{WAL_GROUP}/{variant}", "rules": [rule]}]}


@pytest.mark.servers
@pytest.mark.tools("victoria-metrics", "vmalert", "alertmanager", "promtool")
def test_rig_constant_archiver_failures(prod_tree: dict[str, str], tmp_path: Path) -> None:
    """pg_stat_archiver_failed_count has read 3 for the last 10 minutes, scraped every 15s: no archive
    command failed in the last hour. Prometheus (promtool) keeps WALArchiveErrors silent; vmalert on
    VictoriaMetrics fires the generated rule and Alertmanager receives it; the increase_prometheus()
    rewrite, evaluated by the same vmalert on the same data, stays silent."""
    generated = write_yaml(tmp_path / "generated.rules.yaml", _wal_group(prod_tree, "generated"))
    rewritten = write_yaml(tmp_path / "rewritten.rules.yaml", _wal_group(prod_tree, "rewritten", increase_prometheus))
    series = {"job": "checkout-orders-db"}

    # Prometheus' answer on the same series: silent at every minute of the first 20
    test = {
        "rule_files": [generated.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "15s",
                "input_series": [
                    {"series": 'pg_stat_archiver_failed_count{job="checkout-orders-db"}', "values": "3x80"}
                ],
                "alert_rule_test": [
                    {"eval_time": f"{m}m", "alertname": "WALArchiveErrors", "exp_alerts": []} for m in range(21)
                ],
            }
        ],
    }
    checked = subprocess.run(
        [require_binary("promtool"), "test", "rules", str(write_yaml(tmp_path / "silent.test.yaml", test))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    now = time.time()
    with (
        victoria_metrics(tmp_path / "vm") as vm,
        alertmanager(tmp_path / "am", {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}) as am,
    ):
        # 10 minutes of history and 10 to come (VictoriaMetrics answers at the query's time, so
        # samples stamped later stay out of each evaluation's window until their time)
        vm.import_samples(
            samples("pg_stat_archiver_failed_count", series, [(now + s, 3) for s in range(-600, 600, 15)])
        )
        with vmalert(tmp_path / "vmalert", [generated, rewritten], vm.url, am.url) as rules:
            firing = wait_for(
                "vmalert to fire the generated WALArchiveErrors",
                lambda: [a for a in rules.alerts() if a["state"] == "firing"],
                30,
            )
            start = rules.evaluations()
            wait_for("ten more evaluations", lambda: rules.evaluations() >= start + 20, 30)
            active = rules.alerts()
            received = wait_for(
                "Alertmanager to receive it",
                lambda: [a for a in am.alerts() if a["labels"].get("alertname") == "WALArchiveErrors"],
                30,
            )
    assert [a["labels"]["variant"] for a in firing] == ["generated"]
    assert [a["labels"]["variant"] for a in active] == ["generated"]  # the rewrite never went pending
    assert [a["labels"]["variant"] for a in received] == ["generated"]
    labels = received[0]["labels"]
    assert "alertgroup" not in labels and "__name__" not in labels, labels
    assert float(firing[0]["value"]) == 3  # three "failures" out of a counter that never moved


@pytest.mark.servers
@pytest.mark.timeout(180)
@pytest.mark.tools("victoria-metrics", "vmalert", "alertmanager", "prometheus")
def test_rig_side_by_side_on_one_exporter(prod_tree: dict[str, str], tmp_path: Path) -> None:
    """One exporter stand-in exposing pg_stat_archiver_failed_count 3, scraped every second by a real
    Prometheus (2.x, evaluating the generated WALArchiveErrors) and by VictoriaMetrics' own scraper
    (vmalert evaluating the generated rule and its increase_prometheus() rewrite), both sending to one
    Alertmanager: vmalert's generated rule fires, Prometheus and the rewrite stay silent. Then the
    exporter stops exposing the series: both scrapers write staleness markers, and absent() turns
    true on both within seconds, not after a 5m lookback."""
    exposition = Exposition("# TYPE pg_stat_archiver_failed_count counter\npg_stat_archiver_failed_count 3\n")
    generated = write_yaml(tmp_path / "generated.rules.yaml", _wal_group(prod_tree, "generated"))
    rewritten = write_yaml(tmp_path / "rewritten.rules.yaml", _wal_group(prod_tree, "rewritten", increase_prometheus))
    selector = 'pg_stat_archiver_failed_count{job="checkout-orders-db"}'
    with side_by_side(tmp_path, "checkout-orders-db", exposition, [generated], [generated, rewritten]) as rig:
        wait_for("Prometheus to scrape", lambda: rig.prom.query(selector), 30)
        firing = wait_for(
            "vmalert to fire the generated WALArchiveErrors",
            lambda: [a for a in rig.rules.alerts() if a["state"] == "firing"],
            30,
        )
        # Prometheus evaluates the same rule on the same samples every second meanwhile
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert rig.prom.firing("WALArchiveErrors") == []
            time.sleep(0.5)
        wal = next(r for r in rig.prom.rules() if r.get("name") == "WALArchiveErrors")
        assert wal["health"] == "ok" and wal["state"] == "inactive", wal
        active = rig.rules.alerts()
        received = wait_for(
            "Alertmanager to receive vmalert's alert",
            lambda: [a for a in rig.am.alerts() if a["labels"].get("alertname") == "WALArchiveErrors"],
            30,
        )

        exposition.body = ""
        started = time.monotonic()
        wait_for("Prometheus to see the series gone", lambda: rig.prom.query(f"absent({selector})"), 20)
        prom_absent = time.monotonic() - started
        wait_for("VictoriaMetrics to see the series gone", lambda: rig.vm.query(f"absent({selector})", time.time()), 20)
        vm_absent = time.monotonic() - started

    assert [a["labels"]["variant"] for a in firing] == ["generated"]
    assert [a["labels"]["variant"] for a in active] == ["generated"]
    assert [a["labels"]["variant"] for a in received] == ["generated"]
    assert "/vmalert/alert?" in received[0]["generatorURL"], received[0]["generatorURL"]  # not Prometheus
    assert prom_absent < 10 and vm_absent < 10, (prom_absent, vm_absent)


@pytest.mark.servers
@pytest.mark.timeout(180)
@pytest.mark.tools("victoria-metrics", "vmalert", "alertmanager", "prometheus")
def test_rig_side_by_side_absent_5xx_then_blip(prod_tree: dict[str, str], tmp_path: Path) -> None:
    """checkout serves 2xx only (no 5xx series at all), then one 5xx request: the 5xx series appears
    at 1 and stays. Both engines evaluate checkout's generated availability SLI group every second.
    The recorded slo:sli_errors:rate5m reads 0 before and after the blip on both (rate() never counts
    a series' first sample, on either engine), and the ratio stays 0; MetricsQL's increase() of the
    same series reads the blip as one error where Prometheus reads 0, which is why the generated SLIs
    must stay on rate()."""
    rules = yaml.safe_load(prod_tree[f"{RULEFILES}/checkout.rules.yaml"])
    sli = next(g for g in rules["groups"] if g["name"] == "obskit/checkout/availability/sli")
    sli_file = write_yaml(tmp_path / "sli.rules.yaml", {"groups": [sli]})
    started = time.monotonic()

    def ok_only() -> str:
        return f'http_requests_total{{code="200"}} {int((time.monotonic() - started) * 50)}\n'

    class Growing(Exposition):
        blip = False

        def text(self) -> str:
            return ok_only() + ('http_requests_total{code="500"} 1\n' if self.blip else "")

    exposition = Growing()
    errors = 'slo:sli_errors:rate5m{slo="availability",service="checkout"}'
    ratio = 'slo:sli_error:ratio_rate5m{slo="availability",service="checkout"}'
    with side_by_side(tmp_path, "checkout", exposition, [sli_file], [sli_file]) as rig:
        wait_for("Prometheus to record the ratio", lambda: rig.prom.query(ratio), 30)
        wait_for("vmalert to record the ratio", lambda: rig.vm.query(ratio, time.time()), 30)
        exposition.blip = True
        wait_for(
            "both to scrape the 5xx series",
            lambda: (
                rig.prom.query('http_requests_total{code="500"}')
                and rig.vm.query('http_requests_total{code="500"}', time.time())
            ),
            30,
        )
        time.sleep(5)  # five evaluations on each engine with the 5xx series in the window
        prom = {e: [float(s["value"][1]) for s in rig.prom.query(e)] for e in (errors, ratio)}
        vm = {e: [float(s["value"][1]) for s in rig.vm.query(e, time.time())] for e in (errors, ratio)}
        blip = 'increase(http_requests_total{code="500"}[5m])'
        increase = (
            [float(s["value"][1]) for s in rig.prom.query(blip)],
            [float(s["value"][1]) for s in rig.vm.query(blip, time.time())],
        )

    assert prom == {errors: [0.0], ratio: [0.0]}, prom
    assert vm == {errors: [0.0], ratio: [0.0]}, vm
    assert increase == ([0.0], [1.0]), increase
