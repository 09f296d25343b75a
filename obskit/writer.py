"""Putting a generated tree on disk: built beside the target, then swapped in atomically.

The tree carries a manifest of the files obskit wrote, so a later run knows which files
are its own: those no longer generated disappear, anything else in the directory stays.
A directory that is not empty and has no manifest is refused rather than replaced.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
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

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def lines(self) -> list[str]:
        return (
            [f"added:   {path}" for path in self.added]
            + [f"changed: {path}" for path in self.changed]
            + [f"removed: {path}" for path in self.removed]
        )


def with_manifest(tree: dict[str, str]) -> dict[str, str]:
    for path in tree:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or path == MANIFEST:
            raise ValueError(f"generated path {path!r} would leave the output directory")
    listing = "".join(f"{path}\n" for path in sorted(tree))
    return {**tree, MANIFEST: _MANIFEST_HEADER + listing}


def owned_files(out: Path) -> list[str]:
    """The files an earlier run wrote, from its manifest ([] when there is none)."""
    try:
        text = (out / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    owned = [line for line in text.splitlines() if line and not line.startswith("#")]
    return [path for path in owned if ".." not in PurePosixPath(path).parts] + [MANIFEST]


def diff(out: Path, tree: dict[str, str]) -> Drift:
    """How the tree on disk differs from `tree` (which includes the manifest)."""
    drift = Drift()
    for path, content in tree.items():
        target = out / path
        if not target.is_file():
            drift.added.append(path)
        elif target.read_bytes() != content.encode("utf-8"):
            drift.changed.append(path)
    drift.removed = sorted(path for path in owned_files(out) if path not in tree and (out / path).exists())
    return drift


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise OutputError(
            f"{out} is not empty and was not written by obskit (no {MANIFEST}); "
            "refusing to replace it: choose another --out or empty it"
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


def _write_files(root: Path, tree: dict[str, str]) -> None:
    for path, content in tree.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8"))


def _carry_foreign_files(out: Path, staging: Path, tree: dict[str, str]) -> None:
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


def write(out: Path, tree: dict[str, str]) -> None:
    """Replace `out` with `tree` (which includes the manifest) atomically."""
    out = out.absolute()
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling(out, "new")
    staging.mkdir()
    try:
        _write_files(staging, tree)
        if not out.exists():
            staging.rename(out)
            return
        _carry_foreign_files(out, staging, tree)
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
