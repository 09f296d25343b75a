"""environments.<env>.rules.target: the same rule groups for Thanos Ruler and Mimir's ruler, and the
check of `obskit test` that a target's files are the promtool-checked groups and nothing more."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from obskit.verify import tree as verify_tree
from obskit.verify.objects import object_problems
from tests.conftest import EXAMPLES, problems_of


def _spec(tmp_path: Path, rules: str) -> Path:
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES, spec)
    platform = spec / "platform.yaml"
    anchor = "    labels: {env: prod, cluster: prod-eu-1}\n"
    platform.write_text(platform.read_text().replace(anchor, anchor + f"    rules: {rules}\n", 1))
    return spec


def _tree(tmp_path: Path, rules: str) -> dict[str, str]:
    return generate_tree(load_plan(_spec(tmp_path, rules), "prod"))


def _written(tmp_path: Path, tree: dict[str, str]) -> Path:
    root = tmp_path / "out"
    for path, content in tree.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content, encoding="utf-8")
    return root


def test_thanos_groups_abort_when_they_alert_and_warn_when_they_only_record(tmp_path: Path) -> None:
    tree = _tree(tmp_path, "{target: thanos}")
    rules = [path for path in tree if path.startswith("prometheus/rules/")]
    assert rules
    for path in rules:
        (document,) = yaml.safe_load_all(tree[path])
        assert object_problems(document) == [], path
        for group in document["spec"]["groups"]:
            alerts = any("alert" in rule for rule in group["rules"])
            assert group["partial_response_strategy"] == ("abort" if alerts else "warn"), (path, group["name"])
    assert not any(
        "partial_response_strategy" in tree[path] for path in tree if path.startswith("prometheus/rulefiles/")
    )
    assert verify_tree._same_rules_check(_written(tmp_path, tree)).ok


def test_thanos_strategy_set_by_the_spec_applies_to_every_group(tmp_path: Path) -> None:
    tree = _tree(tmp_path, "{target: thanos, partial_response_strategy: warn}")
    text = tree["prometheus/rules/checkout.yaml"]
    assert "partial_response_strategy: warn" in text
    assert "partial_response_strategy: abort" not in text


def test_mimir_gets_a_namespace_per_service_and_no_prometheus_rules(tmp_path: Path) -> None:
    tree = _tree(tmp_path, "{target: mimir, tenant: shop}")
    assert not any(path.startswith("prometheus/rules/") for path in tree)
    assert "prometheus/rules/" not in tree["kustomization.yaml"]
    for service in ("catalog-api", "catalog-export", "checkout", "search-indexer"):
        (document,) = yaml.safe_load_all(tree[f"mimir/rules/{service}.yaml"])
        assert set(document) == {"namespace", "groups"}  # mimirtool decodes with KnownFields(true)
        assert document["namespace"] == f"obskit-{service}"
        (plain,) = yaml.safe_load_all(tree[f"prometheus/rulefiles/{service}.rules.yaml"])
        assert document["groups"] == plain["groups"]
    sync = tree["mimir/sync.sh"]
    assert '--id "shop"' in sync
    assert '--namespaces "obskit-catalog-api,obskit-catalog-export,obskit-checkout,obskit-search-indexer"' in sync
    assert verify_tree._same_rules_check(_written(tmp_path, tree)).ok


def test_without_a_tenant_mimir_loads_into_the_anonymous_one(tmp_path: Path) -> None:
    assert '--id "anonymous"' in _tree(tmp_path, "{target: mimir}")["mimir/sync.sh"]


@pytest.mark.parametrize(
    ("rules", "edit", "problem"),
    [
        ("{target: thanos}", ("prometheus/rules/checkout.yaml", "partial_response_strategy: abort", "partial_response_strategy: maybe"),
         "partial_response_strategy 'maybe' is not one of"),
        ("{target: thanos}", ("prometheus/rules/checkout.yaml", "for: 2m", "for: 20m"), "groups differ from"),
        ("{target: mimir}", ("mimir/rules/checkout.yaml", "namespace: obskit-checkout", "namespace: checkout"),
         "not the one namespace obskit-checkout"),
        ("{target: mimir}", ("mimir/rules/checkout.yaml", "for: 2m", "for: 20m"), "groups differ from"),
    ],
)  # fmt: skip
def test_obskit_test_finds_a_target_file_that_left_its_groups(
    tmp_path: Path, rules: str, edit: tuple[str, str, str], problem: str
) -> None:
    tree = _tree(tmp_path, rules)
    path, old, new = edit
    assert old in tree[path]
    tree[path] = tree[path].replace(old, new, 1)
    check = verify_tree._same_rules_check(_written(tmp_path, tree))
    assert not check.ok
    assert problem in check.details, check.details


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ("{target: cortex}", "environments.prod.rules.target: 'cortex' is not allowed; choose one of: prometheus, thanos, mimir"),
        ("{target: thanos, tenant: shop}", "environments.prod.rules: tenant is for target mimir, not 'thanos'"),
        ("{partial_response_strategy: warn}", "environments.prod.rules: partial_response_strategy is for target thanos, not 'prometheus'"),
        ("{target: thanos, partial_response_strategy: skip}", "environments.prod.rules.partial_response_strategy: 'skip' is not allowed"),
    ],
)  # fmt: skip
def test_wrong_rule_targets_are_refused_at_their_line(tmp_path: Path, rules: str, problem: str) -> None:
    found = problems_of(_spec(tmp_path, rules), ["prod"])
    assert any(problem in line and "platform.yaml:" in line for line in found), found
