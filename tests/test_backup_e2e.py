"""The DR alerts and backup jobs against real servers: PostgreSQL 15 archiving WAL with the
generated settings, postgres_exporter, a Pushgateway, and Prometheus evaluating the generated
rules. WAL-G cannot be installed here, so archive_command alone is swapped for a local copy
and pg_basebackup stands in for `wal-g backup-push` and `backup-fetch`."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.conftest import REPO
from tests.servers import (
    PG_BIN,
    as_postgres,
    exporter_for,
    postgres,
    postgres_workdir,
    prometheus,
    pushgateway,
    wait_for,
)

# real servers started on 127.0.0.1: `make test` runs these, `make test-fast` leaves them out
pytestmark = pytest.mark.servers

SPEC = """\
apiVersion: obskit/v1
defaults:
  runbook_url: "https://runbooks.example.com/{service}/{alert}"
tiers:
  e2e: {rto: 4m, rpo: 45s, scrape_interval: 1s, slo_objective: 99, pages: true,
        restore_drill_interval: 1d, retention: 1d, platform_alert_for: 5s}
environments:
  e2e:
    labels: {env: e2e}
    walg: {prefix: "s3://backups/e2e", credentials_secret: walg}
    pushgateway: "http://pushgateway.monitoring.svc:9091"
services:
  shop:
    namespace: shop
    tier: e2e
    team: payments
    selector: {app: shop}
    metrics: {port: metrics}
    backup:
      velero: false
      datastores:
        orders-db:
          engine: postgres
          method: wal-g
          size: 1Mi
          restore_throughput: 50MiB/s
          wal_rate: 60GiB/h
          replay_throughput: 16MiB/s
"""
JOB = REPO / "backup" / "obskit_job.py"
DRILL = REPO / "backup" / "restore_drill.py"


class Writer:
    """Inserts a row every half second until stopped: a database that writes."""

    def __init__(self, server) -> None:
        self.server = server
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop_event.wait(0.5):
            self.server.psql("INSERT INTO orders (note) VALUES ('order')")

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)


def generated_settings(tree: dict[str, str]) -> dict[str, str]:
    files = list(yaml.safe_load_all(tree["backup/walg/shop-orders-db.yaml"]))[1]
    settings = {}
    for line in files["data"]["postgresql-archive.conf"].splitlines():
        if "=" in line and not line.startswith("#"):
            name, value = (part.strip() for part in line.split("=", 1))
            settings[name] = value.strip("'")
    return settings


def run_job(kind: str, gateway: str, *command: str) -> subprocess.CompletedProcess[str]:
    """The job wrapper times the command, which runs as the postgres user like in the CronJob."""
    args = [
        sys.executable,
        str(JOB),
        kind,
        "--service",
        "shop",
        "--datastore",
        "orders-db",
        "--pushgateway",
        f"http://{gateway}",
        "--",
        *as_postgres(list(command)),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)


def metric_value(server, name: str) -> float:
    """The value of the only series of `name` in Prometheus."""
    result = server.query(name)
    assert len(result) == 1, (name, result)
    return float(result[0]["value"][1])


def postgres_dir(path: Path) -> Path:
    subprocess.run(as_postgres(["mkdir", "-p", str(path)]), check=True, timeout=30)
    return path


def install_drill(workdir: Path) -> Path:
    """The drill script where the postgres user can read it (mounted from the ConfigMap in the CronJob)."""
    script = workdir / "restore_drill.py"
    script.write_text(DRILL.read_text())
    script.chmod(0o755)
    return script


def drill_command(script: Path, data_dir: Path, fetch: str, restore_from: Path, list_archive: Path) -> list[str]:
    """A drill with a bounded run time that restores with cp from one archive and lists another with ls."""
    return [
        "/usr/bin/python3",
        str(script),
        "--data-dir",
        str(data_dir),
        "--pg-bin",
        str(PG_BIN),
        "--timeout",
        "120",
        "--fetch-command",
        fetch,
        "--restore-command",
        f"cp {restore_from}/%f %p",
        "--archive-list-command",
        f"ls {list_archive}",
    ]


def alert_states(server, name: str, window: str, matchers: str = "") -> list:
    return server.query(f'ALERTS{{alertname="{name}"{matchers}}}[{window}]')


@pytest.fixture
def workdir() -> Iterator[Path]:
    with postgres_workdir() as directory:
        yield directory


@pytest.mark.timeout(600)
def test_dr_alerts_and_jobs_with_real_servers(tmp_path: Path, workdir: Path) -> None:
    (tmp_path / "obskit.yaml").write_text(SPEC)
    plan = load_plan(tmp_path / "obskit.yaml", "e2e")
    assert not plan.infeasible
    tree = generate_tree(plan)
    (tmp_path / "shop.rules.yaml").write_text(tree["prometheus/rulefiles/shop.rules.yaml"])

    settings = generated_settings(tree)
    assert settings == {"archive_mode": "on", "archive_command": "wal-g wal-push %p", "archive_timeout": "15s"}
    archive, fail_flag = workdir / "archive", workdir / "archive-fails"
    subprocess.run(as_postgres(["mkdir", str(archive)]), check=True)
    settings["archive_command"] = f"test ! -e {fail_flag} && cp %p {archive}/%f"  # the only change

    with postgres(workdir, settings) as db, exporter_for(db, workdir) as exporter, pushgateway(workdir) as gateway:
        db.psql("CREATE TABLE orders (id serial PRIMARY KEY, note text)")
        db.psql("SELECT pg_reload_conf()")  # PostgreSQL 15's checkpointer honours archive_timeout after a reload
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp_path / "shop.rules.yaml")],
            "scrape_configs": [
                {"job_name": "shop-orders-db", "static_configs": [{"targets": [exporter]}]},
                {"job_name": "pushgateway", "honor_labels": True, "static_configs": [{"targets": [gateway]}]},
            ],
        }
        with prometheus(tmp_path, config) as prom:
            # Archiving works while the database writes; a base backup and a restore drill run.
            with Writer(db):
                drill_dir = postgres_dir(workdir / "drill")
                drill = run_job(
                    "restore-drill",
                    gateway,
                    *drill_command(
                        install_drill(workdir),
                        drill_dir / "pgdata",
                        fetch=f"{PG_BIN / 'pg_basebackup'} -h 127.0.0.1 -p {db.port} -U postgres -X none -D {{data_dir}}",
                        restore_from=archive,
                        list_archive=archive,
                    ),
                )
                assert drill.returncode == 0, drill.stderr
                assert "restore drill succeeded" in drill.stderr
                wait_for(
                    "archived WAL segments",
                    lambda: (
                        (prom.query("pg_stat_archiver_archived_count") or [None])[0]
                        and float(prom.query("pg_stat_archiver_archived_count")[0]["value"][1]) >= 2
                    ),
                    60,
                )
                wait_for("the drill's metrics", lambda: prom.query("obskit_restore_drill_duration_seconds"), 30)
                assert metric_value(prom, "obskit_restore_drill_last_attempt_success") == 1
                assert metric_value(prom, "obskit_restore_drill_last_attempt_timestamp_seconds") > time.time() - 300
                drill_success_seconds = metric_value(prom, "obskit_restore_drill_last_success_duration_seconds")
                # The base backup runs last: its alert threshold here is only 61s.
                backup = run_job(
                    "backup",
                    gateway,
                    str(PG_BIN / "pg_basebackup"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(db.port),
                    "-U",
                    "postgres",
                    "-X",
                    "none",
                    "-D",
                    str(workdir / "base"),
                )
                assert backup.returncode == 0, backup.stderr
                wait_for("the backup's metrics", lambda: prom.query("obskit_backup_last_success_timestamp_seconds"), 30)
                assert metric_value(prom, "obskit_backup_last_attempt_success") == 1
                assert metric_value(prom, "obskit_backup_last_attempt_timestamp_seconds") > time.time() - 300
                time.sleep(8)
                for quiet in (
                    "WALArchiveTooOld",
                    "WALArchiveFailing",
                    "BaseBackupTooOld",
                    "RestoreDrillTooSlow",
                    "RestoreDrillOverdue",
                ):
                    # the absent variants were pending until the first backup and drill pushed their
                    # metrics (correctly: nothing had succeeded yet); once pushed, none is active
                    assert alert_states(prom, quiet, "1m", ',cause!="absent"') == [], quiet
                    assert prom.query(f'ALERTS{{alertname="{quiet}"}}') == [], quiet
                drill_seconds = metric_value(prom, "obskit_restore_drill_duration_seconds")
                assert 0 < drill_seconds < 240
                assert drill_success_seconds == drill_seconds

            # Every rule evaluated without error (a rule that errors never fires).
            assert [r["name"] for r in prom.rules() if r["health"] == "err"] == []

            # Idle: nothing to archive, the archive ages past the RPO, and no alert is even pending.
            wait_for(
                "the archive to age past the RPO while idle",
                lambda: prom.query("pg_stat_archiver_last_archive_age > 55") or None,
                120,
                interval=2,
            )
            assert alert_states(prom, "WALArchiveTooOld", "2m") == []
            # No base backup ran since the first one: after its interval the alert fires.
            fired = wait_for("BaseBackupTooOld once backups stop", lambda: prom.firing("BaseBackupTooOld"), 60)
            assert fired[0]["labels"]["datastore"] == "orders-db"

            # Archiving fails while the database writes: both WAL alerts fire.
            subprocess.run(as_postgres(["touch", str(fail_flag)]), check=True)
            with Writer(db):
                failing = wait_for("WALArchiveFailing", lambda: prom.firing("WALArchiveFailing"), 90, interval=1)
                assert failing[0]["labels"]["severity"] == "critical"
                too_old = wait_for("WALArchiveTooOld", lambda: prom.firing("WALArchiveTooOld"), 90, interval=1)
                assert too_old[0]["labels"]["service"] == "shop"


def segno(name: str) -> int:
    """A 16 MiB segment's position in the WAL stream, whatever its timeline."""
    return int(name[8:16], 16) * 0x100 + int(name[16:24], 16)


def force_segment(db) -> str:
    """Writes some rows and switches to a new WAL segment: the name of the one just completed."""
    db.psql("INSERT INTO orders (note) SELECT 'order' FROM generate_series(1, 100)")
    return db.psql("SELECT pg_walfile_name(pg_switch_wal())")


@pytest.mark.timeout(420)
def test_a_drill_passes_only_if_the_replay_reaches_the_end_of_the_archive(workdir: Path) -> None:
    archive = postgres_dir(workdir / "archive")
    settings = {"archive_mode": "on", "archive_command": f"cp %p {archive}/%f", "wal_level": "replica"}
    with postgres(workdir, settings) as db:
        db.psql("CREATE TABLE orders (id serial PRIMARY KEY, note text)")
        # The backup every drill restores (`wal-g backup-fetch LATEST` in the CronJob): taken
        # before the segments below, so they all lie between its start and the archive's end.
        base = workdir / "base"
        basebackup = f"{PG_BIN / 'pg_basebackup'} -h 127.0.0.1 -p {db.port} -U postgres -X none -c fast -D {base}"
        subprocess.run(as_postgres(basebackup.split()), check=True, capture_output=True, timeout=120)
        label = (base / "backup_label").read_text()
        start = label.split("(file ", 1)[1][:24]
        switched = [force_segment(db) for _ in range(4)]
        numbers = [segno(start), *(segno(name) for name in switched)]
        assert numbers == sorted(set(numbers)), (start, switched)
        wait_for(
            "the switched segments to be archived",
            lambda: (
                db.psql("SELECT last_archived_wal FROM pg_stat_archiver") == switched[-1]
                and all((archive / name).is_file() for name in switched)
            ),
            60,
        )
        newest, missing = switched[-1], switched[1]
        holed = postgres_dir(workdir / "archive-with-a-gap")
        subprocess.run(as_postgres(["sh", "-c", f"cp {archive}/* {holed}/"]), check=True, timeout=60)
        subprocess.run(as_postgres(["rm", str(holed / missing)]), check=True, timeout=30)
        script = install_drill(workdir)

        def run_drill(name: str, restore_from: Path, list_archive: Path) -> subprocess.CompletedProcess[str]:
            data_dir = postgres_dir(workdir / name) / "pgdata"  # its own empty scratch directory
            command = drill_command(script, data_dir, f"cp -a {base} {{data_dir}}", restore_from, list_archive)
            return subprocess.run(as_postgres(command), capture_output=True, text=True, timeout=180, check=False)

        # (a) A complete archive: the replay reaches its newest segment.
        complete = run_drill("complete", restore_from=archive, list_archive=archive)
        assert complete.returncode == 0, complete.stderr
        assert f"the WAL archive holds every segment from the backup's start {start} up to {newest}" in complete.stderr
        ended = re.search(
            r"replay ended at [0-9A-F]+/[0-9A-F]+ in segment ([0-9A-F]{24}) .*the archive ends at segment ([0-9A-F]{24})",
            complete.stderr,
        )
        assert ended is not None, complete.stderr
        assert ended.group(2) == newest
        assert segno(ended.group(1)) >= segno(newest)
        assert "restore drill succeeded" in complete.stderr

        # (b) A segment missing from the middle of the archive: the listing shows the gap before
        # PostgreSQL even starts.
        gap = run_drill("gap", restore_from=holed, list_archive=holed)
        assert gap.returncode == 1, gap.stderr
        assert f"the WAL archive has a gap: segment {missing} is missing (archived up to {newest})" in gap.stderr
        assert f"{PG_BIN / 'pg_ctl'} -D" not in gap.stderr

        # (c) The listing is complete but restore_command cannot fetch that segment: PostgreSQL
        # promotes where its WAL ends, and only the replay's end shows it.
        unrestorable = run_drill("unrestorable", restore_from=holed, list_archive=archive)
        assert unrestorable.returncode == 1, unrestorable.stderr
        assert f"the WAL archive holds every segment from the backup's start {start} up to {newest}" in (
            unrestorable.stderr
        )
        assert f"in segment {missing} but the archive holds segments up to {newest}" in unrestorable.stderr
        assert "restore drill succeeded" not in unrestorable.stderr
