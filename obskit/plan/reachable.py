"""What only the plan can find wrong in a service's SLOs: an objective so low that a burn-rate
alert's threshold is an error ratio at or above 100%, so the alert could never fire; a freshness
SLO's max_age no longer than the scrape interval, which a success is seen up to one scrape late by."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache

from obskit.plan import burnrate
from obskit.shown import shown
from obskit.spec.model import FreshnessSLI, Service, Tier
from obskit.spec.problems import FieldPath, Problem
from obskit.units import Duration


def unreachable_slos(service: Service, tier: Tier) -> Iterator[Problem]:
    """A problem at each SLO (at its objective, where it sets one) whose alerts could never fire."""
    for slo in service.slos:
        explicit = slo.objective is not None
        message = _unreachable(slo.window, slo.objective if slo.objective is not None else tier.slo_objective, explicit)
        if message is None:
            continue
        path: FieldPath = ("slos", slo.name, "objective") if explicit else ("slos", slo.name)
        file, line = service.where.get(path, service.where.get((), ("(spec)", 0)))
        yield Problem(file, line, ("services", service.name, *path), message)
    yield from _too_soon_stale(service, tier)


def _too_soon_stale(service: Service, tier: Tier) -> Iterator[Problem]:
    metrics = service.metrics
    interval = (metrics.interval if metrics else None) or tier.scrape_interval
    for slo in service.slos:
        sli = slo.sli
        if not isinstance(sli, FreshnessSLI) or sli.max_age > interval:
            continue
        path: FieldPath = ("slos", slo.name, "freshness", "max_age")
        file, line = service.where.get(path, service.where.get(("slos", slo.name), ("(spec)", 0)))
        yield Problem(
            file,
            line,
            ("services", service.name, *path),
            f"{shown(str(sli.max_age))} is not longer than the scrape interval ({interval}): a success is seen up "
            "to a scrape late, so the SLO would read stale while the job keeps succeeding; use a longer max_age",
        )


@lru_cache(maxsize=4096)  # every service of a tier shares its window and objective
def _unreachable(window: Duration, objective: Decimal, explicit: bool) -> str | None:
    unreachable = burnrate.unreachable_pairs(window, objective)
    if not unreachable:
        return None
    pair = unreachable[0]
    fastest = max(burnrate.PAIRS, key=lambda candidate: candidate.factor(window))
    least = burnrate.decimal_text(100 * (1 - 1 / fastest.factor(window)))
    budget = burnrate.decimal_text(100 * burnrate.error_budget(objective))
    source = "" if explicit else " (the tier's slo_objective)"
    return (
        f"objective {objective}{source} leaves an error budget of {budget}%: the {pair.long}/{pair.short} "
        f"burn-rate alert ({burnrate.decimal_text(pair.factor(window))}x) would need an error ratio above 100% "
        f"and could never fire; use an objective above {least}"
    )
