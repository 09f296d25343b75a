"""Per-service control of alerts: `alerts.disable`, catalog templates scoped by `services:` and
`teams:`, a template's `runbook.first_steps`, and the workload alerts' twins in kube-prometheus-stack."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree, validate
from obskit.spec.alert_templates import load_catalog
from obskit.spec.problems import SpecInvalid
from obskit.verify import promtool
from tests.conftest import MINIMAL
from tests.servers import VERSION_PARAMS, VERSIONS, alertmanager, require_binary
from tests.test_alertmanager_e2e import _key, _states

SLO = """\
    slos:
      availability:
        errors: 'http_requests_total{job="checkout",code=~"5.."}'
        total: 'http_requests_total{job="checkout"}'
"""

CUSTOM = """\
apiVersion: obskit/alerts/v1
group: custom
alerts:
  QueueBacklog:
    expr: 'max by (job) (queue_depth{job="[[job]]"}) > 100'
    for: 10m
    severity: warning
    summary: The queue is backing up.
    description: 'The queue of [[service]] holds over 100 messages.'
    SCOPE
    runbook:
      first_steps:
        - 'Check the consumers of the queue (`kubectl get pods -n <namespace> -l <selector>`).'
        - Scale them up if they keep up with nothing else.
    tests:
      fires:
        series: {'queue_depth{job="[[job]]"}': '500x[[span]]'}
        labels: {job: "[[job]]"}
      silent:
        series: {'queue_depth{job="[[job]]"}': '500x3 0x[[span]]'}
"""

OTHERS = """\
  cart:
    namespace: shop
    tier: tier1_critical
    team: payments
    selector: {app: cart}
    metrics: {port: http-metrics}
  search:
    namespace: search
    tier: tier1_critical
    team: discovery
    selector: {app: search}
    metrics: {port: http-metrics}
"""


def _problems(path: Path) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        validate(path)
    root = str(path.parent) + "/"
    return [str(problem).replace(root, "") for problem in caught.value.problems]


def _alert_names(tree: dict[str, str], service: str) -> set[str]:
    groups = yaml.safe_load(tree[f"prometheus/rulefiles/{service}.rules.yaml"])["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def _tested_names(tree: dict[str, str], service: str) -> set[str]:
    names = set()
    for path, text in tree.items():
        if path.startswith(f"prometheus/tests/{service}.") and path.endswith(".test.yaml"):
            for group in yaml.safe_load(text)["tests"]:
                names |= {check["alertname"] for check in group.get("alert_rule_test", [])}
    return names


def _with_catalog(write_spec, tmp_path: Path, scope: str, services: str = OTHERS) -> Path:
    (tmp_path / "alerts").mkdir(exist_ok=True)
    (tmp_path / "alerts" / "custom.yaml").write_text(CUSTOM.replace("SCOPE", scope))
    return write_spec("alert_catalogs: [alerts]\n" + MINIMAL + services)


@pytest.mark.tools("promtool")
def test_disabled_alerts_leave_the_rules_tests_and_runbook_and_the_rest_passes(write_spec, tmp_path: Path) -> None:
    spec = MINIMAL + SLO + "    alerts:\n      disable: [ServicePodsNotReady, SLIMetricMissing, ServiceDown]\n"
    tree = output_tree(load_plan(write_spec(spec), "prod"))
    names = _alert_names(tree, "checkout")
    assert {"ServicePodCrashLooping", "ErrorBudgetBurn", "ServiceTargetsMissing"} <= names
    for gone in ("ServicePodsNotReady", "SLIMetricMissing", "ServiceDown"):
        assert gone not in names and gone not in _tested_names(tree, "checkout")
        assert f"## {gone}\n" not in tree["runbooks/checkout.md"] and f"[{gone}]" not in tree["runbooks/checkout.md"]
    assert "ServiceTargetsMissing" in _tested_names(tree, "checkout")
    write(tmp_path / "out", tree)
    tests = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.test.yaml"))
    outcome = promtool.test_rules(tmp_path / "out", [t for t in tests if not t.startswith("alertmanager")])
    assert outcome.ok, outcome.output


def test_unknown_and_guarded_names_are_refused_at_their_line(write_spec) -> None:
    spec = """\
apiVersion: obskit/v1
defaults: {runbook_url: "https://r/{service}/{alert}"}
environments:
  prod:
    velero: {namespace: velero, storage_location: default}
    walg: {prefix: "s3://b/p", credentials_secret: walg, image: "registry.example.com/obskit-walg-runner:1"}
    pushgateway: http://pgw:9091
services:
  checkout:
    namespace: shop
    tier: tier2_standard
    team: payments
    selector: {app: checkout}
    metrics: {port: http-metrics}
    backup:
      datastores:
        orders-db: {engine: postgres, method: wal-g, size: 10Gi}
    alerts:
      disable:
        - ServicePodNotReady
        - ErrorBudgetBurn
        - WALArchiveTooOld
        - ServiceBackupJobFailed
"""
    found = _problems(write_spec(spec))
    assert len(found) == 3
    assert found[0].startswith(
        "obskit.yaml:20: services.checkout.alerts.disable[0]: unknown alert 'ServicePodNotReady'; "
        "the alerts a service may disable: SLIBucketMissing, SLIMetricMissing, ServiceBackupJobFailed, ServiceDown,"
    )
    assert found[0].endswith("; did you mean 'ServicePodsNotReady'?")
    assert found[1] == (
        "obskit.yaml:21: services.checkout.alerts.disable[1]: ErrorBudgetBurn cannot be disabled: it is what the "
        "service's SLOs alert with; drop an SLO's fast or slow burns with `slos.<name>.alerts.page: false` or "
        "`ticket: false` instead"
    )
    assert found[2] == (
        "obskit.yaml:22: services.checkout.alerts.disable[2]: WALArchiveTooOld cannot be disabled: obskit's backup, "
        "restore drill and failover alerts are what hold the tier's RPO and RTO (a backup that stops would go "
        "unnoticed); remove the backup or failover instead"
    )


def test_a_dr_alert_is_refused_with_the_reason(write_spec) -> None:
    backup = """\
    backup:
      volumes: fs
"""
    spec = (
        MINIMAL.replace(
            "labels: {env: prod}", "labels: {env: prod}\n    velero: {namespace: velero, storage_location: default}"
        )
        + backup
    )
    path = write_spec(spec + "    alerts:\n      disable: [BackupTooOld]\n")
    assert _problems(path) == [
        "obskit.yaml:18: services.checkout.alerts.disable[0]: BackupTooOld cannot be disabled: obskit's backup, "
        "restore drill and failover alerts are what hold the tier's RPO and RTO (a backup that stops would go "
        "unnoticed); remove the backup or failover instead"
    ]


def test_a_template_scoped_to_services_or_teams_renders_only_for_them(write_spec, tmp_path: Path) -> None:
    for scope, expected in (
        ("services: [cart]", {"cart"}),
        ("teams: [discovery]", {"search"}),
        ("services: [cart]\n    teams: [discovery]", {"cart", "search"}),
        ("", {"checkout", "cart", "search"}),
    ):
        tree = generate_tree(load_plan(_with_catalog(write_spec, tmp_path, scope), "prod"))
        having = {s for s in ("checkout", "cart", "search") if "QueueBacklog" in _alert_names(tree, s)}
        assert having == expected, scope
        tested = {s for s in ("checkout", "cart", "search") if "QueueBacklog" in _tested_names(tree, s)}
        assert tested == expected, scope


def test_a_scoped_template_reaches_a_service_whose_shape_others_share(write_spec, tmp_path: Path) -> None:
    """Three services alike up to their names render through one template (the shortest and longest
    names stand witness): the middle one, alone in the scope, must still get the alert."""
    services = "".join(
        f"  {name}:\n    namespace: shop\n    tier: tier1_critical\n    team: payments\n"
        f"    selector: {{app: {name}}}\n    metrics: {{port: http-metrics}}\n"
        for name in ("abc", "abcde-mid", "abcdefghijkl")
    )
    plan = load_plan(_with_catalog(write_spec, tmp_path, "services: [abcde-mid]", services), "prod")
    shaped, direct = generate_tree(plan), generate_tree(plan, shaped=False)
    assert shaped == direct
    assert "QueueBacklog" in _alert_names(shaped, "abcde-mid") and "QueueBacklog" not in _alert_names(shaped, "abc")


def test_unknown_scope_names_are_refused_at_the_catalog_files_line(write_spec, tmp_path: Path) -> None:
    path = _with_catalog(write_spec, tmp_path, "services: [cart, crat]\n    teams: [discovry]")
    assert _problems(path) == [
        "alerts/custom.yaml:10: alerts.QueueBacklog.services[1]: unknown service 'crat'; known: cart, checkout, "
        "search; did you mean 'cart'?",
        "alerts/custom.yaml:11: alerts.QueueBacklog.teams[0]: unknown team 'discovry'; known: discovery, payments; "
        "did you mean 'discovery'?",
    ]


def test_a_service_only_some_environments_have_is_a_known_scope(write_spec, tmp_path: Path) -> None:
    spec = _with_catalog(write_spec, tmp_path, "services: [search]")
    text = spec.read_text().replace(
        "    labels: {env: prod}\n", "    labels: {env: prod}\n    services: {search: null}\n"
    )
    spec.write_text(text)
    tree = generate_tree(load_plan(spec, "prod"))
    assert "prometheus/rulefiles/search.rules.yaml" not in tree
    assert all("QueueBacklog" not in _alert_names(tree, s) for s in ("checkout", "cart"))


def test_a_templates_first_steps_are_the_runbooks(write_spec, tmp_path: Path) -> None:
    tree = generate_tree(load_plan(_with_catalog(write_spec, tmp_path, ""), "prod"))
    section = tree["runbooks/checkout.md"].split("## QueueBacklog\n")[1].split("\n## ")[0]
    assert (
        "### What to do first\n\n"
        "1. Check the consumers of the queue (`kubectl get pods -n shop -l app=checkout`).\n"
        "2. Scale them up if they keep up with nothing else.\n"
    ) in section
    # a built-in template's own steps
    crash = tree["runbooks/checkout.md"].split("## ServiceRolloutStuck\n")[1].split("\n## ")[0]
    assert "`kubectl rollout status deployment/<deployment> -n shop`" in crash


def test_workload_alerts_carry_team_and_tier_and_the_backup_job_alert_needs_obskits_cronjobs(
    prod_tree: dict[str, str],
) -> None:
    workload = (
        "ServiceReplicasMismatch",
        "ServiceStatefulSetReplicasMismatch",
        "ServiceRolloutStuck",
        "ServiceHpaMaxedOut",
        "ServicePodOOMKilled",
    )
    for service in ("checkout", "catalog-api", "search-indexer"):
        groups = yaml.safe_load(prod_tree[f"prometheus/rulefiles/{service}.rules.yaml"])["groups"]
        rules = {r["alert"]: r for g in groups if g["name"].endswith("/workload") for r in g["rules"]}
        for name in workload:
            assert rules[name]["labels"]["team"] and rules[name]["labels"]["tier"], (service, name)
            assert rules[name]["labels"]["severity"] == "warning"
        # catalog-api keeps its data on volumes (Velero): obskit runs no Job for it
        assert ("ServiceBackupJobFailed" in rules) == (service != "catalog-api"), service
    job = next(
        r
        for g in yaml.safe_load(prod_tree["prometheus/rulefiles/checkout.rules.yaml"])["groups"]
        for r in g["rules"]
        if r.get("alert") == "ServiceBackupJobFailed"
    )
    assert job["expr"].endswith(
        "\n("
        + "\nor ".join(
            f'kube_job_owner{{namespace="shop",owner_kind="CronJob",owner_name="checkout-orders-db-{job}"}}'
            for job in ("base-backup", "retention", "restore-drill")
        )
        + ")"
    )


@pytest.mark.slow  # a promtool run per loosened expression: the mutation tests run in `make test`
@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_the_workload_alerts_cases_catch_a_missing_for_and_a_looser_expression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    """The silent cases hold a 2m rollout, a 2m eviction, a 5m peak at maxReplicas, another
    workload's shortfall, a restart for another reason, a Job that passed on its retry, another
    CronJob's failed Job: each alert without its `for:`, or with the part of its expression that
    tells these apart, fires on them, on promtool 2.42 and 3.5 alike; as generated, every case passes."""
    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary(VERSIONS[version][1]))
    out = tmp_path / "prod"
    write(out, output_tree(load_plan(Path(__file__).parents[1] / "examples", "prod")))
    test_file = "prometheus/tests/checkout.every-1m.test.yaml"
    assert promtool.test_rules(out, [test_file]).ok
    rule_file = out / "prometheus/rulefiles/checkout.rules.yaml"
    text = rule_file.read_text()
    held = (
        "ServiceReplicasMismatch",
        "ServiceStatefulSetReplicasMismatch",
        "ServiceRolloutStuck",
        "ServiceHpaMaxedOut",
    )
    labels = 'label_app_kubernetes_io_name="checkout"}'
    loosened = {  # (alert, what its expression loses) -> (text, looser text)
        ("ServiceReplicasMismatch", "the service's own deployments"): (
            f'\nand on (namespace, deployment)\nkube_deployment_labels{{namespace="shop",{labels}',
            "",
        ),
        ("ServiceRolloutStuck", "the paused exception"): (
            '\nunless on (namespace, deployment)\nkube_deployment_spec_paused{namespace="shop"} == 1',
            "",
        ),
        ("ServicePodOOMKilled", "the reason"): (',reason="OOMKilled"} == 1', "} == 1"),
        ("ServiceBackupJobFailed", "the Job's failed condition"): (
            'kube_job_failed{namespace="shop",condition="true"} == 1',
            'kube_job_status_failed{namespace="shop"} > 0',
        ),
        ("ServiceBackupJobFailed", "obskit's CronJobs"): (',owner_name="checkout-orders-db-base-backup"', ""),
    }
    changes = {(name, "for:"): None for name in held} | loosened
    for (name, what), replacement in changes.items():
        doc = yaml.safe_load(text)
        (rule,) = [r for group in doc["groups"] for r in group["rules"] if r.get("alert") == name]
        if replacement is None:
            del rule["for"]
        else:
            assert replacement[0] in rule["expr"], (name, what)
            rule["expr"] = rule["expr"].replace(*replacement)
        rule_file.write_text(yaml.safe_dump(doc))
        outcome = promtool.test_rules(out, [test_file])
        assert not outcome.ok and f"{name} silent" in outcome.output, (name, what)
    rule_file.write_text(text)


@pytest.mark.servers
@pytest.mark.tools("alertmanager")
@pytest.mark.timeout(120)
def test_the_generated_inhibit_rules_mute_the_charts_twin_of_the_same_object(
    tmp_path: Path, prod_tree: dict[str, str]
) -> None:
    """obskit's ServicePodCrashLooping on pod p mutes the chart's KubePodCrashLooping on p, not on
    another pod; the chart's KubeJobFailed with no obskit alert on its Job stays unmuted."""
    config = yaml.safe_load(prod_tree["alertmanager/alertmanager.yaml"])
    groups = yaml.safe_load(prod_tree["prometheus/rulefiles/checkout.rules.yaml"])["groups"]
    rules = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    pod = {"namespace": "shop", "pod": "checkout-7d9c-x2x4", "container": "app", "job": "kube-state-metrics"}
    ours = {**pod, **rules["ServicePodCrashLooping"]["labels"], "alertname": "ServicePodCrashLooping"}
    chart = {"severity": "warning", "prometheus": "monitoring/kube-prometheus-stack-prometheus"}
    twin = {**pod, **chart, "alertname": "KubePodCrashLooping"}
    other_pod = {**twin, "pod": "checkout-7d9c-k8k8"}
    deployment = {"namespace": "shop", "deployment": "checkout"}
    stuck = {**deployment, **rules["ServiceRolloutStuck"]["labels"], "alertname": "ServiceRolloutStuck"}
    stuck_twin = {**deployment, **chart, "alertname": "KubeDeploymentGenerationMismatch"}
    job_twin = {"namespace": "shop", "job_name": "checkout-orders-db-base-backup-29100000", **chart}
    job_twin["alertname"] = "KubeJobFailed"
    simple = {
        "route": {"receiver": "null", "group_by": ["alertname"]},
        "receivers": [{"name": "null"}],
        "inhibit_rules": config["inhibit_rules"],
    }
    with alertmanager(tmp_path, simple) as server:
        states = _states(server, [ours, twin, other_pod, stuck, stuck_twin, job_twin])
    assert states[_key(twin)] and states[_key(stuck_twin)]
    assert not states[_key(other_pod)] and not states[_key(job_twin)]
    assert not states[_key(ours)] and not states[_key(stuck)]


def test_a_catalogs_first_steps_are_shown_as_written_but_for_their_code(write_spec, tmp_path: Path) -> None:
    """A catalog is written by teams: its steps reach the runbook's Markdown escaped, their code
    spans kept as code (Markdown reads nothing in them) with the service's namespace put in."""
    path = _with_catalog(write_spec, tmp_path, "")
    catalog = tmp_path / "alerts" / "custom.yaml"
    text = catalog.read_text().replace(
        "- Scale them up if they keep up with nothing else.",
        "- '<img src=x onerror=alert(1)> [click](http://evil) *now* `kubectl -n <namespace> get <pods>`'",
    )
    catalog.write_text(text)
    tree = generate_tree(load_plan(path, "prod"))
    section = tree["runbooks/checkout.md"].split("## QueueBacklog\n")[1].split("\n## ")[0]
    assert (
        "2. \\<img src=x onerror=alert(1)\\> \\[click\\](http://evil) \\*now\\* `kubectl -n shop get <pods>`\n"
    ) in section


def test_every_twin_the_builtin_alerts_mute_is_a_kube_prometheus_stack_alert() -> None:
    """A misspelt twin would leave the chart's alert notifying beside obskit's."""
    lines = (Path(__file__).parent / "data" / "kube_prometheus_stack_alerts.txt").read_text().splitlines()
    chart = {line for line in lines if line and not line.startswith("#")}
    twins = {name for template in load_catalog() for name in template.mutes}
    assert {"KubePodCrashLooping", "KubeJobFailed", "KubeStatefulSetReplicasMismatch"} <= twins <= chart


def test_a_twin_must_share_labels_the_alert_has(tmp_path: Path) -> None:
    path = tmp_path / "custom.yaml"
    path.write_text(CUSTOM.replace("SCOPE", "mutes: {alerts: [KubeQueueBacklog], equal: [namespace, queue]}"))
    with pytest.raises(SpecInvalid) as caught:
        load_catalog([path])
    assert [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems] == [
        "custom.yaml:10: alerts.QueueBacklog.mutes.equal: label 'queue' is not one the alert takes from its "
        "series (tests.fires.labels): the muted alert would never be equal to it"
    ]
    path.write_text(CUSTOM.replace("SCOPE", "mutes: {alerts: [KubeQueueBacklog], equal: [namespace, job]}"))
    assert load_catalog([path])[-1].mutes == ("KubeQueueBacklog",)
