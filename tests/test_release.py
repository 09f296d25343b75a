"""What a pip user sees of the release: `obskit --version` is the changelog's newest version, the
README installs that wheel, and the metadata links to what the package does not carry."""

from __future__ import annotations

import re
import tomllib

from click.testing import CliRunner

from obskit.cli import main
from tests.conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _newest_changelog_version() -> str:
    heading = re.search(r"^## (\S+)", (REPO / "CHANGELOG.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert heading is not None
    return heading.group(1)


def test_the_version_is_the_changelogs_newest() -> None:
    version = _newest_changelog_version()
    assert PROJECT["version"] == version
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"obskit, version {version}\n"


def test_the_readme_installs_the_wheel_of_this_version() -> None:
    wheels = set(re.findall(r"obskit_gen-(\S+?)-py3-none-any\.whl", (REPO / "README.md").read_text(encoding="utf-8")))
    assert wheels == {PROJECT["version"]}


def test_the_metadata_links_to_the_repository_the_docs_and_the_changelog() -> None:
    assert set(PROJECT["urls"]) >= {"Source", "Documentation", "Changelog", "Issues"}
    assert all(url.startswith("https://") for url in PROJECT["urls"].values())
    assert PROJECT["urls"]["Changelog"].endswith("/CHANGELOG.md")
