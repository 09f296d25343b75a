"""The generated alerts in a real Alertmanager (Debian's 0.25) under kube-prometheus-stack's
default inhibit rules: a page of one service mutes nothing of a service in another namespace."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import Alertmanager, alertmanager, wait_for

pytestmark = [pytest.mark.servers, pytest.mark.tools("alertmanager")]

# kube-prometheus-stack's values.yaml, alertmanager.config.inhibit_rules, as the chart ships them
CHART_INHIBIT_RULES: list[dict[str, Any]] = [
    {
        "source_matchers": ["severity = critical"],
        "target_matchers": ["severity =~ warning|info"],
        "equal": ["namespace", "alertname"],
    },
    {
        "source_matchers": ["severity = warning"],
        "target_matchers": ["severity = info"],
        "equal": ["namespace", "alertname"],
    },
    {"source_matchers": ["alertname = InfoInhibitor"], "target_matchers": ["severity = info"], "equal": ["namespace"]},
    {"target_matchers": ["alertname = InfoInhibitor"]},
]


def _config(inhibit_rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "route": {"receiver": "null", "group_by": ["alertname", "service"]},
        "receivers": [{"name": "null"}],
        "inhibit_rules": inhibit_rules,
    }


def _alerts(tree: dict[str, str], service: str) -> list[dict[str, str]]:
    """Every alert the service's rules can raise, with the labels Prometheus gives it: the rule's
    labels win over the input series', so an exporter's `namespace` never reaches the alert."""
    rules = yaml.safe_load(tree[f"prometheus/rulefiles/{service}.rules.yaml"])["groups"]
    alerts = []
    for group in rules:
        for rule in group["rules"]:
            if "alert" in rule:
                series = {"namespace": "velero", "instance": "10.0.0.9:8085", "job": "exporter"}
                alerts.append({**series, **rule["labels"], "alertname": rule["alert"]})
    return alerts


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _states(server: Alertmanager, posted: list[dict[str, str]]) -> dict[tuple[tuple[str, str], ...], bool]:
    """Whether each posted alert is inhibited, once Alertmanager holds all of them and its inhibitor
    has taken them in: the inhibitor learns of source alerts from a subscription of its own, after the
    API holds them (a loaded machine showed every alert held and none muted yet), so the states are
    read until they stay the same for two seconds."""
    server.post([{"labels": labels, "annotations": {}} for labels in posted])

    def states() -> dict[tuple[tuple[str, str], ...], bool] | None:
        held = {_key(a["labels"]): bool(a["status"]["inhibitedBy"]) for a in server.alerts()}
        return held if all(_key(labels) in held for labels in posted) else None

    last = wait_for("Alertmanager to hold every posted alert", states, 20)
    steady_since = time.monotonic()
    while time.monotonic() - steady_since < 2:
        time.sleep(0.2)
        now = wait_for("Alertmanager to hold every posted alert", states, 20)
        if now != last:
            last, steady_since = now, time.monotonic()
    return last


def _severity(alerts: list[dict[str, str]], *severities: str) -> list[dict[str, str]]:
    return [a for a in alerts if a["severity"] in severities]


@pytest.mark.timeout(120)
def test_a_page_mutes_no_alert_of_a_service_in_another_namespace(tmp_path: Path, prod_tree: dict[str, str]) -> None:
    """checkout (namespace shop) pages with every critical alert it has; every warning and info of
    catalog-api and search-indexer (namespace catalog) stays unmuted. The same alerts without their
    `namespace` (0.5.1's SLO alerts had none) are muted by the same pages: the test sees the defect."""
    pages = _severity(_alerts(prod_tree, "checkout"), "critical")
    others = [a for s in ("catalog-api", "search-indexer") for a in _severity(_alerts(prod_tree, s), "warning", "info")]
    assert pages and others
    shared = {a["alertname"] for a in pages} & {a["alertname"] for a in others}
    assert {"ErrorBudgetBurn", "ServiceDown"} & shared  # names both sides raise: where the chart's rule bites

    def unscoped(alerts: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{k: v for k, v in {**a, "variant": "0.5.1"}.items() if k != "namespace"} for a in alerts]

    with alertmanager(tmp_path, _config(CHART_INHIBIT_RULES)) as server:
        states = _states(server, pages + others + unscoped(pages) + unscoped(others))
    muted = sorted(f"{a['service']}/{a['alertname']}/{a['severity']}" for a in others if states[_key(a)])
    assert muted == []
    muted_before = {a["alertname"] for a in unscoped(others) if states[_key(a)]}
    assert muted_before == {a["alertname"] for a in unscoped(others) if a["alertname"] in shared}


@pytest.mark.timeout(120)
def test_services_sharing_a_namespace_under_the_charts_rules_and_with_service_in_equal(
    tmp_path: Path, prod_tree: dict[str, str]
) -> None:
    """What the README says of one namespace: catalog-api's page mutes search-indexer's ticket of the
    same alertname under the chart's rules; with `service` added to `equal` (the README's snippet) it
    does not, while a page still mutes its own service's ticket."""
    page = next(
        a for a in _severity(_alerts(prod_tree, "catalog-api"), "critical") if a["alertname"] == "ErrorBudgetBurn"
    )
    neighbour = next(
        a for a in _severity(_alerts(prod_tree, "search-indexer"), "warning") if a["alertname"] == "ErrorBudgetBurn"
    )
    own_ticket = next(
        a for a in _severity(_alerts(prod_tree, "catalog-api"), "warning") if a["alertname"] == "ErrorBudgetBurn"
    )
    posted = [page, neighbour, own_ticket]
    with alertmanager(tmp_path / "chart", _config(CHART_INHIBIT_RULES)) as server:
        chart = _states(server, posted)
    assert chart[_key(neighbour)] and chart[_key(own_ticket)]

    scoped = [
        {**rule, "equal": [*rule["equal"], "service"]} if "equal" in rule else rule for rule in CHART_INHIBIT_RULES
    ]
    with alertmanager(tmp_path / "scoped", _config(scoped)) as server:
        by_service = _states(server, posted)
    assert not by_service[_key(neighbour)] and by_service[_key(own_ticket)]


@pytest.mark.timeout(120)
def test_obskits_own_routing_scopes_inhibition_by_service(tmp_path: Path, prod_tree: dict[str, str]) -> None:
    """Under the generated configuration: checkout's ServiceDown mutes its own ErrorBudgetBurn,
    SLIMetricMissing and SLIBucketMissing (they only echo the outage), and nothing else of
    checkout's. catalog-api's pages mute nothing of search-indexer's, though the two share the
    namespace catalog and alert names (under the chart's rules its ErrorBudgetBurn page did)."""
    config = yaml.safe_load(prod_tree["alertmanager/alertmanager.yaml"])
    checkout = _alerts(prod_tree, "checkout")
    slo_echoes = {"ErrorBudgetBurn", "SLIMetricMissing", "SLIBucketMissing"}
    down = {"ServiceDown", "ServiceTargetsMissing"}
    pages = [a for a in _severity(_alerts(prod_tree, "catalog-api"), "critical") if a["alertname"] not in down]
    # search-indexer's tier does not page: its ServiceDown is a warning, which would mute its own SLO alerts
    tickets = [
        a for a in _severity(_alerts(prod_tree, "search-indexer"), "warning", "info") if a["alertname"] not in down
    ]
    assert "ErrorBudgetBurn" in {a["alertname"] for a in pages} & {a["alertname"] for a in tickets}
    others = pages + tickets
    with alertmanager(tmp_path, config) as server:
        states = _states(server, checkout + others)
    muted = {(a["alertname"], a["severity"], a.get("slo", "")) for a in checkout if states[_key(a)]}
    echoes = {(a["alertname"], a["severity"], a.get("slo", "")) for a in checkout if a["alertname"] in slo_echoes}
    assert muted == echoes
    assert [a["alertname"] for a in others if states[_key(a)]] == []
