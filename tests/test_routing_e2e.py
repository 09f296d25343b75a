"""The generated routing with real servers: Debian's Prometheus evaluating the generated rules for
two services, Debian's Alertmanager 0.25 with the generated configuration (only the receivers'
integrations swapped for webhooks to a server in this test), notifications as they arrive."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.servers import alertmanager, free_port, prometheus, wait_for
from tests.test_prometheus_e2e import SPEC as PROMETHEUS_E2E_SPEC
from tests.test_prometheus_e2e import App

pytestmark = [pytest.mark.servers, pytest.mark.tools("prometheus", "alertmanager")]

# The real-Prometheus test's tier e2e (1s scrapes, pages), and one like it that does not page.
SPEC = (
    PROMETHEUS_E2E_SPEC.split("environments:")[0]
    + """\
  e2e_low: {rto: 4h, rpo: 24h, scrape_interval: 1s, slo_objective: 99, pages: false,
            restore_drill_interval: 7d, retention: 7d, platform_alert_for: 3s}
teams:
  payments: {page: payments-pager, ticket: payments-chat}
environments:
  e2e:
    labels: {env: e2e}
    alerting:
      receivers:
        oncall: {pagerduty: {routing_key: {secret: pd, key: routing-key}}}
        payments-pager: {pagerduty: {routing_key: {secret: pd-payments, key: routing-key}}}
        payments-chat: {slack: {api_url: {secret: slack, key: url}, channel: "#payments"}}
        tickets: {webhook: {url: "http://bridge.tools.svc:8080/tickets"}}
      page: oncall
      ticket: tickets
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
        alerts: {min_errors: 0}
  catalog:
    namespace: catalog
    tier: e2e_low
    team: catalog
    selector: {app: catalog}
    metrics: {port: metrics}
    slos:
      availability:
        errors: 'http_requests_total{job="catalog",code=~"5.."}'
        total: 'http_requests_total{job="catalog"}'
        alerts: {min_errors: 0}
"""
)


class Receivers:
    """An HTTP server taking Alertmanager's webhook notifications, by path (the receiver's name)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        receivers = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receivers.lock:
                    receivers.received.setdefault(self.path.strip("/"), []).append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, receiver: str) -> list[tuple[dict[str, str], dict[str, str]]]:
        """(group labels, alert labels) of every alert notified to the receiver."""
        with self.lock:
            return [(n["groupLabels"], a["labels"]) for n in self.received.get(receiver, []) for a in n["alerts"]]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    server = Receivers()
    yield server
    server.stop()


def _with_webhooks(config: dict[str, Any], port: int) -> dict[str, Any]:
    """The generated configuration, each receiver's integration replaced by a webhook to the test."""
    receivers = [
        {"name": r["name"], "webhook_configs": [{"url": f"http://127.0.0.1:{port}/{r['name']}"}]}
        for r in config["receivers"]
    ]
    return {**config, "receivers": receivers}


@pytest.mark.timeout(300)
def test_pages_and_tickets_reach_their_receivers_and_mute_only_their_own_service(
    tmp_path: Path, receivers: Receivers
) -> None:
    (tmp_path / "obskit.yaml").write_text(SPEC)
    tree = generate_tree(load_plan(tmp_path / "obskit.yaml", "e2e"))
    shop, catalog = App(), App()  # one request in ten fails: a 10x burn of a 1% budget
    for app in (shop, catalog):
        app.serve()
    try:
        am_config = _with_webhooks(yaml.safe_load(tree["alertmanager/alertmanager.yaml"]), receivers.port)
        with alertmanager(tmp_path / "am", am_config) as am:
            for service in ("shop", "catalog"):
                (tmp_path / f"{service}.rules.yaml").write_text(tree[f"prometheus/rulefiles/{service}.rules.yaml"])
            prom_config = {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": ["shop.rules.yaml", "catalog.rules.yaml"],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am.url.removeprefix("http://")]}]}]},
                "scrape_configs": [
                    {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{app.port}"]}]}
                    for name, app in (("shop", shop), ("catalog", catalog))
                ],
            }
            with prometheus(tmp_path, prom_config):
                # shop pages (6h/30m) to its team's pager; catalog, a tier that does not page, tickets
                paged = wait_for("shop's page", lambda: receivers.alerts("payments-pager"), 150, interval=1)
                ticketed = wait_for("catalog's tickets", lambda: receivers.alerts("tickets"), 150, interval=1)

                def burn_alerts() -> list[dict[str, Any]] | None:
                    held = [a for a in am.alerts() if a["labels"]["alertname"] == "ErrorBudgetBurn"]
                    windows = {(a["labels"]["service"], a["labels"]["long_window"]) for a in held}
                    wanted = {("shop", "6h"), ("shop", "1d"), ("shop", "3d"), ("catalog", "1d"), ("catalog", "6h")}
                    return held if wanted <= windows else None

                held = wait_for("both services' burn alerts in Alertmanager", burn_alerts, 60, interval=1)
    finally:
        shop.stop()
        catalog.stop()

    assert {labels["service"] for _, labels in paged} == {"shop"}
    assert {labels["severity"] for _, labels in paged} == {"critical"}
    assert all(
        group == {"alertname": "ErrorBudgetBurn", "service": "shop", "slo": "availability"} for group, _ in paged
    )
    assert {labels["service"] for _, labels in ticketed} == {"catalog"}
    assert {labels["severity"] for _, labels in ticketed} == {"warning"}
    # the page mutes shop's own tickets of the same SLO; nothing of catalog's is muted
    inhibited = {(a["labels"]["service"], a["labels"]["severity"]) for a in held if a["status"]["inhibitedBy"]}
    assert inhibited == {("shop", "warning")}
    assert receivers.alerts("payments-chat") == [] and receivers.alerts("oncall") == []
