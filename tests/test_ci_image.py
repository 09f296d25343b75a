"""docker/ci.Dockerfile pins the promtool and amtool that obskit's own tests run: the Debian
versions installed here (the image's Debian is the tests' machine's, bookworm)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO

DOCKERFILE = REPO / "docker" / "ci.Dockerfile"


def _pinned(name: str) -> str:
    found = re.search(rf"^ARG {name}=(\S+)$", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert found is not None, name
    return found.group(1)


@pytest.mark.parametrize(("argument", "package"), [("PROMETHEUS_VERSION", "prometheus"),
                                                   ("ALERTMANAGER_VERSION", "prometheus-alertmanager")])  # fmt: skip
def test_the_image_pins_the_versions_the_tests_run(argument: str, package: str) -> None:
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian machine")
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
    if installed.returncode != 0:
        pytest.skip(f"{package} is not installed (make tools)")
    assert _pinned(argument) == installed.stdout


def test_the_image_installs_the_wheel_the_readme_builds() -> None:
    assert "COPY dist/obskit_gen-*.whl" in DOCKERFILE.read_text(encoding="utf-8")
    assert "pip wheel --no-deps -w dist ." in (REPO / "README.md").read_text(encoding="utf-8")
