"""The validated spec as typed, immutable values. Built only from data that passed validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from obskit.spec.problems import FieldPath
from obskit.spec.promql import Selector
from obskit.units import Duration

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Tier:
    name: str
    rto: Duration
    rpo: Duration
    scrape_interval: Duration
    scrape_timeout: Duration | None
    slo_objective: Decimal
    pages: bool
    restore_drill_interval: Duration
    retention: Duration
    platform_alert_for: Duration  # the `for:` of platform alerts such as ServiceDown


@dataclass(frozen=True)
class RatioSLI:
    errors: Selector
    total: Selector


@dataclass(frozen=True)
class LatencySLI:
    histogram: Selector
    threshold: Duration


@dataclass(frozen=True)
class RawSLI:
    error_query: str
    total_query: str


SLI = RatioSLI | LatencySLI | RawSLI


@dataclass(frozen=True)
class SLOAlerts:
    """What the spec says of one SLO's alerts beyond the defaults."""

    page: bool = True  # the fast-burn alerts
    ticket: bool = True  # the slow-burn alerts
    min_errors: int = 0  # failed events a burn alert needs in its long window
    labels: Labels = ()
    annotations: Labels = ()


@dataclass(frozen=True)
class SLO:
    name: str
    objective: Decimal | None  # None: the tier's slo_objective
    window: Duration
    description: str | None
    sli: SLI
    alerts: SLOAlerts = SLOAlerts()


@dataclass(frozen=True)
class Datastore:
    name: str
    engine: str
    method: str
    size_bytes: int
    restore_throughput: Fraction | None  # bytes per second
    settings: object  # the engine's own fields, typed by its spec fragment (obskit/spec/fragment.py)


@dataclass(frozen=True)
class Backup:
    namespaces: tuple[str, ...]
    volumes: str
    datastores: tuple[Datastore, ...]
    duration: Duration | None  # how long a Velero backup takes, measured; None: assume the default
    velero: bool = True  # False: no Velero schedule, only the datastores' own backups
    selector: Labels = ()  # the Velero Schedule's label selector; empty: the whole namespaces
    restore_duration: Duration | None = None  # how long a Velero restore takes, measured


@dataclass(frozen=True)
class Metrics:
    port: str
    path: str
    scheme: str
    interval: Duration | None  # None: the tier's scrape_interval


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    tier: str
    team: str
    job: str
    runbook_url: str | None  # None: the environment's runbook_base links the generated runbooks
    selector: Labels
    metrics: Metrics
    slos: tuple[SLO, ...]
    backup: Backup | None
    # (file, line) of the fields later stages report on: the service, its tier, backup, datastores
    where: dict[FieldPath, tuple[str, int]] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Velero:
    namespace: str
    storage_location: str
    concurrent_backups: int = 1  # `velero server --concurrent-backups`


@dataclass(frozen=True)
class SecretRef:
    """A key of a Kubernetes Secret, where a credential lives; the spec never holds its value."""

    secret: str
    key: str


@dataclass(frozen=True)
class Receiver:
    name: str
    integration: str  # pagerduty, slack, webhook, email, opsgenie
    settings: tuple[tuple[str, str | SecretRef], ...]  # the integration's fields, sorted by name


@dataclass(frozen=True)
class Routes:
    """Receiver names by what an alert asks of people: page (critical), ticket (warning), info."""

    page: str | None
    ticket: str | None
    info: str | None


@dataclass(frozen=True)
class Alerting:
    receivers: tuple[Receiver, ...]  # sorted by name
    routes: Routes  # the environment's: page and ticket always set, info defaults to ticket
    teams: tuple[tuple[str, Routes], ...]  # the teams of this environment's services that route their own
    namespace: str  # where the AlertmanagerConfig goes


@dataclass(frozen=True)
class Environment:
    name: str
    labels: Labels
    selector_labels: Labels
    velero: Velero | None
    sections: tuple[tuple[str, object], ...]  # the datastore engines' sections by name, typed by their fragments
    pushgateway: str | None
    services: tuple[Service, ...]  # overrides applied, sorted by name
    grafana_namespace: str = "monitoring"
    grafana_url: str | None = None  # None: alerts carry no dashboard link
    alerting: Alerting | None = None  # None: obskit writes no Alertmanager configuration
    runbook_base: str | None = None  # the URL the tree's runbooks/ is served at
    # (file, line) of the fields the plan reports on: the environment, its velero settings
    where: dict[FieldPath, tuple[str, int]] = field(default_factory=dict, compare=False, repr=False)

    def section(self, name: str) -> object | None:
        return next((settings for key, settings in self.sections if key == name), None)


@dataclass(frozen=True)
class Spec:
    files: tuple[str, ...]
    tiers: tuple[Tier, ...]
    environments: tuple[Environment, ...]
    alert_catalogs: tuple[Path, ...] = ()  # the spec's own catalog files, beside the built-in ones

    def tier(self, name: str) -> Tier:
        return next(tier for tier in self.tiers if tier.name == name)

    def environment(self, name: str) -> Environment:
        return next(env for env in self.environments if env.name == name)
