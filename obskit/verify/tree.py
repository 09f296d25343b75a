"""`obskit test`: the checks a generated tree must pass, run on the tree as written."""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from obskit.output import layout
from obskit.output.writer import MANIFEST
from obskit.verify import amtool, listing, objects, runs, shapes
from obskit.verify.checks import Check, Report

RULE_FILES = shapes.RULE_FILES
TEST_FILES = shapes.TEST_FILES
PROMETHEUS_RULES = layout.PROMETHEUS_RULES
ALERTMANAGER_CONFIG = layout.ALERTMANAGER_CONFIG
ROUTE_TESTS = layout.ROUTE_TESTS


__all__ = ["Check", "Report", "check_tree", "object_check"]


def _load_documents(root: Path, relative: str) -> list[Any]:
    with open(root / relative, encoding="utf-8") as stream:
        return [doc for doc in yaml.load_all(stream, Loader=_Loader) if doc is not None]


def _owner(resource: str, services: set[str]) -> str | None:
    """The service a resource file belongs to: its name is the service's, or starts with it and a dash."""
    parts = Path(resource).name.removesuffix(".yaml").split("-")
    return next((stem for i in range(len(parts), 0, -1) if (stem := "-".join(parts[:i])) in services), None)


def _alike(shared: str) -> bool:
    """Whether objects written as this text (placeholders for names) pass or fail alike whatever
    the names: YAML reads every name as text, and the schema constrains no string holding one."""
    if not shapes.yaml_reads_names_as_text(shared):
        return False
    documents = yaml.load_all(shared, Loader=_Loader)
    return all(objects.renaming_safe(document, shapes.MARK) for document in documents if document is not None)


def _resources(root: Path, folder: str) -> list[str]:
    """The files a kustomization lists, as paths of the tree: this cluster's, or another's in `folder`."""
    kustomization = _load_documents(root, f"{folder}/{listing.KUSTOMIZATION}".lstrip("/"))[0]
    resources = kustomization.get("resources", []) if isinstance(kustomization, dict) else []
    return [f"{folder}/{resource}" if folder else resource for resource in resources]


def _object_check(root: Path, names: dict[str, list[str]]) -> Check:
    """Every object of the kustomization against its model or schema. Files that are the same up to
    their service's names and schedules, with every name where the schema constrains no string,
    are checked once per shape (obskit.verify.shapes)."""
    resources = [
        resource
        for folder in ("", *listing.CLUSTERS)
        if (root / folder / listing.KUSTOMIZATION).is_file()
        for resource in _resources(root, folder)
    ]
    services = set(names)
    by_shape: dict[str, list[str]] = {}
    for resource in resources:
        text = (root / resource).read_text(encoding="utf-8")
        owner = _owner(resource, services)
        key = None
        if owner is not None:
            crons = shapes.schedules(text)
            key = shapes.canonical([resource.replace(owner, ""), text], [*names[owner], *crons])
            roles = range(len(names[owner]), len(names[owner]) + len(crons))
            # a shape already found passed this check on the same text
            if key is not None and key not in by_shape and not shapes.crons_only_scheduled(key, roles):
                key = None
        if key is None:
            key = f"{resource}\0{text}"  # on its own
        by_shape.setdefault(key, []).append(resource)
    problems: list[str] = []
    count = checked = 0
    for key, members in by_shape.items():
        alike = len(members) > 1 and _alike(key.split("\0", 1)[1])
        for resource in members[:1] if alike else members:
            try:
                documents = _load_documents(root, resource)
            except yaml.YAMLError as err:
                problems.append(f"{resource}: not YAML: {err}")
                continue
            checked += len(documents)
            found = [
                f"{resource}: {problem}" for document in documents for problem in objects.object_problems(document)
            ]
            if found and alike:
                found.append(
                    f"{resource}: the same holds for {len(members) - 1} files of its shape: {', '.join(members[1:])}"
                )
            problems += found
            count += len(documents) * (len(members) if alike else 1)
    title = f"objects pass their models and schemas ({count} objects; {checked} checked, one per shape)"
    return Check(title, not problems, "\n".join(problems))


def object_check(root: Path) -> Check:
    """The object check on its own, with each service's names read from its rule file: run in a
    process of its own from the start, it imports the typed models (seconds of CPU) while the
    shapes are still being found, when promtool is not yet running on the other core."""
    return _object_check(root, shapes.names_by_service(root, shapes.units(root)))


def _exit_with_parent() -> None:
    """In the checker process: end when the process that started it ends, however it ends, rather
    than wait for work that will never come."""
    parent = multiprocessing.parent_process()
    if parent is not None:

        def watch() -> None:
            parent.join()  # waits on the parent's sentinel, no polling
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()


_checker: ProcessPoolExecutor | None = None
_checker_lock = threading.Lock()


def _submit_object_check(root: Path) -> Future[Check]:
    """The object check, begun in the checker process. The process is spawned at the first check
    (not forked: the command has loaded go-jsonnet, whose runtime's threads a fork does not carry)
    and kept, so that a process checking many trees (the tests, a library caller) imports the
    typed models once; the path is absolute, since the checker keeps the directory it started in."""
    global _checker
    with _checker_lock:
        for _ in range(2):  # a checker that has died is replaced once
            if _checker is None:
                spawn = multiprocessing.get_context("spawn")
                _checker = ProcessPoolExecutor(max_workers=1, mp_context=spawn, initializer=_exit_with_parent)
            try:
                return _checker.submit(object_check, Path(os.path.abspath(root)))
            except BrokenProcessPool:
                _checker = None
        raise BrokenProcessPool("the object checker process could not be started")


def _object_check_result(checking: Future[Check]) -> Check:
    global _checker
    try:
        return checking.result()
    except BrokenProcessPool:
        with _checker_lock:
            _checker = None
        raise


# What a rule engine's files may add to a group (generate/rules/targets.py): Thanos Ruler's strategy.
_TARGET_GROUP_FIELDS = {"partial_response_strategy": ("abort", "warn")}


def _same_groups_text(deployed: str, plain: str, head_end: str, indent: str) -> bool:
    """Whether the deployed file's text ends in the plain file's groups, indented as it nests them:
    equal text reads as equal groups, and comparing it spares parsing both. One document each,
    no anchor in the deployed file's head; anything else is left to parsing."""
    head, spec, deployed_groups = deployed.partition(head_end)
    _, top, plain_groups = plain.partition("\ngroups:\n")
    if not (spec and top) or "&" in head or "\n---" in deployed or "\n---" in plain:
        return False
    return deployed_groups == "".join(f"{indent}{line}" for line in plain_groups.splitlines(keepends=True))


def _without_target_fields(groups: list[Any], relative: str, problems: list[str]) -> list[Any]:
    """The groups without the fields a rule engine adds, each checked against what it allows."""
    stripped = []
    for group in groups:
        if isinstance(group, dict):
            for key, allowed in _TARGET_GROUP_FIELDS.items():
                if key in group and group[key] not in allowed:
                    problems.append(
                        f"{relative}: group {group.get('name')}: {key} {group[key]!r} is not one of {allowed}"
                    )
            group = {key: value for key, value in group.items() if key not in _TARGET_GROUP_FIELDS}
        stripped.append(group)
    return stripped


def _deployed_rule_files(root: Path) -> list[tuple[str, str, tuple[str, ...], str, str]]:
    """Each file a rule engine loads: (its path, its service, where its groups are, the text that
    precedes them, their indent). PrometheusRules, and Mimir's namespace files."""
    found: list[tuple[str, str, tuple[str, ...], str, str]] = []
    for path in sorted((root / PROMETHEUS_RULES).glob("*.yaml")):
        found.append((path.relative_to(root).as_posix(), path.stem, ("spec", "groups"), "\nspec:\n  groups:\n", "  "))
    for path in sorted((root / layout.MIMIR_RULES).glob("*.yaml")):
        found.append((path.relative_to(root).as_posix(), path.stem, ("groups",), "\ngroups:\n", ""))
    return found


def _same_rules_check(root: Path) -> Check:
    """Each file a rule engine loads holds exactly the groups of its plain rule file, which promtool
    checks and tests, but for the fields its engine adds; a Mimir file is one namespace, the service's."""
    problems: list[str] = []
    for relative, name, keys, head_end, indent in _deployed_rule_files(root):
        plain = root / RULE_FILES / f"{name}.rules.yaml"
        if not plain.is_file():
            problems.append(f"{relative}: no plain rule file {plain.relative_to(root)}")
            continue
        text = (root / relative).read_text(encoding="utf-8")
        plain_text = plain.read_text(encoding="utf-8")
        mimir = keys == ("groups",)
        if mimir and not text.partition("\ngroups:")[0].endswith(f"\nnamespace: obskit-{name}"):  # or `groups: []`
            problems.append(f"{relative}: not the one namespace obskit-{name}")
        if _same_groups_text(text, plain_text, head_end, indent):
            continue
        plain_relative = plain.relative_to(root).as_posix()
        deployed_groups = _groups(root, relative, keys, problems)
        plain_groups = _groups(root, plain_relative, ("groups",), problems)
        if (
            deployed_groups is not None
            and plain_groups is not None
            and _without_target_fields(deployed_groups, relative, problems) != plain_groups
        ):
            problems.append(f"{relative}: groups differ from {plain_relative}")
    return Check("the rule engine's files match the plain rule files", not problems, "\n".join(problems))


def _groups(root: Path, relative: str, keys: tuple[str, ...], problems: list[str]) -> Any:
    """The groups of a rule file's first document (at `keys`), or None with the problem noted."""
    try:
        documents = _load_documents(root, relative)
    except (yaml.YAMLError, RecursionError) as err:
        mark = getattr(err, "problem_mark", None)
        problems.append(f"{relative}: not YAML" + (f" at line {mark.line + 1}" if mark is not None else ""))
        return None
    found: Any = documents[0] if documents else None
    for key in keys:
        found = found.get(key) if isinstance(found, dict) else None
    if not isinstance(found, list):
        problems.append(f"{relative}: no {'.'.join(keys)} list")
        return None
    return found


def _routing_checks(root: Path) -> list[Check]:
    """amtool check-config on the Alertmanager configuration, then every routing test."""
    config = amtool.check_config(root, ALERTMANAGER_CONFIG)
    checks = [Check(f"amtool check-config {ALERTMANAGER_CONFIG}", config.ok, "" if config.ok else config.output)]
    if not config.ok:
        return checks
    results, error = amtool.test_routes(root, ROUTE_TESTS)
    if error:
        return [*checks, Check("amtool config routes test", False, error)]
    cases = sum(result.covers for result in results)
    wrong = [result for result in results if result.got != result.expected]
    title = f"Alertmanager routes ({cases} cases in {len(results)} amtool runs)"
    if not wrong:
        return [*checks, Check(title, True)]
    rows = [("service", "severity", "expected", "got")] + [
        (r.labels.get("service", "-"), r.labels.get("severity", "-"), r.expected, r.got or "(none)") for r in wrong
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    table = "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
    return [*checks, Check(title, False, table)]


def check_tree(root: Path) -> Report:
    """Every check of the tree at root; raises PromtoolMissing when promtool cannot be found, and
    AmtoolMissing when the tree has an Alertmanager configuration and amtool cannot be found.

    promtool runs once per shape (obskit.verify.shapes), and the report says how many services
    each run covered."""
    report = Report()
    listed = listing.check_listing(root)
    if listed.problems:  # the other checks would read what is missing, broken or outside the tree
        details = "\n".join([*listed.problems, "the other checks did not run"])
        report.checks.append(Check(f"{root} holds the files {MANIFEST} lists, each as its kind needs", False, details))
        return report
    # promtool and the Python checks run side by side: they share nothing
    objects_checking = _submit_object_check(root)
    with ThreadPoolExecutor(max_workers=1) as pool:
        all_units = shapes.units(root)
        shaped = shapes.shapes(root, all_units)
        running = pool.submit(runs.promtool_checks, root, shaped, all_units)
        same_rules = _same_rules_check(root)
        routing = _routing_checks(root) if (root / ALERTMANAGER_CONFIG).is_file() else []
        report.checks += running.result()[0]
    objects_checked = _object_check_result(objects_checking)
    report.checks.append(same_rules)
    report.checks.append(objects_checked)
    report.checks += routing
    return report
