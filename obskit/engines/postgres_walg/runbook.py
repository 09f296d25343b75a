"""PostgreSQL with WAL-G: the datastore's part of a service's disaster-recovery runbook, from the
plan's own numbers and the names of the objects the engine writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from obskit.engines.postgres_walg import spec
from obskit.engines.postgres_walg.objects import WRAPPER, object_names, storage_prefix
from obskit.output.render import markdown_table
from obskit.plan.types import Plan, ServicePlan
from obskit.units import format_size, human_duration

if TYPE_CHECKING:  # the plan module calls this one
    from obskit.engines.postgres_walg.plan import WalgPlan


# The first steps of the engine's alerts' runbook sections (obskit/generate/rules/runbooks.py has the rest).
FIRST_STEPS = {
    # the DR standby (failover.py): a failover now would lose more than the RPO, or nothing follows the primary
    "StandbyReplayBehind": (
        "On the DR standby, `SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp(), pg_last_wal_replay_lsn()`, "
        "and read its log: a failing restore_command (the DR prefix, its credentials) or a broken streaming "
        "connection (`stream_from`, the replication user).",
        "Check the DR copy CronJob's last runs (`kubectl get jobs` in the DR cluster) when the standby "
        "replays the copy.",
        "Until it catches up, a failover loses the rows not replayed: say so before anyone fails over.",
    ),
    "StandbyNotReplica": (
        "The DR standby is out of recovery: promoted (a failover, or by mistake), or never set up as a standby. "
        "If no failover happened, rebuild it as a standby from the DR copy (the failover runbook's fail-back).",
    ),
    "WALArchiveTooOld": (
        "Check `pg_stat_archiver` (`SELECT * FROM pg_stat_archiver`): failed_count, last_failed_wal and "
        "last_failed_time say what the archive_command hit.",
        "Check the PostgreSQL log for the archive_command's error (credentials, storage, network).",
        "Written data is not protected beyond the last archived segment; pg_wal grows until archiving works.",
    ),
    "WALArchiveFailing": (
        "Check the PostgreSQL log for the archive_command's error and fix its cause (credentials, storage, "
        "network, the wal-g settings in the pod).",
        "Watch the disk: pg_wal keeps every unarchived segment, and a full disk stops the database.",
    ),
    "WALArchiveErrors": (
        "Read the PostgreSQL log around `last_failed_time` in `pg_stat_archiver`: a one-off storage hiccup "
        "needs nothing; a recurring one, a fix before it becomes stuck.",
    ),
    "BaseBackupTooOld": (
        "Check the base-backup CronJob's last Jobs and their logs (`kubectl get jobs -n <namespace>`).",
        "No data is lost while WAL is archived, but a restore now replays more WAL and may exceed the RTO.",
    ),
    "RestoreDrillOverdue": (
        "Check the restore-drill CronJob's last Jobs and their logs; run one now with "
        "`kubectl create job --from=cronjob/<drill CronJob> <name>`.",
    ),
    "RestoreDrillFailed": (
        "Read the drill Job's log (`kubectl logs job/<drill job>`): it names the step that failed.",
        '"the WAL archive has a gap" or "replay ended ... but the archive holds segments up to ...": WAL '
        "after that point cannot be restored. Take a base backup now (it starts a new unbroken chain), then "
        "find out why the segment is missing (retention, a failed upload, storage lifecycle rules).",
        "A fetch or start-up failure: check the credentials, the scratch volume's size and the pod's limits.",
    ),
    "RestoreDrillTooSlow": (
        "Compare the drill's phases in its log with the plan's estimate (`obskit plan`): base backup fetch, "
        "WAL replay, start-up. Measure and set the datastore's restore and replay throughput in the spec.",
    ),
}


def section(plan: Plan, service_plan: ServicePlan, ds: WalgPlan) -> str:
    """Markdown: the datastore's targets, then point-in-time recovery with WAL-G, step by step."""
    names = object_names(service_plan, ds)
    namespace = service_plan.service.namespace
    restore = human_duration(ds.restore.total.seconds) if ds.restore else "n/a"
    prefix = storage_prefix(plan, service_plan, ds)
    tier = service_plan.tier
    targets = markdown_table(
        ("what", "value"),
        [
            (
                "WAL archive",
                f"`{prefix}`, a segment at least every `archive_timeout` = "
                f"{human_duration(ds.archive_timeout.seconds)} while the database writes",
            ),
            ("worst-case data loss", f"{human_duration(ds.worst_case_loss.seconds)} (RPO {tier.rpo})"),
            (
                "base backups",
                f"`{ds.base_cron}` (CronJob `{names['base-backup']}`), the last {ds.retain_full} kept "
                f"(`{names['retention']}`, `{ds.retention_cron}`)",
            ),
            ("estimated restore", f"{restore} for {format_size(ds.datastore.size_bytes)} (RTO {tier.rto})"),
            ("restore drills", f"`{ds.drill.cron}` (CronJob `{names['restore-drill']}`)"),
        ],
    )
    return f"""\
## Datastore {ds.name} (PostgreSQL, WAL-G)

{targets}
The WAL-G settings (storage prefix, compression, PGHOST, PGPORT) are in the ConfigMap
`{names["env"]}` in namespace `{namespace}`, the storage credentials in the Secret
`{spec.walg(plan.environment).credentials_secret}`.

### Point-in-time recovery

Restore into a new, empty data directory (a new volume or a new instance), never over the
damaged one, and keep the old one until the restore is verified. In a database pod with the
patch `patches/walg/{service_plan.name}-{ds.name}.yaml` applied (wal-g, the PostgreSQL server
binaries, and the wrapper that gives wal-g the ConfigMap's settings and the Secret's credentials):

```sh
walg={WRAPPER}
# 1. the base backups there are, newest last; pick the last one taken before the damage
$walg backup-list --detail
# 2. fetch it into the new data directory
$walg backup-fetch "$PGDATA" LATEST        # or the backup's name from the list
# 3. replay the archive up to just before the damage, then stop and wait for a look
cat >> "$PGDATA/postgresql.auto.conf" <<'EOF'
restore_command = '{WRAPPER} wal-fetch %f %p'
recovery_target_time = '2026-01-31 12:34:00+00'   # just before the damage; leave out to replay everything
recovery_target_action = 'pause'
archive_mode = off                                  # until the restore is accepted
EOF
touch "$PGDATA/recovery.signal"
pg_ctl -D "$PGDATA" start
```

Check the result before anything writes to it:

```sh
psql -Atc "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp()"
psql -Atc "SELECT count(*) FROM <a table you know>"   # the data you expect is there
```

Then `psql -c "SELECT pg_promote()"`, turn archiving back on (`archive_mode = on`, which needs
a restart) and point the service at the restored database. A replay that stops before the
target means the archive has a gap: `$walg wal-verify integrity timeline` names the missing
segments.
"""


def fresh_backup(service_plan: ServicePlan, ds: WalgPlan) -> str:
    """The command that takes a base backup now, from the CronJob obskit writes."""
    cron_job = object_names(service_plan, ds)["base-backup"]
    return f"`kubectl -n {service_plan.service.namespace} create job --from=cronjob/{cron_job} {cron_job}-now`"
