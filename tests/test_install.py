"""The plain install: the sdist and the wheel built from it, each installed (not editable) into
a fresh virtualenv, generate exactly the golden tree from the bundled example and pass
`obskit test`. Catches package data that a checkout has and an installed obskit lacks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO
from tests.golden_tree import GOLDEN, differences, on_disk

pytestmark = [pytest.mark.install, pytest.mark.tools("promtool", "amtool")]  # `obskit test` in each


def _run(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(map(str, args))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel, the wheel built from the sdist (as `python -m build` does), from a copy
    of the tracked files only: what a clean clone has."""
    root = tmp_path_factory.mktemp("dist")
    source = root / "source"
    files = _run("git", "ls-files", "-z", cwd=REPO).stdout.split("\0")
    for name in filter(None, files):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target)
    _run(sys.executable, "-m", "build", "--outdir", root / "out", source)
    return root / "out"


@pytest.mark.parametrize("kind", ["whl", "tar.gz"])
def test_the_installed_package_generates_the_golden_tree(dist: Path, tmp_path: Path, kind: str) -> None:
    (artifact,) = dist.glob(f"obskit_gen-*.{kind}")
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    _run(bin_dir / "pip", "install", "--quiet", artifact)
    obskit = bin_dir / "obskit"
    work = tmp_path / "work"
    work.mkdir()  # not the repository: nothing may be read from a checkout
    assert _run(obskit, "--version", cwd=work).stdout.split()[-1] == _version_of(artifact)
    metadata = _run(bin_dir / "python", "-c", METADATA, cwd=work).stdout
    assert {"Source", "Documentation", "Changelog", "Issues"} <= {line.split(",")[0] for line in metadata.splitlines()}
    _run(obskit, "validate", "--spec", EXAMPLES, cwd=work)
    for environment in ("prod", "staging"):
        out = work / "out" / environment
        _run(obskit, "gen", "--env", environment, "--spec", EXAMPLES, "--out", out, cwd=work)
        diff = differences(on_disk(GOLDEN / environment), on_disk(out))
        assert not diff, "the installed obskit writes another tree:\n" + "\n".join(diff)
    _run(obskit, "test", "--env", "prod", "--out", work / "out" / "prod", cwd=work)
    _run(obskit, "init", work / "starter", cwd=work)
    _run(obskit, "validate", "--spec", work / "starter" / "obskit.yaml", cwd=work)
    installed = _run(bin_dir / "python", "-c", MODULES, cwd=work).stdout.split()
    assert (
        installed == _run(sys.executable, "-c", MODULES, cwd=REPO).stdout.split()
    )  # obskit check's live/ was left out


def _version_of(artifact: Path) -> str:
    return artifact.name.removeprefix("obskit_gen-").removesuffix(".tar.gz").split("-")[0]


METADATA = "import importlib.metadata as m; print(*m.metadata('obskit-gen').get_all('Project-URL'), sep='\\n')"


# Every module of the package (not its data: the builtin_* folders and the job scripts, which run in
# the jobs' image), each imported: the installed obskit must have what the checkout has.
MODULES = """
import importlib, pathlib, obskit
root = pathlib.Path(obskit.__file__).parent
def data(parts): return parts[0].startswith("builtin_") or "jobs" in parts
for path in sorted(p for p in root.rglob("*.py") if not data(p.relative_to(root).parts)):
    module = ".".join(("obskit", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
    importlib.import_module(module)
    print(module)
"""
