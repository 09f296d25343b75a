"""VictoriaMetrics' side of the rule targets, for real: a single-node VictoriaMetrics and vmalert
started on 127.0.0.1 with free ports and always stopped, `vmalert -dryRun`, and vmalert-tool
running promtool's unit tests translated to its format. The programs are the ones
scripts/install-victoriametrics unpacks into .tools/victoria-metrics (tests/servers.py TOOLS)."""

from __future__ import annotations

import fcntl
import http.server
import json
import re
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.servers import (
    VICTORIA_METRICS,
    VMALERT,
    VMALERT_TOOL,
    Alertmanager,
    Prometheus,
    alertmanager,
    free_port,
    http_json,
    process,
    prometheus,
    require_binary,
    serving,
    wait_for,
)

# vmalert-tool 1.112 serves its embedded storage on :8880 (all interfaces, not configurable) and keeps
# it in $TMPDIR/vmalert-unittest: runs take turns on this lock, each with a TMPDIR of its own
VMALERT_TOOL_LOCK = Path(tempfile.gettempdir()) / "obskit-vmalert-tool.lock"


class VictoriaMetrics:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def import_samples(self, lines: Iterable[str]) -> None:
        """Prometheus text lines with millisecond timestamps (`name{a="b"} 3 1700000000000`), made
        visible to queries at once."""
        request = urllib.request.Request(
            f"{self.url}/api/v1/import/prometheus", data="\n".join(lines).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204, response.status
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10):
            pass

    def query(self, expr: str, at: float, step: str = "5m") -> list[dict[str, Any]]:
        """The instant query as vmalert sends it: `step` is vmalert's -datasource.queryStep (5m), which
        is also how far back a bare selector looks."""
        params = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}", "step": step, "nocache": "1"})
        body = http_json(f"{self.url}/api/v1/query?{params}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


@contextmanager
def victoria_metrics(
    workdir: Path, extra_args: tuple[str, ...] = (), startup_timeout: float = 30
) -> Iterator[VictoriaMetrics]:
    """Single-node VictoriaMetrics keeping any timestamp (-retentionPeriod=100y), showing samples as soon
    as they are written (-search.latencyOffset=0s, no response cache): tests import, then query.
    `extra_args` e.g. -promscrape.config=FILE, to scrape as Prometheus does."""
    binary = require_binary(VICTORIA_METRICS)
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        binary,
        f"-storageDataPath={workdir / 'vm-data'}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-retentionPeriod=100y",
        "-search.latencyOffset=0s",
        "-search.disableCache",
        "-loggerLevel=WARN",
        *extra_args,
    ]
    log = workdir / "victoria-metrics.log"
    with process(args, log, cwd=workdir) as proc:
        server = VictoriaMetrics(f"http://127.0.0.1:{port}", log)
        _wait_healthy("victoria-metrics", proc, log, server.url, startup_timeout)
        yield server


class VMAlert:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing), in Prometheus' /api/v1/alerts shape."""
        result: list[dict[str, Any]] = http_json(f"{self.url}/api/v1/alerts")["data"]["alerts"]
        return result

    def rules(self) -> list[dict[str, Any]]:
        groups = http_json(f"{self.url}/api/v1/rules")["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def evaluations(self) -> int:
        """How many times the groups have been evaluated so far (the sum over groups)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:
            text = response.read().decode()
        return sum(int(float(m)) for m in re.findall(r"^vmalert_iteration_total\{[^}]*\} (\S+)$", text, re.M))


@contextmanager
def vmalert(
    workdir: Path,
    rule_files: list[Path],
    datasource: str,
    notifier: str | None = None,
    interval: str = "1s",
    extra_args: tuple[str, ...] = (),
    startup_timeout: float = 30,
) -> Iterator[VMAlert]:
    """vmalert evaluating the rule files against `datasource` every `interval` (groups without their own
    interval) and writing recordings back to it, sending to the Alertmanager at `notifier`. Its defaults that part from Prometheus are
    turned off: -rule.evalDelay=0s (it queries 30s in the past by default, to match VictoriaMetrics'
    -search.latencyOffset) and -disableAlertgroupLabel (it adds an `alertgroup` label to every alert)."""
    binary = require_binary(VMALERT)
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        binary,
        *(f"-rule={path}" for path in rule_files),
        f"-datasource.url={datasource}",
        # recording rules' results, and the alerts' state (ALERTS_FOR_STATE), written back to the datasource
        f"-remoteWrite.url={datasource}",
        "-remoteWrite.flushInterval=1s",
        *([f"-notifier.url={notifier}"] if notifier else ["-notifier.blackhole"]),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-evaluationInterval={interval}",
        "-rule.evalDelay=0s",
        "-disableAlertgroupLabel",
        "-loggerLevel=WARN",
        *extra_args,
    ]
    log = workdir / "vmalert.log"
    with process(args, log, cwd=workdir) as proc:
        server = VMAlert(f"http://127.0.0.1:{port}", log)
        _wait_healthy("vmalert", proc, log, server.url, startup_timeout)
        yield server


def _wait_healthy(name: str, proc: subprocess.Popen[bytes], log: Path, url: str, timeout: float) -> None:
    import pytest

    def healthy() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)

    wait_for(f"{name} to be healthy", healthy, timeout)


def dry_run(rule_file: Path) -> subprocess.CompletedProcess[str]:
    """`vmalert -dryRun`: parses the file and every expression as MetricsQL; exit status 0 when it takes it."""
    binary = require_binary(VMALERT)
    return subprocess.run(
        [binary, "-dryRun", f"-rule={rule_file}", "-loggerLevel=ERROR"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def vmalert_tool_test(promtool_test: dict[str, Any]) -> dict[str, Any]:
    """A promtool test file in vmalert-tool's format: `promql_expr_test` is `metricsql_expr_test`; the rest
    (rule_files, evaluation_interval, group_eval_order, input_series notation including `_` and `stale`,
    alert_rule_test) reads the same when vmalert-tool runs with -disableAlertgroupLabel (otherwise each
    alert_rule_test needs a `groupname`)."""
    converted = json.loads(json.dumps(promtool_test))
    for group in converted.get("tests", []):
        if "promql_expr_test" in group:
            group["metricsql_expr_test"] = group.pop("promql_expr_test")
    result: dict[str, Any] = converted
    return result


def vmalert_tool(test_files: list[Path], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`vmalert-tool unittest -disableAlertgroupLabel` on the files; exit status 0 when every case passes.
    Runs one at a time across processes (its port is fixed), in a private TMPDIR."""
    binary = require_binary(VMALERT_TOOL)
    with open(VMALERT_TOOL_LOCK, "a") as lock, tempfile.TemporaryDirectory(prefix="obskit-vmalert-tool-") as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return subprocess.run(
                [binary, "unittest", "-disableAlertgroupLabel", "-files", *map(str, test_files)],
                capture_output=True,
                text=True,
                timeout=timeout,
                env={"PATH": "/usr/bin:/bin", "TMPDIR": tmp},
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def failures(output: str) -> list[tuple[str, str]]:
    """(alertname or expression, evaluation time) of each failed case in vmalert-tool's output."""
    alerts = re.findall(r"alertname: (\S+), time: (\S+),", output)
    exprs = re.findall(r'expr: "(.*)", time: (\S+),', output)
    return [*alerts, *exprs]


# The VictoriaMetrics flavour of a counter increase: only the samples inside the window, as Prometheus
# (MetricsQL's increase() counts a series' first sample from 0, and after a gap longer than the window
# counts the whole value again); see docs/metricsql.md
_INCREASE = re.compile(r"\bincrease\(")


def increase_prometheus(expr: str) -> str:
    return _INCREASE.sub("increase_prometheus(", expr)


def rate_where_positive(expr: str) -> str:
    """The portable rewrite, the same text for both engines: where an increase is only compared with 0
    (`> 0`, no other threshold on an increase), rate() has the same sign on Prometheus and does not
    count a first sample on MetricsQL. Tests only: the generator knows which comparison an increase
    feeds, this regex knows the generated shapes."""
    if re.search(r">=\s*[1-9]", expr):
        return expr
    return _INCREASE.sub("rate(", expr)


def rewrite_rules(rule_file: dict[str, Any], rewrite: Callable[[str], str]) -> dict[str, Any]:
    """The rule file with `rewrite(expr)` applied to every rule's expression."""
    converted: dict[str, Any] = json.loads(json.dumps(rule_file))
    for group in converted["groups"]:
        for rule in group["rules"]:
            rule["expr"] = rewrite(rule["expr"])
    return converted


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def samples(name: str, labels: dict[str, str], values: Iterable[tuple[float, float]]) -> list[str]:
    """Import lines for one series: (unix seconds, value) pairs."""
    body = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return [f"{name}{{{body}}} {value!r} {round(at * 1000)}" for at, value in values]


class Exposition:
    """What the exporter stand-in serves: `body`, which a test changes as it goes (or a subclass's
    `text()`, computed at each scrape)."""

    def __init__(self, body: str = "") -> None:
        self.body = body

    def text(self) -> str:
        return self.body


class SideBySide:
    def __init__(self, prom: Prometheus, vm: VictoriaMetrics, rules: VMAlert, am: Alertmanager) -> None:
        self.prom = prom
        self.vm = vm
        self.rules = rules
        self.am = am


@contextmanager
def side_by_side(
    workdir: Path,
    job: str,
    exposition: Exposition,
    prometheus_rules: list[Path],
    vmalert_rules: list[Path],
) -> Iterator[SideBySide]:
    """One exporter stand-in (an HTTP handler serving `exposition.text()`) scraped every second under
    `job` by a real Prometheus 2.x, which evaluates `prometheus_rules` every second, and by
    VictoriaMetrics' own scraper, which vmalert reads to evaluate `vmalert_rules` every second;
    both send to one real Alertmanager."""

    class Exporter(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exposition.text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Exporter) as target:
        scrape = {"job_name": job, "static_configs": [{"targets": [target]}]}
        scrape_file = write_yaml(
            workdir / "scrape.yaml", {"global": {"scrape_interval": "1s"}, "scrape_configs": [scrape]}
        )
        (workdir / "prom").mkdir(parents=True)
        for path in prometheus_rules:
            (workdir / "prom" / path.name).write_text(path.read_text())
        with (
            alertmanager(workdir / "am", {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}) as am,
            victoria_metrics(workdir / "vm", (f"-promscrape.config={scrape_file}",)) as vm,
            vmalert(workdir / "vmalert", vmalert_rules, vm.url, am.url) as rules,
        ):
            config = {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [path.name for path in prometheus_rules],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am.url.removeprefix("http://")]}]}]},
                "scrape_configs": [scrape],
            }
            with prometheus(workdir / "prom", config) as prom:
                yield SideBySide(prom, vm, rules, am)
