"""The output tree: deterministic, atomically replaced, never outside --out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from obskit.output import writer
from obskit.pipeline import load_plan, output_tree
from tests.conftest import EXAMPLES


def example_tree(env: str = "prod") -> dict[str, str]:
    return output_tree(load_plan(EXAMPLES, env))


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def snapshot_of(tree: dict[str, str]) -> dict[str, bytes]:
    return {path: text.encode("utf-8") for path, text in sorted(tree.items())}


def test_generation_is_byte_identical_across_runs(tmp_path: Path) -> None:
    writer.write(tmp_path / "a", example_tree())
    writer.write(tmp_path / "b", example_tree())
    first = snapshot(tmp_path / "a")
    assert first == snapshot(tmp_path / "b")
    writer.write(tmp_path / "a", example_tree())
    assert snapshot(tmp_path / "a") == first


def test_diff_reports_added_changed_and_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    tree = example_tree()
    assert sorted(writer.diff(out, tree).added) == sorted(tree)
    writer.write(out, tree)
    assert not writer.diff(out, tree)
    (out / "kustomization.yaml").write_text("edited\n")
    (out / "prometheus/servicemonitors/checkout.yaml").unlink()
    smaller = {k: v for k, v in tree.items() if "search-indexer" not in k}
    drift = writer.diff(out, writer.with_manifest({k: v for k, v in smaller.items() if k != writer.MANIFEST}))
    assert drift.changed == sorted(["kustomization.yaml", writer.MANIFEST])
    assert drift.added == ["prometheus/servicemonitors/checkout.yaml"]
    assert drift.removed == [path for path in sorted(tree) if "search-indexer" in path]


def test_files_no_longer_generated_are_removed_and_foreign_files_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer.write(out, example_tree())
    (out / "NOTES.md").write_text("mine\n")
    (out / "prometheus" / "extra.txt").write_text("mine too\n")
    smaller = {k: v for k, v in example_tree().items() if "search-indexer" not in k and k != writer.MANIFEST}
    writer.write(out, writer.with_manifest(smaller))
    files = snapshot(out)
    assert "prometheus/servicemonitors/search-indexer.yaml" not in files
    assert files["NOTES.md"] == b"mine\n"
    assert files["prometheus/extra.txt"] == b"mine too\n"


def test_nothing_is_written_outside_the_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "parent" / "out"
    (tmp_path / "parent").mkdir()
    (tmp_path / "parent" / "sibling.txt").write_text("keep\n")
    writer.write(out, example_tree())
    writer.write(out, example_tree())
    assert sorted(p.name for p in (tmp_path / "parent").iterdir()) == ["out", "sibling.txt"]
    with pytest.raises(ValueError, match="would leave the output directory"):
        writer.with_manifest({"../escape.yaml": "x"})


def test_an_interrupted_write_leaves_the_previous_tree_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    writer.write(out, example_tree("staging"))
    before = snapshot(out)
    written: list[str] = []
    real_write_file = writer._write_file

    def failing_write_file(target: str, data: bytes) -> None:
        if len(written) == 2:
            raise KeyboardInterrupt("interrupted mid-way")
        written.append(target)
        real_write_file(target, data)

    monkeypatch.setattr(writer, "_write_file", failing_write_file)
    with pytest.raises(KeyboardInterrupt):
        writer.write(out, example_tree("prod"))
    monkeypatch.undo()
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the half-built tree is gone too
    assert len(written) == 2


def test_a_failed_swap_leaves_the_previous_tree_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    writer.write(out, example_tree("staging"))
    before = snapshot(out)

    def failing_exchange(first: Path, second: Path) -> bool:
        raise OSError(5, "I/O error", str(second))

    monkeypatch.setattr(writer, "_exchange", failing_exchange)
    with pytest.raises(
        writer.OutputError, match=r"out: cannot write the tree: I/O error; the previous tree is unchanged"
    ):
        writer.write(out, example_tree("prod"))
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_two_rename_fallback_replaces_the_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    writer.write(out, example_tree("staging"))
    monkeypatch.setattr(writer, "_exchange", lambda first, second: False)
    writer.write(out, example_tree("prod"))
    expected = tmp_path / "expected"
    writer.write(expected, example_tree("prod"))
    assert snapshot(out) == snapshot(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["expected", "out"]


def test_refuses_a_directory_obskit_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "repo"
    out.mkdir()
    (out / "important.txt").write_text("do not lose me\n")
    with pytest.raises(writer.OutputError, match="was not written by obskit"):
        writer.write(out, example_tree())
    assert (out / "important.txt").read_text() == "do not lose me\n"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(writer.OutputError, match="not a directory"):
        writer.write(a_file, example_tree())


def test_an_empty_existing_directory_is_used(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writer.write(out, example_tree())
    assert (out / writer.MANIFEST).is_file()


def test_a_failure_while_files_stream_in_leaves_the_old_tree(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer.write(out, example_tree("staging"))
    before = snapshot(out)

    def files_then_failure() -> Iterator[tuple[str, str]]:
        yield from list(example_tree("prod").items())[:5]
        raise RuntimeError("a part failed to render")

    with pytest.raises(RuntimeError, match="failed to render"):
        writer.write(out, files_then_failure())
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_streamed_files_get_their_manifest_and_the_drift_counts(tmp_path: Path) -> None:
    tree = example_tree("prod")
    body = [(path, text) for path, text in tree.items() if path != writer.MANIFEST]
    out = tmp_path / "out"
    drift = writer.write(out, writer.stream_with_manifest(iter(body)))
    assert drift.files == len(tree) and sorted(drift.added) == sorted(tree)
    assert snapshot(out) == snapshot_of(tree)
    assert not writer.diff(out, writer.stream_with_manifest(iter(body)))
