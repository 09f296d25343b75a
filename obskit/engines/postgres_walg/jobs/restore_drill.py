#!/usr/bin/env python3
"""A restore drill: fetch the latest base backup into a scratch directory, check that the WAL
archive holds every segment from the backup's start on, start PostgreSQL on it with the restore
settings, let it replay the archived WAL and promote, check that the replay reached the newest
archived segment, run a sanity query, stop it. Exit 0 only if every step worked; obskit_job.py
times the whole drill.

A gap in the WAL archive looks to restore_command like the end of the archive: PostgreSQL would
promote early, on stale data. So the archive listing is checked for gaps before the start, and
where the replay ended (the switchpoint in the new timeline's history file) is compared with
the newest archived segment after the promotion.

The restored server listens on a Unix socket only and never archives, so a drill cannot
write into the production WAL archive.

    restore_drill.py --data-dir /scratch/pgdata
        [--fetch-command 'wal-g backup-fetch {data_dir} LATEST']
        [--restore-command 'wal-g wal-fetch %f %p'] [--archive-list-command 'wal-g st ls wal_005/']
        [--sanity-query 'SELECT count(*) FROM pg_database']
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger("obskit-restore-drill")

DEFAULT_FETCH = "wal-g backup-fetch {data_dir} LATEST"
DEFAULT_RESTORE = "wal-g wal-fetch %f %p"
# WAL-G's storage listing of the folder it archives WAL segments to (wal_005/ under its prefix)
DEFAULT_ARCHIVE_LIST = "wal-g st ls wal_005/"
DEFAULT_QUERY = "SELECT count(*) FROM pg_database"
DRILL_PORT = 54329
DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024

# A WAL segment file name as a whole token: 000000010000000000000003, .zst/.br/.lz4 from WAL-G.
SEGMENT_NAME = re.compile(r"(?<![0-9A-F])([0-9A-F]{24})(?![0-9A-F])")
# What follows a name that is not a whole segment: a partial one left by a promotion, a backup label.
NOT_A_SEGMENT = re.compile(r"\.partial|\.[0-9A-F]{8}\.backup")
START_WAL = re.compile(r"^START WAL LOCATION: [0-9A-F]+/[0-9A-F]+ \(file ([0-9A-F]{24})\)\s*$", re.MULTILINE)
SEGMENT_SIZE = re.compile(r"^Bytes per WAL segment:\s+(\d+)\s*$", re.MULTILINE)
HISTORY_FILE = re.compile(r"^([0-9A-F]{8})\.history$")
SERVER_VERSION = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")  # `pg_ctl --version`: "pg_ctl (PostgreSQL) 15.5"


class DrillFailed(Exception):
    pass


ToolPath = Callable[[str], str]  # program name -> what to run


class Segment(NamedTuple):
    timeline: int
    number: int  # segno: position in the WAL stream, whatever the timeline

    def name(self, segment_size: int) -> str:
        per_id = segments_per_id(segment_size)
        return f"{self.timeline:08X}{self.number // per_id:08X}{self.number % per_id:08X}"


def segments_per_id(segment_size: int) -> int:
    return 0x100000000 // segment_size


def segment_number(name: str, segment_size: int) -> Segment:
    """000000010000000A000000FF -> timeline 1, segno 0xA * segments per id + 0xFF."""
    return Segment(int(name[:8], 16), int(name[8:16], 16) * segments_per_id(segment_size) + int(name[16:24], 16))


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def archived_segment_names(listing: str) -> list[str]:
    """The whole WAL segments an archive listing (wal-g st ls, ls) names."""
    return [match.group(1) for match in SEGMENT_NAME.finditer(listing) if not NOT_A_SEGMENT.match(listing, match.end())]


def parse_backup_label(text: str) -> str:
    """The backup's start segment, from `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)`."""
    match = START_WAL.search(text)
    if match is None:
        raise DrillFailed("backup_label has no START WAL LOCATION line")
    return match.group(1)


def parse_segment_size(controldata: str) -> int | None:
    match = SEGMENT_SIZE.search(controldata)
    return int(match.group(1)) if match else None


def find_gaps(first: int, archived: Iterable[int]) -> list[tuple[int, int]]:
    """The runs of segnos (first missing, last missing) between `first` and the newest archived one."""
    gaps = []
    expected = first
    for number in sorted({number for number in archived if number >= first}):
        if number > expected:
            gaps.append((expected, number - 1))
        expected = number + 1
    return gaps


def check_archive(start_name: str, listing: str, segment_size: int) -> Segment:
    """The newest archived segment, if every segment from the backup's start up to it is archived.

    Timelines are compared by segno only: after a promotion the archive holds the old timeline up
    to the switch and the new one from there on, and a restore follows them."""
    start = segment_number(start_name, segment_size)
    archived: dict[int, int] = {}  # segno -> highest timeline holding it
    for name in archived_segment_names(listing):
        segment = segment_number(name, segment_size)
        if segment.timeline >= start.timeline:
            archived[segment.number] = max(segment.timeline, archived.get(segment.number, 0))
    newest_number = max((number for number in archived if number >= start.number), default=None)
    if newest_number is None:
        raise DrillFailed(
            f"the WAL archive holds no segment at or after the backup's start segment {start_name}: nothing to replay"
        )
    newest = Segment(archived[newest_number], newest_number)
    gaps = find_gaps(start.number, archived)
    if gaps:
        raise DrillFailed(gap_message(gaps, archived, start, newest, segment_size))
    return newest


def gap_message(
    gaps: list[tuple[int, int]], archived: dict[int, int], start: Segment, newest: Segment, segment_size: int
) -> str:
    first, last = gaps[0]
    # named on the timeline the restore would be following there
    timeline = max((archived[n] for n in archived if start.number <= n < first), default=start.timeline)
    missing = Segment(timeline, first).name(segment_size)
    if last == first:
        what = f"segment {missing} is missing"
    else:
        what = f"segments {missing} to {Segment(timeline, last).name(segment_size)} are missing"
    more = f", and {len(gaps) - 1} more gap(s) after it" if len(gaps) > 1 else ""
    return (
        f"the WAL archive has a gap: {what} (archived up to {newest.name(segment_size)}{more}); a restore stops there"
    )


def parse_history(text: str) -> tuple[int, int]:
    """(parent timeline, switchpoint LSN) from a timeline history file's last entry:
    `<parent tli>\\t<switchpoint X/Y>\\t<reason>`."""
    entries = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not entries or len(entries[-1]) < 2:
        raise DrillFailed("the timeline history file has no entry")
    try:
        return int(entries[-1][0]), parse_lsn(entries[-1][1])
    except ValueError:
        raise DrillFailed(f"cannot parse the timeline history entry {' '.join(entries[-1])!r}") from None


def newest_history_file(pg_wal: Path) -> Path | None:
    """The history file of the highest timeline: the one the promotion at the end of recovery wrote."""
    files = [(int(m.group(1), 16), path) for path in pg_wal.iterdir() if (m := HISTORY_FILE.match(path.name))]
    return max(files)[1] if files else None


def check_replay(history: str, archive_end: Segment, segment_size: int) -> tuple[Segment, int]:
    """Where the replay ended (segment, LSN), if it reached the newest archived segment. A switchpoint exactly
    at a segment boundary (the end of a switched segment) counts as the next segment."""
    timeline, lsn = parse_history(history)
    replay_end = Segment(timeline, lsn // segment_size)
    if replay_end.number < archive_end.number:
        end_name = replay_end.name(segment_size)
        raise DrillFailed(
            f"replay ended at {format_lsn(lsn)} in segment {end_name} but the archive holds segments up to "
            f"{archive_end.name(segment_size)}: WAL from {end_name} on could not be restored"
        )
    return replay_end, lsn


def run(args: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    log.info("running %s", shlex.join(args))
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DrillFailed(f"{args[0]}: {err}") from None
    if done.returncode != 0:
        raise DrillFailed(
            f"{shlex.join(args)} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return done.stdout


def remaining(deadline: float) -> float:
    return max(1.0, deadline - time.monotonic())


def restore_settings(restore_command: str, socket_dir: Path) -> str:
    """Appended to postgresql.auto.conf of the restored copy (later settings win). The production
    server's memory settings and preloaded libraries need not fit the drill pod's limits or image,
    so they are reset; without hot standby PostgreSQL does not require max_connections and its
    kin to be at least the production values during recovery."""
    return (
        "\n# obskit restore drill\n"
        f"restore_command = '{restore_command}'\n"
        "archive_mode = off\n"
        "listen_addresses = ''\n"
        f"unix_socket_directories = '{socket_dir}'\n"
        f"port = {DRILL_PORT}\n"
        "hot_standby = off\n"
        "shared_buffers = '128MB'\n"
        "huge_pages = off\n"
        "work_mem = '4MB'\n"
        "maintenance_work_mem = '64MB'\n"
        "shared_preload_libraries = ''\n"
    )


def ensure_config_files(data_dir: Path) -> None:
    """A base backup of a server whose configuration lives outside its data directory (Debian's
    /etc/postgresql) restores without postgresql.conf and pg_hba.conf; the drill needs both."""
    conf = data_dir / "postgresql.conf"
    if not conf.exists():
        conf.write_text("# created by the obskit restore drill: the backup had none\n", encoding="utf-8")
    hba = data_dir / "pg_hba.conf"
    if not hba.exists():
        hba.write_text("local all all trust\n", encoding="utf-8")


def read_start_segment(data_dir: Path) -> str:
    # read before the start: PostgreSQL renames backup_label once it has used it
    try:
        label = (data_dir / "backup_label").read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise DrillFailed(f"the fetch left no readable backup_label in {data_dir}: {err}") from None
    return parse_backup_label(label)


def server_major(version: str) -> str | None:
    """The major of `pg_ctl --version`'s output as PG_VERSION writes it: 15, or 9.6 before 10."""
    match = SERVER_VERSION.search(version)
    if match is None:
        return None
    first, second = match.groups()
    return f"{first}.{second}" if int(first) < 10 and second else first


def check_major(data_dir: Path, pg_ctl_version: str) -> None:
    """PostgreSQL starts only a data directory of its own major: say which image the drill needs
    rather than leave it to the server's log."""
    backup = (data_dir / "PG_VERSION").read_text(encoding="utf-8", errors="replace").strip()
    server = server_major(pg_ctl_version)
    if server is None:
        log.warning("cannot read the server's major from %r; starting anyway", pg_ctl_version.strip())
    elif backup != server:
        raise DrillFailed(
            f"the backup is of PostgreSQL {backup} and this image's server is PostgreSQL {server}: run the drill in "
            "an image of the datastore's major (its `version`, and walg.image with {pg_major} in its tag)"
        )


def read_segment_size(pg_controldata: str, data_dir: Path, deadline: float) -> int:
    # untranslated output: Debian's PostgreSQL speaks the locale's language
    output = run([pg_controldata, "-D", str(data_dir)], timeout=remaining(deadline), env={**os.environ, "LC_ALL": "C"})
    size = parse_segment_size(output)
    if size is None:
        log.warning("pg_controldata shows no WAL segment size; assuming %d bytes", DEFAULT_SEGMENT_SIZE)
        return DEFAULT_SEGMENT_SIZE
    return size


def check_archive_before_start(args: argparse.Namespace, tool: ToolPath, deadline: float) -> tuple[Segment, int]:
    """The newest archived segment and the WAL segment size, if the archive is complete."""
    start_name = read_start_segment(args.data_dir)
    segment_size = read_segment_size(tool("pg_controldata"), args.data_dir, deadline)
    try:
        listing = run(shlex.split(args.archive_list_command), timeout=remaining(deadline))
    except DrillFailed as err:
        raise DrillFailed(f"cannot list the WAL archive: {err}") from None
    archive_end = check_archive(start_name, listing, segment_size)
    log.info(
        "the WAL archive holds every segment from the backup's start %s up to %s",
        start_name,
        archive_end.name(segment_size),
    )
    return archive_end, segment_size


def check_replay_end(data_dir: Path, archive_end: Segment, segment_size: int) -> None:
    try:
        history_file = newest_history_file(data_dir / "pg_wal")
        if history_file is None:
            raise DrillFailed(f"the promoted server wrote no timeline history file in {data_dir / 'pg_wal'}")
        history = history_file.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise DrillFailed(f"cannot read the timeline history: {err}") from None
    replay_end, lsn = check_replay(history, archive_end, segment_size)
    log.info(
        "replay ended at %s in segment %s (%s); the archive ends at segment %s",
        format_lsn(lsn),
        replay_end.name(segment_size),
        history_file.name,
        archive_end.name(segment_size),
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
    tool: ToolPath = (lambda name: str(bin_dir / name)) if bin_dir else (lambda name: name)
    deadline = time.monotonic() + args.timeout
    if data_dir.exists():
        shutil.rmtree(data_dir)
    run(shlex.split(args.fetch_command.format(data_dir=shlex.quote(str(data_dir)))), timeout=args.timeout)
    if not (data_dir / "PG_VERSION").is_file():
        raise DrillFailed(f"the fetch left no PostgreSQL data directory in {data_dir}")
    check_major(data_dir, run([tool("pg_ctl"), "--version"], timeout=remaining(deadline)))
    archive_end, segment_size = check_archive_before_start(args, tool, deadline)
    data_dir.chmod(0o700)
    socket_dir = data_dir.parent
    (data_dir / "recovery.signal").touch()
    ensure_config_files(data_dir)
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
        check_replay_end(data_dir, archive_end, segment_size)
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
    parser.add_argument(
        "--archive-list-command",
        default=DEFAULT_ARCHIVE_LIST,
        help="prints the names of the archived WAL segments, one token each; the default is WAL-G's storage "
        "listing of its WAL folder (default: %(default)s)",
    )
    parser.add_argument("--sanity-query", default=DEFAULT_QUERY, help="must succeed (default: %(default)s)")
    parser.add_argument("--user", default=os.environ.get("PGUSER", "postgres"), help="database user to query as")
    parser.add_argument(
        "--pg-bin", default=os.environ.get("PG_BIN"), help="where pg_ctl, pg_controldata and psql are (default: PATH)"
    )
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
