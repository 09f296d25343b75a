#!/usr/bin/env python3
"""The two commands WAL-G's MongoDB mode runs: `dump` (WALG_STREAM_CREATE_COMMAND, the archive to
stdout) and `restore` (WALG_STREAM_RESTORE_COMMAND, the archive from stdin). WAL-G runs those
settings with `$SHELL -c`; obskit sets them to a fixed `exec python3 .../mongodb_stream.py dump`
(the replica set comes from $OBSKIT_MONGODB_REPLICA_SET, the URI from $MONGODB_URI), and this
script runs mongodump or mongorestore in exec form: no value from the spec reaches a shell.

    mongodb_stream.py dump [--uri-file FILE] [--replica-set NAME] [--no-oplog]
        mongodump --config=<0600 file with the URI> --oplog --archive --gzip [--readPreference=secondary]
    mongodb_stream.py restore --port PORT [--host 127.0.0.1] [--summary-file FILE]
        mongorestore --host=... --port=... --oplogReplay --archive --gzip --stopOnError

`restore` reads mongorestore's summary ("N document(s) restored successfully. M document(s) failed
to restore."), fails when M > 0 (mongorestore exits 0 past documents it could not insert:
mongorestore/main/mongorestore.go), and writes the counts to --summary-file for the drill: WAL-G
keeps the restore command's stderr to itself unless it fails (internal/backup_fetch_handler.go,
GetBackupToCommandFetcher), so the drill cannot read the summary from WAL-G's output.

The URI comes from --uri-file or $MONGODB_URI (a Secret's key, which `wal-g backup-push` reads
too) and reaches mongodump through a `--config` file (mongo-tools reads `uri:` from it:
common/options/options.go, ParseConfigFile), never its command line, where `ps` would show it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("obskit-mongodb-stream")
SUMMARY = re.compile(r"(\d+) document\(s\) restored successfully\. (\d+) document\(s\) failed to restore")


def dump_command(config: Path, replica_set: str | None, oplog: bool) -> list[str]:
    command = ["mongodump", f"--config={config}"]
    if oplog:
        command.append("--oplog")  # a replica set member's oplog: the dump is consistent at its end
    command += ["--archive", "--gzip"]  # a bare --archive writes to stdout
    if replica_set:
        command.append("--readPreference=secondary")  # spare the primary
    return command


def restore_command(host: str, port: int, oplog: bool) -> list[str]:
    command = ["mongorestore", f"--host={host}", f"--port={port}"]
    if oplog:
        command.append("--oplogReplay")
    # --stopOnError: mongorestore otherwise exits 0 past documents it failed to insert
    return [*command, "--archive", "--gzip", "--stopOnError"]


def config_text(uri: str) -> str:
    """mongo-tools' --config file: YAML with `uri`; a JSON string is a YAML double-quoted scalar."""
    return f"uri: {json.dumps(uri)}\n"


def read_uri(uri_file: Path | None) -> str:
    if uri_file is not None:
        return uri_file.read_text(encoding="utf-8").strip()
    uri = os.environ.get("MONGODB_URI", "").strip()
    if not uri:
        raise SystemExit("no connection URI: give --uri-file or set MONGODB_URI from the Secret")
    return uri


def dump(args: argparse.Namespace) -> int:
    uri = read_uri(args.uri_file)
    handle, name = tempfile.mkstemp(prefix="mongodump-", suffix=".yaml")  # mode 0600
    config = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(config_text(uri))
        command = dump_command(config, args.replica_set, not args.no_oplog)
        log.info("running %s", " ".join(command))
        return run(command)
    finally:
        config.unlink(missing_ok=True)


def restore_counts(output: str) -> tuple[int, int] | None:
    """(restored, failed) from mongorestore's last summary line, if it printed one."""
    found = SUMMARY.findall(output)
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def restore(args: argparse.Namespace) -> int:
    command = restore_command(args.host, args.port, not args.no_oplog)
    log.info("running %s", " ".join(command))
    try:
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    except OSError as err:
        log.error("cannot run %s: %s", command[0], err)
        return 127
    assert process.stderr is not None
    output = []
    for line in process.stderr:  # passed on as it comes: a restore takes hours
        sys.stderr.write(line)
        output.append(line)
    code = process.wait()
    counts = restore_counts("".join(output))
    if args.summary_file is not None and counts is not None:
        restored, failed = counts
        args.summary_file.write_text(json.dumps({"restored": restored, "failed": failed}) + "\n", encoding="utf-8")
    if code == 0 and counts is not None and counts[1] > 0:
        log.error("mongorestore failed to restore %d document(s)", counts[1])
        return 1
    return code


def run(command: list[str]) -> int:
    """The command with this process's stdin, stdout and stderr (the archive stream); its exit code."""
    try:
        return subprocess.run(command, check=False).returncode
    except OSError as err:
        log.error("cannot run %s: %s", command[0], err)
        return 127


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dump_parser = commands.add_parser("dump", help="mongodump's archive to stdout")
    dump_parser.add_argument("--uri-file", type=Path, help="a file holding the URI (default: $MONGODB_URI)")
    dump_parser.add_argument(
        "--replica-set",
        default=os.environ.get("OBSKIT_MONGODB_REPLICA_SET") or None,
        help="the replica set: the dump reads from a secondary (default: $OBSKIT_MONGODB_REPLICA_SET)",
    )
    dump_parser.add_argument("--no-oplog", action="store_true", help="a dump without --oplog (not point-in-time)")
    restore_parser = commands.add_parser("restore", help="mongorestore from stdin into a scratch mongod")
    restore_parser.add_argument("--host", default="127.0.0.1")
    restore_parser.add_argument("--port", type=int, required=True)
    restore_parser.add_argument("--no-oplog", action="store_true", help="the dump was taken without --oplog")
    restore_parser.add_argument("--summary-file", type=Path, help="where to write the restored and failed counts")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return dump(args) if args.command == "dump" else restore(args)


if __name__ == "__main__":
    sys.exit(main())
