"""obskit/engines/postgres_walg/jobs/restore_drill.py's pure parts: the WAL archive listing, backup_label, the gap check and
where the replay ended. tests/test_backup_e2e.py runs the drill against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import WALG_JOBS, backup_script
from tests.servers import PG_BIN

DRILL = WALG_JOBS / "restore_drill.py"
MiB = 1024 * 1024


drill = backup_script("restore_drill")

LABEL = """\
START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
CHECKPOINT LOCATION: 0/2000060
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2024-05-01 10:00:00 UTC
LABEL: pg_basebackup base backup
START TIMELINE: 1
"""

WALG_LISTING = """\
type size     last modified                 name
obj  65536    2024-05-01 10:00:01 +0000 UTC 000000010000000000000001.zst
obj  65536    2024-05-01 10:00:02 +0000 UTC 000000010000000000000002.zst
obj  312      2024-05-01 10:00:02 +0000 UTC 000000010000000000000002.00000028.backup.zst
obj  65536    2024-05-01 10:00:03 +0000 UTC 000000010000000000000003.zst
obj  65536    2024-05-01 10:00:04 +0000 UTC 000000010000000000000004.partial.zst
obj  41       2024-05-01 10:00:04 +0000 UTC 00000002.history.zst
obj  65536    2024-05-01 10:00:05 +0000 UTC 000000020000000000000004.zst
"""


def segments(*numbers: int, timeline: int = 1) -> str:
    """An `ls` of an archive holding these segnos (16 MiB segments)."""
    return "\n".join(drill.Segment(timeline, number).name(16 * MiB) for number in numbers) + "\n"


def test_segment_names_are_read_from_wal_g_listings_without_partial_segments_or_backup_labels() -> None:
    assert drill.archived_segment_names(WALG_LISTING) == [
        "000000010000000000000001",
        "000000010000000000000002",
        "000000010000000000000003",
        "000000020000000000000004",
    ]


def test_segment_names_are_read_from_plain_ls_and_only_as_whole_tokens() -> None:
    listing = "000000010000000000000002\n000000010000000000000002.00000028.backup\n00000002.history\n"
    listing += "0000000100000000000000030\nF000000010000000000000004\nwal_005/000000010000000000000005.br\n"
    assert drill.archived_segment_names(listing) == ["000000010000000000000002", "000000010000000000000005"]


@pytest.mark.parametrize(
    ("name", "segment_size", "expected"),
    [
        ("000000010000000000000002", 16 * MiB, (1, 2)),
        ("0000000300000001000000FF", 16 * MiB, (3, 256 + 255)),
        ("000000010000000100000003", 64 * MiB, (1, 64 + 3)),
        ("000000010000000200000000", 1 * MiB, (1, 2 * 4096)),
    ],
)
def test_segment_numbers_count_segments_across_log_ids(name: str, segment_size: int, expected: tuple[int, int]) -> None:
    segment = drill.segment_number(name, segment_size)
    assert segment == expected
    assert segment.name(segment_size) == name


def test_the_backup_label_gives_the_start_segment() -> None:
    assert drill.parse_backup_label(LABEL) == "000000010000000000000002"
    with pytest.raises(drill.DrillFailed, match="START WAL LOCATION"):
        drill.parse_backup_label("LABEL: something else\n")


def test_the_segment_size_comes_from_pg_controldata() -> None:
    controldata = "Maximum data alignment:               8\nBytes per WAL segment:                16777216\n"
    assert drill.parse_segment_size(controldata) == 16 * MiB
    assert drill.parse_segment_size("Bytes per WAL segmnt: 1\n") is None


def test_gaps_are_runs_of_missing_segnos_from_the_first_up_to_the_newest() -> None:
    assert drill.find_gaps(2, [1, 2, 3, 4]) == []
    assert drill.find_gaps(2, [1, 2, 4, 5, 9]) == [(3, 3), (6, 8)]
    assert drill.find_gaps(2, [3, 4]) == [(2, 2)]
    assert drill.find_gaps(5, [1, 2]) == []


def test_a_complete_archive_ends_at_its_newest_segment() -> None:
    newest = drill.check_archive("000000010000000000000002", segments(1, 2, 3, 4, 5), 16 * MiB)
    assert newest == (1, 5)


def test_the_archive_may_continue_on_a_later_timeline() -> None:
    newest = drill.check_archive("000000010000000000000002", WALG_LISTING, 16 * MiB)
    assert newest == (2, 4)


def test_a_gap_in_the_middle_names_the_missing_segment() -> None:
    with pytest.raises(drill.DrillFailed) as failed:
        drill.check_archive("000000010000000000000002", segments(2, 3, 5, 6), 16 * MiB)
    assert str(failed.value) == (
        "the WAL archive has a gap: segment 000000010000000000000004 is missing "
        "(archived up to 000000010000000000000006); a restore stops there"
    )


def test_several_gaps_name_the_first_run_and_count_the_rest() -> None:
    with pytest.raises(drill.DrillFailed) as failed:
        drill.check_archive("000000010000000000000002", segments(2, 6, 8), 16 * MiB)
    assert str(failed.value) == (
        "the WAL archive has a gap: segments 000000010000000000000003 to 000000010000000000000005 are missing "
        "(archived up to 000000010000000000000008, and 1 more gap(s) after it); a restore stops there"
    )


def test_a_missing_start_segment_is_a_gap() -> None:
    with pytest.raises(drill.DrillFailed, match="segment 000000010000000000000002 is missing"):
        drill.check_archive("000000010000000000000002", segments(1, 3), 16 * MiB)


def test_an_archive_with_nothing_from_the_backup_on_fails() -> None:
    for listing in ("", segments(1), segments(3, timeline=1)):
        with pytest.raises(drill.DrillFailed, match="no segment at or after the backup's start segment"):
            drill.check_archive("000000020000000000000004", listing, 16 * MiB)


def test_segments_of_earlier_timelines_than_the_backup_do_not_count() -> None:
    listing = segments(4, timeline=2) + segments(5, 6, timeline=1)
    assert drill.check_archive("000000020000000000000004", listing, 16 * MiB) == (2, 4)


def test_the_history_file_gives_the_switchpoint_of_the_newest_entry() -> None:
    history = "1\t0/3000000\tno recovery target specified\n\n# a comment\n2\t1/A0000D8\tbefore 2024-05-01\n"
    assert drill.parse_history(history) == (2, (1 << 32) + 0xA0000D8)
    for broken in ("", "# only a comment\n", "1\tnot-an-lsn\treason\n"):
        with pytest.raises(drill.DrillFailed):
            drill.parse_history(broken)


def test_a_replay_reaching_the_newest_segment_passes() -> None:
    # the last archived segment ended with a switch: the switchpoint is the start of the next one
    assert drill.check_replay("1\t0/6000000\tno recovery target specified\n", drill.Segment(1, 5), 16 * MiB) == (
        (1, 6),
        0x6000000,
    )
    assert drill.check_replay("1\t0/50000D8\tno recovery target specified\n", drill.Segment(1, 5), 16 * MiB) == (
        (1, 5),
        0x50000D8,
    )


def test_a_replay_ending_before_the_newest_segment_fails() -> None:
    with pytest.raises(drill.DrillFailed) as failed:
        drill.check_replay("1\t0/4000000\tno recovery target specified\n", drill.Segment(1, 6), 16 * MiB)
    assert str(failed.value) == (
        "replay ended at 0/4000000 in segment 000000010000000000000004 but the archive holds segments up to "
        "000000010000000000000006: WAL from 000000010000000000000004 on could not be restored"
    )


def test_the_newest_history_file_is_the_highest_timeline(tmp_path: Path) -> None:
    assert drill.newest_history_file(tmp_path) is None
    for name in ("00000002.history", "0000000A.history", "00000003.history", "000000010000000000000002"):
        (tmp_path / name).write_text("")
    newest = drill.newest_history_file(tmp_path)
    assert newest is not None and newest.name == "0000000A.history"


def test_the_archive_listing_command_defaults_to_wal_g_storage_listing() -> None:
    args = drill.parse_args(["--data-dir", "/scratch/pgdata"])
    assert args.archive_list_command == "wal-g st ls wal_005/"


@pytest.mark.parametrize(
    ("version", "major"),
    [("pg_ctl (PostgreSQL) 15.5\n", "15"), ("pg_ctl (PostgreSQL) 16.2 (Debian 16.2-1.pgdg120+2)", "16"),
     ("pg_ctl (PostgreSQL) 17beta1", "17"), ("pg_ctl (PostgreSQL) 9.6.24", "9.6"), ("pg_ctl 15", None)],
)  # fmt: skip
def test_the_server_major_is_read_as_pg_version_writes_it(version: str, major: str | None) -> None:
    assert drill.server_major(version) == major


def test_a_backup_of_another_major_fails_before_the_start(tmp_path: Path) -> None:
    (tmp_path / "PG_VERSION").write_text("16\n")
    with pytest.raises(drill.DrillFailed, match=r"the backup is of PostgreSQL 16 and this image's server is "
                       r"PostgreSQL 15: run the drill in an image of the datastore's major"):  # fmt: skip
        drill.check_major(tmp_path, "pg_ctl (PostgreSQL) 15.5\n")
    (tmp_path / "PG_VERSION").write_text("15\n")
    drill.check_major(tmp_path, "pg_ctl (PostgreSQL) 15.5\n")


@pytest.mark.tools("postgresql")
def test_the_drill_names_the_major_it_needs_with_a_real_pg_ctl(tmp_path: Path) -> None:
    """PostgreSQL 15's pg_ctl against a fetched copy whose PG_VERSION says 16: the drill fails
    with both majors, before listing the archive or starting a server."""
    fetch = 'sh -c \'mkdir -p "$1" && echo 16 > "$1/PG_VERSION"\' fetch {data_dir}'
    args = drill.parse_args(
        ["--data-dir", str(tmp_path / "pgdata"), "--fetch-command", fetch, "--archive-list-command", "false",
         "--pg-bin", str(PG_BIN), "--timeout", "60"]
    )  # fmt: skip
    with pytest.raises(
        drill.DrillFailed, match="the backup is of PostgreSQL 16 and this image's server is PostgreSQL 15"
    ):
        drill.drill(args)
