"""`obskit plan`: per service and datastore, the DR targets against what the schedules achieve."""

from __future__ import annotations

from typing import Any

from obskit.plan.engine import DatastorePlan
from obskit.plan.types import Plan, ServicePlan
from obskit.plan.velero import VeleroPlan, VeleroSchedule
from obskit.units import Duration, format_go_duration

COLUMNS = ("service", "datastore", "tier", "rpo", "achieves", "rto", "restore", "schedule", "retention", "status")


def _s(duration: Duration | None) -> int | None:
    return None if duration is None else duration.ms // 1000


def _targets(service_plan: ServicePlan, datastore: str | None, method: str) -> dict[str, Any]:
    tier = service_plan.tier
    return {
        "service": service_plan.name,
        "datastore": datastore,
        "method": method,
        "tier": tier.name,
        "rpo_seconds": _s(tier.rpo),
        "rto_seconds": _s(tier.rto),
    }


def _velero_rows(service_plan: ServicePlan, velero: VeleroPlan | None, feasible: bool) -> list[dict[str, Any]]:
    """A row per Velero schedule; without a plan (infeasible) only the targets are known."""
    if velero is None:
        unknown = dict.fromkeys(("schedule_name", "worst_case_loss_seconds", "restore_estimate_seconds", "schedule"))
        return [{**_targets(service_plan, None, "velero"), **unknown, "purpose": "rpo", "feasible": False}]
    return [_schedule_row(service_plan, velero, planned, feasible) for planned in velero.schedules]


def _schedule_row(
    service_plan: ServicePlan, velero: VeleroPlan, planned: VeleroSchedule, feasible: bool
) -> dict[str, Any]:
    frequent = planned.purpose == "rpo"
    return {
        **_targets(service_plan, None, "velero"),
        "schedule_name": planned.name,
        "purpose": "resources" if velero.resources_only and frequent else planned.purpose,
        "worst_case_loss_seconds": _s(velero.worst_case_loss) if frequent else None,
        "queue_wait_seconds": _s(velero.queue_wait),
        "restore_estimate_seconds": _s(velero.restore) if frequent else None,
        "restore_assumed": velero.restore_assumed,
        "schedule": planned.cron,
        "interval_seconds": _s(planned.interval),
        "backup_duration_seconds": _s(velero.backup_duration),
        "backup_duration_assumed": velero.backup_duration_assumed,
        "ttl": format_go_duration(planned.ttl),
        "backups_kept": planned.kept,
        "selector": dict(velero.selector),
        "feasible": feasible,
    }


def _datastore_row(service_plan: ServicePlan, plan_ds: DatastorePlan, feasible: bool) -> dict[str, Any]:
    achieves, retention = plan_ds.summary()
    return {
        **_targets(service_plan, plan_ds.name, plan_ds.datastore.method),
        **plan_ds.report(),
        "feasible": feasible,
        "table": {"achieves": achieves, "retention": retention},
    }


def _failover(service_plan: ServicePlan) -> dict[str, Any]:
    failover = service_plan.failover
    assert failover is not None
    return {
        "service": service_plan.name,
        "primary_region": failover.environment.primary_region,
        "dr_region": failover.environment.dr_region,
        "rto_seconds": _s(failover.rto),
        "total_seconds": _s(failover.total),
        "feasible": failover.total <= failover.rto,
        "steps": [
            {
                "name": planned.name,
                "automated": planned.step.automated,
                "budget_seconds": _s(planned.budget),
                "basis": planned.basis,
                "measured": planned.measured,
            }
            for planned in failover.steps
        ],
        "dr_loss_seconds": _s(failover.dr_loss),
        "dr_copies": [
            {"datastore": name, "dr_loss_seconds": _s(copy.dr_loss), "basis": copy.dr_loss_basis}
            for name, copy in failover.datastores
        ],
        "probes": [
            {"name": probe.name, "region": probe.region, "endpoint": probe.check.endpoint,
             "unhealthy_after_seconds": _s(probe.unhealthy_after)}
            for probe in failover.probes
        ],
    }  # fmt: skip


def _failover_table(failover: dict[str, Any]) -> str:
    rows = [("step", "budget", "how")]
    rows += [
        (step["name"] + ("" if step["automated"] else " (by hand)"), _d(step["budget_seconds"]), step["basis"])
        for step in failover["steps"]
    ]
    verdict = "ok" if failover["feasible"] else "INFEASIBLE"
    rows.append(("total", _d(failover["total_seconds"]), f"of the RTO {_d(failover['rto_seconds'])}: {verdict}"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"  {row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}" for row in rows]
    title = f"failover of {failover['service']} ({failover['primary_region']} -> {failover['dr_region']}):"
    copies = [
        f"  DR copy of {copy['datastore']}: up to {_d(copy['dr_loss_seconds'])} behind ({copy['basis']})"
        for copy in failover["dr_copies"]
    ]
    return "\n".join([title, *lines, *copies])


def plan_data(plan: Plan) -> dict[str, Any]:
    failed = {(finding.service, finding.datastore) for finding in plan.infeasible}
    rows = []
    for service_plan in plan.services:
        name = service_plan.name
        backup = service_plan.service.backup
        if backup is not None and backup.velero:
            rows += _velero_rows(service_plan, service_plan.velero, (name, None) not in failed)
        rows += [
            _datastore_row(service_plan, plan_ds, (name, plan_ds.name) not in failed)
            for plan_ds in service_plan.datastores
        ]
    windows = [slo_plan.window for service_plan in plan.services for slo_plan in service_plan.slos]
    load = plan.velero_load
    return {
        "environment": plan.environment.name,
        "feasible": not plan.infeasible,
        "velero": {
            "namespace": load.namespace,
            "concurrent_backups": load.workers,
            "load": round(float(load.load), 3),
            "longest_queue_wait_seconds": _s(load.longest_wait),
        }
        if load
        else None,
        # the SLO rules average recorded series over the whole window: Prometheus must keep that long
        "prometheus_retention_seconds": _s(max(windows)) if windows else None,
        "rows": rows,
        "failover": [_failover(service_plan) for service_plan in plan.services if service_plan.failover],
        "infeasible": [str(finding) for finding in plan.infeasible],
        "notes": list(plan.notes),
    }


def _d(seconds: int | None) -> str:
    return "-" if seconds is None else str(Duration(seconds * 1000))


def _velero_label(row: dict[str, Any]) -> str:
    labels = {
        "rpo": "(velero)",
        "resources": "(velero resources)",
        "retention": "(velero daily)",
        "dr": "(velero DR copy)",
    }
    return labels[row["purpose"]]


def _velero_achieves(row: dict[str, Any]) -> str:
    if row["worst_case_loss_seconds"] is None:
        return f"retention (every {_d(row['interval_seconds'])})"
    wait = f" + {_d(row['queue_wait_seconds'])} queued" if row["queue_wait_seconds"] else ""
    resources = "resources " if row["purpose"] == "resources" else ""  # the data's RPO is its datastores'
    return (
        f"{resources}{_d(row['worst_case_loss_seconds'])} (every {_d(row['interval_seconds'])}{wait} + "
        f"{_d(row['backup_duration_seconds'])})"
    )


def plan_table(data: dict[str, Any]) -> str:
    lines = [list(COLUMNS)]
    for row in data["rows"]:
        if row["method"] == "velero" and row["schedule_name"] is None:
            achieves, retention = "-", "-"
        elif row["method"] == "velero":
            achieves = _velero_achieves(row)
            retention = f"ttl {row['ttl']} ({row['backups_kept']} kept)"
        else:
            achieves, retention = row["table"]["achieves"], row["table"]["retention"]
        lines.append(
            [
                row["service"],
                row["datastore"] or _velero_label(row),
                row["tier"],
                _d(row["rpo_seconds"]),
                achieves,
                _d(row["rto_seconds"]),
                _d(row["restore_estimate_seconds"]),
                row["schedule"] or "-",
                retention,
                "ok" if row["feasible"] else "INFEASIBLE",
            ]
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(COLUMNS))]
    text = "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )
    if not data["rows"]:
        text = "no service in this environment has backups"
    if data["velero"] is not None:
        velero = data["velero"]
        text += (
            f"\n\nVelero (namespace {velero['namespace']}): the schedules keep {velero['load']:g} of "
            f"{velero['concurrent_backups']} backup worker(s) busy on average; a backup waits at most "
            f"{_d(velero['longest_queue_wait_seconds'])} for a worker"
        )
    text += _storage_section(data["rows"])
    if data["prometheus_retention_seconds"] is not None:
        text += (
            f"\n\nPrometheus retention needed: {_d(data['prometheus_retention_seconds'])} (the longest SLO window; "
            "with less, the SLIs and budgets cover only what is kept, see slo:sli_data:coverage_ratio)"
        )
    for failover in data["failover"]:
        text += "\n\n" + _failover_table(failover)
    for title, key in (("infeasible", "infeasible"), ("notes", "notes")):
        if data[key]:
            text += f"\n\n{title}:\n" + "\n".join(f"  - {message}" for message in data[key])
    return text + "\n"


def _storage_section(rows: list[dict[str, Any]]) -> str:
    """Each datastore's backup storage and daily upload, as its engine estimates them, with what the
    estimates take for granted said once."""
    estimated = [row for row in rows if row.get("storage_text")]
    if not estimated:
        return ""
    lines = [f"  {row['service']}/{row['datastore']}: {row['storage_text']}" for row in estimated]
    remarks = dict.fromkeys(remark for row in estimated for remark in row["storage_remarks"])
    return "\n\nbackup storage:\n" + "\n".join(lines + [f"  ({remark})" for remark in remarks])


def grouped_notes(plan: Plan) -> list[str]:
    """The plan's notes, those that say the same of several services said once: a fleet's
    services mostly share their assumptions, and a thousand alike lines hide the one that is not."""
    services = {service_plan.name for service_plan in plan.services}
    by_text: dict[str, list[str]] = {}
    for note in plan.notes:
        service, _, rest = note.partition(": ")
        by_text.setdefault(rest if service in services else note, []).append(service if service in services else "")
    lines = []
    for text, named in by_text.items():
        if not named[0]:
            lines.append(text)
        elif len(named) < 3:
            lines += [f"{service}: {text}" for service in named]
        else:
            lines.append(f"{', '.join(named[:3])} and {len(named) - 3} more services: {text}")
    return lines
