"""The generated rules: names, labels, exact thresholds, group limits, schema, promtool."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from obskit.generate.rules.catalog import pod_label_matchers
from obskit.generate.tree import generate_tree
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree, validate
from obskit.plan import burnrate
from obskit.spec.alert_templates import load_catalog
from obskit.spec.problems import SpecInvalid
from obskit.verify import objects, promtool
from obskit.verify.tree import check_tree
from tests.conftest import EXAMPLES, MINIMAL, problems_of
from tests.schemas import crd_validator, schema_errors
from tests.servers import VERSION_PARAMS, VERSIONS, require_binary

PROMETHEUSRULE_CRD = ("schemas", "prometheus-operator", "monitoring.coreos.com_prometheusrules.yaml")


def rules_of(tree: dict[str, str], service: str) -> list[dict]:
    groups = yaml.safe_load(tree[f"prometheus/rulefiles/{service}.rules.yaml"])["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts_of(tree: dict[str, str], service: str, name: str) -> list[dict]:
    return [rule for rule in rules_of(tree, service) if rule.get("alert") == name]


def test_every_prometheusrule_matches_the_upstream_crd(prod_tree: dict[str, str]) -> None:
    validator = crd_validator(*PROMETHEUSRULE_CRD)
    rules = [path for path in prod_tree if path.startswith("prometheus/rules/")]
    assert len(rules) == 4
    for path in rules:
        assert schema_errors(validator, yaml.safe_load(prod_tree[path])) == [], path


def test_prometheusrule_and_plain_file_hold_the_same_groups(prod_tree: dict[str, str]) -> None:
    crd = yaml.safe_load(prod_tree["prometheus/rules/checkout.yaml"])
    plain = yaml.safe_load(prod_tree["prometheus/rulefiles/checkout.rules.yaml"])
    assert crd["spec"]["groups"] == plain["groups"]
    assert crd["metadata"] == {
        "name": "checkout",
        "namespace": "shop",
        "labels": {"release": "kube-prometheus-stack", "app.kubernetes.io/managed-by": "obskit"},
    }
    assert "partial_response_strategy" not in prod_tree["prometheus/rulefiles/checkout.rules.yaml"]


def test_group_names_are_unique_and_groups_small(prod_tree: dict[str, str]) -> None:
    names = []
    for path, text in prod_tree.items():
        if path.startswith("prometheus/rulefiles/"):
            for group in yaml.safe_load(text)["groups"]:
                names.append(group["name"])
                assert 0 < len(group["rules"]) <= 20, group["name"]
    assert len(names) == len(set(names))
    assert "obskit/checkout/availability/sli" in names


def test_recording_rule_names_follow_level_metric_operations(prod_tree: dict[str, str]) -> None:
    records = {rule["record"] for rule in rules_of(prod_tree, "checkout") if "record" in rule}
    for name in records:
        assert re.fullmatch(r"(slo|dr):[a-z_]+:[a-z0-9_]+", name), name
    assert {
        "slo:sli_errors:rate5m",
        "slo:sli_total:rate5m",
        "slo:sli_error:ratio_rate30m",
        "slo:sli_error:ratio_rate3d",
        "slo:sli_error:ratio_rate30d",
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:error_budget_remaining:ratio",
        "slo:burn_rate:ratio_rate1h",
    } <= records


def test_long_windows_read_the_recorded_5m_rates_not_raw_series(prod_tree: dict[str, str]) -> None:
    """Short windows average the 5m rates; the 2m group's windows average its own 10m average of them."""
    groups = yaml.safe_load(prod_tree["prometheus/rulefiles/checkout.rules.yaml"])["groups"]
    group_of = {(r["record"], r["labels"].get("slo")): g["name"] for g in groups for r in g["rules"] if "record" in r}
    for rule in rules_of(prod_tree, "checkout"):
        record = rule.get("record", "")
        if re.fullmatch(r"slo:sli_(errors|total):rate(?!5m$)\w+", record):
            source = "rate10m" if group_of[record, rule["labels"]["slo"]].endswith("sli-long") else "rate5m"
            if record.endswith(":rate10m"):
                source = "rate5m"
            assert rule["expr"].startswith(f"avg_over_time({record.rsplit(':', 1)[0]}:{source}{{"), rule
            assert "http_requests_total" not in rule["expr"]


def test_burn_rate_thresholds_are_exact_decimals(prod_tree: dict[str, str]) -> None:
    by_window = {
        (a["labels"]["long_window"], a["labels"]["slo"]): a for a in alerts_of(prod_tree, "checkout", "ErrorBudgetBurn")
    }
    # availability: 99.95 over 30d -> budget 0.0005 x 14.4 / 6 / 3 / 1
    assert [by_window[(w, "availability")]["expr"].split("> ")[1].split("\n")[0] for w in ("1h", "6h", "1d", "3d")] == [
        "0.0072",
        "0.003",
        "0.0015",
        "0.0005",
    ]
    # catalog-api: the tier's 99.9 over 28d keeps the 30d factors (scaled down, 3d would be 14/15x)
    catalog = {a["labels"]["long_window"]: a for a in alerts_of(prod_tree, "catalog-api", "ErrorBudgetBurn")}
    assert catalog["1h"]["expr"].split("\n")[2].endswith("> 0.0144")
    assert "14.4x the sustainable rate" in catalog["1h"]["annotations"]["description"]
    assert catalog["3d"]["expr"].split("\n")[2].endswith("> 0.001")
    assert burnrate.decimal_text(Fraction(14, 15)) == "0.933333333333333"  # 15 significant digits
    for alert in alerts_of(prod_tree, "checkout", "ErrorBudgetBurn"):
        assert "e-" not in alert["expr"] and "999999" not in alert["expr"]


def test_every_alert_carries_the_contract_labels_and_annotations(prod_tree: dict[str, str]) -> None:
    for service in ("checkout", "catalog-api", "search-indexer"):
        alerts = [rule for rule in rules_of(prod_tree, service) if "alert" in rule]
        assert {a["alert"] for a in alerts} >= {
            "ErrorBudgetBurn",
            "ServiceDown",
            "ServiceTargetsMissing",
            "SLIMetricMissing",
        }
        for alert in alerts:
            assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", alert["alert"])
            labels = alert["labels"]
            assert labels["service"] == service and labels["env"] == "prod" and labels["cluster"] == "prod-eu-1"
            assert labels["severity"] in ("critical", "warning", "info")
            assert labels["tier"] and labels["team"]
            notes = alert["annotations"]
            assert notes["summary"].endswith(".") and "{{" not in notes["summary"]
            assert "{{" in notes["description"]
            assert notes["runbook_url"].endswith(f"/out/prod/runbooks/{service}.md#{alert['alert'].lower()}")


def test_severity_follows_the_tier(prod_tree: dict[str, str]) -> None:
    def severities(service: str) -> dict[str, str]:
        return {
            a["labels"]["long_window"]: a["labels"]["severity"]
            for a in alerts_of(prod_tree, service, "ErrorBudgetBurn")
            if a["labels"]["slo"] in ("availability", "freshness")
        }

    assert severities("checkout") == {"1h": "critical", "6h": "critical", "1d": "warning", "3d": "warning"}
    assert severities("search-indexer") == {"1h": "warning", "6h": "warning", "1d": "warning", "3d": "warning"}
    assert alerts_of(prod_tree, "checkout", "ServiceDown")[0]["labels"]["severity"] == "critical"
    assert alerts_of(prod_tree, "search-indexer", "ServiceDown")[0]["labels"]["severity"] == "warning"
    assert alerts_of(prod_tree, "search-indexer", "ServiceDown")[0]["for"] == "15m"


def test_burn_alerts_name_their_windows(prod_tree: dict[str, str]) -> None:
    pairs = {
        (a["labels"]["long_window"], a["labels"]["short_window"])
        for a in alerts_of(prod_tree, "checkout", "ErrorBudgetBurn")
    }
    assert pairs == {("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")}


def test_sli_kinds_become_the_right_queries(prod_tree: dict[str, str]) -> None:
    base = {
        (r["labels"]["slo"], r["record"]): r["expr"]
        for r in rules_of(prod_tree, "checkout") + rules_of(prod_tree, "search-indexer")
        if r.get("record") in ("slo:sli_errors:rate5m", "slo:sli_total:rate5m")
    }
    # 0, not absent, while the total has traffic and no error series exists yet
    assert base[("availability", "slo:sli_errors:rate5m")] == (
        'sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m]))\n'
        "or on ()\n"
        '0 * sum(rate(http_requests_total{job="checkout"}[5m]))'
    )
    assert (
        base[("latency", "slo:sli_total:rate5m")]
        == 'sum(rate(http_request_duration_seconds_count{job="checkout"}[5m]))'
    )
    assert base[("latency", "slo:sli_errors:rate5m")].endswith(
        '- sum(rate(http_request_duration_seconds_bucket{job="checkout",le=~"0\\\\.30*"}[5m]))'
    )
    assert base[("freshness", "slo:sli_errors:rate5m")] == (
        '(sum(rate(indexer_documents_failed_total{job="search-indexer"}[5m])))\n'
        "or on ()\n"
        '0 * (sum(rate(indexer_documents_processed_total{job="search-indexer"}[5m])))'
    )


def test_whole_second_thresholds_match_every_spelling_of_le(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      latency: {latency: {histogram: 'h_seconds{job="x"}', threshold: 1s}}
"""
    )
    tree = generate_tree(load_plan(write_spec(text), "prod"))
    (errors,) = [r["expr"] for r in rules_of(tree, "checkout") if r.get("record") == "slo:sli_errors:rate5m"]
    assert 'le=~"1(\\\\.0*)?"' in errors  # 1 (Go, Prometheus 2), 1.0 (Python, Prometheus 3)


def test_unreachable_burn_rate_objective_is_refused(write_spec) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      availability: {objective: 90, errors: 'a_total{code="5"}', total: a_total}
"""
    )
    path = write_spec(text)
    expected = (
        "obskit.yaml:15: services.checkout.slos.availability.objective: objective 90 leaves an error budget of 10%: "
        "the 1h/5m burn-rate alert (14.4x) would need an error ratio above 100% and could never fire; "
        "use an objective above 93.0555555555556"
    )
    # a plan problem: `validate` and every command that plans (`obskit plan` too) report it, once
    for check in (lambda: validate(path), lambda: load_plan(path, "prod", feasible=False)):
        with pytest.raises(SpecInvalid) as caught:
            check()
        assert [str(problem).replace(f"{path.parent}/", "") for problem in caught.value.problems] == [expected]


def test_an_unreachable_tier_objective_is_reported_once_at_the_slo(write_spec) -> None:
    text = (
        MINIMAL.replace("tier: tier1_critical", "tier: lax").replace(
            "    labels: {env: prod}\n", "    labels: {env: prod}\n  staging:\n    labels: {env: staging}\n"
        )
        + """\
    slos:
      availability: {errors: 'a_total{code="5"}', total: a_total}
tiers:
  lax: {rto: 4h, rpo: 24h, scrape_interval: 60s, slo_objective: 90, pages: false,
        restore_drill_interval: 90d, retention: 7d}
"""
    )
    path = write_spec(text)
    with pytest.raises(SpecInvalid) as caught:
        validate(path)
    assert [str(problem).replace(f"{path.parent}/", "") for problem in caught.value.problems] == [
        "obskit.yaml:17: services.checkout.slos.availability: objective 90 (the tier's slo_objective) leaves "
        "an error budget of 10%: the 1h/5m burn-rate alert (14.4x) would need an error ratio above 100% and "
        "could never fire; use an objective above 93.0555555555556"
    ]


@pytest.mark.slow
@pytest.mark.tools("promtool", "amtool")
def test_the_generated_unit_tests_catch_a_wrong_threshold(tmp_path: Path) -> None:
    out = tmp_path / "prod"
    write(out, output_tree(load_plan(EXAMPLES, "prod")))
    rule_file = out / "prometheus/rulefiles/checkout.rules.yaml"
    rule_file.write_text(rule_file.read_text().replace("> 0.0072", "> 0.072"))
    report = check_tree(out)
    failed = [c for c in report.checks if not c.ok]
    assert [c.title.split(" (")[0] for c in failed] == [
        "promtool test rules",
        "the rule engine's files match the plain rule files",
    ]
    assert "SLOs: fast burn" in failed[0].details
    # the test ran in parts, with the rule groups it reaches; the failure names the real file
    assert "prometheus/tests/checkout.test.yaml:" in failed[0].details
    assert ".part-" not in failed[0].details


@pytest.mark.tools("promtool")
def test_the_generated_unit_tests_catch_a_ratio_over_the_wrong_series(tmp_path: Path) -> None:
    out = tmp_path / "prod"
    write(out, output_tree(load_plan(EXAMPLES, "prod")))
    rule_file = out / "prometheus/rulefiles/search-indexer.rules.yaml"
    text = rule_file.read_text()
    broken = text.replace("avg_over_time(slo:sli_errors:rate5m", "avg_over_time(slo:sli_total:rate5m", 1)
    assert broken != text
    rule_file.write_text(broken)
    assert not promtool.test_rules(out, ["prometheus/tests/search-indexer.test.yaml"]).ok


@pytest.mark.tools("promtool")
def test_lint_fatal_refuses_a_duplicate_rule(tmp_path: Path) -> None:
    rule = {"record": "a:b:c", "expr": "vector(1)"}
    (tmp_path / "dup.rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [rule, rule]}]}))
    outcome = promtool.check_rules(tmp_path, ["dup.rules.yaml"])
    assert not outcome.ok
    assert "duplicate" in outcome.output.lower()


def test_a_missing_promtool_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSKIT_PROMTOOL", str(tmp_path / "nope"))
    with pytest.raises(promtool.PromtoolMissing, match="not an executable file"):
        promtool.find_promtool()
    monkeypatch.delenv("OBSKIT_PROMTOOL")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(promtool.PromtoolMissing, match="apt-get install prometheus"):
        promtool.find_promtool()


def test_object_check_catches_a_field_the_model_drops(prod_tree: dict[str, str]) -> None:
    document = yaml.safe_load(prod_tree["prometheus/rules/checkout.yaml"])
    assert objects.object_problems(document) == []
    document["spec"]["groups"][0]["rules"][0]["severity"] = "critical"
    assert objects.object_problems(document) == [
        "spec.groups[0].rules[0].severity: not part of the schema (the model dropped it)"
    ]
    monitor = yaml.safe_load(prod_tree["prometheus/servicemonitors/checkout.yaml"])
    assert objects.object_problems(monitor) == []


def _catalog_problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "custom.yaml"
    path.write_text(text)
    with pytest.raises(SpecInvalid) as caught:
        load_catalog([path])
    return [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems]


CATALOG_ENTRY = """\
apiVersion: obskit/alerts/v1
group: custom
alerts:
  HighLatency:
    expr: 'histogram_quantile(0.99, rate(h_bucket{job="[[job]]"}[5m])) > 1'
    severity: warning
    summary: Requests are slow.
    description: 'p99 of {{ $labels.job }} is above 1s.'
    tests:
      fires: {series: {}, labels: {}}
      silent: {series: {}}
"""


def test_catalog_entries_are_checked_with_file_and_line(tmp_path: Path) -> None:
    assert len(load_catalog([_write(tmp_path, CATALOG_ENTRY)])) == 1
    bad = CATALOG_ENTRY.replace("[[job]]", "[[jobb]]").replace("Requests are slow.", "Requests of {{ $labels.job }}")
    bad = bad.replace("severity: warning", "severity: urgent")
    assert _catalog_problems(tmp_path, bad) == [
        "custom.yaml:6: alerts.HighLatency.severity: 'urgent' is not allowed; choose one of: page, critical, warning, info",
    ]
    bad = CATALOG_ENTRY.replace("[[job]]", "[[jobb]]").replace("Requests are slow.", "Requests of {{ $labels.job }}")
    assert _catalog_problems(tmp_path, bad) == [
        "custom.yaml:5: alerts.HighLatency.expr: unknown placeholder [[jobb]]; known: service, job, namespace, pod_labels, tier, "
        "team, platform_for, span, backup_job_owners, backup_job",
        "custom.yaml:7: alerts.HighLatency.summary: 'Requests of {{ $labels.job }}': a summary has no templates and "
        "ends with a full stop",
    ]
    assert _catalog_problems(tmp_path, CATALOG_ENTRY.replace("> 1'", "> '")) == [
        "custom.yaml:5: alerts.HighLatency.expr: not valid PromQL: invalid promql query"
    ]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    return path


def test_a_spec_can_add_its_own_alert_catalog(write_spec, tmp_path: Path) -> None:
    (tmp_path / "team-alerts").mkdir()
    (tmp_path / "team-alerts" / "latency.yaml").write_text(CATALOG_ENTRY)
    path = write_spec("alert_catalogs: [team-alerts]\n" + MINIMAL)
    tree = generate_tree(load_plan(path, "prod"))
    (alert,) = alerts_of(tree, "checkout", "HighLatency")
    assert alert["expr"] == 'histogram_quantile(0.99, rate(h_bucket{job="checkout"}[5m])) > 1'
    assert alert["labels"]["severity"] == "warning"
    groups = [g["name"] for g in yaml.safe_load(tree["prometheus/rulefiles/checkout.rules.yaml"])["groups"]]
    assert "obskit/checkout/custom" in groups
    tests = yaml.safe_load(tree["prometheus/tests/checkout.every-1m.test.yaml"])["tests"]
    cases = {case for t in tests for case in t["name"].split(" + ")}  # independent cases share groups
    assert {"HighLatency fires", "HighLatency silent"} <= cases


def test_a_missing_alert_catalog_is_reported_at_its_line(write_spec) -> None:
    path = write_spec("alert_catalogs: [nope]\n" + MINIMAL)
    assert problems_of(path) == [
        "obskit.yaml:1: alert_catalogs[0]: 'nope': no such catalog file or directory of *.yaml files "
        "(paths are relative to the folder of obskit.yaml)"
    ]


@pytest.mark.tools("promtool")
def test_slos_sharing_series_get_tests_of_their_own_that_pass(write_spec, tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """\
    slos:
      server-errors: {errors: 'http_requests_total{job="checkout",code=~"5.."}', total: 'http_requests_total{job="checkout"}'}
      throttled: {objective: 99, errors: 'http_requests_total{job="checkout",code="429"}', total: 'http_requests_total{job="checkout"}'}
"""
    )
    out = tmp_path / "out"
    write(out, output_tree(load_plan(write_spec(text), "prod")))
    tests = yaml.safe_load((out / "prometheus/tests/checkout.test.yaml").read_text())["tests"]
    names = {case for t in tests for case in t["name"].split(" + ")}  # independent cases share groups
    assert "SLO throttled: fast burn" in names and "SLOs: fast burn" not in names
    outcome = promtool.test_rules(out, ["prometheus/tests/checkout.test.yaml"])
    assert outcome.ok, outcome.output


@pytest.mark.parametrize("service", ["checkout", "catalog-api", "search-indexer"])
def test_every_alert_and_recorded_series_carries_the_services_own_namespace(
    prod_tree: dict[str, str], service: str
) -> None:
    """Over any exporter's or the Pushgateway's namespace: kube-prometheus-stack's default
    inhibit rules match on namespace and must not let one service's page mute another's."""
    namespace = yaml.safe_load(prod_tree[f"prometheus/servicemonitors/{service}.yaml"])["metadata"]["namespace"]
    rules = rules_of(prod_tree, service)
    assert rules and {rule["labels"].get("namespace") for rule in rules} == {namespace}


def test_namespace_is_reserved_in_the_environment_labels(write_spec) -> None:
    text = MINIMAL.replace("    labels: {env: prod}", "    labels: {env: prod, namespace: monitoring}")
    with pytest.raises(SpecInvalid, match="label 'namespace' is set by obskit itself"):
        load_plan(write_spec(text), "prod")


@pytest.mark.parametrize("version", VERSION_PARAMS)
@pytest.mark.parametrize(
    "environment",
    [
        pytest.param("prod", marks=pytest.mark.tools("amtool")),  # it has an Alertmanager configuration
        pytest.param("staging", marks=pytest.mark.slow),
    ],
)
def test_the_generated_rules_and_tests_pass_on_each_prometheus_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, environment: str
) -> None:
    """`obskit test` passes on the example's trees, every check in its order, with Debian stable's
    promtool 2.42 and 3.5 LTS (left-open ranges, le normalisation) alike."""
    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary(VERSIONS[version][1]))
    out = tmp_path / environment
    write(out, output_tree(load_plan(EXAMPLES, environment)))
    assert promtool.version().startswith(f"promtool, version {version[0]}.")
    report = check_tree(out)
    assert report.ok, "\n".join(f"{c.title}: {c.details}" for c in report.checks)
    routing = ["amtool check-config alertmanager/alertmanager.yaml", "Alertmanager routes"]
    assert [c.title.split(" (")[0] for c in report.checks] == [
        "promtool check rules --lint-fatal",
        "promtool test rules",
        "the rule engine's files match the plain rule files",
        "objects pass their models and schemas",
        *(routing if environment == "prod" else []),
    ]


def test_no_alert_name_collides_with_kube_prometheus_stack_defaults(prod_tree: dict[str, str]) -> None:
    """The chart's own rules (TargetDown, KubePodCrashLooping, ...) keep their meaning, and its
    inhibit rules, which match on alertname, never pair one of them with one of obskit's."""
    lines = (Path(__file__).parent / "data" / "kube_prometheus_stack_alerts.txt").read_text().splitlines()
    chart = {line for line in lines if line and not line.startswith("#")}
    assert {"TargetDown", "KubePodCrashLooping", "KubePodNotReady", "Watchdog"} <= chart
    ours = {
        rule["alert"]
        for service in ("checkout", "catalog-api", "search-indexer")
        for rule in rules_of(prod_tree, service)
        if "alert" in rule
    }
    assert ours and not ours & chart


def test_workload_alerts_select_the_services_pods_through_kube_pod_labels(prod_tree: dict[str, str]) -> None:
    crash = alerts_of(prod_tree, "checkout", "ServicePodCrashLooping")[0]
    assert 'kube_pod_labels{namespace="shop",label_app_kubernetes_io_name="checkout"}' in crash["expr"]
    assert crash["labels"]["severity"] == "warning"
    assert pod_label_matchers({"app.kubernetes.io/name": "x", "tier": "web"}) == (
        'label_app_kubernetes_io_name="x",label_tier="web"'
    )


def test_no_burn_alert_fires_below_1x_whatever_the_window(write_spec) -> None:
    """Short windows keep the 30d factors (7d scaled down would ticket at 0.7x and 0.233x);
    longer windows scale up, spending the same share of their budget per long window."""

    def factors(window: str) -> dict[str, str]:
        text = (
            MINIMAL
            + f"""\
    slos:
      availability: {{window: {window}, errors: 'a_total{{code="5"}}', total: a_total}}
"""
        )
        tree = generate_tree(load_plan(write_spec(text), "prod"))
        return {
            a["labels"]["long_window"]: a["annotations"]["description"].split(" over ")[1].split("x the")[0]
            for a in alerts_of(tree, "checkout", "ErrorBudgetBurn")
        }

    assert factors("7d") == {"1h": "14.4", "6h": "6", "1d": "3", "3d": "1"}
    assert factors("30d") == {"1h": "14.4", "6h": "6", "1d": "3", "3d": "1"}
    assert factors("90d") == {"1h": "43.2", "6h": "18", "1d": "9", "3d": "3"}


def _slo_spec(alerts: str = "", environment: str = "") -> str:
    return (
        MINIMAL.replace("    labels: {env: prod}\n", f"    labels: {{env: prod}}\n{environment}")
        + f"""\
    slos:
      availability:
        errors: 'http_requests_total{{job="checkout",code=~"5.."}}'
        total: 'http_requests_total{{job="checkout"}}'
        {alerts}
"""
    )


@pytest.mark.tools("promtool")
def test_an_slo_can_drop_its_page_or_its_ticket_and_add_labels_and_annotations(write_spec, tmp_path: Path) -> None:
    def burn_alerts(alerts: str) -> list[dict]:
        return alerts_of(generate_tree(load_plan(write_spec(_slo_spec(alerts)), "prod")), "checkout", "ErrorBudgetBurn")

    assert {a["labels"]["severity"] for a in burn_alerts("alerts: {page: false}")} == {"warning"}
    assert {a["labels"]["severity"] for a in burn_alerts("alerts: {ticket: false}")} == {"critical"}
    assert burn_alerts("alerts: {page: false, ticket: false}") == []
    extra = "alerts: {page: false, labels: {channel: payments-oncall}, annotations: {playbook: 'https://x/y'}}"
    tree = generate_tree(load_plan(write_spec(_slo_spec(extra)), "prod"))
    slo_alerts = [r for r in rules_of(tree, "checkout") if "alert" in r and r["labels"].get("slo") == "availability"]
    assert {r["alert"] for r in slo_alerts} == {"ErrorBudgetBurn", "SLIMetricMissing"}
    for rule in slo_alerts:
        assert rule["labels"]["channel"] == "payments-oncall" and rule["annotations"]["playbook"] == "https://x/y"
    out = tmp_path / "out"
    write(out, output_tree(load_plan(write_spec(_slo_spec(extra)), "prod")))
    outcome = promtool.test_rules(out, ["prometheus/tests/checkout.test.yaml"])
    assert outcome.ok, outcome.output


@pytest.mark.tools("promtool")
def test_min_errors_keeps_a_handful_of_failed_requests_from_alerting(write_spec, tmp_path: Path) -> None:
    """The generated 'traffic near zero' case (a request every 5 minutes, the last five failing)
    passes with the default min_errors and fails on the same rules without it: they page."""
    default, without = tmp_path / "default", tmp_path / "without"
    write(default, output_tree(load_plan(write_spec(_slo_spec()), "prod")))
    write(without, output_tree(load_plan(write_spec(_slo_spec("alerts: {min_errors: 0}")), "prod")))
    test_file = "prometheus/tests/checkout.test.yaml"
    tests = yaml.safe_load((default / test_file).read_text())
    assert any("traffic near zero" in group["name"] for group in tests["tests"])
    assert "traffic near zero" not in (without / test_file).read_text()
    expr = alerts_of(generate_tree(load_plan(write_spec(_slo_spec()), "prod")), "checkout", "ErrorBudgetBurn")[0]
    assert (
        'slo:sli_errors:increase1h{env="prod",namespace="shop",service="checkout",slo="availability"} >= 10'
        in (expr["expr"])
    )
    assert promtool.test_rules(default, [test_file]).ok
    tests["tests"] = [group for group in tests["tests"] if "traffic near zero" in group["name"]]
    (without / test_file).write_text(yaml.safe_dump(tests))
    outcome = promtool.test_rules(without, [test_file])
    assert not outcome.ok and 'severity="critical"' in outcome.output, outcome.output


def test_burn_alerts_tell_the_on_call_the_value_threshold_sli_and_dashboard(write_spec) -> None:
    grafana = "    grafana_url: https://grafana.example.com/\n"
    plan = load_plan(write_spec(_slo_spec(environment=grafana)), "prod")
    page = alerts_of(generate_tree(plan), "checkout", "ErrorBudgetBurn")[0]["annotations"]
    assert page["description"] == (
        "{{ $labels.service }} is spending its {{ $labels.slo }} error budget at over 14.4x the sustainable rate: "
        "{{ $value | humanizePercentage }} of events failed over the last 1h, above the alert's threshold of 0.72%, "
        "and so did those of the last 5m. Objective 99.95% over 30d; at this rate the 30d budget is gone in 2d2h. "
        'SLI: events http_requests_total{job="checkout",code=~"5.."} out of http_requests_total{job="checkout"}.'
    )
    assert page["dashboard_url"] == "https://grafana.example.com/d/obskit-prod-slo?var-service=checkout"
    for rule in rules_of(generate_tree(plan), "checkout"):
        if "alert" in rule:
            assert rule["annotations"]["dashboard_url"] == page["dashboard_url"], rule["alert"]
    no_url = load_plan(write_spec(_slo_spec()), "prod")
    assert "dashboard_url" not in alerts_of(generate_tree(no_url), "checkout", "ErrorBudgetBurn")[0]["annotations"]
    assert any("grafana_url" in note for note in no_url.notes)


@pytest.mark.tools("promtool")
def test_platform_cases_evaluate_often_enough_to_see_a_blip(tmp_path: Path) -> None:
    """ServiceDown's silent case has every target down for one scrape, shorter than its `for:`.
    Evaluated every minute, as its group runs, a ServiceDown without `for:` fails it; at 0.5.1's
    5m steps the blip fell between evaluations and the same broken rule passed."""
    out = tmp_path / "prod"
    write(out, output_tree(load_plan(EXAMPLES, "prod")))
    rule_file = out / "prometheus/rulefiles/checkout.rules.yaml"
    text = rule_file.read_text()
    broken = text.replace(
        'max by (job) (up{job="checkout"}) == 0\n    for: 2m\n', 'max by (job) (up{job="checkout"}) == 0\n'
    )
    assert broken != text
    rule_file.write_text(broken)
    test_file = out / "prometheus/tests/checkout.every-1m.test.yaml"
    tests = yaml.safe_load(test_file.read_text())
    assert tests["evaluation_interval"] == "1m"
    tests["tests"] = [group for group in tests["tests"] if "ServiceDown silent" in group["name"]]
    test_file.write_text(yaml.safe_dump(tests))
    outcome = promtool.test_rules(out, ["prometheus/tests/checkout.every-1m.test.yaml"])
    assert not outcome.ok and "ServiceDown" in outcome.output
    test_file.write_text(yaml.safe_dump({**tests, "evaluation_interval": "5m"}))
    assert promtool.test_rules(out, ["prometheus/tests/checkout.every-1m.test.yaml"]).ok


def test_platform_groups_run_at_the_services_scrape_interval(prod_tree: dict[str, str]) -> None:
    intervals = {
        service: {
            group["name"].split("/")[-1]: group.get("interval")
            for group in yaml.safe_load(prod_tree[f"prometheus/rulefiles/{service}.rules.yaml"])["groups"]
        }
        for service in ("checkout", "search-indexer")
    }
    assert intervals["checkout"]["platform"] == "15s" and intervals["checkout"]["workload"] == "15s"
    assert intervals["search-indexer"]["platform"] == "1m"
    assert intervals["checkout"]["alerts"] is None  # the SLO alerts run at Prometheus' own interval


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_dr_alerts_fire_when_their_input_never_appears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    """A schedule that never succeeded, a database that never archived, a Pushgateway that lost
    obskit's metrics: the generated 'absent' cases (the drill's in a file of coarser steps, its limit being
    a week) fail on rules without the absent variants, as 0.5.1 had, and pass with them."""
    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary(VERSIONS[version][1]))
    out = tmp_path / "prod"
    write(out, output_tree(load_plan(EXAMPLES, "prod")))
    test_files = sorted(str(p.relative_to(out)) for p in (out / "prometheus/tests").glob("checkout.*test.yaml"))
    assert promtool.test_rules(out, test_files).ok
    rule_file = out / "prometheus/rulefiles/checkout.rules.yaml"
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    absent = [rule["alert"] for group in groups for rule in group["rules"] if rule.get("labels", {}).get("cause")]
    assert sorted(absent) == [
        "BackupTooOld",
        "BaseBackupTooOld",
        "FailoverBackupTooOld",  # the daily copy to the DR region
        "RestoreDrillOverdue",
        "StandbyReplayBehind",  # the DR standby's exporter lost
        "WALArchiveTooOld",
    ]
    for group in groups:
        group["rules"] = [rule for rule in group["rules"] if not rule.get("labels", {}).get("cause")]
    rule_file.write_text(yaml.safe_dump({"groups": groups}))
    outcome = promtool.test_rules(out, test_files)
    assert not outcome.ok
    for name in absent:
        assert f"alertname: {name}" in outcome.output, name


@pytest.mark.tools("promtool")
@pytest.mark.slow  # promtool on series hours long: 4.5 s of CPU at 1h
@pytest.mark.parametrize("held", ["1h", "6h"])
def test_dr_alerts_held_for_hours_pass_their_tests(write_spec, held: str) -> None:
    """A `for:` of an hour or more checks the WAL archive alerts after WALArchiveErrors' 1h
    window: the transient failure its case feeds must fall within that window, not in minute 1."""
    spec = write_spec(
        platform=(EXAMPLES / "platform.yaml")
        .read_text()
        .replace("{rto: 15m, rpo: 5m}", f"{{rto: 15m, rpo: 5m, platform_alert_for: {held}}}"),
        payments=(EXAMPLES / "payments.yaml").read_text(),
    )
    out = spec.parent / "out"
    write(out, output_tree(load_plan(spec, "prod")))
    tests = yaml.safe_load((out / "prometheus/tests/checkout.every-1m.test.yaml").read_text())
    assert any(
        check["alertname"] == "WALArchiveErrors" for group in tests["tests"] for check in group["alert_rule_test"]
    )
    outcome = promtool.test_rules(out, ["prometheus/tests/checkout.every-1m.test.yaml"])
    assert outcome.ok, outcome.output
