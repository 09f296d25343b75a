"""PostgreSQL with WAL-G: the datastore's section of a service's failover runbook (promote, verify,
fail back), from the failover plan's numbers and the names of the DR objects."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from obskit.engines.postgres_walg.objects import WRAPPER
from obskit.output.render import markdown_table
from obskit.plan.jobs import SCRIPTS_DIR
from obskit.units import human_duration

if TYPE_CHECKING:
    from obskit.engines.postgres_walg.failover import WalgFailover
    from obskit.plan.types import Plan, ServicePlan


def suspend_args(namespace: str, cron_job: str) -> list[str]:
    """kubectl's arguments that stop the DR copy: once promoted, the standby archives its new
    timeline into the DR prefix, which a copy run must not write into."""
    return ["kubectl", f"--namespace={namespace}", "patch", f"cronjob/{cron_job}", "--type=merge",
            '--patch={"spec":{"suspend":true}}']  # fmt: skip


def suspend_command(namespace: str, cron_job: str) -> str:
    return shlex.join(suspend_args(namespace, cron_job))


def section(plan: Plan, service_plan: ServicePlan, fo: WalgFailover) -> str:
    names = fo.names(service_plan)
    namespace = service_plan.service.namespace
    ds, host = fo.ds, fo.ds.fields.host
    standby = "streams from the primary at `" + fo.stream_from + "` and replays" if fo.stream_from else "replays"
    targets = markdown_table(
        ("what", "value"),
        [
            (
                "DR copy",
                f"`{fo.dr_prefix(service_plan)}`, `wal-g copy` every {fo.copy_step} (CronJob `{names['copy']}`)",
            ),
            ("DR standby", f"`{host}` in the DR cluster; it {standby} the DR copy"),
            ("worst-case loss", f"{human_duration(fo.dr_loss.seconds)}: {fo.dr_loss_basis} (RPO {fo.rpo})"),
            ("standby settings", f"`{names['files']}` (`postgresql-standby.conf`), `{names['env']}` (WAL-G settings)"),
        ],
    )
    fence = (
        f"The promote Job fences the old primary at `{fo.stream_from}` where it still answers (new transactions "
        "read-only, client sessions ended); an unreachable primary is logged and the promotion goes on."
        if fo.stream_from
        else "The promote Job does not fence (no `stream_from` names the old primary): if the primary region "
        "still runs, fence it by hand first, from anywhere that reaches it:\n\n"
        "```sh\n"
        'psql -h <old primary> -c "ALTER SYSTEM SET default_transaction_read_only = on" -c "SELECT pg_reload_conf()"\n'
        'psql -h <old primary> -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()\"\n"
        "```\n\nor scale its StatefulSet to 0. Then take its traffic away (the DNS step)."
    )
    return f"""\
## Datastore {ds.name} (PostgreSQL standby)

{targets}
### Promote

Do not promote on one failed probe or a short blip: promote once the failover is decided (the
detect step's alert fired and the primary region is not coming back within the RTO). Check how far
behind the standby is first: `{fo.standby_job}`'s `time() - obskit_standby_last_replay_timestamp_seconds`
is the age of its last replayed commit.

{fence}

The promote Job suspends the DR copy first (`{suspend_command(namespace, names["copy"])}`):
once promoted the standby archives its new timeline into the DR prefix, and a copy run must not write
there. Check that no copy Job is still running (`kubectl -n {namespace} get jobs`) and delete one that is.
Then it runs `{SCRIPTS_DIR}/failover_promote.py`: `pg_promote()`, wait until the server left recovery,
and a test write.

### Verify

```sh
psql -h {host} -Atc "SELECT pg_is_in_recovery()"              # f: a primary
psql -h {host} -Atc "SHOW transaction_read_only"              # off
psql -h {host} -Atc "SELECT max(<time column>) FROM <a table you know>"   # the last rows before the outage
```

`{names["copy"]}` stays suspended. `StandbyNotReplica` fires for the promoted standby: expected now.

### Fail back

1. Keep the old primary from taking writes when its region returns (fenced, or its StatefulSet at 0).
2. Rebuild it as a standby of the new primary: a new, empty data directory from a base backup of the new
   primary (`pg_basebackup -h <new primary> -D "$PGDATA" -X stream -R`, or `{WRAPPER} backup-fetch` from
   the DR prefix after a `backup-push` on the new primary), `standby.signal`, and `primary_conninfo`
   pointing at the new primary. Never restart the old data directory as it was: it may hold commits
   the new primary does not (`pg_rewind` can reuse it only with `wal_log_hints` or checksums on).
3. Wait until it has caught up (`pg_stat_replication` on the new primary: `replay_lsn` equals
   `pg_current_wal_lsn()`), then switch back in a quiet window: fence and promote it the way this
   runbook promoted the standby, move DNS back, scale this region down.
4. Rebuild this region's standby from the primary's prefix, and resume the DR copy
   (`kubectl -n {namespace} patch cronjob {names["copy"]} --type merge -p '{{"spec":{{"suspend":false}}}}'`).
"""
