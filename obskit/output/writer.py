"""Putting a generated tree on disk: built beside the target, then swapped in atomically.

The tree carries a manifest of the files obskit wrote, so a later run knows which files
are its own: those no longer generated disappear, anything else in the directory stays.
A directory that is not empty and has no manifest is refused rather than replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import difflib
import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MANIFEST = ".obskit-manifest"
_MANIFEST_HEADER = "# Files written by obskit in this directory; obskit replaces exactly these.\n"


class OutputError(Exception):
    """The output directory cannot be used; the message says why."""


@dataclass
class Drift:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    files: int = 0  # files in the generated tree
    patches: dict[str, str] = field(default_factory=dict)  # path -> unified diff, when asked for

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def lines(self) -> list[str]:
        return (
            [f"added:   {path}" for path in self.added]
            + [f"changed: {path}" for path in self.changed]
            + [f"removed: {path}" for path in self.removed]
        )


Files = Mapping[str, str] | Iterable[tuple[str, str]]


def _checked_path(path: str) -> str:
    if path.startswith("/") or ".." in path.split("/") or path == MANIFEST:
        raise ValueError(f"generated path {path!r} would leave the output directory")
    return path


def manifest(paths: Iterable[str]) -> str:
    return _MANIFEST_HEADER + "".join(f"{path}\n" for path in sorted(paths))


def with_manifest(tree: dict[str, str]) -> dict[str, str]:
    return {**{_checked_path(path): content for path, content in tree.items()}, MANIFEST: manifest(tree)}


def stream_with_manifest(files: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """The files, then the manifest listing them, without holding their contents."""
    paths = []
    for path, content in files:
        paths.append(_checked_path(path))
        yield path, content
    yield MANIFEST, manifest(paths)


def _pairs(files: Files) -> Iterable[tuple[str, str]]:
    return files.items() if isinstance(files, Mapping) else files


class _Inside:
    """Regular files under a real directory, reached without following any symlink below it:
    whatever a manifest line or a planted link says, nothing outside the directory is read."""

    def __init__(self, root: Path) -> None:
        self.root = os.fspath(root)
        self._folders: dict[str, bool] = {}

    def _real_folder(self, folder: str) -> bool:
        if folder not in self._folders:
            parent, _, _ = folder.rpartition("/")
            self._folders[folder] = (not folder or self._real_folder(parent)) and _is_kind(
                os.path.join(self.root, folder), stat.S_ISDIR
            )
        return self._folders[folder]

    def is_file(self, path: str) -> bool:
        folder, _, _ = path.rpartition("/")
        return self._real_folder(folder) and _is_kind(os.path.join(self.root, path), stat.S_ISREG)

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when it is not a regular file inside the directory."""
        if not self.is_file(path):
            return None
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            descriptor = os.open(os.path.join(self.root, path), flags)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOENT, errno.ENOTDIR):
                return None  # replaced since it was looked at
            raise
        with os.fdopen(descriptor, "rb") as opened:
            return opened.read() if stat.S_ISREG(os.fstat(descriptor).st_mode) else None


def _is_kind(path: str, kind: Callable[[int], bool]) -> bool:
    try:
        return kind(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _manifest_path(line: str) -> str | None:
    """A manifest line as a path inside the directory, or None for one that would leave it (or
    name a file of a git repository kept there: obskit writes none)."""
    path = PurePosixPath(line)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] == ".git":
        return None
    return path.as_posix()


def owned_files(out: Path) -> list[str]:
    """The files an earlier run wrote, from its manifest ([] when there is none): regular files
    inside `out`. Lines naming a path outside it (absolute, with `..`, or through a symlink) are
    ignored; a manifest that is not text is an OutputError."""
    inside = _Inside(out)
    data = inside.read(MANIFEST)
    if data is None:
        return []
    text = _text(data)
    if text is None:
        raise OutputError(
            f"{out / MANIFEST}: not a text file (binary or not UTF-8); obskit cannot tell which files it "
            f"wrote: restore it from version control, or delete it and adopt the directory with --force"
        )
    lines = (line for line in text.splitlines() if line and not line.startswith("#"))
    owned = {path for path in map(_manifest_path, lines) if path is not None and path != MANIFEST}
    return [*sorted(path for path in owned if inside.is_file(path)), MANIFEST]


def _text(data: bytes) -> str | None:
    """UTF-8 text without NUL bytes, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text


def _compare(inside: _Inside, path: str, data: bytes, drift: Drift, patch: bool = False) -> None:
    old = inside.read(path)
    if old is None:
        drift.added.append(path)
    elif old != data:
        drift.changed.append(path)
    else:
        return
    if patch:
        drift.patches[path] = _patch(path, old or b"", data, is_new=old is None)


def _patch(path: str, old: bytes, new: bytes, is_new: bool = False, is_gone: bool = False) -> str:
    lines = difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(keepends=True),
        new.decode("utf-8", "replace").splitlines(keepends=True),
        "/dev/null" if is_new else f"a/{path}",
        "/dev/null" if is_gone else f"b/{path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _finish(drift: Drift, generated: set[str], owned: Iterable[str]) -> Drift:
    drift.added.sort()
    drift.changed.sort()
    drift.removed = sorted(path for path in owned if path not in generated)
    drift.files = len(generated)
    return drift


def resolve_out(out: Path) -> Path:
    """The real directory `out` names: through symlinks (the link itself stays a link), checked
    to be a directory or absent with a directory above it."""
    given = out.absolute()
    real = Path(os.path.realpath(given))
    try:
        info = os.stat(real)
    except FileNotFoundError:
        if given.is_symlink():
            raise OutputError(
                f"{given} is a symbolic link to {os.readlink(given)}, which does not exist; "
                "create that directory or choose another --out"
            ) from None
        _check_above(given, real)
        return real
    except NotADirectoryError:
        _check_above(given, real)
        raise OutputError(f"{given}: a folder above it is not a directory") from None
    except OSError as err:
        raise OutputError(f"{given}: {err.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{given} exists and is not a directory")
    return real


def _check_above(given: Path, real: Path) -> None:
    for folder in real.parents:
        if os.path.lexists(folder):
            if not folder.is_dir():
                raise OutputError(f"{given}: {folder} is not a directory")
            return


def diff(out: Path, files: Files, patches: bool = False) -> Drift:
    """How the tree on disk differs from `files` (which include the manifest), read one by one;
    with `patches`, a unified diff per added, changed and removed file too. Only files inside
    `out` are read, whatever its manifest lists."""
    out = resolve_out(out)
    try:
        return _diff(out, files, patches)
    except OSError as err:
        raise OutputError(_disk_problem(out, err, "cannot read the tree")) from None


def _diff(out: Path, files: Files, patches: bool) -> Drift:
    inside = _Inside(out)
    owned = owned_files(out)
    drift = Drift()
    generated = set()
    for path, content in _pairs(files):
        generated.add(path)
        _compare(inside, path, content.encode("utf-8"), drift, patches)
    drift = _finish(drift, generated, owned)
    if patches:
        drift.patches.update(
            (path, _patch(path, inside.read(path) or b"", b"", is_gone=True)) for path in drift.removed
        )
        drift.patches = dict(sorted(drift.patches.items()))
    return drift


def _disk_problem(out: Path, err: OSError, doing: str, after: str = "") -> str:
    where = f" ({err.filename})" if err.filename and err.filename != str(out) else ""
    return f"{out}: {doing}: {err.strerror or err}{where}{after}"


def _check_target(out: Path, force: bool) -> None:
    if not force and out.is_dir() and any(out.iterdir()) and not _Inside(out).is_file(MANIFEST):
        raise OutputError(
            f"{out} is not empty and was not written by obskit (no {MANIFEST}); "
            "refusing to replace it: choose another --out or empty it, or, if obskit wrote it and "
            f"{MANIFEST} was deleted, adopt it with --force"
        )


def _check_adoptable(out: Path, force: bool, protected: Iterable[Path]) -> None:
    """The folders --force must never adopt: /, the home folder, the spec's folder and those above it."""
    reason = "the root folder" if out == Path("/") else None
    if force and reason is None:
        with contextlib.suppress(RuntimeError, KeyError):
            reason = "your home folder" if out == Path(os.path.realpath(Path.home())) else None
        for spec in protected:
            for path in (spec.absolute(), Path(os.path.realpath(spec))):
                if reason is None and (out == path or out in path.parents):
                    reason = f"the folder holding the spec {spec}"
    if reason is not None:
        raise OutputError(f"{out} is {reason}: --force will not adopt it; choose a folder of its own for the tree")


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2); False where unsupported."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


_BATCH_FILES = 64
_BATCHES_AHEAD = 8


def _write_file(target: str, data: bytes) -> None:
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
    finally:
        os.close(descriptor)


def _write_batch(batch: list[tuple[str, bytes]]) -> None:
    for target, data in batch:
        _write_file(target, data)


def _write_files(root: Path, out: Path, files: Files, owned: Iterable[str]) -> tuple[Drift, set[str]]:
    """Each file into root as it comes, compared on the way with its copy in out. A thread
    writes batches of files while the next are produced: creating files is the kernel's work,
    done without holding the interpreter."""
    drift = Drift()
    generated: set[str] = set()
    folders: set[str] = set()
    base = os.fspath(root)
    inside = _Inside(out)
    batch: list[tuple[str, bytes]] = []
    pending: deque[Future[None]] = deque()
    with ThreadPoolExecutor(max_workers=1) as writer:
        for path, content in _pairs(files):
            generated.add(path)
            data = content.encode("utf-8")
            _compare(inside, path, data, drift)
            folder, _, _ = path.rpartition("/")
            if folder not in folders:
                os.makedirs(os.path.join(base, folder), exist_ok=True)
                folders.add(folder)
            batch.append((os.path.join(base, path), data))
            if len(batch) >= _BATCH_FILES:
                pending.append(writer.submit(_write_batch, batch))
                batch = []
                while len(pending) > _BATCHES_AHEAD:
                    pending.popleft().result()
        pending.append(writer.submit(_write_batch, batch))
        for done in pending:
            done.result()
    return _finish(drift, generated, owned), generated


@dataclass
class _Carry:
    """Copies what the user keeps in the old tree (not ours, not generated) into the new one as
    it is: symlinks as links (never their targets), folders empty or not, modes, times and (as
    root) owners. Copies, not moves: until the swap the old tree stays whole."""

    out: Path
    staging: Path
    generated: Collection[str]
    owned: Collection[str]

    def folder(self, relative: str) -> None:
        with os.scandir(self.out / relative if relative else self.out) as entries:
            for entry in sorted(entries, key=lambda entry: entry.name):
                self.entry(f"{relative}/{entry.name}" if relative else entry.name)

    def entry(self, relative: str) -> None:
        source, target = self.out / relative, self.staging / relative
        info = source.lstat()
        kind = stat.S_IFMT(info.st_mode)
        if kind == stat.S_IFREG and (relative in self.generated or relative in self.owned):
            return
        if kind not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
            raise OutputError(
                f"{source} is a special file ({_KINDS.get(kind, 'not a file')}), which cannot be carried into "
                f"the new tree; move it out of {self.out} (nothing was changed)"
            )
        if relative in self.generated or (os.path.lexists(target) and not (kind == stat.S_IFDIR and target.is_dir())):
            raise OutputError(f"{source} is in the way of the files obskit writes there; move it (nothing was changed)")
        if kind == stat.S_IFLNK:
            os.symlink(os.readlink(source), target)
        elif kind == stat.S_IFREG:
            shutil.copy2(source, target, follow_symlinks=False)
        else:
            target.mkdir(exist_ok=True)
            self.folder(relative)
            shutil.copystat(source, target, follow_symlinks=False)
        _same_owner(info, target)


_KINDS = {stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}


def _same_owner(info: os.stat_result, target: Path) -> None:
    """Run as root, keep the owner a file had: the user's own checkout stays theirs."""
    if os.geteuid() == 0 and (info.st_uid, info.st_gid) != (0, 0):
        os.lchown(target, info.st_uid, info.st_gid)


def _sibling(out: Path, role: str) -> Path:
    return out.parent / f".{out.name}.obskit-{role}-{secrets.token_hex(6)}"


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `out` while replacing it: two gens of one tree take turns.
    The lock file is removed on release; a waiter that locked a removed file tries again."""
    path = out.parent / f".{out.name}.obskit-lock"
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            if _same_file(path, os.fstat(descriptor)):
                break
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(descriptor)


def _same_file(path: Path, opened: os.stat_result) -> bool:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    return (info.st_dev, info.st_ino) == (opened.st_dev, opened.st_ino)


def _clear_stale_staging(out: Path) -> None:
    """Remove the staging folders a killed run left beside `out` (called under the lock, so
    none is in use). A run killed between the fallback's two renames left `out` missing and
    its old tree as `-old-`: that tree is put back instead."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.obskit-(new|old)-[0-9a-f]{{12}}")
    stale: dict[str, list[Path]] = {"new": [], "old": []}
    for entry in out.parent.iterdir():
        if (match := pattern.fullmatch(entry.name)) and entry.is_dir() and not entry.is_symlink():
            stale[match.group(1)].append(entry)
    old = sorted(stale["old"], key=lambda entry: entry.stat().st_mtime)
    if old and not os.path.lexists(out):
        old.pop().rename(out)
    for entry in stale["new"] + old:
        _remove_tree(entry)


def write(out: Path, files: Files, force: bool = False, protected: Iterable[Path] = ()) -> Drift:
    """Replace `out` atomically with `files` (which include the manifest), written as they
    come, and say how the new tree differs from the old. If producing or writing a file
    fails, the old tree stays as it was. `force` adopts a directory without a manifest: the
    files obskit generates are replaced, every other file is kept; never `/`, the home folder
    or a folder holding one of the `protected` paths."""
    out = resolve_out(out)
    _check_adoptable(out, force, protected)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with _locked(out):
            _clear_stale_staging(out)
            _check_target(out, force)
            return _replace(out, files, owned_files(out))
    except OSError as err:
        raise OutputError(
            _disk_problem(out, err, "cannot write the tree", "; the previous tree is unchanged")
        ) from None


def _replace(out: Path, files: Files, owned: list[str]) -> Drift:
    staging = _sibling(out, "new")
    staging.mkdir()
    try:
        drift, generated = _write_files(staging, out, files, owned)
        if not os.path.lexists(out):
            staging.rename(out)
            return drift
        _Carry(out, staging, generated, set(owned)).folder("")
        shutil.copystat(out, staging)
        _same_owner(out.stat(), staging)
        if not _exchange(staging, out):
            staging = _rename_twice(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        _remove_tree(staging)  # the old tree, now where the new one was built
    except OSError as err:
        raise OutputError(
            f"{out}: the new tree is in place, but the old one could not be removed from {staging} "
            f"({err.strerror}); remove it by hand"
        ) from None
    return drift


def _remove_tree(path: Path) -> None:
    """rmtree, making a read-only folder (a user's, carried over) writable to empty it."""

    def writable_then_again(function: Callable[[str], object], failed: str, _: object) -> None:
        os.chmod(os.path.dirname(failed), 0o700)
        function(failed)

    shutil.rmtree(path, onerror=writable_then_again)


def _rename_twice(staging: Path, out: Path) -> Path:
    """No atomic exchange on this filesystem: two renames, undone if the second fails; returns
    where the old tree went."""
    previous = _sibling(out, "old")
    out.rename(previous)
    try:
        staging.rename(out)
    except OSError:
        previous.rename(out)
        raise
    return previous
