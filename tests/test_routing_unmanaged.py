"""Alerts obskit does not manage beside kube-prometheus-stack: the chart's Watchdog to a dead man's
switch, other critical alerts to page, ticket or nowhere, the spec's extra routes before obskit's,
checked with amtool; and `alerting.deploy`, which output the kustomization applies."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.output import escape
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree
from obskit.spec import am_routes
from obskit.verify.tree import check_tree
from tests.conftest import MINIMAL, problems_of
from tests.schemas import _CRDLoader, crd_validator, schema_errors
from tests.test_routing import ALERTMANAGERCONFIG_CRD

RECEIVERS = """\
    alerting:
      receivers:
        oncall: {pagerduty: {routing_key: {secret: pd, key: routing-key}}}
        tickets: {webhook: {url: "http://bridge:8080/t"}}
        platform-chat: {slack: {api_url: {secret: slack, key: url}, channel: "#platform"}}
      page: oncall
      ticket: tickets
      info: platform-chat
"""
WATCHDOG = "      watchdog: {receiver: deadmans-switch}\n"
DEADMAN = '        deadmans-switch: {webhook: {url: "https://hc-ping.example.com/abc"}}\n'

EXTRA = """\
      extra_routes:
      - matchers: ['namespace=~"kube-.*"', 'managed_by!="obskit"']
        receiver: platform-chat
        routes:
        - {matchers: [alertname=KubeAPIDown], receiver: oncall}
"""
# kube-prometheus-stack's alerts, labelled as its rules label them (no obskit marker)
CHART_WATCHDOG = {"alertname": "Watchdog", "severity": "none", "prometheus": "monitoring/kube-prometheus-stack"}
KUBE_API_DOWN = {"alertname": "KubeAPIDown", "severity": "critical"}
NODE_DISK = {"alertname": "NodeFilesystemAlmostFull", "severity": "critical", "namespace": "monitoring"}
KUBE_WARNING = {"alertname": "KubePodNotReady", "severity": "warning", "namespace": "kube-system"}
CHECKOUT_PAGE = {
    "alertname": "ErrorBudgetBurn", "severity": "critical", "managed_by": "obskit", "team": "payments",
    "service": "checkout", "namespace": "shop", "env": "prod",
}  # fmt: skip


def _spec(*alerting: str) -> str:
    """The environment's alerting: RECEIVERS and the lines given; a dead man's switch among the
    receivers when a line names it."""
    env = "  prod:\n    labels: {env: prod}\n"
    text = "".join(alerting)
    if "deadmans" in text:
        text = text.replace("      page: oncall", DEADMAN + "      page: oncall", 1)
    return MINIMAL.replace(env, env + text)


def _routed(config: Path, labels: dict[str, str]) -> str:
    """The receivers amtool routes the labels to (comma-separated when routes continue)."""
    args = [escape.am_matcher(name, "=", value) for name, value in sorted(labels.items())]
    done = subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={config}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def _written(write_spec, tmp_path: Path, *alerting: str) -> Path:
    """The tree for the spec, written; `obskit test`'s checks (amtool's among them) all pass on it."""
    out = tmp_path / "out"
    write(out, output_tree(load_plan(write_spec(_spec(*alerting)), "prod")))
    report = check_tree(out)
    assert report.ok, "\n".join(f"{c.title}: {c.details}" for c in report.checks if not c.ok)
    return out / "alertmanager/alertmanager.yaml"


@pytest.mark.tools("promtool", "amtool")
@pytest.mark.parametrize(
    ("other_critical", "critical_receiver"), [("page", "oncall"), ("ticket", "tickets"), ("none", "null")]
)
def test_the_watchdog_and_other_critical_alerts_reach_the_receivers_the_spec_names(
    write_spec, tmp_path: Path, other_critical: str, critical_receiver: str
) -> None:
    config = _written(write_spec, tmp_path, RECEIVERS, WATCHDOG, f"      other_critical: {other_critical}\n")
    assert _routed(config, CHART_WATCHDOG) == "deadmans-switch"
    assert _routed(config, KUBE_API_DOWN) == critical_receiver
    assert _routed(config, NODE_DISK) == critical_receiver
    assert _routed(config, KUBE_WARNING) == "null"  # not obskit's, not critical: no receiver of obskit's
    assert _routed(config, CHECKOUT_PAGE) == "oncall"  # obskit's own alerts as before
    assert _routed(config, {**CHECKOUT_PAGE, "severity": "warning"}) == "tickets"
    watchdog = yaml.safe_load(config.read_text())["route"]["routes"][0]
    assert watchdog == {
        "matchers": ['alertname="Watchdog"', 'severity="none"'],
        "receiver": "deadmans-switch",
        "group_wait": "0s",
        "group_interval": "15s",
        "repeat_interval": "1m",
        "continue": False,
    }
    tests = yaml.safe_load((config.parent / "routes.test.yaml").read_text())
    unmanaged = {case["labels"]["alertname"] + "/" + case["labels"]["severity"]: case["receiver"]
                 for case in tests["cases"] if "managed_by" not in case["labels"]}  # fmt: skip
    assert unmanaged == {
        "Watchdog/none": "deadmans-switch",
        "NotObskits/critical": critical_receiver,
        "NotObskits/warning": "null",
    }


@pytest.mark.tools("promtool", "amtool")
def test_without_the_new_settings_nothing_of_someone_elses_reaches_obskits_receivers(
    write_spec, tmp_path: Path
) -> None:
    """The AlertmanagerConfig (the default deploy) routes obskit's alerts only; the chart's configuration the rest."""
    config = _written(write_spec, tmp_path, RECEIVERS)
    for labels in (CHART_WATCHDOG, KUBE_API_DOWN, KUBE_WARNING):
        assert _routed(config, labels) == "null"
    assert _routed(config, CHECKOUT_PAGE) == "oncall"
    root = yaml.safe_load(config.read_text())["route"]
    assert (root["receiver"], root["group_by"]) == ("null", ["alertname", "namespace"])


@pytest.mark.tools("promtool", "amtool")
def test_extra_routes_come_after_the_watchdog_and_before_obskits(write_spec, tmp_path: Path) -> None:
    config = _written(write_spec, tmp_path, RECEIVERS, WATCHDOG, "      other_critical: ticket\n", EXTRA)
    assert _routed(config, KUBE_WARNING) == "platform-chat"
    assert _routed(config, {**KUBE_API_DOWN, "namespace": "kube-system"}) == "oncall"  # the extra route's child
    assert _routed(config, KUBE_API_DOWN) == "tickets"  # no namespace: other_critical
    assert _routed(config, {**CHART_WATCHDOG, "namespace": "kube-system"}) == "deadmans-switch"
    assert _routed(config, CHECKOUT_PAGE) == "oncall"
    routes = yaml.safe_load(config.read_text())["route"]["routes"]
    assert routes[1] == yaml.safe_load(EXTRA)["extra_routes"][0]  # verbatim
    # the routing tests leave out what an extra route takes: the spec decides where it goes
    tests = yaml.safe_load((config.parent / "routes.test.yaml").read_text())
    assert [case["labels"]["alertname"] for case in tests["cases"] if "managed_by" not in case["labels"]] == [
        "Watchdog", "NotObskits", "NotObskits",
    ]  # fmt: skip


@pytest.mark.tools("promtool", "amtool")
def test_an_extra_route_that_takes_obskits_alerts_fails_obskit_test(write_spec, tmp_path: Path) -> None:
    shadowing = "      extra_routes: [{matchers: ['team=\"payments\"'], receiver: platform-chat}]\n"
    out = tmp_path / "out"
    write(out, output_tree(load_plan(write_spec(_spec(RECEIVERS, shadowing)), "prod")))
    failed = [check for check in check_tree(out).checks if not check.ok]
    assert [check.title.split(" (")[0] for check in failed] == ["Alertmanager routes"]
    assert [line.split() for line in failed[0].details.splitlines()] == [
        ["service", "severity", "expected", "got"],
        ["checkout", "critical", "oncall", "platform-chat"],
        ["checkout", "warning", "tickets", "platform-chat"],
    ]


def test_the_alertmanagerconfig_routes_every_alert_when_the_spec_routes_others(write_spec) -> None:
    """With strategy None the resource's top route sees every alert: it matches none itself, sends
    what its routes do not take to a receiver without integrations, and the operator's `continue:
    true` hands every alert on to the chart's routes."""
    tree = generate_tree(
        load_plan(write_spec(_spec(RECEIVERS, WATCHDOG, "      other_critical: page\n", EXTRA)), "prod")
    )
    resource = yaml.safe_load(tree["alertmanager/alertmanagerconfig.yaml"])
    assert schema_errors(crd_validator(*ALERTMANAGERCONFIG_CRD), resource) == []
    route = resource["spec"]["route"]
    assert "matchers" not in route and route["receiver"] == "null"
    watchdog, extra, obskit, critical = route["routes"]
    assert watchdog["matchers"] == [
        {"name": "alertname", "matchType": "=", "value": "Watchdog"},
        {"name": "severity", "matchType": "=", "value": "none"},
    ]
    assert (watchdog["receiver"], watchdog["repeatInterval"], watchdog["continue"]) == ("deadmans-switch", "1m", False)
    assert extra == {
        "matchers": [
            {"name": "namespace", "matchType": "=~", "value": "kube-.*"},
            {"name": "managed_by", "matchType": "!=", "value": "obskit"},
        ],
        "receiver": "platform-chat",
        "routes": [
            {"matchers": [{"name": "alertname", "matchType": "=", "value": "KubeAPIDown"}], "receiver": "oncall"}
        ],
    }
    assert obskit["matchers"] == [{"name": "managed_by", "matchType": "=", "value": "obskit"}]
    assert (critical["receiver"], critical["groupWait"]) == ("oncall", "30s")
    assert {"name": "null"} in resource["spec"]["receivers"]


def test_the_default_other_critical_follows_what_is_deployed(write_spec) -> None:
    def unmanaged(deploy: str) -> str:
        spec = _spec(RECEIVERS, f"      deploy: {deploy}\n")
        tests = yaml.safe_load(generate_tree(load_plan(write_spec(spec), "prod"))["alertmanager/routes.test.yaml"])
        (case,) = [c for c in tests["cases"] if c["labels"] == {"alertname": "NotObskits", "severity": "critical"}]
        return str(case["receiver"])

    # obskit's file is the whole configuration: critical alerts keep reaching tickets, as before
    assert unmanaged("alertmanager_yaml") == "tickets"
    assert unmanaged("alertmanager_config") == "null"  # the chart's configuration routes them


@pytest.mark.tools("kubectl")
def test_deploying_alertmanager_yaml_applies_it_as_a_secret_and_no_alertmanagerconfig(
    write_spec, tmp_path: Path
) -> None:
    plan = load_plan(write_spec(_spec(RECEIVERS, "      deploy: alertmanager_yaml\n")), "prod")
    tree = generate_tree(plan)
    assert "alertmanager/alertmanagerconfig.yaml" not in tree
    assert "alertmanager/alertmanagerconfig.yaml" not in yaml.safe_load(tree["kustomization.yaml"])["resources"]
    out = tmp_path / "out"
    write(out, output_tree(plan))
    built = subprocess.run(["kubectl", "kustomize", str(out)], capture_output=True, text=True, timeout=120, check=True)
    (secret,) = [doc for doc in yaml.load_all(built.stdout, Loader=_CRDLoader) if doc["kind"] == "Secret"]
    assert secret["metadata"] == {
        "name": "obskit-prod",
        "namespace": "monitoring",
        "labels": {"app.kubernetes.io/managed-by": "obskit"},
    }
    config = base64.b64decode(secret["data"]["alertmanager.yaml"]).decode()
    assert config == (out / "alertmanager/alertmanager.yaml").read_text()


@pytest.mark.tools("kubectl")
def test_deploying_the_alertmanagerconfig_applies_it_and_no_secret(write_spec, tmp_path: Path) -> None:
    plan = load_plan(write_spec(_spec(RECEIVERS)), "prod")
    out = tmp_path / "out"
    write(out, output_tree(plan))
    built = subprocess.run(["kubectl", "kustomize", str(out)], capture_output=True, text=True, timeout=120, check=True)
    kinds = [doc["kind"] for doc in yaml.load_all(built.stdout, Loader=_CRDLoader)]
    assert "AlertmanagerConfig" in kinds and "Secret" not in kinds


_UNKNOWN = "is not one of this environment's alerting receivers (deadmans-switch, oncall, platform-chat, tickets)"
_ROUTE_KEYS = (
    "receiver, matchers, match, match_re, continue, group_by, group_wait, group_interval, repeat_interval, routes"
)
MISTAKES: dict[str, tuple[str, list[str]]] = {
    "watchdog to the pager": (
        "      watchdog: {receiver: oncall}\n",
        [
            "obskit.yaml:15: environments.prod.alerting.watchdog.receiver: 'oncall' also gets alerts that ask for "
            "people: the Watchdog always fires, so it would notify every repeat_interval; give the heartbeat a "
            "receiver of its own (a dead man's switch)",
        ],
    ),
    "unknown watchdog receiver": (
        "      watchdog: {receiver: deadmans}\n",
        [
            "obskit.yaml:12: environments.prod.alerting.receivers.deadmans-switch: receiver 'deadmans-switch' is "
            "not used by any route: name it in page, ticket, info, watchdog or extra_routes here or in a team of "
            "this environment's services, or remove it",
            f"obskit.yaml:16: environments.prod.alerting.watchdog.receiver: 'deadmans' {_UNKNOWN}; did you mean "
            "'deadmans-switch'?",
        ],
    ),
    "a heartbeat too slow": (
        "      watchdog: {receiver: deadmans-switch, repeat_interval: 2h}\n",
        [
            "obskit.yaml:16: environments.prod.alerting.watchdog.repeat_interval: '2h' is out of range: it must be "
            "from 30s to 1h; a dead man's switch waits about this long before it raises the alarm"
        ],
    ),
    "other_critical to a receiver": (
        WATCHDOG + "      other_critical: oncall\n",
        ["obskit.yaml:17: environments.prod.alerting.other_critical: 'oncall' is not allowed; choose one of: page, "
         "ticket, none"],
    ),
    "extra route to an unknown receiver": (
        WATCHDOG + "      extra_routes: [{matchers: ['severity=\"warning\"'], receiver: chat}]\n",
        [f"obskit.yaml:17: environments.prod.alerting.extra_routes[0]: 'chat' {_UNKNOWN}"],
    ),
    "extra route not a route": (
        WATCHDOG + "      extra_routes: [platform-chat, {match: {severity: warning}, reciever: platform-chat}]\n",
        [
            "obskit.yaml:17: environments.prod.alerting.extra_routes[0]: a route is a mapping, such as {matchers: "
            "['severity=\"warning\"'], receiver: tickets}",
            f"obskit.yaml:17: environments.prod.alerting.extra_routes[1]: 'reciever' is not a route key obskit "
            f"passes on ({_ROUTE_KEYS})",
        ],
    ),
    "extra route with two matchers in one": (
        WATCHDOG + "      extra_routes: [{routes: [{matchers: ['{a=\"b\",c=\"d\"}']}]}]\n",
        [
            "obskit.yaml:17: environments.prod.alerting.extra_routes[0]: routes[0].matchers: matcher "
            "'{a=\"b\",c=\"d\"}' is not one label, operator (=, !=, =~, !~) and value, such as 'severity=\"critical\"'"
        ],
    ),
}  # fmt: skip


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_unmanaged_routing_mistakes_are_errors_at_their_line(write_spec, mistake: str) -> None:
    alerting, messages = MISTAKES[mistake]
    assert problems_of(write_spec(_spec(RECEIVERS, alerting))) == messages


def test_null_is_obskits_own_receiver(write_spec) -> None:
    null = '        "null": {webhook: {url: "http://b:1/t"}}\n'
    spec = _spec(RECEIVERS.replace("      page: oncall", null + "      page: oncall"))
    assert problems_of(write_spec(spec)) == [
        "obskit.yaml:12: environments.prod.alerting.receivers.null: 'null' is the receiver obskit writes to drop "
        "alerts (with no integration): name yours otherwise",
    ]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ('severity="critical"', ("severity", "=", "critical")),
        ("namespace =~ kube-.*", ("namespace", "=~", "kube-.*")),
        ('summary!~"say \\"hi\\"\\\\n"', ("summary", "!~", 'say "hi"\\n')),
        ('team!=""', ("team", "!=", "")),
    ],
)
def test_a_matcher_is_read_as_alertmanager_reads_it(text: str, parsed: tuple[str, str, str]) -> None:
    assert am_routes.parse_matcher(text) == parsed


@pytest.mark.tools("amtool")
def test_the_route_tests_read_matchers_as_amtool_does(tmp_path: Path) -> None:
    """An escaped quote in a matcher's value: obskit's reading of it (which decides the cases an extra
    route takes) and amtool's agree."""
    config = {
        "route": {
            "receiver": "null",
            "routes": [{"matchers": ['summary="say \\"hi\\""'], "receiver": "quoted"}],
        },
        "receivers": [{"name": "null"}, {"name": "quoted"}],
    }
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config))
    label, _, value = am_routes.parse_matcher(config["route"]["routes"][0]["matchers"][0])
    assert value == 'say "hi"'
    assert _routed(path, {label: value}) == "quoted"
