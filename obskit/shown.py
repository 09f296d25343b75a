"""Values in messages as a user writes them in YAML, never as Python reprs.

`shown(datetime.date(2024, 1, 1))` is `2024-01-01`, not `datetime.date(2024, 1, 1)`;
text is single-quoted as in YAML (`'it''s'`, a regex's backslash kept single), with
double quotes and escapes only when it holds a line break or another unprintable character.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import re
from decimal import Decimal
from typing import Any

# A message quotes a value to point at it; a value longer than this is cut.
MAX_SHOWN = 200
_PLAIN = re.compile(r"[A-Za-z_][\w./-]*")
_YAML_WORDS = frozenset(("y", "n", "yes", "no", "true", "false", "on", "off", "null"))


def shown(value: Any) -> str:
    """The value as YAML text: 'text', 99.9, true, null, 2024-01-01, [a, b], {a: 1}."""
    text = _shown(value)
    if len(text) > MAX_SHOWN:
        return f"{text[: MAX_SHOWN - 3]}... ({len(text)} characters)"
    return text


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return _quoted(value)
    if value is None or isinstance(value, (bool, int, float, Decimal)):
        return _scalar(value)
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return "!!binary " + base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_item(key)}: {_item(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_item(item) for item in value) + "]"
    return _quoted(str(value))


def _item(value: Any) -> str:
    """Inside [...] and {...}, a word is written plain, as in a YAML flow collection."""
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return _shown(value)


def _quoted(text: str) -> str:
    if text.isprintable():
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text, ensure_ascii=False)  # YAML's double-quoted form: \n, \t, \u0000


def _scalar(value: bool | int | float | Decimal | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
    if isinstance(value, int) and value.bit_length() > 1000:  # str() fails past 4300 digits
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    return str(value)


def kind(value: Any) -> str:
    """What YAML made of the value, in words: 'a date', 'true/false', 'a mapping'."""
    for types, name in _KINDS:
        if isinstance(value, types):
            return name
    return "a value"


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (str, "text"),
    (bool, "true/false"),
    (type(None), "null"),
    ((int, float, Decimal), "a number"),
    (datetime.datetime, "a date and time"),
    (datetime.date, "a date"),
    ((bytes, bytearray), "binary data"),
    (dict, "a mapping"),
    ((list, tuple), "a list"),
)


def got(value: Any, text_wanted: bool = False) -> str:
    """The value for 'must be ..., got VALUE'; where text was wanted and YAML read a number,
    true/false or a date (`version: 1.10`, `name: no`, `tier: 2024-01-01`), how to keep it text."""
    if text_wanted and isinstance(value, (bool, int, float, Decimal, datetime.date)):
        return f"{shown(value)} ({kind(value)} in YAML: quote it to make it text)"
    return shown(value)
