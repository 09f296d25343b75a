"""obskit against Sloth, the field's reference: the same SLO and the same input series,
evaluated by promtool; the page and ticket alerts of both must fire and stay silent at
the same moments, give or take the few minutes their window arithmetic differs by."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from obskit.verify.promtool import find_promtool
from tests.conftest import shared_path
from tests.servers import VERSION_PARAMS, VERSIONS, require_binary

SPEC = """\
apiVersion: obskit/v1
defaults:
  runbook_url: "https://runbooks.example.com/{service}/{alert}"
environments:
  test: {}
services:
  myservice:
    namespace: myservice
    tier: tier2_standard
    team: myteam
    selector: {app: myservice}
    metrics: {port: metrics}
    slos:
      requests-availability:
        objective: 99.9
        window: 30d
        errors: 'http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}'
        total: 'http_request_duration_seconds_count{job="myservice"}'
"""

REQUESTS_PER_MINUTE = 600
# (minutes, error ratio): quiet, a sharp incident (20x budget), quiet, a slow leak (5x budget), quiet.
PROFILE = [(240, "0.0005"), (120, "0.02"), (360, "0.0005"), (480, "0.005"), (960, "0.0005")]
# Measured: page 99 min firing in each, 6 min apart in all; ticket 1220 and 1225 min, 15 min apart (the
# long windows average a 10m average recorded every 2m, a few minutes behind Sloth's raw rates at each change).
TOLERANCE_MINUTES = 20


def _counter_values(error_share: bool) -> str:
    parts, value = ["0"], 0.0
    for minutes, ratio in PROFILE:
        share = float(ratio) if error_share else 1 - float(ratio)
        step = REQUESTS_PER_MINUTE * share
        parts.append(f"{value + step}+{step}x{minutes - 1}")
        value += step * minutes
    return " ".join(parts)


def _firing(alert_matchers: str) -> str:
    return f'((count(ALERTS{{alertstate="firing",{alert_matchers}}}) > bool 0) or vector(0))'


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_page_and_ticket_alerts_agree_with_sloth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary(VERSIONS[version][1]))
    sloth_rules = shared_path("reference", "sloth", "01-getting-started.rules.yml")
    (tmp_path / "obskit.yaml").write_text(SPEC)
    tree = generate_tree(load_plan(tmp_path / "obskit.yaml", "test"))
    (tmp_path / "obskit.rules.yaml").write_text(tree["prometheus/rulefiles/myservice.rules.yaml"])
    total_minutes = sum(minutes for minutes, _ in PROFILE)
    end = f"{total_minutes}m"
    kinds = {
        "page": (
            _firing('alertname="ErrorBudgetBurn",severity="critical"'),
            _firing('alertname="MyServiceHighErrorRate",sloth_severity="page"'),
        ),
        "ticket": (
            _firing('alertname="ErrorBudgetBurn",severity="warning"'),
            _firing('alertname="MyServiceHighErrorRate",sloth_severity="ticket"'),
        ),
    }
    checks = []
    for ours, sloth in kinds.values():
        checks += [
            # the two disagree for at most a few minutes around each change
            (f"sum_over_time((abs({ours} - {sloth}))[{end}:1m]) <= bool {TOLERANCE_MINUTES}", end),
            # both fire for a good while, so the agreement is not that of two silent rules
            (f"sum_over_time({ours}[{end}:1m]) >= bool 30", end),
            (f"sum_over_time({sloth}[{end}:1m]) >= bool 30", end),
            # and both stay silent through the quiet first hours
            (f"sum_over_time(({ours} + {sloth})[239m:1m]) == bool 0", "239m"),
        ]
    # promtool's group order is not stable from run to run unless given: Sloth's groups, then obskit's.
    order = [
        g["name"]
        for text in (sloth_rules.read_text(), tree["prometheus/rulefiles/myservice.rules.yaml"])
        for g in yaml.safe_load(text)["groups"]
    ]
    test_file = {
        "rule_files": [str(sloth_rules), "obskit.rules.yaml"],
        "evaluation_interval": "1m",
        "group_eval_order": order,
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'http_request_duration_seconds_count{job="myservice",code="500"}',
                        "values": _counter_values(error_share=True),
                    },
                    {
                        "series": 'http_request_duration_seconds_count{job="myservice",code="200"}',
                        "values": _counter_values(error_share=False),
                    },
                ],
                "promql_expr_test": [
                    {"expr": expr, "eval_time": at, "exp_samples": [{"labels": "{}", "value": 1}]}
                    for expr, at in checks
                ],
            }
        ],
    }
    (tmp_path / "crosscheck.test.yaml").write_text(yaml.safe_dump(test_file, sort_keys=False))
    result = subprocess.run(
        [find_promtool(), "test", "rules", "crosscheck.test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
