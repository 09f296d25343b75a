"""environments.<env>.jobs: every pod obskit generates (backups, drills, DR copies, failover steps)
gets the registry's pull Secrets, the node selector and the tolerations (issue 29's private registry)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from obskit import units
from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from obskit.verify.objects import object_problems
from tests.conftest import EXAMPLES, problems_of

JOBS = (
    "    jobs:\n"
    "      image_pull_secrets: [registry-credentials]\n"
    '      node_selector: {node-role.example.com/batch: "true"}\n'
    "      tolerations: [{key: dedicated, value: batch, effect: NoSchedule}, {operator: Exists, effect: NoExecute, tolerationSeconds: 60}]\n"
)


def _spec(tmp_path: Path, jobs: str = JOBS) -> Path:
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES, spec)
    platform = spec / "platform.yaml"
    platform.write_text(
        platform.read_text().replace(
            '    pushgateway: "http://pushgateway', jobs + '    pushgateway: "http://pushgateway', 1
        )
    )
    return spec


def test_every_generated_pod_gets_the_environments_job_settings(tmp_path: Path) -> None:
    tree = generate_tree(load_plan(_spec(tmp_path), "prod"))
    cron_jobs = [
        (path, document)
        for path, text in tree.items()
        if path.startswith(("backup/", "failover/")) and path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document and document.get("kind") == "CronJob"
    ]
    assert {path.split("/")[0] for path, _ in cron_jobs} == {"backup", "failover"}
    for path, cron_job in cron_jobs:
        pod = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}], path
        assert pod["nodeSelector"] == {"node-role.example.com/batch": "true"}, path
        assert pod["tolerations"] == [
            {"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"},
            {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
        ], path
        assert object_problems(cron_job) == [], path


def test_without_job_settings_the_pods_are_as_before(prod_tree: dict[str, str]) -> None:
    assert "imagePullSecrets" not in prod_tree["backup/walg/checkout-orders-db.yaml"]


@pytest.mark.parametrize(
    ("jobs", "problem"),
    [
        ("    jobs: {tolerations: [{key: a, operator: Maybe}]}\n",
         "environments.prod.jobs.tolerations[0].operator: 'Maybe' is not allowed; choose one of: Equal, Exists"),
        ("    jobs: {image_pull_secrets: [Registry]}\n", "environments.prod.jobs.image_pull_secrets[0]: 'Registry'"),
        ("    jobs: {pull_secrets: [r]}\n", "environments.prod.jobs.pull_secrets: unknown field 'pull_secrets'"),
    ],
)  # fmt: skip
def test_wrong_job_settings_are_refused_at_their_line(tmp_path: Path, jobs: str, problem: str) -> None:
    found = problems_of(_spec(tmp_path, jobs), ["prod"])
    assert any(problem in line and line.startswith("platform.yaml:") for line in found), found


def test_the_environments_resources_replace_each_jobs_own(tmp_path: Path) -> None:
    resources = "      resources: {requests: {cpu: 50m, memory: 3Gi}, limits: {cpu: 1}}\n"
    tree = generate_tree(load_plan(_spec(tmp_path, "    jobs:\n" + resources), "prod"))
    containers = [
        container
        for path, text in tree.items()
        if path.startswith(("backup/", "failover/")) and path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document and document.get("kind") == "CronJob"
        for container in document["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    ]
    assert containers
    for container in containers:
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        assert (requests["cpu"], requests["memory"], limits["cpu"]) == ("50m", "3Gi", "1")
        # a job whose own memory limit is below the 3Gi request now has it as its limit
        assert units.parse_quantity(limits["memory"]) >= units.parse_quantity("3Gi")
    assert {container["resources"]["limits"]["memory"] for container in containers} >= {"3Gi", "4Gi"}


@pytest.mark.parametrize(
    ("resources", "problem"),
    [
        ("{requests: {cpu: 2 cores}}", "environments.prod.jobs.resources.requests.cpu: '2 cores' is not a Kubernetes quantity"),
        ("{requests: {gpu: 1}}", "environments.prod.jobs.resources.requests.gpu: 'gpu' is not allowed; choose one of: cpu, memory, ephemeral-storage"),
        ("{requests: {memory: 2Gi}, limits: {memory: 1Gi}}",
         "environments.prod.jobs.resources: the memory request '2Gi' is above its limit '1Gi'"),
    ],
)  # fmt: skip
def test_wrong_job_resources_are_refused_at_their_line(tmp_path: Path, resources: str, problem: str) -> None:
    found = problems_of(_spec(tmp_path, f"    jobs: {{resources: {resources}}}\n"), ["prod"])
    assert any(problem in line and "platform.yaml:" in line for line in found), found
