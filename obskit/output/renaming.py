"""Which names may be swapped for placeholders in generated text, and back, without changing what
YAML and PromQL make of it: `gen` renders services alike up to their names once, `test` runs
promtool once for them, and both rename only what this module admits."""

from __future__ import annotations

import re

NAME = re.compile(r"[a-z][a-z0-9-]*")
CRON = re.compile(r"[0-9][0-9*/,-]*(?: [0-9*/,-]+){4}")  # a schedule as obskit writes it, plain in YAML
# Plain scalars YAML reads as booleans, nulls or numbers, and PromQL's number words.
_WORDS = frozenset({"yes", "off", "true", "false", "null", "inf", "nan"})


def renamable(name: str) -> bool:
    """A name YAML and PromQL read as plain text wherever it stands (at least 3 characters, so that
    it is no YAML word such as `on` or `no`), or a five-field cron schedule."""
    if CRON.fullmatch(name):
        return True
    return len(name) >= 3 and NAME.fullmatch(name) is not None and name not in _WORDS
