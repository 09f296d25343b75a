"""Rendering in parts and in worker processes gives the tree a single process gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from benchmarks.synthetic import write_spec
from obskit.cli import main
from obskit.generate import parallel
from obskit.generate.parallel import generate_tree_parallel
from obskit.generate.tree import SERVICES_PER_PART, generate_tree, plan_parts
from obskit.pipeline import load_plan
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_spec(tmp_path_factory.mktemp("spec"), 12)


def test_parts_cover_every_service_once(spec: Path) -> None:
    plan = load_plan(spec, "prod")
    parts = plan_parts(plan, 5)
    covered = [index for part in parts for index in range(part.start, part.stop)]
    assert covered == list(range(len(plan.services)))
    assert [(part.number, part.count) for part in parts] == [(1, 3), (2, 3), (3, 3)]


def test_workers_render_the_same_bytes_as_one_process(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_DIRECT_FOR_WORKERS", 0)  # the services share shapes: workers anyway
    plan = load_plan(spec, "prod")
    assert generate_tree_parallel(plan, jobs=1) == generate_tree(plan)
    single = generate_tree_parallel(plan, jobs=1, services_per_part=2)
    assert generate_tree_parallel(plan, jobs=2, services_per_part=2) == single  # 6 parts: workers run
    assert sorted(path for path in single if path.startswith("grafana/dashboards/")) == [
        "grafana/dashboards/obskit-prod-dr.json",
        "grafana/dashboards/obskit-prod-overview.json",
        "grafana/dashboards/obskit-prod-slo.json",
    ]


def test_a_large_environment_gets_the_same_three_dashboards(spec: Path) -> None:
    """Rendered in parts, the environment still has one overview, one SLO detail and one DR dashboard."""
    tree = generate_tree_parallel(load_plan(spec, "prod"), jobs=1, services_per_part=5)
    dashboards = {
        path.split("/")[-1][: -len(".json")]: json.loads(text)
        for path, text in tree.items()
        if path.startswith("grafana/dashboards/")
    }
    assert sorted(dashboards) == ["obskit-prod-dr", "obskit-prod-overview", "obskit-prod-slo"]
    schema = json.loads(shared_path("schemas", "grafana", "dashboard.jsonschema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    for uid, dashboard in dashboards.items():
        assert [e.message for e in validator.iter_errors(dashboard)] == [], uid


def test_the_dashboard_configmaps_stay_under_the_kubernetes_limits(tmp_path: Path) -> None:
    """A client-side `kubectl apply` (and Argo CD's default sync) keeps the whole object as JSON in
    an annotation, and Kubernetes caps annotations at 256 KiB. The dashboards do not grow with the
    services (tested in test_dashboards), so these sizes hold for any environment; Argo CD is told
    to apply server-side anyway."""
    plan = load_plan(write_spec(tmp_path, SERVICES_PER_PART), "prod")
    tree = generate_tree(plan)
    for uid in ("obskit-prod-dr", "obskit-prod-overview", "obskit-prod-slo"):
        config_map = yaml.safe_load(tree[f"grafana/configmaps/{uid}.yaml"])
        last_applied = json.dumps(config_map, separators=(",", ":"))
        assert len(last_applied.encode()) < 262_144 // 4, (uid, len(last_applied))
        assert config_map["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "ServerSideApply=true"
        (dashboard,) = config_map["data"].values()
        assert "\n" not in dashboard and json.loads(dashboard) == json.loads(tree[f"grafana/dashboards/{uid}.json"])


def test_gen_jobs_option(spec: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    one = runner.invoke(main, ["gen", "--env", "prod", "--spec", str(spec), "--out", str(tmp_path / "a"), "-j", "1"])
    two = runner.invoke(
        main, ["gen", "--env", "prod", "--spec", str(spec), "--out", str(tmp_path / "b"), "--jobs", "2"]
    )
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    bad = runner.invoke(main, ["gen", "--env", "prod", "--spec", str(spec), "--out", str(tmp_path / "c"), "-j", "0"])
    assert bad.exit_code == 2 and "--jobs" in bad.output
    assert not (tmp_path / "c").exists()


def test_gen_with_workers_from_both_entry_points(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec", 3 * SERVICES_PER_PART + 10)  # 4 parts: workers start
    script = Path(sys.executable).parent / "obskit"
    runs = {
        "module": [sys.executable, "-m", "obskit", "gen", "--env", "prod", "--spec", str(spec), "--jobs", "2"],
        "script": [str(script), "gen", "--env", "prod", "--spec", str(spec), "--jobs", "1"],
    }
    for name, command in runs.items():
        done = subprocess.run([*command, "--out", str(tmp_path / name)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("files (") == 1  # one run of the CLI, not one per worker
    module, single = tmp_path / "module", tmp_path / "script"
    files = sorted(p.relative_to(single) for p in single.rglob("*") if p.is_file())
    assert len(files) > 1000
    assert all((module / f).read_bytes() == (single / f).read_bytes() for f in files)
