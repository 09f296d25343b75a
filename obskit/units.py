"""Durations, sizes and throughputs: the spec's units, parsed exactly and printed canonically.

Durations are Prometheus durations held as whole milliseconds; sizes are bytes with
Kubernetes binary suffixes; throughputs are exact bytes per second (a Fraction, so
`2GiB/h` loses nothing to float rounding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from obskit.shown import shown


class UnitError(ValueError):
    """A value that is not a well-formed duration, size or throughput."""


_DURATION_UNITS_MS: dict[str, int] = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
# Prometheus' own grammar: each unit at most once, largest first.
DURATION_PATTERN = r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
_DURATION_RE = re.compile(DURATION_PATTERN)


@dataclass(frozen=True, order=True)
class Duration:
    """A non-negative Prometheus duration with millisecond resolution."""

    ms: int

    @property
    def seconds(self) -> Fraction:
        return Fraction(self.ms, 1000)

    def __str__(self) -> str:
        return _format_ms(self.ms)

    def __add__(self, other: Duration) -> Duration:
        return Duration(self.ms + other.ms)

    def __sub__(self, other: Duration) -> Duration:
        return Duration(self.ms - other.ms)


def parse_duration(text: str) -> Duration:
    if not isinstance(text, str):
        raise UnitError(f"expected a duration string such as '30s' or '1h30m', got {shown(text)}")
    match = _DURATION_RE.match(text)
    if not text or match is None:
        raise UnitError(
            f"{shown(text)} is not a Prometheus duration (units y w d h m s ms, largest first, e.g. '1h30m')"
        )
    total = 0
    for amount, unit in zip(match.groups(), _DURATION_UNITS_MS, strict=True):
        if amount is not None:
            total += int(amount) * _DURATION_UNITS_MS[unit]
    return Duration(total)


def format_duration(duration: Duration) -> str:
    """Largest units first, `0s` for zero, as Prometheus writes durations, except that weeks
    and days together are written as days: `30d`, not `4w2d`."""
    return _format_ms(duration.ms)


@lru_cache(maxsize=4096)  # generators print the same few windows and intervals again and again
def _format_ms(ms: int) -> str:
    if ms == 0:
        return "0s"
    rest = ms
    amounts: dict[str, int] = {}
    for unit, size in _DURATION_UNITS_MS.items():
        amounts[unit], rest = divmod(rest, size)
    if amounts["w"] and amounts["d"]:
        amounts["d"] += 7 * amounts.pop("w")
    return "".join(f"{amount}{unit}" for unit, amount in amounts.items() if amount)


_HUMAN_UNITS_MS = tuple(_DURATION_UNITS_MS[unit] for unit in ("d", "h", "m", "s"))


def human_duration(seconds: Fraction) -> str:
    """Rounded for people to its two largest units (2d2h, 8h2m, 45s), never 8h1m42s400ms."""
    ms = Fraction(seconds) * 1000
    largest = next((i for i, size in enumerate(_HUMAN_UNITS_MS) if ms >= size), len(_HUMAN_UNITS_MS) - 1)
    step = _HUMAN_UNITS_MS[min(largest + 1, len(_HUMAN_UNITS_MS) - 1)]
    return _format_ms(int(ms / step + Fraction(1, 2)) * step)


def format_go_duration(duration: Duration) -> str:
    """Go's time.Duration.String() for whole seconds (`720h0m0s`): what Velero expects."""
    if duration.ms % 1000:
        raise UnitError(f"{duration} is not a whole number of seconds")
    seconds = duration.ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


_SIZE_SUFFIXES: dict[str, int] = {
    "": 1,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
SIZE_PATTERN = r"^(\d+)(Ki|Mi|Gi|Ti|Pi|Ei)?$"
_SIZE_RE = re.compile(SIZE_PATTERN)


def parse_size(text: str) -> int:
    """Bytes from a Kubernetes binary quantity (`500Mi`, `200Gi`) or a plain byte count."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise UnitError(f"expected a size such as '200Gi', got {shown(text)}")
    match = _SIZE_RE.match(str(text))
    if match is None:
        raise UnitError(f"{shown(text)} is not a size (a whole number with Ki, Mi, Gi, Ti, Pi or Ei, e.g. '200Gi')")
    return int(match.group(1)) * _SIZE_SUFFIXES[match.group(2) or ""]


def format_size(size: int) -> str:
    """The largest binary suffix that divides the size exactly."""
    if size < 0:
        raise UnitError(f"negative size {size}")
    for suffix, factor in reversed(_SIZE_SUFFIXES.items()):
        if size and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


# A Kubernetes resource quantity (cpu, memory): a decimal with a decimal or binary suffix.
QUANTITY_PATTERN = r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
_QUANTITY_RE = re.compile(QUANTITY_PATTERN)
_QUANTITY_SUFFIXES: dict[str, Decimal] = {
    "m": Decimal("0.001"),
    **{suffix: Decimal(1000) ** power for power, suffix in enumerate(("", "k", "M", "G", "T", "P", "E"))},
    **{suffix: Decimal(factor) for suffix, factor in _SIZE_SUFFIXES.items() if suffix},
}


def parse_quantity(text: object) -> Decimal:
    """The amount a Kubernetes quantity (`250m`, `2`, `512Mi`, `1.5G`) stands for."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise UnitError(f"expected a quantity such as '500m' or '512Mi', got {shown(text)}")
    match = _QUANTITY_RE.match(str(text))
    if match is None:
        raise UnitError(f"{shown(text)} is not a Kubernetes quantity (e.g. '500m', '2', '512Mi', '1G')")
    return Decimal(match.group(1)) * _QUANTITY_SUFFIXES[match.group(2) or ""]


_THROUGHPUT_PERIODS: dict[str, int] = {"s": 1, "m": 60, "h": 3600}
THROUGHPUT_PATTERN = r"^(\d+)(Ki|Mi|Gi|Ti|Pi|Ei)?B?/(s|m|h)$"
_THROUGHPUT_RE = re.compile(THROUGHPUT_PATTERN)


def parse_throughput(text: str) -> Fraction:
    """Bytes per second from `100MiB/s`, `2GiB/h` (the `B` is optional: `100Mi/s`)."""
    if not isinstance(text, str):
        raise UnitError(f"expected a throughput such as '100MiB/s', got {shown(text)}")
    match = _THROUGHPUT_RE.match(text)
    if match is None:
        raise UnitError(f"{shown(text)} is not a throughput (a size per s, m or h, e.g. '100MiB/s' or '2GiB/h')")
    amount = int(match.group(1)) * _SIZE_SUFFIXES[match.group(2) or ""]
    if amount == 0:
        raise UnitError(f"{shown(text)}: a throughput must be greater than zero")
    return Fraction(amount, _THROUGHPUT_PERIODS[match.group(3)])


def format_throughput(bytes_per_second: Fraction) -> str:
    """The shortest exact form, preferring per second, then per minute, then per hour; an
    approximation (`~1.5MiB/s`) for a rate with no exact form in bytes per hour."""
    for period, seconds in _THROUGHPUT_PERIODS.items():
        amount = bytes_per_second * seconds
        if amount.denominator == 1:
            return f"{format_size(int(amount))}B/{period}"
    return f"~{float(bytes_per_second) / 2**20:.3g}MiB/s"


def exact_decimal(value: int | float | Decimal) -> Decimal:
    """The decimal a YAML number was written as (99.95 stays 99.95, not its binary float)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
