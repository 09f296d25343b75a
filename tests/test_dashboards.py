"""Grafana dashboards: the upstream schema, PromQL that parses, only known series, lint rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from obskit.generate.dashboards import DashboardError, render_dashboards
from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from obskit.plan.conventions import dashboard_uid
from obskit.verify import promtool
from obskit.verify.objects import object_problems
from tests.conftest import EXAMPLES, MINIMAL, REPO, shared_path

# SPEC.md section 5: the series obskit's alerts and jobs read or push
SPEC_METRICS = {
    "obskit_backup_last_success_timestamp_seconds",
    "obskit_backup_duration_seconds",
    "obskit_backup_size_bytes",
    "obskit_restore_drill_last_success_timestamp_seconds",
    "obskit_restore_drill_duration_seconds",
    "velero_backup_last_successful_timestamp",
    "velero_backup_failure_total",
    "velero_backup_partial_failure_total",
    "pg_stat_archiver_last_archive_age",
    "pg_stat_archiver_failed_count",
}


@pytest.fixture(scope="module")
def tree() -> dict[str, str]:
    return generate_tree(load_plan(EXAMPLES, "prod"))


@pytest.fixture(scope="module")
def dashboards(tree: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {Path(p).stem: json.loads(t) for p, t in tree.items() if p.startswith("grafana/dashboards/")}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def queries(dashboards: dict[str, dict[str, Any]]) -> list[str]:
    targets = [t["expr"] for d in dashboards.values() for p in panels(d) for t in p["targets"]]
    return targets + [a["expr"] for d in dashboards.values() for a in d["annotations"]["list"]]


VARIABLES = {"$__rate_interval": "5m", "$service": "checkout", "$slo": "availability", "$job": "checkout"}


def substituted(expr: str) -> str:
    for variable, value in {**VARIABLES, "$datastore": "orders-db"}.items():
        expr = expr.replace(variable, value)
    return expr


def metric_names(expr: str) -> set[str]:
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.add(node.name or next(m.value for m in node.matchers.matchers if m.name == "__name__"))
        for attribute in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(node, attribute, None)
            if child is not None and not isinstance(child, (str, int, float)):
                visit(child)
        for child in getattr(node, "args", None) or []:
            visit(child)

    visit(promql_parser.parse(expr))
    return found


def test_the_example_gets_the_three_templated_dashboards(dashboards: dict[str, dict[str, Any]]) -> None:
    assert sorted(dashboards) == ["obskit-prod-dr", "obskit-prod-overview", "obskit-prod-slo"]


def test_the_dashboards_are_the_same_whatever_the_services(tmp_path: Path) -> None:
    """Nothing of a service is drawn into a dashboard: its numbers are series the rules record. So an
    environment of any size has these three dashboards, each the size it has here."""
    from benchmarks.synthetic import write_spec as synthetic_spec

    few = render_dashboards(load_plan(synthetic_spec(tmp_path / "few", 3), "prod"))
    many = render_dashboards(load_plan(synthetic_spec(tmp_path / "many", 120), "prod"))
    assert few == many and len(few) == 3


def test_every_dashboard_matches_grafanas_schema(dashboards: dict[str, dict[str, Any]]) -> None:
    import jsonschema

    schema = json.loads(shared_path("schemas", "grafana", "dashboard.jsonschema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    for uid, dashboard in dashboards.items():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(dashboard)]
        assert errors == [], uid


@pytest.mark.tools("promtool")
def test_every_query_parses_as_promql_with_promtool(tmp_path: Path, dashboards: dict[str, dict[str, Any]]) -> None:
    exprs = queries(dashboards)
    assert len(exprs) > 20
    rules = {
        "groups": [
            {
                "name": "dashboard-queries",
                "rules": [
                    {"record": f"dashboard:query_{i}:parse", "expr": substituted(expr)} for i, expr in enumerate(exprs)
                ],
            }
        ]
    }
    (tmp_path / "queries.rules.yaml").write_text(yaml.safe_dump(rules))
    outcome = promtool.check_rules(tmp_path, ["queries.rules.yaml"])
    assert outcome.ok, outcome.output


def recorded_and_read(tree: dict[str, str]) -> set[str]:
    known = set(SPEC_METRICS) | {"ALERTS", "up"}  # Prometheus' own
    for path, text in tree.items():
        if path.startswith("prometheus/rulefiles/"):
            for group in yaml.safe_load(text)["groups"]:
                for rule in group["rules"]:
                    known.add(rule.get("record", ""))
                    known |= metric_names(rule["expr"])
    return known


def test_queries_read_only_recorded_or_contract_series(
    tree: dict[str, str], dashboards: dict[str, dict[str, Any]]
) -> None:
    known = recorded_and_read(tree)
    for expr in queries(dashboards):
        assert metric_names(substituted(expr)) <= known, expr
    variables = [v["query"] for d in dashboards.values() for v in d["templating"]["list"][1:]]
    for query in variables:
        inner = query.removeprefix("label_values(").rsplit(",", 1)[0]
        assert metric_names(substituted(inner)) <= known, query


def test_lint_datasource_units_titles_rate_intervals(dashboards: dict[str, dict[str, Any]]) -> None:
    for uid, dashboard in dashboards.items():
        variable, *others = dashboard["templating"]["list"]
        assert (variable["name"], variable["type"], variable["query"]) == ("datasource", "datasource", "prometheus")
        assert all(other["datasource"]["uid"] == "${datasource}" for other in others)
        assert dashboard["schemaVersion"] == 41
        for panel in panels(dashboard):
            assert panel["title"], uid
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
                ranges = [part.split("]")[0] for part in target["expr"].split("[")[1:]]
                assert all(r == "$__rate_interval" for r in ranges), target["expr"]


def test_ids_are_unique_and_the_grid_holds(dashboards: dict[str, dict[str, Any]]) -> None:
    for uid, dashboard in dashboards.items():
        assert len(uid) <= 40 and uid == dashboard["uid"]
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), uid
        cells: set[tuple[int, int]] = set()
        for panel in dashboard["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, (uid, panel["title"])
                    cells.add((x, y))


def recorded(tree: dict[str, str], service: str, name: str) -> dict[tuple[tuple[str, str], ...], str]:
    """{labels that are not the SLO's own: the value} of a constant series a rule file records."""
    found = {}
    for group in yaml.safe_load(tree[f"prometheus/rulefiles/{service}.rules.yaml"])["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == name:
                labels = {
                    k: v for k, v in rule["labels"].items() if k not in ("cluster", "env", "namespace", "service")
                }
                found[tuple(sorted(labels.items()))] = rule["expr"].removeprefix("vector(").removesuffix(")")
    return found


def test_thresholds_are_the_plans_numbers_as_recorded_series(
    tree: dict[str, str], dashboards: dict[str, dict[str, Any]]
) -> None:
    detail = dashboards["obskit-prod-slo"]
    (burn,) = [p for p in panels(detail) if p["title"] == "Burn rate per alert window"]
    assert any(t["expr"].startswith("slo:burn_rate_threshold:factor{") for t in burn["targets"])
    factors = recorded(tree, "checkout", "slo:burn_rate_threshold:factor")
    assert sorted({value for labels, value in factors.items() if ("slo", "availability") in labels}) == [
        "1",
        "14.4",
        "3",
        "6",
    ]
    limits = recorded(tree, "checkout", "dr:limit:seconds")
    assert limits[(("limit", "rpo"),)] == "300" and limits[(("limit", "rto"),)] == "900"
    assert (
        limits[(("datastore", "orders-db"), ("limit", "base_backup_age"))] == "28920"
    )  # 8h + its 102s, in whole minutes
    dr = dashboards["obskit-prod-dr"]
    archive = next(p for p in panels(dr) if p["title"] == "WAL archive age against the RPO")
    assert any('limit="archive_age"' in t["expr"] for t in archive["targets"])


def linked_uids(dashboard: dict[str, Any]) -> set[str]:
    """The uids the dashboard's own links and its panels' links (data links too) lead to."""
    links = dashboard["links"] + [link for p in dashboard["panels"] for link in p.get("links", [])]
    links += [
        link for p in dashboard["panels"] for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", [])
    ]
    return {link["url"].split("?")[0].removeprefix("/d/") for link in links if link.get("url")}


def test_every_link_leads_to_a_generated_dashboard(dashboards: dict[str, dict[str, Any]]) -> None:
    for uid, dashboard in dashboards.items():
        assert linked_uids(dashboard) <= set(dashboards), uid
    overview = dashboards["obskit-prod-overview"]
    (table,) = panels(overview)
    (row_link,) = table["fieldConfig"]["defaults"]["links"]
    assert row_link["url"].startswith(
        "/d/obskit-prod-slo?var-service=${__data.fields.service}&var-slo=${__data.fields.slo}"
    )


def test_alerts_and_runbooks_deep_link_to_their_service(tree: dict[str, str]) -> None:
    rules = yaml.safe_load(tree["prometheus/rulefiles/checkout.rules.yaml"])
    urls = {r["annotations"]["dashboard_url"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert urls == {"https://grafana.example.com/d/obskit-prod-slo?var-service=checkout"}
    assert "https://grafana.example.com/d/obskit-prod-slo?var-service=checkout" in tree["runbooks/checkout.md"]


def test_without_backups_there_is_no_dr_dashboard_to_link_to(write_spec) -> None:
    tree = generate_tree(load_plan(write_spec(MINIMAL), "prod"))
    rendered = {Path(p).stem: json.loads(t) for p, t in tree.items() if p.startswith("grafana/dashboards/")}
    assert sorted(rendered) == ["obskit-prod-overview", "obskit-prod-slo"]
    for uid, dashboard in rendered.items():
        assert linked_uids(dashboard) <= set(rendered), uid


def test_config_maps_carry_the_dashboards_for_the_sidecar(tree: dict[str, str]) -> None:
    for path in [p for p in tree if p.startswith("grafana/configmaps/")]:
        config_map = yaml.safe_load(tree[path])
        uid = Path(path).stem
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"] == {
            "grafana_folder": "obskit prod",
            "argocd.argoproj.io/sync-options": "ServerSideApply=true",
        }
        assert config_map["metadata"]["namespace"] == "monitoring"
        ((name, dashboard),) = config_map["data"].items()
        assert name == f"{uid}.json" and "\n" not in dashboard  # minified
        assert json.loads(dashboard) == json.loads(tree[f"grafana/dashboards/{uid}.json"])
        assert object_problems(config_map) == []
    kustomization = yaml.safe_load(tree["kustomization.yaml"])
    assert "grafana/configmaps/obskit-prod-dr.yaml" in kustomization["resources"]


def test_rendering_is_deterministic() -> None:
    plan = load_plan(EXAMPLES, "prod")
    assert json.dumps(render_dashboards(plan), sort_keys=True) == json.dumps(render_dashboards(plan), sort_keys=True)


def test_uids_stay_within_grafanas_limit() -> None:
    uid = dashboard_uid("production", "a-very-long-service-name-that-goes-on-and-on")
    assert len(uid) == 40 and uid == dashboard_uid("production", "a-very-long-service-name-that-goes-on-and-on")
    assert dashboard_uid("prod", "checkout") == "obskit-prod-checkout"


def render_broken(tmp_path: Path, template: str, old: str, new: str) -> tuple[str, int]:
    """The error of rendering with `old` replaced by `new` in one template, and the line edited."""
    templates = tmp_path / "dashboards"
    shutil.copytree(REPO / "obskit" / "builtin_dashboards", templates)
    source = (templates / template).read_text().replace(old, new, 1)
    (templates / template).write_text(source)
    line = next(i for i, text in enumerate(source.splitlines(), 1) if new in text)
    with pytest.raises(DashboardError) as caught:
        render_dashboards(load_plan(EXAMPLES, "prod"), str(templates))
    return str(caught.value), line


def test_a_syntax_error_names_its_own_template_and_line(tmp_path: Path) -> None:
    message, line = render_broken(tmp_path, "dr.libsonnet", "links=[", "links=[[")
    where, rest = message.split(": ", 1)
    assert where.startswith("dashboards/dr.libsonnet:")  # not main.jsonnet, the first frame of the stack
    reported = int(where.rsplit(":", 1)[1])
    assert reported >= line and f"dr.libsonnet:{reported}:" in rest  # where the parser noticed the typo


def test_a_broken_template_names_the_template_and_line(tmp_path: Path) -> None:
    message, line = render_broken(tmp_path, "slo.libsonnet", "plan.uids.overview", "plan.uids.overveiw")
    assert message.startswith(f"dashboards/slo.libsonnet:{line}: RUNTIME ERROR: Field does not exist: overveiw")
