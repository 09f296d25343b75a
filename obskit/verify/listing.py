"""`obskit test`'s first check: the tree holds every file its manifest lists, each a readable text
file inside the tree that holds what its kind needs, before any other check reads one.

A file the manifest lists outside the tree (an absolute path, `..`, or through a symlink that
leaves it) is named and never opened. What a kind needs is checked on the text (a line such as
`kind: CronJob`) or by parsing the small files that point at others (the kustomization, the
routing tests, a unit test's `rule_files`): parsing every file would cost more than the checks
that follow, which parse what they read and report what does not parse."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from obskit.output import layout
from obskit.output.writer import MANIFEST

MAX_FILE_BYTES = 256 * 1024 * 1024
KUSTOMIZATION = "kustomization.yaml"
# Folders whose files the later checks find by globbing: each such file is read, listed or not.
GLOBBED = (
    (layout.RULE_FILES, f"*{layout.RULE_FILE_SUFFIX}"),
    (layout.TEST_FILES, f"*{layout.TEST_FILE_SUFFIX}"),
    (layout.PROMETHEUS_RULES, "*.yaml"),
)

# The kinds kustomize applies: each such file must be among the kustomization's resources.
RESOURCES = (
    f"{layout.PROMETHEUS_RULES}/*.yaml",
    f"{layout.SERVICE_MONITORS}/*.yaml",
    f"{layout.BACKUP}/*/*.yaml",
    f"{layout.GRAFANA_CONFIGMAPS}/*.yaml",
    layout.ALERTMANAGER_RESOURCE,
    f"{layout.PROBES}/*.yaml",
)
# Another cluster's kustomization (the DR region's), by its folder: its files must be among its resources.
CLUSTERS = {layout.DR_CLUSTER: (f"{layout.DR_CLUSTER}/*.yaml",)}
# What each kind of file must hold: lines that start with these words (as obskit writes them), by path pattern;
# a tuple in place of a line: one of these lines.
NEEDS: tuple[tuple[str, tuple[str | tuple[str, ...], ...], str], ...] = (
    (f"{layout.RULE_FILES}/*{layout.RULE_FILE_SUFFIX}", ("groups:",), "a rule file"),
    (f"{layout.TEST_FILES}/*{layout.TEST_FILE_SUFFIX}", ("rule_files:", "tests:"), "a promtool unit test"),
    (f"{layout.PROMETHEUS_RULES}/*.yaml", ("kind: PrometheusRule",), "a PrometheusRule"),
    (
        f"{layout.SERVICE_MONITORS}/*.yaml",
        (("kind: ServiceMonitor", "kind: PodMonitor"),),
        "a ServiceMonitor or PodMonitor",
    ),
    (f"{layout.VELERO}/*.yaml", ("kind: Schedule",), "Velero Schedules"),
    # the other folders under backup/ are the engines': each writes its datastores' backup jobs
    (f"{layout.BACKUP}/*/*.yaml", ("kind: CronJob",), "a datastore's backup CronJobs"),
    (f"{layout.GRAFANA_CONFIGMAPS}/*.yaml", ("kind: ConfigMap",), "a dashboard ConfigMap"),
    (layout.ALERTMANAGER_RESOURCE, ("kind: AlertmanagerConfig",), "an AlertmanagerConfig"),
    (f"{layout.PROBES}/*.yaml", ("kind: Probe",), "Probes"),
    (f"{layout.DR_CLUSTER}/{KUSTOMIZATION}", ("resources:",), "a kustomization"),
    (f"{layout.DR_CLUSTER}/*.yaml", ("kind: ConfigMap",), "a service's failover objects"),
    (f"{layout.PATCHES}/*/*.yaml", ("spec:",), "a patch"),
)


@dataclass
class Listing:
    """The files the manifest lists (relative to the tree), and what is wrong with the tree."""

    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class _Refused(Exception):
    """A path that is not read: its message says why."""


@dataclass(frozen=True)
class _Unless:
    """A problem unless `path` turns out a readable file of the tree: known once every file is read."""

    path: str
    problem: str


# A file's problems in order: each known when the file is read, or once every file is.
_Problems = Sequence[str | _Unless]


def check_listing(root: Path) -> Listing:
    listing = Listing()
    try:
        listing.files = _manifest_lines(root)
    except _Refused as err:
        listing.problems.append(str(err))
        return listing
    listed = set(listing.files)
    # One file's text at a time: the tree can be gigabytes (some 280 KB a service).
    readable: set[str] = set()
    real = _RealPaths()
    found: list[str | _Unless] = []
    for relative in sorted(listed | set(_globbed(root))):
        try:
            text = _text(root, relative, real)
        except _Refused as err:
            listing.problems.append(str(err) if relative in listed else f"{err} (not in the manifest)")
            continue
        readable.add(relative)
        if relative in listed:
            found += _kind_problems(root, relative, text, listed)
    listing.problems += [
        item if isinstance(item, str) else item.problem
        for item in found
        if isinstance(item, str) or item.path not in readable
    ]
    return listing


def _manifest_lines(root: Path) -> list[str]:
    text = _text(root, MANIFEST, _RealPaths())
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if not lines:
        raise _Refused(f"{MANIFEST}: lists no file")
    return lines


def _globbed(root: Path) -> Iterable[str]:
    for folder, pattern in GLOBBED:
        if (root / folder).is_dir():  # through a symlink too: _inside refuses what leaves the tree
            for path in (root / folder).glob(pattern):
                yield path.relative_to(root).as_posix()


class _RealPaths:
    """os.path.realpath of a tree's files, each folder's resolved once: the path of a file that is
    not a symlink is its folder's real path and its name (one lstat, not one per component)."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def of(self, path: str) -> str:
        folder, name = os.path.split(path)
        if os.path.islink(path) or not name:
            return os.path.realpath(path)
        if folder not in self._folders:
            self._folders[folder] = os.path.realpath(folder)
        return os.path.join(self._folders[folder], name)


def _inside(root: Path, relative: str, real: _RealPaths) -> Path:
    """The path of a file of the tree, refused when it would lead outside the tree."""
    parts = PurePosixPath(relative).parts
    if relative.startswith("/") or "\\" in relative or ".." in parts or not parts or "." in relative.split("/"):
        raise _Refused(f"{relative}: points outside the tree (not read)")
    path = root.joinpath(*parts)
    if not real.of(str(path)).startswith(real.of(str(root)) + os.sep):
        raise _Refused(f"{relative}: a symlink that leads outside the tree (not read)")
    return path


def _text(root: Path, relative: str, real: _RealPaths) -> str:
    path = _inside(root, relative, real)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise _Refused(
            f"{relative}: listed in {MANIFEST} but missing" if relative != MANIFEST else _no_manifest()
        ) from None
    except OSError as err:
        raise _Refused(f"{relative}: cannot be read ({err.strerror})") from None
    if stat.S_ISDIR(mode):
        raise _Refused(f"{relative}: a directory where a file should be")
    if not stat.S_ISREG(mode):
        raise _Refused(f"{relative}: not a regular file")
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise _Refused(f"{relative}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise _Refused(f"{relative}: cannot be read ({err.strerror})") from None
    if b"\0" in data:
        raise _Refused(f"{relative}: a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _Refused(f"{relative}: not UTF-8 text (byte {err.start})") from None


def _no_manifest() -> str:
    return f"no {MANIFEST}: run `obskit gen` first"


def _kind_problems(root: Path, relative: str, text: str, listed: set[str]) -> _Problems:
    # the first pattern that matches says what the file must hold (Velero's folder before the engines')
    for pattern, lines, what in NEEDS:
        if fnmatchcase(relative, pattern):
            missing = [line for line in lines if not _has_line(text, line)]
            if missing:
                wanted = missing[0] if isinstance(missing[0], str) else "` or `".join(missing[0])
                return [f"{relative}: not {what} (no line `{wanted}`)"]
            break
    if relative == KUSTOMIZATION:
        return _kustomization_problems(KUSTOMIZATION, text, listed, RESOURCES)
    folder = relative.rpartition("/")[0]
    if folder in CLUSTERS and relative == f"{folder}/{KUSTOMIZATION}":
        return _kustomization_problems(relative, text, listed, CLUSTERS[folder])
    if relative == layout.ROUTE_TESTS:
        return _route_test_problems(root, text)
    if relative == layout.ALERTMANAGER_CONFIG:
        return _mapping_problems(relative, text, ("route", "receivers"))
    if fnmatchcase(relative, f"{layout.TEST_FILES}/*{layout.TEST_FILE_SUFFIX}"):
        return _unit_test_problems(root, relative, text)
    if relative.endswith(".json"):
        return _json_problems(relative, text)
    return []


def _has_line(text: str, line: str | tuple[str, ...]) -> bool:
    return any(
        re.search(f"^{re.escape(one)}(?:[ \\t].*)?$", text, re.MULTILINE)
        for one in ((line,) if isinstance(line, str) else line)
    )


def _load(relative: str, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise _Refused(f"{relative}: not YAML{where}") from None
    except RecursionError:
        raise _Refused(f"{relative}: nested too deep to read") from None


def _mapping(relative: str, text: str, keys: tuple[str, ...]) -> dict[str, Any]:
    document = _load(relative, text)
    if not isinstance(document, dict):
        raise _Refused(f"{relative}: not a mapping")
    missing = [key for key in keys if key not in document]
    if missing:
        raise _Refused(f"{relative}: has no `{missing[0]}`")
    return document


def _mapping_problems(relative: str, text: str, keys: tuple[str, ...]) -> list[str]:
    try:
        _mapping(relative, text, keys)
    except _Refused as err:
        return [str(err)]
    return []


def _kustomization_problems(path: str, text: str, listed: set[str], patterns: tuple[str, ...]) -> list[str]:
    """A kustomization at `path`: its resources are files of the tree, and every file of `patterns` is one."""
    try:
        resources = _mapping(path, text, ("resources",))["resources"]
    except _Refused as err:
        return [str(err)]
    if not isinstance(resources, list) or not all(isinstance(item, str) for item in resources):
        return [f"{path}: resources is not a list of file names"]
    folder = path.rpartition("/")[0]
    in_tree = {f"{folder}/{item}" if folder else item: item for item in resources}
    problems = [
        f"{path}: resource {item} is not a file {MANIFEST} lists"
        for full, item in in_tree.items()
        if full not in listed
    ]
    problems += [
        f"{relative}: not among {path}'s resources (kustomize would not apply it)"
        for relative in sorted(listed - set(in_tree) - {path})
        if any(fnmatchcase(relative, pattern) for pattern in patterns)
    ]
    return problems


def _relative_to_tree(root: Path, relative: str, reference: str) -> str:
    """A file named in `relative` (relative to its folder) as a path of the tree."""
    joined = os.path.normpath(os.path.join(os.path.dirname(relative), reference))
    if os.path.isabs(reference) or joined.startswith(".."):
        raise _Refused(f"{relative}: names {reference}, outside the tree (not read)")
    return PurePosixPath(joined).as_posix()


def _route_test_problems(root: Path, text: str) -> _Problems:
    try:
        tests = _mapping(layout.ROUTE_TESTS, text, ("config", "cases"))
        if not isinstance(tests["config"], str):
            raise _Refused(f"{layout.ROUTE_TESTS}: config is not a file name")
        config = _relative_to_tree(root, layout.ROUTE_TESTS, tests["config"])
    except _Refused as err:
        return [str(err)]
    problems: list[str | _Unless] = [
        _Unless(config, f"{layout.ROUTE_TESTS}: its config {tests['config']} is not a file of the tree")
    ]
    cases = tests["cases"]
    if not isinstance(cases, list) or not all(
        isinstance(case, dict) and isinstance(case.get("labels"), dict) and isinstance(case.get("receiver"), str)
        for case in cases
    ):
        problems.append(f"{layout.ROUTE_TESTS}: cases are not a list of labels and a receiver")
    return problems


def _unit_test_problems(root: Path, relative: str, text: str) -> _Problems:
    """The test's head (everything before `tests:`) names its rule files: each must be the tree's."""
    tests = re.search(r"^tests:", text, re.MULTILINE)
    head = text[: tests.start()] if tests else text
    try:
        rule_files = _mapping(relative, head, ("rule_files",))["rule_files"]
        if not isinstance(rule_files, list) or not all(isinstance(item, str) for item in rule_files):
            raise _Refused(f"{relative}: rule_files is not a list of file names")
        named = [(item, _relative_to_tree(root, relative, item)) for item in rule_files]
    except _Refused as err:
        return [str(err)]
    return [_Unless(path, f"{relative}: its rule file {item} is not a file of the tree") for item, path in named]


def _json_problems(relative: str, text: str) -> list[str]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return [f"{relative}: not JSON"]
    return [] if isinstance(document, dict) else [f"{relative}: not a JSON object"]
