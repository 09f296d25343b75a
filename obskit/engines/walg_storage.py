"""Object storage as WAL-G reaches it, for every engine whose jobs store with WAL-G (PostgreSQL's
base backups and WAL, MongoDB's dumps): the prefix's variable, a gs:// key file, what each
scheme needs of an environment's section, and how much a datastore's backups keep there."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

from obskit.spec.declare import Doc, spec_field
from obskit.spec.fragment import Finding
from obskit.spec.refs import SecretRef, secret_ref
from obskit.spec.rules import SECRET, text
from obskit.units import Duration, format_throughput

DAY_SECONDS = 86_400
UNCOMPRESSED = (
    "the estimates are uncompressed upper bounds: each backup is taken to be as large as the datastore's "
    "`size`, and WAL-G compresses what it uploads by a ratio that depends on the data"
)

PREFIX_VARIABLES = {"s3": "WALG_S3_PREFIX", "gs": "WALG_GS_PREFIX", "az": "WALG_AZ_PREFIX", "file": "WALG_FILE_PREFIX"}
KEY_DIR = "/etc/obskit/walg/key"  # a gs:// key file, at the same path wherever WAL-G runs


@dataclass(frozen=True, kw_only=True)
class Storage:
    """The storage fields of an engine's environment section (`walg`, `mongodump`): where WAL-G keeps
    the backups and how it reaches them. Each engine's section adds its own fields (its image)."""

    prefix: str = spec_field(
        text(required=True, check_with="object_store_prefix"),
        Doc(
            "`s3://`, `gs://`, `az://` or `file://` prefix; `/<service>/<datastore>` is appended",
            example='prefix: "s3://acme-backups/prod"',
        ),
    )
    credentials_secret: str = spec_field(
        text(required=True, check_with="dns1123_subdomain"),
        Doc("Secret with the storage credentials", example="credentials_secret: walg-s3"),
    )
    service_account: str | None = spec_field(
        text(check_with="dns1123_subdomain"),
        Doc(
            "ServiceAccount the jobs run as (IRSA, Workload Identity); without it they mount no service account token",
            "none",
            "service_account: walg-backup",
        ),
        default=None,
    )
    key_file: SecretRef | None = spec_field(
        SECRET,
        Doc(
            f"`{{secret, key}}`: a gs:// service account key, mounted at `{KEY_DIR}/<key>` where WAL-G runs "
            "(`GOOGLE_APPLICATION_CREDENTIALS`); gs:// needs it or `service_account`",
            "none",
            "key_file: {secret: walg-gcs, key: key.json}",
        ),
        convert=secret_ref,
        default=None,
    )  # gs://: the service account key WAL-G reads from a file
    volume_claim: str | None = spec_field(
        text(check_with="dns1123_subdomain"),
        Doc(
            "PersistentVolumeClaim holding a file:// prefix's path, mounted at that path where WAL-G runs; "
            "required for file://",
            "none",
            "volume_claim: backups",
        ),
        default=None,
    )  # file://: the PersistentVolumeClaim holding the prefix's path
    drill_storage_class: str | None = spec_field(
        text(check_with="dns1123_subdomain"),
        Doc(
            "StorageClass of a restore drill's scratch volume (a share of the datastore's size that its engine "
            "sets, deleted with the drill's pod)",
            "the cluster's default",
            "drill_storage_class: fast-ssd",
        ),
        default=None,
    )  # None: the cluster's default StorageClass


def prefix_setting(prefix: str) -> dict[str, str]:
    """The variable WAL-G reads the prefix from, with the URL for object stores and a plain path for
    file:// (WAL-G refuses WALG_FILE_PREFIX=file:///...)."""
    parts = urlsplit(prefix)
    return {PREFIX_VARIABLES[parts.scheme]: parts.path if parts.scheme == "file" else prefix}


def storage_checks(section: Mapping[str, Any]) -> Iterator[Finding]:
    """What each storage scheme needs where WAL-G runs: a key file or a workload identity for gs://,
    a volume for file://."""
    if not isinstance(section.get("prefix"), str):
        return
    scheme = section["prefix"].split("://", 1)[0]
    if scheme == "gs" and "key_file" not in section and "service_account" not in section:
        yield (
            ("key_file",),
            "required for a gs:// prefix: WAL-G reads the service account key from a file (or set "
            "service_account for Workload Identity)",
        )
    if "key_file" in section and scheme != "gs":
        yield ("key_file",), f"is for gs:// prefixes only (this prefix is {scheme}://)"
    if scheme == "file" and "volume_claim" not in section:
        yield (
            ("volume_claim",),
            "required for a file:// prefix: the PersistentVolumeClaim that holds the path, mounted where the "
            "jobs and the database run",
        )
    if "volume_claim" in section and scheme != "file":
        yield ("volume_claim",), f"is for file:// prefixes only (this prefix is {scheme}://)"


@dataclass(frozen=True)
class StorageEstimate:
    """What a datastore's backups keep in object storage and upload each day, uncompressed (an
    upper bound): the full backups retention keeps, each as large as the data, and the log
    (PostgreSQL's WAL) archived beside them back to the oldest of them."""

    kept: int  # full backups (dumps) retention keeps
    size: int  # bytes of one: the datastore's size
    interval: Duration  # the longest time between two
    per_day: Fraction  # backups taken a day
    log_rate: Fraction = Fraction(0)  # bytes per second of WAL archived beside them; 0: none
    log_name: str = "WAL"

    @property
    def log_span(self) -> Duration:
        """The log kept: from the oldest retained backup (kept intervals back, at worst) to now."""
        return Duration(self.kept * self.interval.ms)

    @property
    def backups_bytes(self) -> int:
        return self.kept * self.size

    @property
    def log_bytes(self) -> int:
        return math.ceil(self.log_rate * self.log_span.seconds)

    @property
    def stored_bytes(self) -> int:
        return self.backups_bytes + self.log_bytes

    @property
    def log_per_day(self) -> int:
        return math.ceil(self.log_rate * DAY_SECONDS)

    @property
    def uploaded_per_day(self) -> int:
        return math.ceil(self.per_day * self.size) + self.log_per_day

    def report(self) -> dict[str, Any]:
        return {
            "full_backups_kept": self.kept,
            "full_backup_bytes": self.size,
            "full_backups_per_day": float(self.per_day),
            "log_bytes_per_second": float(self.log_rate),
            "log_kept_seconds": self.log_span.ms // 1000 if self.log_rate else 0,
            "stored_bytes": self.stored_bytes,
            "uploaded_bytes_per_day": self.uploaded_per_day,
        }

    def text(self, what: str) -> str:
        """One line for `obskit plan`: `what` names a backup ("full backup", "dump")."""
        kept = f"{self.kept} {what}s of {human_size(self.size)}, one every {self.interval}"
        daily = f"{_count(self.per_day)} {what}s"
        if self.log_rate:
            kept += f", and {self.log_span} of {self.log_name} at {format_throughput(self.log_rate)}"
            daily += f" and {human_size(self.log_per_day)} of {self.log_name}"
        return (
            f"{human_size(self.stored_bytes)} stored: {kept}; {human_size(self.uploaded_per_day)} uploaded a day: "
            f"{daily}"
        )


def _count(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.1f}"


def human_size(size: int) -> str:
    """A size as people read an estimate: the largest binary unit it reaches, three figures at most."""
    for suffix, factor in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f}{suffix}" if value >= 100 or value == int(value) else f"{value:.1f}{suffix}"
    return f"{size}B"
