"""The generated rules in a real Prometheus (Debian's), scraping a real prometheus-client app."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.servers import SERVER_VERSION_PARAMS, VERSIONS, free_port, http_json, prometheus, wait_for

# real servers started on 127.0.0.1: `make test` runs these, `make test-fast` leaves them out
pytestmark = pytest.mark.servers

ERROR_RATIO = 0.1  # availability: one request in ten fails
SLOW_RATIO = 0.2  # latency: one request in five takes longer than the 300ms threshold

SPEC = """\
apiVersion: obskit/v1
defaults:
  runbook_url: "https://runbooks.example.com/{service}/{alert}"
tiers:
  e2e: {rto: 15m, rpo: 5m, scrape_interval: 1s, slo_objective: 99, pages: true,
        restore_drill_interval: 7d, retention: 7d, platform_alert_for: 3s}
environments:
  e2e: {labels: {env: e2e}}
services:
  shop:
    namespace: shop
    tier: e2e
    team: payments
    selector: {app: shop}
    metrics: {port: metrics}
    slos:
      availability:
        errors: 'http_requests_total{job="shop",code=~"5.."}'
        total: 'http_requests_total{job="shop"}'
      latency:
        objective: 95
        latency: {histogram: 'http_request_duration_seconds{job="shop"}', threshold: 300ms}
"""


class App:
    """A service instrumented with prometheus-client, serving requests at fixed ratios."""

    def __init__(self, error_ratio: float = ERROR_RATIO) -> None:
        self.error_ratio = error_ratio
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "Requests.", ["code"], registry=self.registry)
        self.duration = Histogram(
            "http_request_duration_seconds", "Latency.", buckets=(0.1, 0.3, 1.0), registry=self.registry
        )
        self.port = free_port()
        self.stopped = threading.Event()

    def serve(self) -> None:
        self.server, _ = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        threading.Thread(target=self._traffic, daemon=True).start()

    def _traffic(self) -> None:
        while not self.stopped.wait(0.05):
            for i in range(10):
                # as real services do, the code="500" series exists only once a request failed
                self.requests.labels(code="500" if i < 10 * self.error_ratio else "200").inc()
                self.duration.observe(0.5 if i < 10 * SLOW_RATIO else 0.05)

    def stop(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def app() -> Iterator[App]:
    application = App()
    application.serve()
    yield application
    if not application.stopped.is_set():
        application.stop()


def _value(server, expr: str) -> float | None:
    result = server.query(expr)
    return float(result[0]["value"][1]) if result else None


def _rules_and_config(tmp_path: Path, app: App) -> tuple[dict[str, str], dict[str, Any]]:
    """The generated tree, its rule file written, and a Prometheus config scraping the app."""
    (tmp_path / "obskit.yaml").write_text(SPEC)
    tree = generate_tree(load_plan(tmp_path / "obskit.yaml", "e2e"))
    (tmp_path / "shop.rules.yaml").write_text(tree["prometheus/rulefiles/shop.rules.yaml"])
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["shop.rules.yaml"],
        "scrape_configs": [{"job_name": "shop", "static_configs": [{"targets": [f"127.0.0.1:{app.port}"]}]}],
    }
    return tree, config


@pytest.mark.timeout(600)
@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
def test_rules_evaluate_in_a_real_prometheus(tmp_path: Path, app: App, version: str) -> None:
    tree, config = _rules_and_config(tmp_path, app)
    with prometheus(tmp_path, config, binary=VERSIONS[version][0]) as server:
        availability = 'slo:sli_error:ratio_rate5m{service="shop",slo="availability"}'
        ratio = wait_for("the 5m error ratio to be recorded", lambda: _value(server, availability), 60)
        assert ratio == pytest.approx(ERROR_RATIO, rel=0.02)
        latency = 'slo:sli_error:ratio_rate5m{service="shop",slo="latency"}'
        assert wait_for("the latency ratio", lambda: _value(server, latency), 30) == pytest.approx(SLOW_RATIO, rel=0.02)

        # 10% errors against a 1% budget is a 10x burn: the 6h/30m pair (6x) fires, the 1h/5m (14.4x) does not.
        # The min-errors gate counts failures over the part of the window that has data, which the 2m group
        # first measures on its first run after the 5m rates exist: up to two of its intervals after loading.
        # Each SLO's 2m group runs at its own offset, so the latency SLO's tickets may come first.
        def availability_burning() -> list[dict[str, Any]]:
            return [a for a in server.firing("ErrorBudgetBurn") if a["labels"]["slo"] == "availability"]

        burning = wait_for("availability's ErrorBudgetBurn to fire", availability_burning, 300, interval=1)
        windows = {a["labels"]["long_window"] for a in burning}
        assert "6h" in windows and "1h" not in windows

        # Every rule, the 2m group's too, has evaluated without error; the coverage groups first run
        # at an offset within their 30m interval, so until then they have not evaluated at all.
        def all_evaluated() -> list[dict] | None:
            groups = http_json(f"{server.url}/api/v1/rules")["data"]["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            if any(rule["health"] == "err" or rule.get("lastError") for rule in rules):
                pytest.fail(f"a rule failed to evaluate: {[r for r in rules if r['health'] == 'err']}")
            prompt = [rule for group in groups if group["interval"] < 1800 for rule in group["rules"]]
            return rules if all(rule["health"] == "ok" for rule in prompt) else None

        rules = wait_for("every rule to evaluate with health ok", all_evaluated, 180, interval=2)
        written = yaml.safe_load(tree["prometheus/rulefiles/shop.rules.yaml"])["groups"]
        assert len(rules) == sum(len(group["rules"]) for group in written)
        # The 2m group can be healthy with an empty result when its first run came before the
        # 5m rates existed; its next run, at most 2 minutes on, records the value.
        remaining_query = 'slo:error_budget_remaining:ratio{service="shop",slo="availability"}'
        remaining = wait_for("the remaining budget", lambda: _value(server, remaining_query), 150, interval=2)
        assert remaining == pytest.approx(1 - ERROR_RATIO / 0.01, rel=0.05)

        assert not server.firing("ServiceDown")
        app.stop()
        down = wait_for("ServiceDown to fire once the app stops", lambda: server.firing("ServiceDown"), 60)
        assert down[0]["labels"]["service"] == "shop" and down[0]["labels"]["severity"] == "critical"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
def test_a_service_without_an_error_series_records_no_errors_and_a_full_budget(tmp_path: Path, version: str) -> None:
    """prometheus-client creates the code="500" series on the first failure only: until then the
    recorded error rate is 0 (not absent), so the ratio is 0 and the budget whole."""
    healthy = App(error_ratio=0)
    healthy.serve()
    try:
        _, config = _rules_and_config(tmp_path, healthy)
        with prometheus(tmp_path, config, binary=VERSIONS[version][0]) as server:
            assert server.query('http_requests_total{code="500"}') == []
            availability = 'slo:sli_error:ratio_rate5m{service="shop",slo="availability"}'
            ratio = wait_for("the 5m error ratio to be recorded", lambda: server.query(availability), 60)
            assert float(ratio[0]["value"][1]) == 0
            remaining = 'slo:error_budget_remaining:ratio{service="shop",slo="availability"}'
            budget = wait_for("the remaining budget", lambda: server.query(remaining), 150, interval=2)
            assert float(budget[0]["value"][1]) == 1

            # no availability alert in steady state (latency has its slow requests); a scrape the loaded
            # test machine misses can hold SLIMetricMissing's 3s for: for a moment, which then resolves
            def availability_alerts() -> list[dict[str, Any]]:
                firing = server.firing("ErrorBudgetBurn") + server.firing("SLIMetricMissing")
                return [a for a in firing if a["labels"]["slo"] == "availability"]

            wait_for("no availability alert", lambda: availability_alerts() == [] or None, 30, interval=1)
    finally:
        healthy.stop()


class Exposition:
    """A hand-written text exposition (as an exporter or a non-Go, non-Python client may write it):
    `le` spelled `0.30` and `1`, counters growing with time, 20% of requests over the threshold."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.port = free_port()
        exposition = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                n = int((time.monotonic() - exposition.started) * 100)
                body = "\n".join(
                    [
                        "# TYPE http_request_duration_seconds histogram",
                        f'http_request_duration_seconds_bucket{{le="0.10"}} {n * 6 // 10}',
                        f'http_request_duration_seconds_bucket{{le="0.30"}} {n * 8 // 10}',
                        f'http_request_duration_seconds_bucket{{le="1"}} {n}',
                        f'http_request_duration_seconds_bucket{{le="+Inf"}} {n}',
                        f"http_request_duration_seconds_count {n}",
                        f"http_request_duration_seconds_sum {n * 0.2}",
                        "",
                    ]
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


LE_SPEC = (
    SPEC.split("    slos:")[0]
    + """\
    slos:
      latency:
        objective: 95
        latency: {histogram: 'http_request_duration_seconds{job="shop"}', threshold: 300ms}
      latency-1s:
        objective: 95
        latency: {histogram: 'http_request_duration_seconds{job="shop"}', threshold: 1s}
      latency-missing:
        objective: 95
        latency: {histogram: 'http_request_duration_seconds{job="shop"}', threshold: 250ms}
"""
)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
def test_latency_buckets_match_however_le_is_spelled(tmp_path: Path, version: str) -> None:
    """Prometheus 2 stores le="0.30" and le="1" as scraped, Prometheus 3 as 0.3 and 1.0: the
    threshold's bucket is found either way; a threshold with no bucket raises SLIBucketMissing."""
    exposition = Exposition()
    try:
        (tmp_path / "obskit.yaml").write_text(LE_SPEC)
        tree = generate_tree(load_plan(tmp_path / "obskit.yaml", "e2e"))
        (tmp_path / "shop.rules.yaml").write_text(tree["prometheus/rulefiles/shop.rules.yaml"])
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["shop.rules.yaml"],
            "scrape_configs": [{"job_name": "shop", "static_configs": [{"targets": [f"127.0.0.1:{exposition.port}"]}]}],
        }
        with prometheus(tmp_path, config, binary=VERSIONS[version][0]) as server:
            stored = {
                s["metric"]["le"]
                for s in wait_for("the buckets", lambda: server.query("http_request_duration_seconds_bucket"), 30)
            }
            assert stored == ({"0.10", "0.30", "1", "+Inf"} if version == "2.x" else {"0.1", "0.3", "1.0", "+Inf"})

            def ratio(slo: str) -> float | None:
                return _value(server, f'slo:sli_error:ratio_rate5m{{service="shop",slo="{slo}"}}')

            assert wait_for("the 300ms ratio", lambda: ratio("latency"), 60) == pytest.approx(0.2, abs=0.02)
            one_second = 'slo:sli_error:ratio_rate5m{service="shop",slo="latency-1s"}'
            assert float(wait_for("the 1s ratio", lambda: server.query(one_second), 30)[0]["value"][1]) == 0
            missing = wait_for("SLIBucketMissing", lambda: server.firing("SLIBucketMissing"), 60)
            assert [a["labels"]["slo"] for a in missing] == ["latency-missing"]
            assert ratio("latency-missing") is None  # the SLO measures nothing: hence the alert
    finally:
        exposition.stop()
