"""A runbook behind every alert, written from the rules and the plan's numbers."""

from __future__ import annotations

import re

import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin

from obskit.generate.rules import runbooks
from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.conftest import EXAMPLES, MINIMAL, problems_of

SERVICES = ("catalog-api", "checkout", "search-indexer")


def _alerts(tree: dict[str, str], service: str) -> list[dict]:
    groups = yaml.safe_load(tree[f"prometheus/rulefiles/{service}.rules.yaml"])["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _anchors(markdown: str) -> list[str]:
    """The ids a Markdown renderer gives the page's headings (GitHub's slugs, duplicates numbered)."""
    html = MarkdownIt().use(anchors_plugin, min_level=1, max_level=6).render(markdown)
    return re.findall(r'<h[1-6] id="([^"]+)"', html)


def _section(page: str, alert: str) -> str:
    start = page.index(f"\n## {alert}\n")
    end = page.find("\n## ", start + 1)
    return page[start : end if end != -1 else len(page)]


def test_every_alerts_runbook_url_under_runbook_base_is_its_section_of_a_generated_page(
    prod_tree: dict[str, str],
) -> None:
    base = load_plan(EXAMPLES, "prod").environment.runbook_base
    assert base
    for service in SERVICES:
        alerts = _alerts(prod_tree, service)
        page = prod_tree[f"runbooks/{service}.md"]
        anchors = _anchors(page)
        assert len(anchors) == len(set(anchors))
        for rule in alerts:
            url = rule["annotations"]["runbook_url"]
            assert url.startswith(base + "/"), url
            path, _, fragment = url.removeprefix(base + "/").partition("#")
            assert path == f"{service}.md", url
            assert fragment == rule["alert"].lower() and fragment in anchors, f"{rule['alert']} of {service}: {url}"
            assert f"[{rule['alert']}](#{fragment})" in page  # the page's index links the section too
        # an alert's heading is its own: the sections' inner headings never take an alert's slug
        assert {a for a in anchors if "-" not in a} == {rule["alert"].lower() for rule in alerts}
        assert [path for path in prod_tree if path.startswith(f"runbooks/{service}.")] == [
            f"runbooks/{service}.disaster-recovery.md",  # every example service has backups
            *([f"runbooks/{service}.failover.md"] if service == "checkout" else []),  # the one that fails over
            f"runbooks/{service}.md",
        ]


def test_a_runbook_holds_the_rules_own_promql_numbers_dashboard_and_receiver(prod_tree: dict[str, str]) -> None:
    page = prod_tree["runbooks/checkout.md"]
    runbook = _section(page, "ErrorBudgetBurn")
    for rule in _alerts(prod_tree, "checkout"):
        if rule["alert"] == "ErrorBudgetBurn":
            assert f"```promql\n{rule['expr']}\n```" in runbook
    assert "tier tier1_critical\n(RTO 15m, RPO 5m)" in page
    assert "(https://grafana.example.com/d/obskit-prod-slo?var-service=checkout)" in page
    assert "- `critical` (receiver `payments-pager`)" in runbook  # the routing plan's receiver
    assert "- `warning` (receiver `payments-chat`)" in runbook
    assert "[checkout.disaster-recovery.md](checkout.disaster-recovery.md)" in page
    assert "kubectl get pods -n shop -l app.kubernetes.io/name=checkout" in _section(page, "ServiceDown")
    assert "kubectl get pods" not in _section(page, "BackupFailed")  # each section has its own steps
    # a datastore's alert names the job its series carry: the exporter's, not the service's
    assert "(exporter job checkout-orders-db)" in _section(page, "WALArchiveTooOld")
    assert "(job checkout)" in _section(page, "ServiceDown")


def test_the_dr_runbook_has_the_plans_numbers_and_exact_restore_commands(prod_tree: dict[str, str]) -> None:
    plan = load_plan(EXAMPLES, "prod")
    checkout = next(service for service in plan.services if service.name == "checkout")
    assert checkout.velero is not None
    (orders,) = checkout.datastores
    runbook = prod_tree["runbooks/checkout.disaster-recovery.md"]
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
    with_backups = [service.name for service in plan.services if service.velero or service.datastores]
    assert [path for path in prod_tree if path.endswith(".disaster-recovery.md")] == [
        f"runbooks/{name}.disaster-recovery.md" for name in with_backups
    ]


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
    assert "https://r.example.com/rb/checkout.md#servicedown" in urls


def test_the_generic_first_step_points_at_the_expressions_where_they_are() -> None:
    """A section's expressions come before its first steps: the generic step, for an alert with no
    first steps of its own, says "above" (issue 29 found it saying "below")."""
    plan = load_plan(EXAMPLES, "prod")
    checkout = next(service for service in plan.services if service.name == "checkout")
    rule = {
        "alert": "QueueTooLong",
        "expr": "queue_length > 100",
        "labels": checkout.alert_labels("warning"),
        "annotations": {"summary": "The queue is long.", "description": "It is {{ $labels.job }}'s."},
    }
    section = runbooks.alert_section(plan, checkout, "QueueTooLong", [rule])
    assert "expression below" not in section
    assert section.index("### How to confirm it") < section.index("run the expressions above")
