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

from dataclasses import dataclass

from obskit import units
from obskit.engines import walg_storage
from obskit.engines.mongodb_dump import defaults
from obskit.spec.declare import Doc, none, spec_field
from obskit.spec.fragment import DatastoreKind
from obskit.spec.model import Datastore, Environment
from obskit.spec.refs import SecretRef, secret_ref
from obskit.spec.rules import DURATION, SECRET, text

SECTION = "mongodump"


@dataclass(frozen=True)
class MongodumpFields:
    """A mongodump datastore's own fields."""

    schedule: str | None = spec_field(
        text(),  # a 5-field cron, read by the plan (schedule.py), which refuses what it cannot read
        Doc(
            "5-field cron of the dumps; its longest gap plus a dump and its upload must fit the RPO",
            "the longest interval that does",
            'schedule: "0 */4 * * *"',
        ),
        absent=none,
    )  # None: derived from the RPO
    oplog: bool = spec_field(
        {"type": "boolean"},
        Doc("boolean: dump with `--oplog` (a consistent point in time); needs `replica_set`", "true", "oplog: false"),
        absent=lambda _: True,
    )
    replica_set: str | None = spec_field(
        text(check_with="label_value"),
        Doc(
            "the replica set's name: `--oplog` reads a replica set member's oplog, and the dump reads a secondary",
            "none",
            "replica_set: rs0",
        ),
        absent=none,
    )
    duration: units.Duration | None = spec_field(
        DURATION,
        Doc("duration of a dump, measured", "size at 50MiB/s", "duration: 25m"),
        convert=units.parse_duration,
        absent=none,
    )
    restore_duration: units.Duration | None = spec_field(
        DURATION,
        Doc(
            "duration of a restore drill, measured (oplog replay included)",
            "the plan's estimate",
            "restore_duration: 40m",
        ),
        convert=units.parse_duration,
        absent=none,
    )
    uri_secret: SecretRef = spec_field(
        {**SECRET, "required": True},
        Doc(
            "required: `{secret, key}` holding the connection URI (a user with the backup role); only the dump "
            "job reads it",
            example="uri_secret: {secret: events-db-backup, key: uri}",
        ),
        convert=secret_ref,
    )
    exporter_job: str | None = spec_field(
        text(check_with="label_value"),
        Doc(
            "the `job` of its mongodb_exporter (with `--compatible-mode`): the oplog window's alerts read it",
            "none: no oplog alerts",
            "exporter_job: events-db-exporter",
        ),
        default=None,
    )  # None: no mongodb_exporter, no oplog alerts


@dataclass(frozen=True, kw_only=True)
class MongodumpSection(walg_storage.Storage):
    """The environment's `mongodump` section: where WAL-G keeps the dumps, and the jobs' image."""

    credentials_secret: str = spec_field(
        text(required=True, check_with="dns1123_subdomain"),
        Doc("Secret with the storage credentials (may be the `walg` section's)", example="credentials_secret: walg-s3"),
    )
    image: str = spec_field(
        text(required=True),
        Doc(
            "required: the jobs' image with WAL-G's MongoDB build, the MongoDB database tools, mongod, mongosh, "
            "python3 and prometheus-client (build it from `obskit/engines/mongodb_dump/jobs/Dockerfile` in "
            "obskit's repository)",
            example="image: registry.example.com/obskit-mongodb-runner:1",
        ),
    )


KIND = DatastoreKind(
    engine=defaults.ENGINE,
    method=defaults.METHOD,
    fields=MongodumpFields,
    section=SECTION,
    section_fields=MongodumpSection,
    doc=(
        "MongoDB (`engine: mongodb`, `method: mongodump`): `mongodump --oplog --archive --gzip` streamed by "
        "WAL-G's MongoDB mode to the environment's `mongodump` prefix. A dump loses at most its interval plus "
        "its own duration and upload: the plan refuses an RPO a dump schedule cannot meet (tier1's 5m and "
        "tier2's 30m with 4-hourly dumps) and names point-in-time recovery from oplog archiving as what could, "
        "which obskit does not set up yet."
    ),
    section_doc="mapping, required once a service has MongoDB datastores: where WAL-G's MongoDB mode keeps the dumps",
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
