"""A runbook behind every alert, written from the rules and the plan's numbers."""

from __future__ import annotations

import yaml

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.conftest import EXAMPLES, MINIMAL, problems_of

SERVICES = ("catalog-api", "checkout", "search-indexer")


def _alerts(tree: dict[str, str], service: str) -> list[dict]:
    groups = yaml.safe_load(tree[f"prometheus/rulefiles/{service}.rules.yaml"])["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_alerts_runbook_url_under_runbook_base_is_a_generated_runbook(prod_tree: dict[str, str]) -> None:
    base = load_plan(EXAMPLES, "prod").environment.runbook_base
    assert base
    for service in SERVICES:
        for rule in _alerts(prod_tree, service):
            url = rule["annotations"]["runbook_url"]
            assert url.startswith(base + "/"), url
            path = "runbooks/" + url.removeprefix(base + "/")
            assert path == f"runbooks/{service}/{rule['alert']}.md"
            assert path in prod_tree, f"{rule['alert']} of {service}: {url} has no runbook"


def test_a_runbook_holds_the_rules_own_promql_numbers_dashboard_and_receiver(prod_tree: dict[str, str]) -> None:
    runbook = prod_tree["runbooks/checkout/ErrorBudgetBurn.md"]
    for rule in _alerts(prod_tree, "checkout"):
        if rule["alert"] == "ErrorBudgetBurn":
            assert f"```promql\n{rule['expr']}\n```" in runbook
    assert "tier1_critical (RTO 15m, RPO 5m)" in runbook
    assert "(https://grafana.example.com/d/obskit-prod-slo?var-service=checkout)" in runbook
    assert "- `critical` (receiver `payments-pager`)" in runbook  # the routing plan's receiver
    assert "- `warning` (receiver `payments-chat`)" in runbook
    assert "[disaster-recovery.md](disaster-recovery.md)" in runbook
    assert (
        "kubectl get pods -n shop -l app.kubernetes.io/name=checkout" in prod_tree["runbooks/checkout/ServiceDown.md"]
    )


def test_the_dr_runbook_has_the_plans_numbers_and_exact_restore_commands(prod_tree: dict[str, str]) -> None:
    plan = load_plan(EXAMPLES, "prod")
    checkout = next(service for service in plan.services if service.name == "checkout")
    assert checkout.velero is not None
    (orders,) = checkout.datastores
    runbook = prod_tree["runbooks/checkout/disaster-recovery.md"]
    for schedule in checkout.velero.schedules:
        assert f"`{schedule.name}` in namespace `velero`: `{schedule.cron}`, every {schedule.interval}" in runbook
        assert f"kept {schedule.ttl} (`ttl`)" in runbook
    assert "velero -n velero restore create checkout-restore-$(date +%Y%m%d%H%M) --from-schedule checkout" in runbook
    assert f"`{orders.base_cron}` (CronJob `checkout-orders-db-base-backup`)" in runbook
    assert "s3://acme-pg-backups/prod/checkout/orders-db" in runbook
    assert (
        "walg=/etc/obskit/walg/files/wal-g-env" in runbook
        and '$walg backup-fetch "$PGDATA" LATEST' in runbook
        and "recovery_target_time" in runbook
    )
    assert "kubectl -n shop create job --from=cronjob/checkout-orders-db-base-backup" in runbook
    assert "runbooks/search-indexer/disaster-recovery.md" not in prod_tree  # no backups, no DR runbook


def test_without_runbook_base_a_service_needs_its_runbook_url(write_spec) -> None:
    without = MINIMAL.replace('defaults:\n  runbook_url: "https://runbooks.example.com/{service}/{alert}"\n', "")
    assert without != MINIMAL
    assert problems_of(write_spec(without)) == [
        "obskit.yaml:6: services.checkout.runbook_url: required field is missing (or set the environment's "
        "runbook_base to link the runbooks obskit writes)"
    ]
    with_base = without.replace(
        "    labels: {env: prod}\n", "    labels: {env: prod}\n    runbook_base: https://r.example.com/rb\n"
    )
    tree = generate_tree(load_plan(write_spec(with_base), "prod"))
    urls = {rule["annotations"]["runbook_url"] for rule in _alerts(tree, "checkout")}
    assert "https://r.example.com/rb/checkout/ServiceDown.md" in urls
