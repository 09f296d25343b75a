"""obskit/jobs/obskit_job.py: the command's exit code always wins; pushing is best effort."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from tests.conftest import JOBS, backup_script

JOB = JOBS / "obskit_job.py"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run_job(*command: str, pushgateway: str | None = None, kind: str = "backup") -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(JOB), kind, "--service", "checkout", "--datastore", "orders-db"]
    if pushgateway:
        args += ["--pushgateway", pushgateway]
    return subprocess.run(
        [*args, "--", *command], capture_output=True, text=True, timeout=60, check=False, env={"PATH": "/usr/bin:/bin"}
    )


def test_exit_code_is_the_commands() -> None:
    assert run_job("true").returncode == 0
    assert run_job("false").returncode == 1
    assert run_job("sh", "-c", "exit 3", kind="restore-drill").returncode == 3


def test_a_missing_command_exits_127_with_a_message() -> None:
    result = run_job("/nonexistent/wal-g", "backup-push")
    assert result.returncode == 127
    assert "cannot run /nonexistent/wal-g" in result.stderr


def test_an_unreachable_pushgateway_is_logged_and_does_not_fail_the_backup() -> None:
    result = run_job("true", pushgateway=closed_port_url())
    assert result.returncode == 0
    assert "could not push metrics" in result.stderr


def test_without_a_command_it_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, str(JOB), "backup", "--service", "a", "--datastore", "b"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "give the command to run" in result.stderr


def samples(registry: CollectorRegistry) -> dict[str, float]:
    return {sample.name: sample.value for metric in registry.collect() for sample in metric.samples}


def test_size_of_a_directory_counts_its_files(tmp_path: Path) -> None:
    obskit_job = backup_script("obskit_job")
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 5)
    assert obskit_job.tree_size(tmp_path) == 15


def test_a_successful_backup_pushes_its_outcome_and_the_last_success() -> None:
    registry = backup_script("obskit_job").build_registry("backup", 2.5, True, 1_700_000_000.0, 15)
    assert samples(registry) == {
        "obskit_backup_duration_seconds": 2.5,
        "obskit_backup_last_attempt_success": 1,
        "obskit_backup_last_attempt_timestamp_seconds": 1_700_000_000.0,
        "obskit_backup_last_success_timestamp_seconds": 1_700_000_000.0,
        "obskit_backup_size_bytes": 15,
    }


def test_a_failed_backup_pushes_its_outcome_and_leaves_the_last_success_alone() -> None:
    registry = backup_script("obskit_job").build_registry("backup", 2.5, False, 1_700_000_000.0, None)
    assert samples(registry) == {
        "obskit_backup_duration_seconds": 2.5,
        "obskit_backup_last_attempt_success": 0,
        "obskit_backup_last_attempt_timestamp_seconds": 1_700_000_000.0,
    }


def test_a_successful_drill_pushes_its_duration_as_the_last_successful_one() -> None:
    registry = backup_script("obskit_job").build_registry("restore-drill", 600.0, True, 1_700_000_000.0, None)
    assert samples(registry) == {
        "obskit_restore_drill_duration_seconds": 600.0,
        "obskit_restore_drill_last_attempt_success": 1,
        "obskit_restore_drill_last_attempt_timestamp_seconds": 1_700_000_000.0,
        "obskit_restore_drill_last_success_timestamp_seconds": 1_700_000_000.0,
        "obskit_restore_drill_last_success_duration_seconds": 600.0,
    }


def test_a_fast_failing_drill_does_not_overwrite_the_last_successful_duration() -> None:
    registry = backup_script("obskit_job").build_registry("restore-drill", 3.0, False, 1_700_000_100.0, None)
    assert samples(registry) == {
        "obskit_restore_drill_duration_seconds": 3.0,
        "obskit_restore_drill_last_attempt_success": 0,
        "obskit_restore_drill_last_attempt_timestamp_seconds": 1_700_000_100.0,
    }
