"""MongoDB with mongodump: the documented defaults for what a spec leaves out.

A leaf module: the plan reads the throughputs and allowances, the objects the names."""

from __future__ import annotations

from obskit.units import parse_duration, parse_throughput

ENGINE, METHOD = "mongodb", "mongodump"
PORT = 27017
# mongodump --gzip on one secondary is CPU-bound on compression: a modest figure until measured
DUMP_THROUGHPUT = parse_throughput("50MiB/s")
RESTORE_THROUGHPUT = parse_throughput("50MiB/s")  # mongorestore inserts and rebuilds indexes
# WAL-G uploads the stream while mongodump writes it: after the dump ends it flushes the last
# part and writes the backup's sentinel, which is when the backup exists
UPLOAD_ALLOWANCE = parse_duration("2m")
RESTORE_STARTUP = parse_duration("2m")  # pod scheduling, the scratch mongod's start, wal-g's start
# A dump with --oplog fails when the oplog rolls over during it: the window must exceed the dump's
# duration by this much before the alert fires
OPLOG_WINDOW_MARGIN = parse_duration("1h")
