"""The DR arithmetic: properties that must hold for any tier and datastore, and the refusals."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.engines.postgres_walg import defaults as walg_defaults
from obskit.engines.postgres_walg import plan as walg_plan
from obskit.engines.postgres_walg.spec import PostgresFields
from obskit.plan import dr
from obskit.spec.model import Backup, Datastore, Service, Tier
from obskit.units import Duration, parse_duration, parse_throughput

MINUTE_MS = 60_000


def tier(rpo: str = "5m", rto: str = "15m", retention: str = "30d", drill: str = "7d") -> Tier:
    return Tier(
        "t",
        parse_duration(rto),
        parse_duration(rpo),
        parse_duration("15s"),
        None,
        99,  # type: ignore[arg-type]
        True,
        parse_duration(drill),
        parse_duration(retention),
        parse_duration("2m"),
    )


def datastore(
    size: int = 20 * 2**30, restore: str | None = "200MiB/s", wal: str | None = "2GiB/h", replay: str | None = "32MiB/s"
) -> Datastore:
    return Datastore(
        "db",
        "postgres",
        "wal-g",
        size,
        parse_throughput(restore) if restore else None,
        PostgresFields(
            parse_throughput(wal) if wal else None, parse_throughput(replay) if replay else None, "db", 5432, "svc-db"
        ),
    )


def service(*datastores: Datastore, duration: str | None = "1m") -> Service:
    backup = Backup(("ns",), "snapshot", datastores, parse_duration(duration) if duration else None)
    return Service(
        "svc",
        "ns",
        "t",
        "team",
        "svc",
        "https://r/{service}/{alert}",
        scrape=True,
        selector=(("app", "svc"),),
        metrics=None,
        slos=(),
        backup=backup,
    )


def max_gap(cron: str, start: datetime = datetime(2026, 1, 1, tzinfo=UTC), runs: int = 400) -> Duration:
    """The longest time between two runs of a cron expression, from its real schedule."""
    iterator = croniter(cron, start)
    times = [iterator.get_next(datetime) for _ in range(runs)]
    return Duration(int(max((b - a).total_seconds() for a, b in itertools.pairwise(times)) * 1000))


def test_the_examples_numbers() -> None:
    findings = dr.DRFindings()
    plan = walg_plan.datastore_plan(service(datastore()), tier(), datastore(), findings)
    assert str(plan.archive_timeout) == "4m30s"
    assert str(plan.base_interval) == "8h"
    assert plan.restore is not None and plan.restore.total <= parse_duration("15m")
    assert plan.retain_full == 91  # 30d of 8h backups, plus the one in progress
    assert findings.infeasible == []


def test_refuses_a_restore_slower_than_the_rto_naming_the_numbers() -> None:
    findings = dr.DRFindings()
    big = datastore(size=2 * 2**40, restore="50MiB/s")
    plan = walg_plan.datastore_plan(service(big), tier(), big, findings)
    assert plan.base_interval is None
    (finding,) = findings.infeasible
    assert str(finding) == (
        "svc/db: restoring 2Ti at 50MiB/s takes ~11.7h (plus 2m start-up) against an RTO of 15m: "
        "a replica or a faster restore path is needed"
    )


def test_refuses_wal_replay_that_cannot_fit_the_rto() -> None:
    findings = dr.DRFindings()
    busy = datastore(size=2**30, wal="5TiB/h")
    walg_plan.datastore_plan(service(busy), tier(), busy, findings)
    (finding,) = findings.infeasible
    assert "even with base backups every minute a restore takes" in str(finding)
    assert "5TiB/h" in str(finding)


def test_refuses_an_rpo_too_short_for_archiving() -> None:
    findings = dr.DRFindings()
    walg_plan.datastore_plan(service(datastore()), tier(rpo="20s"), datastore(), findings)
    reasons = [str(f) for f in findings.infeasible]
    assert "svc/db: an RPO of 20s is below what WAL archiving can promise" in reasons[0]


def test_defaults_for_unmeasured_inputs_are_reported() -> None:
    findings = dr.DRFindings()
    plan = walg_plan.datastore_plan(
        service(datastore()), tier(), datastore(restore=None, wal=None, replay=None), findings
    )
    assert plan.restore_throughput == walg_defaults.RESTORE_THROUGHPUT
    assert plan.wal_rate == Fraction(410 * 2**20, 3600)  # 2% of 20Gi an hour, rounded up to MiB
    assert findings.notes == [
        "svc/db: assumed restore_throughput 50MiB/s, replay_throughput 16MiB/s, wal_rate 410MiB/h; "
        "set them from measurements",
        "the restore drills of PostgreSQL datastores without `version` assume PostgreSQL 15 (the image's default "
        "build); set each one's `version` to its major",
    ]


def test_offsets_are_spread_by_name_and_stable() -> None:
    crons = {dr.cron_every(parse_duration("15m"), f"service-{i}") for i in range(100)}
    assert len({cron.split("-")[0] for cron in crons}) == 15  # every offset of a 15m step is used
    assert dr.cron_every(parse_duration("15m"), "checkout") == dr.cron_every(parse_duration("15m"), "checkout")


@pytest.mark.parametrize("step", [*dr.CRON_STEPS])
def test_every_cron_step_runs_exactly_that_often(step: Duration) -> None:
    cron = dr.cron_every(step, "checkout")
    assert len(cron.split()) == 5
    assert max_gap(cron, runs=60) == step


@pytest.mark.parametrize(("interval", "gap"), [("1d", "1d"), ("7d", "7d"), ("30d", "17d"), ("90d", "31d")])
def test_drill_schedules_never_leave_a_longer_gap_than_the_interval(interval: str, gap: str) -> None:
    schedule = dr.drill_schedule(parse_duration(interval), "checkout/orders-db")
    assert schedule.max_gap == parse_duration(gap)
    assert max_gap(schedule.cron, runs=30) <= schedule.max_gap


durations = st.integers(min_value=1, max_value=7 * 24 * 60).map(lambda m: Duration(m * MINUTE_MS))
sizes = st.integers(min_value=20, max_value=44).map(lambda bits: 2**bits)
rates = st.integers(min_value=1, max_value=4096).map(lambda mib: Fraction(mib * 2**20))


@settings(max_examples=300, deadline=None)
@given(
    rpo=durations,
    rto=durations,
    size=sizes,
    restore=rates,
    replay=rates,
    wal=st.integers(min_value=1, max_value=10**6).map(lambda mib: Fraction(mib * 2**20, 3600)),
    backup_minutes=st.integers(min_value=0, max_value=120),
)
def test_a_feasible_plan_meets_its_targets(
    rpo: Duration, rto: Duration, size: int, restore: Fraction, replay: Fraction, wal: Fraction, backup_minutes: int
) -> None:
    the_tier = Tier(
        "t",
        rto,
        rpo,
        parse_duration("15s"),
        None,
        99,
        True,  # type: ignore[arg-type]
        parse_duration("7d"),
        parse_duration("30d"),
        parse_duration("2m"),
    )
    store = Datastore("db", "postgres", "wal-g", size, restore, PostgresFields(wal, replay, "db", 5432, "j"))
    svc = service(store, duration=f"{backup_minutes}m" if backup_minutes else None)
    findings = dr.DRFindings()
    plan = walg_plan.datastore_plan(svc, the_tier, store, findings)
    failed = {(f.service, f.datastore) for f in findings.infeasible}
    if ("svc", "db") not in failed:
        assert plan.worst_case_loss <= rpo
        assert plan.base_interval is not None and plan.restore is not None and plan.retain_full is not None
        assert plan.restore.total <= rto
        assert plan.base_backup_duration < plan.base_interval
        assert (plan.retain_full - 1) * plan.base_interval.ms >= the_tier.retention.ms
    else:
        assert any(str(f).startswith("svc/db: ") and ("RTO" in str(f) or "RPO" in str(f)) for f in findings.infeasible)
