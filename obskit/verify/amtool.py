"""amtool, Alertmanager's own checker: the generated configuration and its routing tests.

A routing test is an alert's labels and the receiver they must reach (`amtool config routes
test`). The route tree reads only the labels its matchers name, so cases that agree on those
labels reach the same receivers: each such class is run once, and the report says how many
cases each run covered.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from obskit.output import escape
from obskit.verify.tools import Outcome, find_tool

INSTALL_HINT = "install Debian's `prometheus-alertmanager` package (it brings amtool) or set OBSKIT_AMTOOL"
TIMEOUT_SECONDS = 120
_MATCHER_LABEL = re.compile(r'^\s*"?([a-zA-Z_][a-zA-Z0-9_]*)"?\s*(?:=~|!~|!=|=)')


class AmtoolMissing(Exception):
    pass


def find_amtool() -> str:
    return find_tool("amtool", "OBSKIT_AMTOOL", INSTALL_HINT, AmtoolMissing)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_amtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )


def check_config(root: Path, config: str) -> Outcome:
    done = _run(["check-config", config], root)
    return Outcome(done.returncode == 0, (done.stdout + done.stderr).strip())


def _routes(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield route
    for child in route.get("routes") or []:
        yield from _routes(child)


def routed_labels(config: dict[str, Any]) -> frozenset[str]:
    """Every label name a matcher of the route tree reads."""
    names: set[str] = set()
    for route in _routes(config.get("route") or {}):
        names.update((route.get("match") or {}).keys())
        names.update((route.get("match_re") or {}).keys())
        for matcher in route.get("matchers") or []:
            found = _MATCHER_LABEL.match(matcher)
            if found:
                names.add(found.group(1))
    return frozenset(names)


@dataclass(frozen=True)
class RouteResult:
    labels: dict[str, str]
    expected: str
    got: str
    covers: int  # how many cases shared this run


def test_routes(root: Path, tests_file: str) -> tuple[list[RouteResult], str]:
    """Each class of equivalent cases through `amtool config routes test`; ("", error) on failure to run."""
    tests = yaml.safe_load((root / tests_file).read_text())
    config_file = ((root / tests_file).parent / tests["config"]).resolve()  # amtool runs in root
    config = yaml.safe_load(config_file.read_text())
    read = routed_labels(config)
    classes: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = {}
    for case in tests["cases"]:
        key = tuple(sorted((name, value) for name, value in case["labels"].items() if name in read))
        classes.setdefault((*key, ("", case["receiver"])), []).append(case)
    results = []
    for members in classes.values():
        case = members[0]
        labels = [escape.am_matcher(name, "=", value) for name, value in sorted(case["labels"].items())]
        done = _run(["config", "routes", "test", f"--config.file={config_file}", *labels], root)
        if done.returncode != 0:
            return [], (done.stdout + done.stderr).strip()
        results.append(RouteResult(case["labels"], case["receiver"], done.stdout.strip(), len(members)))
    return results, ""
