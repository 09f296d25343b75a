"""Velero's plan: retention Velero can hold, the load on its workers, the queueing that load adds to
the RPO, scope within shared namespaces, and restores against the RTO. A simulation of Velero's
schedule and queue controllers (as read from Velero's source: a schedule skips a tick while its own
backup is New or InProgress, queued backups start first in first out on `--concurrent-backups`
workers) checks that no plan promises what the schedules cannot do."""

from __future__ import annotations

import dataclasses
import heapq
from fractions import Fraction
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.cli import main
from obskit.engines.registry import ENGINES
from obskit.plan import dr
from obskit.plan.velero import MAX_BACKUPS_PER_SCHEDULE, VeleroPlan, velero_plans
from obskit.spec.model import Service, Tier, Velero
from obskit.units import Duration, parse_duration
from tests.test_backup_objects import BACKUP_SPEC
from tests.test_dr import datastore, service, tier

DAY = parse_duration("1d")
MINUTE_MS = 60_000


def svc(name: str, duration: str = "1m", namespace: str = "ns", **backup: Any) -> Service:
    base = service(duration=duration)
    assert base.backup is not None
    return dataclasses.replace(
        base, name=name, namespace=namespace, backup=dataclasses.replace(base.backup, namespaces=(namespace,), **backup)
    )


def plans(
    services: list[tuple[Service, Tier]], workers: int = 1
) -> tuple[dict[str, VeleroPlan], dr.DRFindings, Fraction]:
    findings = dr.DRFindings()
    planned, load = velero_plans(services, Velero("velero", "default", workers), findings, ENGINES)
    assert load is not None
    return planned, findings, load.load


def test_a_frequent_schedule_keeps_a_short_ttl_and_a_daily_one_the_retention() -> None:
    planned, findings, _ = plans([(svc("svc"), tier())])
    velero = planned["svc"]
    assert findings.infeasible == []
    frequent, daily = velero.schedules
    assert (str(frequent.interval), str(frequent.ttl), frequent.kept) == ("3m", "14h", 281)
    assert (daily.name, str(daily.interval), str(daily.ttl), daily.kept) == ("svc-daily", "1d", "30d", 31)
    # its own daily backup may be running when the frequent one is due
    assert (str(velero.queue_wait), str(velero.worst_case_loss)) == ("1m", "5m")


def test_a_schedule_within_the_limit_stays_one() -> None:
    planned, _, _ = plans([(svc("svc"), tier(rpo="1d", retention="7d"))])
    (only,) = planned["svc"].schedules
    assert (str(only.interval), str(only.ttl), only.kept) == ("12h", "1w", 15)


def test_the_queue_behind_other_schedules_counts_toward_the_rpo() -> None:
    """Three services of 1m backups on one worker: each may wait behind the other two's backups."""
    services = [(svc(f"s{i}", namespace=f"n{i}"), tier(rpo="30m")) for i in range(3)]
    planned, findings, _ = plans(services)
    assert findings.infeasible == []
    velero = planned["s0"]
    # five other schedules (two each, and s0's daily one) of 1m, one worker
    assert str(velero.queue_wait) == "5m"
    assert str(velero.interval) == "20m" and velero.worst_case_loss <= parse_duration("30m")


def test_an_rpo_the_queue_leaves_no_room_for_is_refused_with_the_remedy() -> None:
    services = [(svc(f"s{i}", namespace=f"n{i}"), tier()) for i in range(3)]
    planned, findings, _ = plans(services)
    assert planned == {}
    assert "may wait 2m for one of Velero's 1 backup worker(s)" in str(findings.infeasible[0])
    assert "raise velero.concurrent_backups" in str(findings.infeasible[0])
    planned, findings, _ = plans(services, workers=6)  # a worker for each of the six schedules: no wait
    assert findings.infeasible == [] and all(p.worst_case_loss <= parse_duration("5m") for p in planned.values())


SERVICE = """\
  {name}:
    namespace: {namespace}
    tier: tier2_standard
    team: core
    selector: {{app: {name}}}
    metrics: {{port: metrics}}
    backup: {backup}
"""


def spec_file(tmp_path: Path, services: list[tuple[str, str, str]]) -> Path:
    text = BACKUP_SPEC + "".join(SERVICE.format(name=n, namespace=ns, backup=b) for n, ns, b in services)
    path = tmp_path / "obskit.yaml"
    path.write_text(text)
    return path


def test_more_load_than_workers_is_refused_at_the_velero_line(tmp_path: Path) -> None:
    services = [(f"s{i:02d}", f"n{i:02d}", "{duration: 10m}") for i in range(3)]
    spec = spec_file(tmp_path, services)
    result = CliRunner().invoke(main, ["validate", "--spec", str(spec)])
    assert result.exit_code == 2
    where = f"{spec.name}:5: environments.prod.velero: prod: velero: "
    assert f"{where}Velero in namespace velero would need 1.52 backups running at once on average" in result.output
    assert "but velero.concurrent_backups is 1 (busiest: s00 0.51 (10m every 20m)" in result.output
    assert "set concurrent_backups to 2 or more" in result.output
    # six schedules (a frequent and a daily one each): with six workers none waits
    fixed = spec.read_text().replace("storage_location: default}", "storage_location: default, concurrent_backups: 6}")
    spec.write_text(fixed)
    assert CliRunner().invoke(main, ["validate", "--spec", str(spec)]).exit_code == 0


def test_two_services_backing_up_one_namespace_must_scope_their_schedules(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, [("a", "shared", "{duration: 1m}"), ("b", "shared", "{duration: 1m}")])
    result = CliRunner().invoke(main, ["validate", "--spec", str(spec)])
    assert result.exit_code == 2
    assert "b: its Velero backups and a's both cover namespace shared: set backup.selector" in result.output
    scoped = spec_file(
        tmp_path,
        [
            ("a", "shared", "{duration: 1m, selector: {app: a}}"),
            ("b", "shared", "{duration: 1m, selector: {app: b}}"),
        ],
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["gen", "--env", "prod", "--spec", str(scoped), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "labelSelector:\n      matchLabels:\n        app: b\n" in (out / "backup/velero/b.yaml").read_text()


def test_a_service_whose_data_is_its_datastores_gets_its_resources_backed_up_daily() -> None:
    store = svc("svc", volumes="none", datastores=(datastore(),))
    planned, findings, _ = plans([(store, tier())])
    velero = planned["svc"]
    assert velero.resources_only and str(velero.interval) == "1d"
    assert str(velero.age_limit) == "1d1m"  # what the schedule promises; the RPO is WAL-G's
    assert any("whose own backups meet the RPO" in note for note in findings.notes)


def test_a_datastore_under_velero_volumes_is_named_for_exclusion() -> None:
    _, findings, _ = plans([(svc("svc", datastores=(datastore(),)), tier())])
    assert any("velero.io/exclude-from-backup=true" in note and "db" in note for note in findings.notes)


def test_a_restore_slower_than_the_rto_is_refused() -> None:
    planned, findings, _ = plans([(svc("svc", restore_duration=parse_duration("20m")), tier())])
    assert "a Velero restore takes 20m against an RTO of 15m" in str(findings.infeasible[0])
    _, findings, _ = plans([(svc("svc", duration="7m"), tier(rpo="1h"))])
    assert "a Velero restore takes 16m against an RTO of 15m: an estimate" in str(findings.infeasible[0])
    assert planned["svc"].restore_assumed is False


def simulate(planned: dict[str, VeleroPlan], workers: int, horizon: Duration) -> dict[str, Duration]:
    """Velero's schedules and queue, event by event: the longest time each service went without a
    completed backup (from the start of the last completed one), before each completion."""
    ticks: list[tuple[int, str, str, int]] = []  # (time, schedule, service, duration)
    for name, velero in planned.items():
        for planned_schedule in velero.schedules:
            interval = planned_schedule.interval.ms
            offset = dr.spread(planned_schedule.name, interval // MINUTE_MS) * MINUTE_MS  # any offset will do
            ticks += [
                (t, planned_schedule.name, name, velero.backup_duration.ms) for t in range(offset, horizon.ms, interval)
            ]
    ticks.sort()
    running: list[tuple[int, str, str, int]] = []  # (end, schedule, service, started)
    queue: list[tuple[str, str, int]] = []
    last_start: dict[str, int] = {}
    worst = {name: Duration(0) for name in planned}
    busy_schedules: set[str] = set()

    def finish_until(now: int) -> None:
        while running and running[0][0] <= now:
            end, schedule, name, started = heapq.heappop(running)
            busy_schedules.discard(schedule)
            if name in last_start:
                worst[name] = max(worst[name], Duration(end - last_start[name]))
            last_start[name] = max(last_start.get(name, started), started)
            start_queued(end)

    def start_queued(now: int) -> None:
        while queue and len(running) < workers:
            schedule, name, duration = queue.pop(0)
            heapq.heappush(running, (now + duration, schedule, name, now))

    for at, schedule, name, duration in ticks:
        finish_until(at)
        if schedule in busy_schedules:  # its own backup is New or InProgress: the tick is skipped
            continue
        busy_schedules.add(schedule)
        queue.append((schedule, name, duration))
        start_queued(at)
    return worst


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["2m", "5m", "30m", "1h", "6h"]),
            st.sampled_from(["10s", "30s", "1m", "3m", "10m"]),
            st.sampled_from(["1d", "7d", "30d"]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=1, max_value=3),
)
def test_every_feasible_plan_holds_in_a_simulation_of_velero(specs: list[tuple[str, str, str]], workers: int) -> None:
    services = [
        (svc(f"s{i}", duration, namespace=f"n{i}"), tier(rpo=rpo, rto="1d", retention=retention))
        for i, (rpo, duration, retention) in enumerate(specs)
    ]
    planned, findings, load = plans(services, workers)
    if findings.infeasible:
        return
    assert load <= workers
    for planned_service, the_tier in services:
        velero = planned[planned_service.name]
        assert velero.worst_case_loss <= the_tier.rpo
        assert velero.interval > velero.queue_wait + velero.backup_duration
        assert all(s.kept <= MAX_BACKUPS_PER_SCHEDULE for s in velero.schedules)
        assert max(s.ttl for s in velero.schedules) >= the_tier.retention
    observed = simulate(planned, workers, parse_duration("3d"))
    for name, velero in planned.items():
        assert observed[name] <= velero.worst_case_loss, (name, observed[name], velero)


def test_the_simulation_sees_what_a_plan_for_more_workers_would_lose() -> None:
    """Planned for ten workers, five 4-minute schedules of 1m backups never wait; on one worker they
    need 1.25 workers, the queue grows, and the simulation sees the losses exceed the plan's."""
    services = [(svc(f"s{i}", "1m", namespace=f"n{i}"), tier(rpo="5m", retention="1d")) for i in range(5)]
    planned, findings, _ = plans(services, workers=10)
    assert findings.infeasible == [] and all(str(p.interval) == "4m" for p in planned.values())
    assert all(observed <= planned[name].worst_case_loss for name, observed in simulate(planned, 10, DAY).items())
    overloaded = simulate(planned, 1, DAY)
    assert any(observed > planned[name].worst_case_loss for name, observed in overloaded.items())
    _, findings, _ = plans(services, workers=1)
    assert any(finding.service is None for finding in findings.infeasible)
