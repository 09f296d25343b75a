"""Finding the external checkers obskit runs (promtool, amtool): a configured path, else PATH."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Outcome:
    """Whether a checker passed, and what it printed."""

    ok: bool
    output: str


def find_tool(name: str, variable: str, hint: str, missing: type[Exception]) -> str:
    """The executable in the environment variable `variable`, or `name` on PATH; `missing(message)`
    is raised when neither is there."""
    configured = os.environ.get(variable)
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            raise missing(f"{variable}={configured} is not an executable file")
        return configured
    found = shutil.which(name)
    if found is None:
        raise missing(f"{name} is not on PATH: {hint}")
    return found
