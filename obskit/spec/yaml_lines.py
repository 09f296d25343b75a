"""Reading one YAML spec file into plain data, keeping where every value came from.

PyYAML's composer gives nodes with line numbers; this module turns them into dicts,
lists and scalars itself so that it can refuse duplicate keys, bound alias expansion
(a "billion laughs" file is refused in milliseconds) and record the line of every field.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from obskit.shown import kind, shown
from obskit.spec.problems import FieldPath, Problem

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 8 * 1024 * 1024
# Values produced after expanding aliases, per byte of text: a file without aliases
# yields fewer values than it has bytes, so this only stops alias bombs.
EXPANSION_PER_BYTE = 2
EXPANSION_ALLOWANCE = 100_000

# Deeper than any spec needs (a receiver's field is 7 levels down), shallow enough for recursion.
MAX_DEPTH = 100
# More than any spec value needs; int() of a longer text is slow and str() of its value fails.
MAX_NUMBER_CHARACTERS = 100

_YAML_TAG = "tag:yaml.org,2002:"
_STR_TAG = _YAML_TAG + "str"
_INT_TAG = _YAML_TAG + "int"
# Safe loading: plain values only. Explicit tags of these kinds are allowed (`!!str 10`);
# !!python/..., !!set, !!omap and custom tags are refused, on scalars and collections alike,
# and so is a tag that does not fit its node (`!!str [a]`, `!!map [a]`).
_SCALAR_TAGS = frozenset(_YAML_TAG + kind for kind in ("str", "int", "float", "bool", "null", "timestamp", "binary"))
_MAP_TAG, _SEQ_TAG = _YAML_TAG + "map", _YAML_TAG + "seq"


def _tag_text(tag: str) -> str:
    """A tag as written in YAML: !!int, !!python/object:os.system, !custom."""
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


def _not_valid(node: yaml.ScalarNode) -> str:
    if node.tag == _YAML_TAG + "timestamp":  # 2024-13-45 is one without a tag written
        return f"{shown(node.value)} looks like a date but is not one; quote it to make it text"
    return f"{shown(node.value)} is not a valid {_tag_text(node.tag)} value"


def _tag_refused(tag: str) -> str:
    return (
        f"the YAML tag {_tag_text(tag)} is not allowed: a spec holds plain text, numbers, "
        "true/false, lists and mappings"
    )


@dataclass
class Located:
    """A file's data and the line of each field path in it (1-based)."""

    file: str
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int:
        """The line of the field, or of its nearest enclosing field that exists."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1


class _Refused(Exception):
    def __init__(self, line: int, path: FieldPath, message: str):
        super().__init__(message)
        self.line = line
        self.path = path
        self.message = message


class _Builder:
    def __init__(self, text_length: int) -> None:
        self.lines: dict[FieldPath, int] = {}
        self.expanded = 0
        self.budget = EXPANSION_ALLOWANCE + EXPANSION_PER_BYTE * text_length
        self.open: set[int] = set()  # the collections being built, to catch an alias inside itself
        # One per file: a constructor remembers every node it has built.
        self.constructor = yaml.constructor.SafeConstructor()

    def _scalar(self, node: yaml.ScalarNode, path: FieldPath) -> Any:
        # Most scalars are strings; taking those as they are skips PyYAML's per-node bookkeeping.
        if node.tag == _STR_TAG:
            return node.value
        if node.tag not in _SCALAR_TAGS:
            raise _Refused(node.start_mark.line + 1, path, _tag_refused(node.tag))
        if node.tag == _INT_TAG and len(node.value) > MAX_NUMBER_CHARACTERS:
            raise _Refused(
                node.start_mark.line + 1,
                path,
                f"a number of {len(node.value)} characters; numbers in a spec have at most {MAX_NUMBER_CHARACTERS}",
            )
        try:
            return self.constructor.construct_object(node, deep=True)
        # PyYAML's constructors fail in their own ways on a value an explicit tag does not fit
        # (`!!bool maybe`: KeyError, `!!timestamp x`: AttributeError, `!!int ""`: IndexError).
        except (yaml.YAMLError, ValueError, LookupError, AttributeError, TypeError):
            raise _Refused(node.start_mark.line + 1, path, _not_valid(node)) from None

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.expanded += 1
        if self.expanded > self.budget:
            raise _Refused(
                node.start_mark.line + 1,
                path,
                f"YAML aliases expand to more than {self.budget} values (an alias bomb?); refusing the file",
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        self._enter(node, path)
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _enter(self, node: yaml.Node, path: FieldPath) -> None:
        """Refuse a collection with a tag of its own, one nested too deep, or one that holds itself."""
        line = node.start_mark.line + 1
        expected = _MAP_TAG if isinstance(node, yaml.MappingNode) else _SEQ_TAG
        if node.tag != expected:
            what = "a mapping" if expected == _MAP_TAG else "a list"
            known = node.tag in _SCALAR_TAGS or node.tag in (_MAP_TAG, _SEQ_TAG)
            message = f"the YAML tag {_tag_text(node.tag)} does not fit {what}" if known else _tag_refused(node.tag)
            raise _Refused(line, path, message)
        if len(self.open) >= MAX_DEPTH:
            outer = path[:3]  # where the nesting starts, not the hundredth level
            raise _Refused(self.lines.get(outer, line), outer, f"nested more than {MAX_DEPTH} levels deep")
        if id(node) in self.open:
            raise _Refused(line, path, "an alias (*name) inside the value of its own anchor (&name) never ends")
        self.open.add(id(node))

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.update(self._merge_sources(value_node, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node.start_mark.line + 1, path, "mapping keys must be plain scalars")
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                key = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
            if not isinstance(key, str):
                raise _Refused(
                    key_node.start_mark.line + 1,
                    path,
                    f"the key {key_node.value or shown(key)} is read as {kind(key)}; keys must be text: quote it",
                )
            if key in result:
                raise _Refused(
                    key_node.start_mark.line + 1,
                    (*path, key),
                    f"duplicate key {shown(key)} (first at line {self.lines[(*path, key)]})",
                )
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_sources(self, node: yaml.Node, path: FieldPath) -> dict[Any, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                raise _Refused(
                    source.start_mark.line + 1, path, "a '<<' merge key needs a mapping or a list of mappings"
                )
            self._enter(source, path)
            try:
                merged.update(self._mapping(source, path))
            finally:
                self.open.discard(id(source))
        return merged


# PyYAML's wording -> a plain sentence, and whether the mistake is where the construct began
# (the context mark: an unclosed bracket or quote) rather than where the parser gave up.
_SYNTAX = (
    ("cannot start any token", "a character that cannot start a value here (a tab used to indent?)", False),
    ("expected ',' or ']'", "a '[' list is not closed with ']' (or its items are not separated by commas)", True),
    ("expected ',' or '}'", "a '{' mapping is not closed with '}' (or its entries are not separated by commas)", True),
    ("unexpected end of stream", "a quoted string is not closed before the end of the file", True),
    (
        "mapping values are not allowed",
        "a ':' where YAML does not expect one: quote a value that contains ': ', or check the indentation",
        False,
    ),
    ("could not find expected ':'", "a line without 'key:' inside a mapping, or an unquoted value going on", False),
    ("did not find expected key", "this line's indentation does not match the lines above it", False),
    ("expected <block end>", "this line's indentation does not match the lines above it", False),
    ("exceeded maximum nesting depth", "nested more than 1000 levels deep; refusing the file", False),
    ("found undefined alias", "an alias (*name) with no anchor (&name) before it", False),
    (
        "found unknown escape character",
        "an unknown escape in a double-quoted string: use single quotes for regexes and backslashes",
        False,
    ),
)


def _syntax_error(err: yaml.MarkedYAMLError) -> tuple[int, str]:
    """The line of the actual mistake and a plain sentence with its column."""
    wording = " ".join(part for part in (err.context, err.problem) if part)
    known = next(((sentence, at_start) for pattern, sentence, at_start in _SYNTAX if pattern in wording), None)
    if known is None:
        sentence, mark = f"invalid YAML: {wording}", err.problem_mark or err.context_mark
    else:
        sentence = known[0]
        mark = (err.context_mark if known[1] else None) or err.problem_mark or err.context_mark
    if mark is None:
        return 1, f"YAML syntax: {sentence}"
    return mark.line + 1, f"YAML syntax at column {mark.column + 1}: {sentence}"


def _problem(file: str, line: int, path: FieldPath, message: str) -> Problem:
    return Problem(file, line, path, message)


def _read_bytes(path: Path, name: str) -> bytes | Problem:
    """The file's bytes, refusing anything but a regular file of at most MAX_FILE_BYTES before
    reading it (a FIFO is opened without waiting for a writer)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        return _problem(name, 1, (), f"cannot read the file: {err.strerror or err}")
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return _problem(name, 1, (), "not a regular file, so not a spec file")
        if status.st_size > MAX_FILE_BYTES:
            return _too_big(name, status.st_size)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)  # a file that grows after fstat is still bounded
    except OSError as err:
        return _problem(name, 1, (), f"cannot read the file: {err.strerror or err}")
    finally:
        os.close(fd)
    return _too_big(name, len(raw)) if len(raw) > MAX_FILE_BYTES else raw


def _too_big(name: str, size: int) -> Problem:
    limit = MAX_FILE_BYTES // (1024 * 1024)
    return _problem(name, 1, (), f"file is {size} bytes; a spec file may be at most {limit} MiB")


def _text(raw: bytes, name: str) -> str | Problem:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _problem(name, 1, (), "UTF-16 text; save the spec as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        if b"\x00" in raw:
            return _problem(name, 1, (), "binary file (contains NUL bytes), not a YAML spec")
        line = raw[: err.start].count(b"\n") + 1
        return _problem(name, line, (), f"not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start})")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return _problem(name, line, (), "a NUL byte in the text (a binary file, or one damaged in transfer?)")
    return text


def _compose(text: str, name: str) -> yaml.Node | Problem:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        line, message = _syntax_error(err)
        return _problem(name, line, (), message)
    except yaml.YAMLError as err:
        return _problem(name, 1, (), f"invalid YAML: {err}")
    except RecursionError:  # PyYAML's pure-Python composer, without libyaml's depth limit
        return _problem(name, 1, (), f"YAML nested more than {MAX_DEPTH} levels deep; refusing the file")
    if node is None:
        return _problem(name, 1, (), "empty file; a spec needs at least 'apiVersion: obskit/v1'")
    return node


def _source_text(path: Path, name: str) -> str | Problem:
    raw = _read_bytes(path, name)
    return raw if isinstance(raw, Problem) else _text(raw, name)


def load_yaml_file(path: Path, display_name: str | None = None) -> Located | Problem:
    """The file's data with line numbers, or the one problem that stops it being read."""
    name = display_name or str(path)
    text = _source_text(path, name)
    if isinstance(text, Problem):
        return text
    node = _compose(text, name)
    if isinstance(node, Problem):
        return node
    builder = _Builder(len(text))
    try:
        data = builder.build(node, ())
    except _Refused as err:
        return _problem(name, err.line, err.path, err.message)
    return Located(name, data, builder.lines)


def load_yaml_documents(path: Path, display_name: str | None = None) -> list[Located] | Problem:
    """Each document of a multi-document file (`---` between them) with line numbers, or the one
    problem that stops the file being read. Files other tools write (OpenSLO, Sloth) hold several."""
    name = display_name or str(path)
    text = _source_text(path, name)
    if isinstance(text, Problem):
        return text
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as err:
        line, message = _syntax_error(err)
        return _problem(name, line, (), message)
    except yaml.YAMLError as err:
        return _problem(name, 1, (), f"invalid YAML: {err}")
    except RecursionError:
        return _problem(name, 1, (), f"YAML nested more than {MAX_DEPTH} levels deep; refusing the file")
    documents = []
    builder = _Builder(len(text))  # one allowance for the whole file: aliases cannot multiply per document
    for node in nodes:
        if node is None:
            continue
        try:
            data = builder.build(node, ())
        except _Refused as err:
            return _problem(name, err.line, err.path, err.message)
        documents.append(Located(name, data, dict(builder.lines)))
        builder.lines.clear()
    if not documents:
        return _problem(name, 1, (), "empty file")
    return documents
