"""Block-style YAML text for generated documents, byte-identical to PyYAML's dump.

PyYAML builds a node graph for every document and spends most of obskit's generation
time doing so. The documents obskit writes are plain trees of dicts, lists and scalars,
so the structure is written here directly; every scalar that is not an obviously plain
string is rendered by PyYAML itself (once per distinct value), so quoting, literal blocks
and number formats stay PyYAML's. tests/test_yamltext.py holds the two equal.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

try:
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]

WIDTH = 1_000_000  # never fold long lines: PromQL stays on one line

_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = Resolver()
# ASCII strings PyYAML writes unquoted in block context, provided they also resolve to a
# string and avoid the indicator sequences checked in _is_plain. The first character
# excludes every indicator YAML gives meaning at the start of a scalar.
_PLAIN_CANDIDATE = re.compile(r"[A-Za-z0-9_/(.$][A-Za-z0-9_ ./=(){}\[\],+*<>!~$|;@^:'\"%&?`\\-]*\Z")


_PRINTABLE_LINES = re.compile(r"[\x20-\x7e\n]*\Z")
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")


class _NotSimple(Exception):
    """A document with constructs left to PyYAML (complex keys, unusual multi-line scalars)."""


class Dumper(_BaseDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: Dumper, value: str) -> yaml.Node:
    # Multi-line PromQL reads best as a literal block.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar(_STR_TAG, value, style=style)


Dumper.add_representer(str, _represent_str)


def pyyaml_dump_all(documents: list[Any], explicit_start: bool = False) -> str:
    """PyYAML's own rendering with obskit's settings: the reference this module matches."""
    return yaml.dump_all(
        documents,
        Dumper=Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=WIDTH,
        explicit_start=explicit_start,
    )


def pyyaml_dump(document: Any) -> str:
    return pyyaml_dump_all([document])


def _is_plain(value: str) -> bool:
    return (
        _PLAIN_CANDIDATE.match(value) is not None
        and not value.endswith((" ", ":"))
        and ": " not in value
        and " #" not in value
        and not value.startswith(("---", "..."))
        and _RESOLVER.resolve(ScalarNode, value, (True, False)) == _STR_TAG  # type: ignore[no-untyped-call]
    )


def _is_plain_literal(value: str) -> bool:
    """Multi-line text PyYAML writes as a literal block with no indicator but chomping."""
    return (
        _PRINTABLE_LINES.match(value) is not None
        and " \n" not in value
        and not value.endswith((" ", "\n\n"))
        and value[0] not in " \n"
    )


def _literal(value: str) -> str:
    body = value[:-1] if value.endswith("\n") else value
    if "\n\n" in body:  # empty lines stay empty, not indented
        lines = "\n".join(f"  {line}" if line else "" for line in body.split("\n"))
    else:  # one pass for long text (a dashboard's JSON)
        lines = "  " + body.replace("\n", "\n  ")
    return f"{'|' if body is not value else '|-'}\n{lines}"


def _render_scalar(value: Any) -> str:
    """The scalar as it follows `key:` (without the space); continuation lines indented by 2."""
    if type(value) is str:
        if "\n" not in value:
            if _is_plain(value):
                return value
        elif _is_plain_literal(value):
            return _literal(value)
    rendered = pyyaml_dump({"k": value})
    text = rendered[3:-1]
    if (
        ("\n" in text and not text.startswith("|"))
        or any(mark in rendered for mark in _OTHER_BREAKS)
        or (text.startswith("|") and "+" in text.split("\n", 1)[0])
    ):
        raise _NotSimple  # quoted over several lines, or kept final breaks that may end the document
    return text


_cached_scalar = lru_cache(maxsize=1 << 16, typed=True)(_render_scalar)
_CACHED_LENGTH = 256  # label values, keys and PromQL repeat; a dashboard's JSON does not


def _scalar(value: Any) -> str:
    # Floats stay out of the cache: -0.0 == 0.0 would share an entry (typed keeps 1, 1.0, True apart).
    kind = type(value)
    if kind is float or (kind is str and len(value) > _CACHED_LENGTH):
        return _render_scalar(value)
    return _cached_scalar(value)


def _key(key: Any) -> str:
    return _str_key(key) if type(key) is str else _other_key(key)


@lru_cache(maxsize=1 << 16)
def _str_key(key: str) -> str:
    return key if _is_plain(key) else _other_key(key)


def _other_key(key: Any) -> str:
    text = pyyaml_dump({key: None})
    if text.startswith("? ") or not text.endswith(": null\n"):
        raise _NotSimple
    return text[: -len(": null\n")]


def _scalar_lines(value: Any, head: str, continuation_pad: str, out: list[str]) -> None:
    """`head` (`key:` or `-`, indented) and the scalar; a literal block's lines at continuation_pad."""
    text = _scalar(value)
    if "\n" not in text:
        out.append(f"{head} {text}\n")
        return
    if "\n\n" not in text and not text.endswith("\n"):  # no empty line to leave unindented
        lines = text.replace("\n", "\n" + continuation_pad)
        out.append(f"{head} {lines}\n")
        return
    first, *rest = text.split("\n")
    out.append(f"{head} {first}\n")
    out.extend(f"{continuation_pad}{line}\n" if line else "\n" for line in rest)


# The three functions below run once per node of every generated file: scalars, the
# common case, are written without a further call where possible.


def _mapping(mapping: dict[Any, Any], pad: str, first_prefix: str, out: list[str]) -> None:
    try:
        keys = sorted(mapping)
    except TypeError:  # as PyYAML: keys that do not compare keep their order
        keys = list(mapping)
    prefix = first_prefix
    for key in keys:
        head = f"{prefix}{_str_key(key) if type(key) is str else _other_key(key)}:"
        prefix = pad
        value = mapping[key]
        kind = type(value)
        if kind is str and len(value) <= _CACHED_LENGTH:
            text = _cached_scalar(value)
            if "\n" not in text:
                out.append(f"{head} {text}\n")
                continue
        if kind is dict:
            if value:
                out.append(f"{head}\n")
                _mapping(value, pad + "  ", pad + "  ", out)
            else:
                out.append(f"{head} {{}}\n")
        elif kind is list:
            if value:  # PyYAML does not indent a sequence that is a mapping's value
                out.append(f"{head}\n")
                _sequence(value, pad, pad, out)
            else:
                out.append(f"{head} []\n")
        else:  # continuation lines of a literal block sit 2 columns in from the key
            _scalar_lines(value, head, pad, out)


def _sequence(items: list[Any], pad: str, first_prefix: str, out: list[str]) -> None:
    prefix = first_prefix
    inner = pad + "  "
    for item in items:
        kind = type(item)
        if kind is dict and item:
            _mapping(item, inner, f"{prefix}- ", out)
        elif kind is list and item:
            _sequence(item, inner, f"{prefix}- ", out)
        elif kind is dict:
            out.append(f"{prefix}- {{}}\n")
        elif kind is list:
            out.append(f"{prefix}- []\n")
        else:  # continuation lines of a literal block sit 2 columns in from the dash
            _scalar_lines(item, f"{prefix}-", pad, out)
        prefix = pad


def _block_text(document: dict[Any, Any] | list[Any]) -> str:
    out: list[str] = []
    if isinstance(document, dict):
        _mapping(document, "", "", out)
    else:
        _sequence(document, "", "", out)
    return "".join(out)


def _is_block_collection(document: Any) -> bool:
    return type(document) in (dict, list) and bool(document)


def dump(document: Any) -> str:
    """One document as PyYAML would write it with sorted keys and block style."""
    if _is_block_collection(document):
        try:
            return _block_text(document)
        except _NotSimple:
            pass
    return pyyaml_dump(document)


def dump_all(documents: list[Any]) -> str:
    """A stream of documents each opened by `---`, as PyYAML's dump_all with explicit_start."""
    if all(map(_is_block_collection, documents)):
        try:
            return "".join(f"---\n{_block_text(document)}" for document in documents)
        except _NotSimple:
            pass
    return pyyaml_dump_all(documents, explicit_start=True)
