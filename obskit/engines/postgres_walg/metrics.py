"""The upstream metrics the engine's alerts, dashboard rows and live checks read: postgres_exporter's
(obskit's own jobs push the obskit_* series of obskit/plan/conventions.py)."""

from __future__ import annotations

ARCHIVE_AGE = "pg_stat_archiver_last_archive_age"
ARCHIVE_FAILURES = "pg_stat_archiver_failed_count"
ARCHIVED = "pg_stat_archiver_archived_count"  # counts from the exporter's first scrape: it is there
TUPLE_WRITES = ("pg_stat_database_tup_inserted", "pg_stat_database_tup_updated", "pg_stat_database_tup_deleted")

# The series the DR dashboard's datastore rows read, by the names its templates use.
DASHBOARD_SERIES = {"archive_age": ARCHIVE_AGE, "archive_failures": ARCHIVE_FAILURES}
# The DR standby's, from obskit's standby-queries.yaml (jobs/) in its postgres_exporter
STANDBY_REPLAYED = "obskit_standby_last_replay_timestamp_seconds"  # commit time of the last replayed transaction
STANDBY_IN_RECOVERY = "obskit_standby_in_recovery"  # 1 while a standby, 0 once promoted
