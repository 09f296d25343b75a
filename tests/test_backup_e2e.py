"""The DR alerts and backup jobs against real servers: PostgreSQL 15 archiving WAL with the
generated settings, postgres_exporter, a Pushgateway, and Prometheus evaluating the generated
rules. WAL-G cannot be installed here, so archive_command alone is swapped for a local copy
and pg_basebackup stands in for `wal-g backup-push` and `backup-fetch`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.conftest import JOBS, WALG_JOBS
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
    walg: {prefix: "s3://backups/e2e", credentials_secret: walg, image: "registry.example.com/obskit-walg-runner:1"}
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
JOB = JOBS / "obskit_job.py"
DRILL = WALG_JOBS / "restore_drill.py"


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


@pytest.mark.tools("postgresql", "postgres_exporter", "pushgateway", "prometheus")
@pytest.mark.timeout(600)
def test_dr_alerts_and_jobs_with_real_servers(tmp_path: Path, workdir: Path) -> None:
    (tmp_path / "obskit.yaml").write_text(SPEC)
    plan = load_plan(tmp_path / "obskit.yaml", "e2e")
    assert not plan.infeasible
    tree = generate_tree(plan)
    (tmp_path / "shop.rules.yaml").write_text(tree["prometheus/rulefiles/shop.rules.yaml"])

    settings = generated_settings(tree)
    assert settings == {
        "archive_mode": "on",
        "archive_command": "/etc/obskit/walg/files/wal-g-env wal-push %p",
        "archive_timeout": "15s",
    }
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

            idle_since = time.time()
            # Every rule evaluated without error (a rule that errors never fires).
            assert [r["name"] for r in prom.rules() if r["health"] == "err"] == []

            # Idle: nothing to archive, the archive ages past the RPO, and no alert is even pending
            # since the writes stopped (before the first segment was archived, the absent variant
            # rightly was: the database wrote and nothing had reached the archive yet).
            wait_for(
                "the archive to age past the RPO while idle",
                lambda: prom.query("pg_stat_archiver_last_archive_age > 55") or None,
                120,
                interval=2,
            )
            idle = f"{int(time.time() - idle_since)}s"
            pending = alert_states(prom, "WALArchiveTooOld", idle)
            assert [series["metric"] for series in pending if "cause" not in series["metric"]] == [], (
                pending,
                prom.query(f'up{{job="shop-orders-db"}}[{idle}]'),
            )
            # The absent variant is held to not firing: a failed scrape of the exporter makes it
            # pending for an evaluation, rightly, and its for: rides that out.
            assert alert_states(prom, "WALArchiveTooOld", idle, ',alertstate="firing"') == []

            # One row after the idle spell. PostgreSQL does not switch the segment at once: while
            # idle, its checkpointer checks archive_timeout every archive_timeout and the row waits
            # for the next check (CheckArchiveTimeout in checkpointer.c), up to 15s here, with the
            # archive's age past the RPO all along. The archiver works: nothing may page.
            written = time.time()
            db.psql("INSERT INTO orders (note) VALUES ('after an idle spell')")
            wait_for(
                "the row's segment archived",
                lambda: prom.query("pg_stat_archiver_last_archive_age < 20") or None,
                60,
                interval=1,
            )
            time.sleep(3)
            since = f"{int(time.time() - written) + 1}s"
            assert [
                (series["metric"]["alertstate"], len(series["values"]))
                for series in alert_states(prom, "WALArchiveTooOld", since)
                if "cause" not in series["metric"]
            ] == []
            # No base backup ran since the first one: after its interval the alert fires.
            fired = wait_for("BaseBackupTooOld once backups stop", lambda: prom.firing("BaseBackupTooOld"), 60)
            assert fired[0]["labels"]["datastore"] == "orders-db"

            # Archiving fails while the database writes: both WAL alerts fire.
            subprocess.run(as_postgres(["touch", str(fail_flag)]), check=True)
            with Writer(db):
                failing = wait_for("WALArchiveFailing", lambda: prom.firing("WALArchiveFailing"), 90, interval=1)
                assert failing[0]["labels"]["severity"] == "critical"
                # rows written the RPO ago, unarchived, and no archive for RPO + the write window (2m)
                too_old = wait_for("WALArchiveTooOld", lambda: prom.firing("WALArchiveTooOld"), 240, interval=1)
                assert too_old[0]["labels"]["service"] == "shop"


def segno(name: str) -> int:
    """A 16 MiB segment's position in the WAL stream, whatever its timeline."""
    return int(name[8:16], 16) * 0x100 + int(name[16:24], 16)


def force_segment(db) -> str:
    """Writes some rows and switches to a new WAL segment: the name of the one just completed."""
    db.psql("INSERT INTO orders (note) SELECT 'order' FROM generate_series(1, 100)")
    return db.psql("SELECT pg_walfile_name(pg_switch_wal())")


@pytest.mark.tools("postgresql")
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
        # Production as the drill pod finds it: the configuration in /etc (Debian's layout, none in the
        # backup) and a preloaded library the drill's image does not have.
        (base / "postgresql.conf").unlink()
        (base / "pg_hba.conf").unlink()
        with open(base / "postgresql.auto.conf", "a", encoding="utf-8") as conf:
            conf.write("shared_preload_libraries = 'obskit_absent_extension'\n")
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


WRAPPED_SPEC = SPEC.replace(
    'walg: {prefix: "s3://backups/e2e", credentials_secret: walg, image: "registry.example.com/obskit-walg-runner:1"}',
    'walg: {prefix: "file://STORE", credentials_secret: walg, image: "registry.example.com/obskit-walg-runner:1", '
    "volume_claim: pg-backups}",
)
# what the stand-in for wal-g does with `wal-push %p`: record the settings it was given, then store the
# segment where WALG_FILE_PREFIX says (WAL-G itself cannot be installed here)
STAND_IN = """#!/bin/sh
set -eu
env | grep -E '^(WALG_|AWS_|PG)' | sort > "$(dirname "$0")/../walg-saw.env"
[ "$1" = wal-push ] || exit 2
mkdir -p "$WALG_FILE_PREFIX/wal_005"
cp "$2" "$WALG_FILE_PREFIX/wal_005/$(basename "$2")"
"""


def mounted(tree: dict[str, str], root: Path, secret: dict[str, str]) -> None:
    """The database-pod patch's volumes laid out as the kubelet would: each key of a ConfigMap or
    Secret a file, at the patch's mount paths under `root` (standing in for /etc/obskit/walg)."""
    patch = yaml.safe_load(tree["patches/walg/shop-orders-db.yaml"])["spec"]["template"]["spec"]
    config_maps = {
        document["metadata"]["name"]: document["data"]
        for document in yaml.safe_load_all(tree["backup/walg/shop-orders-db.yaml"])
        if document["kind"] == "ConfigMap"
    }
    volumes = {volume["name"]: volume for volume in patch["volumes"]}
    (container,) = patch["containers"]
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            data = config_maps[volume["configMap"]["name"]]
        elif "secret" in volume:  # only the listed keys the Secret has (the volume is optional)
            items = volume["secret"]["items"]
            data = {item["path"]: secret[item["key"]] for item in items if item["key"] in secret}
        else:
            continue  # the file:// storage volume: the test's own directory
        target = root / Path(mount["mountPath"]).relative_to("/etc/obskit/walg")
        target.mkdir(parents=True)
        (target / "..data").mkdir()  # as in a real ConfigMap volume: not a variable
        mode = (volume.get("configMap") or volume.get("secret") or {}).get("defaultMode", 0o644)
        for key, value in data.items():
            (target / key).write_text(value)
            (target / key).chmod(mode)


@pytest.mark.tools("postgresql")
@pytest.mark.timeout(180)
def test_archive_command_gets_the_walg_settings_in_the_database_pod(tmp_path: Path, workdir: Path) -> None:
    """The postmaster's environment has no WAL-G settings: the generated archive_command runs wal-g
    through wal-g-env, which reads them from the volumes the generated patch mounts."""
    store = workdir / "store"
    (tmp_path / "obskit.yaml").write_text(WRAPPED_SPEC.replace("STORE", str(store)))
    tree = generate_tree(load_plan(tmp_path / "obskit.yaml", "e2e"))
    root = workdir / "etc-obskit-walg"
    mounted(tree, root, {"WALG_LIBSODIUM_KEY": "k3y", "AWS_ACCESS_KEY_ID": "AKIA-TEST", "PGPASSWORD": "not-used"})
    (root / "bin").mkdir()
    (root / "bin" / "wal-g").write_text(STAND_IN)
    (root / "bin" / "wal-g").chmod(0o755)
    subprocess.run(["chown", "-R", "postgres", str(root), str(workdir)], check=True, timeout=30)
    settings = generated_settings(tree)
    command = settings["archive_command"].replace("/etc/obskit/walg", str(root))
    settings["archive_command"] = f"PATH={root / 'bin'}:/usr/bin:/bin {command}"  # where the image has wal-g
    with postgres(workdir, settings) as db:
        db.psql("CREATE TABLE orders (id serial PRIMARY KEY, note text)")
        db.psql("INSERT INTO orders (note) SELECT 'order' FROM generate_series(1, 100)")
        segment = db.psql("SELECT pg_walfile_name(pg_switch_wal())")
        wait_for(
            "the segment to be archived", lambda: db.psql("SELECT archived_count FROM pg_stat_archiver") != "0", 30
        )
        assert db.psql("SELECT failed_count FROM pg_stat_archiver") == "0"
        postmaster = (workdir / "data" / "postmaster.pid").read_text().split()[0]
        environment = Path(f"/proc/{postmaster}/environ").read_bytes().split(b"\0")
    assert not [variable for variable in environment if variable.startswith(b"WALG_")]
    saw = dict(line.split("=", 1) for line in (root / "walg-saw.env").read_text().splitlines())
    assert saw["WALG_FILE_PREFIX"] == f"{store}/shop/orders-db"
    assert (saw["WALG_COMPRESSION_METHOD"], saw["WALG_LIBSODIUM_KEY"], saw["PGPORT"]) == ("zstd", "k3y", "5432")
    # only what wal-push needs for a file:// prefix: no database password, no other storage's keys
    assert "PGPASSWORD" not in saw and "AWS_ACCESS_KEY_ID" not in saw
    assert (store / "shop" / "orders-db" / "wal_005" / segment).is_file()


# A file-backed stand-in for the wal-g commands the generated jobs and database pod run (WAL-G itself
# cannot be installed here): pg_basebackup and cp on the WALG_FILE_PREFIX directory, in WAL-G's layout.
FILE_WALG = """#!/bin/sh
set -eu
store="$WALG_FILE_PREFIX"
case "$1" in
    wal-push) mkdir -p "$store/wal_005" && cp "$2" "$store/wal_005/$(basename "$2")" ;;
    wal-fetch) cp "$store/wal_005/$2" "$3" ;;
    backup-push)
        mkdir -p "$store/basebackups_005"
        pg_basebackup -h "$PGHOST" -p "$PGPORT" -U postgres -X none -c fast -D "$store/basebackups_005/base_$(date +%s%N)" ;;
    backup-fetch)
        [ "$3" = LATEST ]
        cp -a "$(ls -d "$store"/basebackups_005/base_* | sort | tail -n 1)" "$2" ;;
    st) [ "$2" = ls ] && ls "$store/$3" ;;
    delete)
        [ "$2 $3" = "retain FULL" ]
        ls -d "$store"/basebackups_005/base_* | sort | head -n "-$4" | xargs -r rm -rf ;;
    *) echo "stand-in wal-g: $* is not supported" >&2; exit 2 ;;
esac
"""


def dockerfile() -> dict[str, str]:
    """The runner image's PATH, user and entrypoint, from its Dockerfile."""
    text = (WALG_JOBS / "Dockerfile").read_text()
    pg_major = re.search(r"^ARG PG_MAJOR=(\S+)$", text, re.M)
    path = re.search(r"^ENV PATH=(\S+)$", text, re.M)
    user = re.search(r"^USER (\S+)$", text, re.M)
    entrypoint = re.search(r"^ENTRYPOINT (.+)$", text, re.M)
    assert pg_major and path and user and entrypoint
    return {
        "PATH": path.group(1).replace("${PG_MAJOR}", pg_major.group(1)),
        "USER": user.group(1),
        "ENTRYPOINT": entrypoint.group(1),
    }


@pytest.mark.tools("postgresql", "pushgateway")
@pytest.mark.timeout(300)
def test_the_cronjobs_run_as_their_image_would(tmp_path: Path, workdir: Path) -> None:
    """Each generated CronJob's command, run as the image's user with the image's PATH, the env of its
    ConfigMap and Secret, and its volumes where it mounts them: a base backup, a drill with the
    scripts' defaults (wal-g backup-fetch, wal-fetch, st ls), retention."""
    image = dockerfile()
    assert image["USER"] == "999"  # the CronJobs' runAsUser
    store = workdir / "store"
    (tmp_path / "obskit.yaml").write_text(WRAPPED_SPEC.replace("STORE", str(store)))
    tree = generate_tree(load_plan(tmp_path / "obskit.yaml", "e2e"))
    root = workdir / "etc-obskit-walg"
    secret = {"AWS_ACCESS_KEY_ID": "AKIA-TEST", "PGUSER": "postgres"}
    mounted(tree, root, secret)
    (root / "bin").mkdir()
    (root / "bin" / "wal-g").write_text(FILE_WALG)
    (root / "bin" / "wal-g").chmod(0o755)
    scratch = workdir / "scratch"
    scratch.mkdir()
    subprocess.run(["chown", "-R", "postgres", str(root), str(workdir)], check=True, timeout=30)
    settings = generated_settings(tree)
    command = settings["archive_command"].replace("/etc/obskit/walg", str(root))
    settings["archive_command"] = f"PATH={root / 'bin'}:{image['PATH']} {command}"
    documents = list(yaml.safe_load_all(tree["backup/walg/shop-orders-db.yaml"]))
    env_data = documents[0]["data"]
    jobs = {document["metadata"]["name"]: document for document in documents if document["kind"] == "CronJob"}

    with postgres(workdir, settings) as db, pushgateway(workdir) as gateway:
        db.psql("CREATE TABLE orders (id serial PRIMARY KEY, note text)")
        # the Service name resolves to the database, and the Pushgateway's to the test's
        environment = {
            **env_data,
            **secret,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(db.port),
            "OBSKIT_PUSHGATEWAY": f"http://{gateway}",
            "PATH": f"{root / 'bin'}:{image['PATH']}",
        }

        def run(job: str) -> subprocess.CompletedProcess[str]:
            (container,) = jobs[job]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert mounts["/opt/obskit"] == "scripts"
            args = [
                arg.replace("/opt/obskit", str(root / "files")).replace("/scratch", str(scratch))
                for arg in container["command"]
            ]
            variables = [f"{name}={value}" for name, value in environment.items()]
            return subprocess.run(
                as_postgres(["env", "-i", *variables, *args]), capture_output=True, text=True, timeout=180, check=False
            )

        backup = run("shop-orders-db-base-backup")
        assert backup.returncode == 0, backup.stderr
        assert (
            json.loads(image["ENTRYPOINT"])
            == jobs["shop-orders-db-base-backup"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
                "command"
            ][:2]
        )
        for _ in range(3):
            db.psql("INSERT INTO orders (note) SELECT 'order' FROM generate_series(1, 100)")
            last = db.psql("SELECT pg_walfile_name(pg_switch_wal())")
        wait_for("the segments to be archived", lambda: (store / "shop/orders-db/wal_005" / last).is_file(), 30)

        drill = run("shop-orders-db-restore-drill")
        assert drill.returncode == 0, drill.stderr
        assert "restore drill succeeded" in drill.stderr
        retention = run("shop-orders-db-retention")
        assert retention.returncode == 0, retention.stderr
        pushed = urllib.request.urlopen(f"http://{gateway}/metrics", timeout=10).read().decode()
        for metric in ("obskit_backup_last_success_timestamp_seconds", "obskit_restore_drill_last_attempt_success"):
            assert re.search(rf'^{metric}{{.*datastore="orders-db".*}} ', pushed, re.M), metric
