"""PostgreSQL with WAL-G: its part of the spec (obskit/spec/fragment.py), the datastore fields
beyond the common ones and the environment's `walg` section, with their checks and typed settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from obskit import units
from obskit.engines import walg_storage
from obskit.engines.postgres_walg import defaults
from obskit.shown import shown
from obskit.spec.declare import Doc, none, spec_field
from obskit.spec.failover import EnvironmentFailover
from obskit.spec.fragment import DatastoreKind, Finding
from obskit.spec.model import Datastore, Environment
from obskit.spec.rules import text

COMPRESSION = ("lz4", "lzma", "zstd", "brotli")

SECTION = "walg"


@dataclass(frozen=True)
class PostgresFields:
    """A PostgreSQL datastore's own fields."""

    wal_rate: Fraction | None = spec_field(
        {"check_with": "throughput"},
        Doc("throughput: WAL written", "2% of the size per hour, at least `256MiB/h`", "wal_rate: 2GiB/h"),
        convert=units.parse_throughput,
        absent=none,
    )  # bytes per second
    replay_throughput: Fraction | None = spec_field(
        {"check_with": "throughput"},
        Doc("throughput of WAL replay", "`16MiB/s`", "replay_throughput: 32MiB/s"),
        convert=units.parse_throughput,
        absent=none,
    )  # bytes per second
    host: str = spec_field(
        text(check_with="dns1123_subdomain"),
        Doc("PGHOST for the jobs", "the datastore name", "host: orders-db"),
        absent=lambda given: given["name"],
    )
    port: int | None = spec_field(
        {"type": "integer", "min": 1, "max": 65535}, Doc("PGPORT", "5432", "port: 5433"), absent=none
    )  # None: PostgreSQL's default port
    exporter_job: str = spec_field(
        text(check_with="label_value"),
        Doc("the `job` of its postgres_exporter", "`<service>-<datastore>`", "exporter_job: orders-db-exporter"),
        absent=lambda given: f"{given['service']}-{given['name']}",
    )  # the `job` of the postgres_exporter that watches it
    stream_from: str | None = spec_field(
        text(check_with="host_port"),
        Doc(
            "`host:port` of the primary as the DR region reaches it, for a service with a failover: the DR "
            "standby streams from it (primary_conninfo, beside restore_command from the DR copy) and the promote "
            "step fences it there; without it the standby replays the DR copy only, whose loss a tight RPO "
            "refuses",
            "none",
            'stream_from: "orders-db.us-east-1.example.internal:5432"',
        ),
        default=None,
    )  # None: the DR standby replays the DR copy only, and the promote step does not fence
    version: int | None = spec_field(
        {"type": "integer", "min": 10, "max": 99},
        Doc(
            "the PostgreSQL major (10 or later): the restore drill starts the restored copy with the image's "
            f"PostgreSQL, which must be this major; `walg.image` with `{defaults.IMAGE_MAJOR}` in its tag names "
            "one image per major",
            f"{defaults.PG_MAJOR}, the image's default build (`obskit plan` says so)",
            "version: 16",
        ),
        default=None,
    )  # None: the drill assumes defaults.PG_MAJOR


@dataclass(frozen=True, kw_only=True)
class WalG(walg_storage.Storage):
    """The environment's `walg` section: where and how WAL-G stores every datastore's backups."""

    credentials_secret: str = spec_field(
        text(required=True, check_with="dns1123_subdomain"),
        Doc("Secret with the storage credentials and PGUSER/PGPASSWORD", example="credentials_secret: walg-s3"),
    )
    image: str = spec_field(
        text(required=True),
        Doc(
            "required: the jobs' image with wal-g, PostgreSQL, python3 and prometheus-client (build it from "
            "`obskit/engines/postgres_walg/jobs/Dockerfile` in obskit's repository, `--build-arg PG_MAJOR=<major>`); "
            f"`{defaults.IMAGE_MAJOR}` in it is replaced by each datastore's `version`, one image per major",
            example="image: registry.example.com/obskit-walg-runner:1",
        ),
    )
    compression: str | None = spec_field(
        {"type": "string", "allowed": list(COMPRESSION)},
        Doc("`lz4`, `lzma`, `zstd` or `brotli`", f"`{defaults.WALG_COMPRESSION}`", "compression: lz4"),
        default=None,
    )  # None: the engine's default
    drill_credentials_secret: str | None = spec_field(
        text(check_with="dns1123_subdomain"),
        Doc(
            "Secret the restore drills read the storage with (read-only credentials)",
            "`credentials_secret`",
            "drill_credentials_secret: walg-s3-read",
        ),
        default=None,
    )  # None: drills use credentials_secret


@dataclass(frozen=True)
class WalGCopy:
    """The environment's `failover.walg`: the DR region's copy of every datastore's WAL archive."""

    prefix: str = spec_field(
        text(required=True, check_with="object_store_prefix"),
        Doc(
            "the DR region's copy of `walg.prefix`, written by a `wal-g copy` CronJob in the DR region; the DR "
            "standby replays from it",
            example='prefix: "s3://acme-pg-backups-dr/prod"',
        ),
    )
    credentials_secret: str | None = spec_field(
        text(check_with="dns1123_subdomain"),
        Doc(
            "Secret with the DR storage's credentials, in the DR cluster",
            "`walg.credentials_secret`",
            "credentials_secret: walg-s3-dr",
        ),
        default=None,
    )


def section_checks(section: Mapping[str, Any]) -> Iterator[Finding]:
    """The storage's checks, and an image reference whose only braces are the major's placeholder."""
    yield from walg_storage.storage_checks(section)
    image = section.get("image")
    rest = image.replace(defaults.IMAGE_MAJOR, "") if isinstance(image, str) else ""
    if "{" in rest or "}" in rest:
        yield (
            ("image",),
            f"{shown(image)}: the only placeholder an image may carry is {defaults.IMAGE_MAJOR} (each datastore's "
            "PostgreSQL major)",
        )


def image_for(walg: WalG, major: int) -> str:
    """The jobs' image for a datastore of this PostgreSQL major: walg.image with its placeholder replaced."""
    return walg.image.replace(defaults.IMAGE_MAJOR, str(major))


KIND = DatastoreKind(
    engine=defaults.ENGINE,
    method=defaults.METHOD,
    fields=PostgresFields,
    section=SECTION,
    section_fields=WalG,
    doc="PostgreSQL (`engine: postgres`, `method: wal-g`), backed up by WAL-G from the environment's `walg`:",
    section_doc="mapping, required once a service has datastores",
    section_checks=section_checks,
    dr_fields=WalGCopy,
)


def fields(datastore: Datastore) -> PostgresFields:
    settings = datastore.settings
    assert isinstance(settings, PostgresFields), "a PostgreSQL datastore's settings come from its own fragment"
    return settings


def walg_copy(failover: EnvironmentFailover) -> WalGCopy:
    """The environment's failover.walg; validation requires it with a PostgreSQL datastore to fail over."""
    section = failover.section(SECTION)
    assert isinstance(section, WalGCopy), "validation requires failover.walg with a PostgreSQL datastore"
    return section


def walg(environment: Environment) -> WalG:
    """The environment's walg section; validation requires it wherever a datastore uses this engine."""
    section = environment.section(SECTION)
    assert isinstance(section, WalG), "validation requires the walg section with a PostgreSQL datastore"
    return section
