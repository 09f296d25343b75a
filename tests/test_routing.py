"""Alertmanager routing: the spec's receivers and teams, the generated configuration and
AlertmanagerConfig, and the routing tests `obskit test` runs with amtool."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree
from obskit.verify.tree import _routing_checks, check_tree
from tests.conftest import EXAMPLES, MINIMAL, problems_of
from tests.schemas import crd_validator, schema_errors

ALERTMANAGERCONFIG_CRD = ("schemas", "prometheus-operator", "monitoring.coreos.com_alertmanagerconfigs.yaml")

ALERTING = """\
    alerting:
      receivers:
        oncall: {pagerduty: {routing_key: {secret: pd, key: routing-key}}}
        tickets: {webhook: {url: "http://bridge:8080/t"}}
      page: oncall
      ticket: tickets
"""


def _spec(alerting: str = ALERTING, teams: str = "") -> str:
    env = "  prod:\n    labels: {env: prod}\n"
    return MINIMAL.replace(env, env + alerting) + teams


def test_the_examples_route_table(prod_tree: dict[str, str]) -> None:
    tests = yaml.safe_load(prod_tree["alertmanager/routes.test.yaml"])
    table = {(c["labels"].get("service"), c["labels"]["severity"]): c["receiver"] for c in tests["cases"]}
    assert table == {
        ("catalog-api", "critical"): "oncall-pager",
        ("catalog-api", "warning"): "tickets",
        ("catalog-api", "info"): "platform-chat",
        ("checkout", "critical"): "payments-pager",  # the payments team's own
        ("checkout", "warning"): "payments-chat",
        ("checkout", "info"): "platform-chat",  # the team has no info receiver: the environment's
        ("catalog-export", "critical"): "oncall-pager",
        ("catalog-export", "warning"): "tickets",
        ("catalog-export", "info"): "platform-chat",
        ("search-indexer", "critical"): "oncall-pager",
        ("search-indexer", "warning"): "tickets",
        ("search-indexer", "info"): "platform-chat",
        # not obskit's: the AlertmanagerConfig routes obskit's alerts only, the chart's configuration the rest
        (None, "critical"): "null",
        (None, "warning"): "null",
        (None, "none"): "null",  # the chart's Watchdog
    }


def test_every_alert_carries_the_marker_the_routes_match(prod_tree: dict[str, str]) -> None:
    for path, text in prod_tree.items():
        if path.startswith("prometheus/rulefiles/"):
            for group in yaml.safe_load(text)["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        assert rule["labels"]["managed_by"] == "obskit", (path, rule["alert"])
    config = yaml.safe_load(prod_tree["alertmanager/alertmanager.yaml"])
    (obskit_route,) = config["route"]["routes"]
    assert obskit_route["matchers"] == ['managed_by="obskit"']
    assert all('managed_by="obskit"' in rule["source_matchers"] for rule in config["inhibit_rules"])
    # obskit's alerts mute only obskit's, but for kube-prometheus-stack's twins of its workload
    # alerts, named one by one (alertname=, or =~ of names: no pattern reaches another alert)
    others = [rule for rule in config["inhibit_rules"] if 'managed_by="obskit"' not in rule["target_matchers"]]
    assert {rule["target_matchers"][0] for rule in others} >= {'alertname="KubePodCrashLooping"'}
    for rule in others:
        (matcher,) = rule["target_matchers"]
        assert re.fullmatch(r'alertname=~?"Kube[A-Za-z]+(\|Kube[A-Za-z]+)*"', matcher), matcher
        assert "namespace" in rule["equal"] and len(rule["equal"]) == 2


def test_secrets_are_files_in_the_config_and_secret_keys_in_the_resource(prod_tree: dict[str, str]) -> None:
    config = prod_tree["alertmanager/alertmanager.yaml"]
    assert "routing_key_file: /etc/alertmanager/secrets/pagerduty-oncall/routing-key" in config
    assert "api_url_file: /etc/alertmanager/secrets/slack-payments/url" in config
    resource = yaml.safe_load(prod_tree["alertmanager/alertmanagerconfig.yaml"])
    receivers = {r["name"]: r for r in resource["spec"]["receivers"]}
    (pagerduty,) = receivers["oncall-pager"]["pagerdutyConfigs"]
    assert pagerduty["routingKey"] == {"name": "pagerduty-oncall", "key": "routing-key"}
    assert resource["metadata"]["namespace"] == "monitoring"


def test_the_alertmanagerconfig_matches_the_upstream_crd(prod_tree: dict[str, str]) -> None:
    validator = crd_validator(*ALERTMANAGERCONFIG_CRD)
    assert schema_errors(validator, yaml.safe_load(prod_tree["alertmanager/alertmanagerconfig.yaml"])) == []


@pytest.mark.tools("promtool", "amtool")
def test_every_integration_renders_and_passes_amtool(write_spec, tmp_path: Path) -> None:
    alerting = """\
    alerting:
      receivers:
        pager: {pagerduty: {routing_key: {secret: pd, key: routing-key}}}
        chat: {slack: {api_url: {secret: slack, key: url}, channel: "#a"}}
        hook: {webhook: {url: "https://bridge.example.com/t"}}
        mail: {email: {to: a@example.com, from: am@example.com, smarthost: "smtp.example.com:587",
                       auth_username: am, auth_password: {secret: smtp, key: password}}}
        genie: {opsgenie: {api_key: {secret: opsgenie, key: api-key}}}
      page: pager
      ticket: hook
      info: chat
"""
    teams = "teams:\n  payments: {page: genie, ticket: mail}\n"
    plan = load_plan(write_spec(_spec(alerting, teams)), "prod")
    tree = generate_tree(plan)
    validator = crd_validator(*ALERTMANAGERCONFIG_CRD)
    assert schema_errors(validator, yaml.safe_load(tree["alertmanager/alertmanagerconfig.yaml"])) == []
    assert "auth_password_file: /etc/alertmanager/secrets/smtp/password" in tree["alertmanager/alertmanager.yaml"]
    out = tmp_path / "out"
    write(out, output_tree(plan))
    report = check_tree(out)
    assert report.ok, "\n".join(f"{c.title}: {c.details}" for c in report.checks)


def test_without_alerting_there_is_no_alertmanager_output(write_spec) -> None:
    tree = generate_tree(load_plan(write_spec(MINIMAL), "prod"))
    assert not [path for path in tree if path.startswith("alertmanager/")]


@pytest.mark.tools("amtool")
def test_a_wrong_route_fails_obskit_test_with_a_table(tmp_path: Path) -> None:
    out = tmp_path / "prod"
    write(out, output_tree(load_plan(EXAMPLES, "prod")))
    config = out / "alertmanager/alertmanager.yaml"
    text = config.read_text()
    broken = text.replace("receiver: payments-pager", "receiver: oncall-pager")
    assert broken != text
    config.write_text(broken)
    # the checks `obskit test` runs on the Alertmanager configuration (promtool's do not read it)
    failed = [check for check in _routing_checks(out) if not check.ok]
    assert [check.title.split(" (")[0] for check in failed] == ["Alertmanager routes"]
    lines = failed[0].details.splitlines()
    assert lines[0].split() == ["service", "severity", "expected", "got"]
    assert lines[1].split() == ["checkout", "critical", "payments-pager", "oncall-pager"]


@pytest.mark.tools("amtool")
def test_routes_are_tested_from_a_relative_out_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """amtool runs in the tree's directory: the configuration it is given must not be relative to ours."""
    write(tmp_path / "out" / "prod", output_tree(load_plan(EXAMPLES, "prod")))
    monkeypatch.chdir(tmp_path)
    routes = [check for check in _routing_checks(Path("out/prod")) if check.title.startswith("Alertmanager routes")]
    assert [check.ok for check in routes] == [True], routes


_UNUSED = (
    "environments.prod.alerting.receivers.oncall: receiver 'oncall' is not used by any route: name it in page, "
    "ticket, info, watchdog or extra_routes here or in a team of this environment's services, or remove it"
)
MISTAKES = {
    "secret as a value": (
        ALERTING.replace("{secret: pd, key: routing-key}", "s3cr3t-routing-key"),
        "",
        [
            "obskit.yaml:9: environments.prod.alerting.receivers.oncall.pagerduty.routing_key: is a secret: "
            "reference it as {secret: <Secret name>, key: <key in the Secret>}, never as a value"
        ],
    ),
    "unknown receiver": (
        ALERTING.replace("page: oncall", "page: on-call"),
        "",
        [
            f"obskit.yaml:9: {_UNUSED}",
            "obskit.yaml:11: environments.prod.alerting.page: 'on-call' is not one of this environment's alerting "
            "receivers (oncall, tickets); did you mean 'oncall'?",
        ],
    ),
    "unused receiver": (ALERTING.replace("page: oncall", "page: tickets"), "", [f"obskit.yaml:9: {_UNUSED}"]),
    "two integrations": (
        ALERTING.replace('{webhook: {url: "http://bridge:8080/t"}}', '{webhook: {url: "http://b:1/t"}, slack: {}}'),
        "",
        [
            "obskit.yaml:10: environments.prod.alerting.receivers.tickets.slack.api_url: required field is missing",
            "obskit.yaml:10: environments.prod.alerting.receivers.tickets.slack.channel: required field is missing",
        ],
    ),
    "team's unknown receiver": (
        ALERTING,
        "teams:\n  payments: {page: payments-pager}\n",
        [
            "obskit.yaml:21: teams.payments.page: 'payments-pager' is not one of the environment's alerting "
            "receivers (oncall, tickets) (environment prod)"
        ],
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_routing_mistakes_are_errors_at_their_line(write_spec, mistake: str) -> None:
    alerting, teams, messages = MISTAKES[mistake]
    assert problems_of(write_spec(_spec(alerting, teams))) == messages


def test_a_receiver_has_exactly_one_integration(write_spec) -> None:
    both = '{webhook: {url: "http://b:1/t"}, slack: {api_url: {secret: s, key: u}, channel: x}}'
    spec = _spec(ALERTING.replace('{webhook: {url: "http://bridge:8080/t"}}', both))
    assert problems_of(write_spec(spec)) == [
        "obskit.yaml:10: environments.prod.alerting.receivers.tickets: a receiver has exactly one integration "
        "(pagerduty, slack, webhook, email, opsgenie); found slack, webhook"
    ]


TWO_TEAMS = """\
    alerting:
      receivers:
        oncall: {pagerduty: {routing_key: {secret: pd, key: routing-key}}}
        tickets: {webhook: {url: "http://bridge:8080/t"}}
        payments-pager: {pagerduty: {routing_key: {secret: pd-payments, key: routing-key}}}
        search-pager: {pagerduty: {routing_key: {secret: pd-search, key: routing-key}}}
      page: oncall
      ticket: tickets
"""
SEARCH = """\
  search:
    namespace: search
    tier: tier2_standard
    team: search
    selector: {app: search}
    metrics: {port: http-metrics}
teams:
  payments: {page: payments-pager}
  search: {page: search-pager}
"""


@pytest.mark.parametrize(
    ("mistake", "fixed", "message"),
    [
        ("namespace: shop", "namespace: Shop", "obskit.yaml:17: services.checkout.namespace: 'Shop' is not a DNS-1123"),
        ("tier: tier1_critical", "tier: tier9", "obskit.yaml:18: services.checkout.tier: unknown tier 'tier9'"),
        ("teams:\n", "tiers: {tier1_critical: {rpo: 5x}}\nteams:\n", "obskit.yaml:28: tiers.tier1_critical.rpo: '5x'"),
    ],
)
def test_an_invalid_service_still_counts_its_teams_receivers(
    write_spec, mistake: str, fixed: str, message: str
) -> None:
    """One mistake in one service (or its tier) is one problem: its team's receivers are still used."""
    good = _spec(TWO_TEAMS) + SEARCH
    assert load_plan(write_spec(good), "prod") is not None
    problems = problems_of(write_spec(good.replace(mistake, fixed, 1)))
    assert len(problems) == 1 and problems[0].startswith(message), problems


def test_a_webhook_url_can_come_from_a_secret(write_spec, tmp_path: Path) -> None:
    alerting = ALERTING.replace(
        '{webhook: {url: "http://bridge:8080/t"}}', "{webhook: {url_secret: {secret: teams-hook, key: url}}}"
    )
    tree = generate_tree(load_plan(write_spec(_spec(alerting)), "prod"))
    config = yaml.safe_load(tree["alertmanager/alertmanager.yaml"])
    tickets = next(r for r in config["receivers"] if r["name"] == "tickets")
    assert tickets["webhook_configs"] == [{"url_file": "/etc/alertmanager/secrets/teams-hook/url"}]
    resource = yaml.safe_load(tree["alertmanager/alertmanagerconfig.yaml"])
    tickets = next(r for r in resource["spec"]["receivers"] if r["name"] == "tickets")
    assert tickets["webhookConfigs"] == [{"urlSecret": {"name": "teams-hook", "key": "url"}}]
    assert schema_errors(crd_validator(*ALERTMANAGERCONFIG_CRD), resource) == []


@pytest.mark.parametrize(
    ("webhook", "found"),
    [
        ('{url: "http://b:1/t", url_secret: {secret: s, key: u}}', "found url and url_secret"),
        ("{}", "found none"),
    ],
)
def test_a_webhook_has_exactly_one_of_url_and_url_secret(write_spec, webhook: str, found: str) -> None:
    spec = _spec(ALERTING.replace('{webhook: {url: "http://bridge:8080/t"}}', f"{{webhook: {webhook}}}"))
    assert problems_of(write_spec(spec)) == [
        "obskit.yaml:10: environments.prod.alerting.receivers.tickets.webhook: give exactly one of url (with no "
        f"credential in it) and url_secret ({{secret: <Secret name>, key: <key holding the URL>}}); {found}"
    ]
