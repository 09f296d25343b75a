"""What a datastore engine adds to the spec: its datastore fields, its section of an environment,
their checks and their typed settings. Each engine declares one (obskit/engines/<name>/spec.py),
its fields as declared classes (declare.py); the spec's schema, checks, model and field reference
take the engines' fragments as input and never name one."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from obskit.spec.declare import build
from obskit.spec.problems import FieldPath

Finding = tuple[FieldPath, str]


def _no_findings(_: Mapping[str, Any]) -> Iterator[Finding]:
    return iter(())


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: the fragments are constants
class DatastoreKind:
    """One engine's part of the spec: datastores with `engine:` and `method:` its own."""

    engine: str
    method: str
    # the declared class of the datastore fields beyond the common ones (model.Datastore): its settings
    fields: type
    # the environment section its jobs read (shared by engines that name the same one), and its declared class
    section: str
    section_fields: type
    # docs/spec.md: what the engine does, above its fields' table, and what its section is
    doc: str
    section_doc: str
    section_checks: Callable[[Mapping[str, Any]], Iterator[Finding]] = _no_findings
    # the declared class of its DR copy's fields, under the environment's `failover.<section>`; None: its
    # datastores cannot fail over
    dr_fields: type | None = None
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

    def settings(self, service: str, name: str, data: Mapping[str, Any]) -> object:
        """The datastore's own fields, typed; `absent` sees `service` and `name`."""
        return build(self.fields, data, service=service, name=name)

    def section_settings(self, data: Mapping[str, Any]) -> object:
        return build(self.section_fields, data)

    def dr_settings(self, data: Mapping[str, Any]) -> object:
        assert self.dr_fields is not None
        return build(self.dr_fields, data)


Kinds = tuple[DatastoreKind, ...]
