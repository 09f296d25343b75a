"""Problems found in a spec, each pointing at a file, a line and a field."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FieldPath = tuple[str | int, ...]


def dotted(path: FieldPath) -> str:
    """`services.checkout.slos.availability` for a field path; list items as `[2]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    path: FieldPath
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {dotted(self.path)}: {self.message}"


class SpecInvalid(Exception):
    """Raised with every problem found, so one run reports them all."""

    def __init__(self, problems: Iterable[Problem]):
        unique = sorted(set(problems), key=lambda p: (p.file, p.line, dotted(p.path), p.message))
        self.problems: list[Problem] = unique
        super().__init__("\n".join(str(p) for p in unique))
