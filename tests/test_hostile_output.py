"""Hostile surroundings for the output tree (issue 25): a tampered manifest, what a user keeps in
--out, --out as a symlink, interrupted and concurrent gens, --force aimed too high, a read-only
or full disk, and `init` next to symlinks. Each ends in the old tree or the new one, nothing
read, printed or deleted outside --out, and a message naming the path, never a traceback."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
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


# --- what the user keeps in --out stays as it was ----------------------------------------------


def test_gen_never_touches_a_file_outside_out_named_by_the_manifest(spec: Path, out: Path, secret: Path) -> None:
    tamper(out, secret)
    result = gen(spec, out)
    assert result.exit_code == 0, result.output
    assert "0 removed" in result.output
    assert secret.read_text() == SECRET + "\n"
    assert os.readlink(out / "leak") == str(secret) and os.readlink(out / "escape") == str(secret.parent)
    assert "hunter2" not in (out / writer.MANIFEST).read_text()


def test_regeneration_keeps_symlinks_empty_folders_and_modes(spec: Path, out: Path, secret: Path) -> None:
    (out / "rules-link").symlink_to("prometheus")
    (out / "outside").symlink_to(secret)
    (out / "dangling").symlink_to("nowhere")
    (out / "drafts" / "empty").mkdir(parents=True)
    (out / "drafts").chmod(0o750)
    script = out / "deploy.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o751)
    (out / "prometheus" / "mine.txt").write_text("mine\n")
    (out / "prometheus" / "mine.txt").chmod(0o600)
    (out / "read-only" / "inside").mkdir(parents=True)
    (out / "read-only" / "inside" / "kept.txt").write_text("kept\n")
    (out / "read-only").chmod(0o555)
    kept = {path: entry for path, entry in listing(out).items() if not path.startswith("prometheus/rul")}
    kept = {path: entry for path, entry in kept.items() if entry[0] != "file" or "mine" in path or "deploy" in path}
    changed_spec(spec)
    result = gen(spec, out)
    assert result.exit_code == 0, result.output
    after = listing(out)
    assert {path: after.get(path) for path in kept} == kept
    assert after["outside"] == ("link", str(secret), 0)


def git(out: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@e"
    done = subprocess.run(["git", "-C", str(out), *args], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def test_regeneration_keeps_a_git_repository_working(spec: Path, out: Path) -> None:
    git(out, "init", "-q", "-b", "main")
    git(out, "add", "-A")
    git(out, "commit", "-qm", "first")
    git(out, "tag", "v1")
    git(out, "gc", "-q", "--aggressive")
    assert not list((out / ".git" / "refs" / "heads").iterdir())  # packed: refs/heads is empty
    head = git(out, "rev-parse", "HEAD")
    with (out / writer.MANIFEST).open("a") as manifest:
        manifest.write(".git/config\n.git/HEAD\n")  # a tampered manifest cannot claim the repository's files
    changed_spec(spec)
    result = gen(spec, out)
    assert result.exit_code == 0, result.output
    git(out, "fsck", "--strict")
    assert git(out, "rev-parse", "HEAD") == head
    assert git(out, "status", "--porcelain").strip()  # the regenerated files show as changes
    git(out, "commit", "-qam", "second")


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_special_file_is_refused_before_anything_changes(spec: Path, out: Path, kind: str) -> None:
    special = out / "prometheus" / f"a-{kind}"
    if kind == "fifo":
        os.mkfifo(special)
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(special))
        server.close()
    before = listing(out)
    changed_spec(spec)
    assert_clean_failure(gen(spec, out), 2, str(special), "cannot be carried")
    assert listing(out) == before
    assert siblings(out) == ["prod"]


def test_a_folder_where_obskit_writes_a_file_is_refused(spec: Path, out: Path) -> None:
    (out / "kustomization.yaml").unlink()
    (out / "kustomization.yaml").mkdir()
    (out / "kustomization.yaml" / "mine.txt").write_text("mine\n")
    before = listing(out)
    assert_clean_failure(gen(spec, out), 2, str(out / "kustomization.yaml"), "in the way")
    assert listing(out) == before
    assert siblings(out) == ["prod"]


# --- --out as a symlink, missing, a file ------------------------------------------------------


def test_out_as_a_symlink_updates_the_folder_it_points_to(tmp_path: Path, spec: Path) -> None:
    real = tmp_path / "checkout" / "prod"
    real.mkdir(parents=True)
    link = tmp_path / "prod-link"
    link.symlink_to(real)
    for _ in range(2):
        result = gen(spec, link)
        assert result.exit_code == 0, result.output
        assert link.is_symlink() and os.readlink(link) == str(real)
        assert (real / writer.MANIFEST).is_file()
    assert gen(spec, link, "--check").exit_code == 0
    changed_spec(spec)
    assert gen(spec, link, "--check").exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout", "prod-link", "spec"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["prod"]


@pytest.mark.parametrize("extra", [(), ("--check",)])
def test_a_dangling_out_symlink_is_refused(tmp_path: Path, spec: Path, extra: tuple[str, ...]) -> None:
    link = tmp_path / "prod"
    link.symlink_to(tmp_path / "gone")
    assert_clean_failure(gen(spec, link, *extra), 2, str(link), "does not exist")
    assert link.is_symlink() and not (tmp_path / "gone").exists()


@pytest.mark.parametrize("extra", [(), ("--check",)])
def test_out_that_is_a_file_or_under_a_file_is_refused(tmp_path: Path, spec: Path, extra: tuple[str, ...]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert_clean_failure(gen(spec, a_file, *extra), 2, str(a_file))
    assert_clean_failure(gen(spec, a_file / "prod", *extra), 2, f"{a_file} is not a directory")
    assert a_file.read_text() == "x"


def test_check_of_a_missing_out_lists_every_file_as_added(tmp_path: Path, spec: Path) -> None:
    result = gen(spec, tmp_path / "missing", "--check")
    assert result.exit_code == 1 and f"added:   {writer.MANIFEST}" in result.output
    assert not (tmp_path / "missing").exists()


# --- interrupted and concurrent gens ----------------------------------------------------------


def test_stale_staging_folders_are_removed(spec: Path, out: Path) -> None:
    for role in ["new", "old"]:
        stale = out.parent / f".prod.obskit-{role}-0123456789ab"
        (stale / "prometheus").mkdir(parents=True)
        (stale / "prometheus" / "half.yaml").write_text("kind: PrometheusRule\n")
    (out.parent / ".prod.obskit-new-notes").mkdir()  # not a name obskit gives: not ours
    assert gen(spec, out).exit_code == 0
    assert siblings(out) == [".prod.obskit-new-notes", "prod"]


def test_an_old_tree_left_between_the_two_renames_is_restored(spec: Path, out: Path) -> None:
    (out / "mine.txt").write_text("mine\n")
    old = out.parent / ".prod.obskit-old-0123456789ab"
    out.rename(old)
    (out.parent / ".prod.obskit-new-ba9876543210").mkdir()
    result = gen(spec, out)
    assert result.exit_code == 0, result.output
    assert (out / "mine.txt").read_text() == "mine\n"
    assert siblings(out) == ["prod"]


def test_gens_of_the_same_out_wait_for_each_other(spec: Path, out: Path) -> None:
    assert OBSKIT
    lock_path = out.parent / ".prod.obskit-lock"
    held = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)
    changed_spec(spec)
    command = [OBSKIT, "gen", "--env", "prod", "--spec", str(spec), "--out", str(out)]
    waiting = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=3)
        assert gen(spec, out, "--check").exit_code == 1  # not written while the lock is held
    finally:
        os.close(held)
    _, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, stderr
    assert gen(spec, out, "--check").exit_code == 0
    assert siblings(out) == ["prod"]


def test_two_gens_at_once_end_in_one_whole_tree(tmp_path: Path, spec: Path, out: Path) -> None:
    assert OBSKIT
    (out / "mine.txt").write_text("mine\n")
    changed_spec(spec)
    command = [OBSKIT, "gen", "--env", "prod", "--spec", str(spec), "--out", str(out)]
    running = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    for process in running:
        assert process.wait(timeout=120) == 0
    assert gen(spec, out, "--check").exit_code == 0
    assert (out / "mine.txt").read_text() == "mine\n"
    assert siblings(out) == ["prod"]


# --- --force aimed too high -------------------------------------------------------------------


def test_force_refuses_the_spec_folder_and_its_ancestors(tmp_path: Path, spec: Path) -> None:
    for target in [spec.parent, tmp_path]:
        before = listing(tmp_path)
        assert_clean_failure(gen(spec, target, "--force"), 2, str(target), "--force")
        assert listing(tmp_path) == before
    spec_folder = tmp_path / "specs"
    spec_folder.mkdir()
    (spec_folder / "obskit.yaml").write_text(MINIMAL)
    assert_clean_failure(gen(spec_folder, spec_folder, "--force"), 2, str(spec_folder), "--force")
    assert sorted(p.name for p in spec_folder.iterdir()) == ["obskit.yaml"]


def test_force_refuses_the_home_folder(tmp_path: Path, spec: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("mine\n")
    assert_clean_failure(gen(spec, home, "--force", env={"HOME": str(home)}), 2, str(home), "home")
    assert sorted(p.name for p in home.iterdir()) == [".bashrc"]


def test_force_refuses_the_root_folder(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("gen went on to replace /")

    # Should the refusal ever break, the test fails before anything happens to /.
    monkeypatch.setattr(writer, "_locked", never)
    monkeypatch.setattr(writer, "_replace", never)
    assert_clean_failure(gen(spec, Path("/"), "--force"), 2, "--force")


# --- read-only and full disks -----------------------------------------------------------------


def test_a_read_only_out_is_a_message_and_the_old_tree_stays(spec: Path, out: Path) -> None:
    before = listing(out)
    changed_spec(spec)
    with immutable(out):
        result = gen(spec, out)
    assert_clean_failure(result, 2, str(out))
    assert listing(out) == before
    assert siblings(out) == ["prod"]


def test_a_read_only_parent_is_a_message_and_the_old_tree_stays(spec: Path, out: Path) -> None:
    before = listing(out)
    changed_spec(spec)
    with immutable(out.parent):
        result = gen(spec, out)
        assert_clean_failure(result, 2, str(out.parent))
    assert listing(out) == before
    assert siblings(out) == ["prod"]


def test_a_full_disk_is_a_message_and_the_old_tree_stays(
    spec: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = listing(out)

    def full(target: str, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writer, "_write_file", full)
    changed_spec(spec)
    assert_clean_failure(gen(spec, out), 2, str(out), "No space left on device")
    assert listing(out) == before
    assert siblings(out) == ["prod"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_really_full_disk_is_a_message_and_the_old_tree_stays(spec: Path, tiny_disk: Path) -> None:
    out = tiny_disk / "prod"
    assert gen(spec, out).exit_code == 0
    before = listing(out)
    with contextlib.suppress(OSError), (tiny_disk / "filler").open("wb") as filler:
        while True:
            filler.write(b"x" * 4096)
            filler.flush()
    (tiny_disk / "filler").write_bytes(b"x" * (os.path.getsize(tiny_disk / "filler") - 16 * 1024))
    changed_spec(spec)
    assert_clean_failure(gen(spec, out), 2, str(out), "No space left on device")
    assert listing(out) == before
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "prod"]


# --- obskit init ------------------------------------------------------------------------------


def test_init_never_writes_through_a_symlink(tmp_path: Path, secret: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "obskit.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert_clean_failure(result, 1, str(folder / "obskit.yaml"))
    assert not (tmp_path / "elsewhere.yaml").exists()
    (folder / "obskit.yaml").unlink()
    (folder / "obskit.yaml").symlink_to(secret)
    assert_clean_failure(CliRunner().invoke(main, ["init", str(folder)]), 1, str(folder / "obskit.yaml"))
    assert secret.read_text() == SECRET + "\n"


def test_init_under_a_file_or_in_a_read_only_folder_is_a_message(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert_clean_failure(CliRunner().invoke(main, ["init", str(a_file / "sub")]), 2, str(a_file))
    folder = tmp_path / "locked"
    folder.mkdir()
    with immutable(folder):
        assert_clean_failure(CliRunner().invoke(main, ["init", str(folder)]), 2, str(folder / "obskit.yaml"))
    assert not (folder / "obskit.yaml").exists()


# --- kill -9 at any moment --------------------------------------------------------------------


def test_kill_9_at_any_moment_leaves_the_old_tree_or_the_new_and_every_user_file(tmp_path: Path) -> None:
    from benchmarks.synthetic import write_spec

    assert OBSKIT
    specs = [write_spec(tmp_path / "small", 20), write_spec(tmp_path / "large", 30)]
    out = tmp_path / "gitops" / "prod"
    trees = []
    for spec in specs:
        assert gen(spec, tmp_path / "expected" / spec.name).exit_code == 0
        trees.append(listing(tmp_path / "expected" / spec.name))
    assert gen(specs[0], out).exit_code == 0
    (out / "notes").symlink_to("runbooks")
    (out / "drafts").mkdir()
    (out / "deploy.sh").write_text("#!/bin/sh\n")
    (out / "deploy.sh").chmod(0o750)
    mine = {
        path: entry for path, entry in listing(out).items() if path.split("/")[0] in {"notes", "drafts", "deploy.sh"}
    }
    command = [OBSKIT, "gen", "--env", "prod", "--out", str(out), "--spec"]
    started = time.monotonic()
    assert subprocess.run([*command, str(specs[1])], capture_output=True, check=False).returncode == 0
    duration = time.monotonic() - started
    for attempt in range(8):  # from mid-generation to past the swap
        running = subprocess.Popen(
            [*command, str(specs[attempt % 2])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(duration * (0.7 + attempt / 20))
        running.send_signal(signal.SIGKILL)
        running.wait()
        now = listing(out)
        assert {path: now.get(path) for path in mine} == mine
        assert {path: entry for path, entry in now.items() if path not in mine} in trees
    assert gen(specs[0], out).exit_code == 0
    assert siblings(out) == ["prod"]
