"""Putting a generated tree on disk: built beside the target, then swapped in atomically.

The tree carries a manifest of the files obskit wrote, so a later run knows which files
are its own: those no longer generated disappear, anything else in the directory stays.
A directory that is not empty and has no manifest is refused rather than replaced.
"""

from __future__ import annotations

import ctypes
import difflib
import errno
import os
import secrets
import shutil
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping
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


def owned_files(out: Path) -> list[str]:
    """The files an earlier run wrote, from its manifest ([] when there is none)."""
    try:
        text = (out / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    owned = [line for line in text.splitlines() if line and not line.startswith("#")]
    return [path for path in owned if ".." not in PurePosixPath(path).parts] + [MANIFEST]


def _compare(out: Path, path: str, data: bytes, drift: Drift, patch: bool = False) -> None:
    target = out / path
    if not target.is_file():
        drift.added.append(path)
        old = b""
    elif (old := target.read_bytes()) != data:
        drift.changed.append(path)
    else:
        return
    if patch:
        drift.patches[path] = _patch(path, old, data, is_new=not target.is_file())


def _patch(path: str, old: bytes, new: bytes, is_new: bool = False, is_gone: bool = False) -> str:
    lines = difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(keepends=True),
        new.decode("utf-8", "replace").splitlines(keepends=True),
        "/dev/null" if is_new else f"a/{path}",
        "/dev/null" if is_gone else f"b/{path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _finish(out: Path, drift: Drift, generated: set[str]) -> Drift:
    drift.added.sort()
    drift.changed.sort()
    drift.removed = sorted(path for path in owned_files(out) if path not in generated and (out / path).exists())
    drift.files = len(generated)
    return drift


def diff(out: Path, files: Files, patches: bool = False) -> Drift:
    """How the tree on disk differs from `files` (which include the manifest), read one by one;
    with `patches`, a unified diff per added, changed and removed file too."""
    drift = Drift()
    generated = set()
    for path, content in _pairs(files):
        generated.add(path)
        _compare(out, path, content.encode("utf-8"), drift, patches)
    drift = _finish(out, drift, generated)
    if patches:
        drift.patches.update(
            (path, _patch(path, (out / path).read_bytes(), b"", is_gone=True)) for path in drift.removed
        )
        drift.patches = dict(sorted(drift.patches.items()))
    return drift


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a directory")
    if not force and out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise OutputError(
            f"{out} is not empty and was not written by obskit (no {MANIFEST}); "
            "refusing to replace it: choose another --out or empty it, or, if obskit wrote it and "
            f"{MANIFEST} was deleted, adopt it with --force"
        )


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


def _write_files(root: Path, out: Path, files: Files) -> tuple[Drift, set[str]]:
    """Each file into root as it comes, compared on the way with its copy in out. A thread
    writes batches of files while the next are produced: creating files is the kernel's work,
    done without holding the interpreter."""
    drift = Drift()
    generated: set[str] = set()
    folders: set[str] = set()
    base = os.fspath(root)
    earlier = out.is_dir()
    batch: list[tuple[str, bytes]] = []
    pending: deque[Future[None]] = deque()
    with ThreadPoolExecutor(max_workers=1) as writer:
        for path, content in _pairs(files):
            generated.add(path)
            data = content.encode("utf-8")
            if earlier:
                _compare(out, path, data, drift)
            else:
                drift.added.append(path)
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
    return _finish(out, drift, generated), generated


def _carry_foreign_files(out: Path, staging: Path, tree: Collection[str]) -> None:
    """Copy files the user keeps in the directory (not ours, not generated) into the new tree."""
    owned = set(owned_files(out))
    for source in sorted(out.rglob("*")):
        relative = source.relative_to(out).as_posix()
        if source.is_file() and relative not in owned and relative not in tree:
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _sibling(out: Path, role: str) -> Path:
    return out.parent / f".{out.name}.obskit-{role}-{secrets.token_hex(6)}"


def write(out: Path, files: Files, force: bool = False) -> Drift:
    """Replace `out` atomically with `files` (which include the manifest), written as they
    come, and say how the new tree differs from the old. If producing or writing a file
    fails, the old tree stays as it was. `force` adopts a directory without a manifest: the
    files obskit generates are replaced, every other file is kept."""
    out = out.absolute()
    _check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling(out, "new")
    staging.mkdir()
    try:
        drift, generated = _write_files(staging, out, files)
        if not out.exists():
            staging.rename(out)
            return drift
        _carry_foreign_files(out, staging, generated)
        staging.chmod(out.stat().st_mode & 0o7777)
        if not _exchange(staging, out):
            # No atomic exchange on this filesystem: two renames, undone if the second fails.
            previous = _sibling(out, "old")
            out.rename(previous)
            try:
                staging.rename(out)
            except OSError:
                previous.rename(out)
                raise
            staging = previous
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return drift
