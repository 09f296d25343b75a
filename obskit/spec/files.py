"""Finding a spec's files, reading each, and merging them into one set of named sections.

Names (services, tiers, environments, default fields) are keys of maps, so a name
defined twice, in one file or across files, is a problem, never a silent override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def find_spec_files(path: Path) -> list[Path] | Problem:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
        if not files:
            return Problem(str(path), 0, (), "directory holds no *.yaml or *.yml spec files")
        return files
    if path.is_file():
        return [path]
    return Problem(str(path), 0, (), "no such spec file or directory (pass --spec PATH)")


def _file_problems(located: Located) -> list[Problem]:
    data = located.data
    if not isinstance(data, dict):
        return [Problem(located.file, 1, (), f"a spec file must be a mapping, got {type(data).__name__}")]
    problems = [
        Problem(located.file, located.line_of(path), path, message)
        for path, message in schema.validate(data, schema.FILE, partial=True)
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


def read_spec(path: Path) -> MergedSpec:
    """Read and merge every file; problems are collected, not raised."""
    merged = MergedSpec()
    files = find_spec_files(path)
    if isinstance(files, Problem):
        merged.problems.append(files)
        return merged
    for file in files:
        merged.files.append(str(file))
        located = load_yaml_file(file)
        if isinstance(located, Problem):
            merged.problems.append(located)
            continue
        merged.problems.extend(_file_problems(located))
        if isinstance(located.data, dict):
            _merge_file(merged, located)
    return merged


def _catalog_files(merged: MergedSpec, located: Located) -> None:
    entries = located.data.get("alert_catalogs")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, str):
            continue
        path = Path(located.file).parent / entry
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path] if path.is_file() else []
        if not files:
            merged.problems.append(
                Problem(
                    located.file,
                    located.line_of(("alert_catalogs", index)),
                    ("alert_catalogs", index),
                    f"{entry!r}: no such catalog file or directory "
                    f"of *.yaml files (paths are relative to the folder of {located.file})",
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
                        f"{what} {name!r} is defined twice; first at {file}:{line}",
                    )
                )
                continue
            merged.sections[section][name] = Entry(value, located, path)
