"""`obskit import sloth|openslo`: other tools' SLO files, written here (not copied from those
projects), become an obskit spec that validates, and whose recorded error ratio is the source's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from obskit.cli import main
from obskit.pipeline import imported_spec, load_plan, output_tree
from obskit.spec.problems import SpecInvalid
from tests.servers import require_binary

ENVIRONMENT = """\
apiVersion: obskit/v1
defaults:
  runbook_url: "https://runbooks.example.com/{service}/{alert}"
environments:
  prod:
    labels: {env: prod}
"""

ERRORS = 'sum(rate(http_requests_total{job="myservice",code=~"(5..|429)"}[{{.window}}]))'
TOTAL = 'sum(rate(http_requests_total{job="myservice"}[{{.window}}]))'

SLOTH = f"""\
version: "prometheus/v1"
service: "my_service"
labels: {{owner: payments, repo: acme/pay}}
slos:
  - name: "requests-availability"
    objective: 99.9
    description: "Requests that succeed."
    sli:
      events:
        error_query: {ERRORS}
        total_query: {TOTAL}
    alerting:
      name: MyServiceHighErrorRate
      labels: {{category: availability, severity: critical}}
      annotations: {{summary: "High error rate", playbook: "https://wiki.example.com/x"}}
      page_alert: {{labels: {{severity: pageteam}}}}
      ticket_alert: {{disable: true}}
"""

SLOTH_K8S = f"""\
apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: {{name: my-service, namespace: shop}}
spec:
  service: my-service
  labels: {{team: payments}}
  slos:
    - name: requests-availability
      objective: 99.5
      sli:
        events:
          errorQuery: {ERRORS}
          totalQuery: {TOTAL}
      alerting:
        pageAlert: {{disable: true}}
"""

OPENSLO = """\
apiVersion: openslo/v1
kind: Service
metadata: {name: web}
spec: {description: The storefront}
---
apiVersion: openslo/v1
kind: DataSource
metadata: {name: prom}
spec: {type: Prometheus, connectionDetails: {url: "http://prometheus:9090"}}
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: web-good-ratio}
spec:
  ratioMetric:
    counter: true
    good: {metricSource: {metricSourceRef: prom, spec: {query: 'sum(http_requests_total{job="web",code!~"5.."})'}}}
    total: {metricSource: {metricSourceRef: prom, spec: {query: 'http_requests_total{job="web"}'}}}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: fast-burn}
spec:
  severity: page
  condition: {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: web-page}
spec:
  conditions:
    - conditionRef: fast-burn
    - kind: AlertCondition
      metadata: {name: odd-window}
      spec: {condition: {kind: burnrate, op: gte, threshold: 10, lookbackWindow: 2h}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: web-availability}
spec:
  service: web
  indicatorRef: web-good-ratio
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.999}]
  alertPolicies: [web-page]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: web-errors}
spec:
  service: web
  indicator:
    metadata: {name: web-bad}
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="web",code=~"5.."}'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="web"}'}}}
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{targetPercent: 99}]
"""


def _imported(tmp_path: Path, tool: str, text: str) -> tuple[Path, dict[str, object]]:
    source = tmp_path / f"{tool}.yaml"
    source.write_text(text)
    spec = tmp_path / "spec"
    spec.mkdir(exist_ok=True)
    (spec / "environment.yaml").write_text(ENVIRONMENT)
    imported = imported_spec(tool, [source])
    (spec / "imported.yaml").write_text(imported)
    return spec, yaml.safe_load(imported)


def test_a_sloth_spec_keeps_its_queries_objective_and_alert_choices(tmp_path: Path) -> None:
    spec, document = _imported(tmp_path, "sloth", SLOTH)
    service = document["services"]["my-service"]  # type: ignore[index]
    slo = service["slos"]["requests-availability"]
    assert slo["error_query"] == ERRORS.replace("{{.window}}", "{{window}}")
    assert slo["total_query"] == TOTAL.replace("{{.window}}", "{{window}}")
    assert (slo["objective"], slo["window"], service["team"]) == (99.9, "30d", "payments")
    assert slo["alerts"] == {
        "ticket": False,
        "labels": {"category": "availability"},
        "annotations": {"playbook": "https://wiki.example.com/x"},
    }
    text = (spec / "imported.yaml").read_text()
    assert "renamed from 'my_service'" in text and "TODO" in text
    load_plan(spec, "prod")  # the imported spec validates and plans


def test_a_sloth_crd_takes_its_namespace_and_camel_case_fields(tmp_path: Path) -> None:
    spec, document = _imported(tmp_path, "sloth", SLOTH_K8S)
    service = document["services"]["my-service"]  # type: ignore[index]
    assert service["namespace"] == "shop"
    assert service["slos"]["requests-availability"]["alerts"] == {"page": False}
    load_plan(spec, "prod")


def test_openslo_references_resolve_and_burn_conditions_map_onto_obskits_alerts(tmp_path: Path) -> None:
    spec, document = _imported(tmp_path, "openslo", OPENSLO)
    slos = document["services"]["web"]["slos"]  # type: ignore[index]
    good = slos["web-availability"]
    assert good["objective"] == 99.9 and good["window"] == "28d"
    assert good["error_query"] == (
        'sum(rate(http_requests_total{job="web"}[{{window}}])) - '
        'sum(rate(http_requests_total{job="web",code!~"5.."}[{{window}}]))'
    )
    assert good["alerts"] == {"ticket": False}  # only a 1h condition: the page
    bad = slos["web-errors"]
    assert (bad["errors"], bad["total"]) == (
        'http_requests_total{job="web",code=~"5.."}',
        'http_requests_total{job="web"}',
    )
    assert "alerts" not in bad  # no policy: obskit's alerts stay on, and a comment says so
    text = (spec / "imported.yaml").read_text()
    assert "burn rate 10 over 2h: not one of obskit's windows" not in text  # 2h is not a long window
    assert "burn rate over 2h: not one of obskit's windows, not carried" in text
    load_plan(spec, "prod")


@pytest.mark.parametrize(
    ("tool", "text", "where", "problem"),
    [
        ("openslo", OPENSLO.replace("budgetingMethod: Occurrences\n  objectives: [{target: 0.999}]",
                                    "budgetingMethod: Timeslices\n  objectives: [{target: 0.999}]"),
         ":44:", "'Timeslices' budgeting is not supported"),
        ("openslo", OPENSLO.replace("[{duration: 28d, isRolling: true}]", "[{duration: 1M, calendar: {startTime: x}}]"),
         ":43:", "calendar windows are not supported"),
        ("openslo", OPENSLO.replace("type: Prometheus, spec: {query: 'http_requests_total{job=\"web\",code=~\"5..\"}'}",
                                    "type: Datadog, spec: {query: 'x'}"),
         ":58:", "a 'Datadog' metric source is not supported"),
        ("openslo", OPENSLO.replace("  ratioMetric:\n    counter: true\n    good:", "  thresholdMetric: {}\n  ratioMetric:\n    counter: true\n    good:"),
         ":15:", "thresholdMetric is not supported"),
        ("openslo", OPENSLO.replace("apiVersion: openslo/v1\nkind: Service", "apiVersion: openslo/v1alpha\nkind: Service"),
         ":1:", "'openslo/v1alpha' is not supported"),
        ("openslo", OPENSLO.replace("indicatorRef: web-good-ratio", "indicatorRef: nope"),
         ":42:", "no SLI named 'nope' in the files given (known: web-good-ratio)"),
        ("openslo", OPENSLO.replace("'http_requests_total{job=\"web\"}'}}}\n---\napiVersion: openslo/v1\nkind: AlertCondition",
                                    "'rate(http_requests_total[5m])'}}}\n---\napiVersion: openslo/v1\nkind: AlertCondition"),
         ":18:", "a counter's query must be a series selector"),
        ("sloth", SLOTH.replace("events:\n        error_query", "raw:\n        error_ratio_query"), ":9:",
         "a raw SLI (error_ratio_query) is not supported yet"),
        ("sloth", SLOTH.replace("objective: 99.9", "objective: 100"), ":6:", "100 is not an objective between 0 and 100"),
        ("sloth", "version: prometheus/v2\n", ":1:", "not a Sloth spec"),
    ],
)  # fmt: skip
def test_what_obskit_cannot_carry_is_refused_at_its_line(
    tmp_path: Path, tool: str, text: str, where: str, problem: str
) -> None:
    source = tmp_path / "source.yaml"
    source.write_text(text)
    with pytest.raises(SpecInvalid) as caught:
        imported_spec(tool, [source])
    lines = [str(each) for each in caught.value.problems]
    assert any(f"source.yaml{where}" in line and problem in line for line in lines), lines


def test_the_cli_writes_a_new_file_or_refuses_with_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "sloth.yaml"
    source.write_text(SLOTH)
    out = tmp_path / "imported.yaml"
    runner = CliRunner()
    first = runner.invoke(main, ["import", "sloth", str(source), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert out.read_text().startswith("# Imported by `obskit import sloth`")
    again = runner.invoke(main, ["import", "sloth", str(source), "--out", str(out)])
    assert again.exit_code == 2 and "exists; nothing written" in again.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: prometheus/v1\nservice: x\nslos: [{name: a}]\n")
    refused = runner.invoke(main, ["import", "sloth", str(broken)])
    assert refused.exit_code == 2 and "broken.yaml:3" in refused.output and "Traceback" not in refused.output


@pytest.mark.tools("promtool")
def test_the_recorded_error_ratio_is_the_sources_on_the_same_series(tmp_path: Path) -> None:
    """Import, gen, then promtool: obskit's recorded 5m error ratio equals the Sloth source's own
    error_query / total_query at every step, across a change of traffic and a counter reset. The
    longer windows are obskit's averages of the 5m rates (README, SLO recording rules): they equal
    the source's wherever the rates hold steady over the window."""
    promtool = require_binary("promtool")
    spec, _ = _imported(tmp_path, "sloth", SLOTH)
    rules = tmp_path / "rules.yaml"
    rules.write_text(output_tree(load_plan(spec, "prod"))["prometheus/rulefiles/my-service.rules.yaml"])

    def same(window: str, at: str) -> dict[str, object]:
        source = f"({ERRORS}) / ({TOTAL})".replace("{{.window}}", window)
        recorded = f'slo:sli_error:ratio_rate{window}{{service="my-service",slo="requests-availability"}}'
        return {"expr": f"count(abs({recorded} - on() group_left() {source}) < 1e-9)", "eval_time": at,
                "exp_samples": [{"labels": "{}", "value": 1}]}  # fmt: skip

    checks = [same("5m", f"{minute}m") for minute in (10, 58, 61, 62, 64, 70, 90, 119)]
    checks += [same(window, "55m") for window in ("30m", "1h")]
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [  # from minute 60: less traffic, and the 500s' counter resets
                    {"series": 'http_requests_total{job="myservice",code="200"}', "values": "0+54x60 3240+20x60"},
                    {"series": 'http_requests_total{job="myservice",code="500"}', "values": "0+6x60 0+1x60"},
                    {"series": 'http_requests_total{job="myservice",code="429"}', "values": "0+3x120"},
                    {"series": 'http_requests_total{job="other",code="500"}', "values": "0+100x120"},
                ],
                "promql_expr_test": checks,
            }
        ],
    }
    test_file = tmp_path / "equal.test.yaml"
    test_file.write_text(yaml.safe_dump(test))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_source_text_with_line_breaks_stays_in_comments(tmp_path: Path) -> None:
    """An OpenSLO Service's description is copied into a comment: a line break in it must not start
    YAML of the spec (here, a second service)."""
    hostile = OPENSLO.replace(
        "spec: {description: The storefront}", 'spec: {description: "The storefront\\nservices: {evil: {}}\\n"}'
    )
    _, document = _imported(tmp_path, "openslo", hostile)
    assert set(document["services"]) == {"web"}  # type: ignore[index]
    assert "# services: {evil: {}}" in (tmp_path / "spec" / "imported.yaml").read_text()
