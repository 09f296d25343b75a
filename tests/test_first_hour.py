"""What a new user runs first: `obskit init`, `--version`, the README's own example spec."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from obskit.cli import main
from obskit.pipeline import load_plan, output_tree
from tests.conftest import REPO


def test_init_writes_a_starter_spec_that_validates_and_generates(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    spec = target / "obskit.yaml"
    text = spec.read_text()
    assert text.startswith("# An obskit spec") and "# backup:" in text  # commented, a backup commented out
    assert CliRunner().invoke(main, ["validate", "--spec", str(spec)]).exit_code == 0
    tree = output_tree(load_plan(spec, "prod"))
    assert "prometheus/rules/my-service.yaml" in tree and "prometheus/tests/my-service.test.yaml" in tree


def test_init_with_its_backup_uncommented_still_validates(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(tmp_path)]).exit_code == 0
    spec = tmp_path / "obskit.yaml"
    text = spec.read_text()
    text = text.replace("    # backup:", "    backup:").replace("    #   volumes", "      volumes")
    text = text.replace("    # velero:", "    velero:")
    spec.write_text(text)
    result = CliRunner().invoke(main, ["validate", "--spec", str(spec)])
    assert result.exit_code == 0, result.output


def test_init_never_overwrites(tmp_path: Path) -> None:
    spec = tmp_path / "obskit.yaml"
    spec.write_text("mine\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert "exists" in result.output and spec.read_text() == "mine\n"


def test_version_names_the_command() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and re.fullmatch(r"obskit, version \d+\.\d+\.\d+(\.dev\d+)?\n", result.output)


def test_the_readme_example_spec_validates_and_generates(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", readme[readme.index("## The spec") :], re.S)
    assert block, "README.md has no yaml block under '## The spec'"
    spec = tmp_path / "obskit.yaml"
    spec.write_text(block.group(1))
    result = CliRunner().invoke(main, ["validate", "--spec", str(spec)])
    assert result.exit_code == 0, result.output
    for environment in ("prod", "staging"):
        assert output_tree(load_plan(spec, environment))


def test_the_readme_documents_every_command_and_its_options() -> None:
    """As sqlite-utils does: a command or option added without its documentation fails here."""
    readme = (REPO / "README.md").read_text()
    table = readme.split("## The CLI", 1)[1].split("\n## ", 1)[0]
    for name, command in main.commands.items():
        assert f"`obskit {name}" in table, name
        for option in command.params:
            documented = [flag for flag in option.opts if flag.startswith("--") and flag in readme]
            assert documented or option.name in ("help",) or not option.opts[0].startswith("-"), (name, option.opts)
