import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obskit.spec.problems import Problem
from obskit.spec.yaml_lines import Located, load_yaml_file


def load(tmp_path: Path, content: str | bytes) -> Located | Problem:
    path = tmp_path / "spec.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return load_yaml_file(path, "spec.yaml")


def test_keeps_the_line_of_every_field(tmp_path: Path) -> None:
    located = load(tmp_path, "a: 1\nb:\n  c:\n    - x\n    - y\n")
    assert isinstance(located, Located)
    assert located.data == {"a": 1, "b": {"c": ["x", "y"]}}
    assert located.line_of(("b", "c")) == 3
    assert located.line_of(("b", "c", 1)) == 5
    assert located.line_of(("b", "missing", "deeper")) == 2


def test_refuses_duplicate_keys_naming_both_lines(tmp_path: Path) -> None:
    problem = load(tmp_path, "services:\n  a: 1\n  b: 2\n  a: 3\n")
    assert str(problem) == "spec.yaml:4: services.a: duplicate key 'a' (first at line 2)"


def test_refuses_duplicate_top_level_keys(tmp_path: Path) -> None:
    problem = load(tmp_path, "apiVersion: obskit/v1\nservices: {}\nservices: {}\n")
    assert str(problem) == "spec.yaml:3: services: duplicate key 'services' (first at line 2)"


def test_refuses_an_alias_bomb_fast(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghij":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    started = time.monotonic()
    problem = load(tmp_path, "\n".join(lines) + "\n")
    assert isinstance(problem, Problem)
    assert "alias bomb" in problem.message
    assert time.monotonic() - started < 5  # a generous bound: it takes about 0.1 s


def test_allows_ordinary_anchors_and_merge_keys(tmp_path: Path) -> None:
    located = load(tmp_path, "base: &b {x: 1, y: 2}\nsvc:\n  <<: *b\n  y: 3\nother: *b\n")
    assert isinstance(located, Located)
    assert located.data["svc"] == {"x": 1, "y": 3}
    assert located.data["other"] == {"x": 1, "y": 2}


def test_refuses_binary_files(tmp_path: Path) -> None:
    problem = load(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert str(problem) == "spec.yaml:1: (top level): binary file (contains NUL bytes), not a YAML spec"


def test_refuses_text_that_is_not_utf8_naming_the_line(tmp_path: Path) -> None:
    problem = load(tmp_path, b"a: 1\nb: caf\xe9\n")
    assert isinstance(problem, Problem)
    assert problem.line == 2
    assert "not UTF-8" in problem.message


def test_reports_syntax_errors_with_their_line(tmp_path: Path) -> None:
    problem = load(tmp_path, "a: 1\nb: [1, 2\nc: 3\n")
    assert isinstance(problem, Problem)
    # the line of the unclosed '[', in plain words, not the line where PyYAML gave up
    assert (
        problem.message
        == "YAML syntax at column 4: a '[' list is not closed with ']' (or its items are not separated by commas)"
    )
    assert problem.line == 2


def test_refuses_several_documents_and_empty_files(tmp_path: Path) -> None:
    several = load(tmp_path, "a: 1\n---\nb: 2\n")
    assert isinstance(several, Problem) and "single document" in several.message
    empty = load(tmp_path, "# nothing\n")
    assert isinstance(empty, Problem) and "empty file" in empty.message


def test_refuses_non_scalar_keys(tmp_path: Path) -> None:
    problem = load(tmp_path, "? [a, b]\n: 1\n")
    assert isinstance(problem, Problem) and "plain scalars" in problem.message


def test_missing_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    problem = load_yaml_file(tmp_path / "nope.yaml", "nope.yaml")
    assert isinstance(problem, Problem) and "cannot read" in problem.message


def test_scalars_are_what_pyyaml_makes_of_them(tmp_path: Path) -> None:
    text = (
        "s: text\nq: '5'\ntagged: !!str 5\ni: 5\nf: 1.5\nb: true\nn: null\ne:\nd: 2024-01-02\n"
        "octal: 0o17\ninf: .inf\nblock: |\n  two\n  lines\nseq: [1, x, ~]\n"
    )
    located = load(tmp_path, text)
    assert isinstance(located, Located)
    assert located.data == yaml.safe_load(text)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
        max_leaves=12,
    )
)
def test_loads_any_data_as_pyyaml_does(tmp_path: Path, data: object) -> None:
    text = yaml.safe_dump({"root": data}, allow_unicode=True)
    located = load(tmp_path, text)
    assert isinstance(located, Located)
    assert located.data == yaml.safe_load(text)
