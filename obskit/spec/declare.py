"""The spec's shape, declared once. Each typed model class (model.py, the engines' spec.py)
declares its spec fields with `spec_field`: the field's cerberus rules, its documentation and how a
validated value becomes the model's. Everything else is read off these declarations: the cerberus
schemas (schema.py), the JSON Schema (json_schema.py), the model's construction (`build`) and the
field tables of docs/spec.md (reference.py).

In the rules, `schema` (beside `type: dict`), `valuesrules: {schema: ...}` and `schema: {schema: ...}`
(beside `type: list`) may name a declared class instead of a mapping of rules: the field holds one
such document, a map of names to them, or a list of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")
_KEY = "obskit.spec"


@dataclass(frozen=True)
class Doc:
    """A field's row in docs/spec.md."""

    what: str  # the type and meaning
    default: str = ""  # what applies when the field is absent
    example: str = ""  # YAML, as written in a spec
    inline: bool = False  # a nested mapping whose fields are listed in its parent's table as `field.sub`


@dataclass(frozen=True)
class Declared:
    key: str  # the field's name in the spec ("" until read: the attribute's name)
    rules: Mapping[str, Any]
    doc: Doc
    convert: Callable[[Any], Any] | None  # the validated value -> the model's; None: nested, or as is
    absent: Callable[[Mapping[str, Any]], Any] | None  # the value when absent, from the context and earlier fields


def none(_: Mapping[str, Any]) -> None:
    """`absent` of an optional field that a required one follows."""
    return None


def spec_field(
    rules: Mapping[str, Any],
    doc: Doc,
    *,
    key: str = "",
    convert: Callable[[Any], Any] | None = None,
    default: Any = MISSING,
    absent: Callable[[Mapping[str, Any]], Any] | None = None,
) -> Any:
    """A model field that a spec field fills. Without `default` or `absent`, the field is either
    required by its rules or always given by the caller of `build`."""
    metadata = {_KEY: Declared(key, rules, doc, convert, absent)}
    if default is MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Field:
    attribute: str
    declared: Declared

    @property
    def key(self) -> str:
        return self.declared.key or self.attribute

    @property
    def nested(self) -> type | None:
        """The declared class of a field holding one nested document."""
        schema = self.declared.rules.get("schema")
        return schema if isinstance(schema, type) else None

    @property
    def items(self) -> type | None:
        """The declared class of a field holding a list of documents."""
        if self.declared.rules.get("type") != "list":
            return None
        item = self.declared.rules.get("schema")
        schema = item.get("schema") if isinstance(item, Mapping) else None
        return schema if isinstance(schema, type) else None

    @property
    def named(self) -> type | None:
        """The declared class of a field holding a map of names to documents."""
        values = self.declared.rules.get("valuesrules")
        schema = values.get("schema") if isinstance(values, Mapping) else None
        return schema if isinstance(schema, type) else None


@cache
def fields(cls: type) -> tuple[Field, ...]:
    """The spec fields a class declares, in declaration order."""
    found = []
    for item in dataclasses.fields(cls):
        declared = item.metadata.get(_KEY)
        if isinstance(declared, Declared):
            found.append(Field(item.name, declared))
    return tuple(found)


def _resolved(rules: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(rules)
    if isinstance(result.get("schema"), type):
        result["schema"] = rules_of(result["schema"])
    elif result.get("type") == "list" and isinstance(result.get("schema"), Mapping):
        result["schema"] = _resolved(result["schema"])
    values = result.get("valuesrules")
    if isinstance(values, Mapping) and isinstance(values.get("schema"), type):
        result["valuesrules"] = {**values, "schema": rules_of(values["schema"])}
    return result


@cache
def rules_of(cls: type) -> dict[str, dict[str, Any]]:
    """The cerberus schema of a mapping the class declares (shared: never modify it)."""
    return {field.key: _resolved(field.declared.rules) for field in fields(cls)}


def _value(field: Field, raw: Any) -> Any:
    if field.declared.convert is not None:
        return field.declared.convert(raw)
    if field.nested is not None and isinstance(raw, Mapping):
        return build(field.nested, raw)
    if field.items is not None and isinstance(raw, list):
        return tuple(build(field.items, item) for item in raw)
    if field.named is not None and isinstance(raw, Mapping):
        named = field.named
        return tuple(build(named, raw[name], name=name) for name in sorted(raw))
    return raw


def build(cls: type[T], data: Mapping[str, Any], **given: Any) -> T:
    """An instance from validated spec data. `given` sets attributes the spec alone cannot (a
    name, where it is written, what needs the engines), and is what `absent` sees besides the
    fields built before it."""
    values: dict[str, Any] = {}
    for field in fields(cls):  # type: ignore[arg-type]  # a class is hashable
        if field.attribute in given:
            continue
        if field.key in data:
            values[field.attribute] = _value(field, data[field.key])
        elif field.declared.absent is not None:
            values[field.attribute] = field.declared.absent({**given, **values})
    attributes = {item.name for item in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**values, **{name: value for name, value in given.items() if name in attributes})
