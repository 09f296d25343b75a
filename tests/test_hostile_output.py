"""Hostile surroundings for the output tree (issue 25): a tampered manifest, what a user keeps in
--out, --out as a symlink, interrupted and concurrent gens, --force aimed too high, a read-only
or full disk, and `init` next to symlinks. Each ends in the old tree or the new one, nothing
read, printed or deleted outside --out, and a message naming the path, never a traceback."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from obskit.cli import main
from obskit.output import writer
from tests.conftest import MINIMAL

OBSKIT = shutil.which("obskit", path=str(Path(sys.executable).parent))
SECRET = "TOKEN=hunter2-do-not-print"


def gen(spec: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    args = ["gen", "--env", "prod", "--spec", str(spec), "--out", str(out), *extra]
    return CliRunner().invoke(main, args, env=env)


def assert_clean_failure(result: Result, code: int, *names: str) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for name in names:
        assert name in result.output


def listing(root: Path) -> dict[str, tuple[str, bytes | str | None, int]]:
    """Every entry under root, symlinks and folders included: kind, content or link, mode."""
    entries: dict[str, tuple[str, bytes | str | None, int]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.lstat()
            relative = path.relative_to(root).as_posix()
            mode = stat.S_IMODE(info.st_mode)
            if path.is_symlink():
                entries[relative] = ("link", os.readlink(path), 0)
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = ("dir", None, mode)
            elif stat.S_ISREG(info.st_mode):
                entries[relative] = ("file", path.read_bytes(), mode)
            else:
                entries[relative] = ("special", None, mode)
    return entries


def siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir())


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec" / "obskit.yaml"
    path.parent.mkdir()
    path.write_text(MINIMAL)
    return path


@pytest.fixture
def out(tmp_path: Path, spec: Path) -> Path:
    """A tree obskit generated, in a folder of its own."""
    path = tmp_path / "gitops" / "prod"
    result = gen(spec, path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n")
    return path


def changed_spec(spec: Path) -> None:
    spec.write_text(MINIMAL.replace("port: http-metrics", "port: metrics"))


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """The folder read-only even for root (chattr +i), or the test skipped."""
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], check=False).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


# --- the manifest is confined to --out -------------------------------------------------------


def tamper(out: Path, secret: Path) -> None:
    """Manifest lines naming files outside --out, directly and through symlinks at two levels."""
    (out / "leak").symlink_to(secret)
    (out / "escape").symlink_to(secret.parent)
    lines = [str(secret), "../../secret.txt", "leak", "escape/secret.txt", "/proc/self/environ"]
    with (out / writer.MANIFEST).open("a") as manifest:
        manifest.write("".join(f"{line}\n" for line in lines))


def test_check_diff_never_prints_a_file_outside_out(spec: Path, out: Path, secret: Path) -> None:
    tamper(out, secret)
    result = gen(spec, out, "--check", "--diff", env={"OBSKIT_PROBE": SECRET})
    assert_clean_failure(result, 1, f"changed: {writer.MANIFEST}")
    assert "hunter2" not in result.output
    assert "removed:" not in result.output


def test_a_manifest_symlink_is_not_followed(spec: Path, out: Path, secret: Path) -> None:
    (out / writer.MANIFEST).unlink()
    (out / writer.MANIFEST).symlink_to(secret)
    result = gen(spec, out, "--check", "--diff")
    assert "hunter2" not in result.output
    assert_clean_failure(gen(spec, out), 2, f"{out} is not empty and was not written by obskit")
    assert secret.read_text() == SECRET + "\n"


@pytest.mark.parametrize("content", [bytes(range(256)), "caf\xe9\n".encode("latin-1")])
def test_a_binary_or_non_utf8_manifest_is_a_clear_error(spec: Path, out: Path, content: bytes) -> None:
    (out / writer.MANIFEST).write_bytes(content)
    before = listing(out)
    for extra in [(), ("--check",), ("--check", "--diff")]:
        assert_clean_failure(gen(spec, out, *extra), 2, f"{out / writer.MANIFEST}: not a text file")
    assert listing(out) == before
