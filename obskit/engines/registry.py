"""The datastore engines obskit knows, keyed by (engine, method): one line per engine.

Each engine is a package with a `defaults` leaf module, a `plan` (from the tier's RTO/RPO to
its schedules and limits), `alerts` (its DR alerts with their promtool cases), `objects`
(the Kubernetes objects it writes) and `runbook` (its restore procedure). The spec's schema lists the same keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from obskit.engines.postgres_walg import alerts as postgres_walg_alerts
from obskit.engines.postgres_walg import defaults as postgres_walg_defaults
from obskit.engines.postgres_walg import objects as postgres_walg_objects
from obskit.engines.postgres_walg import plan as postgres_walg_plan
from obskit.engines.postgres_walg import runbook as postgres_walg_runbook
from obskit.spec.model import Datastore


@dataclass(frozen=True)
class Engine:
    key: tuple[str, str]
    folder: str  # its objects go to backup/<folder>/<service>-<datastore>.yaml
    plan: Callable[..., Any]  # (service, tier, datastore, findings) -> the engine's DatastorePlan
    alerts: Callable[..., Any]  # (service_plan, datastore_plan) -> (group suffix, [CheckedAlert])
    objects: Callable[..., list[dict[str, Any]]]  # (plan, service_plan, datastore_plan) -> Kubernetes objects
    runbook: Callable[..., str]  # (plan, service_plan, datastore_plan) -> its part of the DR runbook (Markdown)
    fresh_backup: Callable[..., str]  # (service_plan, datastore_plan) -> the command that backs it up now
    # (plan, service_plan, datastore_plan) -> a strategic-merge patch for the database's workload, or None
    database_patch: Callable[..., dict[str, Any] | None]


ENGINES: dict[tuple[str, str], Engine] = {
    engine.key: engine
    for engine in (
        Engine(
            (postgres_walg_defaults.ENGINE, postgres_walg_defaults.METHOD),
            "walg",
            postgres_walg_plan.datastore_plan,
            postgres_walg_alerts.datastore_alerts,
            postgres_walg_objects.objects,
            postgres_walg_runbook.section,
            postgres_walg_runbook.fresh_backup,
            postgres_walg_objects.database_patch,
        ),
    )
}


def engine(datastore: Datastore) -> Engine:
    return ENGINES[(datastore.engine, datastore.method)]
