"""The engine seam (obskit/plan/engine.py): generic code says what an engine tells it, in the
engine's own words, and never imports it (`make lint` holds that part)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from obskit.engines.registry import ENGINES
from obskit.generate.tree import generate_tree
from obskit.pipeline import load_plan
from tests.conftest import EXAMPLES

VELERO_NOTE = (
    "checkout: label the PersistentVolumeClaims of orders-db velero.io/exclude-from-backup=true: WAL-G backs "
    "them up, and Velero's copy of a live PostgreSQL data directory is not consistent"
)


def test_every_registered_engine_is_known_to_the_plan_by_its_key() -> None:
    plan = load_plan(EXAMPLES, "prod")
    assert [engine.key for engine in plan.engines] == list(ENGINES) == [("postgres", "wal-g")]
    (orders,) = next(service for service in plan.services if service.name == "checkout").datastores
    assert ENGINES[orders.datastore.engine, orders.datastore.method].plan is not None


def test_the_velero_note_gives_the_engines_reason() -> None:
    assert VELERO_NOTE in load_plan(EXAMPLES, "prod").notes


def test_a_resources_only_schedule_names_what_archives_the_data(tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES, spec)
    payments = spec / "payments.yaml"
    payments.write_text(payments.read_text().replace("volumes: snapshot", "volumes: none"))
    tree = generate_tree(load_plan(spec, "prod"))
    groups = yaml.safe_load(tree["prometheus/rulefiles/checkout.rules.yaml"])["groups"]
    (too_old, *_) = [rule for group in groups for rule in group["rules"] if rule.get("alert") == "BackupTooOld"]
    assert too_old["labels"]["severity"] == "warning"
    assert "(its data is archived by WAL-G)" in too_old["annotations"]["description"]
