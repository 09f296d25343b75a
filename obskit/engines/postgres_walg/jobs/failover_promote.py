#!/usr/bin/env python3
"""The failover's promote step: fence the old primary where it still answers, promote the DR
standby with pg_promote(), and check that it left recovery and takes writes. Exit 0 only when
the standby is a writable primary; every step logs what it did and how long it took.

Connections go through psql, so libpq reads every setting from the environment, never from
the command line (a password there would show in the process list):

- the standby: the usual PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD (or PGPASSFILE),
  PGSSLMODE... as libpq reads them;
- the old primary: the same names prefixed with OBSKIT_FENCE_ (OBSKIT_FENCE_PGHOST,
  OBSKIT_FENCE_PGPASSWORD...), which this script hands to psql as the PG* names. Without
  OBSKIT_FENCE_PGHOST the script refuses to run unless --skip-fence says that is intended.

Fencing is best effort by design: the primary region is usually down when this runs, so an
unreachable primary (connect timeout --connect-timeout) is logged and the promotion goes on.
A primary that answers is made read-only for new transactions (ALTER SYSTEM SET
default_transaction_read_only = on, pg_reload_conf()) and its client sessions are terminated,
so that clients still pointed at it reconnect and fail their writes instead of diverging.
A client can still override that default per transaction: the hard fence is taking its traffic
away (the DNS and scale steps).

    failover_promote.py [--wait-seconds 60] [--connect-timeout 5] [--skip-fence]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import ParamSpec, TypeVar

log = logging.getLogger("obskit-failover-promote")
P = ParamSpec("P")
R = TypeVar("R")

FENCE_PREFIX = "OBSKIT_FENCE_"
# libpq's connection variables: the only ones carried from OBSKIT_FENCE_* to the fence's psql
LIBPQ_VARIABLES = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGAPPNAME",
    "PGOPTIONS",
    "PGTARGETSESSIONATTRS",
)
FENCE_STATEMENTS = (
    "ALTER SYSTEM SET default_transaction_read_only = on",
    "SELECT pg_reload_conf()",
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
)
# assigns a transaction id and commits it: fails in recovery and in a read-only transaction
WRITE_CHECK = "CREATE TEMP TABLE obskit_promote_check AS SELECT txid_current() AS xid"


class StepFailed(Exception):
    pass


def fence_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of the fence's psql: the OBSKIT_FENCE_PG* settings as libpq's PG* names,
    and none of the standby's PG* settings (a missing fence setting must not fall back to them)."""
    env = {name: value for name, value in environ.items() if not name.startswith(("PG", FENCE_PREFIX))}
    for name in LIBPQ_VARIABLES:
        value = environ.get(FENCE_PREFIX + name)
        if value is not None:
            env[name] = value
    return env


def psql(statements: tuple[str, ...], env: Mapping[str, str], connect_timeout: int, timeout: float) -> list[str]:
    """Each statement in its own transaction (ALTER SYSTEM refuses a transaction block), one line
    of unaligned output per result row; raises StepFailed with psql's message."""
    args = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At"]
    for statement in statements:
        args += ["-c", statement]
    env = {**env, "PGCONNECT_TIMEOUT": str(connect_timeout)}
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:
        raise StepFailed(f"psql gave no answer within {timeout:.0f}s") from err
    except OSError as err:
        raise StepFailed(f"cannot run psql: {err}") from err
    if done.returncode != 0:
        raise StepFailed(done.stderr.strip() or f"psql exited with {done.returncode}")
    return done.stdout.splitlines()


def where(env: Mapping[str, str]) -> str:
    return f"{env.get('PGHOST', 'the default host')}:{env.get('PGPORT', '5432')}"


def fence(environ: Mapping[str, str], connect_timeout: int) -> str:
    env = fence_environment(environ)
    try:
        lines = psql(FENCE_STATEMENTS, env, connect_timeout, timeout=connect_timeout + 30)
    except StepFailed as err:
        # the expected case when the region is down: log it and promote anyway
        log.warning("old primary at %s not fenced (unreachable or refused): %s", where(env), err)
        return "unreachable"
    terminated = lines[-1] if lines else "0"
    log.info(
        "old primary at %s fenced: default_transaction_read_only = on, %s client sessions terminated",
        where(env),
        terminated,
    )
    return "fenced"


def promote(environ: Mapping[str, str], wait_seconds: int, connect_timeout: int) -> None:
    env = dict(environ)
    (in_recovery,) = psql(("SELECT pg_is_in_recovery()",), env, connect_timeout, timeout=connect_timeout + 30)
    if in_recovery == "f":
        log.warning("the standby at %s is not in recovery: already promoted, checking it takes writes", where(env))
        return
    query = f"SELECT pg_promote(wait => true, wait_seconds => {wait_seconds})"
    (promoted,) = psql((query,), env, connect_timeout, timeout=connect_timeout + wait_seconds + 30)
    if promoted != "t":
        raise StepFailed(f"the standby at {where(env)} did not finish promoting within {wait_seconds}s")


def verify(environ: Mapping[str, str], connect_timeout: int) -> str:
    env = dict(environ)
    in_recovery, read_only, lsn = psql(
        ("SELECT pg_is_in_recovery()", "SHOW transaction_read_only", "SELECT pg_current_wal_lsn()"),
        env,
        connect_timeout,
        timeout=connect_timeout + 30,
    )
    if in_recovery != "f":
        raise StepFailed(f"the server at {where(env)} is still in recovery after pg_promote()")
    if read_only != "off":
        raise StepFailed(f"the server at {where(env)} left recovery but its transactions are read-only by default")
    psql((WRITE_CHECK,), env, connect_timeout, timeout=connect_timeout + 30)
    return lsn


def timed(name: str, step: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    started = time.monotonic()
    try:
        return step(*args, **kwargs)
    finally:
        log.info("step %s took %.2fs", name, time.monotonic() - started)


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--wait-seconds", type=int, default=60, help="pg_promote()'s wait_seconds (default 60)")
    parser.add_argument(
        "--connect-timeout", type=int, default=5, help="seconds to wait for each connection (default 5)"
    )
    parser.add_argument("--skip-fence", action="store_true", help="promote without trying to fence the old primary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    environ = dict(os.environ if environ is None else environ)
    if not args.skip_fence and not environ.get(FENCE_PREFIX + "PGHOST"):
        log.error("%sPGHOST names no old primary to fence: set it, or pass --skip-fence", FENCE_PREFIX)
        return 2
    started = time.monotonic()
    try:
        if not args.skip_fence:
            timed("fence", fence, environ, args.connect_timeout)
        timed("promote", promote, environ, args.wait_seconds, args.connect_timeout)
        lsn = timed("verify", verify, environ, args.connect_timeout)
    except StepFailed as err:
        log.error("promotion failed after %.2fs: %s", time.monotonic() - started, err)
        return 1
    log.info(
        "the standby at %s is the primary now: writable, WAL at %s, promoted in %.2fs",
        where(environ),
        lsn,
        time.monotonic() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
