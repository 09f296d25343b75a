"""The golden tree: what `obskit gen` writes for examples/, kept under tests/golden/<env>.

`make golden` (python -m tests.golden_tree) rewrites it on purpose; test_golden.py
regenerates it and compares byte for byte. Every change to generated output shows up as a
diff of tests/golden in the same commit.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from obskit.output.writer import write
from obskit.pipeline import load_plan, output_tree

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
GOLDEN = REPO / "tests" / "golden"
ENVIRONMENTS = ("prod", "staging")


def generated(environment: str) -> dict[str, str]:
    return output_tree(load_plan(EXAMPLES, environment))


def on_disk(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def differences(expected: dict[str, str], actual: dict[str, str], context: int = 3, most: int = 3) -> list[str]:
    """What differs, file by file: missing and extra paths, then unified diffs of the first changed files."""
    lines = [f"only in the golden tree: {path}" for path in sorted(expected.keys() - actual.keys())]
    lines += [f"only in the generated tree: {path}" for path in sorted(actual.keys() - expected.keys())]
    changed = [path for path in sorted(expected.keys() & actual.keys()) if expected[path] != actual[path]]
    for path in changed[:most]:
        lines += difflib.unified_diff(
            expected[path].splitlines(),
            actual[path].splitlines(),
            f"golden/{path}",
            f"generated/{path}",
            n=context,
            lineterm="",
        )
    if len(changed) > most:
        lines.append(f"... and {len(changed) - most} more changed files: {', '.join(changed[most:])}")
    return lines


def rewrite() -> None:
    for environment in ENVIRONMENTS:
        drift = write(GOLDEN / environment, generated(environment).items())
        summary = f"{len(drift.added)} added, {len(drift.changed)} changed, {len(drift.removed)} removed"
        print(f"tests/golden/{environment}: {drift.files} files ({summary})")


if __name__ == "__main__":
    rewrite()
