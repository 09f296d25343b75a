"""`obskit plan`: per service and datastore, the DR targets against what the schedules achieve."""

from __future__ import annotations

from typing import Any

from obskit.engines.postgres_walg.plan import DatastorePlan
from obskit.plan.dr import VeleroPlan
from obskit.plan.types import Plan, ServicePlan
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


def _velero_row(service_plan: ServicePlan, velero: VeleroPlan | None, feasible: bool) -> dict[str, Any]:
    """A Velero schedule's row; without a plan (infeasible) only the targets are known."""
    return {
        **_targets(service_plan, None, "velero"),
        "worst_case_loss_seconds": _s(velero.worst_case_loss) if velero else None,
        "restore_estimate_seconds": None,
        "schedule": velero.cron if velero else None,
        "interval_seconds": _s(velero.interval) if velero else None,
        "backup_duration_seconds": _s(velero.backup_duration) if velero else None,
        "backup_duration_assumed": velero.backup_duration_assumed if velero else None,
        "ttl": format_go_duration(velero.ttl) if velero else None,
        "feasible": feasible and velero is not None,
    }


def _datastore_row(service_plan: ServicePlan, plan_ds: DatastorePlan, feasible: bool) -> dict[str, Any]:
    restore = plan_ds.restore
    return {
        **_targets(service_plan, plan_ds.name, plan_ds.datastore.method),
        "worst_case_loss_seconds": _s(plan_ds.worst_case_loss),
        "archive_timeout_seconds": _s(plan_ds.archive_timeout),
        "restore_estimate_seconds": _s(restore.total) if restore else None,
        "restore_breakdown_seconds": {
            "startup": _s(restore.startup),
            "base_backup": _s(restore.base_restore),
            "wal_replay": _s(restore.wal_replay),
        }
        if restore
        else None,
        "schedule": plan_ds.base_cron,
        "base_backup_interval_seconds": _s(plan_ds.base_interval),
        "base_backup_duration_seconds": _s(plan_ds.base_backup_duration),
        "retain_full": plan_ds.retain_full,
        "drill_schedule": plan_ds.drill.cron,
        "assumed": list(plan_ds.assumed),
        "feasible": feasible,
    }


def plan_data(plan: Plan) -> dict[str, Any]:
    failed = {(finding.service, finding.datastore) for finding in plan.infeasible}
    rows = []
    for service_plan in plan.services:
        name = service_plan.name
        backup = service_plan.service.backup
        if backup is not None and backup.velero:
            rows.append(_velero_row(service_plan, service_plan.velero, (name, None) not in failed))
        rows += [
            _datastore_row(service_plan, plan_ds, (name, plan_ds.name) not in failed)
            for plan_ds in service_plan.datastores
        ]
    windows = [slo_plan.window for service_plan in plan.services for slo_plan in service_plan.slos]
    return {
        "environment": plan.environment.name,
        "feasible": not plan.infeasible,
        # the SLO rules average recorded series over the whole window: Prometheus must keep that long
        "prometheus_retention_seconds": _s(max(windows)) if windows else None,
        "rows": rows,
        "infeasible": [str(finding) for finding in plan.infeasible],
        "notes": list(plan.notes),
    }


def _d(seconds: int | None) -> str:
    return "-" if seconds is None else str(Duration(seconds * 1000))


def plan_table(data: dict[str, Any]) -> str:
    lines = [list(COLUMNS)]
    for row in data["rows"]:
        if row["method"] == "velero" and row["interval_seconds"] is None:
            achieves, retention = "-", "-"
        elif row["method"] == "velero":
            achieves = f"{_d(row['worst_case_loss_seconds'])} (every {_d(row['interval_seconds'])} + "
            achieves += f"{_d(row['backup_duration_seconds'])})"
            retention = f"ttl {row['ttl']}"
        else:
            achieves = f"{_d(row['worst_case_loss_seconds'])} (archive_timeout {_d(row['archive_timeout_seconds'])})"
            retention = f"retain FULL {row['retain_full']}" if row["retain_full"] else "-"
        lines.append(
            [
                row["service"],
                row["datastore"] or "(velero)",
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
    if data["prometheus_retention_seconds"] is not None:
        text += (
            f"\n\nPrometheus retention needed: {_d(data['prometheus_retention_seconds'])} (the longest SLO window; "
            "with less, the SLIs and budgets cover only what is kept, see slo:sli_data:coverage_ratio)"
        )
    for title, key in (("infeasible", "infeasible"), ("notes", "notes")):
        if data[key]:
            text += f"\n\n{title}:\n" + "\n".join(f"  - {message}" for message in data[key])
    return text + "\n"
