#!/usr/bin/env python3
"""Run one backup-side command (a base backup, a dump, a restore drill), time it, and push
obskit's metrics (named in obskit's README, Disaster recovery) to the environment's Pushgateway.

The job's exit code is always the command's: a Pushgateway that cannot be reached is
logged and never fails a backup. Every run pushes its duration and outcome; the last-success
metrics are pushed only on success, with POST semantics, so a failed run keeps the previous
success visible to the alerts (obskit/jobs/README.md lists each metric).

    obskit_job.py backup --service checkout --datastore orders-db [--engine ENGINE] \\
        --pushgateway http://pushgateway:9091 [--size-path /backup] -- BACKUP-COMMAND [ARG...]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

log = logging.getLogger("obskit-job")

PUSH_JOB = {"backup": "obskit_backup", "restore-drill": "obskit_restore_drill"}
METRIC_PREFIX = {"backup": "obskit_backup", "restore-drill": "obskit_restore_drill"}
PUSH_TIMEOUT_SECONDS = 10


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file() and not item.is_symlink())


def build_registry(
    kind: str, duration: float, succeeded: bool, finished_at: float, size: int | None
) -> CollectorRegistry:
    """What one run pushes. Metrics about the last success are left out of a failed run's push, so
    the Pushgateway (POST) keeps the previous success's values for the alerts."""
    registry = CollectorRegistry()
    prefix = METRIC_PREFIX[kind]

    def gauge(name: str, documentation: str, value: float) -> None:
        Gauge(name, documentation, registry=registry).set(value)

    gauge(f"{prefix}_duration_seconds", f"Wall time of the last {kind} run, successful or not.", duration)
    gauge(f"{prefix}_last_attempt_success", f"1 if the last {kind} run succeeded, 0 if it failed.", int(succeeded))
    gauge(
        f"{prefix}_last_attempt_timestamp_seconds",
        f"Unix time the last {kind} run finished, successful or not.",
        finished_at,
    )
    if succeeded:
        gauge(
            f"{prefix}_last_success_timestamp_seconds", f"Unix time the last successful {kind} finished.", finished_at
        )
        if kind == "restore-drill":
            gauge(
                "obskit_restore_drill_last_success_duration_seconds",
                "Wall time of the last successful restore drill.",
                duration,
            )
        if size is not None and kind == "backup":
            gauge("obskit_backup_size_bytes", "Size of the last successful backup.", size)
    return registry


def push(
    gateway: str, kind: str, service: str, datastore: str, registry: CollectorRegistry, engine: str | None = None
) -> bool:
    grouping = {"service": service, "datastore": datastore} | ({"engine": engine} if engine else {})
    try:
        pushadd_to_gateway(
            gateway,
            job=PUSH_JOB[kind],
            registry=registry,
            grouping_key=grouping,
            timeout=PUSH_TIMEOUT_SECONDS,
        )
    except OSError as err:  # URLError, connection refused, timeouts
        log.warning("could not push metrics to %s: %s (the %s itself is unaffected)", gateway, err, kind)
        return False
    return True


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("kind", choices=sorted(PUSH_JOB), help="what the command does")
    parser.add_argument("--service", required=True)
    parser.add_argument("--datastore", required=True)
    parser.add_argument("--engine", help="the datastore's engine, added to the pushed series' labels")
    parser.add_argument(
        "--pushgateway",
        default=os.environ.get("OBSKIT_PUSHGATEWAY"),
        help="Pushgateway URL (default: $OBSKIT_PUSHGATEWAY); without one nothing is pushed",
    )
    parser.add_argument("--size-path", type=Path, help="file or directory whose size is reported after a backup")
    parser.epilog = "the command to run follows a lone --"
    options, command = list(argv), []
    if "--" in options:
        split = options.index("--")
        options, command = options[:split], options[split + 1 :]
    args = parser.parse_args(options)
    if not command:
        parser.error("give the command to run after --")
    args.command = command
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    log.info("%s of %s/%s: running %s", args.kind, args.service, args.datastore, " ".join(args.command))
    started = time.monotonic()
    try:
        code = subprocess.run(args.command, check=False).returncode
    except OSError as err:
        log.error("cannot run %s: %s", args.command[0], err)
        code = 127
    duration = time.monotonic() - started
    finished_at = time.time()
    succeeded = code == 0
    size = tree_size(args.size_path) if succeeded and args.size_path and args.size_path.exists() else None
    log.info("%s %s after %.1fs (exit code %d)", args.kind, "succeeded" if succeeded else "failed", duration, code)
    if args.pushgateway:
        registry = build_registry(args.kind, duration, succeeded, finished_at, size)
        push(args.pushgateway, args.kind, args.service, args.datastore, registry, args.engine)
    else:
        log.warning("no Pushgateway configured; metrics not pushed")
    return code


if __name__ == "__main__":
    sys.exit(main())
