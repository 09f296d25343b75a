"""Multi-window multi-burn-rate alerting (Google SRE workbook, chapter 5), exactly.

A pair alerts when the error ratio over both its long and its short window exceeds
`factor x error budget`, where the factor spends `budget_share` of the budget of a window
of at least 30d within the long window: factor = share x max(slo_window, 30d) / long_window.
For 30d that is the workbook's 14.4, 6, 3 and 1, and longer windows scale up (90d: 43.2).
Shorter windows keep the 30d factors: scaled down, a 7d window would ticket at 0.233x, a
burn its budget easily affords; kept, no alert fires below 1x and each pair spends a larger
share of a short window's budget before it fires (7d: 8.6% in 1h before the page).
Arithmetic is in Fractions; numbers are written as exact decimals where they have one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from obskit.units import Duration, parse_duration

FACTOR_WINDOW = parse_duration("30d")  # the workbook's factors are for 30d; no window gets smaller ones
SIGNIFICANT_DIGITS = 15  # for the rare factor with no finite decimal (e.g. 28d: 14/15)


@dataclass(frozen=True)
class WindowPair:
    long: Duration
    short: Duration
    budget_share: Fraction
    fast: bool  # fast pairs page in tiers that page; slow pairs open tickets

    def factor(self, slo_window: Duration) -> Fraction:
        return self.budget_share * Fraction(max(slo_window.ms, FACTOR_WINDOW.ms), self.long.ms)


PAIRS: tuple[WindowPair, ...] = (
    WindowPair(parse_duration("1h"), parse_duration("5m"), Fraction(2, 100), fast=True),
    WindowPair(parse_duration("6h"), parse_duration("30m"), Fraction(5, 100), fast=True),
    WindowPair(parse_duration("1d"), parse_duration("2h"), Fraction(10, 100), fast=False),
    WindowPair(parse_duration("3d"), parse_duration("6h"), Fraction(10, 100), fast=False),
)

# Every window the alerts read, shortest first.
ALERT_WINDOWS: tuple[Duration, ...] = tuple(sorted({w for pair in PAIRS for w in (pair.long, pair.short)}))
LONGEST_ALERT_WINDOW = max(ALERT_WINDOWS)


def error_budget(objective_percent: Decimal) -> Fraction:
    """The allowed error ratio: 99.95 -> 0.0005."""
    return 1 - Fraction(objective_percent) / 100


def threshold(pair: WindowPair, slo_window: Duration, objective_percent: Decimal) -> Fraction:
    return pair.factor(slo_window) * error_budget(objective_percent)


@lru_cache(maxsize=4096)  # the same few thresholds and factors recur in every service
def decimal_text(value: Fraction) -> str:
    """An exact decimal where the fraction has one (0.0072, 13.44), else 15 significant digits."""
    numerator, denominator = value.numerator, value.denominator
    reduced = denominator
    for prime in (2, 5):
        while reduced % prime == 0:
            reduced //= prime
    quotient = Decimal(numerator) / Decimal(denominator)  # 28 digits: exact for every terminating value here
    if reduced != 1:
        quotient = round(quotient, SIGNIFICANT_DIGITS - quotient.adjusted() - 1)
    text = format(quotient, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def unreachable_pairs(slo_window: Duration, objective_percent: Decimal) -> list[WindowPair]:
    """Pairs whose threshold is at or above an error ratio of 1: they could never fire."""
    return [pair for pair in PAIRS if threshold(pair, slo_window, objective_percent) >= 1]
