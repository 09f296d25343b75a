"""`scrape: false`: a service Prometheus does not scrape (a batch job) has no selector, no metrics, no
ServiceMonitor and no alert about scrape targets or pods; validate, plan, gen and `obskit test` work
for it, with SLOs on series another job exports, or with no SLOs at all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from obskit.cli import main
from obskit.generate import shaped
from obskit.generate.tree import generate_tree
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree
from obskit.spec.series_flow import reads
from obskit.verify.tree import check_tree
from tests.conftest import EXAMPLES, MINIMAL, problems_of

# defaults.metrics does not apply to a service that is not scraped
BATCH = MINIMAL.replace("defaults:\n", "defaults:\n  metrics: {port: http-metrics, path: /m}\n") + (
    "  nightly-reports:\n"
    "    namespace: data\n"
    "    tier: tier3_low\n"
    "    team: data\n"
    "    scrape: false\n"
    "    slos:\n"
    "      runs:\n"
    "        objective: 99\n"
    '        errors: \'reports_runs_total{job="pushgateway",result="failed"}\'\n'
    "        total: 'reports_runs_total{job=\"pushgateway\"}'\n"
    "  nightly-cleanup:\n"
    "    namespace: data\n"
    "    tier: tier3_low\n"
    "    team: data\n"
    "    scrape: false\n"
)
BATCH_JOBS = ("nightly-reports", "nightly-cleanup")


def _rules(tree: dict[str, str], service: str) -> list[dict]:
    groups = yaml.safe_load(tree[f"prometheus/rulefiles/{service}.rules.yaml"])["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_a_batch_job_has_no_monitor_and_no_alert_on_targets_or_pods(write_spec) -> None:
    plan = load_plan(write_spec(BATCH), "prod")
    by_name = {service_plan.name: service_plan.service for service_plan in plan.services}
    assert [(by_name[name].scrape, by_name[name].selector, by_name[name].metrics) for name in BATCH_JOBS] == [
        (False, (), None)
    ] * 2
    assert by_name["checkout"].metrics is not None and by_name["checkout"].metrics.path == "/m"
    tree = generate_tree(plan)
    assert sorted(path for path in tree if path.startswith("prometheus/servicemonitors/")) == [
        "prometheus/servicemonitors/checkout.yaml"
    ]
    resources = yaml.safe_load(tree["kustomization.yaml"])["resources"]
    assert not any(path.startswith("prometheus/servicemonitors/nightly") for path in resources)
    # the scraped service keeps its target and pod alerts
    alerts = {rule["alert"] for rule in _rules(tree, "checkout") if "alert" in rule}
    assert {"ServiceDown", "ServiceTargetsDown", "ServiceTargetsMissing", "ServicePodCrashLooping"} <= alerts
    reports = _rules(tree, "nightly-reports")
    assert {rule["alert"] for rule in reports if "alert" in rule} == {
        "ErrorBudgetBurn",
        "SLIMetricMissing",
    }
    for rule in reports:
        assert not {"up", "kube_pod_labels"} & reads(rule["expr"]), rule
    assert _rules(tree, "nightly-cleanup") == []
    assert "groups: []\n" in tree["prometheus/rulefiles/nightly-cleanup.rules.yaml"]
    assert yaml.safe_load(tree["prometheus/rules/nightly-cleanup.yaml"])["spec"] == {"groups": []}
    runbook = tree["runbooks/nightly-reports.md"]
    assert "ServiceTargetsMissing" not in runbook and "ErrorBudgetBurn" in runbook


@pytest.mark.tools("promtool")
def test_validate_plan_gen_and_obskit_test_pass_with_batch_jobs(write_spec, tmp_path: Path) -> None:
    spec = write_spec(BATCH)
    runner = CliRunner()
    validated = runner.invoke(main, ["validate", "--spec", str(spec)])
    assert validated.exit_code == 0, validated.output
    assert "valid (3 services" in validated.output
    planned = runner.invoke(main, ["plan", "--env", "prod", "--spec", str(spec)])
    assert planned.exit_code == 0, planned.output
    out = tmp_path / "out"
    generated = runner.invoke(main, ["gen", "--env", "prod", "--spec", str(spec), "--out", str(out)])
    assert generated.exit_code == 0, generated.output
    assert not (out / "prometheus/servicemonitors/nightly-reports.yaml").exists()
    assert (out / "grafana/dashboards").is_dir()
    report = check_tree(out)
    assert report.ok, "\n".join(f"{check.title}: {check.details}" for check in report.checks if not check.ok)


@pytest.mark.tools("promtool")
def test_the_batch_jobs_slo_rules_fire_on_pushed_series(write_spec, tmp_path: Path) -> None:
    """The generated promtool tests of a service with no scrape target run against series of another job."""
    out = tmp_path / "out"
    write(out, output_tree(load_plan(write_spec(BATCH), "prod")))
    test_file = yaml.safe_load((out / "prometheus/tests/nightly-reports.test.yaml").read_text())
    series = {item["series"] for test in test_file["tests"] for item in test.get("input_series", [])}
    assert any('job="pushgateway"' in text for text in series)
    assert not any(text.startswith("up{") for text in series)
    assert check_tree(out).ok


@pytest.mark.tools("promtool")
@pytest.mark.parametrize("target", ["thanos", "mimir"])
def test_a_service_with_no_rule_groups_passes_obskit_test_for_every_rule_engine(
    write_spec, tmp_path: Path, target: str
) -> None:
    text = BATCH.replace("    labels: {env: prod}\n", f"    labels: {{env: prod}}\n    rules: {{target: {target}}}\n")
    out = tmp_path / "out"
    write(out, output_tree(load_plan(write_spec(text), "prod")))
    deployed = out / (
        "mimir/rules/nightly-cleanup.yaml" if target == "mimir" else "prometheus/rules/nightly-cleanup.yaml"
    )
    assert deployed.read_text().endswith("groups: []\n")
    report = check_tree(out)
    assert report.ok, "\n".join(f"{check.title}: {check.details}" for check in report.checks if not check.ok)


def test_an_environment_can_turn_scraping_off_with_nulls(write_spec) -> None:
    override = "  staging:\n    services:\n      checkout: {scrape: false, selector: null, metrics: null}\n"
    spec = write_spec(MINIMAL.replace("services:\n", override + "services:\n", 1))
    (prod,) = load_plan(spec, "prod").services
    (staging,) = load_plan(spec, "staging").services
    assert (prod.service.scrape, staging.service.scrape, staging.service.metrics) == (True, False, None)
    tree = generate_tree(load_plan(spec, "staging"))
    assert not any(path.startswith("prometheus/servicemonitors/") for path in tree)


def test_scrape_false_with_what_to_scrape_is_refused_at_the_line(write_spec) -> None:
    text = MINIMAL.replace("    team: payments\n", "    team: payments\n    scrape: false\n")
    message = "the service sets `scrape: false`, so nothing is scraped: remove `{0}` (in an environment's override, `{0}: null`)"
    assert problems_of(write_spec(text)) == [
        f"obskit.yaml:13: services.checkout.selector: {message.format('selector')}",
        f"obskit.yaml:14: services.checkout.metrics: {message.format('metrics')}",
    ]
    override = "  staging:\n    services:\n      checkout: {scrape: false}\n"
    assert problems_of(write_spec(MINIMAL.replace("services:\n", override + "services:\n", 1))) == [
        f"obskit.yaml:15: services.checkout.selector: {message.format('selector')}",
        f"obskit.yaml:16: services.checkout.metrics: {message.format('metrics')}",
    ]


def test_a_scraped_service_without_selector_or_metrics_is_pointed_to_scrape_false(write_spec) -> None:
    text = MINIMAL.replace("    selector: {app: checkout}\n    metrics: {port: http-metrics}\n", "")
    hint = "required field is missing (or set `scrape: false` for a service Prometheus does not scrape, such as a batch job)"
    assert problems_of(write_spec(text)) == [
        f"obskit.yaml:8: services.checkout.metrics: {hint}",
        f"obskit.yaml:8: services.checkout.selector: {hint}",
    ]
    assert problems_of(write_spec(text.replace("team: payments", "team: payments\n    scrape: 'no'"))) == [
        "obskit.yaml:8: services.checkout.metrics: " + hint,
        "obskit.yaml:8: services.checkout.selector: " + hint,
        "obskit.yaml:12: services.checkout.scrape: must be true or false, got 'no'",
    ]


def test_a_refused_batch_job_exits_2_naming_the_line(write_spec) -> None:
    text = BATCH.replace("    scrape: false\n    slos:", "    scrape: false\n    metrics: {port: m}\n    slos:")
    result = CliRunner().invoke(main, ["validate", "--spec", str(write_spec(text))])
    assert result.exit_code == 2
    assert "obskit.yaml:20: services.nightly-reports.metrics: the service sets `scrape: false`" in result.output


@pytest.mark.servers
@pytest.mark.tools("prometheus")
@pytest.mark.timeout(180)
def test_obskit_check_looks_for_no_targets_of_a_batch_job(tmp_path: Path) -> None:
    from tests.test_check import example_world  # the bundled example's healthy world, on a real Prometheus

    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES, spec)
    batch = "apiVersion: obskit/v1\nservices:\n  nightly-cleanup: {namespace: data, tier: tier3_low, scrape: false}\n"
    (spec / "batch.yaml").write_text(batch)
    with example_world(tmp_path, "2.x", healthy=True) as (url, _):
        result = CliRunner().invoke(main, ["check", "--env", "prod", "--spec", str(spec), "--prometheus", url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("every check holds: 5 services")


def _fleet(names: list[str]) -> str:
    """Batch jobs and TLS-scraped pods alike up to their names (the Secrets are named after the service)."""
    text = MINIMAL.replace("services:\n  checkout:", "services:\n  checkout-api:")
    for name in names:
        text += (
            f"  {name}-batch:\n    namespace: {name}\n    tier: tier3_low\n    team: {name}\n    scrape: false\n"
            f'    slos:\n      runs:\n        errors: \'runs_total{{job="pushgateway",batch="{name}",result="failed"}}\'\n'
            f'        total: \'runs_total{{job="pushgateway",batch="{name}"}}\'\n'
            f"  {name}-pods:\n    namespace: {name}\n    tier: tier1_critical\n    team: {name}\n"
            f"    selector: {{app: {name}}}\n"
            f"    metrics:\n      port: https-metrics\n      scheme: https\n      pod_monitor: true\n"
            f"      tls: {{ca_secret: {{secret: {name}-ca, key: ca.crt}}, server_name: {name}.internal}}\n"
            f"      bearer_token_secret: {{secret: {name}-scrape, key: token}}\n"
        )
    return text


def test_batch_jobs_and_podmonitors_render_by_shape_as_one_by_one(write_spec) -> None:
    plan = load_plan(write_spec(_fleet(["ledger", "billing", "mail"])), "prod")
    renderer = shaped.ShapedRenderer(plan)
    for service_plan in plan.services:
        renderer.render(service_plan)
    assert renderer.rendered_directly == 1  # checkout-api; the batch jobs share one shape, the pods another
    assert len(renderer._templates) == 2 and all(renderer._templates.values())
    assert generate_tree(plan) == generate_tree(plan, shaped=False)
