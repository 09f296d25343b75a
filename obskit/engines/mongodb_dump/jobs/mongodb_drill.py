#!/usr/bin/env python3
"""A MongoDB restore drill: start a scratch mongod in the drill's pod (localhost only, no Unix
socket, an empty data directory), restore the latest dump into it with `mongorestore --oplogReplay
--archive --gzip` (by default through `wal-g backup-fetch LATEST`, which pipes the archive into
WALG_STREAM_RESTORE_COMMAND), run a sanity query, stop it. Exit 0 only if every step worked;
obskit_job.py times the whole drill and pushes its metrics.

A truncated archive fails mongorestore (a gzip stream or an archive block cut short: mongo-tools'
common/archive/parser.go, "corruption found in archive"). Documents mongorestore could not insert
do not change its exit code (mongorestore/main/mongorestore.go exits non-zero only on an error),
so the restore runs with --stopOnError, mongodb_stream.py fails on a non-zero "document(s) failed
to restore" count, and the drill reads the counts it wrote (WAL-G shows the restore command's
output only when it fails) and fails on a missing summary or a restore of no documents at all.

    mongodb_drill.py --dbpath /scratch/db [--port 27117] [--fetch-command 'wal-g backup-fetch LATEST']
        [--sanity-eval JS] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("obskit-mongodb-drill")

DEFAULT_FETCH = "wal-g backup-fetch LATEST"
DRILL_PORT = 27117
STREAM_SCRIPT = Path(__file__).with_name("mongodb_stream.py")
# Prints how many documents the restored non-system databases hold: zero means nothing came back.
# Collections only: a view has no count of its own (estimatedDocumentCount refuses one).
DEFAULT_SANITY = (
    "let n = 0; db.adminCommand({listDatabases: 1}).databases"
    ".filter(d => !['admin', 'config', 'local'].includes(d.name))"
    ".forEach(d => { const s = db.getSiblingDB(d.name); "
    "s.getCollectionInfos({type: 'collection'}).forEach(c => { n += s.getCollection(c.name).estimatedDocumentCount(); "
    "}); }); print(n)"
)
PING = "print(db.adminCommand({ping: 1}).ok)"


class DrillFailed(Exception):
    pass


def run(args: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    log.info("running %s", shlex.join(args))
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DrillFailed(f"{args[0]}: {err}") from None
    if done.stderr:
        sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise DrillFailed(
            f"{shlex.join(args)} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return done


def restore_counts(summary_file: Path) -> tuple[int, int]:
    """(restored, failed) as mongodb_stream.py wrote them from mongorestore's summary."""
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        return int(summary["restored"]), int(summary["failed"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DrillFailed(f"mongorestore left no summary of the documents it restored ({err})") from None


def mongosh(port: int, script: str) -> list[str]:
    return ["mongosh", "--host", "127.0.0.1", "--port", str(port), "--quiet", "--norc", "--eval", script]


def wait_ready(server: subprocess.Popen[bytes], port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise DrillFailed(f"the scratch mongod exited with {server.returncode} before it was ready")
        try:
            if run(mongosh(port, PING), timeout=30).stdout.strip() == "1":
                return
        except DrillFailed as err:
            log.info("not ready yet: %s", err)
        time.sleep(1)
    raise DrillFailed("the scratch mongod did not accept connections in time")


def restore(args: argparse.Namespace, deadline: float) -> None:
    summary_file = args.dbpath.parent / "restore-summary.json"
    summary_file.unlink(missing_ok=True)
    restore_argv = ["python3", str(args.stream_script), "restore", "--port", str(args.port)]
    restore_argv += ["--summary-file", str(summary_file), *(["--no-oplog"] if args.no_oplog else [])]
    # WAL-G runs it with `$SHELL -c`: a fixed string with nothing from outside in it
    env = {**os.environ, "WALG_STREAM_RESTORE_COMMAND": "exec " + shlex.join(restore_argv)}
    run(shlex.split(args.fetch_command), timeout=max(1.0, deadline - time.monotonic()), env=env)
    restored, failed = restore_counts(summary_file)
    if failed:
        raise DrillFailed(f"mongorestore failed to restore {failed} document(s) ({restored} restored)")
    if restored == 0 and not args.allow_empty:
        raise DrillFailed("mongorestore restored no documents: the dump is empty or was not read")
    log.info("mongorestore restored %d document(s)", restored)


def sanity(args: argparse.Namespace) -> None:
    result = run(mongosh(args.port, args.sanity_eval), timeout=600).stdout.strip()
    log.info("sanity query returned %s", result or "(nothing)")
    if not args.allow_empty and result in ("", "0"):
        raise DrillFailed(f"the sanity query found no data in the restored databases (it printed {result!r})")


def drill(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.timeout
    dbpath: Path = args.dbpath
    if dbpath.exists():
        shutil.rmtree(dbpath)
    dbpath.mkdir(parents=True)
    log_path = dbpath.parent / "mongod.log"
    # mongod binds to localhost only unless told otherwise; no Unix socket in a shared /tmp
    command = ["mongod", "--dbpath", str(dbpath), "--port", str(args.port), "--nounixsocket"]
    log.info("starting %s", shlex.join(command))
    with open(log_path, "wb") as output:
        try:
            server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        except OSError as err:
            raise DrillFailed(f"cannot start mongod: {err}") from None
        try:
            wait_ready(server, args.port, deadline)
            restore(args, deadline)
            sanity(args)
        finally:
            server.terminate()  # SIGTERM: mongod shuts down cleanly
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbpath", type=Path, required=True, help="the scratch mongod's data directory")
    parser.add_argument("--port", type=int, default=DRILL_PORT)
    parser.add_argument(
        "--fetch-command",
        default=DEFAULT_FETCH,
        help="pipes the latest archive into $WALG_STREAM_RESTORE_COMMAND (default: %(default)s)",
    )
    parser.add_argument("--stream-script", type=Path, default=STREAM_SCRIPT, help="mongodb_stream.py")
    parser.add_argument("--sanity-eval", default=DEFAULT_SANITY, help="mongosh --eval; must print more than 0")
    parser.add_argument("--allow-empty", action="store_true", help="an empty database is a successful drill")
    parser.add_argument("--no-oplog", action="store_true", help="the dumps are taken without --oplog")
    parser.add_argument("--timeout", type=float, default=6 * 3600, help="seconds for the whole drill")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        drill(args)
    except DrillFailed as err:
        log.error("restore drill failed: %s", err)
        return 1
    log.info("restore drill succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
