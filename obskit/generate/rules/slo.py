"""SLO recording rules and ErrorBudgetBurn alerts for one SLO.

The SLI's error and total rates are recorded once, over 5m, from the spec's selectors;
every longer window averages those recorded rates (avg_over_time), errors and total
separately. Their quotient is then the ratio of events over the window, so a busy hour
weighs more than a quiet one (unlike an average of 5m ratios), and each window reads a
single recorded series instead of every raw series over days.

A freshness SLI records, at each evaluation, the age of the last success, a 0/1 "stale" in place
of the error rate and a 1 in place of the total, both only while the last success is reported:
every window's ratio is then the share of the evaluations (of the time) that read stale, and the
burn-rate rules above apply unchanged (docs/spec.md says why).
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from obskit.alerting.alerts import CheckedAlert, Group, Rule, when_absent
from obskit.alerting.timing import check_time
from obskit.output import escape
from obskit.plan import burnrate
from obskit.plan import conventions as names
from obskit.plan.conventions import (
    BUDGET_REMAINING,
    DATA_COVERAGE,
    ERROR_BUDGET,
    LAST_SUCCESS_AGE,
    LAST_SUCCESS_TOO_OLD,
    MAX_AGE,
    OBJECTIVE,
    OLDEST_TIMESTAMP,
    SAMPLE_TIMESTAMP,
    burn_rate,
    error_ratio,
    errors_increase,
    errors_rate,
    group_name,
    total_rate,
)
from obskit.plan.types import BurnAlertPlan, ServicePlan, SLOPlan
from obskit.spec.model import FreshnessSLI, LatencySLI, RatioSLI, RawSLI
from obskit.spec.promql import WINDOW_PLACEHOLDER
from obskit.units import Duration, human_duration, parse_duration

BASE_WINDOW = parse_duration("5m")
# The long group's windows (1d, 3d, the SLO window) read a 10m average of the 5m rates that the
# long group itself records every 2m: a quarter of the samples of the 5m rates recorded every
# 30s, still an average over every event, and at most minutes late over a day.
COARSE_WINDOW = parse_duration("10m")
SHORT_WINDOWS = tuple(w for w in burnrate.ALERT_WINDOWS if w < parse_duration("1d") and w != BASE_WINDOW)
LONG_GROUP_INTERVAL = parse_duration("2m")  # well inside the 5m lookback, so readers never see the series go stale
# Finding the oldest sample of a whole SLO window reads as many samples as averaging it; the
# oldest moves by at most 30m of a window of days in 30m, so it is looked up that often.
COVERAGE_INTERVAL = parse_duration("30m")


def le_text(threshold: Duration) -> str:
    """The threshold as Prometheus 3 stores a bucket's `le`: 0.3, and whole numbers as 1.0."""
    text = burnrate.decimal_text(threshold.seconds)
    return text if "." in text else f"{text}.0"


def le_matcher(threshold: Duration) -> tuple[str, str, str]:
    """Match the threshold's bucket however its `le` is spelled. Prometheus 2 stores what the client
    wrote (Go writes 1 as "1", Python as "1.0", a hand-written exposition may say "0.30");
    Prometheus 3 normalises to 0.3 and 1.0. So: the number's digits, then any trailing zeros."""
    text = burnrate.decimal_text(threshold.seconds)
    escaped = text.replace(".", "\\.")
    return ("le", "=~", f"{escaped}0*" if "." in text else f"{escaped}(\\.0*)?")


def _sum_rate(selector_text: str, window: Duration) -> str:
    return f"sum(rate({selector_text}[{window}]))"


def _zero_while_counted(errors: str, total: str) -> str:
    """The error rate, or 0 while the total has traffic and no error series exists yet (client
    libraries create it on the first error). Absent with the total, so SLIMetricMissing still
    fires; `or on()` adds the 0 only when the error side is empty."""
    return f"{errors}\nor on ()\n0 * {total}"


def seconds_text(duration: Duration) -> str:
    return burnrate.decimal_text(Fraction(duration.ms, 1000))


def freshness_age(sli: FreshnessSLI) -> str:
    """Seconds since the last success. Of several series (instances, Pushgateway groups, a job
    pushed under an old grouping key that the Pushgateway keeps forever) the newest counts."""
    return f"time() - max({sli.last_success})"


def base_expressions(slo_plan: SLOPlan) -> tuple[str, str]:
    """PromQL for the SLI's error and total rates over the base window; for a freshness SLI, whether
    the last success is stale (0/1, see `stale`) and a 1 while it is reported, read from the recorded age."""
    sli = slo_plan.slo.sli
    if isinstance(sli, FreshnessSLI):
        age = f"{LAST_SUCCESS_AGE}{slo_plan.selector}"
        limit = seconds_text(sli.max_age)
        return f"({age} > bool {limit}) + ({age} < bool -{limit})", f"{age} * 0 + 1"
    if isinstance(sli, RatioSLI):
        total = _sum_rate(str(sli.total), BASE_WINDOW)
        return _zero_while_counted(_sum_rate(str(sli.errors), BASE_WINDOW), total), total
    if isinstance(sli, LatencySLI):
        histogram = sli.histogram
        total = _sum_rate(histogram.with_name(f"{histogram.metric}_count"), BASE_WINDOW)
        good = _sum_rate(threshold_bucket(sli), BASE_WINDOW)
        return f"{total} - {good}", total
    assert isinstance(sli, RawSLI)
    errors = sli.error_query.replace(WINDOW_PLACEHOLDER, str(BASE_WINDOW))
    total = sli.total_query.replace(WINDOW_PLACEHOLDER, str(BASE_WINDOW))
    return _zero_while_counted(f"({errors})", f"({total})"), total


def _record(name: str, expr: str, labels: dict[str, str]) -> Rule:
    return {"record": name, "expr": expr, "labels": dict(labels)}


def _window_rules(
    windows: tuple[Duration, ...], match: str, labels: dict[str, str], source: Duration = BASE_WINDOW
) -> list[Rule]:
    """Error and total rates over each window, averaged from the recorded `source` rates, and their ratio."""
    rules = []
    for window in windows:
        for name in (errors_rate, total_rate):
            rules.append(_record(name(window), f"avg_over_time({name(source)}{match}[{window}])", labels))
    for window in windows:
        rules.append(
            _record(error_ratio(window), f"{errors_rate(window)}{match} / {total_rate(window)}{match}", labels)
        )
    return rules


def _covered_seconds(slo_plan: SLOPlan) -> str:
    """Seconds since the oldest data in the SLO window. Counting samples would need the interval
    they were recorded at, which promtool's tests do not keep; their timestamps need nothing.
    Until the coverage group first runs (up to COVERAGE_INTERVAL after the rules load), the
    oldest sample of the last hour stands in: short windows are right, long ones undercounted."""
    match, recent = slo_plan.selector, COVERAGE_INTERVAL + COVERAGE_INTERVAL
    return (
        f"(time() - (last_over_time({OLDEST_TIMESTAMP}{match}[{recent}]) "
        f"or min_over_time({SAMPLE_TIMESTAMP}{match}[{recent}])))"
    )


def min_errors(slo_plan: SLOPlan) -> int:
    """Failed events a burn alert needs; none for a freshness SLI, which counts time, not events
    (traffic cannot be low: every evaluation counts)."""
    return 0 if isinstance(slo_plan.slo.sli, FreshnessSLI) else slo_plan.slo.alerts.min_errors


def _increase_rules(slo_plan: SLOPlan) -> list[Rule]:
    """For the min_errors rule: the failed events over each burn alert's long window, its average
    rate times the part of the window that has data (a rate times the whole window would count
    events from before the data began)."""
    if not min_errors(slo_plan):
        return []
    match = slo_plan.selector
    return [
        _record(
            errors_increase(window),
            f"{errors_rate(window)}{match} * clamp_max({_covered_seconds(slo_plan)}, {window.ms // 1000})",
            slo_plan.labels,
        )
        for window in sorted({burn.pair.long for burn in slo_plan.burn_alerts})
    ]


def long_windows(slo_window: Duration) -> tuple[Duration, ...]:
    return (*(w for w in burnrate.ALERT_WINDOWS if w >= parse_duration("1d")), slo_window)


# In a burn alert's description, the error ratio over its long window as Prometheus renders it.
VALUE_TEXT = "{{ $value | humanizePercentage }}"


def humanize_percentage(value: float) -> str:
    """What Prometheus' humanizePercentage makes of a value: Go's %.4g of it times 100."""
    return f"{value * 100:.4g}%"


def sli_text(slo_plan: SLOPlan) -> str:
    """The SLI's definition, for the on-call reading the alert, as Go template text: a selector's
    value or a raw query may hold `{{`."""
    return escape.template_text(_sli_definition(slo_plan))


def _sli_definition(slo_plan: SLOPlan) -> str:
    sli = slo_plan.slo.sli
    if isinstance(sli, FreshnessSLI):
        return f"the time the last success, {sli.last_success}, is more than {sli.max_age} old"
    if isinstance(sli, RatioSLI):
        return f"events {sli.errors} out of {sli.total}"
    if isinstance(sli, LatencySLI):
        return f"requests of {sli.histogram} slower than {sli.threshold}"
    errors, total = (
        query.replace(WINDOW_PLACEHOLDER, str(BASE_WINDOW)) for query in (sli.error_query, sli.total_query)
    )
    return f"{errors} out of {total}"


def _labels(service_plan: ServicePlan, slo_plan: SLOPlan, severity: str, **extra: str) -> dict[str, str]:
    return {**service_plan.alert_labels(severity), "slo": slo_plan.name, **extra, **dict(slo_plan.slo.alerts.labels)}


def _annotations(
    service_plan: ServicePlan, slo_plan: SLOPlan, alert: str, summary: str, description: str
) -> dict[str, str]:
    return {
        "summary": summary,
        "description": description,
        **service_plan.links(alert),
        **dict(slo_plan.slo.alerts.annotations),
    }


def slo_groups(service_plan: ServicePlan, slo_plan: SLOPlan) -> list[Group]:
    labels = slo_plan.labels
    match = slo_plan.selector
    errors_expr, total_expr = base_expressions(slo_plan)
    objective = Fraction(slo_plan.objective) / 100
    budget = slo_plan.budget

    freshness = slo_plan.slo.sli if isinstance(slo_plan.slo.sli, FreshnessSLI) else None
    sli = [
        *([_record(LAST_SUCCESS_AGE, freshness_age(freshness), labels)] if freshness else []),
        _record(errors_rate(BASE_WINDOW), errors_expr, labels),
        _record(total_rate(BASE_WINDOW), total_expr, labels),
        _record(
            error_ratio(BASE_WINDOW), f"{errors_rate(BASE_WINDOW)}{match} / {total_rate(BASE_WINDOW)}{match}", labels
        ),
        *_window_rules(SHORT_WINDOWS, match, labels),
    ]
    windows = long_windows(slo_plan.window)
    info = {
        **labels,
        "team": service_plan.service.team,
        "tier": service_plan.tier.name,
        "slo_window": str(slo_plan.window),
        "scrape_job": service_plan.service.job,
    }
    long = [
        _record(OBJECTIVE, f"vector({burnrate.decimal_text(objective)})", labels),
        _record(ERROR_BUDGET, f"vector({burnrate.decimal_text(budget)})", labels),
        *[
            _record(name(COARSE_WINDOW), f"avg_over_time({name(BASE_WINDOW)}{match}[{COARSE_WINDOW}])", labels)
            for name in (errors_rate, total_rate)
        ],
        *_window_rules(windows, match, labels, source=COARSE_WINDOW),
        _record(BUDGET_REMAINING, f"1 - {error_ratio(slo_plan.window)}{match} / {ERROR_BUDGET}{match}", labels),
        _record(SAMPLE_TIMESTAMP, f"timestamp({total_rate(COARSE_WINDOW)}{match})", labels),
        _record(DATA_COVERAGE, f"clamp_max({_covered_seconds(slo_plan)} / {slo_plan.window.ms // 1000}, 1)", labels),
        *_increase_rules(slo_plan),
    ]
    described = [
        _record(names.SLO_INFO, "vector(1)", info),
        *([_record(MAX_AGE, f"vector({seconds_text(freshness.max_age)})", labels)] if freshness else []),
        *[
            _record(
                names.BURN_THRESHOLD,
                f"vector({burnrate.decimal_text(burn.factor)})",
                {
                    **labels,
                    "long_window": str(burn.pair.long),
                    "short_window": str(burn.pair.short),
                    "severity": burn.severity,
                },
            )
            for burn in slo_plan.burn_alerts
        ],
    ]
    coverage = [
        _record(OLDEST_TIMESTAMP, f"min_over_time({SAMPLE_TIMESTAMP}{match}[{slo_plan.window}])", labels),
    ]
    alerts: list[Rule] = [
        _record(burn_rate(window), f"{error_ratio(window)}{match} / {ERROR_BUDGET}{match}", labels)
        for window in burnrate.ALERT_WINDOWS
    ]
    for burn in slo_plan.burn_alerts:
        alerts.append(burn_alert(service_plan, slo_plan, burn))
    if freshness:
        alerts += [checked.rule for checked in freshness_alerts(service_plan, slo_plan)]
    else:
        alerts.append(sli_missing_alert(service_plan, slo_plan))
    if isinstance(slo_plan.slo.sli, LatencySLI):
        alerts.append(bucket_missing_alert(service_plan, slo_plan))
    return [
        {"name": group_name(service_plan.name, slo_plan.name, "sli"), "rules": sli},
        {
            "name": group_name(service_plan.name, slo_plan.name, "sli-long"),
            "interval": str(LONG_GROUP_INTERVAL),
            "rules": long,
        },
        {
            "name": group_name(service_plan.name, slo_plan.name, "info"),
            "interval": str(LONG_GROUP_INTERVAL),  # constants, seen within the 5m lookback
            "rules": described,
        },
        {
            "name": group_name(service_plan.name, slo_plan.name, "coverage"),
            "interval": str(COVERAGE_INTERVAL),
            "rules": coverage,
        },
        {"name": group_name(service_plan.name, slo_plan.name, "alerts"), "rules": alerts},
    ]


def burn_alert(service_plan: ServicePlan, slo_plan: SLOPlan, burn: BurnAlertPlan) -> Rule:
    pair, factor, match = burn.pair, burn.factor, slo_plan.selector
    limit = burnrate.decimal_text(burn.threshold)
    outlook = (
        f"at this rate the {slo_plan.window} budget is gone in {human_duration(slo_plan.window.seconds / factor)}"
        if factor >= 1
        else f"sustained, this would spend {burnrate.decimal_text(pair.budget_share * 100)}% of the budget "
        f"every {pair.long}"
    )
    expr = f"{error_ratio(pair.long)}{match} > {limit}\nand\n{error_ratio(pair.short)}{match} > {limit}"
    least = min_errors(slo_plan)
    if least:
        expr += f"\nand\n{errors_increase(pair.long)}{match} >= {least}"
    failed, those = (
        ("of the time the last success was stale", "that")
        if isinstance(slo_plan.slo.sli, FreshnessSLI)
        else ("of events failed", "those")
    )
    description = (
        f"{{{{ $labels.service }}}} is spending its {{{{ $labels.slo }}}} error budget at over "
        f"{burnrate.decimal_text(factor)}x the sustainable rate: {VALUE_TEXT} {failed} over the last "
        f"{pair.long}, above the alert's threshold of {burnrate.decimal_text(burn.threshold * 100)}%, and so did "
        f"{those} of the last {pair.short}. Objective {slo_plan.objective}% over {slo_plan.window}; {outlook}. "
        f"SLI: {sli_text(slo_plan)}." + _slo_description(slo_plan)
    )
    return {
        "alert": "ErrorBudgetBurn",
        "expr": expr,
        "labels": _labels(
            service_plan, slo_plan, burn.severity, long_window=str(pair.long), short_window=str(pair.short)
        ),
        "annotations": _annotations(
            service_plan,
            slo_plan,
            "ErrorBudgetBurn",
            "Error budget is burning fast." if pair.fast else "Error budget is burning too fast.",
            description,
        ),
    }


def _slo_description(slo_plan: SLOPlan) -> str:
    """The spec's own words on the SLO, after obskit's (validation refused any `{{` in them,
    so Prometheus' template expansion leaves them as written)."""
    description = (slo_plan.slo.description or "").strip()
    return f" {description}" if description else ""


def sli_missing_alert(service_plan: ServicePlan, slo_plan: SLOPlan) -> Rule:
    return {
        "alert": "SLIMetricMissing",
        "expr": f"absent({total_rate(BASE_WINDOW)}{slo_plan.selector})",
        "for": str(service_plan.tier.platform_alert_for),
        "labels": _labels(service_plan, slo_plan, "warning"),
        "annotations": _annotations(
            service_plan,
            slo_plan,
            "SLIMetricMissing",
            "The metrics of an SLI are missing.",
            "The total-events series of the {{ $labels.slo }} SLO of {{ $labels.service }} has been missing for "
            f"{service_plan.tier.platform_alert_for}: its ErrorBudgetBurn alerts cannot fire. Check that the "
            f"service still exports the SLI's metrics under the same names and labels. SLI: {sli_text(slo_plan)}.",
        ),
    }


def threshold_bucket(sli: LatencySLI) -> str:
    return sli.histogram.with_name(f"{sli.histogram.metric}_bucket", le_matcher(sli.threshold))


def bucket_missing_alert(service_plan: ServicePlan, slo_plan: SLOPlan) -> Rule:
    """A histogram without a bucket at the threshold counts nothing as good or bad: the SLO's
    error rate is absent, so no burn alert can fire, while the total looks fine."""
    sli = slo_plan.slo.sli
    assert isinstance(sli, LatencySLI)
    return {
        "alert": "SLIBucketMissing",
        "expr": f"{total_rate(BASE_WINDOW)}{slo_plan.selector} > 0\nunless on ()\ncount({threshold_bucket(sli)})",
        "for": str(service_plan.tier.platform_alert_for),
        "labels": _labels(service_plan, slo_plan, "warning"),
        "annotations": _annotations(
            service_plan,
            slo_plan,
            "SLIBucketMissing",
            "The histogram of a latency SLI has no bucket at its threshold.",
            f"{sli.histogram.metric} of {{{{ $labels.service }}}} counts requests but has no bucket with "
            f"le={le_text(sli.threshold)} (the {{{{ $labels.slo }}}} SLO's threshold of {sli.threshold}) for "
            f"{service_plan.tier.platform_alert_for}: the SLO measures nothing and its ErrorBudgetBurn alerts "
            "cannot fire. Add the threshold to the histogram's buckets, or set the threshold to an existing bucket.",
        ),
    }


def freshness_alerts(service_plan: ServicePlan, slo_plan: SLOPlan) -> tuple[CheckedAlert, CheckedAlert]:
    """LastSuccessTooOld, and its variant for a last success not reported at all for max_age (a job
    that never succeeded, a Pushgateway restarted without persistence): the burn alerts read only the
    time the last success is reported, so without it nothing else would say the job is not fine.
    That variant pages where the fast burns do: the burn alerts would have, had the series been there."""
    sli = slo_plan.slo.sli
    assert isinstance(sli, FreshnessSLI)
    for_ = service_plan.tier.platform_alert_for
    age = f"{LAST_SUCCESS_AGE}{slo_plan.selector}"
    rule: Rule = {
        "alert": LAST_SUCCESS_TOO_OLD,
        # more than max_age in the future is no success either: a time in milliseconds, or a wrong clock
        "expr": f"{age} > {seconds_text(sli.max_age)}\nor\n{age} < -{seconds_text(sli.max_age)}",
        # the age crosses max_age by a scrape and an evaluation before a new success is seen
        "for": str(for_),
        "labels": _labels(service_plan, slo_plan, "warning"),
        "annotations": _annotations(
            service_plan,
            slo_plan,
            LAST_SUCCESS_TOO_OLD,
            "The last success of a batch job is older than its SLO allows.",
            f"The last success of the {{{{ $labels.slo }}}} SLO of {{{{ $labels.service }}}} "
            f"({escape.template_text(str(sli.last_success))}) is more than {sli.max_age} old (or as far in the "
            f"future: a time in milliseconds, or a wrong clock), and has been for {for_}. Check the job's last "
            "runs (did it run, did it fail, did it push its metrics?). The SLO's "
            f"ErrorBudgetBurn alerts say how fast its budget ({slo_plan.objective}% of {slo_plan.window}) is going."
            + _slo_description(slo_plan),
        ),
    }
    stale = CheckedAlert(rule, (), check_time(for_))
    absent = when_absent(stale, age, slo_plan.labels, sli.max_age, "The last success")
    fast = any(burn.pair.fast for burn in slo_plan.burn_alerts)
    description = (
        f"The last success of the {{{{ $labels.slo }}}} SLO of {{{{ $labels.service }}}} "
        f"({escape.template_text(str(sli.last_success))}) has not been reported at all for over {sli.max_age}: the "
        "job never succeeded or never pushed it, or what reports it lost it (a Pushgateway restarted without "
        "persistence, its scrape failing). The SLO's ErrorBudgetBurn alerts read only the time it is reported, "
        "so they cannot fire. Check the job's last runs and the Pushgateway's targets." + _slo_description(slo_plan)
    )
    absent_rule = {
        **absent.rule,
        "labels": {**absent.rule["labels"], "severity": service_plan.severity("page" if fast else "warning")},
        "annotations": {**absent.rule["annotations"], "description": description},
    }
    return stale, replace(absent, rule=absent_rule)
