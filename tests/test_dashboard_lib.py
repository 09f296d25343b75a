"""dashboards/lib/obskit.libsonnet, evaluated by the real Jsonnet (gojsonnet)."""

from __future__ import annotations

import json

import _gojsonnet

from tests.conftest import REPO


def evaluate(snippet: str) -> object:
    source = "local o = import 'lib/obskit.libsonnet';\n" + snippet
    return json.loads(
        _gojsonnet.evaluate_snippet("test.jsonnet", source, jpathdir=[str(REPO / "obskit" / "builtin_dashboards")])
    )


def test_grid_gives_unique_ids_and_non_overlapping_positions() -> None:
    panels = evaluate(
        "o.grid([o.row('SLO'), o.stat('a', 'percent', [o.query('up')]), o.stat('b', 's', []), "
        "o.stat('c', 's', []), o.stat('d', 's', []), o.row('DR'), o.timeseries('e', 's', [])])"
    )
    assert [p["id"] for p in panels] == list(range(1, 8))
    cells = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))


def test_panels_use_the_datasource_variable_a_unit_and_lettered_queries() -> None:
    panel = evaluate("o.timeseries('Errors', 'reqps', [o.query('a'), o.query('b', 'legend')])")
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert panel["fieldConfig"]["defaults"]["unit"] == "reqps"
    assert [t["refId"] for t in panel["targets"]] == ["A", "B"]
    assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


def test_dashboard_declares_the_datasource_variable() -> None:
    dashboard = evaluate("o.dashboard('Checkout SLOs', 'obskit-checkout')")
    assert dashboard["uid"] == "obskit-checkout"
    (variable,) = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == ("datasource", "datasource", "prometheus")
