"""The renaming `gen` and `test` share: a service's names (service, namespace, team, job,
schedules) swapped for placeholders in generated text, so that services alike up to their names
read as one text. `gen` renders such services once (obskit.generate.shaped), `test` runs promtool
once for them (obskit.verify.shapes); both rename only the names this module admits, and only in
text that holds no placeholder's mark.

A placeholder is `§`, its role's letter (the first role its name fills, in the caller's fixed
order of roles) repeated, and `§`: as long as asked (`gen` pads it to the longest name of the
shape), three characters by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable

NAME = re.compile(r"[a-z][a-z0-9-]*")
CRON = re.compile(r"[0-9][0-9*/,-]*(?: [0-9*/,-]+){4}")  # a schedule as obskit writes it, plain in YAML
# Plain scalars YAML reads as booleans, nulls or numbers, and PromQL's number words.
_WORDS = frozenset({"yes", "off", "true", "false", "null", "inf", "nan"})
MARK = "\u00a7"  # "§": in no text renamed (checked), so placeholders cannot be confused with text
ROLES = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PLACEHOLDER = re.compile(rf"{MARK}([A-Za-z])\1*{MARK}")


def renamable(name: str) -> bool:
    """A name YAML and PromQL read as plain text wherever it stands (at least 3 characters, so that
    it is no YAML word such as `on` or `no`), or a five-field cron schedule."""
    if CRON.fullmatch(name):
        return True
    return len(name) >= 3 and NAME.fullmatch(name) is not None and name not in _WORDS


def placeholder(role: int, length: int = 3) -> str:
    return MARK + ROLES[role] * (length - 2) + MARK


def placeholders(found: list[str], lengths: list[int] | None = None) -> dict[str, str]:
    """Each distinct name's placeholder (its length from `lengths`, by role), named by the first role it fills."""
    table: dict[str, str] = {}
    for role, name in enumerate(found):
        if name and name not in table:
            table[name] = placeholder(role, lengths[role] if lengths else 3)
    return table


def renamer(table: dict[str, str]) -> Callable[[str], str]:
    """Text with each name of the table replaced by its placeholder, the longest names first."""
    order = sorted(table, key=lambda name: (-len(name), name))

    def rename(text: str) -> str:
        for name in order:
            if name in text:
                text = text.replace(name, table[name])
        return text

    return rename


def canonical(text: str, found: list[str]) -> str | None:
    """The text with the names (by role; the first, the service's, not empty) replaced by
    placeholders, or None when a name is unfit or the text could be mistaken for placeholders."""
    if MARK in text or len(found) > len(ROLES) or not found or not found[0]:
        return None
    if not all(name == "" or renamable(name) for name in found):
        return None
    return renamer(placeholders(found))(text)
