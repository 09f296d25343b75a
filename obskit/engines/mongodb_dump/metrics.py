"""The upstream metrics the engine's alerts read: mongodb_exporter's (percona/mongodb_exporter at
12667a15, exporter/v1_compatibility.go, oplogStatus: emitted with --compatible-mode by its diagnostic
data collector, on a replica set member). obskit's own jobs push the obskit_* series of
obskit/plan/conventions.py, with `engine` set to ENGINE_LABEL (obskit_job.py --engine)."""

from __future__ import annotations

OPLOG_HEAD = "mongodb_mongod_replset_oplog_head_timestamp"  # seconds: the newest entry's ts
OPLOG_TAIL = "mongodb_mongod_replset_oplog_tail_timestamp"  # seconds: the oldest entry's ts
ENGINE_LABEL = "mongodb"

# The series the DR dashboard's datastore rows read, by the names its templates use.
DASHBOARD_SERIES = {"oplog_head": OPLOG_HEAD, "oplog_tail": OPLOG_TAIL}
