from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obskit.units import (
    Duration,
    UnitError,
    format_duration,
    format_go_duration,
    format_size,
    format_throughput,
    human_duration,
    parse_duration,
    parse_size,
    parse_throughput,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("30s", 30_000),
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("7d", 604_800_000),
        ("4w", 2_419_200_000),
        ("300ms", 300),
        ("1y", 31_536_000_000),
        ("0s", 0),
        ("1d12h", 129_600_000),
    ],
)
def test_parses_prometheus_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == Duration(ms)


@pytest.mark.parametrize("text", ["", "30", "1.5h", "30m1h", "5 m", "1hh", "-5m", "5M", "1h 30m", "P1D"])
def test_rejects_malformed_durations(text: str) -> None:
    with pytest.raises(UnitError):
        parse_duration(text)


@pytest.mark.parametrize("value", [30, 1.5, None, True, ["5m"]])
def test_rejects_non_string_durations_saying_what_was_given(value: object) -> None:
    with pytest.raises(UnitError, match="expected a duration string"):
        parse_duration(value)  # type: ignore[arg-type]


def test_formats_durations_canonically() -> None:
    assert format_duration(parse_duration("90m")) == "1h30m"
    assert format_duration(parse_duration("168h")) == "1w"
    assert format_duration(Duration(0)) == "0s"
    assert format_duration(parse_duration("30d")) == "30d"
    assert format_duration(parse_duration("28d")) == "4w"
    assert format_duration(parse_duration("4w2d1h")) == "30d1h"
    assert format_go_duration(parse_duration("30d")) == "720h0m0s"
    assert format_go_duration(parse_duration("90s")) == "1m30s"
    assert format_go_duration(parse_duration("5s")) == "5s"


@given(st.integers(min_value=0, max_value=10**15))
def test_duration_round_trips_through_text(ms: int) -> None:
    text = format_duration(Duration(ms))
    assert parse_duration(text) == Duration(ms)
    assert format_duration(parse_duration(text)) == text


@given(st.lists(st.integers(min_value=0, max_value=999), min_size=7, max_size=7))
def test_any_well_formed_duration_parses_to_its_sum(amounts: list[int]) -> None:
    units = ["y", "w", "d", "h", "m", "s", "ms"]
    factors = [31_536_000_000, 604_800_000, 86_400_000, 3_600_000, 60_000, 1000, 1]
    text = "".join(f"{a}{u}" for a, u in zip(amounts, units, strict=True) if a)
    if text:
        assert parse_duration(text).ms == sum(a * f for a, f in zip(amounts, factors, strict=True))


@pytest.mark.parametrize(
    ("text", "size"),
    [("500Mi", 500 * 2**20), ("200Gi", 200 * 2**30), ("2Ti", 2 * 2**40), ("1024", 1024), (4096, 4096), ("0", 0)],
)
def test_parses_kubernetes_binary_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["200G", "200GB", "1.5Gi", "Gi", "-1Gi", "200 Gi", True, None])
def test_rejects_malformed_sizes(text: object) -> None:
    with pytest.raises(UnitError):
        parse_size(text)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=2**70))
def test_size_round_trips_through_text(size: int) -> None:
    assert parse_size(format_size(size)) == size


def test_parses_throughputs_exactly() -> None:
    assert parse_throughput("100MiB/s") == 100 * 2**20
    assert parse_throughput("2GiB/h") == Fraction(2 * 2**30, 3600)
    assert parse_throughput("100Mi/s") == parse_throughput("100MiB/s")
    assert format_throughput(parse_throughput("2GiB/h")) == "2GiB/h"
    assert format_throughput(parse_throughput("60MiB/m")) == "1MiB/s"


@pytest.mark.parametrize("text", ["100MB/s", "100MiB", "0MiB/s", "100MiB/d", "fast", 100])
def test_rejects_malformed_throughputs(text: object) -> None:
    with pytest.raises(UnitError):
        parse_throughput(text)  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=2**50), st.sampled_from(["s", "m", "h"]))
def test_throughput_round_trips(amount: int, period: str) -> None:
    text = f"{format_size(amount)}B/{period}"
    value = parse_throughput(text)
    assert parse_throughput(format_throughput(value)) == value


def test_durations_for_people_keep_their_two_largest_units() -> None:
    assert human_duration(Fraction(30 * 86400) / Fraction("14.4")) == "2d2h"
    assert human_duration(Fraction(28902400, 1000)) == "8h2m"  # not 8h1m42s400ms
    assert human_duration(Fraction(86400 + 23 * 3600 + 50 * 60)) == "2d"
    assert human_duration(Fraction(454, 10)) == "45s"
