#!/usr/bin/env python3
"""obskit_job.py (backup/, beside this script in the jobs' image) with `engine="mongodb"` added to
the Pushgateway grouping key, so the MongoDB jobs' obskit_backup_* and obskit_restore_drill_*
series carry the engine. Everything else is obskit_job.py's: its arguments, timing, exit code
and push semantics (a failed run keeps the last success).

    mongodb_job.py backup --service events --datastore events-db -- wal-g backup-push

obskit_job.py has no option for more grouping labels yet; this wraps the one function it pushes
with instead of copying the script. (When obskit_job.py grows such an option, the CronJobs can
call it directly and this file goes.)
"""

from __future__ import annotations

import sys
from typing import Any

import obskit_job

ENGINE = "mongodb"
_push = obskit_job.pushadd_to_gateway


def pushadd_with_engine(gateway: str, *, grouping_key: dict[str, str], **kwargs: Any) -> None:
    _push(gateway, grouping_key={**grouping_key, "engine": ENGINE}, **kwargs)


def main() -> int:
    obskit_job.pushadd_to_gateway = pushadd_with_engine
    code: int = obskit_job.main()
    return code


if __name__ == "__main__":
    sys.exit(main())
