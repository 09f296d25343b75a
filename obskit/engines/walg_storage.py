"""Object storage as WAL-G reaches it, for every engine whose jobs store with WAL-G (PostgreSQL's
base backups and WAL, MongoDB's dumps): the prefix's variable, a gs:// key file, and what each
scheme needs of an environment's section."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from obskit.spec.fragment import Finding

PREFIX_VARIABLES = {"s3": "WALG_S3_PREFIX", "gs": "WALG_GS_PREFIX", "az": "WALG_AZ_PREFIX", "file": "WALG_FILE_PREFIX"}
KEY_DIR = "/etc/obskit/walg/key"  # a gs:// key file, at the same path wherever WAL-G runs


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
