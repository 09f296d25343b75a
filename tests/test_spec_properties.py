"""Property tests: whatever a spec holds, loading it ends in a Spec or a list of problems, and a
spec that validates generates (validate is the whole gate)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan, load_spec, spec_json_schema, validate
from obskit.spec.problems import SpecInvalid
from obskit.spec.resolve import UnknownEnvironment
from tests.conftest import EXAMPLES, budget

EXAMPLE_FILES = {path.name: yaml.safe_load(path.read_text()) for path in sorted(EXAMPLES.glob("*.yaml"))}

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
    | st.sampled_from(["5m", "0s", "200Gi", "100MiB/s", "tier9", "x{", "{{window}}", "99.9", "", "Prod"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


def _mutated(
    directory: Path, data: st.DataObject, values: st.SearchStrategy[Any], most: int, include_root: bool
) -> dict[str, Any]:
    """The example files with up to `most` values of one file replaced, written into `directory`."""
    files = copy.deepcopy(EXAMPLE_FILES)
    name = data.draw(st.sampled_from(sorted(files)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=most))):
        paths = _paths(files[name])
        path = data.draw(st.sampled_from(paths if include_root else paths[1:]))
        files[name] = _replace(files[name], path, data.draw(values))
    for file_name, content in files.items():
        (directory / file_name).write_text(yaml.safe_dump(content, allow_unicode=True))
    return files


def _load(directory: Path) -> None:
    try:
        load_spec(directory)
    except (SpecInvalid, UnknownEnvironment) as err:
        assert str(err)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_examples_never_raise_a_traceback(tmp_path_factory: Any, data: st.DataObject) -> None:
    directory = tmp_path_factory.mktemp("spec")
    _mutated(directory, data, junk, most=3, include_root=True)
    _load(directory)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_never_raise_a_traceback(tmp_path_factory: Any, raw: bytes) -> None:
    directory = tmp_path_factory.mktemp("spec")
    (directory / "obskit.yaml").write_bytes(raw)
    _load(directory)


# Values a user might plausibly write, so that many mutants still validate and must generate.
plausible = st.sampled_from(
    [
        "5m", "30s", "1h", "7d", "28d", "300ms", "1s", "2.5s", "10Gi", "2Ti", "1MiB/s", "10GiB/h", 99, 99.99, 50,
        'http_requests_total{code=~"5..|4.."}', 'x_total{a!~"b.*",c!="d"}', 'x_total{a=~".+"}', 'y{le=~"1"}',
        "tier3_low", "tier1_critical", "fs", "none", False, True, "shop", "a-b", None,
    ]
)  # fmt: skip


@settings(deadline=None, max_examples=budget(80), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_examples_that_validate_generate(tmp_path_factory: Any, data: st.DataObject) -> None:
    directory = tmp_path_factory.mktemp("spec")
    files = _mutated(directory, data, plausible | junk, most=2, include_root=False)
    try:
        spec = validate(directory)
    except (SpecInvalid, UnknownEnvironment) as err:
        assert str(err)
        return
    for environment in spec.environments:
        assert generate_tree(load_plan(directory, environment.name))
    # the editor's schema is never stricter than validation
    editor = jsonschema.Draft202012Validator(spec_json_schema())
    for content in files.values():
        assert list(editor.iter_errors(content)) == []
