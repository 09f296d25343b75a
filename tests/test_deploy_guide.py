"""docs/deploy.md, the guide to deploying with kube-prometheus-stack and Argo CD, against the tree
it deploys: every chart value it sets is one the chart has, and says what the generated objects need."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.conftest import REPO

GUIDE = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
BLOCKS = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", GUIDE, re.DOTALL)]
VALUES, APPLICATION = BLOCKS[0], BLOCKS[-1]

# The values the guide may set, read off kube-prometheus-stack 88.5.3 (prometheus-community/
# helm-charts, 2026-08-22): its values.yaml, the templates that read `configSecret` (commented out in
# values.yaml), and the subcharts' values it passes through (grafana's sidecar, kube-state-metrics').
# A value added to the guide is added here once checked against the chart.
CHART_VALUES = {
    "prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues",
    "prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues",
    "prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues",
    "prometheus.prometheusSpec.probeSelectorNilUsesHelmValues",
    "prometheus.prometheusSpec.retention",
    "kube-state-metrics.metricLabelsAllowlist",
    "grafana.sidecar.dashboards.enabled",
    "grafana.sidecar.dashboards.label",
    "grafana.sidecar.dashboards.labelValue",
    "grafana.sidecar.dashboards.searchNamespace",
    "grafana.sidecar.dashboards.folderAnnotation",
    "grafana.sidecar.dashboards.provider.foldersFromFilesStructure",
    "alertmanager.alertmanagerSpec.secrets",
    "alertmanager.alertmanagerSpec.alertmanagerConfigSelector.matchLabels",
    "alertmanager.alertmanagerSpec.alertmanagerConfigMatcherStrategy.type",
    "alertmanager.alertmanagerSpec.useExistingSecret",
    "alertmanager.alertmanagerSpec.configSecret",
}


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and not (prefix.endswith("matchLabels")):
        return {k: v for key, value in node.items() for k, v in _leaves(value, f"{prefix}.{key}".lstrip(".")).items()}
    return {prefix: node}


def test_every_value_the_guide_sets_is_the_charts() -> None:
    commented = re.findall(r"^ +# ([a-z]+[A-Z]\w*): ", GUIDE, re.MULTILINE)  # the other deploy mode's values
    assert commented
    assert set(_leaves(VALUES)) | {f"alertmanager.alertmanagerSpec.{name}" for name in commented} <= CHART_VALUES


def test_the_values_match_what_the_tree_carries(prod_tree: dict[str, str]) -> None:
    dashboards = VALUES["grafana"]["sidecar"]["dashboards"]
    (config_map,) = yaml.safe_load_all(prod_tree["grafana/configmaps/obskit-prod-slo.yaml"])
    assert config_map["metadata"]["labels"][dashboards["label"]] == dashboards["labelValue"]
    assert dashboards["folderAnnotation"] in config_map["metadata"]["annotations"]
    assert dashboards["provider"]["foldersFromFilesStructure"] is True
    (rule,) = yaml.safe_load_all(prod_tree["prometheus/rules/checkout.yaml"])
    selector = VALUES["alertmanager"]["alertmanagerSpec"]["alertmanagerConfigSelector"]["matchLabels"]
    assert selector.items() <= rule["metadata"]["labels"].items()  # selector_labels: what the chart selects by


def test_kube_state_metrics_exports_the_labels_the_workload_alerts_join_on() -> None:
    workload = (REPO / "obskit" / "builtin_alerts" / "workload.yaml").read_text(encoding="utf-8")
    joined = set(re.findall(r"kube_(\w+?)_labels\{", workload))
    allowed = {entry.split("=")[0] for entry in VALUES["kube-state-metrics"]["metricLabelsAllowlist"]}
    plural = {"pod": "pods", "deployment": "deployments", "statefulset": "statefulsets",
              "horizontalpodautoscaler": "horizontalpodautoscalers"}  # fmt: skip
    assert {plural[kind] for kind in joined} <= allowed


def test_the_argo_cd_application_applies_the_trees_kustomization(prod_tree: dict[str, str]) -> None:
    assert APPLICATION["kind"] == "Application"
    path = APPLICATION["spec"]["source"]["path"]
    assert path == "out/prod" and "kustomization.yaml" in prod_tree
    assert "ServerSideApply=true" in APPLICATION["spec"]["syncPolicy"]["syncOptions"]
    assert "failover/kustomization.yaml" in prod_tree and "out/prod/failover" in GUIDE
