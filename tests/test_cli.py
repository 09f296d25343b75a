"""The CLI, through click's runner and through the installed `obskit` command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from obskit.cli import main
from tests.conftest import EXAMPLES, MINIMAL, REPO

OBSKIT = shutil.which("obskit", path=str(Path(sys.executable).parent))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert OBSKIT, "the obskit console script is not installed in this environment"
    return subprocess.run([OBSKIT, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args", [["--help"], ["gen", "--help"], ["validate", "--help"], ["--version"]])
def test_help_and_version(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0
    assert result.output.strip()


def test_gen_help_documents_exit_codes() -> None:
    result = CliRunner().invoke(main, ["gen", "--help"])
    assert "1 drift" in result.output and "2 invalid" in result.output and "./out/ENV" in result.output


def test_gen_writes_the_tree_and_check_confirms_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out))
    assert written.returncode == 0, written.stderr
    count = sum(1 for path in (REPO / "tests/golden/prod").rglob("*") if path.is_file())  # the manifest too
    assert f"{count} files ({count} added, 0 changed, 0 removed)" in written.stdout
    assert (out / "prometheus/servicemonitors/checkout.yaml").is_file()
    checked = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out), "--check")
    assert checked.returncode == 0, checked.stdout
    assert "up to date" in checked.stdout


def test_check_lists_drift_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out)).returncode == 0
    (out / "kustomization.yaml").write_text("hand edit\n")
    (out / "prometheus/servicemonitors/catalog-api.yaml").unlink()
    before = tree(out)
    checked = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out), "--check")
    assert checked.returncode == 1
    assert "changed: kustomization.yaml" in checked.stdout
    assert "added:   prometheus/servicemonitors/catalog-api.yaml" in checked.stdout
    assert tree(out) == before
    fresh = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(tmp_path / "none"), "--check")
    assert fresh.returncode == 1
    assert not (tmp_path / "none").exists()


def test_check_lists_files_that_would_be_removed(tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES, spec)
    out = tmp_path / "out"
    assert run("gen", "--env", "prod", "--spec", str(spec), "--out", str(out)).returncode == 0
    (spec / "catalog.yaml").unlink()
    checked = run("gen", "--env", "prod", "--spec", str(spec), "--out", str(out), "--check")
    assert checked.returncode == 1
    assert "removed: prometheus/servicemonitors/catalog-api.yaml" in checked.stdout


def test_invalid_spec_exits_2_with_every_problem_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out)).returncode == 0
    before = tree(out)
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("namespace: shop", "namespace: Shop").replace("tier1_critical", "gold"))
    for args in (["gen", "--env", "prod", "--out", str(out)], ["validate"]):
        result = run(*args, "--spec", str(bad))
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert f"{bad}:9: services.checkout.namespace: 'Shop' is not a DNS-1123 label" in result.stderr
        assert f"{bad}:10: services.checkout.tier: unknown tier 'gold'" in result.stderr
        assert "2 problems found, nothing written" in result.stderr
    assert tree(out) == before
    result = run("gen", "--env", "prod", "--spec", str(bad), "--out", str(tmp_path / "new"))
    assert result.returncode == 2
    assert not (tmp_path / "new").exists()


def test_unknown_environment_names_the_known_ones(tmp_path: Path) -> None:
    result = run("gen", "--env", "qa", "--spec", str(EXAMPLES), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "unknown environment 'qa'; the spec defines: prod, staging" in result.stderr
    assert not (tmp_path / "out").exists()
    assert run("validate", "--env", "qa", "--spec", str(EXAMPLES)).returncode == 2


def test_validate_checks_every_environment(write_spec) -> None:
    text = MINIMAL.replace(
        "    labels: {env: prod}\n",
        "    labels: {env: prod}\n  staging:\n    services:\n      checkout: {tier: gold}\n",
    )
    path = write_spec(text)
    result = CliRunner().invoke(main, ["validate", "--spec", str(path)])
    assert result.exit_code == 2
    assert "environments.staging.services.checkout.tier: unknown tier 'gold'" in result.output
    only_prod = CliRunner().invoke(main, ["validate", "--spec", str(path), "--env", "prod"])
    assert only_prod.exit_code == 0, only_prod.output
    good = CliRunner().invoke(main, ["validate", "--spec", str(EXAMPLES)])
    assert good.exit_code == 0
    assert "valid (4 services; environments: prod, staging)" in good.output


def test_defaults_are_obskit_yaml_and_out_env(tmp_path: Path) -> None:
    (tmp_path / "obskit.yaml").write_text(MINIMAL)
    result = run("gen", "--env", "prod", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/prod/prometheus/servicemonitors/checkout.yaml").is_file()
    missing = run("validate", cwd=tmp_path / "out")
    assert missing.returncode == 2
    assert "obskit.yaml: (top level): no such spec file or directory (pass --spec PATH)" in missing.stderr


def test_refuses_to_replace_a_directory_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("a repository\n")
    result = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(tmp_path))
    assert result.returncode == 2
    assert "was not written by obskit" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_binary_spec_is_refused_cleanly(tmp_path: Path) -> None:
    (tmp_path / "obskit.yaml").write_bytes(bytes(range(256)))
    result = run("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert "obskit.yaml:1: (top level): binary file" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_diff_shows_a_unified_diff_per_file_and_repeats_the_options(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out)).returncode == 0
    monitor = out / "prometheus/servicemonitors/checkout.yaml"
    monitor.write_text(monitor.read_text().replace("interval: 15s", "interval: 16s"))
    (out / "kustomization.yaml").unlink()
    checked = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out), "--check", "--diff")
    assert checked.returncode == 1
    assert f"(run `obskit gen --env prod --spec {EXAMPLES} --out {out}`)" in checked.stdout
    assert "--- /dev/null\n+++ b/kustomization.yaml\n" in checked.stdout
    assert "--- a/prometheus/servicemonitors/checkout.yaml\n" in checked.stdout
    assert "-  - interval: 16s\n+  - interval: 15s\n" in checked.stdout
    # kustomization (k) sorts before prometheus/ (p): one diff per file, by path
    assert checked.stdout.index("b/kustomization.yaml") < checked.stdout.index("a/prometheus/")


def test_diff_without_check_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    result = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(tmp_path / "out"), "--diff")
    assert result.returncode == 2 and "--diff goes with --check" in result.stderr
    assert not (tmp_path / "out").exists()


def test_force_adopts_a_tree_whose_manifest_was_deleted_and_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out)).returncode == 0
    (out / ".obskit-manifest").unlink()
    (out / "notes.txt").write_text("mine\n")
    refused = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out))
    assert refused.returncode == 2 and "adopt it with --force" in refused.stderr
    adopted = run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out), "--force")
    assert adopted.returncode == 0, adopted.stderr
    assert (out / ".obskit-manifest").is_file() and (out / "notes.txt").read_text() == "mine\n"
    assert run("gen", "--env", "prod", "--spec", str(EXAMPLES), "--out", str(out), "--check").returncode == 0


def test_gen_says_a_note_shared_by_many_services_once(tmp_path: Path) -> None:
    from benchmarks.synthetic import write_spec

    spec = write_spec(tmp_path / "spec", 5)
    result = CliRunner().invoke(main, ["gen", "--env", "prod", "--spec", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert notes[0] == (
        "note: svc-00000, svc-00001, svc-00002 and 2 more services: its data is in its datastores "
        "(backup.volumes none), whose own backups meet the RPO; Velero keeps its Kubernetes resources every 1d"
    )
    # and the environment's own, and once for every datastore without `version`: what the drills assume
    assert len(notes) == 3
