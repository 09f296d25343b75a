"""The bundled example mutated at random: types, values, YAML features, encodings and folder
layouts with symlinks. Whatever the spec, obskit answers 0 or 2 and never a traceback; a refused
spec leaves the previous tree as it was; and a spec `validate` accepts also generates a tree that
passes `obskit test`.

Each example runs the installed command in a process of its own, as CI does: a crash of the YAML
parser or a runaway recursion is a failure of that process, not of the test run."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES, budget

OBSKIT = str(Path(sys.executable).with_name("obskit"))
SPEC_FILES = sorted(path.name for path in EXAMPLES.glob("*.yaml"))
# Each example runs three commands: a fifth of the usual budget
BUDGET = budget(60)
FUZZ = settings(
    max_examples=BUDGET,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OBSKIT, *args], capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
    )


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under root: its kind and its content's hash (a link's target, a file's bytes)."""
    entries: dict[str, tuple[str, str]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                entries[relative] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[relative] = ("dir", oct(path.stat().st_mode & 0o7777))
            else:
                entries[relative] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return entries


@dataclass(frozen=True)
class Mutation:
    """One change to a copy of the example folder, described for hypothesis' report."""

    what: str
    apply: Callable[[Path], None]

    def __repr__(self) -> str:
        return self.what


# Text that every language obskit writes must survive or refuse.
HOSTILE_TEXT = [
    'x"} or vector(1) or up{job="y',
    "{{ .Labels }}",
    "{{ $value }}",
    "}",
    "a\\",
    "line\nbreak",
    "tab\there",
    "../../etc/passwd",
    "/proc/self/environ",
    "ünïcödé ✓",
    "",
    " ",
    "#comment",
    "*",
    "`rm -rf /`",
    "$(id)",
    "https://user:secret@example.com/x?token=abc",
    "<script>",
    "[link](http://x)",
    "x" * 300,
]
DURATIONS = st.from_regex(r"\A(0|[1-9][0-9]{0,5})(ms|s|m|h|d|w|y)\Z")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(HOSTILE_TEXT),
    DURATIONS,
    st.dates(),
    st.binary(max_size=8),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
)


def _node_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _node_paths(child, (*prefix, key))


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _rewrite(file: str, change: Callable[[Any], None]) -> Callable[[Path], None]:
    def apply(spec: Path) -> None:
        target = spec / file
        data = yaml.safe_load(target.read_text(encoding="utf-8"))
        change(data)
        target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")

    return apply


@st.composite
def data_mutations(draw: st.DrawFn) -> Mutation:
    """A node of one file replaced, removed, renamed or given an unknown sibling."""
    file = draw(st.sampled_from(SPEC_FILES))
    data = yaml.safe_load((EXAMPLES / file).read_text(encoding="utf-8"))
    path = draw(st.sampled_from(list(_node_paths(data))))
    operation = draw(st.sampled_from(["replace", "replace", "replace", "remove", "rename", "add"]))
    if operation == "replace":
        value = draw(VALUES)
        return Mutation(
            f"{file}: {path} = {value!r}", _rewrite(file, lambda d: _parent(d, path).__setitem__(path[-1], value))
        )
    if operation == "remove":
        return Mutation(f"{file}: remove {path}", _rewrite(file, lambda d: _parent(d, path).pop(path[-1])))
    key = draw(st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12), st.integers(), st.none()))
    if operation == "rename" and isinstance(_parent(data, path), dict):

        def rename(d: Any) -> None:
            parent = _parent(d, path)
            parent[key] = parent.pop(path[-1])

        return Mutation(f"{file}: rename {path} to {key!r}", _rewrite(file, rename))
    value = draw(VALUES)

    def add(d: Any) -> None:
        parent = _parent(d, path)
        if isinstance(parent, dict):
            parent[key] = value
        else:
            parent.append(value)

    return Mutation(f"{file}: add {key!r}: {value!r} beside {path}", _rewrite(file, add))


def _edit_bytes(file: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(spec: Path) -> None:
        target = spec / file
        target.write_bytes(change(target.read_bytes()))

    return apply


def _alias_bomb(levels: int) -> bytes:
    """The billion laughs: each level a list of nine aliases of the level below."""
    lines = [b"\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [b"l%d: &l%d [%s]" % (level, level, b", ".join([b"*l%d" % (level - 1)] * 9)) for level in range(1, levels)]
    return b"\n".join(lines) + b"\n"


YAML_SNIPPETS = {
    "recursive alias": b"\nx_loop: &loop [*loop]\n",
    "recursive mapping alias": b"\nx_map: &m {a: *m}\n",
    "alias bomb": _alias_bomb(9),
    "python tag": b'\nx_tag: !!python/object/apply:os.system ["echo pwned"]\n',
    "unknown tag": b"\nx_tag: !custom 1\n",
    "binary tag": b"\nx_bin: !!binary aGVsbG8=\n",
    "second document": b"\n---\napiVersion: obskit/v1\n",
    "merge key": b"\nx_merge: {<<: {a: 1}}\n",
    "deep list": b"\nx_deep: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deep mapping": b"\nx_deep: " + b"{a: " * 3000 + b"1" + b"}" * 3000 + b"\n",
    "long integer": b"\nx_int: 1" + b"0" * 6000 + b"\n",
    "duplicate key": b"\napiVersion: obskit/v1\n",
    "tabs": b"\n\tx: 1\n",
    "nul byte": b"\nx: a\x00b\n",
    "lone surrogate escape": b'\nx: "\\ud800"\n',
}


@st.composite
def text_mutations(draw: st.DrawFn) -> Mutation:
    """One file's bytes changed: YAML features, encodings, truncation, garbage."""
    file = draw(st.sampled_from(SPEC_FILES))
    kind = draw(st.sampled_from(["snippet", "encoding", "truncate", "garbage", "long integer value"]))
    if kind == "snippet":
        name = draw(st.sampled_from(sorted(YAML_SNIPPETS)))
        snippet = YAML_SNIPPETS[name]
        return Mutation(f"{file}: append {name}", _edit_bytes(file, lambda data: data + snippet))
    if kind == "encoding":
        codec = draw(st.sampled_from(["utf-16", "utf-32", "utf-8-sig", "latin-1 text", "cp1252 text"]))
        if codec.endswith(" text"):
            encoding = codec.split()[0]
            return Mutation(
                f"{file}: a comment in {encoding}",
                _edit_bytes(file, lambda data: data + "\n# café\n".encode(encoding)),
            )
        return Mutation(f"{file}: encoded as {codec}", _edit_bytes(file, lambda data: data.decode().encode(codec)))
    if kind == "truncate":
        size = (EXAMPLES / file).stat().st_size
        cut = draw(st.integers(min_value=0, max_value=size - 1))
        return Mutation(f"{file}: cut at byte {cut}", _edit_bytes(file, lambda data: data[:cut]))
    if kind == "garbage":
        garbage = draw(st.binary(min_size=1, max_size=64))
        at = draw(st.integers(min_value=0, max_value=(EXAMPLES / file).stat().st_size))
        return Mutation(
            f"{file}: {garbage!r} at byte {at}", _edit_bytes(file, lambda data: data[:at] + garbage + data[at:])
        )
    digits = draw(st.integers(min_value=4000, max_value=20000))

    def long_number(data: bytes) -> bytes:
        return data.replace(b": 1m", b": 1" + b"0" * digits + b"m", 1).replace(
            b"objective: 99", b"objective: 9" * 1 + b"9" * digits, 1
        )

    return Mutation(f"{file}: a number {digits} digits long", _edit_bytes(file, long_number))


def _symlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda spec: os.symlink(target, spec / name)


def _layout(name: str) -> Callable[[Path], None]:
    def apply(spec: Path) -> None:
        if name == "folder named like a spec":
            (spec / "team.yaml").mkdir()
        elif name == "empty file":
            (spec / "empty.yaml").write_bytes(b"")
        elif name == "file removed":
            (spec / "catalog.yaml").unlink()
        elif name == "shared settings removed":
            (spec / "platform.yaml").unlink()
        elif name == "file copied":
            shutil.copy(spec / "catalog.yaml", spec / "catalog-copy.yaml")
        elif name == "renamed .yml":
            (spec / "catalog.yaml").rename(spec / "catalog.yml")
        elif name == "file replaced by a link to itself":
            (spec / "catalog.yaml").unlink()
            os.symlink("catalog.yaml", spec / "catalog.yaml")
        elif name == "file replaced by a link to a copy":
            (spec / "catalog.yaml").rename(spec / "catalog.txt")
            os.symlink("catalog.txt", spec / "catalog.yaml")
        elif name == "nested folder":
            (spec / "sub").mkdir()
            shutil.copy(spec / "catalog.yaml", spec / "sub" / "catalog.yaml")

    return apply


LAYOUTS = st.one_of(
    st.sampled_from(
        [
            Mutation("dangling link submodule.yaml", _symlink("submodule.yaml", "missing/obskit.yaml")),
            Mutation("looping link loop.yaml", _symlink("loop.yaml", "loop.yaml")),
            Mutation(
                "link pair a.yaml <-> b.yaml",
                lambda s: (_symlink("a.yaml", "b.yaml")(s), _symlink("b.yaml", "a.yaml")(s)),
            ),
            Mutation("link to a folder", _symlink("folder.yaml", ".")),
        ]
    ),
    st.sampled_from(
        [
            "folder named like a spec",
            "empty file",
            "file removed",
            "shared settings removed",
            "file copied",
            "renamed .yml",
            "file replaced by a link to itself",
            "file replaced by a link to a copy",
            "nested folder",
        ]
    ).map(lambda name: Mutation(name, _layout(name))),
)
MUTATIONS = st.lists(st.one_of(data_mutations(), text_mutations(), LAYOUTS), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def previous_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's prod tree as an earlier run wrote it, with files and folders of the user's."""
    root = tmp_path_factory.mktemp("previous") / "prod"
    result = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(root))
    assert result.returncode == 0, result.stderr
    (root / "NOTES.md").write_text("kept by the user\n")
    (root / "empty-folder").mkdir()
    os.symlink("NOTES.md", root / "notes-link.md")
    return root


def _no_traceback(result: subprocess.CompletedProcess[str], what: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, f"{what}: traceback\n{output[-3000:]}"


def _mutated(mutations: list[Mutation], work: Path) -> Path:
    spec = work / "spec"
    shutil.copytree(EXAMPLES, spec, ignore=shutil.ignore_patterns("*.md"))
    for mutation in mutations:
        # an earlier mutation may have removed or broken what this one changes: keep the earlier
        with contextlib.suppress(Exception):
            mutation.apply(spec)
    return spec


@FUZZ
@given(mutations=MUTATIONS)
def test_a_mutated_example_is_refused_cleanly_or_generates(previous_tree: Path, mutations: list[Mutation]) -> None:
    with tempfile.TemporaryDirectory(prefix="obskit-fuzz-") as scratch:
        work = Path(scratch)
        spec = _mutated(mutations, work)
        out = work / "out" / "prod"
        shutil.copytree(previous_tree, out, symlinks=True)
        before = snapshot(out)

        validate = run("validate", "--spec", str(spec))
        _no_traceback(validate, "validate")
        assert validate.returncode in (0, 2), validate.stderr
        plan = run("plan", "--env", "prod", "--spec", str(spec))
        _no_traceback(plan, "plan")
        assert plan.returncode in (0, 2), plan.stderr
        gen = run("gen", "--env", "prod", "--spec", str(spec), "--out", str(out))
        _no_traceback(gen, "gen")
        assert gen.returncode in (0, 2), gen.stderr
        if validate.returncode == 0:
            assert gen.returncode == 0, f"validate accepted what gen refused:\n{gen.stderr}"
        if gen.returncode != 0:
            assert snapshot(out) == before, "a refused gen changed the previous tree"
        else:
            after = snapshot(out)
            kept = {
                path: entry
                for path, entry in before.items()
                if path.split("/")[0] in {"NOTES.md", "empty-folder", "notes-link.md"}
            }
            assert {path: after.get(path) for path in kept} == kept, "gen lost what the user keeps in --out"
        assert sorted(p.name for p in out.parent.iterdir()) == ["prod"], "gen left staging folders beside --out"


# Values a user could plausibly write, for the fields whose values reach the generated rules and
# tests: most are accepted, and each accepted one must hold in `obskit test`.
PLAUSIBLE = {
    ("platform.yaml", ("tiers", "tier1_critical", "rpo")): DURATIONS,
    ("platform.yaml", ("tiers", "tier1_critical", "rto")): DURATIONS,
    ("payments.yaml", ("services", "checkout", "slos", "availability", "objective")): st.one_of(
        st.floats(min_value=0, max_value=100), st.integers(min_value=0, max_value=100)
    ),
    ("payments.yaml", ("services", "checkout", "slos", "availability", "window")): DURATIONS,
    ("payments.yaml", ("services", "checkout", "slos", "latency", "latency", "threshold")): DURATIONS,
    ("payments.yaml", ("services", "checkout", "backup", "duration")): DURATIONS,
    ("payments.yaml", ("services", "checkout", "backup", "datastores", "orders-db", "size")): st.from_regex(
        r"\A[1-9][0-9]{0,4}(Mi|Gi|Ti)\Z"
    ),
    ("catalog.yaml", ("services", "catalog-api", "slos", "availability", "window")): DURATIONS,
    ("catalog.yaml", ("services", "search-indexer", "slos", "freshness", "objective")): st.floats(
        min_value=0, max_value=100
    ),
    ("catalog.yaml", ("services", "catalog-api", "team")): st.from_regex(r"\A[a-z][a-z0-9-]{0,20}\Z"),
}


@st.composite
def plausible_mutations(draw: st.DrawFn) -> Mutation:
    (file, path), values = draw(st.sampled_from(sorted(PLAUSIBLE.items(), key=lambda item: str(item[0]))))
    value = draw(values)
    return Mutation(
        f"{file}: {path} = {value!r}", _rewrite(file, lambda d: _parent(d, path).__setitem__(path[-1], value))
    )


@pytest.mark.tools("promtool", "amtool")
@pytest.mark.servers  # not a server, but promtool runs for every accepted example: minutes, not seconds
@settings(max_examples=budget(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(plausible_mutations(), min_size=1, max_size=3))
def test_every_spec_validate_accepts_passes_obskit_test(mutations: list[Mutation]) -> None:
    with tempfile.TemporaryDirectory(prefix="obskit-fuzz-") as scratch:
        work = Path(scratch)
        spec = _mutated(mutations, work)
        validate = run("validate", "--spec", str(spec))
        _no_traceback(validate, "validate")
        event("refused" if validate.returncode else "accepted")
        if validate.returncode != 0:
            assert validate.returncode == 2, validate.stderr
            return
        out = work / "out"
        gen = run("gen", "--env", "prod", "--spec", str(spec), "--out", str(out))
        assert gen.returncode == 0, gen.stderr
        test = run("test", "--env", "prod", "--out", str(out), timeout=300)
        _no_traceback(test, "test")
        assert test.returncode == 0, f"obskit test failed on a spec validate accepted:\n{test.stdout[-4000:]}"
