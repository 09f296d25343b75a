"""PostgreSQL with WAL-G: its part of the spec (obskit/spec/fragment.py), the datastore fields
beyond the common ones and the environment's `walg` section, with their checks and typed settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from obskit import units
from obskit.engines import walg_storage
from obskit.engines.postgres_walg import defaults
from obskit.spec.fragment import DatastoreKind
from obskit.spec.model import Datastore, Environment, SecretRef
from obskit.spec.schema import text

COMPRESSION = ("lz4", "lzma", "zstd", "brotli")

DATASTORE_FIELDS = {
    "wal_rate": {"check_with": "throughput"},
    "replay_throughput": {"check_with": "throughput"},
    "host": text(check_with="dns1123_subdomain"),
    "port": {"type": "integer", "min": 1, "max": 65535},
    "exporter_job": text(check_with="label_value"),
}

SECTION = "walg"
SECTION_FIELDS = {
    "prefix": text(required=True, check_with="object_store_prefix"),
    "credentials_secret": text(required=True, check_with="dns1123_subdomain"),
    "image": text(required=True),  # built from the engine's Dockerfile, or the user's own
    "compression": {"type": "string", "allowed": list(COMPRESSION)},
    "service_account": text(check_with="dns1123_subdomain"),  # for IRSA / Workload Identity
    "key_file": {"check_with": "secret_ref"},  # a gs:// service account key, mounted as a file
    "volume_claim": text(check_with="dns1123_subdomain"),  # the PVC that holds a file:// prefix
    "drill_credentials_secret": text(check_with="dns1123_subdomain"),  # read-only, for drills
    "drill_storage_class": text(check_with="dns1123_subdomain"),  # of the drill's scratch volume
}


@dataclass(frozen=True)
class PostgresFields:
    """A PostgreSQL datastore's own fields."""

    wal_rate: Fraction | None  # bytes per second
    replay_throughput: Fraction | None  # bytes per second
    host: str
    port: int | None  # None: PostgreSQL's default port
    exporter_job: str  # the `job` of the postgres_exporter that watches it


@dataclass(frozen=True)
class WalG:
    """The environment's `walg` section: where and how WAL-G stores every datastore's backups."""

    prefix: str
    credentials_secret: str
    image: str
    compression: str | None  # None: the engine's default
    service_account: str | None = None  # None: the jobs run without a service account token
    key_file: SecretRef | None = None  # gs://: the service account key WAL-G reads from a file
    volume_claim: str | None = None  # file://: the PersistentVolumeClaim holding the prefix's path
    drill_credentials_secret: str | None = None  # None: drills use credentials_secret
    drill_storage_class: str | None = None  # None: the cluster's default StorageClass


def _throughput(value: str | None) -> Fraction | None:
    return units.parse_throughput(value) if value is not None else None


def _fields(service: str, name: str, data: Mapping[str, Any]) -> PostgresFields:
    return PostgresFields(
        wal_rate=_throughput(data.get("wal_rate")),
        replay_throughput=_throughput(data.get("replay_throughput")),
        host=data.get("host", name),
        port=data.get("port"),
        exporter_job=data.get("exporter_job", f"{service}-{name}"),
    )


def _walg(data: Mapping[str, Any]) -> WalG:
    key_file = data.get("key_file")
    return WalG(
        prefix=data["prefix"],
        credentials_secret=data["credentials_secret"],
        image=data["image"],
        compression=data.get("compression"),
        service_account=data.get("service_account"),
        key_file=SecretRef(key_file["secret"], key_file["key"]) if key_file else None,
        volume_claim=data.get("volume_claim"),
        drill_credentials_secret=data.get("drill_credentials_secret"),
        drill_storage_class=data.get("drill_storage_class"),
    )


KIND = DatastoreKind(
    engine=defaults.ENGINE,
    method=defaults.METHOD,
    fields=DATASTORE_FIELDS,
    settings=_fields,
    section=SECTION,
    section_fields=SECTION_FIELDS,
    section_settings=_walg,
    section_checks=walg_storage.storage_checks,
)


def fields(datastore: Datastore) -> PostgresFields:
    settings = datastore.settings
    assert isinstance(settings, PostgresFields), "a PostgreSQL datastore's settings come from its own fragment"
    return settings


def walg(environment: Environment) -> WalG:
    """The environment's walg section; validation requires it wherever a datastore uses this engine."""
    section = environment.section(SECTION)
    assert isinstance(section, WalG), "validation requires the walg section with a PostgreSQL datastore"
    return section
