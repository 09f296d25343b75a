"""Rendering in parts and in worker processes gives the tree a single process gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.synthetic import write_spec
from obskit.cli import main
from obskit.generate import generate_tree, plan_parts
from obskit.generate.parallel import generate_tree_parallel
from obskit.pipeline import load_plan


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_spec(tmp_path_factory.mktemp("spec"), 12)


def test_parts_cover_every_service_once(spec: Path) -> None:
    plan = load_plan(spec, "prod")
    parts = plan_parts(plan, 5)
    covered = [index for part in parts for index in range(part.start, part.stop)]
    assert covered == list(range(len(plan.services)))
    assert [part for part in parts if part.overview] and [part for part in parts if part.dr]


def test_workers_render_the_same_bytes_as_one_process(spec: Path) -> None:
    plan = load_plan(spec, "prod")
    single = generate_tree(plan)
    assert generate_tree_parallel(plan, jobs=2, services_per_part=2) == single  # 8 parts: workers run
    assert generate_tree_parallel(plan, jobs=1, services_per_part=2) == single
    assert "grafana/dashboards/obskit-prod-overview.json" in single
    assert sum(path.startswith("grafana/dashboards/obskit-prod-svc-") for path in single) == 12


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
