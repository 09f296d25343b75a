"""What a datastore engine adds to the spec: its datastore fields, its section of an environment,
their checks and their typed settings. Each engine declares one (obskit/engines/<name>/spec.py);
the spec's schema, checks and model take the engines' fragments as input and never name one."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from obskit.spec.problems import FieldPath

Finding = tuple[FieldPath, str]


def _no_findings(_: Mapping[str, Any]) -> Iterator[Finding]:
    return iter(())


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: the fragments are constants
class DatastoreKind:
    """One engine's part of the spec: datastores with `engine:` and `method:` its own."""

    engine: str
    method: str
    # cerberus rules of the datastore fields beyond the common ones (engine, method, size, restore_throughput)
    fields: Mapping[str, Any]
    # (service, datastore, validated fields) -> the engine's typed settings of the datastore
    settings: Callable[[str, str, Mapping[str, Any]], object]
    # the environment section its jobs read (shared by engines that name the same one), and its rules
    section: str
    section_fields: Mapping[str, Any]
    section_settings: Callable[[Mapping[str, Any]], object]
    section_checks: Callable[[Mapping[str, Any]], Iterator[Finding]] = _no_findings
    # the environment's other fields its jobs need
    needs: tuple[str, ...] = ("pushgateway",)
    # how the messages name what backs the datastores up
    backed_up_with: str = field(default="")

    @property
    def key(self) -> tuple[str, str]:
        return self.engine, self.method

    @property
    def label(self) -> str:
        return self.backed_up_with or self.method


Kinds = tuple[DatastoreKind, ...]
