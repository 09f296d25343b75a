"""The ratio SLI's "errors are a subset of the total" check on the series a Prometheus would
return: a finding only when the label sets say so, whether the two selectors name one metric or two."""

from __future__ import annotations

from typing import Any

import pytest

from obskit.spec.model import RatioSLI
from obskit.spec.promql import Selector
from obskit.verify.live.checks import Lookup, ratio_checks

SUBSET = "errors are a subset of the total"


class Series:
    """The two API calls a Lookup makes, answered from a fixed list of series."""

    def __init__(self, series: list[dict[str, str]]) -> None:
        self.all = series

    def series(self, match: str) -> list[dict[str, str]]:
        name = match.split('"')[1]
        return [s for s in self.all if s["__name__"] == name]

    def all_metadata(self) -> dict[str, list[dict[str, str]]]:
        return {}


def findings(series: list[dict[str, str]], errors: Selector, total: Selector) -> list[str]:
    lookup = Lookup(Series(series))  # type: ignore[arg-type]
    return [f.found for f in ratio_checks(lookup, "reports", "success", RatioSLI(errors, total)) if f.check == SUBSET]


def labelled(name: str, **labels: str) -> dict[str, str]:
    return {"__name__": name, **labels}


JOB = (("job", "=", "reports"),)
FAILED = Selector("reports_jobs_failed_total", JOB)
ALL = Selector("reports_jobs_total", JOB)

CASES: dict[str, tuple[list[dict[str, Any]], Selector, Selector, bool]] = {
    "two metrics, the same labels": (
        [labelled("reports_jobs_total", job="reports"), labelled("reports_jobs_failed_total", job="reports")],
        FAILED,
        ALL,
        False,
    ),
    "two metrics, the errors broken down further": (
        [
            labelled("reports_jobs_total", job="reports", queue="a"),
            labelled("reports_jobs_failed_total", job="reports", queue="a", reason="timeout"),
        ],
        FAILED,
        ALL,
        False,
    ),
    "two metrics, errors in a queue the total does not count": (
        [
            labelled("reports_jobs_total", job="reports", queue="a"),
            labelled("reports_jobs_failed_total", job="reports", queue="b"),
        ],
        FAILED,
        ALL,
        True,
    ),
    "one metric, the errors selector narrower": (
        [labelled("http_requests_total", job="reports", code=code) for code in ("200", "500")],
        Selector("http_requests_total", (*JOB, ("code", "=~", "5.."))),
        Selector("http_requests_total", JOB),
        False,
    ),
    "one metric, the errors selector wider": (
        [
            labelled("http_requests_total", job="reports", code="200"),
            labelled("http_requests_total", job="other", code="500"),
        ],
        Selector("http_requests_total", (("code", "=~", "5.."),)),
        Selector("http_requests_total", JOB),
        True,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_errors_outside_the_total_only_when_the_labels_say_so(case: str) -> None:
    series, errors, total, expected = CASES[case]
    found = findings(series, errors, total)
    assert bool(found) == expected, found
    if expected:
        assert "the errors selector matches 1 series the total does not" in found[0]
