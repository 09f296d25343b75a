"""The interface of a datastore engine (a datastore and its backup method, obskit/engines/<name>).

The generic stages define it and never import an engine: the pipeline hands build_plan the
engines (obskit/engines/registry.py), each engine plans the datastores the spec gives it, and
the plan of each datastore carries the engine's parts of the output with it. Generators read
only what is here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from obskit.alerting.alerts import CheckedAlert
from obskit.plan.dr import DRFindings
from obskit.spec.failover import EnvironmentFailover
from obskit.spec.fragment import DatastoreKind
from obskit.spec.model import Datastore, Service, Tier
from obskit.spec.promql import Selector
from obskit.units import Duration

if TYPE_CHECKING:
    from obskit.plan.types import Plan, ServicePlan

EngineKey = tuple[str, str]  # (engine, method) as the spec's datastore names them


@dataclass(frozen=True)
class Limit:
    """A number the DR dashboard draws for a datastore: the DR limit series with `limit=kind`."""

    kind: str
    value: Duration
    labels: dict[str, str] = field(default_factory=dict)  # the datastore's, and what the panel joins on


class DatastoreFailover(Protocol):
    """A datastore's part of its service's failover, by its engine: the DR copy of its backups in the
    DR region, the standby there that replays it, the alerts on both, and the promote step."""

    @property
    def dr_loss(self) -> Duration:
        """The most the DR copy may lag behind the primary: what a failover loses at worst."""
        ...

    @property
    def dr_loss_basis(self) -> str:
        """How dr_loss is made up, for `obskit plan` and the runbook."""
        ...

    def alerts(self, service_plan: ServicePlan) -> list[CheckedAlert]:
        """Its alerts on the DR copy and the standby (the lag against the RPO, absent too)."""
        ...

    def objects(self, plan: Plan, service_plan: ServicePlan) -> list[dict[str, Any]]:
        """The objects the DR region's cluster runs: the copy, the standby's settings."""
        ...

    def promote_pod(self, plan: Plan, service_plan: ServicePlan, image: str) -> dict[str, Any]:
        """The pod spec of the promote step's Job (run in the DR region): fence the old primary,
        promote the standby, check it takes writes; `image` is the environment's failover image."""
        ...

    def runbook(self, plan: Plan, service_plan: ServicePlan) -> str:
        """Its part of the failover runbook (Markdown): promote, verify, fail back."""
        ...

    def inputs(self, service_plan: ServicePlan) -> list[tuple[Selector, str]]:
        """The series its alerts read, each with what produces it."""
        ...


class DatastorePlan(Protocol):
    """One datastore, planned by its engine."""

    @property
    def name(self) -> str: ...

    @property
    def datastore(self) -> Datastore: ...

    @property
    def folder(self) -> str:
        """Its objects go to backup/<folder>/<service>-<datastore>.yaml."""
        ...

    @property
    def series_job(self) -> str | None:
        """The `job` label of the series its alerts read, when not the service's own."""
        ...

    @property
    def backed_up_by(self) -> str:
        """What archives its data, as alerts and notes name it."""
        ...

    @property
    def schedules(self) -> list[str]:
        """Its cron schedules, as many for every datastore of the engine ("" for one it lacks):
        services of one shape differ in them."""
        ...

    def limits(self, service_plan: ServicePlan) -> list[Limit]:
        """Its DR limits by kind, in the order the dashboard lists them."""
        ...

    def alerts(self, service_plan: ServicePlan) -> tuple[str, list[CheckedAlert]]:
        """(rule group suffix, its DR alerts with their promtool cases)."""
        ...

    def objects(self, plan: Plan, service_plan: ServicePlan) -> list[dict[str, Any]]:
        """The Kubernetes objects that back it up and drill its restore."""
        ...

    def database_patch(self, plan: Plan, service_plan: ServicePlan) -> dict[str, Any] | None:
        """A strategic-merge patch for the database's workload, or None."""
        ...

    def runbook(self, plan: Plan, service_plan: ServicePlan) -> str:
        """Its part of the service's DR runbook (Markdown)."""
        ...

    def fresh_backup(self, service_plan: ServicePlan) -> str:
        """The command (Markdown) that backs it up now."""
        ...

    def inputs(self, service_plan: ServicePlan) -> list[tuple[Selector, str]]:
        """The series its alerts read, each with what produces it: `obskit check` looks for them."""
        ...

    @property
    def runbook_steps(self) -> dict[str, tuple[str, ...]]:
        """The first steps of its alerts' runbook sections, by alert name."""
        ...

    def report(self) -> dict[str, Any]:
        """Its columns of `obskit plan --format json`: what it achieves against the targets."""
        ...

    def summary(self) -> tuple[str, str]:
        """`obskit plan`'s achieves and retention cells: the worst-case loss and how, what is kept."""
        ...

    def failover(
        self, service: Service, tier: Tier, environment: EnvironmentFailover, findings: DRFindings
    ) -> DatastoreFailover | None:
        """Its part of the service's failover; what the tier asks and the DR copy cannot meet goes to
        `findings`. None: its engine keeps no DR copy (validation refuses a failover then)."""
        ...


class Engine(Protocol):
    @property
    def key(self) -> EngineKey: ...

    @property
    def spec(self) -> DatastoreKind:
        """Its part of the spec: its datastore fields and environment section."""
        ...

    @property
    def restore_note(self) -> str:
        """After the DR runbook's Velero restore: how its databases are restored instead (Markdown)."""
        ...

    @property
    def freshness_alert(self) -> str:
        """The alert that says its data is not being backed up (the DR runbook's last check)."""
        ...

    @property
    def streams_changes(self) -> bool:
        """Whether it archives changes as they are written, so that its loss does not wait on a schedule."""
        ...

    @property
    def velero_note(self) -> str:
        """Why Velero must leave the volumes of its datastores alone (a note of the plan)."""
        ...

    @property
    def dashboard_rows(self) -> str:
        """The path of its Jsonnet file of DR dashboard rows: an object with overview(plan, limit)
        and detail(plan, limit, one), each a list of panels (dashboards/dr.libsonnet)."""
        ...

    @property
    def dashboard_series(self) -> dict[str, str]:
        """The series its rows of the DR dashboard read, by the names the templates use."""
        ...

    def plan(self, service: Service, tier: Tier, datastore: Datastore, findings: DRFindings) -> DatastorePlan:
        """The datastore's plan; what the tier asks and it cannot meet goes to `findings`."""
        ...


Engines = dict[EngineKey, Engine]
