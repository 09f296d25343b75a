"""backup/obskit_job.py: the command's exit code always wins; pushing is best effort."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

JOB = REPO / "backup" / "obskit_job.py"


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


def test_size_of_a_directory_counts_its_files(tmp_path: Path) -> None:
    sys.path.insert(0, str(JOB.parent))
    try:
        import obskit_job
    finally:
        sys.path.pop(0)
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 5)
    assert obskit_job.tree_size(tmp_path) == 15
    registry = obskit_job.build_registry("backup", 2.5, True, 1_700_000_000.0, 15)
    assert registry.get_sample_value("obskit_backup_size_bytes") == 15
    assert registry.get_sample_value("obskit_backup_last_success_timestamp_seconds") == 1_700_000_000.0
    failed = obskit_job.build_registry("backup", 2.5, False, 1_700_000_000.0, None)
    assert failed.get_sample_value("obskit_backup_last_success_timestamp_seconds") is None
    assert failed.get_sample_value("obskit_backup_duration_seconds") == 2.5
