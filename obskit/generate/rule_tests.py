"""promtool unit tests for a service's rules (`promtool test rules`).

Every alert gets a case where it fires and one where it stays silent: catalog alerts from
the test cases in their template, SLO alerts from input series built from the spec's own
selectors at chosen error ratios (none; between the slow and fast thresholds; above every
threshold). Recorded values are checked within a relative 1e-9, since Prometheus' float
arithmetic need not round like the exact decimals obskit writes.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from obskit import burnrate
from obskit.alertcatalog import AlertTemplate, fill, render_label_templates
from obskit.generate import slo_rules
from obskit.generate.dr_rules import dr_test_groups
from obskit.generate.rules import TEST_SETTLE, TEST_STEP, catalog_rule, template_params
from obskit.generate.series import event_series, series_text
from obskit.model import LatencySLI, RatioSLI
from obskit.plan import Plan, ServicePlan, SLOPlan
from obskit.units import Duration

SLO_EVAL_TIME = Duration(30 * 60_000)
TOTAL_PER_STEP = Fraction(60)  # one request per second
TOLERANCE = "1e-09"

TestGroup = dict[str, Any]


def _labels_text(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{name}="{labels[name]}"' for name in sorted(labels)) + "}"


def _counter(per_step: Fraction, steps: int) -> str:
    return f"0+{burnrate.decimal_text(per_step)}x{steps}"


def _expected_alert(rule: dict[str, Any], series_labels: dict[str, str]) -> dict[str, Any]:
    """The alert as promtool reports it; `$labels` in templates are the series' labels, not the rule's."""
    annotations = {key: render_label_templates(value, series_labels) for key, value in rule["annotations"].items()}
    return {"exp_labels": {**series_labels, **rule["labels"]}, "exp_annotations": annotations}


def _catalog_cases(plan: Plan, service_plan: ServicePlan, template: AlertTemplate) -> list[TestGroup]:
    params = template_params(service_plan)
    rule = catalog_rule(plan, service_plan, template)
    eval_time = service_plan.tier.platform_alert_for + TEST_SETTLE - TEST_STEP
    groups = []
    for case_name, case in (("fires", template.fires), ("silent", template.silent)):
        expected = []
        if case_name == "fires":
            expected = [_expected_alert(rule, {k: fill(v, params) for k, v in case.labels})]
        groups.append(
            {
                "name": f"{template.name} {case_name}",
                "interval": str(TEST_STEP),
                "input_series": [{"series": fill(s, params), "values": fill(v, params)} for s, v in case.series],
                "alert_rule_test": [{"eval_time": str(eval_time), "alertname": template.name, "exp_alerts": expected}],
            }
        )
    return groups


def _input_series(
    plan: Plan, service_plan: ServicePlan, slo_plan: SLOPlan, ratio: Fraction, until: Duration = SLO_EVAL_TIME
) -> list[dict[str, str]]:
    steps = until.ms // TEST_STEP.ms
    errors, total = TOTAL_PER_STEP * ratio, TOTAL_PER_STEP
    sli = slo_plan.slo.sli
    if isinstance(sli, RatioSLI):
        error_series, other_series = event_series(sli.errors, sli.total)
        same_metric = sli.errors.metric == sli.total.metric
        return [
            {"series": error_series, "values": _counter(errors, steps)},
            {"series": other_series, "values": _counter(total - errors if same_metric else total, steps)},
        ]
    if isinstance(sli, LatencySLI):
        histogram = sli.histogram
        _, _, le = slo_rules.le_matcher(sli.threshold)
        base = {name: value for name, _, value in histogram.matchers}
        return [
            {"series": series_text(f"{histogram.metric}_count", base), "values": _counter(total, steps)},
            {
                "series": series_text(f"{histogram.metric}_bucket", {**base, "le": le.split("|")[0]}),
                "values": _counter(total - errors, steps),
            },
            {
                "series": series_text(f"{histogram.metric}_bucket", {**base, "le": "+Inf"}),
                "values": _counter(total, steps),
            },
        ]
    # A raw SLI's queries cannot be fed generically: start from its recorded 5m rates.
    labels = slo_rules.slo_labels(plan, service_plan, slo_plan)
    per_second = Fraction(1)
    return [
        {
            "series": series_text(slo_rules.errors_rate(slo_rules.BASE_WINDOW), labels),
            "values": f"{burnrate.decimal_text(per_second * ratio)}x{steps}",
        },
        {
            "series": series_text(slo_rules.total_rate(slo_rules.BASE_WINDOW), labels),
            "values": f"{burnrate.decimal_text(per_second)}x{steps}",
        },
    ]


def _with_others_healthy(
    plan: Plan, service_plan: ServicePlan, slo_plan: SLOPlan, ratio: Fraction
) -> list[dict[str, str]]:
    """This SLO's series at `ratio`, the service's other SLOs error-free, so only this one is tested."""
    series = _input_series(plan, service_plan, slo_plan, ratio)
    seen = {entry["series"] for entry in series}
    for other in service_plan.slos:
        if other is not slo_plan:
            for entry in _input_series(plan, service_plan, other, Fraction(0)):
                if entry["series"] not in seen:
                    seen.add(entry["series"])
                    series.append(entry)
    return series


def _value_checks(match: str, labels: dict[str, str], expected: dict[str, Fraction]) -> list[dict[str, Any]]:
    checks = []
    for name, value in expected.items():
        bound = burnrate.decimal_text(max(Fraction(1), abs(value)))
        checks.append(
            {
                "expr": f"abs({name}{match} - {burnrate.decimal_text(value)}) <= bool {TOLERANCE} * {bound}",
                "eval_time": str(SLO_EVAL_TIME),
                "exp_samples": [{"labels": _labels_text(labels), "value": 1}],
            }
        )
    return checks


def _power_of_two_above(value: Fraction) -> Fraction:
    ratio = Fraction(1)
    while ratio / 2 > value:
        ratio /= 2
    return ratio


def burn_scenarios(slo_plan: SLOPlan) -> dict[str, tuple[Fraction, list[burnrate.WindowPair]]]:
    """Error ratios for the cases, and the pairs that must fire at each."""

    def limit(pair: burnrate.WindowPair) -> Fraction:
        return burnrate.threshold(pair, slo_plan.window, slo_plan.objective)

    fast = [p for p in burnrate.PAIRS if p.fast]
    slow = [p for p in burnrate.PAIRS if not p.fast]
    slow_ratio = (max(map(limit, slow)) + min(map(limit, fast))) / 2
    fast_ratio = _power_of_two_above(max(map(limit, burnrate.PAIRS)))
    return {
        "no errors": (Fraction(0), []),
        "slow burn": (slow_ratio, slow),
        "fast burn": (fast_ratio, list(burnrate.PAIRS)),
    }


def _slo_cases(plan: Plan, service_plan: ServicePlan, slo_plan: SLOPlan) -> list[TestGroup]:
    labels = slo_rules.slo_labels(plan, service_plan, slo_plan)
    match = slo_rules.selector(plan, service_plan, slo_plan)
    budget = burnrate.error_budget(slo_plan.objective)
    windows = (slo_rules.BASE_WINDOW, *slo_rules.SHORT_WINDOWS, *slo_rules.long_windows(slo_plan))
    groups = []
    for scenario, (ratio, firing) in burn_scenarios(slo_plan).items():
        expected_alerts = [
            _expected_alert(slo_rules.burn_alert(plan, service_plan, slo_plan, pair, match), labels) for pair in firing
        ]
        values = {slo_rules.error_ratio(window): ratio for window in windows}
        values[slo_rules.OBJECTIVE] = Fraction(slo_plan.objective) / 100
        values[slo_rules.ERROR_BUDGET] = budget
        values[slo_rules.BUDGET_REMAINING] = 1 - ratio / budget
        values[slo_rules.burn_rate(slo_rules.BASE_WINDOW)] = ratio / budget
        groups.append(
            {
                "name": f"SLO {slo_plan.name}: {scenario}",
                "interval": str(TEST_STEP),
                "input_series": _with_others_healthy(plan, service_plan, slo_plan, ratio),
                "alert_rule_test": [
                    {"eval_time": str(SLO_EVAL_TIME), "alertname": "ErrorBudgetBurn", "exp_alerts": expected_alerts},
                    {"eval_time": str(SLO_EVAL_TIME), "alertname": "SLIMetricMissing", "exp_alerts": []},
                ],
                "promql_expr_test": _value_checks(match, labels, values),
            }
        )
    missing_at = max(SLO_EVAL_TIME, service_plan.tier.platform_alert_for + TEST_SETTLE)
    missing_rule = slo_rules.sli_missing_alert(plan, service_plan, slo_plan, match)
    groups.append(
        {
            "name": f"SLO {slo_plan.name}: SLI metrics missing",
            "interval": str(TEST_STEP),
            "input_series": [
                series
                for other in service_plan.slos
                if other is not slo_plan
                for series in _input_series(plan, service_plan, other, Fraction(0), missing_at)
            ],
            "alert_rule_test": [
                {
                    "eval_time": str(missing_at),
                    "alertname": "SLIMetricMissing",
                    "exp_alerts": [
                        _expected_alert(
                            missing_rule, {"service": labels["service"], "slo": labels["slo"], **dict(plan.labels)}
                        )
                    ],
                }
            ],
        }
    )
    return groups


def service_tests(plan: Plan, service_plan: ServicePlan, rule_file_path: str) -> dict[str, Any]:
    groups: list[TestGroup] = []
    for template in plan.alert_templates:
        groups += _catalog_cases(plan, service_plan, template)
    for slo_plan in service_plan.slos:
        groups += _slo_cases(plan, service_plan, slo_plan)
    groups += dr_test_groups(plan, service_plan, _expected_alert)
    return {"rule_files": [rule_file_path], "evaluation_interval": str(TEST_STEP), "tests": groups}
