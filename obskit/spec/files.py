"""Finding a spec's files, reading each, and merging them into one set of named sections.

Names (services, tiers, environments, default fields) are keys of maps, so a name
defined twice, in one file or across files, is a problem, never a silent override.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obskit.shown import kind, shown
from obskit.spec import schema
from obskit.spec.problems import FieldPath, Problem
from obskit.spec.yaml_lines import Located, load_yaml_file

SECTIONS = ("defaults", "tiers", "teams", "environments", "services")
SPEC_SUFFIXES = (".yaml", ".yml")
_ENTRY_KIND = {
    "defaults": "default field",
    "tiers": "tier",
    "teams": "team",
    "environments": "environment",
    "services": "service",
}


@dataclass(frozen=True)
class Entry:
    """One named entry of a section, and the file it was defined in."""

    value: Any
    source: Located
    path: FieldPath  # its path inside that file, e.g. ("services", "checkout")

    def where(self, relative: FieldPath = ()) -> tuple[str, int]:
        return self.source.file, self.source.line_of(self.path + relative)


@dataclass
class MergedSpec:
    files: list[str] = field(default_factory=list)
    sections: dict[str, dict[str, Entry]] = field(default_factory=lambda: {name: {} for name in SECTIONS})
    problems: list[Problem] = field(default_factory=list)
    alert_catalogs: list[Path] = field(default_factory=list)

    @property
    def first_file(self) -> str:
        return self.files[0] if self.files else "(no spec files)"


def find_spec_files(path: Path) -> tuple[list[Path], list[Problem]]:
    """The spec files of PATH (a file, or a folder's *.yaml and *.yml files), and a problem
    for each one that cannot be read: a dangling or looping symlink (an uninitialised git
    submodule leaves them), a folder or a special file named like a spec file."""
    kind = _kind(path)
    if kind == "directory":
        files, problems = _folder_files(path, SPEC_SUFFIXES)
        if not files and not problems:
            problems.append(Problem(str(path), 0, (), "directory holds no *.yaml or *.yml spec files"))
        return files, problems
    if kind == "file":
        return [path], []
    if kind == "missing":
        return [], [Problem(str(path), 0, (), "no such spec file or directory (pass --spec PATH)")]
    return [], [Problem(str(path), 0, (), kind)]


def _folder_files(folder: Path, suffixes: tuple[str, ...]) -> tuple[list[Path], list[Problem]]:
    try:
        entries = sorted(entry for entry in folder.iterdir() if entry.suffix in suffixes)
    except OSError as err:
        return [], [Problem(str(folder), 0, (), f"cannot list the folder: {err.strerror or err}")]
    files: list[Path] = []
    problems: list[Problem] = []
    for entry in entries:
        kind = _kind(entry)
        if kind == "file":
            files.append(entry)
        elif kind == "missing":  # removed since the listing
            continue
        elif kind == "directory":
            problems.append(Problem(str(entry), 0, (), "a folder named like a spec file; subfolders are not read"))
        else:
            problems.append(Problem(str(entry), 0, (), kind))
    return files, problems


def _kind(path: Path) -> str:
    """ "file", "directory", "missing", or why the path is none of these, in words (never
    opened: opening a FIFO would wait for a writer)."""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        return _unreachable(path, err)
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    return f"{_SPECIAL.get(stat.S_IFMT(mode), 'a special file')}, not a regular file"


_SPECIAL = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _unreachable(path: Path, err: OSError) -> str:
    if not path.is_symlink():
        return "missing" if err.errno == errno.ENOENT else f"cannot be read ({err.strerror or err})"
    if err.errno == errno.ELOOP:
        return "a symlink that loops (its links never reach a file)"
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        return (
            f"a symlink to {os.readlink(path)}, which does not exist "
            "(an uninitialised git submodule? `git submodule update --init`)"
        )
    return f"a symlink that cannot be followed ({err.strerror or err})"


def _file_problems(located: Located, file_schema: dict[str, Any]) -> list[Problem]:
    data = located.data
    if not isinstance(data, dict):
        return [Problem(located.file, 1, (), f"a spec file must be a mapping, got {kind(data)}")]
    problems = [
        Problem(located.file, located.line_of(path), path, message)
        for path, message in schema.validate(data, file_schema, partial=True)
    ]
    if "apiVersion" not in data:
        problems.append(
            Problem(
                located.file,
                1,
                ("apiVersion",),
                f"required field is missing (every file needs apiVersion: {schema.API_VERSION})",
            )
        )
    return problems


def read_spec(path: Path, file_schema: dict[str, Any]) -> MergedSpec:
    """Read and merge every file, checked against `file_schema` (schema.Shape.file); problems are
    collected, not raised."""
    merged = MergedSpec()
    files, problems = find_spec_files(path)
    merged.problems.extend(problems)
    for file in files:
        merged.files.append(str(file))
        located = load_yaml_file(file)
        if isinstance(located, Problem):
            merged.problems.append(located)
            continue
        merged.problems.extend(_file_problems(located, file_schema))
        if isinstance(located.data, dict):
            _merge_file(merged, located)
    return merged


def _catalog_files(merged: MergedSpec, located: Located) -> None:
    entries = located.data.get("alert_catalogs")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, str):
            continue
        path = Path(located.file).parent / entry
        kind = _kind(path)
        files, problems = _folder_files(path, (".yaml",)) if kind == "directory" else ([], [])
        files = [path] if kind == "file" else files
        merged.problems.extend(problems)
        if not files and not problems:
            # a dangling link or a FIFO says what it is
            why = "no such catalog file or directory of *.yaml files" if kind in ("missing", "directory") else kind
            merged.problems.append(
                Problem(
                    located.file,
                    located.line_of(("alert_catalogs", index)),
                    ("alert_catalogs", index),
                    f"{shown(entry)}: {why} (paths are relative to the folder of {located.file})",
                )
            )
        merged.alert_catalogs.extend(files)


def _merge_file(merged: MergedSpec, located: Located) -> None:
    _catalog_files(merged, located)
    for section in SECTIONS:
        content = located.data.get(section)
        if not isinstance(content, dict):
            continue
        for name, value in content.items():
            path = (section, name)
            earlier = merged.sections[section].get(name)
            if earlier is not None:
                file, line = earlier.where()
                what = _ENTRY_KIND[section]
                merged.problems.append(
                    Problem(
                        located.file,
                        located.line_of(path),
                        path,
                        f"{what} {shown(name)} is defined twice; first at {file}:{line}",
                    )
                )
                continue
            merged.sections[section][name] = Entry(value, located, path)
