"""The mongodump engine through the whole pipeline (validate, plan, gen, test), beside the PostgreSQL
engine. It was written before the registry line, which the fixture below now only restates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from obskit import pipeline
from obskit.cli import main
from obskit.engines.mongodb_dump.plan import ENGINE as MONGODB_DUMP
from obskit.engines.registry import ENGINES
from obskit.verify.objects import object_problems

SPEC = """\
apiVersion: obskit/v1
defaults: {runbook_url: "https://r/{service}/{alert}"}
environments:
  prod:
    labels: {env: prod}
    mongodump:
      prefix: "s3://acme-mongo-backups/prod"
      credentials_secret: walg
      image: "registry.example.com/obskit-mongodb-runner:1"
    pushgateway: http://pushgateway.monitoring.svc:9091
services:
  events:
    namespace: analytics
    tier: TIER
    team: data
    selector: {app: events}
    metrics: {port: metrics}
    backup:
      velero: false
      datastores:
        events-db:
          engine: mongodb
          method: mongodump
          schedule: "0 */4 * * *"
          oplog: true
          replica_set: rs0
          size: 50Gi
          restore_throughput: 100MiB/s
          uri_secret: {secret: events-db-backup, key: uri}
          exporter_job: events-db-mongodb-exporter
"""


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    engines = {**ENGINES, MONGODB_DUMP.key: MONGODB_DUMP}
    monkeypatch.setattr(pipeline, "ENGINES", engines)
    monkeypatch.setattr(pipeline, "KINDS", tuple(engine.spec for engine in engines.values()))


def spec_file(tmp_path: Path, tier: str = "tier3_low", text: str = SPEC) -> Path:
    path = tmp_path / "obskit.yaml"
    path.write_text(text.replace("TIER", tier))
    return path


def test_obskit_plan_shows_the_mongodb_row_with_its_loss_and_restore(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plan", "--env", "prod", "--spec", str(spec_file(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "events-db" in result.output and "a dump every 4h" in result.output
    as_json = CliRunner().invoke(main, ["plan", "--env", "prod", "--spec", str(spec_file(tmp_path)), "--json"])
    assert as_json.exit_code == 0, as_json.output
    text = json.dumps(json.loads(as_json.output))
    assert '"worst_case_loss_seconds": 15544' in text  # 4h + 17m4s + 2m
    assert '"restore_estimate_seconds": 1656' in text  # 2m + 8m32s + 17m4s


def test_a_tier1_mongodump_is_refused_with_the_remedy(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", "--spec", str(spec_file(tmp_path, "tier1_critical"))])
    assert result.exit_code == 2
    assert "events/events-db: a dump every 4h (`0 */4 * * *`) loses up to ~4.3h" in result.output
    assert "Percona Backup for MongoDB's PITR" in result.output
    assert "which obskit does not support yet" in result.output


def test_the_spec_refuses_a_datastore_without_its_uri_secret_and_an_environment_without_the_section(
    tmp_path: Path,
) -> None:
    text = SPEC.replace("          uri_secret: {secret: events-db-backup, key: uri}\n", "")
    result = CliRunner().invoke(main, ["validate", "--spec", str(spec_file(tmp_path, text=text))])
    assert result.exit_code == 2 and "uri_secret" in result.output
    text = SPEC.replace('      image: "registry.example.com/obskit-mongodb-runner:1"\n', "")
    result = CliRunner().invoke(main, ["validate", "--spec", str(spec_file(tmp_path, text=text))])
    assert result.exit_code == 2 and "image" in result.output


def test_oplog_without_a_replica_set_is_refused_at_the_datastore(tmp_path: Path) -> None:
    text = SPEC.replace("          replica_set: rs0\n", "")
    result = CliRunner().invoke(main, ["validate", "--spec", str(spec_file(tmp_path, text=text))])
    assert result.exit_code == 2
    assert "mongodump --oplog works only against a replica set member" in result.output


@pytest.mark.slow
@pytest.mark.tools("promtool")
def test_the_generated_tree_holds_valid_objects_and_passes_obskit_test(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generated = CliRunner().invoke(
        main, ["gen", "--env", "prod", "--spec", str(spec_file(tmp_path)), "--out", str(out)]
    )
    assert generated.exit_code == 0, generated.output
    documents = list(yaml.safe_load_all((out / "backup" / "mongodb" / "events-events-db.yaml").read_text()))
    assert [d["kind"] for d in documents] == ["ConfigMap", "ConfigMap", "CronJob", "CronJob", "CronJob"]
    for document in documents:
        assert object_problems(document) == [], document["metadata"]["name"]
    runbook = next(out.rglob("events.disaster-recovery.md")).read_text()
    assert "## Datastore events-db (MongoDB, mongodump)" in runbook
    dashboards = "\n".join(p.read_text() for p in out.rglob("*.yaml") if "dr" in p.name)
    assert "MongoDB dumps" in dashboards
    tested = CliRunner().invoke(main, ["test", "--env", "prod", "--out", str(out)])
    assert tested.exit_code == 0, tested.output
