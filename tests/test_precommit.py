"""The pre-commit hooks of .pre-commit-hooks.yaml, run by pre-commit itself (`try-repo`) in a
monitoring repo whose spec changed after its tree was committed: validate passes, gen --check fails
and lists the drift (its passing on a current tree is `obskit gen --check`'s own, in test_cli)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.install, pytest.mark.slow]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_the_hooks_validate_and_catch_a_stale_tree(tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    obskit = str(Path(sys.executable).parent / "obskit")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    repo = tmp_path / "monitoring"
    repo.mkdir()
    for args in (["git", "init", "-q"], [obskit, "init"], [obskit, "gen", "--env", "prod"]):
        assert _run(args, repo, env).returncode == 0, args
    assert _run(["git", "add", "-A"], repo, env).returncode == 0
    assert _run(["git", "commit", "-qm", "spec and tree"], repo, env).returncode == 0

    spec = repo / "obskit.yaml"
    text = spec.read_text()
    assert "objective: 99.9 " in text
    spec.write_text(text.replace("objective: 99.9 ", "objective: 99.5 ", 1))  # valid, but the tree is now stale
    # one run of every hook (pre-commit installs the hooks' environment once per try-repo)
    result = _run([pre_commit, "try-repo", str(REPO), "--all-files"], repo, env)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("obskit ")]
    assert {line.split(".")[0]: line.rsplit(".", 1)[-1] for line in lines} == {
        "obskit validate": "Passed",
        "obskit gen --check": "Failed",
    }, result.stdout
    assert "prometheus/rules/" in result.stdout  # the drift gen --check lists
