"""The freshness SLO kind: a batch job's last success (a Unix-time gauge) at most max_age old.
Validation at FILE:LINE, the rules and alerts, the generated promtool cases on both Prometheus
lines, and those cases failing on rules that get freshness wrong."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from obskit.generate.dashboards import render_dashboards
from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree, validate
from obskit.spec.problems import SpecInvalid
from obskit.verify import promtool
from tests.conftest import MINIMAL, problems_of
from tests.servers import VERSION_PARAMS, VERSIONS, require_binary

REPORTS = 'reports_last_success_timestamp_seconds{job="nightly-reports"}'
SPEC = (
    MINIMAL
    + f"""\
    slos:
      availability: {{errors: 'http_requests_total{{job="checkout",code=~"5.."}}', total: 'http_requests_total{{job="checkout"}}'}}
      reports:
        objective: 99
        freshness:
          last_success: '{REPORTS}'
          max_age: 26h
      exports:
        freshness: {{last_success: 'export_last_success_timestamp_seconds{{job=~"export-.+"}}', max_age: 90m}}
"""
)


def _slo(fields: str) -> str:
    return MINIMAL + "    slos:\n      reports:\n" + "".join(f"        {line}\n" for line in fields.splitlines())


def _plan_problems(path: Path) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        validate(path)
    return [str(problem).replace(f"{path.parent}/", "") for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            f"errors: 'a_total{{code=\"5\"}}'\ntotal: a_total\nfreshness: {{last_success: '{REPORTS}', max_age: 1h}}",
            "obskit.yaml:15: services.checkout.slos.reports: give exactly one SLI: 'errors' with 'total', 'latency', "
            "'error_query' with 'total_query', or 'freshness'; found errors, freshness, total",
        ),
        (
            f"freshness: {{last_success: '{REPORTS}', max_age: 0s}}",
            "obskit.yaml:16: services.checkout.slos.reports.freshness.max_age: '0s' must be longer than zero",
        ),
        (
            "freshness: {max_age: 1h}",
            "obskit.yaml:16: services.checkout.slos.reports.freshness.last_success: required field",
        ),
        (
            "freshness: {last_success: 'time() - x', max_age: 1h}",
            "obskit.yaml:16: services.checkout.slos.reports.freshness.last_success:",
        ),
        (
            f"freshness: {{last_success: '{REPORTS}', max_age: 1h}}\nalerts: {{min_errors: 3}}",
            "obskit.yaml:17: services.checkout.slos.reports.alerts.min_errors: counts failed events, and a "
            "freshness SLO counts time (its burn alerts need no minimum): remove it",
        ),
    ],
)
def test_bad_freshness_fields_are_refused_at_their_line(write_spec, fields: str, expected: str) -> None:
    problems = problems_of(write_spec(_slo(fields)))
    assert any(problem.startswith(expected) for problem in problems), problems


@pytest.mark.parametrize(("max_age", "refused"), [("15s", True), ("10s", True), ("16s", False)])
def test_max_age_must_be_longer_than_the_scrape_interval(write_spec, max_age: str, refused: bool) -> None:
    """tier1_critical scrapes every 15s: a success is seen up to a scrape late."""
    path = write_spec(_slo(f"freshness:\n  last_success: '{REPORTS}'\n  max_age: {max_age}"))
    if not refused:
        validate(path)
        return
    assert _plan_problems(path) == [
        f"obskit.yaml:18: services.checkout.slos.reports.freshness.max_age: '{max_age}' is not longer than the "
        "scrape interval (15s): a success is seen up to a scrape late, so the SLO would read stale while the job "
        "keeps succeeding; use a longer max_age"
    ]


def test_the_objective_is_the_tiers_unless_given_and_must_leave_the_burn_alerts_reachable(write_spec) -> None:
    plan = load_plan(write_spec(_slo(f"freshness: {{last_success: '{REPORTS}', max_age: 1h}}")), "prod")
    assert str(plan.services[0].slos[0].objective) == "99.95"  # tier1_critical's slo_objective
    path = write_spec(_slo(f"objective: 90\nfreshness: {{last_success: '{REPORTS}', max_age: 1h}}"))
    assert "could never fire" in _plan_problems(path)[0]


def _rules(tree: dict[str, str]) -> list[dict[str, Any]]:
    groups = yaml.safe_load(tree["prometheus/rulefiles/checkout.rules.yaml"])["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_sli_is_the_share_of_time_stale_with_its_own_alerts(write_spec) -> None:
    tree = output_tree(load_plan(write_spec(SPEC), "prod"))
    rules = _rules(tree)
    selector = 'env="prod",namespace="shop",service="checkout",slo="reports"'
    recorded = {r["record"]: r["expr"] for r in rules if "record" in r and r["labels"].get("slo") == "reports"}
    assert recorded["slo:last_success:age_seconds"] == f"time() - max({REPORTS})"
    age = f"slo:last_success:age_seconds{{{selector}}}"
    assert recorded["slo:sli_errors:rate5m"] == f"({age} > bool 93600) + ({age} < bool -93600)"
    assert recorded["slo:sli_total:rate5m"] == f"slo:last_success:age_seconds{{{selector}}} * 0 + 1"
    assert recorded["slo:last_success:max_age_seconds"] == "vector(93600)"
    assert not any(name.startswith("slo:sli_errors:increase") for name in recorded)  # no min_errors: time
    alerts = [rule for rule in rules if "alert" in rule and rule["labels"].get("slo") == "reports"]
    assert sorted({rule["alert"] for rule in alerts}) == ["ErrorBudgetBurn", "LastSuccessTooOld"]
    burn = next(rule for rule in alerts if rule["alert"] == "ErrorBudgetBurn")
    assert "of the time the last success was stale" in burn["annotations"]["description"]
    assert "increase" not in burn["expr"]
    stale, absent = (rule for rule in alerts if rule["alert"] == "LastSuccessTooOld")
    assert (stale["expr"], stale["for"], stale["labels"]["severity"]) == (
        f"{age} > 93600\nor\n{age} < -93600",
        "2m",
        "warning",
    )
    assert (absent["expr"], absent["for"], absent["labels"]["severity"], absent["labels"]["cause"]) == (
        f"absent(slo:last_success:age_seconds{{{selector}}})",
        "1d2h",
        "critical",  # tier1 pages, and the burn alerts cannot see a series that is not there
        "absent",
    )
    # the ratio SLO beside it keeps its own
    assert any(r.get("alert") == "SLIMetricMissing" and r["labels"].get("slo") == "availability" for r in rules)
    assert "## LastSuccessTooOld" in tree["runbooks/checkout.md"]


def test_the_absent_variant_is_a_ticket_without_the_page(write_spec) -> None:
    fields = f"freshness: {{last_success: '{REPORTS}', max_age: 1h}}\nalerts: {{page: false}}"
    rules = _rules(output_tree(load_plan(write_spec(_slo(fields)), "prod")))
    absent = next(rule for rule in rules if rule.get("labels", {}).get("cause") == "absent")
    assert absent["labels"]["severity"] == "warning"


def test_the_slo_dashboard_shows_the_age_only_where_an_slo_measures_freshness(write_spec) -> None:
    def titles(text: str) -> list[str]:
        dashboards = render_dashboards(load_plan(write_spec(text), "prod"))
        slo = next(board for uid, board in dashboards.items() if uid.endswith("-slo"))
        return [panel["title"] for panel in slo["panels"]]

    with_age = titles(SPEC)
    assert "Age of the last success" in with_age
    assert titles(MINIMAL) == [title for title in with_age if title != "Age of the last success"]


def _tree(tmp_path: Path, write_spec: Callable[..., Path]) -> tuple[Path, list[str]]:
    out = tmp_path / "out"
    write(out, output_tree(load_plan(write_spec(SPEC), "prod")))
    tests = sorted(str(p.relative_to(out)) for p in (out / "prometheus/tests").glob("checkout.*test.yaml"))
    return out, tests


@pytest.mark.parametrize("version", VERSION_PARAMS)
def test_the_generated_cases_pass_on_each_prometheus_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_spec: Callable[..., Path], version: str
) -> None:
    monkeypatch.setenv("OBSKIT_PROMTOOL", require_binary(VERSIONS[version][1]))
    assert promtool.version().startswith(f"promtool, version {version[0]}.")
    out, tests = _tree(tmp_path, write_spec)
    assert "prometheus/tests/checkout.every-1h.test.yaml" in tests  # never reported for 26h: a coarser step
    names = {
        name
        for test_file in tests
        for group in yaml.safe_load((out / test_file).read_text())["tests"]
        for name in group["name"].split(" + ")
    }
    for slo in ("reports", "exports"):
        for case in (
            "fresh",
            "stale",
            "last success appears mid-window",
            "the same push ages",
            "last success in milliseconds",
        ):
            assert f"SLO {slo}: {case}" in names
    assert "SLOs: last success never reported" in names
    outcome = promtool.test_rules(out, tests)
    assert outcome.ok, outcome.output


Rules = list[dict[str, Any]]


def _freshness_rule(groups: list[dict[str, Any]], record: str) -> dict[str, Any]:
    return next(
        rule
        for group in groups
        for rule in group["rules"]
        if rule.get("record") == record and rule["labels"].get("slo") == "reports"
    )


def _stale_from_the_scrape_time(groups: list[dict[str, Any]]) -> None:
    """The age from when the gauge was last scraped: a constant push would read fresh forever."""
    rule = _freshness_rule(groups, "slo:last_success:age_seconds")
    rule["expr"] = f"time() - max(timestamp({REPORTS}))"


def _absence_counted_stale(groups: list[dict[str, Any]]) -> None:
    """No series read as stale: a job that appears mid-window pays for the time before."""
    errors = _freshness_rule(groups, "slo:sli_errors:rate5m")
    errors["expr"] = f"({errors['expr']}) or on () vector(1)"
    _freshness_rule(groups, "slo:sli_total:rate5m")["expr"] = "vector(1)"


def _without_the_absent_variant(groups: list[dict[str, Any]]) -> None:
    for group in groups:
        group["rules"] = [rule for rule in group["rules"] if not rule.get("labels", {}).get("cause")]


def _stale_at_max_age_itself(groups: list[dict[str, Any]]) -> None:
    """An off-by-one: stale at max_age itself, which is the oldest a fresh last success may be."""
    errors = _freshness_rule(groups, "slo:sli_errors:rate5m")
    errors["expr"] = errors["expr"].replace("> bool", ">= bool")


def _milliseconds_read_fresh(groups: list[dict[str, Any]]) -> None:
    """Only the past checked: a time in milliseconds, far in the future, reads fresh forever."""
    for group in groups:
        for rule in group["rules"]:
            if rule.get("labels", {}).get("slo") == "reports" and "< -93600" in rule["expr"]:
                rule["expr"] = rule["expr"].split("\nor\n")[0]
    errors = _freshness_rule(groups, "slo:sli_errors:rate5m")
    errors["expr"] = errors["expr"].split(" + ")[0]


@pytest.mark.slow  # a promtool run per broken rule set: the mutation tests run in `make test`
@pytest.mark.tools("promtool")
@pytest.mark.parametrize(
    ("mutate", "failing"),
    [
        (_stale_from_the_scrape_time, "SLO reports: the same push ages"),
        (_absence_counted_stale, "SLO reports: last success appears mid-window"),
        (_without_the_absent_variant, "SLOs: last success never reported"),
        (_stale_at_max_age_itself, "SLO reports: fresh"),
        (_milliseconds_read_fresh, "SLO reports: last success in milliseconds"),
    ],
)
def test_the_generated_cases_fail_on_rules_that_get_freshness_wrong(
    tmp_path: Path, write_spec: Callable[..., Path], mutate: Callable[[list[dict[str, Any]]], None], failing: str
) -> None:
    out, tests = _tree(tmp_path, write_spec)
    rule_file = out / "prometheus/rulefiles/checkout.rules.yaml"
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    mutate(groups)
    rule_file.write_text(yaml.safe_dump({"groups": groups}))
    outcome = promtool.test_rules(out, tests)
    assert not outcome.ok
    failed = {name for line in re.findall(r"^\s+name: (.*),$", outcome.output, re.M) for name in line.split(" + ")}
    assert failing in failed, outcome.output
