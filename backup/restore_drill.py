#!/usr/bin/env python3
"""A restore drill: fetch the latest base backup into a scratch directory, start PostgreSQL
on it with the restore settings, let it replay the archived WAL and promote, run a sanity
query, stop it. Exit 0 only if every step worked; obskit_job.py times the whole drill.

The restored server listens on a Unix socket only and never archives, so a drill cannot
write into the production WAL archive.

    restore_drill.py --data-dir /scratch/pgdata
        [--fetch-command 'wal-g backup-fetch {data_dir} LATEST']
        [--restore-command 'wal-g wal-fetch %f %p'] [--sanity-query 'SELECT count(*) FROM pg_database']
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("obskit-restore-drill")

DEFAULT_FETCH = "wal-g backup-fetch {data_dir} LATEST"
DEFAULT_RESTORE = "wal-g wal-fetch %f %p"
DEFAULT_QUERY = "SELECT count(*) FROM pg_database"
DRILL_PORT = 54329


class DrillFailed(Exception):
    pass


def run(args: list[str], timeout: float) -> str:
    log.info("running %s", shlex.join(args))
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DrillFailed(f"{args[0]}: {err}") from None
    if done.returncode != 0:
        raise DrillFailed(
            f"{shlex.join(args)} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return done.stdout


def restore_settings(restore_command: str, socket_dir: Path) -> str:
    """Appended to postgresql.auto.conf of the restored copy (later settings win)."""
    return (
        "\n# obskit restore drill\n"
        f"restore_command = '{restore_command}'\n"
        "archive_mode = off\n"
        "listen_addresses = ''\n"
        f"unix_socket_directories = '{socket_dir}'\n"
        f"port = {DRILL_PORT}\n"
    )


def wait_promoted(psql: list[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if run([*psql, "-Atc", "SELECT pg_is_in_recovery()"], timeout=30).strip() == "f":
                return
        except DrillFailed as err:
            log.info("not ready yet: %s", err)
        time.sleep(1)
    raise DrillFailed("the restored server did not finish recovery in time")


def drill(args: argparse.Namespace) -> None:
    data_dir: Path = args.data_dir
    bin_dir = Path(args.pg_bin) if args.pg_bin else None
    tool = (lambda name: str(bin_dir / name)) if bin_dir else (lambda name: name)
    deadline = time.monotonic() + args.timeout
    if data_dir.exists():
        shutil.rmtree(data_dir)
    run(shlex.split(args.fetch_command.format(data_dir=shlex.quote(str(data_dir)))), timeout=args.timeout)
    if not (data_dir / "PG_VERSION").is_file():
        raise DrillFailed(f"the fetch left no PostgreSQL data directory in {data_dir}")
    data_dir.chmod(0o700)
    socket_dir = data_dir.parent
    (data_dir / "recovery.signal").touch()
    with open(data_dir / "postgresql.auto.conf", "a", encoding="utf-8") as conf:
        conf.write(restore_settings(args.restore_command, socket_dir))
    (data_dir / "standby.signal").unlink(missing_ok=True)
    psql = [tool("psql"), "-h", str(socket_dir), "-p", str(DRILL_PORT), "-U", args.user, "-d", "postgres"]
    run(
        [
            tool("pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(socket_dir / "drill.log"),
            "-w",
            "-t",
            str(int(args.timeout)),
            "start",
        ],
        timeout=args.timeout,
    )
    try:
        wait_promoted(psql, deadline)
        result = run([*psql, "-Atc", args.sanity_query], timeout=60).strip()
        log.info("sanity query returned %s", result or "(no rows)")
    finally:
        try:
            run([tool("pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"], timeout=120)
        except DrillFailed as err:
            log.warning("could not stop the restored server: %s", err)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="scratch directory for the restored copy")
    parser.add_argument("--fetch-command", default=DEFAULT_FETCH, help="fills {data_dir} (default: %(default)s)")
    parser.add_argument("--restore-command", default=DEFAULT_RESTORE, help="restore_command (default: %(default)s)")
    parser.add_argument("--sanity-query", default=DEFAULT_QUERY, help="must succeed (default: %(default)s)")
    parser.add_argument("--user", default=os.environ.get("PGUSER", "postgres"), help="database user to query as")
    parser.add_argument("--pg-bin", default=os.environ.get("PG_BIN"), help="where pg_ctl and psql are (default: PATH)")
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
