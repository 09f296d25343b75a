"""A freshness SLO in a real Prometheus, reading a real Pushgateway that a batch job pushes to."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, delete_from_gateway, push_to_gateway

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.servers import SERVER_VERSION_PARAMS, VERSIONS, Prometheus, prometheus, pushgateway, wait_for

pytestmark = [pytest.mark.servers, pytest.mark.tools("pushgateway")]

JOB = "nightly-reports"
SPEC = f"""\
apiVersion: obskit/v1
defaults:
  runbook_url: "https://runbooks.example.com/{{service}}/{{alert}}"
tiers:
  e2e: {{rto: 15m, rpo: 5m, scrape_interval: 1s, slo_objective: 99, pages: true,
        restore_drill_interval: 7d, retention: 7d, platform_alert_for: 3s}}
environments:
  e2e: {{labels: {{env: e2e}}}}
services:
  reports:
    namespace: data
    tier: e2e
    team: data
    selector: {{app: reports}}
    metrics: {{port: metrics}}
    slos:
      freshness:
        freshness: {{last_success: 'reports_last_success_timestamp_seconds{{job="{JOB}"}}', max_age: 10s}}
"""
MATCH = 'service="reports",slo="freshness"'


def _push(gateway: str, when: float, instance: str) -> None:
    """What a batch job does on success: push its time under its grouping key (the instance)."""
    registry = CollectorRegistry()
    gauge = Gauge("reports_last_success_timestamp_seconds", "Last success.", registry=registry)
    gauge.set(when)
    push_to_gateway(gateway, job=JOB, registry=registry, grouping_key={"instance": instance})


def _value(server: Prometheus, expr: str) -> float | None:
    result = server.query(expr)
    return float(result[0]["value"][1]) if result else None


def _mine(server: Prometheus, cause: str | None) -> Callable[[], list[dict[str, Any]] | None]:
    def firing() -> list[dict[str, Any]] | None:
        alerts = [a for a in server.firing("LastSuccessTooOld") if a["labels"].get("cause") == cause]
        return alerts or None

    return firing


@pytest.mark.timeout(300)
@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
def test_a_pushed_last_success_ages_and_then_goes_missing(tmp_path: Path, version: str) -> None:
    (tmp_path / "obskit.yaml").write_text(SPEC)
    tree = generate_tree(load_plan(tmp_path / "obskit.yaml", "e2e"))
    (tmp_path / "reports.rules.yaml").write_text(tree["prometheus/rulefiles/reports.rules.yaml"])
    with pushgateway(tmp_path) as gateway:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["reports.rules.yaml"],
            "scrape_configs": [
                {"job_name": "pushgateway", "honor_labels": True, "static_configs": [{"targets": [gateway]}]}
            ],
        }
        with prometheus(tmp_path, config, binary=VERSIONS[version][0]) as server:
            _push(gateway, time.time(), "pod-1")
            # a group pushed long ago under another grouping key, which the Pushgateway keeps forever
            _push(gateway, time.time() - 86_400, "old-pod")
            # fresh: the newest of the two counts, so nothing is stale
            ratio = wait_for("the ratio", lambda: server.query(f"slo:sli_error:ratio_rate1h{{{MATCH}}}"), 30)
            assert float(ratio[0]["value"][1]) == 0
            assert 0 <= (_value(server, f"slo:last_success:age_seconds{{{MATCH}}}") or -1) < 10
            assert not server.firing("LastSuccessTooOld") and not server.firing("ErrorBudgetBurn")

            # the job stops succeeding; the Pushgateway serves the same timestamp, which ages
            stale = wait_for("LastSuccessTooOld", _mine(server, None), 60, interval=0.5)
            assert stale[0]["labels"]["severity"] == "warning"
            assert _value(server, f"slo:last_success:age_seconds{{{MATCH}}}") > 10
            burning = wait_for("the fast burn", lambda: server.firing("ErrorBudgetBurn") or None, 60, interval=0.5)
            assert {"1h"} <= {a["labels"]["long_window"] for a in burning}

            # a success clears it
            _push(gateway, time.time(), "pod-1")
            wait_for("LastSuccessTooOld to resolve", lambda: _mine(server, None)() is None or None, 30, interval=0.5)

            # the Pushgateway loses every group (a restart without persistence): nothing is reported, and
            # after max_age the absent variant pages
            for instance in ("pod-1", "old-pod"):
                delete_from_gateway(gateway, job=JOB, grouping_key={"instance": instance})
            absent = wait_for("the absent variant", _mine(server, "absent"), 60, interval=0.5)
            assert absent[0]["labels"]["severity"] == "critical"
            assert server.query(f"slo:sli_errors:rate5m{{{MATCH}}}") == []  # neither fresh nor stale meanwhile
