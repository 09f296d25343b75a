"""promtool unit tests for a service's rules (`promtool test rules`).

Every alert gets a case where it fires and one where it stays silent: catalog alerts from
the test cases in their template, SLO alerts from input series built from the spec's own
selectors at chosen error ratios (none; just under the budget; between the slow and fast
thresholds; above every threshold). Recorded values are checked within a relative 1e-9, since Prometheus' float
arithmetic need not round like the exact decimals obskit writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

from obskit.alerting.timing import (
    EVAL_STEP,
    INPUT_STEP,
    SLO_CHECK_TIME,
    check_time,
    input_steps,
    platform_step,
)
from obskit.generate.rules import slo as slo_rules
from obskit.generate.rules.catalog import (
    alert_for,
    catalog_rule,
    check_time_of,
    promql_params,
    template_params,
    templates,
)
from obskit.generate.rules.dr import dr_test_groups
from obskit.generate.rules.failover import failover_test_groups
from obskit.generate.rules.freshness_cases import freshness_test_groups, is_freshness, last_success_input
from obskit.generate.rules.testpacking import pack
from obskit.output import escape
from obskit.plan import burnrate
from obskit.plan import conventions as names
from obskit.plan.types import Plan, ServicePlan, SLOPlan
from obskit.spec.alert_templates import AlertTemplate, fill, render_label_templates
from obskit.spec.model import LatencySLI, RatioSLI
from obskit.spec.series import event_series, series_text
from obskit.units import Duration, parse_duration

CLEAN_HISTORY = Duration(4 * 3600_000)  # without errors before they appear: longer than the slow pairs need
TOLERANCE = "1e-09"

TestGroup = dict[str, Any]


def _labels_text(labels: dict[str, str]) -> str:
    return escape.label_selector({name: labels[name] for name in sorted(labels)})


def _counter(per_step: Fraction, steps: int) -> str:
    return f"0+{burnrate.decimal_text(per_step)}x{steps}"


def _expected_alert(
    rule: dict[str, Any], series_labels: dict[str, str], value: Fraction | None = None
) -> dict[str, Any]:
    """The alert as promtool reports it; `$labels` in templates are the series' labels, not the rule's,
    and `$value` the value of the expression's first operand (for burn alerts, the long window's ratio)."""
    annotations = {key: render_label_templates(text, series_labels) for key, text in rule["annotations"].items()}
    if value is not None:
        shown = slo_rules.humanize_percentage(float(value))
        annotations = {key: text.replace(slo_rules.VALUE_TEXT, shown) for key, text in annotations.items()}
    return {"exp_labels": {**series_labels, **rule["labels"]}, "exp_annotations": annotations}


def _catalog_cases(plan: Plan, service_plan: ServicePlan, template: AlertTemplate) -> list[TestGroup]:
    params = template_params(plan, service_plan, template)
    rule = catalog_rule(plan, service_plan, template)
    step = platform_step(service_plan.evaluation_interval)
    for_ = alert_for(service_plan, template) or Duration(0)
    eval_time = check_time_of(service_plan, template)
    groups = []
    for case_name, case in (("fires", template.fires), ("silent", template.silent)):
        if case_name == "fires":
            expected = [_expected_alert(rule, {k: fill(v, params) for k, v in case.labels})]
            checks = [{"eval_time": str(eval_time), "alertname": template.name, "exp_alerts": expected}]
            if for_.ms > step.ms:
                # a condition that holds from the start cannot have held for `for:` a step before it ends
                checks.insert(0, {"eval_time": str(for_ - step), "alertname": template.name, "exp_alerts": []})
        else:
            # silent at every evaluation: a blip shorter than `for:` may not fire even while it lasts
            checks = [
                {"eval_time": str(Duration(ms)), "alertname": template.name, "exp_alerts": []}
                for ms in range(step.ms, eval_time.ms + 1, step.ms)
            ]
        groups.append(
            {
                "name": f"{template.name} {case_name}",
                "interval": str(INPUT_STEP),
                "input_series": [
                    {"series": fill(s, promql_params(params)), "values": fill(v, params)} for s, v in case.series
                ],
                "alert_rule_test": checks,
            }
        )
    return groups


def requests_per_step(slo_plan: SLOPlan) -> Fraction:
    """Test traffic per input step: a power of ten of requests per second, enough that the slow burn
    fails several times the SLO's min_errors events within the check time."""
    return _requests_per_step(slo_plan.window, slo_plan.objective, slo_plan.slo.alerts.min_errors)


@lru_cache(maxsize=256)
def _requests_per_step(window: Duration, objective: Decimal, min_errors: int) -> Fraction:
    slow_ratio = _burn_scenarios(window, objective)["slow burn"][0]
    per_second = Fraction(1)
    while slow_ratio * per_second * SLO_CHECK_TIME.seconds / 2 < 2 * min_errors:
        per_second *= 10
    return per_second * (INPUT_STEP.ms // 1000)


def client_le(threshold: Duration) -> str:
    """The threshold's `le` as a client might write it, unlike Prometheus 3's 0.3 and 1.0: 0.30, 1."""
    text = burnrate.decimal_text(threshold.seconds)
    return f"{text}0" if "." in text else text


def _input_series(
    service_plan: ServicePlan,
    slo_plan: SLOPlan,
    ratio: Fraction,
    until: Duration = SLO_CHECK_TIME,
    le_spelling: str | None = None,
    counter: Callable[[Fraction, int], str] = _counter,
) -> list[dict[str, str]]:
    """The SLI's input series at an error ratio; `counter(per step, steps)` writes each counter."""
    if is_freshness(slo_plan):  # no events: the last success, fresh or (at any error ratio) stale
        return last_success_input(slo_plan, bool(ratio), until)
    steps = input_steps(until)
    total = requests_per_step(slo_plan)
    errors = total * ratio
    sli = slo_plan.slo.sli
    if isinstance(sli, RatioSLI):
        error_series, other_series = event_series(sli.errors, sli.total)
        same_metric = sli.errors.metric == sli.total.metric
        other = {"series": other_series, "values": counter(total - errors if same_metric else total, steps)}
        if not ratio:  # as client libraries do: no error series until the first error
            return [other]
        return [{"series": error_series, "values": counter(errors, steps)}, other]
    if isinstance(sli, LatencySLI):
        histogram = sli.histogram
        base = {name: value for name, _, value in histogram.matchers}
        return [
            {"series": series_text(f"{histogram.metric}_count", base), "values": counter(total, steps)},
            {
                "series": series_text(
                    f"{histogram.metric}_bucket", {**base, "le": le_spelling or slo_rules.le_text(sli.threshold)}
                ),
                "values": counter(total - errors, steps),
            },
            {
                "series": series_text(f"{histogram.metric}_bucket", {**base, "le": "+Inf"}),
                "values": counter(total, steps),
            },
        ]
    # A raw SLI's queries cannot be fed generically: start from its recorded 5m rates.
    labels = slo_plan.labels
    per_second = requests_per_step(slo_plan) / (INPUT_STEP.ms // 1000)
    return [
        {
            "series": series_text(names.errors_rate(slo_rules.BASE_WINDOW), labels),
            "values": f"{burnrate.decimal_text(per_second * ratio)}x{steps}",
        },
        {
            "series": series_text(names.total_rate(slo_rules.BASE_WINDOW), labels),
            "values": f"{burnrate.decimal_text(per_second)}x{steps}",
        },
    ]


def _appearing_errors_group(service_plan: ServicePlan, slo_plan: SLOPlan) -> TestGroup | None:
    """A clean day, then errors for a few minutes from a series that did not exist before (as a
    client library creates it on the first error): the error ratio over 1h is the true one,
    a quarter of the fast page's threshold, so nothing fires. Rules that average the error rate only
    over the minutes its series exists would read it several times too high and page."""
    sli = slo_plan.slo.sli
    if not isinstance(sli, RatioSLI) or not slo_plan.burn_alerts:
        return None  # a histogram's buckets exist from the start; raw queries cannot be fed generically
    fast = min(slo_plan.burn_alerts, key=lambda burn: burn.pair.long)
    ratio = min(Fraction(1), 3 * fast.threshold)
    minutes = max(1, int(fast.threshold * 15 / ratio))  # errors over `minutes` of 60: a quarter of the threshold
    clean = input_steps(CLEAN_HISTORY)
    steps = clean + minutes
    error_series, other_series = event_series(sli.errors, sli.total)
    same_metric = sli.errors.metric == sli.total.metric
    per_step = requests_per_step(slo_plan)
    errors_per_step = per_step * ratio
    # one metric: the success series slows by the errors, so the total stays the same
    then = per_step - errors_per_step if same_metric else per_step
    text = burnrate.decimal_text
    others = f"0+{text(per_step)}x{clean} {text(per_step * clean + then)}+{text(then)}x{minutes - 1}"
    errors = f"_x{clean + 1} {text(errors_per_step)}+{text(errors_per_step)}x{minutes - 1}"
    at = Duration(steps * INPUT_STEP.ms)
    labels = slo_plan.labels
    return {
        "name": f"SLO {slo_plan.name}: errors appear mid-window",
        "interval": str(INPUT_STEP),
        "input_series": [{"series": error_series, "values": errors}, {"series": other_series, "values": others}],
        "alert_rule_test": [{"eval_time": str(at), "alertname": "ErrorBudgetBurn", "exp_alerts": []}],
        "promql_expr_test": [
            {
                "expr": f"{names.error_ratio(fast.pair.long)}{slo_plan.selector} < bool "
                f"{burnrate.decimal_text(fast.threshold)}",
                "eval_time": str(at),
                "exp_samples": [{"labels": _labels_text(labels), "value": 1}],
            }
        ],
    }


LOW_TRAFFIC_SPAN = 120  # minutes of input: one request every 5 minutes, the last ones failing
LOW_TRAFFIC_EVERY = 5


def _run_length(values: Sequence[int | None]) -> str:
    """Per-minute values in promtool's notation: `_xN` for N missing samples, `vxN` for N+1 of v."""
    parts, index = [], 0
    while index < len(values):
        end = index
        while end + 1 < len(values) and values[end + 1] == values[index]:
            end += 1
        value, run = values[index], end - index + 1
        if value is None:
            parts.append(f"_x{run}")
        else:
            parts.append(f"{value}x{run - 1}" if run > 1 else str(value))
        index = end + 1
    return " ".join(parts)


def _low_traffic_group(service_plan: ServicePlan, slo_plan: SLOPlan) -> TestGroup | None:
    """A request every five minutes, and its last ones failing: over an hour the error ratio is far
    above every threshold, but fewer events failed than the SLO's min_errors, so nothing fires."""
    sli = slo_plan.slo.sli
    failing = min(slo_plan.slo.alerts.min_errors - 1, 5)
    if failing < 1 or not slo_plan.burn_alerts or not isinstance(sli, RatioSLI | LatencySLI):
        return None  # raw queries cannot be fed generically
    minutes = range(LOW_TRAFFIC_SPAN + 1)
    requests = [minute // LOW_TRAFFIC_EVERY for minute in minutes]
    first_failure = LOW_TRAFFIC_SPAN - LOW_TRAFFIC_EVERY * failing
    if isinstance(sli, RatioSLI):
        # the error series appears with the first failure, which rate() cannot see: one more fails
        first_failure -= LOW_TRAFFIC_EVERY
        failed = [max(0, (minute - first_failure) // LOW_TRAFFIC_EVERY + 1) for minute in minutes]
        error_series, other_series = event_series(sli.errors, sli.total)
        same_metric = sli.errors.metric == sli.total.metric
        series = {
            error_series: _run_length(
                [None if minute < first_failure else count for minute, count in zip(minutes, failed, strict=True)]
            ),
            other_series: _run_length(
                [total - count for total, count in zip(requests, failed, strict=True)] if same_metric else requests
            ),
        }
    else:
        failed = [max(0, (minute - first_failure) // LOW_TRAFFIC_EVERY + 1) for minute in minutes]
        histogram = sli.histogram
        base = {name: value for name, _, value in histogram.matchers}
        bucket = {**base, "le": slo_rules.le_text(sli.threshold)}
        series = {
            series_text(f"{histogram.metric}_count", base): _run_length(requests),
            series_text(f"{histogram.metric}_bucket", bucket): _run_length(
                [total - count for total, count in zip(requests, failed, strict=True)]
            ),
            series_text(f"{histogram.metric}_bucket", {**base, "le": "+Inf"}): _run_length(requests),
        }
    at = Duration(LOW_TRAFFIC_SPAN * INPUT_STEP.ms)
    return {
        "name": f"SLO {slo_plan.name}: traffic near zero",
        "interval": str(INPUT_STEP),
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [{"eval_time": str(at), "alertname": "ErrorBudgetBurn", "exp_alerts": []}],
    }


def _value_checks(
    match: str, labels: dict[str, str], expected: tuple[tuple[str, str, str], ...], at: Duration = SLO_CHECK_TIME
) -> list[dict[str, Any]]:
    """`expected`: (recorded series name, its value, the scale of the tolerance) as decimal texts."""
    samples = [{"labels": _labels_text(labels), "value": 1}]
    return [
        {
            "expr": f"abs({name}{match} - {value}) <= bool {TOLERANCE} * {bound}",
            "eval_time": str(at),
            "exp_samples": samples,
        }
        for name, value, bound in expected
    ]


def _roundest_between(low: Fraction, high: Fraction) -> Fraction:
    """The number just above `low` with the fewest significant digits, at most `high`: an alert's
    humanized value (four digits) then reads the same whatever Prometheus' float arithmetic rounds."""
    digits = Decimal(low.numerator) / Decimal(low.denominator)
    for significant in range(1, 16):
        step = Fraction(10) ** (digits.adjusted() - significant + 1)
        candidate = (low // step + 1) * step
        if candidate <= high:
            return candidate
    return high


def burn_scenarios(slo_plan: SLOPlan) -> dict[str, tuple[Fraction, tuple[burnrate.WindowPair, ...]]]:
    """Error ratios for the cases, and the pairs that must fire at each."""
    return _burn_scenarios(slo_plan.window, slo_plan.objective)


@lru_cache(maxsize=256)  # services share a handful of (window, objective) pairs
def _burn_scenarios(
    window: Duration, objective: Decimal
) -> dict[str, tuple[Fraction, tuple[burnrate.WindowPair, ...]]]:
    def limit(pair: burnrate.WindowPair) -> Fraction:
        return burnrate.threshold(pair, window, objective)

    fast = tuple(p for p in burnrate.PAIRS if p.fast)
    slow = tuple(p for p in burnrate.PAIRS if not p.fast)
    slow_ratio = _roundest_between(max(map(limit, slow)), min(map(limit, fast)) * Fraction(99, 100))
    fast_ratio = _roundest_between(max(map(limit, burnrate.PAIRS)), Fraction(1))
    return {
        "no errors": (Fraction(0), ()),
        # just under the budget: the SLO is met, so nothing may fire, whatever the window
        "within budget": (burnrate.error_budget(objective) * Fraction(9, 10), ()),
        "slow burn": (slow_ratio, slow),
        "fast burn": (fast_ratio, burnrate.PAIRS),
    }


@lru_cache(maxsize=256)
def _expected_values(window: Duration, objective: Decimal) -> dict[str, tuple[tuple[str, str, str], ...]]:
    """Per scenario, what every recorded series of an SLO must read (see _value_checks)."""
    budget = burnrate.error_budget(objective)
    windows = (slo_rules.BASE_WINDOW, *slo_rules.SHORT_WINDOWS, *slo_rules.long_windows(window))
    expected = {}
    for scenario, (ratio, _) in _burn_scenarios(window, objective).items():
        values = {names.error_ratio(span): ratio for span in windows}
        values[names.OBJECTIVE] = Fraction(objective) / 100
        values[names.ERROR_BUDGET] = budget
        values[names.BUDGET_REMAINING] = 1 - ratio / budget
        values[names.burn_rate(slo_rules.BASE_WINDOW)] = ratio / budget
        expected[scenario] = tuple(
            (name, burnrate.decimal_text(value), burnrate.decimal_text(max(Fraction(1), abs(value))))
            for name, value in values.items()
        )
    return expected


def _scenario_parts(service_plan: ServicePlan, slo_plan: SLOPlan) -> dict[str, dict[str, list[Any]]]:
    """Per scenario: this SLO's input series at the scenario's ratio, expected alerts, value checks."""
    labels = slo_plan.labels
    match = slo_plan.selector
    expected = _expected_values(slo_plan.window, slo_plan.objective)
    parts = {}
    for scenario, (ratio, firing) in burn_scenarios(slo_plan).items():
        parts[scenario] = {
            # the fast burn's bucket spelled as a client may write it: the rules must match it too
            "series": _input_series(
                service_plan,
                slo_plan,
                ratio,
                le_spelling=client_le(slo_plan.slo.sli.threshold)
                if scenario == "fast burn" and isinstance(slo_plan.slo.sli, LatencySLI)
                else None,
            ),
            "alerts": [
                _expected_alert(slo_rules.burn_alert(service_plan, slo_plan, burn), labels, ratio)
                for burn in slo_plan.burn_alerts
                if burn.pair in firing
            ],
            "checks": _value_checks(match, labels, expected[scenario]),
        }
    return parts


def _scenario_group(
    name: str, series: list[dict[str, str]], alerts: list[Any], checks: list[Any], quiet: tuple[str, ...]
) -> TestGroup:
    return {
        "name": name,
        "interval": str(INPUT_STEP),
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": str(SLO_CHECK_TIME), "alertname": "ErrorBudgetBurn", "exp_alerts": alerts},
            *({"eval_time": str(SLO_CHECK_TIME), "alertname": name, "exp_alerts": []} for name in quiet),
        ],
        "promql_expr_test": checks,
    }


def _quiet_alerts(service_plan: ServicePlan) -> tuple[str, ...]:
    """The SLO alerts about missing inputs, which no scenario with every series present may fire."""
    latency = any(isinstance(slo.slo.sli, LatencySLI) for slo in service_plan.slos)
    return ("SLIMetricMissing", *(("SLIBucketMissing",) if latency else ()))


def _with_siblings(
    service_plan: ServicePlan,
    slo_plan: SLOPlan,
    series: list[dict[str, str]],
    until: Duration,
    skip: frozenset[str] | set[str] = frozenset(),
) -> list[dict[str, str]]:
    """`series` of one SLO, and the other SLOs' error-free series that it does not already feed
    (nor `skip`): their SLIs read healthy, so only the SLO under test can raise an alert."""
    result = list(series)
    seen = {entry["series"] for entry in result} | set(skip)
    for other in service_plan.slos:
        for entry in _input_series(service_plan, other, Fraction(0), until) if other is not slo_plan else []:
            if entry["series"] not in seen:
                seen.add(entry["series"])
                result.append(entry)
    return result


HOUR = parse_duration("1h")
RESTART_SPAN = Duration(75 * 60_000)  # an hour's window of data after the first 5m rates, and a little
RESTART_AT = 30  # minute: the pod restarts and its counters begin again from 0
GAP_AT, GAP_MINUTES = 50, 3  # failed scrapes, fewer than the 5m rates need to keep two samples


def _restarted_counter(per_step: Fraction, steps: int) -> str:
    """A counter growing by `per_step` a minute that restarts from 0 at RESTART_AT (its first sample
    after counts the minute since) and misses GAP_MINUTES scrapes from GAP_AT."""
    text = burnrate.decimal_text
    after_gap = GAP_AT + GAP_MINUTES
    return (
        f"0+{text(per_step)}x{RESTART_AT} "
        f"{text(per_step)}+{text(per_step)}x{GAP_AT - RESTART_AT - 2} _x{GAP_MINUTES} "
        f"{text(per_step * (after_gap - RESTART_AT))}+{text(per_step)}x{steps - after_gap}"
    )


def _restart_groups(service_plan: ServicePlan) -> list[TestGroup]:
    """Per ratio or latency SLO, just under its budget: a pod restart resets its counters and three
    scrapes fail. rate() counts across the reset and the gap, so every window reads the true ratio
    and traffic, and nothing fires; a rule reading raw differences would see the reset as negative
    traffic, and SLIMetricMissing without its `for:` would fire on the gap."""
    groups = []
    steps = input_steps(RESTART_SPAN)
    for slo_plan in service_plan.slos:
        if not isinstance(slo_plan.slo.sli, RatioSLI | LatencySLI):
            continue  # raw queries cannot be fed generically
        ratio = burnrate.error_budget(slo_plan.objective) * Fraction(9, 10)
        own = _input_series(service_plan, slo_plan, ratio, RESTART_SPAN, counter=_restarted_counter)
        per_second = requests_per_step(slo_plan) / (INPUT_STEP.ms // 1000)
        text = burnrate.decimal_text
        # the 5m window across the reset still reads the traffic; the gap lowers errors and total alike
        across_reset = (
            (names.total_rate(slo_rules.BASE_WINDOW), text(per_second), text(max(Fraction(1), per_second))),
        )
        hour = ((names.error_ratio(HOUR), text(ratio), "1"),)
        reset_checked = Duration((RESTART_AT + 5) * INPUT_STEP.ms)
        at = Duration(steps * INPUT_STEP.ms)
        groups.append(
            {
                "name": f"SLO {slo_plan.name}: restart and scrape gap",
                "interval": str(INPUT_STEP),
                "input_series": _with_siblings(service_plan, slo_plan, own, RESTART_SPAN),
                "alert_rule_test": [
                    {"eval_time": str(at), "alertname": "ErrorBudgetBurn", "exp_alerts": []},
                    *(
                        {"eval_time": str(Duration(minute * 60_000)), "alertname": "SLIMetricMissing", "exp_alerts": []}
                        for minute in range(GAP_AT, GAP_AT + GAP_MINUTES + 5)
                        if minute % 5 == 0
                    ),
                ],
                "promql_expr_test": [
                    *_value_checks(slo_plan.selector, slo_plan.labels, across_reset, reset_checked),
                    *_value_checks(slo_plan.selector, slo_plan.labels, hour, at),
                ],
            }
        )
    return groups


def _bucket_missing_groups(service_plan: ServicePlan) -> list[TestGroup]:
    """Per latency SLO: the histogram counts requests, has other buckets, but none at the threshold.
    SLIBucketMissing fires (for every SLO reading that same bucket), nothing else does."""
    groups = []
    at = max(SLO_CHECK_TIME, check_time(service_plan.tier.platform_alert_for))
    for slo_plan in service_plan.slos:
        sli = slo_plan.slo.sli
        if not isinstance(sli, LatencySLI):
            continue
        histogram = sli.histogram
        base = {name: value for name, _, value in histogram.matchers}
        missing = series_text(f"{histogram.metric}_bucket", {**base, "le": slo_rules.le_text(sli.threshold)})
        own = [entry for entry in _input_series(service_plan, slo_plan, Fraction(0), at) if entry["series"] != missing]
        series = _with_siblings(service_plan, slo_plan, own, at, skip={missing})
        same_bucket = [
            other
            for other in service_plan.slos
            if isinstance(other.slo.sli, LatencySLI)
            and slo_rules.threshold_bucket(other.slo.sli) == slo_rules.threshold_bucket(sli)
        ]
        expected = [
            _expected_alert(slo_rules.bucket_missing_alert(service_plan, other), other.labels) for other in same_bucket
        ]
        groups.append(
            {
                "name": f"SLO {slo_plan.name}: no bucket at the threshold",
                "interval": str(INPUT_STEP),
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": str(at), "alertname": "SLIBucketMissing", "exp_alerts": expected},
                    {"eval_time": str(at), "alertname": "SLIMetricMissing", "exp_alerts": []},
                ],
            }
        )
    return groups


COVERAGE_HOURS = 2


def _coverage_group(service_plan: ServicePlan) -> TestGroup:
    """Two hours of data in a window of days (a new SLI, or retention shorter than the window):
    the recorded coverage says so, as hours of the window (counted at 2h, read by the long group after)."""
    at = Duration(COVERAGE_HOURS * 3600_000) + slo_rules.LONG_GROUP_INTERVAL
    series: dict[str, str] = {}
    for slo_plan in service_plan.slos:
        for entry in _input_series(service_plan, slo_plan, Fraction(0), at):
            series.setdefault(entry["series"], entry["values"])
    return {
        "name": "SLOs: data for part of the window",
        "interval": str(INPUT_STEP),
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "promql_expr_test": [
            {
                "expr": f"round({names.DATA_COVERAGE}{slo_plan.selector} * {slo_plan.window.ms // 1000} / 3600)",
                "eval_time": str(at),
                "exp_samples": [{"labels": _labels_text(slo_plan.labels), "value": COVERAGE_HOURS}],
            }
            for slo_plan in service_plan.slos
        ],
    }


def _missing_group(service_plan: ServicePlan, missing: list[SLOPlan], name: str) -> TestGroup:
    """No series for the `missing` SLOs (the others error-free): SLIMetricMissing fires for each."""
    missing_at = max(SLO_CHECK_TIME, check_time(service_plan.tier.platform_alert_for))
    expected = []
    for slo_plan in missing:
        labels = slo_plan.labels
        rule = slo_rules.sli_missing_alert(service_plan, slo_plan)
        expected.append(_expected_alert(rule, labels))
    return {
        "name": name,
        "interval": str(INPUT_STEP),
        "input_series": [
            series
            for other in service_plan.slos
            if other not in missing
            for series in _input_series(service_plan, other, Fraction(0), missing_at)
        ],
        "alert_rule_test": [{"eval_time": str(missing_at), "alertname": "SLIMetricMissing", "exp_alerts": expected}],
    }


def _slo_groups(service_plan: ServicePlan) -> list[TestGroup]:
    """When the SLOs read distinct series, every SLO goes into each scenario's one group (fewer
    passes over the rules); otherwise each SLO gets its own groups, its siblings error-free.
    Freshness SLOs have cases of their own (freshness_cases), and only share the coverage's."""
    if not service_plan.slos:
        return []
    slos = tuple(slo for slo in service_plan.slos if not is_freshness(slo))
    if not slos:
        return [_coverage_group(service_plan)]
    parts = {slo.name: _scenario_parts(service_plan, slo) for slo in slos}
    quiet = _quiet_alerts(service_plan)
    scenarios = list(parts[slos[0].name])
    healthy = {slo.name: _input_series(service_plan, slo, Fraction(0)) for slo in slos}
    series_sets = [{entry["series"] for entry in healthy[slo.name]} for slo in slos]
    if sum(map(len, series_sets)) == len(set().union(*series_sets)):
        groups = [
            _scenario_group(
                f"SLOs: {scenario}",
                [s for slo in slos for s in parts[slo.name][scenario]["series"]],
                [a for slo in slos for a in parts[slo.name][scenario]["alerts"]],
                [c for slo in slos for c in parts[slo.name][scenario]["checks"]],
                quiet,
            )
            for scenario in scenarios
        ]
    else:
        groups = []
        for slo in slos:
            for scenario in scenarios:
                part = parts[slo.name][scenario]
                series = list(part["series"])
                seen = {entry["series"] for entry in series}
                for other in slos:
                    for entry in healthy[other.name] if other is not slo else []:
                        if entry["series"] not in seen:
                            seen.add(entry["series"])
                            series.append(entry)
                groups.append(
                    _scenario_group(f"SLO {slo.name}: {scenario}", series, part["alerts"], part["checks"], quiet)
                )
    # Shared series cannot go missing for one SLO alone: all go missing together.
    appearing = [group for slo in slos if (group := _appearing_errors_group(service_plan, slo)) is not None]
    low_traffic = [group for slo in slos if (group := _low_traffic_group(service_plan, slo)) is not None]
    return [
        *groups,
        *appearing,
        *low_traffic,
        *_restart_groups(service_plan),
        *_bucket_missing_groups(service_plan),
        _coverage_group(service_plan),
        _missing_group(service_plan, list(slos), "SLOs: SLI metrics missing"),
    ]


def _without(cases: list[TestGroup], disabled: tuple[str, ...]) -> list[TestGroup]:
    """The cases without checks of the alerts the service disables, and without a case left with no check."""
    kept = []
    for case in cases:
        checks = [check for check in case.get("alert_rule_test", []) if check["alertname"] not in disabled]
        rest = {key: value for key, value in case.items() if key != "alert_rule_test"}
        if checks or rest.get("promql_expr_test"):
            kept.append({**rest, "alert_rule_test": checks} if checks else rest)
    return kept


def service_tests(
    plan: Plan, service_plan: ServicePlan, rule_file_path: str, rule_groups: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The test files for the service's rule groups, one per evaluation step its cases need (a
    file has one `evaluation_interval`), keyed by the file name's infix: "" for the SLO cases and
    the DR cases at EVAL_STEP, "every-1m" for the platform alerts' (at the interval their groups
    run at) and the DR alerts held for minutes, "every-<step>" for those held for a day or more
    (timing.long_step). The groups' names, in file order, fix promtool's evaluation order, which
    is otherwise not stable from run to run. Independent cases share a test group (see testpacking)."""
    by_step: dict[Duration, list[TestGroup]] = {EVAL_STEP: _slo_groups(service_plan)}
    platform = by_step.setdefault(platform_step(service_plan.evaluation_interval), [])
    for template in templates(plan, service_plan):
        platform += _catalog_cases(plan, service_plan, template)
    for step, groups in dr_test_groups(service_plan, _expected_alert).items():
        by_step.setdefault(step, []).extend(groups)
    for step, groups in failover_test_groups(service_plan, _expected_alert).items():
        by_step.setdefault(step, []).extend(groups)

    def siblings(slo_plan: SLOPlan, series: list[dict[str, str]], until: Duration) -> list[dict[str, str]]:
        return _with_siblings(service_plan, slo_plan, series, until)

    for step, groups in freshness_test_groups(service_plan, siblings, _expected_alert).items():
        by_step.setdefault(step, []).extend(groups)
    disabled = service_plan.service.alerts.disable
    if disabled:
        by_step = {step: _without(cases, disabled) for step, cases in by_step.items()}

    def test_file(step: Duration, cases: list[TestGroup]) -> dict[str, Any]:
        return {
            "rule_files": [rule_file_path],
            "evaluation_interval": str(step),
            "group_eval_order": [group["name"] for group in rule_groups],
            "tests": pack(cases, rule_groups),
        }

    return {
        "" if step == EVAL_STEP else f"every-{step}": test_file(step, cases)
        for step, cases in sorted(by_step.items(), key=lambda item: (item[0] != EVAL_STEP, item[0]))
        if cases or step == EVAL_STEP
    }
