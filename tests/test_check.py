"""`obskit check` against a real Prometheus (2.x and 3.x) scraping prometheus-client apps on
127.0.0.1: the bundled example holds in a healthy world, and every check finds the problem planted
for it in a broken one. Unreachable, slow and malformed endpoints, and credentials, too."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from obskit.cli import main
from obskit.pipeline import load_plan, output_tree
from tests.conftest import EXAMPLES
from tests.servers import SERVER_VERSION_PARAMS, VERSIONS, prometheus, serving, wait_for

pytestmark = pytest.mark.servers


def checkout(buckets: tuple[float, ...]) -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter("http_requests", "Requests.", ["code"], registry=registry)
    requests.labels("200").inc(1000)
    requests.labels("500").inc(2)
    latency = Histogram("http_request_duration_seconds", "Latency.", buckets=buckets, registry=registry)
    latency.observe(0.12)
    return registry


def catalog(counter: bool) -> CollectorRegistry:
    registry = CollectorRegistry()
    if counter:
        Counter("grpc_server_handled", "RPCs.", ["grpc_code"], registry=registry).labels("OK").inc(50)
    else:  # a "_total" that is really a gauge
        Gauge("grpc_server_handled_total", "RPCs.", ["grpc_code"], registry=registry).labels("OK").set(50)
    # another service's 5xx series, which an errors selector without `job` would pick up
    Counter("http_requests", "Requests.", ["code"], registry=registry).labels("500").inc(1)
    return registry


def indexer(processed: bool) -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("indexer_documents_failed", "Failed.", registry=registry).inc(1)
    if processed:
        Counter("indexer_documents_processed", "Processed.", registry=registry).inc(100)
    return registry


def dr_inputs(complete: bool) -> CollectorRegistry:
    """What Velero, postgres_exporter and the Pushgateway expose for the example's backups."""
    registry = CollectorRegistry()
    velero = Gauge("velero_backup_last_successful_timestamp", "Velero.", ["schedule"], registry=registry)
    schedules = ["checkout", "checkout-daily", "checkout-dr", "catalog-api", "catalog-api-daily"]
    for schedule in schedules if complete else schedules[:-1]:
        velero.labels(schedule).set(time.time())
    # postgres_exporter's name (a counter without _total, which prometheus-client would add)
    Gauge("pg_stat_archiver_archived_count", "Archived.", registry=registry).set(3)
    Gauge("pg_stat_archiver_last_archive_age", "Age.", registry=registry).set(20)
    pushed = ["obskit_backup_last_success_timestamp_seconds", "obskit_restore_drill_last_success_timestamp_seconds"]
    for name in pushed if complete else pushed[:1]:
        Gauge(name, "Pushed.", ["service", "datastore"], registry=registry).labels("checkout", "orders-db").set(1)
    return registry


def export_inputs() -> CollectorRegistry:
    """What catalog-export (a batch job, scrape: false) pushes to the Pushgateway: its last success."""
    registry = CollectorRegistry()
    gauge = Gauge("catalog_export_last_success_timestamp_seconds", "Last success.", ["job"], registry=registry)
    gauge.labels("catalog-export").set(time.time() - 3600)
    return registry


def probe_inputs() -> CollectorRegistry:
    """What the blackbox_exporter answers a Probe's scrape with: the endpoint is up."""
    registry = CollectorRegistry()
    Gauge("probe_success", "Probe.", registry=registry).set(1)
    return registry


def standby_inputs() -> CollectorRegistry:
    """What the DR standby's postgres_exporter exposes with obskit's standby queries."""
    registry = CollectorRegistry()
    Gauge("obskit_standby_last_replay_timestamp_seconds", "Replayed.", registry=registry).set(time.time())
    Gauge("obskit_standby_in_recovery", "Standby.", registry=registry).set(1)
    return registry


def mongodb_inputs() -> CollectorRegistry:
    """What the MongoDB jobs push (with their engine) and mongodb_exporter's oplog window."""
    registry = CollectorRegistry()
    pushed = ["obskit_backup_last_success_timestamp_seconds", "obskit_restore_drill_last_success_timestamp_seconds"]
    for name in pushed:
        gauge = Gauge(name, "Pushed.", ["service", "datastore", "engine"], registry=registry)
        gauge.labels("search-indexer", "index-db", "mongodb").set(1)
    Gauge("mongodb_mongod_replset_oplog_head_timestamp", "Head.", registry=registry).set(time.time())
    Gauge("mongodb_mongod_replset_oplog_tail_timestamp", "Tail.", registry=registry).set(time.time() - 86_400)
    return registry


class Exposition(http.server.BaseHTTPRequestHandler):
    registries: ClassVar[dict[str, CollectorRegistry]] = {}

    def do_GET(self) -> None:
        registry = self.registries.get(self.path)
        if registry is None:
            self.send_error(404)
            return
        body = generate_latest(registry)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def world(healthy: bool) -> dict[str, CollectorRegistry]:
    buckets = (0.1, 0.3, 0.5, 1.0) if healthy else (0.1, 0.25, 0.5, 1.0)
    return {
        "/empty": CollectorRegistry(),
        "/checkout": checkout(buckets),
        "/catalog": catalog(counter=healthy),
        "/indexer": indexer(processed=healthy),
        "/dr": dr_inputs(complete=healthy),
        "/mongodb": mongodb_inputs(),
        "/export": export_inputs(),
        "/probe": probe_inputs(),
        "/standby": standby_inputs(),
    }


def prometheus_config(address: str, rule_files: list[str], healthy: bool) -> dict[str, Any]:
    def job(name: str, path: str, interval: str = "1s", **extra: Any) -> dict[str, Any]:
        config = {"job_name": name, "metrics_path": path, "scrape_interval": interval, **extra}
        return {**config, "static_configs": [{"targets": [address]}]}

    jobs = [
        job("checkout", "/checkout"),
        job("catalog-api", "/catalog"),
        job("checkout-orders-db", "/dr"),
        job("pushgateway", "/dr", honor_labels=True),
        job("mongodb-pushgateway", "/mongodb", honor_labels=True),
        job("export-pushgateway", "/export", honor_labels=True),
        job("index-db-exporter", "/mongodb"),
        # checkout's failover: its two Probes' jobs as the operator names them, and the DR standby's exporter
        job("probe/shop/checkout-health-0", "/probe"),
        job("checkout-orders-db-standby", "/standby"),
    ]
    if healthy:  # unhealthy: the DR region's Probe is gone
        jobs.append(job("probe/shop/checkout-health-1", "/probe"))
    if healthy:
        jobs.append(job("search-indexer", "/indexer"))
    else:  # one more catalog-api target, scraped too rarely for a 5m rate
        relabel = [
            {"target_label": "job", "replacement": "catalog-api"},
            {"target_label": "instance", "replacement": "catalog-api-slow"},
        ]
        jobs.append(job("catalog-api-slow", "/empty", interval="2m", scrape_timeout="1s", relabel_configs=relabel))
    external = {"cluster": "prod-eu-1" if healthy else "prod-us-1", "replica": "a"}
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "external_labels": external},
        "rule_files": rule_files,
        "scrape_configs": jobs,
    }


def write_tree(directory: Path) -> Path:
    for path, content in output_tree(load_plan(EXAMPLES, "prod")).items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return directory


@contextmanager
def example_world(tmp_path: Path, version: str, healthy: bool) -> Iterator[tuple[str, Path]]:
    """A Prometheus for the bundled example's prod: healthy, or with a problem for every check."""
    tree = write_tree(tmp_path / "out")
    rules = sorted(str(p) for p in (tree / "prometheus/rulefiles").glob("*.rules.yaml"))
    if not healthy:
        rules = [path for path in rules if "catalog-api" not in path]  # not deployed
        drifted = tmp_path / "search-indexer.rules.yaml"  # deployed from an older tree
        text = Path(next(p for p in rules if "search-indexer" in p)).read_text()
        drifted.write_text(text.replace("severity: warning", "severity: info", 1))
        ghost = tmp_path / "ghost.rules.yaml"  # a group no tree has, and whose rule cannot evaluate
        ghost.write_text(
            yaml.safe_dump(
                {"groups": [{"name": "obskit/ghost/extra", "rules": [{"record": "ghost:up", "expr": "up * on() up"}]}]}
            )
        )
        linked = tmp_path / "checkout.rules.yaml"  # deployed before runbooks became a page per service
        text = Path(next(p for p in rules if "checkout" in p)).read_text()
        linked.write_text(text.replace("/checkout.md#servicedown", "/checkout/ServiceDown.md", 1))
        moved = {"search-indexer": drifted, "checkout": linked}
        rules = [str(next((v for k, v in moved.items() if k in p), p)) for p in rules] + [str(ghost)]
    Exposition.registries = world(healthy)
    with serving(Exposition) as address:
        retention = ("--storage.tsdb.retention.time=35d",) if healthy else ()
        config = prometheus_config(address, rules, healthy)
        with prometheus(tmp_path, config, extra_args=retention, binary=VERSIONS[version][0]) as server:
            fast = [job for job in config["scrape_configs"] if job["scrape_interval"] == "1s"]
            wait_for(
                "two samples of every 1s job, for rate()",
                lambda: len(server.query("count_over_time(up[1m]) >= 2")) >= len(fast),
                30,
            )
            if not healthy:  # the ghost rule's error shows once its group has run
                wait_for(
                    "the ghost rule's first evaluation",
                    lambda: any(rule["name"] == "ghost:up" and rule["health"] == "err" for rule in server.rules()),
                    30,
                )
            yield server.url, tree


def check(url: str, *extra: str) -> Any:
    return CliRunner().invoke(main, ["check", "--env", "prod", "--spec", str(EXAMPLES), "--prometheus", url, *extra])


@pytest.mark.timeout(240)
@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
def test_the_example_holds_against_a_healthy_prometheus(tmp_path: Path, version: str) -> None:
    with example_world(tmp_path, version, healthy=True) as (url, tree):
        result = check(url, "--out", str(tree))
        assert result.exit_code == 0, result.output
        assert result.output == f"every check holds: 4 services, 5 SLOs against {url}\n"
        data = json.loads(check(url, "--json").output)
        assert (data["ok"], data["findings"]) == (True, [])


EXPECTED = {
    (
        "checkout",
        "latency",
        "threshold bucket exists",
    ): "no le bucket at 0.3s; the histogram has 0.1, 0.25, 0.5, 1, +Inf",
    ("catalog-api", "availability", "counters are counters"): "grpc_server_handled_total is declared a gauge",
    ("catalog-api", "-", "scrape interval"): "targets are scraped every 2m",
    ("search-indexer", "-", "the job has targets"): "no active target has job=search-indexer",
    ("search-indexer", "freshness", "raw queries return data"): "total_query returns no data over 5m",
    ("(prometheus)", "-", "retention covers the SLO windows"): "Prometheus keeps 15d (15d), 15d less than the 30d",
    ("(prometheus)", "-", "external labels"): 'external label cluster="prod-us-1" and the environment\'s',
    ("checkout", "orders-db", "DR inputs exist"): "no series obskit_restore_drill_last_success_timestamp_seconds",
    ("checkout", "-", "DR inputs exist"): 'no series probe_success{job="probe/shop/checkout-health-1"}',
    (
        "catalog-api",
        "-",
        "DR inputs exist",
    ): 'no series velero_backup_last_successful_timestamp{schedule="catalog-api-daily"}',
    ("catalog-api", "obskit/catalog-api/availability/alerts", "deployed rules"): "group not loaded",
    ("ghost", "obskit/ghost/extra", "deployed rules"): "group loaded but not in the tree",
    ("ghost", "obskit/ghost/extra", "rules evaluate"): "ghost:up:",
}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
def test_every_check_finds_its_problem(tmp_path: Path, version: str) -> None:
    with example_world(tmp_path, version, healthy=False) as (url, tree):
        result = check(url, "--out", str(tree), "--json")
        table = check(url, "--out", str(tree))
    assert result.exit_code == 1, result.output
    findings = json.loads(result.output)["findings"]
    found = {(f["service"], f["subject"], f["check"]): f["found"] for f in findings}
    for key, text in EXPECTED.items():
        assert key in found, (key, sorted(found))
        assert text in found[key], (key, found[key])
    drifted = [f for f in findings if f["check"] == "deployed rules" and f["service"] == "search-indexer"]
    assert drifted and all("differ" in f["found"] for f in drifted)
    linked = [
        (f["subject"], f["found"]) for f in findings if f["check"] == "deployed rules" and f["service"] == "checkout"
    ]
    assert linked == [
        (
            "obskit/checkout/platform",
            "the loaded rules differ from the tree's (names, expressions, for:, labels or annotations)",
        )
    ]  # only the group whose runbook_url is the old one
    assert table.exit_code == 1
    assert table.output.splitlines()[0].split() == ["service", "slo/datastore", "check", "found", "what", "to", "do"]
    assert "set the threshold to 0.25s, or add a 0.3 bucket to the histogram" in table.output


SPEC_MISTAKES = {
    "errors wider than the total": (
        """errors: 'http_requests_total{job="checkout",code=~"5.."}'""",
        """errors: 'http_requests_total{code=~"5.."}'""",
        "errors are a subset of the total",
        'the errors selector matches 1 series the total does not, e.g. http_requests_total{code="500"',
    ),
    "a misspelt metric": (
        """total: 'http_requests_total{job="checkout"}'""",
        """total: 'http_request_total{job="checkout"}'""",
        "selector matches series",
        'the total selector http_request_total{job="checkout"} matches no series in the last hour; no series is '
        "named http_request_total at all",
    ),
}


@pytest.mark.tools("prometheus")
@pytest.mark.timeout(120)
@pytest.mark.parametrize("mistake", sorted(SPEC_MISTAKES))
def test_a_selector_the_data_does_not_bear_out_is_found(tmp_path: Path, mistake: str) -> None:
    """The healthy world, and the spec with one mistake in checkout's availability SLI."""
    written, wrong, check_name, found = SPEC_MISTAKES[mistake]
    spec_dir = tmp_path / "spec"
    shutil.copytree(EXAMPLES, spec_dir)
    payments = spec_dir / "payments.yaml"
    text = payments.read_text()
    assert written in text
    payments.write_text(text.replace(written, wrong))
    with example_world(tmp_path, "2.x", healthy=True) as (url, _):
        result = CliRunner().invoke(
            main, ["check", "--env", "prod", "--spec", str(spec_dir), "--prometheus", url, "--json"]
        )
    assert result.exit_code == 1, result.output
    (finding,) = json.loads(result.output)["findings"]
    assert (finding["service"], finding["subject"], finding["check"]) == ("checkout", "availability", check_name)
    assert found in finding["found"]


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(3)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class NotTheAPI(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>a login page</html>")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.timeout(60)
def test_an_unreachable_slow_or_wrong_endpoint_exits_2_naming_the_url() -> None:
    url = closed_port()
    result = check(url)
    assert result.exit_code == 2
    assert f"obskit: cannot check against Prometheus: {url}/api/v1/targets?state=active: " in result.output
    with serving(Slow) as address:
        started = time.monotonic()
        result = check(f"http://{address}", "--timeout", "0.5")
        assert result.exit_code == 2 and "timed out" in result.output
        assert time.monotonic() - started < 3
    with serving(NotTheAPI) as address:
        result = check(f"http://{address}")
        assert result.exit_code == 2
        assert "not the Prometheus API (the answer is not JSON)" in result.output


@pytest.mark.timeout(60)
def test_credentials_come_from_a_file_or_the_environment(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t\n")
    NotTheAPI.seen = []
    with serving(NotTheAPI) as address:
        check(f"http://{address}", "--bearer-token-file", str(token))
        CliRunner(env={"OBSKIT_PROMETHEUS_PASSWORD": "pw"}).invoke(
            main,
            [
                "check",
                "--env",
                "prod",
                "--spec",
                str(EXAMPLES),
                "--prometheus",
                f"http://{address}",
                "--basic-auth-user",
                "obskit",
            ],
        )
    assert NotTheAPI.seen == ["Bearer s3cr3t", "Basic b2Jza2l0OnB3"]
    missing = check("http://127.0.0.1:1", "--basic-auth-user", "obskit")
    assert missing.exit_code == 2
    assert "--basic-auth-user needs a password: --basic-auth-password-file or $OBSKIT_PROMETHEUS_PASSWORD" in (
        missing.output
    )


@pytest.mark.tools("prometheus")
@pytest.mark.timeout(240)
def test_a_thousand_services_ask_prometheus_once_per_metric(tmp_path: Path) -> None:
    """Series are fetched per metric name and matched here: the request count does not grow with
    the number of services, and the check ends well within its time limit."""
    from benchmarks.synthetic import write_spec as synthetic_spec
    from obskit.verify.live.api import PrometheusAPI
    from obskit.verify.live.checks import all_checks

    plan = load_plan(synthetic_spec(tmp_path / "spec", 1000), "prod")
    requests: list[str] = []

    class Counting(PrometheusAPI):
        def get(self, path: str, **params: Any) -> Any:
            requests.append(path)
            return super().get(path, **params)

    with example_world(tmp_path, "2.x", healthy=True) as (url, _):
        started = time.monotonic()
        findings = all_checks(Counting(url, {}, 10, 120), plan, None)
        elapsed = time.monotonic() - started
    assert len(findings) >= 1000  # nothing of theirs is scraped here
    metrics = {"http_requests_total", "http_request_duration_seconds_bucket", "velero_backup_last_successful_timestamp"}
    metrics |= {"pg_stat_archiver_archived_count", "obskit_backup_last_success_timestamp_seconds"}
    metrics |= {"obskit_restore_drill_last_success_timestamp_seconds"}
    assert requests.count("/api/v1/series") <= len(metrics)
    assert len(requests) <= len(metrics) + 6, sorted(set(requests))
    assert elapsed < 60
