"""MongoDB with mongodump: its part of the spec (obskit/spec/fragment.py), the datastore fields beyond
the common ones and the environment's `mongodump` section, with their checks and typed settings.

    environments:
      prod:
        mongodump:                     # where WAL-G's MongoDB mode keeps the dumps, and the jobs' image
          prefix: s3://acme-mongo-backups/prod
          credentials_secret: walg     # may be the PostgreSQL engine's walg section's Secret
          image: registry.example.com/obskit-mongodb-runner:1
    services:
      events:
        backup:
          datastores:
            events-db:
              engine: mongodb
              method: mongodump
              size: 50Gi
              restore_throughput: 100MiB/s
              schedule: "0 */4 * * *"  # optional: derived from the RPO when absent
              oplog: true              # the default; needs replica_set
              replica_set: rs0         # mongodump --oplog needs a replica set member
              uri_secret: {secret: events-db-backup, key: uri}
              exporter_job: events-db-mongodb-exporter   # optional: the oplog window's alerts

The section is the engine's own rather than the PostgreSQL engine's `walg`: the jobs need another
image (WAL-G's MongoDB build, the MongoDB tools), and an engine's section is typed by one engine.
Its storage fields are named and checked as `walg`'s are, so the same values can be copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from obskit import units
from obskit.engines import walg_storage
from obskit.engines.mongodb_dump import defaults
from obskit.spec.fragment import DatastoreKind
from obskit.spec.model import Datastore, Environment, SecretRef
from obskit.spec.schema import text

DATASTORE_FIELDS = {
    "schedule": text(),  # a 5-field cron, read by the plan (schedule.py), which refuses what it cannot read
    "oplog": {"type": "boolean"},
    "replica_set": text(check_with="label_value"),
    "duration": {"check_with": "duration"},  # a dump's measured duration
    "restore_duration": {"check_with": "duration"},  # a measured drill, oplog replay included
    "uri_secret": {"check_with": "secret_ref", "required": True},
    "exporter_job": text(check_with="label_value"),
}

SECTION = "mongodump"
SECTION_FIELDS = {
    "prefix": text(required=True, check_with="object_store_prefix"),
    "credentials_secret": text(required=True, check_with="dns1123_subdomain"),
    "image": text(required=True),  # built from jobs/Dockerfile, or the user's own
    "service_account": text(check_with="dns1123_subdomain"),  # for IRSA / Workload Identity
    "key_file": {"check_with": "secret_ref"},  # a gs:// service account key, mounted as a file
    "volume_claim": text(check_with="dns1123_subdomain"),  # the PVC that holds a file:// prefix
    "drill_storage_class": text(check_with="dns1123_subdomain"),  # of the drill's scratch volume
}


@dataclass(frozen=True)
class MongodumpFields:
    """A mongodump datastore's own fields."""

    schedule: str | None  # None: derived from the RPO
    oplog: bool
    replica_set: str | None
    duration: units.Duration | None
    restore_duration: units.Duration | None
    uri_secret: SecretRef
    exporter_job: str | None  # None: no mongodb_exporter, no oplog alerts


@dataclass(frozen=True)
class MongodumpSection:
    """The environment's `mongodump` section: where WAL-G keeps the dumps, and the jobs' image."""

    prefix: str
    credentials_secret: str
    image: str
    service_account: str | None = None
    key_file: SecretRef | None = None
    volume_claim: str | None = None
    drill_storage_class: str | None = None


def _duration(value: str | None) -> units.Duration | None:
    return units.parse_duration(value) if value is not None else None


def _secret(value: Mapping[str, Any] | None) -> SecretRef | None:
    return SecretRef(value["secret"], value["key"]) if value else None


def _fields(service: str, name: str, data: Mapping[str, Any]) -> MongodumpFields:
    uri = _secret(data.get("uri_secret"))
    assert uri is not None, "the schema requires uri_secret"
    return MongodumpFields(
        schedule=data.get("schedule"),
        oplog=data.get("oplog", True),
        replica_set=data.get("replica_set"),
        duration=_duration(data.get("duration")),
        restore_duration=_duration(data.get("restore_duration")),
        uri_secret=uri,
        exporter_job=data.get("exporter_job"),
    )


def _section(data: Mapping[str, Any]) -> MongodumpSection:
    return MongodumpSection(
        prefix=data["prefix"],
        credentials_secret=data["credentials_secret"],
        image=data["image"],
        service_account=data.get("service_account"),
        key_file=_secret(data.get("key_file")),
        volume_claim=data.get("volume_claim"),
        drill_storage_class=data.get("drill_storage_class"),
    )


KIND = DatastoreKind(
    engine=defaults.ENGINE,
    method=defaults.METHOD,
    fields=DATASTORE_FIELDS,
    settings=_fields,
    section=SECTION,
    section_fields=SECTION_FIELDS,
    section_settings=_section,
    section_checks=walg_storage.storage_checks,
    backed_up_with="mongodump",
)


def fields(datastore: Datastore) -> MongodumpFields:
    settings = datastore.settings
    assert isinstance(settings, MongodumpFields), "a mongodump datastore's settings come from its own fragment"
    return settings


def section(environment: Environment) -> MongodumpSection:
    """The environment's mongodump section; validation requires it wherever a datastore uses this engine."""
    found = environment.section(SECTION)
    assert isinstance(found, MongodumpSection), "validation requires the mongodump section with a mongodump datastore"
    return found
