"""Hostile spec files and folders: one clear problem naming the file (and line), exit 2,
never a traceback, through `validate`, `gen` and `plan` alike (issue 25)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from obskit.cli import main
from tests.conftest import MINIMAL

COMMANDS = ("validate", "gen", "plan")


def obskit(command: str, spec: Path, out: Path) -> Result:
    args = [command, "--spec", str(spec)]
    if command in ("gen", "plan"):
        args += ["--env", "prod"]
    if command == "gen":
        args += ["--out", str(out)]
    return CliRunner().invoke(main, args)


def assert_refused(result: Result, *fragments: str) -> str:
    """Exit 2, no traceback, and each fragment (the path, what is wrong) in the message."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    return result.output


def spec_file(tmp_path: Path, content: str | bytes, name: str = "obskit.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def spec_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "a.yaml").write_text(MINIMAL)
    return folder


# --- folders and paths -------------------------------------------------------------------


def dangling_link(tmp_path: Path) -> tuple[Path, str, str]:
    folder = spec_folder(tmp_path)
    (folder / "team.yaml").symlink_to("../submodule/team.yaml")
    return folder, str(folder / "team.yaml"), "a symlink to ../submodule/team.yaml, which does not exist"


def looping_link(tmp_path: Path) -> tuple[Path, str, str]:
    folder = spec_folder(tmp_path)
    (folder / "loop.yml").symlink_to("other.yml")
    (folder / "other.yml").symlink_to("loop.yml")
    return folder, str(folder / "loop.yml"), "a symlink that loops"


def folder_entry(tmp_path: Path) -> tuple[Path, str, str]:
    folder = spec_folder(tmp_path)
    (folder / "more.yaml").mkdir()
    return folder, str(folder / "more.yaml"), "a folder named like a spec file"


def fifo_entry(tmp_path: Path) -> tuple[Path, str, str]:
    folder = spec_folder(tmp_path)
    os.mkfifo(folder / "pipe.yaml")
    return folder, str(folder / "pipe.yaml"), "a named pipe (FIFO), not a regular file"


def fifo_spec(tmp_path: Path) -> tuple[Path, str, str]:
    os.mkfifo(tmp_path / "obskit.yaml")
    return tmp_path / "obskit.yaml", str(tmp_path / "obskit.yaml"), "a named pipe (FIFO), not a regular file"


def device_spec(tmp_path: Path) -> tuple[Path, str, str]:
    return Path("/dev/null"), "/dev/null", "a character device, not a regular file"


def dangling_spec(tmp_path: Path) -> tuple[Path, str, str]:
    (tmp_path / "obskit.yaml").symlink_to("specs/obskit.yaml")
    return tmp_path / "obskit.yaml", str(tmp_path / "obskit.yaml"), "a symlink to specs/obskit.yaml, which does not"


LAYOUTS = [dangling_link, looping_link, folder_entry, fifo_entry, fifo_spec, device_spec, dangling_spec]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.__name__)
def test_a_path_that_is_not_a_spec_file_is_named(
    tmp_path: Path, layout: Callable[[Path], tuple[Path, str, str]], command: str
) -> None:
    spec, named, message = layout(tmp_path)
    started = time.monotonic()
    assert_refused(obskit(command, spec, tmp_path / "out"), f"{named}: (top level): {message}")
    assert time.monotonic() - started < 30  # a FIFO is never opened, so nothing waits for a writer
    assert not (tmp_path / "out").exists()


def test_gen_keeps_the_services_of_a_file_behind_a_dangling_link(tmp_path: Path) -> None:
    """An uninitialised submodule used to drop its services silently: gen deleted their files."""
    folder = spec_folder(tmp_path)
    other = MINIMAL.split("services:")[1].replace("checkout", "payments").replace("shop", "pay")
    (tmp_path / "team.yaml").write_text("apiVersion: obskit/v1\nservices:" + other)
    (folder / "team.yaml").symlink_to(tmp_path / "team.yaml")
    out = tmp_path / "out"
    assert obskit("gen", folder, out).exit_code == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    assert any("payments" in str(p) for p in before)
    (tmp_path / "team.yaml").unlink()
    assert_refused(obskit("gen", folder, out), str(folder / "team.yaml"), "does not exist")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
