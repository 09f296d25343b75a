"""`make bench`'s fleet of unlike services and its verdicts: the fleet is the same for the same size,
a valid spec, and as unlike as the bench claims; each target reads met, NOT MET or not measured."""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks.fleet import write_fleet
from benchmarks.run import Run, targets
from obskit.generate.shaped import ShapedRenderer
from obskit.pipeline import load_plan, validate


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_the_fleet_is_the_same_for_the_same_size(tmp_path: Path) -> None:
    assert _files(write_fleet(tmp_path / "a", 60)) == _files(write_fleet(tmp_path / "b", 60))


def test_the_fleet_is_valid_and_no_two_services_share_a_shape(tmp_path: Path) -> None:
    spec = write_fleet(tmp_path / "fleet", 60)
    validate(spec)
    assert ShapedRenderer(load_plan(spec, "prod")).rendered_directly == 60
    documents = [yaml.safe_load(path.read_text()) for path in spec.glob("team-*.yaml")]
    services = [service for document in documents for service in document["services"].values()]
    slos = [slo for service in services for slo in service["slos"].values()]
    assert len(services) == 60 and len({service["tier"] for service in services}) == 4
    assert {slo.get("window") for slo in slos} == {None, "7d", "28d", "30d"}
    assert {kind for slo in slos for kind in ("errors", "latency", "error_query") if kind in slo} == {
        "errors",
        "latency",
        "error_query",
    }
    assert any("teams" in document for document in documents)


def test_each_target_says_met_not_met_or_not_measured() -> None:
    results = {1000: {"gen": Run(2.5, 120, 0, cpu=2.4), "gen-mem": Run(3.5, 120, 0), "test": Run(20, 400, 0)}}
    lines = targets(results)
    assert lines[0] == "gen 1000 services to disk: at most 3 s and 300 MiB: 2.50 s (2.4 s CPU), 120 MiB: met"
    assert lines[1].endswith("3.50 s (0.0 s CPU), 120 MiB: NOT MET")
    assert "gen 5000 / 1000 services to disk: at most 5x: not measured (5000 services not run)" in lines
    assert "test 1000 services: at most 15 s: 20.00 s (0.0 s CPU), 400 MiB: NOT MET" in lines
    assert all("not measured" not in line for line in targets(results, unmeasured=False))
    failed = {1000: {"gen": Run(1.0, 100, 1)}}
    assert targets(failed)[0].endswith("NOT MET")  # a failed run meets nothing
