"""promtool cases of a freshness SLO (slo.py writes its rules): the last success fresh, stale, first
reported mid-window, pushed once and repeated as it ages, in milliseconds, and never reported.

The input is the last-success gauge itself, a Unix time. promtool starts its clock at 0, so a
success before the test began is a negative time, and a test of minutes covers a max_age of days.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from obskit.alerting.timing import EVAL_STEP, INPUT_STEP, LONG_HORIZON, SLO_CHECK_TIME, aligned, check_time, long_step
from obskit.generate.rules import slo as slo_rules
from obskit.output import escape
from obskit.plan import burnrate
from obskit.plan import conventions as names
from obskit.plan.types import ServicePlan, SLOPlan
from obskit.spec.model import FreshnessSLI
from obskit.spec.series import satisfying_labels, series_text
from obskit.units import Duration

TestGroup = dict[str, Any]
Expected = Callable[..., dict[str, Any]]  # tests._expected_alert(rule, series labels, value=None)
Siblings = Callable[[SLOPlan, list[dict[str, str]], Duration], list[dict[str, str]]]

TOLERANCE = "1e-09"
AGES_AT = Duration(30 * 60_000)  # the constant push's last success turns stale then
APPEARS_AFTER = Duration(30 * 60_000)  # at most: half an hour's window without the series, then fresh


def _sli(slo_plan: SLOPlan) -> FreshnessSLI:
    sli = slo_plan.slo.sli
    assert isinstance(sli, FreshnessSLI)
    return sli


def is_freshness(slo_plan: SLOPlan) -> bool:
    return isinstance(slo_plan.slo.sli, FreshnessSLI)


def last_success_series(slo_plan: SLOPlan) -> str:
    selector = _sli(slo_plan).last_success
    return series_text(selector.metric, satisfying_labels(selector.matchers))


def _seconds(duration: Duration) -> Fraction:
    return Fraction(duration.ms, 1000)


def _text(value: Fraction) -> str:
    return burnrate.decimal_text(value)


def _steps(until: Duration) -> int:
    return until.ms // INPUT_STEP.ms


def fresh_age(slo_plan: SLOPlan) -> Fraction:
    """The age of a fresh last success at the end of a case: max_age itself, the oldest that is still
    fresh (a whole number of seconds, which Prometheus' floats hold exactly), else nine tenths of it."""
    max_age = _seconds(_sli(slo_plan).max_age)
    return max_age if max_age.denominator == 1 else max_age * 9 / 10


def fresh_value(slo_plan: SLOPlan, until: Duration) -> Fraction:
    """A last success that is fresh_age old at `until`, and younger before."""
    return _seconds(until) - fresh_age(slo_plan)


def stale_value(slo_plan: SLOPlan, until: Duration) -> Fraction:
    """A last success older than max_age from the start (and at `until`, a minute more than max_age + until)."""
    return -(_seconds(_sli(slo_plan).max_age) + _seconds(until) + 60)


def last_success_input(slo_plan: SLOPlan, stale: bool, until: Duration) -> list[dict[str, str]]:
    """The gauge pushed once and scraped every minute until `until`: fresh throughout, or stale."""
    value = stale_value(slo_plan, until) if stale else fresh_value(slo_plan, until)
    return [{"series": last_success_series(slo_plan), "values": f"{_text(value)}x{_steps(until)}"}]


def _labels_text(labels: dict[str, str]) -> str:
    return escape.label_selector({name: labels[name] for name in sorted(labels)})


def _equals(slo_plan: SLOPlan, series: str, value: Fraction, at: Duration) -> dict[str, Any]:
    bound = _text(max(Fraction(1), abs(value)))
    return {
        "expr": f"abs({series}{slo_plan.selector} - {_text(value)}) <= bool {TOLERANCE} * {bound}",
        "eval_time": str(at),
        "exp_samples": [{"labels": _labels_text(slo_plan.labels), "value": 1}],
    }


def _ratios(slo_plan: SLOPlan, value: Fraction, at: Duration) -> list[dict[str, Any]]:
    windows = (slo_rules.BASE_WINDOW, *slo_rules.SHORT_WINDOWS, *slo_rules.long_windows(slo_plan.window))
    return [_equals(slo_plan, names.error_ratio(window), value, at) for window in windows]


def _silent(alert: str, until: Duration, since: Duration = EVAL_STEP) -> list[dict[str, Any]]:
    return [
        {"eval_time": str(Duration(ms)), "alertname": alert, "exp_alerts": []}
        for ms in range(since.ms, until.ms + 1, EVAL_STEP.ms)
    ]


def _check_time(service_plan: ServicePlan) -> Duration:
    """After LastSuccessTooOld's `for:` and the SLO cases' own check time."""
    return max(SLO_CHECK_TIME, check_time(service_plan.tier.platform_alert_for))


def _group(name: str, series: list[dict[str, str]], alerts: list[Any], checks: list[Any]) -> TestGroup:
    group: TestGroup = {"name": name, "interval": str(INPUT_STEP), "input_series": series, "alert_rule_test": alerts}
    if checks:
        group["promql_expr_test"] = checks
    return group


def _fresh(service_plan: ServicePlan, slo_plan: SLOPlan, siblings: Siblings) -> TestGroup:
    """Fresh throughout, max_age old at the end: nothing fires, every window reads no time stale."""
    at = _check_time(service_plan)
    return _group(
        f"SLO {slo_plan.name}: fresh",
        siblings(slo_plan, last_success_input(slo_plan, False, at), at),
        [*_silent("ErrorBudgetBurn", at), *_silent(names.LAST_SUCCESS_TOO_OLD, at)],
        [
            *_ratios(slo_plan, Fraction(0), at),
            _equals(slo_plan, names.LAST_SUCCESS_AGE, fresh_age(slo_plan), at),
        ],
    )


def _stale(service_plan: ServicePlan, slo_plan: SLOPlan, siblings: Siblings, expected: Expected) -> TestGroup:
    """Stale throughout: LastSuccessTooOld fires after its `for:`, and every burn alert fires at a
    ratio of 1 (the objective's thresholds are below 1: plan/reachable.py)."""
    at = _check_time(service_plan)
    stale, _ = slo_rules.freshness_alerts(service_plan, slo_plan)
    labels = slo_plan.labels
    burns = [
        expected(slo_rules.burn_alert(service_plan, slo_plan, burn), labels, Fraction(1))
        for burn in slo_plan.burn_alerts
    ]
    for_ = service_plan.tier.platform_alert_for
    early = [{"eval_time": str(for_ - EVAL_STEP), "alertname": stale.rule["alert"], "exp_alerts": []}]
    return _group(
        f"SLO {slo_plan.name}: stale",
        siblings(slo_plan, last_success_input(slo_plan, True, at), at),
        [
            *(early if for_ > EVAL_STEP else []),
            {"eval_time": str(at), "alertname": stale.rule["alert"], "exp_alerts": [expected(stale.rule, labels)]},
            {"eval_time": str(at), "alertname": "ErrorBudgetBurn", "exp_alerts": burns},
        ],
        [
            *_ratios(slo_plan, Fraction(1), at),
            _equals(slo_plan, names.LAST_SUCCESS_AGE, _seconds(at) - stale_value(slo_plan, at), at),
        ],
    )


def _appears(service_plan: ServicePlan, slo_plan: SLOPlan, siblings: Siblings) -> TestGroup:
    """No series for up to half an hour (a new job, a Pushgateway restarted without persistence),
    then a fresh one: the time without it counts as neither fresh nor stale, so nothing fires, not
    even the absent variant, whose max_age has not passed. Rules counting the gap as stale would
    read half of the hour stale and page."""
    gap = Duration(max(INPUT_STEP.ms, min(APPEARS_AFTER.ms, _sli(slo_plan).max_age.ms // 2) // 60_000 * 60_000))
    at = aligned(gap + SLO_CHECK_TIME)
    value = fresh_value(slo_plan, at)
    series = [{"series": last_success_series(slo_plan), "values": f"_x{_steps(gap)} {_text(value)}x{_steps(at - gap)}"}]
    return _group(
        f"SLO {slo_plan.name}: last success appears mid-window",
        siblings(slo_plan, series, at),
        [*_silent("ErrorBudgetBurn", at), *_silent(names.LAST_SUCCESS_TOO_OLD, at)],
        [_equals(slo_plan, names.error_ratio(window), Fraction(0), at) for window in burnrate.ALERT_WINDOWS],
    )


def _ages(service_plan: ServicePlan, slo_plan: SLOPlan, siblings: Siblings, expected: Expected) -> TestGroup:
    """One push, its same timestamp scraped again every minute: the age grows with the clock, and
    LastSuccessTooOld fires once it passes max_age (rules that looked for the gauge's changes, or
    at the time of the scrape, would read it as fresh forever)."""
    for_ = service_plan.tier.platform_alert_for
    last_silent = AGES_AT + aligned(for_)
    at = last_silent + EVAL_STEP + EVAL_STEP
    value = _seconds(AGES_AT) - _seconds(_sli(slo_plan).max_age)  # max_age old at AGES_AT
    series = [{"series": last_success_series(slo_plan), "values": f"{_text(value)}x{_steps(at)}"}]
    stale, _ = slo_rules.freshness_alerts(service_plan, slo_plan)
    return _group(
        f"SLO {slo_plan.name}: the same push ages",
        siblings(slo_plan, series, at),
        [
            *_silent(names.LAST_SUCCESS_TOO_OLD, last_silent),
            {
                "eval_time": str(at),
                "alertname": stale.rule["alert"],
                "exp_alerts": [expected(stale.rule, slo_plan.labels)],
            },
        ],
        [
            _equals(slo_plan, names.LAST_SUCCESS_AGE, _seconds(AGES_AT) - value, AGES_AT),
            _equals(slo_plan, names.LAST_SUCCESS_AGE, _seconds(at) - value, at),
        ],
    )


def _milliseconds(service_plan: ServicePlan, slo_plan: SLOPlan, siblings: Siblings, expected: Expected) -> TestGroup:
    """A job that pushes its time in milliseconds (Java's currentTimeMillis): far in the future read
    as seconds, which must not read as fresh forever. Stale, and LastSuccessTooOld fires."""
    at = _check_time(service_plan)
    value = _seconds(at) * 1000
    series = [{"series": last_success_series(slo_plan), "values": f"{_text(value)}x{_steps(at)}"}]
    stale, _ = slo_rules.freshness_alerts(service_plan, slo_plan)
    return _group(
        f"SLO {slo_plan.name}: last success in milliseconds",
        siblings(slo_plan, series, at),
        [
            {
                "eval_time": str(at),
                "alertname": stale.rule["alert"],
                "exp_alerts": [expected(stale.rule, slo_plan.labels)],
            }
        ],
        [_equals(slo_plan, names.error_ratio(window), Fraction(1), at) for window in burnrate.ALERT_WINDOWS],
    )


def _never_reported(service_plan: ServicePlan, slos: list[SLOPlan], expected: Expected) -> tuple[Duration, TestGroup]:
    """No last success at all (a job that never ran, or never pushed): each SLO's absent variant
    fires once max_age has passed, in a file at a coarser step when that is days."""
    longest = max(_sli(slo_plan).max_age for slo_plan in slos)
    step = long_step(longest) if check_time(longest) > LONG_HORIZON else EVAL_STEP
    at = check_time(longest, step)
    absent = [
        expected(slo_rules.freshness_alerts(service_plan, slo_plan)[1].rule, slo_plan.labels) for slo_plan in slos
    ]
    return step, _group(
        "SLOs: last success never reported",
        [],
        [{"eval_time": str(at), "alertname": names.LAST_SUCCESS_TOO_OLD, "exp_alerts": absent}],
        [],
    )


def freshness_test_groups(
    service_plan: ServicePlan, siblings: Siblings, expected: Expected
) -> dict[Duration, list[TestGroup]]:
    """The freshness SLOs' groups by evaluation step; `siblings` adds the other SLOs' healthy series."""
    slos = [slo_plan for slo_plan in service_plan.slos if is_freshness(slo_plan)]
    if not slos:
        return {}
    groups: dict[Duration, list[TestGroup]] = {EVAL_STEP: []}
    for slo_plan in slos:
        groups[EVAL_STEP] += [
            _fresh(service_plan, slo_plan, siblings),
            _stale(service_plan, slo_plan, siblings, expected),
            _appears(service_plan, slo_plan, siblings),
            _ages(service_plan, slo_plan, siblings, expected),
            _milliseconds(service_plan, slo_plan, siblings, expected),
        ]
    step, never = _never_reported(service_plan, slos, expected)
    groups.setdefault(step, []).append(never)
    return groups
