"""Problems found in a spec, each pointing at a file, a line and a field."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from obskit.shown import shown

FieldPath = tuple[str | int, ...]


def dotted(path: FieldPath) -> str:
    """`services.checkout.slos.availability` for a field path; list items as `[2]`; a key
    with a line break or another unprintable character quoted with escapes."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = _printable(part)
            text += f".{name}" if text else name
    return text or "(top level)"


def _printable(text: str) -> str:
    """The text, or quoted with escapes if it would break the line or reach the terminal
    as a control sequence."""
    return text if text.isprintable() else shown(text)


def _escaped(message: str) -> str:
    """One line, whatever text a message quotes: control characters as YAML escapes (\\n, \\x1b)."""
    if message.isprintable():
        return message
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in message)


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    path: FieldPath
    message: str

    def __str__(self) -> str:
        file = _printable(self.file)
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {dotted(self.path)}: {_escaped(self.message)}"


class SpecInvalid(Exception):
    """Raised with every problem found, so one run reports them all."""

    def __init__(self, problems: Iterable[Problem]):
        unique = sorted(set(problems), key=lambda p: (p.file, p.line, dotted(p.path), p.message))
        self.problems: list[Problem] = unique
        super().__init__("\n".join(str(p) for p in unique))
