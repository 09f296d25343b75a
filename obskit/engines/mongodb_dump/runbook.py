"""MongoDB with mongodump: the datastore's part of a service's disaster-recovery runbook, from the
plan's own numbers and the names of the objects the engine writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from obskit.engines.mongodb_dump.objects import JobSettings, object_names, storage_prefix
from obskit.output.render import markdown_table
from obskit.plan.types import ServicePlan
from obskit.units import format_size, human_duration

if TYPE_CHECKING:  # the plan module calls this one
    from obskit.engines.mongodb_dump.plan import MongodumpPlan

# The first steps of the engine's alerts' runbook sections (obskit/generate/rules/runbooks.py has the rest).
FIRST_STEPS = {
    "MongoDBDumpTooOld": (
        "Check the dump CronJob's last Jobs and their logs (`kubectl get jobs -n <namespace>`): mongodump's "
        "error (credentials, the replica set unreachable, the oplog rolled over) or WAL-G's (storage).",
        "Writes since the last successful dump are not protected: take one now once the cause is fixed.",
    ),
    "MongoDBDumpFailed": (
        "Read the dump Job's log: `Failed:` lines are mongodump's, `ERROR:` lines WAL-G's.",
        '"oplog rolled over" or "error getting oplog start": the oplog is shorter than a dump; see '
        "MongoDBOplogWindowTooShort.",
    ),
    "MongoDBRestoreDrillOverdue": (
        "Check the restore-drill CronJob's last Jobs and their logs; run one now with "
        "`kubectl create job --from=cronjob/<drill CronJob> <name>`.",
    ),
    "MongoDBRestoreDrillFailed": (
        "Read the drill Job's log: it names the step that failed.",
        '"corruption found in archive": the latest dump is truncated or damaged in storage; take a dump now '
        "and find out why (a failed upload, storage lifecycle rules). The previous dumps are still listed by "
        "`wal-g backup-list`.",
        '"no oplog file to replay": the dump was taken without --oplog. "failed to restore N document(s)": '
        "read mongorestore's errors above it.",
    ),
    "MongoDBRestoreDrillTooSlow": (
        "Compare the drill's log with the plan's estimate (`obskit plan`): the restore, the index builds and "
        "the oplog replay. Measure and set the datastore's restore_throughput or restore_duration in the spec.",
    ),
    "MongoDBOplogWindowTooShort": (
        "Check the oplog's size and the write volume (`rs.printReplicationInfo()` in mongosh).",
        "Enlarge the oplog (`db.adminCommand({replSetResizeOplog: 1, size: <MB>})` on each member) so that it "
        "spans a dump with room to spare.",
    ),
}


def section(settings: JobSettings, service_plan: ServicePlan, ds: MongodumpPlan) -> str:
    """Markdown: the datastore's targets, then a restore with mongorestore, step by step."""
    assert ds.interval is not None and ds.worst_case_loss is not None
    names = object_names(service_plan, ds)
    namespace = service_plan.service.namespace
    tier = service_plan.tier
    targets = markdown_table(
        ("what", "value"),
        [
            ("dumps", f"`{storage_prefix(settings, service_plan, ds)}`, `{ds.cron}` (CronJob `{names['dump']}`)"),
            (
                "worst-case data loss",
                f"{human_duration(ds.worst_case_loss.seconds)}: {ds.interval} between dumps + "
                f"{human_duration(ds.dump_duration.seconds)} dump + upload (RPO {tier.rpo})",
            ),
            ("kept", f"the last {ds.retain_count} dumps (`{names['retention']}`, `{ds.retention_cron}`)"),
            (
                "estimated restore",
                f"{human_duration(ds.restore.total.seconds)} for {format_size(ds.datastore.size_bytes)} "
                f"(RTO {tier.rto})",
            ),
            ("restore drills", f"`{ds.drill.cron}` (CronJob `{names['restore-drill']}`)"),
        ],
    )
    return f"""\
## Datastore {ds.name} (MongoDB, mongodump)

{targets}
The WAL-G settings are in the ConfigMap `{names["env"]}` in namespace `{namespace}`, the storage
credentials in the Secret `{settings.credentials_secret}`, the connection URI in the Secret
`{settings.uri.secret}` (key `{settings.uri.key}`).

### What a dump can restore

A dump taken with `--oplog` restores the database as it was when that dump ended, nothing later:
the writes since the last successful dump are lost (up to the worst case above). A dump is not a
point-in-time backup between dumps; `--oplogLimit` can only stop the replay of the oplog the dump
itself captured, inside the dump's own minutes. Point-in-time recovery needs continuous oplog
archiving (Percona Backup for MongoDB's PITR, or WAL-G's `oplog-push`), which obskit does not set up.

### Restore with mongorestore

Restore into a new, empty replica set (or a standalone to inspect first), never over the damaged
one, and keep the old one until the restore is verified. From a pod with the jobs' image, the
ConfigMap `{names["env"]}` and the Secret `{settings.credentials_secret}` as environment:

```sh
# 1. the dumps there are, newest last; pick the last one taken before the damage
wal-g backup-list --detail
# 2. stream it into the new database, replaying the oplog the dump captured
export WALG_STREAM_RESTORE_COMMAND='mongorestore --uri="$RESTORE_URI" --oplogReplay --archive --gzip --stopOnError'
RESTORE_URI='mongodb://<user>@<new-host>:27017/?authSource=admin' wal-g backup-fetch LATEST   # or the dump's name
```

`--drop` drops each collection before restoring it: only against a database you mean to replace.
mongorestore's last line counts the documents restored and failed: a failed count above zero is
a failed restore. Check the data before the service writes to it:

```sh
mongosh "$RESTORE_URI" --quiet --eval 'db.adminCommand({{listDatabases: 1}}).databases'
```

Then point the service at the restored database and take a dump of it at once
(`kubectl -n {namespace} create job --from=cronjob/{names["dump"]} {names["dump"]}-now`).
"""
