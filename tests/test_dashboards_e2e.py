"""The templated dashboards' queries in a real Prometheus (2.x and 3.x) loaded with the example's
rules and scraping services shaped like the example's: every query evaluates, and the ones a
healthy world feeds return the service's own numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from obskit.verify.live.api import PrometheusAPI
from tests.servers import SERVER_VERSION_PARAMS, wait_for
from tests.test_check import example_world

pytestmark = pytest.mark.servers

CHOSEN = {"$service": "checkout", "$slo": "availability", "$job": "checkout", "$datastore": "orders-db"}


def chosen(expr: str) -> str:
    for variable, value in {**CHOSEN, "$__rate_interval": "1m"}.items():
        expr = expr.replace(variable, value)
    return expr


def targets(dashboard: dict[str, Any]) -> dict[str, list[str]]:
    return {
        panel["title"]: [chosen(target["expr"]) for target in panel["targets"]]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
    }


@pytest.mark.timeout(300)
@pytest.mark.parametrize("version", SERVER_VERSION_PARAMS)
def test_every_dashboard_query_evaluates_and_draws_the_services_numbers(tmp_path: Path, version: str) -> None:
    with example_world(tmp_path, version, healthy=True) as (url, tree):
        api = PrometheusAPI(url, {}, 10, 280)
        # the info, objective and limit series come from groups that run every 1m and 2m, each SLO's
        # at its own offset: wait for all five SLOs'
        for series in ("slo:meta:info", "slo:objective:ratio", "slo:error_budget_remaining:ratio"):
            wait_for(f"every SLO's {series}", lambda series=series: len(api.query(series)) == 5, 150)
        wait_for(
            "the DR limits", lambda: len(api.query('dr:limit:seconds{limit="rpo"}')) == 3, 90
        )  # catalog-api, checkout, search-indexer
        dashboards = {Path(path).stem: json.loads(text) for path, text in tree_dashboards(tree).items()}
        answers = {
            (uid, title): [api.query(expr) for expr in exprs]
            for uid, dashboard in dashboards.items()
            for title, exprs in targets(dashboard).items()
        }
        variables = {
            (uid, variable["name"]): api.get(
                "/api/v1/series",
                **{"match[]": chosen(variable["query"].removeprefix("label_values(").rsplit(",", 1)[0])},
            )
            for uid, dashboard in dashboards.items()
            for variable in dashboard["templating"]["list"][1:]
        }
    overview = answers["obskit-prod-overview", "Every SLO"]
    assert all(result for result in overview[:5]), overview  # info, objective, SLI, budget, burn
    slos = {(r["metric"]["service"], r["metric"]["slo"]) for r in overview[0]}
    assert slos == {
        ("checkout", "availability"),
        ("checkout", "latency"),
        ("catalog-api", "availability"),
        ("search-indexer", "freshness"),
        ("catalog-export", "freshness"),
    }
    objective = {r["metric"]["slo"]: r["value"][1] for r in overview[1] if r["metric"]["service"] == "checkout"}
    assert objective == {"availability": "99.95", "latency": "99"}
    burn = answers["obskit-prod-slo", "Burn rate per alert window"]
    thresholds = sorted(float(r["value"][1]) for r in burn[-1])
    assert thresholds == [1, 3, 6, 14.4]  # checkout/availability's own alert factors
    assert all(answers["obskit-prod-slo", title][0] for title in ("Objective", "Targets up", "Request and error rates"))
    velero, limit = answers["obskit-prod-dr", "Velero backups"]
    assert {r["metric"]["service"] for r in velero} == {"checkout", "catalog-api"}
    assert {(r["metric"]["schedule"], r["value"][1]) for r in limit if r["metric"]["service"] == "checkout"} == {
        ("checkout", "300")
    }
    archive = answers["obskit-prod-dr", "WAL archive age against the RPO"]
    assert archive[0] and archive[0][0]["metric"]["datastore"] == "orders-db" and archive[1][0]["value"][1] == "300"
    assert all(variables.values()), [key for key, found in variables.items() if not found]


def tree_dashboards(tree: Path) -> dict[str, str]:
    return {str(path): path.read_text() for path in (tree / "grafana" / "dashboards").glob("*.json")}
