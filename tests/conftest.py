"""Shared fixtures: spec files written into a temporary directory, the example, ../shared."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

from obskit.pipeline import load_spec
from obskit.spec.problems import SpecInvalid
from tests.servers import absent, absent_reason, missing_programs, required

# `pytest --hypothesis-profile=thorough` searches ten times longer than the default run;
# `make test-fast` uses `quick`, a twelfth of it (the edit-test loop: make test searches the rest). Under CI the default run tests the same examples
# every time (seeded from each test), so a run fails for the change it tests, not for the draw:
# random searches happen where someone can act on what they find (make test, make test-fast).
settings.register_profile("default", max_examples=300, derandomize=bool(os.environ.get("CI")))
settings.register_profile("thorough", max_examples=3000)
settings.register_profile("quick", max_examples=25)


def budget(examples: int) -> int:
    """max_examples for a test that sets its own: `examples` under the default profile, scaled
    like the profile loaded (`quick` a twelfth, `thorough` ten times), never below three."""
    return max(3, examples * settings().max_examples // 300)


REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
JOBS = REPO / "obskit" / "jobs"  # the job wrapper every engine's jobs run
WALG_JOBS = REPO / "obskit" / "engines" / "postgres_walg" / "jobs"  # PostgreSQL's drill and wal-g-env


def backup_script(name: str) -> ModuleType:
    """One of the job scripts (they run as files in the jobs' image) imported as a module."""
    sys.path.insert(0, str(JOBS if name == "obskit_job" else WALG_JOBS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


SHARED = Path(os.environ.get("OBSKIT_SHARED", REPO.parent / "shared"))

# The smallest complete spec; tests add to it.
MINIMAL = """\
apiVersion: obskit/v1
defaults:
  runbook_url: "https://runbooks.example.com/{service}/{alert}"
environments:
  prod:
    labels: {env: prod}
services:
  checkout:
    namespace: shop
    tier: tier1_critical
    team: payments
    selector: {app: checkout}
    metrics: {port: http-metrics}
"""


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is absent: set OBSKIT_SHARED to a folder holding it (tests/README.md)")
    return path


def tools_of(item: pytest.Item) -> list[str]:
    """The names in the item's `tools` markers, and `prometheus3` for the prometheus3 marker."""
    names = [name for mark in item.iter_markers("tools") for name in mark.args]
    return [*names, "prometheus3"] if item.get_closest_marker("prometheus3") else names


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked `tools(NAME, ...)` skips when a program it runs is absent, naming the
    program and `make tools`; under OBSKIT_REQUIRE_TOOLS=1 (`make test`) it fails instead."""
    if required():
        return
    for item in items:
        missing = missing_programs(tools_of(item))
        if missing:
            item.add_marker(pytest.mark.skip(reason=absent_reason(missing)))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if required():
        missing = missing_programs(tools_of(item))
        if missing:
            absent(missing)


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """write_spec(text) -> file; write_spec(a=text, b=text) -> a directory of a.yaml, b.yaml."""

    def write(text: str | None = None, **files: str) -> Path:
        if text is not None:
            path = tmp_path / "obskit.yaml"
            path.write_text(textwrap.dedent(text))
            return path
        directory = tmp_path / "spec"
        directory.mkdir(exist_ok=True)
        for name, content in files.items():
            (directory / f"{name}.yaml").write_text(textwrap.dedent(content))
        return directory

    return write


def problems_of(path: Path, environments: list[str] | None = None) -> list[str]:
    """Every problem line for the spec, with the temporary directory cut from file names."""
    with pytest.raises(SpecInvalid) as caught:
        load_spec(path, environments)
    root = str(path if path.is_dir() else path.parent) + os.sep
    return [str(problem).replace(root, "") for problem in caught.value.problems]


@pytest.fixture(scope="session")
def prod_tree() -> dict[str, str]:
    """The bundled example's prod tree, generated once (tests only read it)."""
    from obskit.generate.tree import generate_tree
    from obskit.pipeline import load_plan

    return generate_tree(load_plan(EXAMPLES, "prod"))
