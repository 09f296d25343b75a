"""MongoDB backed up with `mongodump --oplog --archive --gzip`, streamed to object storage by
WAL-G's MongoDB mode (`wal-g backup-push`, with mongodump as its WALG_STREAM_CREATE_COMMAND).

Why WAL-G's MongoDB mode, rather than the job image with another uploader or a dump to a volume
and an upload (read in wal-g/wal-g at 43fb039f, docs/MongoDB.md, cmd/mongo/ and
internal/databases/mongo/):

- It is the tool, the storage layout and the settings the PostgreSQL engine already runs: the
  environment's `mongodump` section (spec.py) is named and checked as `walg` is and may name the
  same bucket and credentials Secret, and client-side encryption works the same way.
- It streams: the archive goes from mongodump's stdout to storage in parts (no volume the size of
  the dump, no second pass over the data), and `backup-push` uploads the backup's sentinel only
  after mongodump exited 0 (internal/databases/mongo/archive/loader.go, UploadBackup), so a dump
  that fails halfway is never listed as a backup nor fetched as LATEST.
- It records each backup's oplog timestamps before and after (its metadata, `backup-show`), keeps
  a number of backups (`wal-g delete --retain-count N --confirm`), fetches LATEST for the drills,
  and its `oplog-push`/`oplog-replay` are the continuous oplog archiving that point-in-time
  recovery needs: the path beyond dumps stays in one tool.

What it costs, and how the jobs deal with it:

- WALG_STREAM_CREATE_COMMAND and WALG_STREAM_RESTORE_COMMAND are shell strings WAL-G runs with
  `$SHELL -c` (internal/configure.go, GetCommandSettingContext), not argument vectors. obskit puts
  a fixed string there that execs jobs/mongodb_stream.py, which runs mongodump or mongorestore in
  exec form: no spec value or secret is ever interpolated into a shell.
- `backup-push` reads MONGODB_URI itself (it connects to record the oplog timestamps), so the URI
  is an environment variable from the Secret (secretKeyRef) in the job's pod; mongodump gets it
  through a `--config` file (mongo-tools' common/options/options.go reads `uri:` from it) written
  with mode 0600 in the pod's /tmp, never on a command line where `ps` shows it.
- WAL-G's MongoDB interface is marked unstable in its docs, and its MongoDB build is a binary of
  its own (the wal-g-mongo release assets), so the image is not the PostgreSQL one.
- mongodump --gzip, then WAL-G's own compression: the second pass gains nothing on gzip output
  but costs little; --gzip stays because the requirement asks for it and it makes the archive
  self-checking (a truncated gzip stream fails mongorestore).

`--oplog` works only against a replica set member (mongodump reads the oplog, local.oplog.rs,
which a standalone mongod does not have; mongodump/options.go: "for taking a point-in-time
snapshot on a replica set that is not part of a sharded cluster"), so the spec names the replica
set and the plan refuses `oplog: true` without one. With `--readPreference=secondary` the dump
and its oplog come from one secondary: the snapshot is as of that secondary's replication, which
may lag the primary; the dump is still consistent at the point its oplog reaches.
"""
