"""What on-call reads, from a real Alertmanager (Debian's 0.25) configured with the generated
alertmanager.yaml: an HTTP server on loopback stands in for Slack's incoming webhook and for
PagerDuty's Events v2 API (the only change to the configuration besides shorter group timings:
the PagerDuty `url`, and the Secrets' files written where the configuration reads them), obskit's
alerts are posted with the labels and annotations their rules give them, and the test reads the
runbook and dashboard links, the severity and the resolved notifications out of the bodies."""

from __future__ import annotations

import datetime
import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from obskit.generate.alertmanager import SECRETS_DIR
from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.conftest import MINIMAL
from tests.servers import alertmanager, wait_for

pytestmark = [pytest.mark.servers, pytest.mark.tools("alertmanager")]

ALERTING = """\
    grafana_url: https://grafana.example.com
    alerting:
      deploy: alertmanager_yaml
      receivers:
        oncall: {pagerduty: {routing_key: {secret: pagerduty-oncall, key: routing-key}}}
        chat: {slack: {api_url: {secret: slack-chat, key: url}, channel: "#payments"}}
        heartbeat: {webhook: {url: "http://127.0.0.1:9/unused"}}
      page: oncall
      ticket: chat
      watchdog: {receiver: heartbeat}
      other_critical: page
"""
ROUTING_KEY = "0123456789abcdef0123456789abcdef"


class Captured:
    """Every POST the loopback server took: (path, JSON body), and when (time.monotonic())."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.times: list[tuple[str, float]] = []

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for where, body in self.bodies if where == path]


@contextmanager
def loopback() -> Iterator[tuple[str, Captured]]:
    """The stand-in for Slack and PagerDuty: answers 200 (Slack's "ok", PagerDuty's 202 body) to any POST."""
    captured = Captured()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with captured.lock:
                captured.bodies.append((self.path, body))
                captured.times.append((self.path, time.monotonic()))
            answer = b"ok" if self.path == "/slack" else b'{"status":"success","message":"Event processed"}'
            self.send_response(200 if self.path == "/slack" else 202)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", captured
    finally:
        server.shutdown()
        server.server_close()


def _quick(route: dict[str, Any]) -> None:
    """Group timings of a second, so a notification and its resolution come within the test."""
    for key in ("group_wait", "group_interval"):
        if key in route:
            route[key] = "1s"
    for child in route.get("routes", []):
        _quick(child)


def _config(tree: dict[str, str], secrets: Path, url: str) -> dict[str, Any]:
    text = tree["alertmanager/alertmanager.yaml"].replace(f"{SECRETS_DIR}/", f"{secrets}/")
    config: dict[str, Any] = yaml.safe_load(text)
    for receiver in config["receivers"]:
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["url"] = f"{url}/pagerduty"  # Events v2's endpoint, on loopback
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"{url}/heartbeat"
    config["route"]["group_wait"], config["route"]["group_interval"] = "1s", "1s"
    _quick(config["route"])
    # the Secrets, as the operator mounts them: one folder per Secret, one file per key
    (secrets / "pagerduty-oncall").mkdir(parents=True)
    (secrets / "pagerduty-oncall/routing-key").write_text(ROUTING_KEY)
    (secrets / "slack-chat").mkdir(parents=True)
    (secrets / "slack-chat/url").write_text(f"{url}/slack")
    return config


def _alert(tree: dict[str, str], name: str, severity: str) -> dict[str, Any]:
    """checkout's alert as Prometheus sends it: the rule's labels and annotations (one window's)."""
    for group in yaml.safe_load(tree["prometheus/rulefiles/checkout.rules.yaml"])["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == name and rule["labels"]["severity"] == severity:
                return {"labels": {**rule["labels"], "alertname": name}, "annotations": rule["annotations"]}
    raise AssertionError(f"checkout has no {severity} {name}")


def _triggers(captured: Captured) -> dict[str, dict[str, Any]] | None:
    """PagerDuty's trigger events by alert name, once both pages have come."""
    found = {
        body["payload"]["summary"].split()[1]: body
        for body in captured.at("/pagerduty")
        if body["event_action"] == "trigger"
    }
    return found if {"ServiceDown", "KubeAPIDown"} <= set(found) else None


def _now(offset_seconds: float = 0) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset_seconds)
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.timeout(120)
def test_slack_and_pagerduty_bodies_carry_the_runbook_dashboard_severity_and_resolution(
    write_spec, tmp_path: Path
) -> None:
    env = "  prod:\n    labels: {env: prod}\n"
    tree = generate_tree(load_plan(write_spec(MINIMAL.replace(env, env + ALERTING)), "prod"))
    page = _alert(tree, "ServiceDown", "critical")
    ticket = _alert(tree, "ServiceTargetsDown", "warning")
    runbook, dashboard = page["annotations"]["runbook_url"], page["annotations"]["dashboard_url"]
    assert runbook == "https://runbooks.example.com/checkout/ServiceDown" and dashboard.startswith(
        "https://grafana.example.com/d/"
    )
    watchdog = {"labels": {"alertname": "Watchdog", "severity": "none"}, "annotations": {"summary": "heartbeat"}}
    # the chart's: critical, with a runbook and no dashboard
    chart_runbook = "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubeapidown"
    kube_api_down = {
        "labels": {"alertname": "KubeAPIDown", "severity": "critical"},
        "annotations": {
            "summary": "Target disappeared from Prometheus target discovery.",
            "runbook_url": chart_runbook,
        },
    }

    with loopback() as (url, captured), alertmanager(tmp_path / "am", _config(tree, tmp_path / "secrets", url)) as am:
        am.post([{**alert, "startsAt": _now(-60)} for alert in (page, ticket, watchdog, kube_api_down)])
        triggered = wait_for("PagerDuty's triggers", lambda: _triggers(captured), 30)
        posted = wait_for("Slack's message", lambda: captured.at("/slack"), 30)
        beats = wait_for("the heartbeat", lambda: captured.at("/heartbeat"), 30)
        am.post([{**alert, "startsAt": _now(-60), "endsAt": _now(-1)} for alert in (page, ticket)])
        resolved = wait_for(
            "PagerDuty's resolve",
            lambda: [b for b in captured.at("/pagerduty") if b["event_action"] == "resolve"],
            30,
        )
        slack_resolved = wait_for(
            "Slack's resolved message",
            lambda: [b for b in captured.at("/slack") if b["attachments"][0]["title"].startswith("[RESOLVED]")],
            30,
        )

    # PagerDuty Events v2: the routing key from its Secret's file, the severity, links to runbook and dashboard
    trigger = triggered["ServiceDown"]
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["links"] == [{"href": runbook, "text": "Runbook"}, {"href": dashboard, "text": "Dashboard"}]
    assert [body["dedup_key"] for body in resolved] == [trigger["dedup_key"]]
    # other_critical: page brings the chart's critical alert to the pager; the empty dashboard link is left out
    assert triggered["KubeAPIDown"]["payload"]["severity"] == "critical"
    assert triggered["KubeAPIDown"]["links"] == [{"href": chart_runbook, "text": "Runbook"}]

    # Slack: the channel, a title naming the alert and service, a text with each alert's summary and links
    (attachment,) = posted[0]["attachments"]
    assert posted[0]["channel"] == "#payments"
    assert attachment["title"] == "[FIRING:1] ServiceTargetsDown (checkout)"
    ticket_runbook, ticket_dashboard = ticket["annotations"]["runbook_url"], ticket["annotations"]["dashboard_url"]
    assert attachment["text"].splitlines() == [
        f"*warning* {ticket['annotations']['summary']}",
        ticket["annotations"]["description"],
        f"<{ticket_runbook}|Runbook> <{ticket_dashboard}|Dashboard>",
    ]
    assert slack_resolved[0]["attachments"][0]["title"] == "[RESOLVED] ServiceTargetsDown (checkout)"

    # the Watchdog went to the dead man's switch alone: PagerDuty and Slack saw only checkout's alerts
    assert {alert["labels"]["alertname"] for beat in beats for alert in beat["alerts"]} == {"Watchdog"}
    assert all("Watchdog" not in body["payload"]["summary"] for body in captured.at("/pagerduty"))
    assert all("Watchdog" not in body["attachments"][0]["title"] for body in captured.at("/slack"))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_watchdog_beats_every_repeat_interval(write_spec, tmp_path: Path) -> None:
    """The generated heartbeat route as it is (group_wait 0s, group_interval 15s): the first beat at
    once, the next one repeat_interval (30s) later, give or take one group_interval."""
    env = "  prod:\n    labels: {env: prod}\n"
    alerting = ALERTING.replace("{receiver: heartbeat}", "{receiver: heartbeat, repeat_interval: 30s}")
    tree = generate_tree(load_plan(write_spec(MINIMAL.replace(env, env + alerting)), "prod"))
    watchdog = {"labels": {"alertname": "Watchdog", "severity": "none"}, "annotations": {}}
    with loopback() as (url, captured):
        config = _config(tree, tmp_path / "secrets", url)
        config["route"]["routes"][0] = yaml.safe_load(tree["alertmanager/alertmanager.yaml"])["route"]["routes"][0]
        assert config["route"]["routes"][0]["group_interval"] == "15s"
        with alertmanager(tmp_path / "am", config) as am:
            started = time.monotonic()
            am.post([{**watchdog, "startsAt": _now(-60), "endsAt": _now(600)}])
            wait_for("two beats", lambda: captured.at("/heartbeat")[1:], 70, interval=0.5)
    first, second = [when for path, when in captured.times if path == "/heartbeat"][:2]
    assert first - started < 5
    assert 30 <= second - first <= 30 + 15 + 2, second - first
