"""What `obskit gen` writes for a service that fails over: the Probes in this cluster's tree, the
step CronJobs in the DR cluster's, each step allowed only what it changes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from obskit.verify.objects import object_problems
from tests.conftest import EXAMPLES


def _documents(tree: dict[str, str], path: str) -> dict[str, dict[str, Any]]:
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in yaml.safe_load_all(tree[path]) if d}


def _pod(cron_job: dict[str, Any]) -> dict[str, Any]:
    assert cron_job["spec"]["suspend"] is True  # started by hand: kubectl create job --from=cronjob/...
    return cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_the_probes_carry_what_the_alerts_match_and_pass_the_crd(prod_tree: dict[str, str]) -> None:
    probes = _documents(prod_tree, "prometheus/probes/checkout.yaml")
    assert sorted(probes) == ["Probe/checkout-health-0", "Probe/checkout-health-1"]
    spec = probes["Probe/checkout-health-0"]["spec"]
    # the CRD wants the prober as host:port, its scheme apart
    assert spec["prober"] == {"url": "blackbox-exporter.monitoring.svc:9115", "scheme": "http", "path": "/probe"}
    assert spec["targets"]["staticConfig"] == {
        "static": ["https://us-east-1.api.example.com/health"],
        "labels": {"region": "us-east-1", "service": "checkout"},
    }
    assert (spec["interval"], spec["scrapeTimeout"], spec["module"]) == ("30s", "10s", "http_2xx")
    for probe in probes.values():
        assert object_problems(probe) == []


def test_the_dr_clusters_objects_are_not_in_this_clusters_kustomization(prod_tree: dict[str, str]) -> None:
    assert not [path for path in yaml.safe_load(prod_tree["kustomization.yaml"])["resources"] if "failover" in path]
    assert yaml.safe_load(prod_tree["failover/kustomization.yaml"])["resources"] == ["checkout.yaml"]
    for document in _documents(prod_tree, "failover/checkout.yaml").values():
        assert object_problems(document) == [], document["metadata"]["name"]


def test_the_dns_step_updates_with_the_tsig_key_and_checks_every_server(prod_tree: dict[str, str]) -> None:
    documents = _documents(prod_tree, "failover/checkout.yaml")
    pod = _pod(documents["CronJob/checkout-failover-update-dns"])
    (container,) = pod["containers"]
    assert container["command"] == [
        "python3",
        "/opt/obskit/failover_dns.py",
        "--server=ns1.example.com:53",
        "--zone=example.com",
        "--name=api.example.com",
        "--type=A",
        "--address=203.0.113.20",
        "--ttl=60",
        "--key-file=/etc/obskit/dns/tsig.key",
        "--timeout=120",
        "--check-server=ns1.example.com:53",
        "--check-server=ns2.example.com:53",
    ]
    assert pod["automountServiceAccountToken"] is False  # it talks to DNS, never to the Kubernetes API
    tsig = next(volume for volume in pod["volumes"] if volume["name"] == "tsig")
    assert tsig["secret"] == {"secretName": "dns-update", "defaultMode": 0o440}
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]  # so it can read the key


def test_each_step_may_change_only_what_it_changes(prod_tree: dict[str, str]) -> None:
    documents = _documents(prod_tree, "failover/checkout.yaml")
    assert documents["Role/checkout-failover-scale-dr"]["rules"] == [
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch", "update"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "watch"]},
    ]
    assert documents["Role/checkout-orders-db-promote"]["rules"] == [
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "resourceNames": ["checkout-orders-db-dr-copy"],
         "verbs": ["get", "patch"]}
    ]  # fmt: skip
    scale = _pod(documents["CronJob/checkout-failover-scale-dr"])
    assert scale["serviceAccountName"] == "checkout-failover-scale-dr"
    assert scale["containers"][0]["command"][1:] == [
        "/opt/obskit/failover_kubectl.py", "scale", "--namespace=shop", "--deployment=checkout", "--replicas=3",
        "--timeout=180",
    ]  # fmt: skip
    promote = _pod(documents["CronJob/checkout-failover-promote-database-orders-db"])
    assert promote["serviceAccountName"] == "checkout-orders-db-promote"
    assert [c["image"] for c in promote["initContainers"] + promote["containers"]] == [
        "registry.example.com/obskit-failover:1",  # kubectl suspends the DR copy
        "registry.example.com/obskit-walg-runner:1-pg16",  # the engine's image promotes
    ]


def test_the_failover_runbook_shows_region_names_as_written(tmp_path: Path) -> None:
    """Region names are free text (label values): Markdown must not read `*` or `<` in them."""
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES, spec)
    platform = spec / "platform.yaml"
    platform.write_text(platform.read_text().replace("primary_region: us-east-1", 'primary_region: "us*east <1>"'))
    payments = spec / "payments.yaml"
    payments.write_text(
        payments.read_text().replace("unhealthy_threshold: 3}", 'unhealthy_threshold: 3, region: "us*east <1>"}', 1)
    )
    page = generate_tree(load_plan(spec, "prod"))["runbooks/checkout.failover.md"]
    assert "us\\*east \\<1\\>" in page and "us*east <1>" not in page
