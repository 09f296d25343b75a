"""The job wrapper every engine's backup and drill jobs run (obskit/jobs/obskit_job.py): it times
one command and pushes the obskit_backup_* or obskit_restore_drill_* metrics of conventions.py.
Engines ship it in their jobs' ConfigMaps beside their own scripts."""

from __future__ import annotations

from functools import cache
from importlib import resources

WRAPPER = "obskit_job.py"


@cache
def wrapper_text() -> str:
    return resources.files("obskit.jobs").joinpath(WRAPPER).read_text(encoding="utf-8")
