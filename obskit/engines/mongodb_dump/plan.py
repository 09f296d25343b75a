"""MongoDB with mongodump, planned: the dump schedule (the spec's, or the longest one that meets the
RPO), the worst-case loss and restore time against the tier (schedule.py's arithmetic), retention,
drills, and the limits the alerts and dashboards use.

A dump schedule cannot meet a tight RPO: a 4-hourly dump loses up to 4h plus the dump and its
upload, which tier3_low's 24h allows and tier2's 30m or tier1's 5m do not. The refusal says what
could: a shorter schedule when the dump's duration allows one, or point-in-time recovery from
continuous oplog archiving (which obskit does not support yet).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from typing import Any

from obskit.alerting.alerts import CheckedAlert
from obskit.engines import walg_storage
from obskit.engines.mongodb_dump import alerts, defaults, metrics, objects, runbook, schedule
from obskit.engines.mongodb_dump import spec as fragment
from obskit.engines.mongodb_dump.spec import MongodumpFields
from obskit.plan import conventions as names
from obskit.plan.dr import DAY, DRFindings, DrillSchedule, Infeasible, cron_every, drill_schedule
from obskit.plan.engine import DatastoreFailover, Engine, Limit
from obskit.plan.types import Plan, ServicePlan
from obskit.shown import shown
from obskit.spec.failover import EnvironmentFailover
from obskit.spec.fragment import DatastoreKind
from obskit.spec.model import Datastore, Service, Tier
from obskit.spec.promql import Selector
from obskit.units import Duration, format_size, format_throughput

# A dump with --oplog carries the writes made during it; no oplog is archived between dumps.
STORAGE_REMARK = "MongoDB: each dump holds the oplog written during it; nothing is archived between dumps"


@dataclass(frozen=True)
class MongodumpPlan:
    datastore: Datastore
    assumed: tuple[str, ...]  # the inputs that fell back to defaults
    dump_duration: Duration
    interval: Duration | None  # None: the spec's schedule cannot be read
    cron: str | None
    derived: bool  # the schedule was derived from the RPO
    restore: schedule.RestoreEstimate
    restore_throughput: Fraction
    retain_count: int | None
    retention_cron: str
    drill: DrillSchedule
    backup_limit: Duration | None  # how old the last dump may be: interval + its duration + upload
    drill_limit: Duration  # the drills' longest gap + one RTO for the drill itself
    oplog_window_limit: Duration  # the oplog must cover a dump with a margin

    @property
    def spec(self) -> MongodumpFields:
        """The datastore's own fields, as the engine's fragment typed them."""
        return fragment.fields(self.datastore)

    @property
    def name(self) -> str:
        return self.datastore.name

    @property
    def worst_case_loss(self) -> Duration | None:
        return None if self.interval is None else schedule.worst_case_loss(self.interval, self.dump_duration)

    @property
    def folder(self) -> str:
        return "mongodb"

    @property
    def backed_up_by(self) -> str:
        return "mongodump"

    @property
    def series_job(self) -> str | None:
        return self.spec.exporter_job  # the oplog window's; the pushed series carry no job of the service

    def failover(
        self, service: Service, tier: Tier, environment: EnvironmentFailover, findings: DRFindings
    ) -> DatastoreFailover | None:
        return None  # it keeps no DR copy of its dumps yet: validation refuses a failover

    def summary(self) -> tuple[str, str]:
        loss = self.worst_case_loss
        if loss is None or self.interval is None:
            return "-", "-"
        achieves = f"{schedule.human(loss)} (a dump every {self.interval}, {schedule.human(self.dump_duration)} each)"
        return achieves, f"retain {self.retain_count} dumps" if self.retain_count else "-"

    @property
    def schedules(self) -> list[str]:
        return [self.cron or "", self.retention_cron, self.drill.cron]

    def limits(self, service_plan: ServicePlan) -> list[Limit]:
        labels = {"datastore": self.name}
        # not `backup_age`: that kind is Velero's, per service, and the DR dashboard joins on it
        limits = [Limit("dump_age", self.backup_limit, labels)] if self.backup_limit else []
        return [
            *limits,
            Limit("drill_age", self.drill_limit, labels),
            Limit("restore_estimate", self.restore.total, labels),
            Limit("oplog_window", self.oplog_window_limit, {**labels, "exporter_job": self.spec.exporter_job or ""}),
        ]

    def alerts(self, service_plan: ServicePlan) -> tuple[str, list[CheckedAlert]]:
        return alerts.datastore_alerts(service_plan, self, self.spec.exporter_job)

    def objects(self, plan: Plan, service_plan: ServicePlan) -> list[dict[str, Any]]:
        return objects.objects(plan, settings_from(plan, self.spec), service_plan, self)

    def fresh_backup(self, service_plan: ServicePlan) -> str:
        return objects.fresh_backup(service_plan, self, service_plan.service.namespace)

    def runbook(self, plan: Plan, service_plan: ServicePlan) -> str:
        return runbook.section(settings_from(plan, self.spec), service_plan, self)

    @property
    def runbook_steps(self) -> dict[str, tuple[str, ...]]:
        return runbook.FIRST_STEPS

    def database_patch(self, plan: Plan, service_plan: ServicePlan) -> dict[str, Any] | None:
        return None  # mongodump connects over the network: the database pod needs nothing

    def inputs(self, service_plan: ServicePlan) -> list[tuple[Selector, str]]:
        pushed = (
            ("service", "=", service_plan.name),
            ("datastore", "=", self.name),
            ("engine", "=", metrics.ENGINE_LABEL),
        )
        found = [
            (Selector(names.BACKUP_LAST_SUCCESS, pushed), "the backup job via the Pushgateway"),
            (Selector(names.DRILL_LAST_SUCCESS, pushed), "the restore-drill job via the Pushgateway"),
        ]
        job = self.spec.exporter_job
        if job is not None:
            found.append((Selector(metrics.OPLOG_HEAD, (("job", "=", job),)), f"mongodb_exporter (job {job})"))
        return found

    def report(self) -> dict[str, Any]:
        restore, storage = self.restore, self.storage
        loss = self.worst_case_loss
        return {
            "worst_case_loss_seconds": _s(loss),
            "restore_estimate_seconds": _s(restore.total),
            "restore_breakdown_seconds": None
            if restore.measured
            else {
                "startup": _s(restore.startup),
                "restore": _s(restore.restore),
                "oplog_replay": _s(restore.oplog_replay),
            },
            "schedule": self.cron,
            "schedule_derived": self.derived,
            "dump_interval_seconds": _s(self.interval),
            "dump_duration_seconds": _s(self.dump_duration),
            "oplog": self.spec.oplog,
            "replica_set": self.spec.replica_set,
            "retain_count": self.retain_count,
            "drill_schedule": self.drill.cron,
            "storage": storage.report() if storage else None,
            "storage_text": storage.text("dump") if storage else None,
            "storage_remarks": [walg_storage.UNCOMPRESSED, STORAGE_REMARK] if storage else [],
            "assumed": list(self.assumed),
        }

    @property
    def storage(self) -> walg_storage.StorageEstimate | None:
        """The dumps retention keeps, each as large as the data; the oplog a dump carries is in it."""
        if self.retain_count is None or self.interval is None or self.cron is None:
            return None
        try:
            per_day = len(schedule.run_minutes(self.cron))
        except schedule.CronError:  # a refused schedule: the plan has no estimate
            return None
        return walg_storage.StorageEstimate(
            kept=self.retain_count, size=self.datastore.size_bytes, interval=self.interval, per_day=Fraction(per_day)
        )


def settings_from(plan: Plan, own: MongodumpFields) -> objects.JobSettings:
    """The objects' settings: the environment's `mongodump` section and the datastore's URI Secret
    (validation requires both for a mongodump datastore)."""
    storage, pushgateway = fragment.section(plan.environment), plan.environment.pushgateway
    assert pushgateway is not None
    return objects.JobSettings(
        image=storage.image,
        prefix=storage.prefix,
        credentials_secret=storage.credentials_secret,
        uri=own.uri_secret,
        pushgateway=pushgateway,
        service_account=storage.service_account,
        key_file=storage.key_file,
        volume_claim=storage.volume_claim,
        drill_storage_class=storage.drill_storage_class,
    )


def _s(duration: Duration | None) -> int | None:
    return None if duration is None else duration.ms // 1000


def _minutes_up(duration: Duration) -> Duration:
    return Duration(-(-duration.ms // 60_000) * 60_000)


def _dump_duration(datastore: Datastore, own: MongodumpFields, assumed: list[str]) -> Duration:
    if own.duration is not None:
        return own.duration
    dump = schedule.dump_duration(datastore.size_bytes, defaults.DUMP_THROUGHPUT)
    assumed.append(f"duration {schedule.human(dump)} (dumping at {format_throughput(defaults.DUMP_THROUGHPUT)})")
    return dump


def _restore_throughput(datastore: Datastore, own: MongodumpFields, assumed: list[str]) -> Fraction:
    if datastore.restore_throughput is not None:
        return datastore.restore_throughput
    if own.restore_duration is None:  # a measured restore makes the throughput moot
        assumed.append(f"restore_throughput {format_throughput(defaults.RESTORE_THROUGHPUT)}")
    return defaults.RESTORE_THROUGHPUT


def _schedule(
    where: str, tier: Tier, own: MongodumpFields, dump: Duration, refuse: Callable[[str], None]
) -> tuple[Duration | None, str | None]:
    """The dumps' interval and cron: the spec's, checked against the RPO, or the longest that meets it."""
    if own.schedule is None:
        interval = schedule.longest_interval(tier.rpo, dump)
        if interval is None:
            refuse(schedule.loss_refusal(DAY, dump, tier.rpo, "a daily dump"))
            return None, None
        return interval, cron_every(interval, where)
    try:
        shortest, interval = schedule.cron_gaps(own.schedule)
    except schedule.CronError as err:
        refuse(f"schedule {shown(own.schedule)}: {err}")
        return None, own.schedule
    if not schedule.fits(shortest, dump):  # one run still going skips the next: a gap of two intervals
        refuse(schedule.overlap_refusal(shortest, dump))
    elif schedule.worst_case_loss(interval, dump) > tier.rpo:
        refuse(schedule.loss_refusal(interval, dump, tier.rpo, f"a dump every {interval} (`{own.schedule}`)"))
    return interval, own.schedule


def datastore_plan(service: str, tier: Tier, datastore: Datastore, findings: DRFindings) -> MongodumpPlan:
    """The datastore's plan; what the tier asks and a dump schedule cannot give goes to `findings`,
    with the numbers and the remedy."""
    own = fragment.fields(datastore)
    where = f"{service}/{datastore.name}"  # for notes and schedule offsets
    assumed: list[str] = []
    dump = _dump_duration(datastore, own, assumed)
    throughput = _restore_throughput(datastore, own, assumed)
    if assumed:
        findings.notes.append(f"{where}: assumed {', '.join(assumed)}; set them from measurements")

    def refuse(reason: str) -> None:
        findings.infeasible.append(Infeasible(service, datastore.name, reason))

    if own.oplog and own.replica_set is None:
        refuse(
            "mongodump --oplog works only against a replica set member (a standalone mongod has no oplog): "
            "name the replica set (`replica_set`), or set `oplog: false` for a dump that is not point-in-time"
        )
    if not own.oplog:
        findings.notes.append(
            f"{where}: without --oplog a dump copies each collection at a different moment: a restore is not "
            "consistent across collections"
        )
    interval, cron = _schedule(where, tier, own, dump, refuse)
    size = datastore.size_bytes
    restore = schedule.restore_estimate(size, throughput, dump, own.restore_duration)
    if restore.total > tier.rto:
        refuse(schedule.restore_refusal(restore, format_size(size), format_throughput(throughput), tier.rto))
    drill = drill_schedule(tier.restore_drill_interval, where + "/drill")
    return MongodumpPlan(
        datastore=datastore,
        assumed=tuple(assumed),
        dump_duration=dump,
        interval=interval,
        cron=cron,
        derived=own.schedule is None,
        restore=restore,
        restore_throughput=throughput,
        # the dumps the tier's retention covers, and the one before them that its oldest point needs
        retain_count=math.ceil(Fraction(tier.retention.ms, interval.ms)) + 1 if interval else None,
        retention_cron=cron_every(DAY, where + "/retention"),
        drill=drill,
        backup_limit=_minutes_up(schedule.worst_case_loss(interval, dump)) if interval else None,
        drill_limit=drill.max_gap + tier.rto,
        oplog_window_limit=_minutes_up(dump + defaults.OPLOG_WINDOW_MARGIN),
    )


@dataclass(frozen=True)
class MongoDBDump:
    """The engine: MongoDB backed up with mongodump (obskit/plan/engine.py's Engine; the registry
    line is the integrator's)."""

    key: tuple[str, str] = (defaults.ENGINE, defaults.METHOD)

    @property
    def spec(self) -> DatastoreKind:
        return fragment.KIND

    @property
    def streams_changes(self) -> bool:
        return False  # a dump is a snapshot: its loss waits on the schedule

    @property
    def dashboard_rows(self) -> str:
        return str(resources.files(__package__).joinpath("dashboard.libsonnet"))

    @property
    def restore_note(self) -> str:
        return (
            "Restore a MongoDB database backed up with mongodump with mongorestore (below): a file-system copy\n"
            "of a running mongod is not consistent."
        )

    @property
    def freshness_alert(self) -> str:
        return alerts.DUMP_TOO_OLD

    @property
    def velero_note(self) -> str:
        return "mongodump backs them up, and Velero's copy of a live mongod's data files is not consistent"

    @property
    def dashboard_series(self) -> dict[str, str]:
        return metrics.DASHBOARD_SERIES

    def plan(self, service: Service, tier: Tier, datastore: Datastore, findings: DRFindings) -> MongodumpPlan:
        return datastore_plan(service.name, tier, datastore, findings)


ENGINE: Engine = MongoDBDump()  # mypy checks it against the interface, and its plans against DatastorePlan
