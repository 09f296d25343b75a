"""The mongodump engine's plan: the dump schedule from the RPO, the worst-case loss and restore time
against the tier, and the refusals with their numbers and remedies. A simulation of the CronJob's
schedule (croniter's reading of the cron, Kubernetes' Forbid concurrency policy skipping a run while
the last one is still going) checks that no plan promises less loss than its dumps can give."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.engines.mongodb_dump import defaults, schedule
from obskit.engines.mongodb_dump.plan import MongodumpPlan, datastore_plan
from obskit.engines.mongodb_dump.spec import MongodumpFields
from obskit.plan.dr import DRFindings, cron_every
from obskit.spec.model import Datastore, Tier
from obskit.spec.refs import SecretRef
from obskit.spec.tiers import BUILTIN_TIERS
from obskit.units import Duration, parse_duration, parse_size, parse_throughput
from tests.conftest import budget
from tests.test_dr import max_gap, tier

GiB = 2**30


def builtin(name: str) -> Tier:
    row = BUILTIN_TIERS[name]
    the_tier = tier(rpo=row["rpo"], rto=row["rto"], retention=row["retention"], drill=row["restore_drill_interval"])
    return dataclasses.replace(the_tier, name=name, pages=row["pages"])


def spec(size: str = "50Gi", restore_throughput: str | None = "100MiB/s", **fields: object) -> Datastore:
    """A mongodump datastore as the spec types it: the common fields and the engine's own."""
    own = MongodumpFields("0 */4 * * *", True, "rs0", None, None, SecretRef("events-db-backup", "uri"), None)
    throughput = parse_throughput(restore_throughput) if restore_throughput else None
    own = dataclasses.replace(own, **fields)  # type: ignore[arg-type]
    return Datastore("events-db", "mongodb", "mongodump", parse_size(size), throughput, own)


def plan(the_datastore: Datastore, the_tier: Tier) -> tuple[MongodumpPlan, DRFindings]:
    findings = DRFindings()
    return datastore_plan("events", the_tier, the_datastore, findings), findings


def reasons(findings: DRFindings) -> list[str]:
    return [finding.reason for finding in findings.infeasible]


def test_a_four_hourly_dump_meets_tier3_low() -> None:
    planned, findings = plan(spec(), builtin("tier3_low"))
    assert findings.infeasible == []
    assert planned.interval == parse_duration("4h")
    # 50Gi at the default 50MiB/s: 17m4s; + 2m upload
    assert planned.dump_duration == parse_duration("1024s")
    assert planned.worst_case_loss == parse_duration("4h") + parse_duration("1024s") + parse_duration("2m")
    assert planned.backup_limit == parse_duration("4h20m")
    # 2m start-up + 50Gi at 100MiB/s (8m32s) + the dump's oplog replayed (17m4s)
    assert planned.restore.total == parse_duration("2m") + parse_duration("512s") + parse_duration("1024s")
    assert planned.retain_count == 7 * 6 + 1  # 7d of 4-hourly dumps, and the one before
    assert any("assumed duration ~17m" in note for note in findings.notes)


@pytest.mark.parametrize(("tier_name", "rpo"), [("tier2_standard", "30m"), ("tier1_critical", "5m")])
def test_a_four_hourly_dump_is_refused_for_a_tight_rpo_with_the_numbers_and_the_remedy(
    tier_name: str, rpo: str
) -> None:
    _, findings = plan(spec(), builtin(tier_name))
    (reason,) = [r for r in reasons(findings) if "between dumps" in r]
    assert reason.startswith(
        "a dump every 4h (`0 */4 * * *`) loses up to ~4.3h (4h between dumps + ~17m dump + 2m upload) "
        f"against an RPO of {rpo}: no dump schedule can (the dump and its upload alone take ~19m); "
    )
    assert "Percona Backup for MongoDB's PITR" in reason
    assert "WAL-G's MongoDB oplog archiving" in reason
    assert reason.endswith("which obskit does not support yet")


def test_a_small_database_is_told_the_shorter_schedule_that_meets_the_rpo() -> None:
    _, findings = plan(spec("1Gi", duration=parse_duration("1m")), builtin("tier2_standard"))
    (reason,) = reasons(findings)
    # 30m - 1m dump - 2m upload leaves 27m: the longest cron step within it is 20m
    assert "a dump every 20m would meet it; or point-in-time recovery" in reason


def test_without_a_schedule_the_longest_step_that_meets_the_rpo_is_derived() -> None:
    planned, findings = plan(spec("1Gi", schedule=None, duration=parse_duration("1m")), builtin("tier2_standard"))
    assert findings.infeasible == []
    assert planned.derived and planned.interval == parse_duration("20m")
    assert planned.cron == cron_every(parse_duration("20m"), "events/events-db")
    assert planned.worst_case_loss == parse_duration("23m")


def test_a_derived_schedule_for_tier1_is_refused_with_the_remedy() -> None:
    planned, findings = plan(spec(schedule=None), builtin("tier1_critical"))
    assert planned.cron is None and planned.worst_case_loss is None
    (loss, restore) = reasons(findings)
    assert loss.startswith("a daily dump loses up to ~24.3h")
    assert "no dump schedule can" in loss and "Percona Backup for MongoDB's PITR" in loss
    # and a 50Gi restore does not fit tier1's 15m either
    assert restore.startswith(
        "a restore takes ~28m (2m start-up + ~9m restoring 50Gi at 100MiB/s + ~17m oplog replay) against an RTO of 15m"
    )


def test_oplog_without_a_replica_set_is_refused() -> None:
    _, findings = plan(spec(replica_set=None), builtin("tier3_low"))
    assert reasons(findings) == [
        "mongodump --oplog works only against a replica set member (a standalone mongod has no oplog): name the "
        "replica set (`replica_set`), or set `oplog: false` for a dump that is not point-in-time"
    ]
    _, findings = plan(spec(replica_set=None, oplog=False), builtin("tier3_low"))
    assert findings.infeasible == []
    assert any("not consistent across collections" in note for note in findings.notes)


def test_a_dump_longer_than_its_interval_is_refused() -> None:
    _, findings = plan(spec(schedule="0 * * * *", duration=parse_duration("70m")), builtin("tier3_low"))
    assert reasons(findings)[0].startswith(
        "a dump takes ~1.2h plus 2m upload, longer than the 1h between two runs of the schedule"
    )


def test_a_schedule_whose_shortest_gap_a_dump_overruns_is_refused() -> None:
    """Runs at 2, 7, 12, 17 and 22h: gaps of 5h, but 4h from 22h to 2h. A dump of ~4h skips the 2h
    run, and the loss is 9h, not 5h (what the simulation of the CronJob found)."""
    dump = parse_duration("3h59m")
    planned, findings = plan(spec(schedule="0 2-22/5 * * *", duration=dump), builtin("tier3_low"))
    assert planned.interval == parse_duration("5h")
    assert reasons(findings)[0].startswith("a dump takes ~4.0h plus 2m upload, longer than the 4h between two runs")
    assert simulate("0 2-22/5 * * *", dump) > parse_duration("9h")


def test_a_measured_restore_replaces_the_estimate() -> None:
    planned, findings = plan(spec(restore_duration=parse_duration("5h")), builtin("tier3_low"))
    assert planned.restore.total == parse_duration("5h")
    assert reasons(findings) == [
        "the measured restore_duration of 5h exceeds the RTO of 4h: a faster restore path (a replica, or a "
        "file-system snapshot) is needed"
    ]


@pytest.mark.parametrize("cron", ["0 0 * * 1", "0 0 1 * *", "* * *", "61 * * * *", "5-1 * * * *"])
def test_a_schedule_obskit_cannot_read_is_refused_at_the_datastore(cron: str) -> None:
    planned, findings = plan(spec(schedule=cron), builtin("tier3_low"))
    assert planned.interval is None
    assert reasons(findings)[0].startswith(f"schedule {cron!r}: ")


CRONS = st.one_of(
    st.sampled_from(["0 */4 * * *", "*/15 * * * *", "0 0 * * *", "30 1,13 * * *", "5 */6 * * *", "0 2-22/5 * * *"]),
    st.builds(lambda step, name: cron_every(step, name), st.sampled_from(schedule.CRON_STEPS), st.text(max_size=5)),
)


@settings(max_examples=budget(60), deadline=None)
@given(CRONS)
def test_the_interval_of_a_schedule_is_the_longest_gap_croniter_finds(cron: str) -> None:
    runs_a_day = len(schedule.run_minutes(cron))  # a daily schedule's gaps repeat: two days hold them all
    assert schedule.cron_interval(cron) == max_gap(cron, runs=2 * runs_a_day + 2)


def simulate(cron: str, dump: Duration, horizon: timedelta = timedelta(days=3)) -> Duration:
    """The CronJob's runs: each tick starts a dump unless the last one is still running (Forbid); a
    dump is restorable once it and its upload finish. The longest a failure could lose: the time from
    the start of the last restorable dump to the moment before the next becomes restorable."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ticks = croniter(cron, start)
    busy_until = start
    completed: list[tuple[datetime, datetime]] = []  # (started, restorable)
    taken = timedelta(milliseconds=(dump + defaults.UPLOAD_ALLOWANCE).ms)
    while (at := ticks.get_next(datetime)) < start + horizon:
        if at < busy_until:
            continue
        busy_until = at + taken
        completed.append((at, busy_until))
    worst = max((b[1] - a[0] for a, b in itertools.pairwise(completed)), default=timedelta(0))
    return Duration(worst // timedelta(milliseconds=1))


@settings(max_examples=budget(120), deadline=None)
@given(
    st.sampled_from(["5m", "30m", "1h", "4h", "12h", "24h"]),
    st.integers(min_value=1, max_value=2000),  # GiB
    st.sampled_from(["20MiB/s", "50MiB/s", "200MiB/s"]),
    st.one_of(st.none(), CRONS),
)
def test_every_feasible_plan_holds_in_a_simulation_of_its_schedule(
    rpo: str, gib: int, dump_rate: str, cron: str | None
) -> None:
    dump = schedule.dump_duration(gib * GiB, parse_throughput(dump_rate))
    planned, findings = plan(spec(f"{gib}Gi", schedule=cron, duration=dump), tier(rpo=rpo, rto="30d"))
    if findings.infeasible:
        # refused: the schedule (given or the longest derivable) loses more than the RPO, or overlaps
        if planned.interval is None:
            return
        shortest, _ = schedule.cron_gaps(planned.cron or "")
        assert not schedule.fits(shortest, dump) or planned.worst_case_loss > parse_duration(rpo)
        return
    assert planned.cron is not None and planned.worst_case_loss is not None
    assert planned.worst_case_loss <= parse_duration(rpo)
    observed = simulate(planned.cron, dump)
    assert observed <= planned.worst_case_loss
    # the bound is tight: the simulation reaches it where the longest gap recurs
    assert observed == planned.worst_case_loss


def test_the_simulation_sees_the_loss_of_a_dump_that_overlaps_its_next_run() -> None:
    """An hourly dump that takes 70m skips every other run: it loses 2h and more, past what the
    hourly arithmetic would promise (which is why the plan refuses it)."""
    dump = parse_duration("70m")
    assert simulate("0 * * * *", dump) > schedule.worst_case_loss(parse_duration("1h"), dump)


def test_the_restore_throughput_defaults_when_absent_and_is_named() -> None:
    planned, findings = plan(spec(restore_throughput=None), builtin("tier3_low"))
    assert planned.restore_throughput == defaults.RESTORE_THROUGHPUT == Fraction(50 * 2**20)
    assert any("restore_throughput 50MiB/s" in note for note in findings.notes)
