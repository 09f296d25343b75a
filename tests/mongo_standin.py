"""A stand-in for mongodump, mongorestore, mongod and mongosh, which no Debian or PyPI package
ships. Its one honest part is the command line: every flag is checked against the flags the real
programs define (tests/mongo_tools_flags.py says where each table comes from), with their parsers'
rules (a switch takes no value, a value flag takes the next argument or `=value`, an optional one
only `=value`), and anything else is refused as the real program refuses it. Behind that it keeps
a toy server: the "production" database is a JSON file, a scratch mongod a port registered in a
state directory, an archive a gzip of a magic number, JSON blocks and a terminator (the real format's
shape: mongo-tools' common/archive/parser.go).

    python tests/mongo_standin.py install BIN_DIR   # writes BIN_DIR/mongodump etc. that run this

State and knobs ($MONGO_STANDIN_DIR): source.json ({"replica_set": name or null, "databases":
{db: {collection: [documents]}}}), ports/<port> (a running scratch mongod's dbpath), calls.jsonl
(every call's argv and whether it saw MONGODB_URI). $MONGO_STANDIN_FAIL=mongodump makes a dump
die halfway after writing part of its archive.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import yaml

from tests.mongo_tools_flags import load

MAGIC = b"\x6d\xe2\x99\x81"  # the real archive's magic number, little-endian 0x8199e26d
TERMINATOR = b"\xff\xff\xff\xff"
PROGRAMS = ("mongodump", "mongorestore", "mongod", "mongosh")
PING = "print(db.adminCommand({ping: 1}).ok)"


class Refused(Exception):
    pass


def state() -> Path:
    return Path(os.environ["MONGO_STANDIN_DIR"])


def parse(program: str, argv: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """({flag: [values]}, positional) by the program's table; Refused for what the real parser refuses."""
    table: dict[str, dict[str, Any]] = load()[program]
    shorts = {spec["short"]: name for name, spec in table.items() if spec["short"]}
    flags: dict[str, list[str]] = {}
    positional: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg.startswith("--") and len(arg) > 2:
            name, has_value, value = arg[2:].partition("=")
        elif arg.startswith("-") and len(arg) > 1 and not arg.startswith("--"):
            letter, value = arg[1], arg[2:]
            if letter not in shorts:
                raise Refused(f"unknown option `{letter}'")
            name, has_value = shorts[letter], bool(value)
        else:
            positional.append(arg)
            continue
        if name not in table:
            raise Refused(f"unknown option `{name}'")
        kind = table[name]["kind"]
        if kind == "switch":
            if has_value:
                raise Refused(f"bool flag `--{name}' cannot have an argument")
            value = "true"
        elif kind == "value" and not has_value:
            if not args or (args[0].startswith("-") and args[0] != "-"):
                raise Refused(f"expected argument for flag `--{name}'")
            value = args.pop(0)
        elif kind == "optional" and not has_value:
            value = "-"  # mongo-tools' optional-value for --archive
        flags.setdefault(name, []).append(value)
    return flags, positional


def record(program: str, argv: list[str]) -> None:
    with open(state() / "calls.jsonl", "a", encoding="utf-8") as calls:
        calls.write(json.dumps({"program": program, "argv": argv, "env_uri": "MONGODB_URI" in os.environ}) + "\n")


def fail(message: str) -> int:
    sys.stderr.write(f"2026-01-01T00:00:00.000+0000\tFailed: {message}\n")
    return 1


def connection(flags: dict[str, list[str]]) -> str:
    if "config" in flags:
        config = yaml.safe_load(Path(flags["config"][-1]).read_text(encoding="utf-8"))
        return str(config["uri"])
    if "uri" in flags:
        return flags["uri"][-1]
    return f"mongodb://{flags.get('host', ['localhost'])[-1]}:{flags.get('port', ['27017'])[-1]}"


def mongodump(flags: dict[str, list[str]], positional: list[str]) -> int:
    if positional:
        return fail("error parsing positional arguments: provide only one MongoDB connection string")
    if not connection(flags).startswith(("mongodb://", "mongodb+srv://")):
        return fail('error parsing URI: scheme must be "mongodb" or "mongodb+srv"')
    if flags.get("archive", [""])[-1] != "-":
        return fail("the stand-in writes archives to stdout only (--archive without a value)")
    source = json.loads((state() / "source.json").read_text(encoding="utf-8"))
    if "oplog" in flags and not source.get("replica_set"):
        return fail("error getting oplog start: not running with --replSet: --oplog requires a replica set member")
    blocks = [
        {"db": db, "collection": name, "documents": documents}
        for db, collections in source["databases"].items()
        for name, documents in collections.items()
    ]
    if "oplog" in flags:
        blocks.append({"db": "local", "collection": "oplog.rs", "documents": source.get("oplog", [])})
    body = MAGIC + b"".join(json.dumps(block).encode() + b"\n" for block in blocks) + TERMINATOR
    data = gzip.compress(body) if "gzip" in flags else body
    if "mongodump" in os.environ.get("MONGO_STANDIN_FAIL", ""):
        sys.stdout.buffer.write(data[: len(data) // 2])
        sys.stdout.buffer.flush()
        return fail("error writing data for collection `shop.orders` to disk: connection reset by peer")
    sys.stdout.buffer.write(data)
    return 0


def scratch(flags: dict[str, list[str]]) -> Path | None:
    registered = state() / "ports" / flags.get("port", ["27017"])[-1]
    return Path(registered.read_text(encoding="utf-8")) if registered.exists() else None


def mongorestore(flags: dict[str, list[str]], positional: list[str]) -> int:
    dbpath = scratch(flags)
    if dbpath is None:
        return fail("error connecting to host: server selection error: connection refused")
    if flags.get("archive", [""])[-1] != "-":
        return fail("the stand-in reads archives from stdin only (--archive without a value)")
    raw = sys.stdin.buffer.read()
    try:
        body = gzip.decompress(raw) if "gzip" in flags else raw
    except (EOFError, OSError, zlib.error) as err:
        return fail(f"corruption found in archive; I/O error reading length or terminator ( {err} )")
    if not body.startswith(MAGIC) or not body.endswith(TERMINATOR):
        return fail("corruption found in archive; stream ended before the terminator ( unexpected EOF )")
    blocks = [json.loads(line) for line in body[len(MAGIC) : -len(TERMINATOR)].splitlines() if line]
    oplog = [b for b in blocks if (b["db"], b["collection"]) == ("local", "oplog.rs")]
    if "oplogReplay" in flags and not oplog:
        return fail("no oplog file to replay; make sure you run mongodump with --oplog")
    restored = [b for b in blocks if b not in oplog]
    (dbpath / "restored.json").write_text(json.dumps(restored), encoding="utf-8")
    count = sum(len(b["documents"]) for b in restored)
    sys.stderr.write(f"{count} document(s) restored successfully. 0 document(s) failed to restore.\n")
    return 0


def mongod(flags: dict[str, list[str]], positional: list[str]) -> int:
    if positional or "dbpath" not in flags:
        return fail("mongod: give --dbpath and no positional arguments")
    ports = state() / "ports"
    ports.mkdir(exist_ok=True)
    registered = ports / flags.get("port", ["27017"])[-1]
    running = True

    def stop(signum: int, frame: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    registered.write_text(flags["dbpath"][-1], encoding="utf-8")
    try:
        while running:
            time.sleep(0.05)
    finally:
        registered.unlink(missing_ok=True)
    return 0


def mongosh(flags: dict[str, list[str]], positional: list[str]) -> int:
    dbpath = scratch(flags)
    if dbpath is None:
        sys.stderr.write("MongoNetworkError: connect ECONNREFUSED\n")
        return 1
    script = flags.get("eval", [""])[-1]
    if script == PING:
        print(1)
        return 0
    if "listDatabases" in script:  # the drill's sanity query: documents in the non-system databases
        restored = dbpath / "restored.json"
        blocks = json.loads(restored.read_text(encoding="utf-8")) if restored.exists() else []
        print(sum(len(b["documents"]) for b in blocks if b["db"] not in ("admin", "config", "local")))
        return 0
    sys.stderr.write("the stand-in evaluates only the drill's ping and sanity query\n")
    return 1


def main(program: str, argv: list[str]) -> int:
    record(program, argv)
    try:
        flags, positional = parse(program, argv)
    except Refused as err:
        sys.stderr.write(f"error parsing command line options: {err}\n")
        return 1
    run = {"mongodump": mongodump, "mongorestore": mongorestore, "mongod": mongod, "mongosh": mongosh}[program]
    return run(flags, positional)


def install(bin_dir: Path) -> None:
    """Executables named after the programs that run this file with this Python, the repository on its path."""
    repo = Path(__file__).resolve().parents[1]
    for program in PROGRAMS:
        path = bin_dir / program
        path.write_text(
            f'#!/bin/sh\nPYTHONPATH="{repo}" exec "{sys.executable}" -m tests.mongo_standin {program} "$@"\n',
            encoding="utf-8",
        )
        path.chmod(0o755)


if __name__ == "__main__":
    if sys.argv[1] == "install":
        install(Path(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1], sys.argv[2:]))
