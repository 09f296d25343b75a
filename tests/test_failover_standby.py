"""The DR standby of a PostgreSQL datastore against real servers: a primary archiving WAL into a
WAL-G layout under a file:// prefix, the DR copy of that prefix (what `wal-g copy --with-history`
does on each run: copy the immutable objects the DR prefix lacks), a standby built from a base
backup replaying from the DR copy through restore_command, postgres_exporter on both, Prometheus
evaluating the standby's lag alerts, and failover_promote.py promoting the standby once the
primary is gone. WAL-G cannot be installed here: cp stands in for wal-push, wal-fetch and copy,
and pg_basebackup for backup-push and backup-fetch, as in test_backup_e2e.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.conftest import WALG_JOBS, backup_script
from tests.servers import (
    PG_BIN,
    POSTGRES_EXPORTER,
    Postgres,
    as_postgres,
    exporter_for,
    free_port,
    postgres,
    postgres_workdir,
    process,
    prometheus,
    require_binary,
    wait_for,
)

PROMOTE = WALG_JOBS / "failover_promote.py"
ARCHIVE_TIMEOUT = 2  # seconds: the primary's archive_timeout
COPY_INTERVAL = 2  # seconds between runs of the DR copy
RETRY = 5  # the standby's wal_retrieve_retry_interval (PostgreSQL's default): its poll of the DR copy
# How far the standby may trail a writing primary: a commit waits up to two archive_timeouts for
# its segment to switch (one after an idle spell, CheckArchiveTimeout in checkpointer.c), then for
# the next copy run, then for the standby's next poll; plus a second per hop for the runs themselves.
LAG_BOUND = 2 * ARCHIVE_TIMEOUT + COPY_INTERVAL + RETRY + 3
RPO, WINDOW, FOR = 30, 10, 5  # the test tier's RPO, the write window and the alerts' for:, seconds
PRIMARY_JOB, STANDBY_JOB = "orders-db", "orders-db-standby"
# the rows the primary wrote between RPO + window and RPO ago: the engine's _writes() in alerts.py
WRITES = "\n+ ".join(
    f'(sum(increase(pg_stat_database_{kind}{{job="{PRIMARY_JOB}"}}[{WINDOW}s] offset {RPO}s)) or vector(0))'
    for kind in ("tup_inserted", "tup_updated", "tup_deleted")
)
REPLAYED = f'obskit_standby_last_replay_timestamp_seconds{{job="{STANDBY_JOB}"}}'
# The alerts under test, as the generator is to write them (thresholds from the tier).
RULES = {
    "groups": [
        {
            "name": "obskit/shop/orders-db/standby",
            "interval": "1s",
            "rules": [
                {
                    # rows the primary committed between RPO and RPO + window ago, and the standby's
                    # last replayed commit older than RPO + window: those rows are not in the DR
                    # region, past the RPO. An idle primary commits nothing: no page, whatever the age.
                    "alert": "StandbyReplayBehind",
                    "expr": f"time() - {REPLAYED} > {RPO + WINDOW}\nand on() (\n{WRITES}\n) > 0",
                    "for": f"{FOR}s",
                    "labels": {"severity": "critical", "service": "shop", "datastore": "orders-db"},
                },
                {
                    # the standby's replay is not measured at all: exporter or standby down
                    "alert": "StandbyReplayBehind",
                    "expr": f"absent({REPLAYED})",
                    "for": f"{FOR}s",
                    "labels": {"severity": "critical", "service": "shop", "datastore": "orders-db", "cause": "absent"},
                },
                {
                    # out of recovery: it no longer follows the primary (promoted, or never a standby)
                    "alert": "StandbyNotReplica",
                    "expr": f'obskit_standby_in_recovery{{job="{STANDBY_JOB}"}} == 0',
                    "for": f"{FOR}s",
                    "labels": {"severity": "warning", "service": "shop", "datastore": "orders-db"},
                },
            ],
        }
    ]
}
QUERIES = WALG_JOBS / "standby-queries.yaml"


class DrCopy:
    """What a `wal-g copy --with-history` job does on each run, every COPY_INTERVAL: copy every object of
    the primary's prefix that the DR prefix lacks (existing immutable objects are skipped), each
    written under a temporary name and renamed, as an object appears whole in a bucket."""

    def __init__(self, source: Path, target: Path) -> None:
        self.source, self.target = source, target
        self.paused = threading.Event()
        self.stop_event = threading.Event()
        self.copied = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def run_once(self) -> None:
        for path in sorted(self.source.rglob("*")):
            if not path.is_file() or path.name.endswith(".tmp"):
                continue
            destination = self.target / path.relative_to(self.source)
            if destination.exists() and destination.stat().st_size == path.stat().st_size:
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination.with_name(destination.name + ".tmp"))
            os.replace(destination.with_name(destination.name + ".tmp"), destination)
            shutil.chown(destination, "postgres", "postgres") if os.geteuid() == 0 else None
            self.copied += 1

    def _run(self) -> None:
        while not self.stop_event.wait(COPY_INTERVAL):
            if not self.paused.is_set():
                self.run_once()

    def __enter__(self) -> DrCopy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)


class Writer:
    """Inserts a row every half second until stopped, recording when each insert committed."""

    def __init__(self, server: Postgres) -> None:
        self.server = server
        self.committed: list[tuple[int, float]] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop_event.wait(0.5):
            try:
                row = int(self.server.psql("INSERT INTO orders (note) VALUES ('order') RETURNING id").split()[0])
            except subprocess.CalledProcessError:
                return  # the primary went away
            self.committed.append((row, time.time()))

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)


def postgres_dir(path: Path) -> Path:
    subprocess.run(as_postgres(["mkdir", "-p", str(path)]), check=True, timeout=30)
    return path


@contextmanager
def standby_from(base: Path, workdir: Path, settings: dict[str, str]) -> Iterator[Postgres]:
    """PostgreSQL started on a restored base backup as a standby (standby.signal)."""
    subprocess.run(as_postgres(["touch", str(base / "standby.signal")]), check=True, timeout=30)
    port = free_port()
    options = {"port": str(port), "listen_addresses": "127.0.0.1", "unix_socket_directories": str(workdir), **settings}
    args = [str(PG_BIN / "postgres"), "-D", str(base)]
    for name, value in options.items():
        args += ["-c", f"{name}={value}"]
    with process(as_postgres(args), workdir / "postgres.log"):
        server = Postgres(port, workdir)
        wait_for("the standby to accept connections", lambda: server.psql("SELECT 1") == "1", 120)
        yield server


def exported_series(address: str, prefix: str = "pg_") -> list[str]:
    text = urllib.request.urlopen(f"http://{address}/metrics", timeout=10).read().decode()
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith(prefix)}
    return sorted(names)


def lag(prom) -> float | None:
    """Seconds since the commit the standby replayed last."""
    result = prom.query(f"time() - {REPLAYED}")
    return float(result[0]["value"][1]) if result else None


def alert_samples(prom, name: str, since: float, matchers: str = "") -> list:
    window = f"{int(time.time() - since) + 1}s"
    return prom.query(f'ALERTS{{alertname="{name}"{matchers}}}[{window}]')


def promote(standby: Postgres, fence_port: int) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": f"{PG_BIN}:/usr/bin:/bin",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(standby.port),
        "PGUSER": "postgres",
        "PGDATABASE": "postgres",
        "OBSKIT_FENCE_PGHOST": "127.0.0.1",
        "OBSKIT_FENCE_PGPORT": str(fence_port),
        "OBSKIT_FENCE_PGUSER": "postgres",
    }
    return subprocess.run(
        [sys.executable, str(PROMOTE), "--wait-seconds", "60", "--connect-timeout", "3"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def exporter_with_queries(server: Postgres, workdir: Path) -> Iterator[str]:
    """Debian's postgres_exporter with obskit's standby queries (--extend.query-path)."""
    binary = require_binary(POSTGRES_EXPORTER)
    port = free_port()
    env = {**os.environ, "DATA_SOURCE_NAME": server.dsn}
    args = [binary, f"--web.listen-address=127.0.0.1:{port}", f"--extend.query-path={QUERIES}"]
    with process(args, workdir / "exporter.log", env=env):
        address = f"127.0.0.1:{port}"
        wait_for(
            "postgres_exporter with the standby queries",
            lambda: (
                b"obskit_standby_in_recovery" in urllib.request.urlopen(f"http://{address}/metrics", timeout=5).read()
            ),
            30,
        )
        yield address


@pytest.fixture
def workdir() -> Iterator[Path]:
    with postgres_workdir() as directory:
        yield directory


def build_standby(primary: Postgres, workdir: Path, dr: Path) -> tuple[Path, dict[str, str]]:
    """The standby's data directory restored from a base backup, and its settings."""
    base = workdir / "standby" / "data"
    postgres_dir(base.parent)
    backup = [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"]
    subprocess.run(as_postgres([*backup, "-X", "none", "-c", "fast", "-D", str(base)]), check=True, timeout=120)
    settings = {
        # `/etc/obskit/walg/files/wal-g-env wal-fetch %f %p` with WALG_*_PREFIX the DR prefix
        "restore_command": f"test ! -e {workdir / 'restore-fails'} && cp {dr}/wal_005/%f %p",
        "recovery_target_timeline": "latest",
        "hot_standby": "on",
        "wal_retrieve_retry_interval": f"{RETRY}s",
        # once promoted it archives its new timeline into the DR prefix (the copy job is stopped then)
        "archive_mode": "on",
        "archive_command": f"cp %p {dr}/wal_005/%f",
    }
    return base, settings


@pytest.mark.servers
@pytest.mark.tools("postgresql", "postgres_exporter", "prometheus")
@pytest.mark.timeout(900)
def test_a_standby_replays_the_dr_copy_alerts_on_lag_and_promotes(tmp_path: Path, workdir: Path) -> None:
    store, dr = postgres_dir(workdir / "store" / "wal_005").parent, postgres_dir(workdir / "dr" / "wal_005").parent
    settings = {
        "archive_mode": "on",
        "archive_command": f"cp %p {store}/wal_005/%f",  # `wal-g-env wal-push %p` into the primary's prefix
        "archive_timeout": f"{ARCHIVE_TIMEOUT}s",
        "wal_level": "replica",
    }
    (tmp_path / "standby.rules.yaml").write_text(yaml.safe_dump(RULES, sort_keys=False))
    primary_dir = postgres_dir(workdir / "primary")
    with postgres(primary_dir, settings) as primary, DrCopy(store, dr) as copy:
        primary.psql("CREATE TABLE orders (id serial PRIMARY KEY, note text)")
        primary.psql("SELECT pg_reload_conf()")  # PostgreSQL 15's checkpointer honours archive_timeout after a reload
        base, standby_settings = build_standby(primary, workdir, dr)
        with standby_from(base, workdir / "standby", standby_settings) as standby:
            wait_for("the standby to replay the table", lambda: standby.psql("SELECT count(*) FROM orders") == "0", 60)
            with (
                exporter_for(primary, primary_dir) as primary_exporter,
                exporter_with_queries(standby, workdir / "standby") as standby_exporter,
            ):
                series = exported_series(standby_exporter)
                series = [name for name in series if not name.startswith("pg_settings_")]
                print("postgres_exporter on the standby:", " ".join(series))
                # Debian's 0.11 exposes nothing about replay by default: obskit's queries do
                assert not [name for name in series if "replica" in name or "replay" in name or "lag" in name]
                assert {"obskit_standby_in_recovery", "obskit_standby_last_replay_timestamp_seconds"} <= set(
                    exported_series(standby_exporter, "obskit_")
                )
                config = {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(tmp_path / "standby.rules.yaml")],
                    "scrape_configs": [
                        {"job_name": PRIMARY_JOB, "static_configs": [{"targets": [primary_exporter]}]},
                        {"job_name": STANDBY_JOB, "static_configs": [{"targets": [standby_exporter]}]},
                    ],
                }
                with prometheus(tmp_path, config) as prom:
                    run_scenarios(prom, primary, standby, copy, workdir)
                    before_outage = primary.psql("SELECT max(id) FROM orders")
                    with Writer(primary) as writer:
                        time.sleep(15)
                        # the primary region goes down: its server stops, archiving and copying end
                        outage = time.time()
                        copy.paused.set()
                        subprocess.run(
                            as_postgres(
                                [str(PG_BIN / "pg_ctl"), "-D", str(primary_dir / "data"), "-m", "immediate", "stop"]
                            ),
                            check=True,
                            capture_output=True,
                            timeout=60,
                        )
                    assert int(writer.committed[-1][0]) > int(before_outage)
                    started = time.monotonic()
                    promoted = promote(standby, primary.port)
                    promote_seconds = time.monotonic() - started
                    print(promoted.stderr)
                    assert promoted.returncode == 0, promoted.stderr
                    assert "not fenced (unreachable or refused)" in promoted.stderr
                    assert "is the primary now: writable" in promoted.stderr
                    assert standby.psql("SELECT pg_is_in_recovery()") == "f"
                    standby.psql("INSERT INTO orders (note) VALUES ('after the failover')")
                    held = {int(row) for row in standby.psql("SELECT id FROM orders").split()}
                    lost = [(row, outage - at) for row, at in writer.committed if row not in held]
                    # every row committed more than the lag bound before the outage is there
                    assert all(age <= LAG_BOUND for _, age in lost), lost
                    print(f"promote step {promote_seconds:.2f}s; rows lost {len(lost)}, newest lost {lost[:1]}")
                    print(f"lost rows committed {[round(age, 1) for _, age in lost]} s before the outage")
                    fired = wait_for("StandbyNotReplica", lambda: prom.firing("StandbyNotReplica"), 60)
                    assert fired[0]["labels"]["datastore"] == "orders-db"
                    assert promote_seconds < 30


def run_scenarios(prom, primary: Postgres, standby: Postgres, copy: DrCopy, workdir: Path) -> None:
    # Writing: every row reaches the standby within the lag bound, and no alert is even pending.
    with Writer(primary) as writer:
        time.sleep(20)
        row, committed = writer.committed[-1]
        wait_for(
            f"row {row} on the standby",
            lambda: standby.psql(f"SELECT count(*) FROM orders WHERE id = {row}") == "1",
            LAG_BOUND + 5,
            interval=0.2,
        )
        seen = time.time() - committed
        lags = []
        for _ in range(20):
            lags.append(lag(prom))
            time.sleep(1)
    print(f"a row reached the standby {seen:.1f}s after its commit; lag while writing {lags}")
    assert seen <= LAG_BOUND
    assert max(value for value in lags if value is not None) <= LAG_BOUND
    wait_for(
        "StandbyReplayBehind to leave its absent state",
        lambda: not prom.query('ALERTS{alertname="StandbyReplayBehind"}') or None,
        30,
    )

    # Idle: the replayed commit ages past RPO + window, and nothing pages.
    idle = time.time()
    wait_for(
        "the standby's lag past the threshold while idle",
        lambda: (lag(prom) or 0) > RPO + WINDOW + FOR + 5,
        120,
        interval=1,
    )
    assert [s["metric"] for s in alert_samples(prom, "StandbyReplayBehind", idle)] == []

    # restore_command fails (the DR prefix unreadable) while the primary writes: the page fires.
    for name, break_it, mend in (
        (
            "restore_command failing",
            lambda: subprocess.run(as_postgres(["touch", str(workdir / "restore-fails")]), check=True),
            lambda: os.remove(workdir / "restore-fails"),
        ),
        ("the DR copy stopped", copy.paused.set, copy.paused.clear),
    ):
        broken = time.time()
        break_it()
        with Writer(primary):
            fired = wait_for(
                f"StandbyReplayBehind with {name}", lambda: prom.firing("StandbyReplayBehind"), 120, interval=1
            )
            print(f"StandbyReplayBehind fired {time.time() - broken:.0f}s after {name}")
            assert "cause" not in fired[0]["labels"]
            mend()
            wait_for(
                f"StandbyReplayBehind to resolve once {name} is mended",
                lambda: not prom.firing("StandbyReplayBehind") or None,
                90,
                interval=1,
            )


def promtool_case(series: dict[str, str], at: str, alerts: list[dict[str, str]]) -> dict:
    return {
        "interval": "1s",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [
            {
                "eval_time": at,
                "alertname": "StandbyReplayBehind",
                "exp_alerts": [
                    {"exp_labels": {"severity": "critical", "service": "shop", "datastore": "orders-db", **labels}}
                    for labels in alerts
                ],
            }
        ],
    }


@pytest.mark.tools("promtool")
def test_promtool_proves_the_lag_alert(tmp_path: Path) -> None:
    """The cases the generator is to emit beside the rule: time() starts at 0 in promtool, so a
    replay timestamp of 0 is a commit replayed at the start (or none)."""
    (tmp_path / "standby.rules.yaml").write_text(yaml.safe_dump(RULES, sort_keys=False))
    replayed = f'obskit_standby_last_replay_timestamp_seconds{{job="{STANDBY_JOB}"}}'
    inserted = f'pg_stat_database_tup_inserted{{job="{PRIMARY_JOB}",datname="app"}}'
    updated = f'pg_stat_database_tup_updated{{job="{PRIMARY_JOB}",datname="app"}}'
    at = f"{RPO + WINDOW + FOR + 10}s"
    cases = [
        # the primary writes, the standby replays nothing more: fires
        promtool_case({replayed: "0x120", inserted: "0+1x120", updated: "0x120"}, at, [{"job": STANDBY_JOB}]),
        # only updates: fires too
        promtool_case({replayed: "0x120", inserted: "5x120", updated: "0+1x120"}, at, [{"job": STANDBY_JOB}]),
        # the primary is idle: the replayed commit ages, nothing is lost, silent
        promtool_case({replayed: "0x120", inserted: "100x120", updated: "0x120"}, at, []),
        # idle, then writes that started less than the RPO ago: not yet past the RPO, silent
        promtool_case({replayed: "0x120", inserted: f"100x{RPO + WINDOW + FOR - 10} 100+1x60"}, at, []),
        # replaying as the primary writes: silent
        promtool_case({replayed: "0+1x120", inserted: "0+1x120"}, at, []),
        # the standby's exporter is gone: its absent variant fires
        promtool_case({inserted: "0+1x120"}, f"{FOR + 2}s", [{"cause": "absent", "job": STANDBY_JOB}]),
    ]
    (tmp_path / "standby.test.yaml").write_text(
        yaml.safe_dump({"rule_files": ["standby.rules.yaml"], "evaluation_interval": "1s", "tests": cases})
    )
    done = subprocess.run(
        ["promtool", "test", "rules", "standby.test.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.tools("postgresql")
@pytest.mark.timeout(60)
def test_the_promote_script_refuses_and_fails_clearly() -> None:
    script = backup_script("failover_promote")
    # no old primary named and no --skip-fence: refused before connecting anywhere
    assert script.main(["--wait-seconds", "5"], environ={"PATH": f"{PG_BIN}:/usr/bin:/bin"}) == 2
    # no standby where PG* points: exit 1
    nowhere = {"PATH": f"{PG_BIN}:/usr/bin:/bin", "PGHOST": "127.0.0.1", "PGPORT": str(free_port())}
    assert script.main(["--skip-fence", "--connect-timeout", "2"], environ=nowhere) == 1
    # the fence's psql gets OBSKIT_FENCE_PG* as PG*, and none of the standby's PG* settings
    fence_env = script.fence_environment(
        {"PGHOST": "standby", "PGPASSWORD": "s", "OBSKIT_FENCE_PGHOST": "old", "HOME": "/h"}
    )
    assert fence_env == {"PGHOST": "old", "HOME": "/h"}


@pytest.mark.servers
@pytest.mark.tools("postgresql")
@pytest.mark.timeout(300)
def test_the_promote_script_fences_a_primary_that_still_answers(workdir: Path) -> None:
    """A split rather than an outage: the old primary answers. The script makes its new transactions
    read-only and ends its client sessions before promoting the standby."""
    store = postgres_dir(workdir / "store" / "wal_005").parent
    settings = {"archive_mode": "on", "archive_command": f"cp %p {store}/wal_005/%f", "archive_timeout": "2s"}
    with postgres(postgres_dir(workdir / "primary"), settings) as primary:
        primary.psql("CREATE TABLE orders (id serial PRIMARY KEY, note text)")
        base, standby_settings = build_standby(primary, workdir, store)
        standby_settings["archive_command"] = "/bin/true"
        with standby_from(base, workdir / "standby", standby_settings) as standby:
            wait_for("the standby to replay the table", lambda: standby.psql("SELECT count(*) FROM orders") == "0", 60)
            session = subprocess.Popen(
                [
                    str(PG_BIN / "psql"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(primary.port),
                    "-U",
                    "postgres",
                    "-c",
                    "SELECT pg_sleep(60)",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            wait_for(
                "the client session",
                lambda: (
                    primary.psql(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
                    )
                    == "1"
                ),
                30,
            )
            promoted = promote(standby, primary.port)
            assert promoted.returncode == 0, promoted.stderr
            assert "fenced: default_transaction_read_only = on, 1 client sessions terminated" in promoted.stderr
            assert session.wait(timeout=30) != 0  # terminated
            assert primary.psql("SHOW default_transaction_read_only") == "on"
            with pytest.raises(subprocess.CalledProcessError) as refused:
                primary.psql("INSERT INTO orders (note) VALUES ('split brain')")
            assert "read-only transaction" in refused.value.stderr
            assert standby.psql("SELECT pg_is_in_recovery()") == "f"
            standby.psql("INSERT INTO orders (note) VALUES ('the new primary')")
