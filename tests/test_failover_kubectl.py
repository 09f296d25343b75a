"""obskit/jobs/failover_kubectl.py, the failover's Kubernetes steps: the commands it runs, and that
the real kubectl takes their flags and the promote step's (no cluster here: it gets as far as
connecting)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from obskit.engines.postgres_walg.failover_runbook import suspend_args
from tests.conftest import JOBS


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("failover_kubectl", JOBS / "failover_kubectl.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scale_then_wait_for_the_rollout_and_apply() -> None:
    script = _script()
    scale = script.parser().parse_args(
        ["scale", "--namespace=shop", "--deployment=checkout", "--replicas=3", "--timeout=180"]
    )
    assert script.commands(scale) == [
        ["kubectl", "scale", "--replicas=3", "--namespace=shop", "deployment/checkout"],
        ["kubectl", "rollout", "status", "--timeout=180s", "--namespace=shop", "deployment/checkout"],
    ]
    apply = script.parser().parse_args(["apply", "--file=/etc/obskit/dns-endpoint/endpoint.yaml"])
    assert script.commands(apply) == [["kubectl", "apply", "--filename=/etc/obskit/dns-endpoint/endpoint.yaml"]]


def test_usage_errors_and_a_missing_kubectl_exit_clearly(tmp_path: Path) -> None:
    script = _script()
    assert script.main(["scale", "--namespace=shop", "--deployment=x", "--replicas=0"]) == 2
    run = subprocess.run(
        [sys.executable, str(JOBS / "failover_kubectl.py"), "apply", "--file=x"],
        env={"PATH": str(tmp_path)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 127 and "kubectl is not on PATH" in run.stderr


@pytest.mark.tools("kubectl")
def test_the_real_kubectl_takes_every_flag(tmp_path: Path) -> None:
    """Against an API server that is not there: a flag kubectl did not know would fail first, as a usage error."""
    script = _script()
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {}}]\n"
    )
    scale = script.parser().parse_args(["scale", "--namespace=shop", "--deployment=checkout", "--replicas=3"])
    endpoint = tmp_path / "endpoint.yaml"
    endpoint.write_text("apiVersion: externaldns.k8s.io/v1alpha1\nkind: DNSEndpoint\nmetadata: {name: x}\n")
    apply = script.parser().parse_args(["apply", f"--file={endpoint}"])
    suspend = suspend_args("shop", "checkout-orders-db-dr-copy")  # the promote step's first container
    for command in [*script.commands(scale), *script.commands(apply), suspend]:
        run = subprocess.run(
            [*command, f"--kubeconfig={config}", "--request-timeout=2s"], capture_output=True, text=True, check=False
        )
        assert run.returncode != 0
        assert "unknown flag" not in run.stderr and "Usage:" not in run.stderr, (command, run.stderr)
        assert "refused" in run.stderr or "connect" in run.stderr, (command, run.stderr)
