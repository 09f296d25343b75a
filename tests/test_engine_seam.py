"""The engine seam (obskit/plan/engine.py): generic code says what an engine tells it, in the
engine's own words, and never imports it (`make lint` holds that part)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from obskit.engines.postgres_walg.spec import WalG
from obskit.engines.registry import ENGINES
from obskit.generate.tree import generate_tree
from obskit.pipeline import KINDS, load_plan
from obskit.spec import resolve
from obskit.spec.declare import Doc, none, spec_field
from obskit.spec.fragment import DatastoreKind
from obskit.spec.problems import SpecInvalid
from obskit.spec.rules import text
from tests.conftest import EXAMPLES, MINIMAL

VELERO_NOTE = (
    "checkout: label the PersistentVolumeClaims of orders-db velero.io/exclude-from-backup=true: WAL-G backs "
    "them up, and Velero's copy of a live PostgreSQL data directory is not consistent"
)


def test_every_registered_engine_is_known_to_the_plan_by_its_key() -> None:
    plan = load_plan(EXAMPLES, "prod")
    assert [engine.key for engine in plan.engines] == list(ENGINES) == [("postgres", "wal-g"), ("mongodb", "mongodump")]
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


# A second engine's spec fragment, declared here only: the spec takes it without a change of its own.
@dataclass(frozen=True)
class _DumpFields:
    every: str | None = spec_field({"type": "string"}, Doc("cron"), absent=none)
    exporter_job: str = spec_field(
        text(check_with="label_value"), Doc("job"), absent=lambda given: f"{given['service']}-{given['name']}"
    )


@dataclass(frozen=True)
class _Dumps:
    bucket: str = spec_field({"type": "string", "required": True}, Doc("bucket"))


DUMP = DatastoreKind(
    engine="docstore",
    method="dump",
    fields=_DumpFields,
    section="dumps",
    section_fields=_Dumps,
    doc="A document store's dumps.",
    section_doc="mapping: where the dumps go",
    section_checks=lambda data: iter([(("bucket",), "must not be 'x'")] if data.get("bucket") == "x" else []),
)
TWO_ENGINES = (*KINDS, DUMP)
ENV_WITH = "    labels: {env: prod}\n    walg: {prefix: 's3://b/p', credentials_secret: s, image: r/w:1}\n"


def _with_datastore(write_spec: Callable[..., Path], datastore: str, env: str = ENV_WITH) -> Path:
    backup = f"    backup:\n      velero: false\n      datastores:\n        db: {datastore}\n"
    return write_spec(MINIMAL.replace("    labels: {env: prod}\n", env) + backup)  # type: ignore[no-any-return]


def _problems(path: Path) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        resolve.load_spec(path, TWO_ENGINES)
    return [str(problem).split(": ", 1)[1] for problem in caught.value.problems]


def test_a_new_engines_fragment_types_its_datastores_and_its_section(write_spec: Callable[..., Path]) -> None:
    env = ENV_WITH + "    dumps: {bucket: b}\n    pushgateway: 'http://pg:9091'\n"
    path = _with_datastore(write_spec, "{engine: docstore, method: dump, size: 1Gi, every: '0 * * * *'}", env)
    environment = resolve.load_spec(path, TWO_ENGINES).environment("prod")
    (datastore,) = environment.services[0].backup.datastores  # type: ignore[union-attr]
    assert datastore.settings == _DumpFields("0 * * * *", "checkout-db")
    assert environment.section("dumps") == _Dumps("b")
    assert isinstance(environment.section("walg"), WalG)


def test_the_spec_checks_each_datastore_against_its_own_engine(write_spec: Callable[..., Path]) -> None:
    path = _with_datastore(write_spec, "{engine: docstore, method: wal-g, size: 1Gi, wal_rate: 1MiB/s}")
    assert _problems(path) == ["services.checkout.backup.datastores.db.method: 'wal-g' is not a method of engine "
                               "'docstore'; choose one of: dump"]  # fmt: skip
    path = _with_datastore(write_spec, "{engine: docstore, method: dump, size: 1Gi, wal_rate: 1MiB/s, host: h}")
    assert _problems(path) == [
        "services.checkout.backup.datastores.db.host: is a field of postgres datastores, not of 'docstore' ones",
        "services.checkout.backup.datastores.db.wal_rate: is a field of postgres datastores, not of 'docstore' ones",
    ]
    path = _with_datastore(write_spec, "{engine: docstore, method: dump, size: 1Gi}")
    assert _problems(path) == [
        "environments.prod.dumps: required field is missing: services in this environment back up datastores with dump",
        "environments.prod.pushgateway: required field is missing: services in this environment back up datastores "
        "with dump",
    ]
    env = ENV_WITH + "    dumps: {bucket: x}\n    pushgateway: 'http://pg:9091'\n"
    path = _with_datastore(write_spec, "{engine: docstore, method: dump, size: 1Gi}", env)
    assert _problems(path) == ["environments.prod.dumps.bucket: must not be 'x'"]


def test_every_registered_engine_brings_its_spec_fragment() -> None:
    assert [engine.spec.key for engine in ENGINES.values()] == list(ENGINES)


def test_a_second_datastore_of_one_engine_in_a_service_is_refused(write_spec: Callable[..., Path]) -> None:
    # Their alerts share names and labels: promtool's lint saw six duplicate rules and the generated
    # tests failed, once validate had accepted the spec (found by make bench's fleet).
    env = ENV_WITH + "    pushgateway: 'http://pg:9091'\n"
    backup = (
        "    backup:\n      velero: false\n      datastores:\n"
        "        a-db: {engine: postgres, method: wal-g, size: 1Gi}\n"
        "        b-db: {engine: postgres, method: wal-g, size: 1Gi}\n"
    )
    path = write_spec(MINIMAL.replace("    labels: {env: prod}\n", env) + backup)
    with pytest.raises(SpecInvalid) as caught:
        resolve.load_spec(path, KINDS)
    assert [str(problem).split(": ", 1)[1] for problem in caught.value.problems] == [
        "services.checkout.backup.datastores.b-db: a second postgres datastore in one service ('a-db' is the "
        "first) is not supported yet: their alerts would share names and labels; give it a service of its own"
    ]
