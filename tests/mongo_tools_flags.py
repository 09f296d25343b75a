"""The command-line flags MongoDB's programs really define, for the stand-ins of tests/mongo_standin.py.

mongodump and mongorestore: extracted from mongo-tools' source (github.com/mongodb/mongo-tools at
tag 100.18.0, commit 21a342dfee6468ad9350d156d25086da64dd03b1): the go-flags struct tags of
common/options/options.go (the groups options.New registers with Auth, Connection, Namespace and
URI enabled, as both tools do; `failpoints` is dropped in builds without the failpoints tag,
common/options/options_fp_disabled.go) and of mongodump/options.go and mongorestore/options.go.
`python -m tests.mongo_tools_flags GIT_DIR` rewrites tests/data/mongo_tools_flags.json from a
clone; tests/test_mongodb_jobs.py checks the file against the clone when there is one.

mongod and mongosh are not mongo-tools: their few flags the drill uses are transcribed in the JSON
file with their sources (mongodb/mongo's src/mongo/db/server_options_general.idl and
mongod_options_storage.idl, mongodb-js/mongosh's packages/arg-parser/src/arg-parser.ts).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

TABLE = Path(__file__).parent / "data" / "mongo_tools_flags.json"
TAG = "100.18.0"
COMMIT = "21a342dfee6468ad9350d156d25086da64dd03b1"
COMMON = "common/options/options.go"
# The groups of common/options/options.go that options.New registers with every option enabled.
COMMON_GROUPS = ("General", "Verbosity", "Connection", "SSL", "Auth", "Kerberos", "Namespace", "URI")
TOOLS = {
    "mongodump": ("mongodump/options.go", ("InputOptions", "OutputOptions")),
    "mongorestore": ("mongorestore/options.go", ("InputOptions", "NSOptions", "OutputOptions")),
}
NOT_BUILT = {"failpoints"}  # options_fp_disabled.go clears its long name

STRUCT = re.compile(r"^type (\w+) struct \{(.*?)^\}", re.MULTILINE | re.DOTALL)
FIELD = re.compile(r"^\s*\w+\s+(\S+)\s+`([^`]*)`", re.MULTILINE)
TAG_PAIR = re.compile(r'(\w[\w-]*):"([^"]*)"')


def struct_flags(source: str, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """{long name: {"kind": switch | value | optional, "short": letter or None}} of these structs."""
    structs = {match.group(1): match.group(2) for match in STRUCT.finditer(source)}
    flags: dict[str, dict[str, Any]] = {}
    for name in names:
        for go_type, tags in FIELD.findall(structs[name]):
            tag = dict(TAG_PAIR.findall(tags))
            if "long" not in tag or tag["long"] in NOT_BUILT:
                continue
            if tag.get("optional") == "true":
                kind = "optional"  # a value only as --name=value; bare, the optional-value
            elif go_type == "bool":
                kind = "switch"
            else:
                kind = "value"
            flags[tag["long"]] = {"kind": kind, "short": tag.get("short")}
    return flags


def extract(read: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """The tools' flags from their sources; `read(path)` returns a file's text at the commit."""
    common = struct_flags(read(COMMON), COMMON_GROUPS)
    return {
        tool: dict(sorted({**common, **struct_flags(read(path), groups)}.items()))
        for tool, (path, groups) in TOOLS.items()
    }


def git_reader(git_dir: Path, commit: str = COMMIT) -> Any:
    def read(path: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    return read


def load() -> dict[str, Any]:
    table: dict[str, Any] = json.loads(TABLE.read_text(encoding="utf-8"))
    return table


def main(git_dir: str) -> None:
    table = load() if TABLE.exists() else {}
    table.update(extract(git_reader(Path(git_dir))))
    table["source"] = {
        "mongodump, mongorestore": f"github.com/mongodb/mongo-tools {TAG} ({COMMIT}): {COMMON}, "
        + ", ".join(path for path, _ in TOOLS.values()),
        **table.get("source", {}),
    }
    TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
