"""PostgreSQL with WAL-G, its part of a service's failover: the DR copy of the WAL-G prefix in the DR
region, the standby there that replays it (and streams from the primary when the datastore names
`stream_from`), the alerts on the standby, the promote step's pod and the runbook section.

The DR loss of a copy alone: a commit reaches the primary's archive within two archive_timeouts
(one more after an idle spell, CheckArchiveTimeout in PostgreSQL's checkpointer.c) plus the
upload of its segment, then waits for the next copy run and that run itself. `wal-g copy`
without `--backup-name` copies every object of the prefix on each run (WAL-G's
internal/databases/postgres/copy.go, WildcardInfo; it skips nothing the target already holds), so
a run takes the retained prefix's size at the copy throughput. The engine's archive_timeout spends
nearly the whole RPO on the primary's own archive, so a copy alone cannot meet the RPO: streaming
replication from the primary (`stream_from`) is the remedy. A streaming standby trails the primary
by well under a second; what bounds its loss is StandbyReplayBehind, which pages once rows written
more than the RPO ago are not replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from obskit.alerting.alerts import Case, CheckedAlert, alert, constant, secs, when_absent
from obskit.alerting.timing import FOR_STEP, INPUT_STEP, check_time, input_steps
from obskit.engines import walg_storage
from obskit.engines.postgres_walg import alerts, defaults, failover_runbook, metrics, spec
from obskit.engines.postgres_walg.objects import POSTGRES_UID, WRAPPER, script_text, storage_prefix
from obskit.output import escape
from obskit.plan import jobs
from obskit.plan.conventions import k8s_name
from obskit.plan.dr import CRON_STEPS, DRFindings, Infeasible, cron_every, seconds_duration
from obskit.plan.meta import object_metadata
from obskit.spec.failover import EnvironmentFailover
from obskit.spec.model import Service, Tier
from obskit.spec.promql import Selector
from obskit.spec.series import series_text
from obskit.units import Duration, format_throughput, human_duration

if TYPE_CHECKING:
    from obskit.engines.postgres_walg.plan import WalgPlan
    from obskit.plan.types import Plan, ServicePlan

MAX_CRONJOB_NAME = 52  # Kubernetes appends 11 characters to name each Job
REPLAY_BEHIND = "StandbyReplayBehind"
NOT_REPLICA = "StandbyNotReplica"
STANDBY_JOB_SUFFIX = "-standby"  # the `job` of the standby's postgres_exporter: <exporter_job>-standby
PROMOTE_WAIT = 60  # seconds pg_promote() waits for the standby to finish recovery
FILES = ("wal-g-env", "failover_promote.py", "standby-queries.yaml")
STANDBY_CONF = "postgresql-standby.conf"
COPY_FROM, COPY_TO = "copy-from.json", "copy-to.json"
_RESOURCES = {
    "requests": {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "256Mi"},
    "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "1Gi"},
}
_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def object_names(service: str, datastore: str) -> dict[str, str]:
    """The DR cluster's objects of one datastore, by role; the runbook and the promote pod name them."""
    return {
        "env": k8s_name(service, datastore, "walg-dr-env"),
        "files": k8s_name(service, datastore, "walg-dr-files"),
        "copy": k8s_name(service, datastore, "dr-copy", limit=MAX_CRONJOB_NAME),
        "promote": k8s_name(service, datastore, "promote"),  # the promote step's ServiceAccount
    }


def retained_bytes(ds: WalgPlan) -> Fraction:
    """What the primary's prefix holds: the retained base backups and the WAL since the oldest
    (uncompressed, an upper bound)."""
    if ds.base_interval is None or ds.retain_full is None:
        return Fraction(ds.datastore.size_bytes)
    kept = ds.retain_full * ds.base_interval.seconds
    return ds.retain_full * ds.datastore.size_bytes + ds.wal_rate * kept


@dataclass(frozen=True)
class WalgFailover:
    """The DatastoreFailover of a PostgreSQL datastore (obskit/plan/engine.py)."""

    ds: WalgPlan
    environment: EnvironmentFailover
    rpo: Duration
    copy_step: Duration
    copy_cron: str
    copy_run: Duration  # one `wal-g copy` of the whole prefix
    copy_loss: Duration  # what the DR prefix may lag: archive, upload, the wait for a run, the run
    stream_from: str | None

    @property
    def dr_loss(self) -> Duration:
        return self.rpo if self.stream_from else self.copy_loss

    @property
    def dr_loss_basis(self) -> str:
        if self.stream_from:
            return (
                f"streaming from {self.stream_from}, normally under a second behind; {REPLAY_BEHIND} pages when "
                f"rows written more than the RPO ({self.rpo}) ago are not replayed (the DR copy, every "
                f"{self.copy_step}, is the fallback)"
            )
        return self.copy_basis

    @property
    def copy_basis(self) -> str:
        timeout = self.ds.archive_timeout
        return (
            f"2 x archive_timeout {timeout} + {defaults.WAL_UPLOAD_ALLOWANCE} upload + a copy every "
            f"{self.copy_step} + {human_duration(self.copy_run.seconds)} per copy run"
        )

    @property
    def standby_job(self) -> str:
        return self.ds.fields.exporter_job + STANDBY_JOB_SUFFIX

    def names(self, service_plan: ServicePlan) -> dict[str, str]:
        return object_names(service_plan.name, self.ds.name)

    def dr_prefix(self, service_plan: ServicePlan) -> str:
        copy = spec.walg_copy(self.environment)
        return f"{copy.prefix.rstrip('/')}/{service_plan.name}/{self.ds.name}"

    def dr_credentials(self, plan: Plan) -> str:
        copy = spec.walg_copy(self.environment)
        return copy.credentials_secret or spec.walg(plan.environment).credentials_secret

    # DatastoreFailover

    def alerts(self, service_plan: ServicePlan) -> list[CheckedAlert]:
        behind = replay_behind(service_plan, self)
        replayed = series_text(metrics.STANDBY_REPLAYED, {"job": self.standby_job})
        absent = when_absent(
            behind, replayed, {"job": self.standby_job}, self.rpo, "The DR standby's last replayed commit"
        )
        return [behind, absent, not_replica(service_plan, self)]

    def objects(self, plan: Plan, service_plan: ServicePlan) -> list[dict[str, Any]]:
        return dr_objects(plan, service_plan, self)

    def promote_pod(self, plan: Plan, service_plan: ServicePlan, image: str) -> dict[str, Any]:
        return promote_pod(plan, service_plan, self, image)

    def runbook(self, plan: Plan, service_plan: ServicePlan) -> str:
        return failover_runbook.section(plan, service_plan, self)

    def inputs(self, service_plan: ServicePlan) -> list[tuple[Selector, str]]:
        job = (("job", "=", self.standby_job),)
        source = f"the DR standby's postgres_exporter with standby-queries.yaml (job {self.standby_job})"
        return [(Selector(metrics.STANDBY_REPLAYED, job), source), (Selector(metrics.STANDBY_IN_RECOVERY, job), source)]


def _copy_schedule(
    service: Service, tier: Tier, ds: WalgPlan, run: Duration, streaming: bool, findings: DRFindings
) -> tuple[Duration, Duration]:
    """(copy step, DR loss of the copy). Streaming: a copy after each base backup, which a rebuilt
    standby starts from. A copy alone: the longest step a run fits in whose loss meets the RPO."""
    fixed = ds.archive_timeout + ds.archive_timeout + defaults.WAL_UPLOAD_ALLOWANCE + run
    fitting = [step for step in CRON_STEPS if step >= run]
    if not fitting:  # a run longer than a day: back to back
        fitting = [run]
    if streaming:
        step = next((each for each in fitting if ds.base_interval and each >= ds.base_interval), fitting[0])
        return step, fixed + step
    meeting = [step for step in fitting if fixed + step <= tier.rpo]
    if meeting:
        return meeting[-1], fixed + meeting[-1]
    step = fitting[0]
    findings.infeasible.append(
        Infeasible(
            service.name,
            ds.name,
            f"a DR copy of the WAL archive loses up to {human_duration((fixed + step).seconds)} (2 x archive_timeout "
            f"{ds.archive_timeout} + {defaults.WAL_UPLOAD_ALLOWANCE} upload + a copy every {step} + "
            f"{human_duration(run.seconds)} to copy the prefix) against an RPO of {tier.rpo}: no copy schedule "
            "can; set the datastore's `stream_from` (the primary's host:port as the DR region reaches it) so "
            "that the DR standby streams from the primary",
        )
    )
    return step, fixed + step


def failover_plan(
    service: Service, tier: Tier, ds: WalgPlan, environment: EnvironmentFailover, findings: DRFindings
) -> WalgFailover:
    copy_throughput = ds.restore_throughput  # object storage through a pod, as a restore reads it
    run = seconds_duration(retained_bytes(ds) / copy_throughput)
    stream_from = ds.fields.stream_from
    step, loss = _copy_schedule(service, tier, ds, run, stream_from is not None, findings)
    if stream_from is None:
        findings.notes.append(
            f"{service.name}/{ds.name}: the DR copy runs `wal-g copy` of the whole prefix every {step} "
            f"(~{human_duration(run.seconds)} at {format_throughput(copy_throughput)})"
        )
    return WalgFailover(
        ds=ds,
        environment=environment,
        rpo=tier.rpo,
        copy_step=step,
        copy_cron=cron_every(step, f"{service.name}/{ds.name}/dr-copy") if step in CRON_STEPS else "* * * * *",
        copy_run=run,
        copy_loss=loss,
        stream_from=stream_from,
    )


# The alerts


def replay_behind(service_plan: ServicePlan, fo: WalgFailover) -> CheckedAlert:
    """Rows the primary wrote between RPO and RPO + window ago, and the standby's last replayed commit
    older than RPO + window: those rows are not in the DR region, past the RPO. An idle primary commits
    nothing and the replayed commit ages harmlessly: no page then (the engine's WALArchiveTooOld logic)."""
    tier, for_ = service_plan.tier, service_plan.tier.platform_alert_for
    rpo, window = tier.rpo, alerts.write_window(service_plan)
    primary = {"job": fo.ds.fields.exporter_job}
    standby = {"job": fo.standby_job}
    standby_match = escape.label_selector(standby)
    writes = alerts._writes(escape.matchers([("job", "=", primary["job"])]), window, offset=rpo)
    rule = alert(
        service_plan,
        REPLAY_BEHIND,
        f"time() - {metrics.STANDBY_REPLAYED}{standby_match} > {secs(rpo + window)}\nand on() (\n{writes}\n) > 0",
        "page",
        (
            "The DR standby is behind the primary by more than the RPO.",
            f"{service_plan.name}/{fo.ds.name}: the primary (exporter job {primary['job']}) wrote rows {rpo} to "
            f"{rpo + window} ago that the DR standby (exporter job {{{{ $labels.job }}}}) has not replayed: a "
            f"failover now would lose more than the RPO of {rpo}. Check the standby's log (restore_command, "
            "streaming) and the DR copy CronJob.",
        ),
        for_,
        {"datastore": fo.ds.name},
    )
    eval_time, step = alerts._too_old_check(service_plan)
    steps = input_steps(eval_time)
    replayed = series_text(metrics.STANDBY_REPLAYED, standby)
    inserted = series_text(metrics.TUPLE_WRITES[0], {**primary, "datname": "app"})
    updated = series_text(metrics.TUPLE_WRITES[1], {**primary, "datname": "app"})
    writing = f"0+10x{steps}"
    quiet = input_steps(eval_time - rpo) + 1
    stuck = constant(0, eval_time)  # the last replayed commit at the test's start: older and older
    return CheckedAlert(
        rule,
        (
            Case("fires", {replayed: stuck, inserted: writing, updated: constant(7, eval_time)}, True, standby),
            Case(
                "silent when idle and when writes resume",
                {replayed: stuck, inserted: f"100x{quiet} 100+10x{steps - quiet}"},
                False,
            ),
            Case("silent while replaying", {replayed: f"0+{secs(INPUT_STEP)}x{steps}", inserted: writing}, False),
        ),
        eval_time,
        step,
    )


def not_replica(service_plan: ServicePlan, fo: WalgFailover) -> CheckedAlert:
    """The standby left recovery (promoted, or started without standby.signal): it no longer follows
    the primary, and a second writable copy of the data exists. A ticket: after a failover it is the point."""
    for_ = service_plan.tier.platform_alert_for
    standby = {"job": fo.standby_job}
    rule = alert(
        service_plan,
        NOT_REPLICA,
        f"{metrics.STANDBY_IN_RECOVERY}{escape.label_selector(standby)} == 0",
        "warning",
        (
            "The DR standby is not in recovery.",
            f"The DR standby of {service_plan.name}/{fo.ds.name} (exporter job {{{{ $labels.job }}}}) is out of "
            "recovery: it no longer replays the primary's WAL. Expected right after a failover; otherwise it was "
            "promoted or started without standby.signal, and must be rebuilt as a standby.",
        ),
        for_,
        {"datastore": fo.ds.name},
    )
    at = check_time(for_, FOR_STEP)
    recovery = series_text(metrics.STANDBY_IN_RECOVERY, standby)
    return CheckedAlert(
        rule,
        (Case("fires", {recovery: constant(0, at)}, True, standby), Case("silent", {recovery: constant(1, at)}, False)),
        at,
        FOR_STEP,
    )


# The objects of the DR cluster


def standby_settings(fo: WalgFailover, service_plan: ServicePlan) -> str:
    stream = ""
    if fo.stream_from:
        host, port = fo.stream_from.rsplit(":", 1)
        application = k8s_name(service_plan.name, fo.ds.name, "dr")
        stream = (
            "# user and password from the server's environment (PGUSER, PGPASSWORD) or its ~/.pgpass, never here\n"
            f"primary_conninfo = 'host={host} port={port} application_name={application}'\n"
        )
    return (
        "# Generated by obskit: include_if_exists in the DR standby's postgresql.conf, with standby.signal in\n"
        "# its data directory. wal-g-env reads the DR prefix from the walg-dr-env ConfigMap mounted beside it.\n"
        f"restore_command = '{WRAPPER} wal-fetch %f %p'\n"
        "recovery_target_timeline = 'latest'\n"
        "hot_standby = on\n"
        f"{stream}"
        "# archives only once promoted: the new timeline goes to the DR prefix (the DR copy is suspended then)\n"
        "archive_mode = on\n"
        f"archive_command = '{WRAPPER} wal-push %p'\n"
        f"archive_timeout = {fo.ds.archive_timeout.ms // 1000}s\n"
    )


def _copy_config(prefix: str) -> str:
    return json.dumps(walg_storage.prefix_setting(prefix), indent=2, sort_keys=True) + "\n"


def dr_objects(plan: Plan, service_plan: ServicePlan, fo: WalgFailover) -> list[dict[str, Any]]:
    walg = spec.walg(plan.environment)
    names = fo.names(service_plan)
    namespace = service_plan.service.namespace
    dr_prefix = fo.dr_prefix(service_plan)
    port = defaults.PORT if fo.ds.fields.port is None else fo.ds.fields.port
    env = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_metadata(plan, names["env"], namespace),
        "data": {
            **walg_storage.prefix_setting(dr_prefix),
            "WALG_COMPRESSION_METHOD": walg.compression or defaults.WALG_COMPRESSION,
            "PGHOST": fo.ds.fields.host,
            "PGPORT": str(port),
        },
    }
    files = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_metadata(plan, names["files"], namespace),
        "data": {
            STANDBY_CONF: standby_settings(fo, service_plan),
            COPY_FROM: _copy_config(storage_prefix(plan, service_plan, fo.ds)),
            COPY_TO: _copy_config(dr_prefix),
        }
        | {name: script_text(name) for name in FILES},
    }
    container = {
        "name": "dr-copy",
        "image": spec.image_for(walg, fo.ds.pg_major),
        "command": [
            "wal-g",
            "copy",
            "--from",
            f"{jobs.SCRIPTS_DIR}/{COPY_FROM}",
            "--to",
            f"{jobs.SCRIPTS_DIR}/{COPY_TO}",
        ],
        "envFrom": [{"configMapRef": {"name": names["env"]}}, {"secretRef": {"name": fo.dr_credentials(plan)}}],
        "resources": _RESOURCES,
        "securityContext": _SECURITY,
        "volumeMounts": [
            {"name": "files", "mountPath": jobs.SCRIPTS_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    volumes = [
        {"name": "files", "configMap": {"name": names["files"], "defaultMode": 0o555}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}},
    ]
    metadata = object_metadata(plan, names["copy"], namespace)
    # a run that overruns its step is cut at twice the step; Forbid keeps runs from overlapping
    deadline = Duration(2 * max(fo.copy_step.ms, fo.copy_run.ms))
    account = jobs.service_account(walg.service_account)
    copy = jobs.cron_job(metadata, fo.copy_cron, deadline, POSTGRES_UID, account, container, volumes)
    # the promote step suspends the copy before it promotes: that CronJob, and no other object
    suspend = jobs.rule("batch", "cronjobs", "get", "patch", names=(names["copy"],))
    return [env, files, copy, *jobs.access(object_metadata(plan, names["promote"], namespace), [suspend])]


def _secret_env(name: str, secret: str, key: str | None = None) -> dict[str, Any]:
    """A variable from a Secret's key, by reference: its value never appears in the objects."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key or name}}}


def promote_pod(plan: Plan, service_plan: ServicePlan, fo: WalgFailover, image: str) -> dict[str, Any]:
    """First the DR copy is suspended (an init container of the failover image, which has kubectl),
    then failover_promote.py (in the engine's image, which has psql): fence the old primary at
    `stream_from` where it answers, pg_promote() the standby, check that it takes writes."""
    names = fo.names(service_plan)
    namespace = service_plan.service.namespace
    port = defaults.PORT if fo.ds.fields.port is None else fo.ds.fields.port
    credentials = fo.dr_credentials(plan)
    env: list[dict[str, Any]] = [
        {"name": "PGHOST", "value": fo.ds.fields.host},
        {"name": "PGPORT", "value": str(port)},
        {"name": "PGDATABASE", "value": "postgres"},
        _secret_env("PGUSER", credentials),
        _secret_env("PGPASSWORD", credentials),
    ]
    args = ["--wait-seconds", str(PROMOTE_WAIT)]
    if fo.stream_from:
        host, fence_port = fo.stream_from.rsplit(":", 1)
        primary_credentials = spec.walg(plan.environment).credentials_secret
        env += [
            {"name": "OBSKIT_FENCE_PGHOST", "value": host},
            {"name": "OBSKIT_FENCE_PGPORT", "value": fence_port},
            {"name": "OBSKIT_FENCE_PGDATABASE", "value": "postgres"},
            _secret_env("OBSKIT_FENCE_PGUSER", primary_credentials, "PGUSER"),
            _secret_env("OBSKIT_FENCE_PGPASSWORD", primary_credentials, "PGPASSWORD"),
        ]
    else:
        args.append("--skip-fence")  # no address of the old primary: the runbook fences by hand
    resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}
    return {
        "restartPolicy": "Never",
        "serviceAccountName": names["promote"],
        "initContainers": [
            {
                "name": "suspend-dr-copy",
                "image": image,
                "command": failover_runbook.suspend_args(namespace, names["copy"]),
                "resources": resources,
                "securityContext": _SECURITY,
            }
        ],
        "containers": [
            {
                "name": "promote",
                "image": spec.image_for(spec.walg(plan.environment), fo.ds.pg_major),
                "command": ["python3", f"{jobs.SCRIPTS_DIR}/failover_promote.py", *args],
                "env": env,
                "resources": resources,
                "securityContext": _SECURITY,
                "volumeMounts": [{"name": "files", "mountPath": jobs.SCRIPTS_DIR, "readOnly": True}],
            }
        ],
        "volumes": [{"name": "files", "configMap": {"name": names["files"], "defaultMode": 0o555}}],
    }
