"""PostgreSQL with WAL-G: the documented defaults for what a spec leaves out.

A leaf module: the objects read the port and compression defaults, the plan the restore inputs."""

from __future__ import annotations

from fractions import Fraction

from obskit.units import parse_duration, parse_throughput

ENGINE, METHOD = "postgres", "wal-g"
PORT = 5432
WALG_COMPRESSION = "zstd"
RESTORE_THROUGHPUT = parse_throughput("50MiB/s")
REPLAY_THROUGHPUT = parse_throughput("16MiB/s")
MIN_WAL_RATE = parse_throughput("256MiB/h")
WAL_RATE_SHARE_PER_HOUR = Fraction(2, 100)  # of the data size, when wal_rate is not given
RESTORE_STARTUP = parse_duration("2m")  # pod scheduling, fetch start-up, postgres start and checks
WAL_UPLOAD_ALLOWANCE = parse_duration("30s")  # compress and upload one 16MiB segment, with a retry
MIN_ARCHIVE_TIMEOUT = parse_duration("10s")
# The PostgreSQL major of jobs/Dockerfile's default build (its PG_MAJOR): what the restore drill
# takes a datastore without `version`, and an image without IMAGE_MAJOR in its tag, to be.
PG_MAJOR = 15
IMAGE_MAJOR = "{pg_major}"  # in walg.image: replaced by each datastore's major, one image per major
