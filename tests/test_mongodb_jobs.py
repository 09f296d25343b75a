"""The MongoDB engine's job scripts (obskit/engines/mongodb_dump/jobs/) against a real Pushgateway,
scraped by a real Prometheus, with mongodump, mongorestore, mongod and mongosh replaced by
tests/mongo_standin.py: it refuses every flag the real programs do not define (the tables of
tests/data/mongo_tools_flags.json; mongodump's and mongorestore's are extracted from
github.com/mongodb/mongo-tools at 100.18.0, commit 21a342dfee6468ad9350d156d25086da64dd03b1,
common/options/options.go, mongodump/options.go and mongorestore/options.go), and writes and reads
an archive file.

WAL-G is not here either: where a CronJob runs `wal-g backup-push` or `wal-g backup-fetch LATEST`,
the tests run what WAL-G does with the stream commands (internal/configure.go runs them with
`$SHELL -c`, the archive on stdout or stdin), with a file in place of object storage. What no test
runs for real: mongodump and mongorestore themselves, WAL-G, and object storage."""

from __future__ import annotations

import gzip
import json
import os
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import JOBS as WRAPPER_JOBS
from tests.conftest import REPO
from tests.mongo_standin import install
from tests.mongo_tools_flags import COMMIT, extract, git_reader, load
from tests.servers import prometheus, pushgateway, wait_for

JOBS = REPO / "obskit" / "engines" / "mongodb_dump" / "jobs"
STREAM = JOBS / "mongodb_stream.py"
URI = "mongodb://backup:s3cret-pass@events-db-0.events-db:27017/?replicaSet=rs0&authSource=admin"
SOURCE = {
    "replica_set": "rs0",
    "databases": {"events": {"clicks": [{"_id": 1}, {"_id": 2}, {"_id": 3}], "views": [{"_id": 1}]}},
    "oplog": [{"op": "i", "ns": "events.clicks", "o": {"_id": 3}}],
}
MONGO_TOOLS_CLONE = Path(os.environ.get("OBSKIT_MONGO_TOOLS_GIT", "/work/.mirror/mongodb+mongo-tools/repo"))


class Mongo:
    """The stand-ins on PATH, their state, and the object storage (a folder)."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.state = root / "state"
        self.store = root / "store"
        for folder in (self.bin, self.state, self.store):
            folder.mkdir()
        install(self.bin)
        (self.state / "source.json").write_text(json.dumps(SOURCE), encoding="utf-8")
        self.archive = self.store / "LATEST"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "MONGO_STANDIN_DIR": str(self.state),
            **extra,
        }

    def calls(self, program: str) -> list[dict[str, Any]]:
        lines = (self.state / "calls.jsonl").read_text(encoding="utf-8").splitlines()
        return [call for call in map(json.loads, lines) if call["program"] == program]


@pytest.fixture
def mongo(tmp_path: Path) -> Mongo:
    return Mongo(tmp_path)


def wrapped(kind: str, gateway: str | None, command: list[str], *extra: str) -> list[str]:
    push = ["--pushgateway", f"http://{gateway}"] if gateway else []
    job = [sys.executable, str(WRAPPER_JOBS / "obskit_job.py"), kind, "--service", "events", "--datastore", "events-db"]
    job += ["--engine", "mongodb"]
    return [*job, *push, *extra, "--", *command]


def backup(mongo: Mongo, gateway: str | None, **env: str) -> subprocess.CompletedProcess[str]:
    """What the backup CronJob runs, with `wal-g backup-push` played by its stream plumbing: the
    setting run by a shell, its stdout stored (here in a file)."""
    create = f"exec python3 {STREAM} dump"  # fixed: the replica set and the URI come from the environment
    command = ["sh", "-c", f'sh -c "$WALG_STREAM_CREATE_COMMAND" > "{mongo.archive}"']
    return subprocess.run(
        wrapped("backup", gateway, command, "--size-path", str(mongo.archive)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=mongo.env(WALG_STREAM_CREATE_COMMAND=create, MONGODB_URI=URI, OBSKIT_MONGODB_REPLICA_SET="rs0", **env),
    )


def drill(mongo: Mongo, gateway: str | None, port: int = 27117) -> subprocess.CompletedProcess[str]:
    """What the drill CronJob runs, with `wal-g backup-fetch LATEST` played by its stream plumbing:
    the stored archive into the restore setting, run by a shell, whose stderr WAL-G shows only when
    it fails (internal/backup_fetch_handler.go, GetBackupToCommandFetcher)."""
    restore = f'out=$(sh -c "$WALG_STREAM_RESTORE_COMMAND" < {mongo.archive} 2>&1) || {{ echo "$out" >&2; exit 1; }}'
    fetch = shlex.join(["sh", "-c", restore])
    command = [
        "python3",
        str(JOBS / "mongodb_drill.py"),
        "--dbpath",
        str(mongo.store.parent / "scratch" / "db"),
        "--port",
        str(port),
        "--fetch-command",
        fetch,
        "--timeout",
        "60",
    ]
    return subprocess.run(
        wrapped("restore-drill", gateway, command),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=mongo.env(),
    )


# The flags table and the stand-in's parser


@pytest.mark.skipif(not MONGO_TOOLS_CLONE.is_dir(), reason="no clone of mongo-tools to check the table against")
def test_the_flags_table_is_what_mongo_tools_defines() -> None:
    extracted = extract(git_reader(MONGO_TOOLS_CLONE, COMMIT))
    table = load()
    assert extracted == {tool: table[tool] for tool in extracted}


def test_the_table_holds_the_flags_the_jobs_use_and_not_made_up_ones() -> None:
    table = load()
    assert {"oplog", "archive", "gzip", "readPreference", "config", "uri"} <= set(table["mongodump"])
    assert table["mongodump"]["archive"]["kind"] == "optional" and table["mongodump"]["gzip"]["kind"] == "switch"
    assert {"oplogReplay", "archive", "gzip", "stopOnError", "host", "port"} <= set(table["mongorestore"])
    assert "oplogReplay" not in table["mongodump"] and "oplog" not in table["mongorestore"]
    assert {"dbpath", "port", "nounixsocket"} <= set(table["mongod"])
    assert {"host", "port", "quiet", "norc", "eval"} <= set(table["mongosh"])


@pytest.mark.parametrize(
    ("program", "args", "message"),
    [
        ("mongodump", ["--oplogReplay"], "unknown option `oplogReplay'"),
        ("mongodump", ["--gzip=true"], "bool flag `--gzip' cannot have an argument"),
        ("mongodump", ["--readPreference"], "expected argument for flag `--readPreference'"),
        ("mongodump", ["--read-preference=secondary"], "unknown option `read-preference'"),
        ("mongorestore", ["--oplog"], "unknown option `oplog'"),
        ("mongorestore", ["-x"], "unknown option `x'"),
        ("mongod", ["--bind-ip", "0.0.0.0"], "unknown option `bind-ip'"),
        ("mongosh", ["--evaluate", "1"], "unknown option `evaluate'"),
    ],
)
def test_the_stand_in_refuses_what_the_real_parsers_refuse(
    mongo: Mongo, program: str, args: list[str], message: str
) -> None:
    done = subprocess.run(
        [str(mongo.bin / program), *args], capture_output=True, text=True, timeout=30, check=False, env=mongo.env()
    )
    assert done.returncode == 1
    assert message in done.stderr


# The stream commands


def test_the_dump_runs_mongodump_in_exec_form_with_the_uri_in_a_private_config_file(mongo: Mongo) -> None:
    done = backup(mongo, None)
    assert done.returncode == 0, done.stderr
    (call,) = mongo.calls("mongodump")
    config, *flags = call["argv"]
    assert flags == ["--oplog", "--archive", "--gzip", "--readPreference=secondary"]
    assert config.startswith("--config=") and not Path(config.removeprefix("--config=")).exists()  # removed after
    assert not any("s3cret" in arg for arg in call["argv"])
    assert gzip.decompress(mongo.archive.read_bytes()).startswith(b"\x6d\xe2\x99\x81")


def test_without_a_replica_set_mongodump_oplog_fails_as_it_does_on_a_standalone(mongo: Mongo) -> None:
    (mongo.state / "source.json").write_text(json.dumps({**SOURCE, "replica_set": None}), encoding="utf-8")
    done = backup(mongo, None)
    assert done.returncode == 1
    assert "--oplog requires a replica set member" in done.stderr


def test_a_drill_restores_the_dump_with_oplog_replay_and_checks_the_data(mongo: Mongo) -> None:
    assert backup(mongo, None).returncode == 0
    done = drill(mongo, None)
    assert done.returncode == 0, done.stderr
    assert "mongorestore restored 4 document(s)" in done.stderr
    assert "sanity query returned 4" in done.stderr
    assert "document(s) restored successfully" not in done.stderr  # WAL-G kept it: the drill read the summary file
    (restore,) = mongo.calls("mongorestore")
    assert restore["argv"] == [
        "--host=127.0.0.1",
        "--port=27117",
        "--oplogReplay",
        "--archive",
        "--gzip",
        "--stopOnError",
    ]
    (server,) = mongo.calls("mongod")
    assert server["argv"][2:] == ["--port", "27117", "--nounixsocket"]
    assert not (mongo.state / "ports" / "27117").exists()  # the scratch mongod was stopped


def test_a_truncated_archive_fails_the_drill(mongo: Mongo) -> None:
    assert backup(mongo, None).returncode == 0
    data = mongo.archive.read_bytes()
    mongo.archive.write_bytes(data[: len(data) - 12])
    done = drill(mongo, None)
    assert done.returncode == 1
    assert "corruption found in archive" in done.stderr
    assert "restore drill failed" in done.stderr


def test_a_dump_without_its_oplog_fails_a_replaying_drill(mongo: Mongo) -> None:
    """--oplogReplay needs the oplog the dump took with --oplog: a dump without it fails the drill."""
    body = b"\x6d\xe2\x99\x81" + json.dumps({"db": "events", "collection": "clicks", "documents": [{}]}).encode()
    mongo.archive.write_bytes(gzip.compress(body + b"\n\xff\xff\xff\xff"))
    done = drill(mongo, None)
    assert done.returncode == 1
    assert "no oplog file to replay" in done.stderr


def test_the_restore_reads_mongorestores_summary() -> None:
    sys.path.insert(0, str(JOBS))
    try:
        import mongodb_stream
    finally:
        sys.path.pop(0)
    output = "x\n10 document(s) restored successfully. 2 document(s) failed to restore.\n"
    assert mongodb_stream.restore_counts(output) == (10, 2)
    assert mongodb_stream.restore_counts("Failed: connection refused") is None


# Against a real Pushgateway and Prometheus


def metrics_text(gateway: str) -> str:
    with urllib.request.urlopen(f"http://{gateway}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text


def sample(prom: Any, expr: str) -> float | None:
    result = prom.query(expr)
    return float(result[0]["value"][1]) if result else None


@pytest.mark.servers
@pytest.mark.tools("pushgateway", "prometheus")
def test_the_jobs_push_their_metrics_with_the_engine_and_a_failure_keeps_the_last_success(
    mongo: Mongo, tmp_path: Path
) -> None:
    workdir = tmp_path / "servers"
    workdir.mkdir()
    with pushgateway(workdir) as gateway:
        config = {
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [
                {"job_name": "pushgateway", "honor_labels": True, "static_configs": [{"targets": [gateway]}]}
            ],
        }
        with prometheus(workdir, config) as prom:
            assert backup(mongo, gateway).returncode == 0
            assert drill(mongo, gateway).returncode == 0
            labels = '{job="obskit_backup",service="events",datastore="events-db",engine="mongodb"}'
            drill_labels = labels.replace("obskit_backup", "obskit_restore_drill")
            success = wait_for(
                "the backup's metrics",
                lambda: sample(prom, f"obskit_backup_last_success_timestamp_seconds{labels}"),
                30,
            )
            assert sample(prom, f"obskit_backup_last_attempt_success{labels}") == 1
            assert sample(prom, f"obskit_backup_size_bytes{labels}") == mongo.archive.stat().st_size
            wait_for(
                "the drill's metrics",
                lambda: sample(prom, f"obskit_restore_drill_last_attempt_success{drill_labels}"),
                30,
            )
            assert sample(prom, f"obskit_restore_drill_last_success_timestamp_seconds{drill_labels}") is not None

            # a dump that dies halfway: the job fails, pushes its failure, keeps the last success
            failed = backup(mongo, gateway, MONGO_STANDIN_FAIL="mongodump")
            assert failed.returncode == 1
            wait_for("the failed backup", lambda: sample(prom, f"obskit_backup_last_attempt_success{labels}") == 0, 30)
            assert sample(prom, f"obskit_backup_last_success_timestamp_seconds{labels}") == success

            # the half-written archive it left fails the drill, which keeps its last success too
            drill_success = sample(prom, f"obskit_restore_drill_last_success_timestamp_seconds{drill_labels}")
            assert drill(mongo, gateway).returncode == 1
            wait_for(
                "the failed drill",
                lambda: sample(prom, f"obskit_restore_drill_last_attempt_success{drill_labels}") == 0,
                30,
            )
            assert sample(prom, f"obskit_restore_drill_last_success_timestamp_seconds{drill_labels}") == drill_success
        assert 'engine="mongodb"' in metrics_text(gateway)
