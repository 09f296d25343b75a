"""The validated spec as typed, immutable values, and the spec's shape: each class declares its spec
fields once (declare.py), and the schemas, the model's construction and docs/spec.md's tables are
read off the declarations. Built only from data that passed validation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any

from obskit import defaults, units
from obskit.spec import promql
from obskit.spec.declare import Doc, none, rules_of, spec_field
from obskit.spec.failover import EnvironmentFailover, ServiceFailover
from obskit.spec.problems import FieldPath
from obskit.spec.promql import Selector
from obskit.spec.refs import SecretRef, secret_ref
from obskit.spec.rules import BOOLEAN, DURATION, K8S_LABELS, PROM_LABELS, SECRET, mapping, named, text
from obskit.units import Duration

Labels = tuple[tuple[str, str], ...]
Where = dict[FieldPath, tuple[str, int]]  # (file, line) of the fields later stages report on


def to_labels(mapping_: Mapping[str, str] | None) -> Labels:
    return tuple(sorted((mapping_ or {}).items()))


@dataclass(frozen=True)
class Tier:
    """`tiers.<name>`; docs/spec.md's defaults are the built-in tiers' (tiers.py)."""

    name: str
    rto: Duration = spec_field(
        {"check_with": "rto"}, Doc("duration, 1s to 7d: the recovery time objective", example="rto: 15m"),
        convert=units.parse_duration,
    )  # fmt: skip
    rpo: Duration = spec_field(
        {"check_with": "rpo"}, Doc("duration, 1s to 3d: the recovery point objective", example="rpo: 5m"),
        convert=units.parse_duration,
    )  # fmt: skip
    scrape_interval: Duration = spec_field(
        {"check_with": "scrape_interval"}, Doc("duration, 1s to 2m", example="scrape_interval: 30s"),
        convert=units.parse_duration,
    )  # fmt: skip
    scrape_timeout: Duration | None = spec_field(
        DURATION,
        Doc("duration, at most the interval", f"{defaults.SCRAPE_TIMEOUT}", "scrape_timeout: 5s"),
        convert=units.parse_duration,
        absent=none,
    )
    slo_objective: Decimal = spec_field(
        {"check_with": "objective"},
        Doc("percentage, the default SLO objective", example="slo_objective: 99.9"),
        convert=units.exact_decimal,
    )
    pages: bool = spec_field(
        BOOLEAN, Doc("boolean: whether fast burns and data-at-risk alerts page (`critical`)", example="pages: true")
    )
    restore_drill_interval: Duration = spec_field(
        {"check_with": "drill_interval"},
        Doc("duration, 1h to 365d: the longest time between restore drills", example="restore_drill_interval: 30d"),
        convert=units.parse_duration,
    )
    retention: Duration = spec_field(
        DURATION, Doc("duration: how long backups are kept", example="retention: 14d"), convert=units.parse_duration
    )
    platform_alert_for: Duration = spec_field(
        {"check_with": "platform_alert_for"},
        Doc(
            "duration, 1s to 6h: the `for:` of platform and DR alerts",
            f"{defaults.PLATFORM_ALERT_FOR} for a new tier",
            "platform_alert_for: 5m",
        ),
        convert=units.parse_duration,
    )  # the `for:` of platform alerts such as ServiceDown


@dataclass(frozen=True)
class RatioSLI:
    errors: Selector
    total: Selector


@dataclass(frozen=True)
class LatencySLI:
    histogram: Selector = spec_field(
        text(required=True, check_with="histogram"),
        Doc(
            "a histogram's base name with matchers (no `_bucket`, no `le`)",
            example="histogram: 'http_request_duration_seconds{job=\"checkout\"}'",
        ),
        convert=promql.check_histogram_selector,
    )
    threshold: Duration = spec_field(
        {**DURATION, "required": True},
        Doc("duration, one of the histogram's `le` buckets", example="threshold: 300ms"),
        convert=units.parse_duration,
    )


@dataclass(frozen=True)
class RawSLI:
    error_query: str
    total_query: str


@dataclass(frozen=True)
class FreshnessSLI:
    """The share of time the last success of a batch job (a gauge of its Unix time) is at most
    `max_age` old; docs/spec.md says why it is measured so."""

    last_success: Selector = spec_field(
        text(required=True, check_with="selector"),
        Doc(
            "PromQL series selector of a gauge: the Unix time in seconds of the last success",
            example="last_success: 'reports_last_success_timestamp_seconds{job=\"nightly-reports\"}'",
        ),
        convert=promql.parse_selector,
    )
    max_age: Duration = spec_field(
        {**DURATION, "required": True},
        Doc(
            "duration, longer than the scrape interval: the oldest a fresh last success may be", example="max_age: 26h"
        ),
        convert=units.parse_duration,
    )


SLI = RatioSLI | LatencySLI | RawSLI | FreshnessSLI


@dataclass(frozen=True)
class SLOAlerts:
    """What the spec says of one SLO's alerts beyond the defaults."""

    page: bool = spec_field(
        BOOLEAN, Doc("boolean: false drops the fast-burn alerts (1h/5m, 6h/30m)", "true", "page: false"), default=True
    )
    ticket: bool = spec_field(
        BOOLEAN, Doc("boolean: false drops the slow-burn alerts (1d/2h, 3d/6h)", "true", "ticket: false"), default=True
    )
    min_errors: int = spec_field(
        {"type": "integer", "min": 0},
        Doc(
            "integer >= 0: failed events a burn alert needs in its long window; 0 turns the rule off",
            f"{defaults.SLO_MIN_ERRORS}",
            "min_errors: 3",
        ),
        default=defaults.SLO_MIN_ERRORS,
    )
    labels: Labels = spec_field(
        PROM_LABELS,
        Doc(
            "map of Prometheus label name to value, added to the SLO's alerts; not obskit's labels nor the "
            "environment's",
            "none",
            "labels: {channel: payments-oncall}",
        ),
        convert=to_labels,
        default=(),
    )
    annotations: Labels = spec_field(
        {**PROM_LABELS, "valuesrules": {"type": "string", "empty": False, "check_with": "annotation"}},
        Doc(
            "map of annotation name to text, added to the SLO's alerts; not `summary`, `description`, "
            "`runbook_url`, `dashboard_url`",
            "none",
            'annotations: {playbook: "https://wiki/x"}',
        ),
        convert=to_labels,
        default=(),
    )


@dataclass(frozen=True)
class SLO:
    """`slos.<name>`: exactly one SLI, `errors` with `total`, `latency`, `error_query` with `total_query`,
    or `freshness` (cross_checks.py)."""

    name: str
    objective: Decimal | None = spec_field(
        {"check_with": "objective"},
        Doc("percentage, 0 < x < 100", "the tier's `slo_objective`", "objective: 99.95"),
        convert=units.exact_decimal,
        absent=none,
    )  # None: the tier's slo_objective
    window: Duration = spec_field(
        DURATION,
        Doc("duration, at least 7d", f"`{defaults.SLO_WINDOW}`", "window: 28d"),
        convert=units.parse_duration,
        default=units.parse_duration(defaults.SLO_WINDOW),
    )
    description: str | None = spec_field(
        text(), Doc("text", "none", "description: Checkout requests that succeed"), default=None
    )
    errors: Selector | None = spec_field(
        text(check_with="selector"),
        Doc(
            "PromQL series selector of the failed events' counter",
            example='errors: \'http_requests_total{job="checkout",code=~"5.."}\'',
        ),
        convert=promql.parse_selector,
        default=None,
    )
    total: Selector | None = spec_field(
        text(check_with="selector"),
        Doc("PromQL series selector of all events' counter", example="total: 'http_requests_total{job=\"checkout\"}'"),
        convert=promql.parse_selector,
        default=None,
    )
    latency: LatencySLI | None = spec_field(
        mapping(LatencySLI), Doc("mapping: the histogram and the threshold, below", inline=True), default=None
    )
    error_query: str | None = spec_field(
        text(check_with="window_query"),
        Doc(
            "PromQL with `{{window}}` where the range goes",
            example="error_query: 'sum(rate(x_failed_total[{{window}}]))'",
        ),
        default=None,
    )
    total_query: str | None = spec_field(
        text(check_with="window_query"),
        Doc("PromQL with `{{window}}`", example="total_query: 'sum(rate(x_total[{{window}}]))'"),
        default=None,
    )
    freshness: FreshnessSLI | None = spec_field(
        mapping(FreshnessSLI),
        Doc("mapping: a batch job's last success and how old it may be, below", inline=True),
        default=None,
    )
    alerts: SLOAlerts = spec_field(
        mapping(SLOAlerts), Doc("map: options of the SLO's alerts, the fields below", inline=True), default=SLOAlerts()
    )

    @cached_property
    def sli(self) -> SLI:
        if self.latency is not None:
            return self.latency
        if self.freshness is not None:
            return self.freshness
        if self.error_query is not None and self.total_query is not None:
            return RawSLI(self.error_query, self.total_query)
        assert self.errors is not None and self.total is not None, "validation requires exactly one SLI"
        return RatioSLI(self.errors, self.total)


@dataclass(frozen=True)
class Datastore:
    """`backup.datastores.<name>`: the fields every datastore has; its engine's are its `settings`."""

    name: str
    engine: str = spec_field(
        {"type": "string", "required": True}, Doc("the engine")
    )  # allowed: the registered engines' (schema.shape)
    method: str = spec_field({"type": "string", "required": True}, Doc("the engine's method"))
    size_bytes: int = spec_field(
        {"required": True, "check_with": "size"}, Doc("size of the data", example="size: 200Gi"),
        key="size", convert=units.parse_size,
    )  # fmt: skip
    restore_throughput: Fraction | None = spec_field(
        {"check_with": "throughput"},
        Doc("throughput of a restore", "the engine's default", "restore_throughput: 200MiB/s"),
        convert=units.parse_throughput,
        absent=none,
    )  # bytes per second
    settings: object = None  # the engine's own fields, typed by its spec fragment (obskit/spec/fragment.py)


VOLUME_MODES = ("snapshot", "fs", "none")


@dataclass(frozen=True)
class Backup:
    namespaces: tuple[str, ...] = spec_field(
        {"type": "list", "empty": False, "schema": {"type": "string", "check_with": "dns1123_label"}},
        Doc("list of names, Velero's includedNamespaces", "the service's namespace", "namespaces: [shop]"),
        convert=tuple,
        absent=lambda given: (given["service_namespace"],),
    )
    volumes: str = spec_field(
        {"type": "string", "allowed": list(VOLUME_MODES)},
        Doc(
            "`snapshot`, `fs` or `none`; `none` with datastores: the service's data is its datastores, and "
            "Velero keeps its Kubernetes resources daily",
            f"`{defaults.VOLUMES}`",
            "volumes: fs",
        ),
        default=defaults.VOLUMES,
    )
    datastores: tuple[Datastore, ...] = spec_field(
        named({"type": "dict"}), Doc("map of datastore name to datastore, see below", "none"), default=()
    )  # the rules: schema.shape, with the engines' fields
    duration: Duration | None = spec_field(
        DURATION,
        Doc("duration: the measured time of a Velero backup", "1m (with a note)", "duration: 3m"),
        convert=units.parse_duration,
        default=None,
    )  # None: assume the default
    velero: bool = spec_field(
        BOOLEAN,
        Doc("boolean: false for no Velero schedule, only the datastores' own backups", "true", "velero: false"),
        default=True,
    )
    selector: Labels = spec_field(
        {**K8S_LABELS, "empty": False},
        Doc(
            "map of Kubernetes labels: the Velero Schedule's `labelSelector`, required when two services back "
            "up one namespace",
            "none (the whole namespaces)",
            "selector: {app.kubernetes.io/instance: checkout}",
        ),
        convert=to_labels,
        default=(),
    )  # empty: the whole namespaces
    restore_duration: Duration | None = spec_field(
        DURATION,
        Doc(
            "duration: the measured time of a Velero restore, checked against the RTO",
            "2 x `duration` + 2m",
            "restore_duration: 8m",
        ),
        convert=units.parse_duration,
        default=None,
    )


RELABEL_ACTIONS = (
    "replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase",
    "keepequal", "dropequal",
)  # fmt: skip


@dataclass(frozen=True)
class Relabeling:
    """One item of `metrics.relabelings` or `metric_relabelings`: Prometheus' relabel_config, written as
    the operator's RelabelConfig (cross_checks says which fields each action takes)."""

    action: str = spec_field(
        {"type": "string", "allowed": list(RELABEL_ACTIONS)},
        Doc("one of Prometheus' relabel actions, lowercase", "`replace`", "action: keep"),
        default="replace",
    )
    source_labels: tuple[str, ...] = spec_field(
        {"type": "list", "empty": False, "schema": {"type": "string", "check_with": "relabel_label"}},
        Doc("list of label names whose values are joined", "none", "source_labels: [__meta_kubernetes_pod_node_name]"),
        convert=tuple,
        default=(),
    )
    separator: str | None = spec_field(
        {"type": "string"}, Doc("text between the joined values", "`;`", "separator: '/'"), default=None
    )
    regex: str | None = spec_field(
        {"type": "string", "check_with": "relabel_regex"},
        Doc("RE2 regular expression, anchored at both ends", "`(.*)`", "regex: 'api-.*'"),
        default=None,
    )
    modulus: int | None = spec_field(
        {"type": "integer", "min": 1}, Doc("whole number: hashmod's modulus", "none", "modulus: 4"), convert=int,
        default=None,
    )  # fmt: skip
    target_label: str | None = spec_field(
        text(check_with="relabel_label"),
        Doc("label name written to; not `job`, `service`, `tier` or `team`, which obskit sets", "none",
            "target_label: node"),
        default=None,
    )  # fmt: skip
    replacement: str | None = spec_field(
        {"type": "string"},
        Doc("text written, with `$1` for the regex's first group", "`$1`", "replacement: '$1'"),
        default=None,
    )


@dataclass(frozen=True)
class ScrapeTLS:
    """`metrics.tls`: how Prometheus checks an https endpoint, and the client certificate it shows."""

    ca_secret: SecretRef | None = spec_field(
        SECRET,
        Doc("secret: the CA certificate the endpoint's certificate is checked against", "Prometheus' own CAs",
            "ca_secret: {secret: payments-ca, key: ca.crt}"),
        convert=secret_ref,
        default=None,
    )  # fmt: skip
    server_name: str | None = spec_field(
        text(check_with="dns1123_subdomain"),
        Doc("host name the endpoint's certificate must hold", "the target's address",
            "server_name: payments.internal"),
        default=None,
    )  # fmt: skip
    insecure_skip_verify: bool = spec_field(
        BOOLEAN, Doc("boolean: accept any certificate (no check at all)", "false", "insecure_skip_verify: true"),
        default=False,
    )  # fmt: skip
    cert_secret: SecretRef | None = spec_field(
        SECRET,
        Doc("secret: the client certificate, for mutual TLS (with `key_secret`)", "none",
            "cert_secret: {secret: scrape-client, key: tls.crt}"),
        convert=secret_ref,
        default=None,
    )  # fmt: skip
    key_secret: SecretRef | None = spec_field(
        SECRET,
        Doc(
            "secret: the client certificate's private key", "none", "key_secret: {secret: scrape-client, key: tls.key}"
        ),
        convert=secret_ref,
        default=None,
    )


@dataclass(frozen=True)
class BasicAuth:
    username_secret: SecretRef = spec_field(
        {**SECRET, "required": True},
        Doc("secret: the user name", example="username_secret: {secret: scrape-auth, key: username}"),
        convert=secret_ref,
    )
    password_secret: SecretRef = spec_field(
        {**SECRET, "required": True},
        Doc("secret: the password", example="password_secret: {secret: scrape-auth, key: password}"),
        convert=secret_ref,
    )


@dataclass(frozen=True)
class Metrics:
    port: str = spec_field(
        text(required=True, check_with="port_name"),
        Doc("the Service port's name (with `pod_monitor`, the pod's container port's)", example="port: http-metrics"),
    )
    path: str = spec_field(
        {"type": "string", "regex": r"/\S*"},
        Doc("URL path", f"`{defaults.METRICS_PATH}`", "path: /internal/metrics"),
        default=defaults.METRICS_PATH,
    )
    scheme: str = spec_field(
        {"type": "string", "allowed": ["http", "https"]},
        Doc("`http` or `https`; `https` for `tls` or credentials", "`http`", "scheme: https"),
        default="http",
    )
    interval: Duration | None = spec_field(
        {"check_with": "scrape_interval"},
        Doc("duration, 1s to 2m", "the tier's `scrape_interval`", "interval: 30s"),
        convert=units.parse_duration,
        default=None,
    )  # None: the tier's scrape_interval
    tls: ScrapeTLS | None = spec_field(
        mapping(ScrapeTLS),
        Doc("mapping: how the https endpoint's certificate is checked, the fields below", "none", inline=True),
        default=None,
    )
    bearer_token_secret: SecretRef | None = spec_field(
        SECRET,
        Doc(
            "secret: a bearer token sent with every scrape", "none", "bearer_token_secret: {secret: scrape, key: token}"
        ),
        convert=secret_ref,
        default=None,
    )
    basic_auth: BasicAuth | None = spec_field(
        mapping(BasicAuth),
        Doc("mapping: HTTP basic auth for every scrape (not with a bearer token), the fields below", "none",
            inline=True),
        default=None,
    )  # fmt: skip
    relabelings: tuple[Relabeling, ...] = spec_field(
        {"type": "list", "schema": mapping(Relabeling)},
        Doc("list of relabelings of the targets, applied before obskit's own, see below", "none"),
        default=(),
    )
    metric_relabelings: tuple[Relabeling, ...] = spec_field(
        {"type": "list", "schema": mapping(Relabeling)},
        Doc("list of relabelings of the scraped series, see below", "none"),
        default=(),
    )
    pod_monitor: bool = spec_field(
        BOOLEAN,
        Doc("boolean: a PodMonitor scrapes the pods `selector` matches instead of a ServiceMonitor", "false",
            "pod_monitor: true"),
        default=False,
    )  # fmt: skip


@dataclass(frozen=True)
class ServiceAlerts:
    """`services.<name>.alerts`: the service's own choice among the alerts obskit writes for it."""

    disable: tuple[str, ...] = spec_field(
        {"type": "list", "schema": {"type": "string", "regex": r"[A-Z][A-Za-z0-9]*"}},
        Doc(
            "list of alert names: built-in or catalog alerts, SLIMetricMissing or SLIBucketMissing, left out of "
            "the service's rules, tests and runbook; not its burn, DR or failover alerts",
            "none",
            "disable: [ServicePodsNotReady]",
        ),
        convert=tuple,
        default=(),
    )


@dataclass(frozen=True)
class Service:
    """`services.<name>`; a field left out comes from `defaults` (schema.DEFAULTABLE_FIELDS)."""

    name: str
    namespace: str = spec_field(
        text(required=True, check_with="dns1123_label"), Doc("name", "`defaults.namespace`", "namespace: shop")
    )
    tier: str = spec_field(text(required=True), Doc("tier name", "`defaults.tier`", "tier: tier1_critical"))
    team: str = spec_field(
        text(required=True, check_with="label_value"),
        Doc("text: the team alerts are routed to", "`defaults.team`", "team: payments"),
    )
    job: str = spec_field(
        text(check_with="label_value"),
        Doc("the `job` label of its scrape targets", "the service name", "job: checkout"),
        absent=lambda given: given["name"],
    )
    runbook_url: str | None = spec_field(
        text(check_with="runbook_url"),
        Doc(
            "URL with `{service}` and `{alert}` replaced; required unless the environment sets `runbook_base`",
            "`defaults.runbook_url`, else the generated runbook under `runbook_base`",
            'runbook_url: "https://runbooks.example.com/{service}/{alert}"',
        ),
        absent=none,
    )  # None: the environment's runbook_base links the generated runbooks
    scrape: bool = spec_field(
        BOOLEAN,
        Doc(
            "boolean: false for a service Prometheus does not scrape (a batch job that pushes its metrics): "
            "no `selector` or `metrics`, no ServiceMonitor, no alerts on scrape targets or pods",
            "true",
            "scrape: false",
        ),
        absent=lambda _: True,
    )
    selector: Labels = spec_field(
        {**K8S_LABELS, "empty": False},
        Doc(
            "map of labels of the Kubernetes Service to scrape (with `metrics.pod_monitor`, of the pods); "
            "required unless `scrape: false`",
            example="selector: {app.kubernetes.io/name: checkout}",
        ),
        convert=to_labels,
        absent=lambda _: (),
    )  # empty: the service is not scraped
    metrics: Metrics | None = spec_field(
        mapping(Metrics), Doc("mapping, see below; required unless `scrape: false`"), absent=none
    )  # None: the service is not scraped
    slos: tuple[SLO, ...] = spec_field(
        named(mapping(SLO)), Doc("map of SLO name to SLO, see below", "none"), absent=lambda _: ()
    )
    backup: Backup | None = spec_field(
        mapping(Backup), Doc("mapping, see below", "no backups"), absent=none
    )  # the rules: schema.shape, with the engines' fields
    failover: ServiceFailover | None = spec_field(
        mapping(ServiceFailover), Doc("mapping: multi-region failover, see below", "none (no failover)"), default=None
    )
    alerts: ServiceAlerts = spec_field(
        mapping(ServiceAlerts),
        Doc("mapping: which of obskit's alerts the service leaves out, the fields below", inline=True),
        default=ServiceAlerts(),
    )
    where: Where = field(default_factory=dict, compare=False, repr=False)  # the service, tier, backup, datastores


@dataclass(frozen=True)
class Velero:
    namespace: str = spec_field(
        text(required=True, check_with="dns1123_label"),
        Doc("name: where the Schedules go", example="namespace: velero"),
    )
    storage_location: str = spec_field(
        text(required=True, check_with="dns1123_subdomain"),
        Doc("Velero BackupStorageLocation name", example="storage_location: default"),
    )
    concurrent_backups: int = spec_field(
        {"type": "integer", "min": 1, "max": 100},
        Doc(
            "integer 1-100: the Velero server's `--concurrent-backups`; the plan refuses schedules that need "
            "more, and counts the queue behind the others toward each RPO",
            "1",
            "concurrent_backups: 3",
        ),
        default=1,
    )  # `velero server --concurrent-backups`


@dataclass(frozen=True)
class Receiver:
    name: str
    integration: str  # pagerduty, slack, webhook, email, opsgenie
    settings: tuple[tuple[str, str | SecretRef], ...]  # the integration's fields, sorted by name


@dataclass(frozen=True)
class PagerDuty:
    routing_key: SecretRef = spec_field({**SECRET, "required": True}, Doc("secret"))


@dataclass(frozen=True)
class Slack:
    api_url: SecretRef = spec_field({**SECRET, "required": True}, Doc("secret: the webhook URL"))
    channel: str = spec_field(text(required=True, check_with="slack_channel"), Doc("the channel"))


@dataclass(frozen=True)
class Webhook:
    """Exactly one of the two fields (cross_checks.py)."""

    url: str | None = spec_field(text(check_with="http_url"), Doc("http or https, no credential in it"))
    url_secret: SecretRef | None = spec_field(SECRET, Doc("secret: the whole URL"))


@dataclass(frozen=True)
class Email:
    to: str = spec_field(text(required=True, check_with="email"), Doc("recipients"))
    sender: str = spec_field(text(required=True, check_with="email"), Doc("sender"), key="from")
    smarthost: str = spec_field(text(required=True, check_with="smarthost"), Doc("`host:port`"))
    auth_username: str | None = spec_field(text(), Doc("user name"))
    auth_password: SecretRef | None = spec_field(SECRET, Doc("secret"))


@dataclass(frozen=True)
class Opsgenie:
    api_key: SecretRef = spec_field({**SECRET, "required": True}, Doc("secret"))
    api_url: str | None = spec_field(text(check_with="http_url"), Doc("URL"))


@dataclass(frozen=True)
class Integrations:
    """A receiver: exactly one integration (cross_checks.py). Declares the shape only: the model
    keeps the integration's fields by name (Receiver.settings)."""

    pagerduty: PagerDuty = spec_field(
        mapping(PagerDuty),
        Doc(
            "`routing_key` (secret)", example="{pagerduty: {routing_key: {secret: pagerduty-oncall, key: routing-key}}}"
        ),
    )
    slack: Slack = spec_field(
        mapping(Slack),
        Doc(
            "`api_url` (secret: the webhook URL), `channel`",
            example='{slack: {api_url: {secret: slack-payments, key: url}, channel: "#payments"}}',
        ),
    )
    webhook: Webhook = spec_field(
        mapping(Webhook),
        Doc(
            "one of `url` (http or https, no credential in it) and `url_secret` (secret: the whole URL; the "
            "configuration's `url_file` needs Alertmanager 0.26 or later)",
            example='{webhook: {url: "http://alert-bridge.tools.svc:8080/tickets"}}`, '
            "`{webhook: {url_secret: {secret: teams-hook, key: url}}}",
        ),
    )
    email: Email = spec_field(
        mapping(Email),
        Doc(
            "`to`, `from`, `smarthost` (`host:port`), optional `auth_username` and `auth_password` (secret)",
            example='{email: {to: oncall@example.com, from: am@example.com, smarthost: "smtp.example.com:587"}}',
        ),
    )
    opsgenie: Opsgenie = spec_field(
        mapping(Opsgenie),
        Doc(
            "`api_key` (secret), optional `api_url`", example="{opsgenie: {api_key: {secret: opsgenie, key: api-key}}}"
        ),
    )


def _receivers(data: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> tuple[Receiver, ...]:
    found = []
    for name in sorted(data):
        ((integration, fields),) = data[name].items()
        settings = tuple(
            (key, secret_ref(value) if isinstance(value, dict) else value) for key, value in sorted(fields.items())
        )
        found.append(Receiver(name, integration, settings))
    return tuple(found)


@dataclass(frozen=True)
class Routes:
    """`teams.<name>`: receiver names by what an alert asks of people: page (critical), ticket
    (warning), info. A field left out falls back to the environment's."""

    page: str | None = spec_field(
        text(),
        Doc("receiver name for the team's `critical` alerts", "the environment's `page`", "page: payments-pager"),
        default=None,
    )
    ticket: str | None = spec_field(
        text(),
        Doc("receiver name for the team's `warning` alerts", "the environment's `ticket`", "ticket: payments-chat"),
        default=None,
    )
    info: str | None = spec_field(
        text(),
        Doc("receiver name for the team's `info` alerts", "the environment's `info`", "info: payments-chat"),
        default=None,
    )


@dataclass(frozen=True)
class Watchdog:
    """`alerting.watchdog`: where kube-prometheus-stack's always-firing `Watchdog` goes."""

    receiver: str = spec_field(
        text(required=True),
        Doc(
            "receiver name: a dead man's switch (a heartbeat check that raises an alarm when the "
            "notifications stop); not the page, ticket or info receiver of the environment or a team",
            example="receiver: deadmans-switch",
        ),
    )
    repeat_interval: Duration = spec_field(
        {"check_with": "heartbeat_interval"},
        Doc(
            "duration, 30s to 1h: how often the heartbeat is sent (the switch's period)",
            f"{defaults.WATCHDOG_REPEAT_INTERVAL}",
            "repeat_interval: 5m",
        ),
        convert=units.parse_duration,
        default=defaults.WATCHDOG_REPEAT_INTERVAL,
    )


# `alerting.deploy`: which output the kustomization applies
DEPLOY_RESOURCE = "alertmanager_config"  # the AlertmanagerConfig, merged by the operator under its own routes
DEPLOY_CONFIG = "alertmanager_yaml"  # alertmanager.yaml as Alertmanager's whole configuration, in a Secret
OTHER_CRITICAL = ("page", "ticket", "none")


@dataclass(frozen=True)
class ExtraRoute:
    """An Alertmanager route as the spec writes it (`alerting.extra_routes`), kept as JSON text so
    the model stays hashable."""

    text: str

    @property
    def route(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.text)
        return parsed


def _extra_routes(routes: list[dict[str, Any]]) -> tuple[ExtraRoute, ...]:
    return tuple(ExtraRoute(json.dumps(route, default=str)) for route in routes)


@dataclass(frozen=True)
class Alerting:
    """`environments.<name>.alerting`."""

    receivers: tuple[Receiver, ...] = spec_field(
        named(mapping(Integrations), required=True, empty=False),
        Doc("map of receiver name (a *name*) to exactly one integration, below"),
        convert=_receivers,
    )  # sorted by name
    page: str = spec_field(
        text(required=True), Doc("receiver name for `severity: critical`", example="page: oncall-pager")
    )
    ticket: str = spec_field(
        text(required=True),
        Doc("receiver name for `severity: warning`", example="ticket: tickets"),
    )
    info: str = spec_field(
        text(),
        Doc("receiver name for `severity: info`", "the `ticket` receiver", "info: platform-chat"),
        absent=lambda given: given["ticket"],
    )
    namespace: str = spec_field(
        text(check_with="dns1123_label"),
        Doc(
            "name: where the AlertmanagerConfig goes (its Secrets must be there too)",
            f"`{defaults.ALERTMANAGER_NAMESPACE}`",
            "alertmanager_namespace: monitoring",
        ),
        key="alertmanager_namespace",
        default=defaults.ALERTMANAGER_NAMESPACE,
    )
    deploy: str = spec_field(
        {"type": "string", "allowed": [DEPLOY_RESOURCE, DEPLOY_CONFIG]},
        Doc(
            f"`{DEPLOY_RESOURCE}` (the kustomization applies the AlertmanagerConfig, which the operator adds "
            f"to the chart's configuration) or `{DEPLOY_CONFIG}` (it applies `alertmanager.yaml`, Alertmanager's "
            "whole configuration, as a Secret)",
            f"`{DEPLOY_RESOURCE}`",
            f"deploy: {DEPLOY_CONFIG}",
        ),
        default=DEPLOY_RESOURCE,
    )
    watchdog: Watchdog | None = spec_field(
        mapping(Watchdog),
        Doc(
            "mapping: where kube-prometheus-stack's always-firing `Watchdog` (a heartbeat) goes",
            "none (dropped)",
            inline=True,
        ),
        default=None,
    )
    other_critical: str = spec_field(
        {"type": "string", "allowed": list(OTHER_CRITICAL)},
        Doc(
            "`page`, `ticket` or `none`: which receiver gets `severity: critical` alerts that are not obskit's "
            "(such as the chart's KubeAPIDown); `none` drops them",
            f"`ticket` with `deploy: {DEPLOY_CONFIG}`, `none` with `{DEPLOY_RESOURCE}` (the chart's own "
            "configuration routes them)",
            "other_critical: page",
        ),
        default="none",
        absent=lambda given: "ticket" if given.get("deploy") == DEPLOY_CONFIG else "none",
    )
    extra_routes: tuple[ExtraRoute, ...] = spec_field(
        {"type": "list", "schema": {"check_with": "alertmanager_route"}},
        Doc(
            "list of Alertmanager routes (configuration syntax: `matchers`, `receiver`, `group_by`, `continue`, "
            "timings, `routes`), placed as written after the watchdog's and before obskit's; each receiver "
            "they name is one of `receivers`",
            "none",
            "extra_routes: [{matchers: ['namespace=~\"kube-.*\"', 'severity=\"warning\"'], receiver: platform-chat}]",
        ),
        convert=_extra_routes,
        default=(),
    )
    teams: tuple[tuple[str, Routes], ...] = ()  # the teams of this environment's services that route their own

    @property
    def routes(self) -> Routes:
        """The environment's: page and ticket always set, info defaults to ticket."""
        return Routes(self.page, self.ticket, self.info)


@dataclass(frozen=True)
class Toleration:
    """A pod toleration, as Kubernetes defines it."""

    key: str | None = spec_field(
        text(check_with="k8s_label_key"), Doc("the taint's key; none with `Exists` tolerates every taint"), default=None
    )
    operator: str = spec_field(
        {"type": "string", "allowed": ["Equal", "Exists"]}, Doc("`Equal` or `Exists`", "`Equal`"), default="Equal"
    )
    value: str | None = spec_field({"type": "string"}, Doc("the taint's value, with `Equal`"), default=None)
    effect: str | None = spec_field(
        {"type": "string", "allowed": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
        Doc("`NoSchedule`, `PreferNoSchedule` or `NoExecute`", "every effect"),
        default=None,
    )
    toleration_seconds: int | None = spec_field(
        {"type": "integer", "min": 0},
        Doc("with `NoExecute`: how long the pod stays once tainted"),
        key="tolerationSeconds",
        default=None,
    )


_QUANTITIES = {
    "type": "dict",
    "keysrules": {"type": "string", "allowed": ["cpu", "memory", "ephemeral-storage"]},
    "valuesrules": {"type": ["string", "integer"], "check_with": "quantity"},
}


def _quantities(given: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, str(value)) for name, value in (given or {}).items()))


@dataclass(frozen=True)
class JobResources:
    """`environments.<name>.jobs.resources`: what the environment requires of every job's container,
    over each job's own sizing (e.g. to fit a LimitRange)."""

    requests: tuple[tuple[str, str], ...] = spec_field(
        _QUANTITIES,
        Doc("`cpu`, `memory`, `ephemeral-storage` requested, replacing each job's own", "each job's own",
            "requests: {cpu: 100m, memory: 256Mi}"),
        convert=_quantities,
        default=(),
    )  # fmt: skip
    limits: tuple[tuple[str, str], ...] = spec_field(
        _QUANTITIES,
        Doc("the same, as limits; a request above a job's own limit raises that limit to it", "each job's own",
            "limits: {memory: 1Gi}"),
        convert=_quantities,
        default=(),
    )  # fmt: skip


@dataclass(frozen=True)
class JobPlacement:
    """`environments.<name>.jobs`: what every pod obskit generates (backups, drills, failover steps) needs
    to be pulled and scheduled in the cluster."""

    image_pull_secrets: tuple[str, ...] = spec_field(
        {"type": "list", "schema": text(check_with="dns1123_subdomain")},
        Doc(
            "Secrets (`kubernetes.io/dockerconfigjson`) for a private registry, in each job's namespace",
            "none",
            "image_pull_secrets: [registry-credentials]",
        ),
        convert=tuple,
        default=(),
    )
    node_selector: Labels = spec_field(
        K8S_LABELS,
        Doc("node labels the jobs' pods must run on", "none", 'node_selector: {node-role/backup: "true"}'),
        convert=to_labels,
        default=(),
    )
    tolerations: tuple[Toleration, ...] = spec_field(
        {"type": "list", "schema": mapping(Toleration)},
        Doc(
            "taints the jobs' pods tolerate: each with `key`, `operator`, `value`, `effect`, `tolerationSeconds`",
            "none",
            "tolerations: [{key: dedicated, value: backup, effect: NoSchedule}]",
        ),
        default=(),
    )
    resources: JobResources = spec_field(
        mapping(JobResources, check_with="requests_within_limits"),
        Doc("mapping: `requests` and `limits`, below", "each job's own", inline=True),
        default=JobResources(),
    )


@dataclass(frozen=True)
class RuleTarget:
    """`environments.<name>.rules`: the engine that evaluates the rules, and what it needs."""

    target: str = spec_field(
        {"type": "string", "allowed": list(defaults.RULE_TARGETS)},
        Doc(
            "`prometheus` (a Prometheus, through the operator's PrometheusRule objects), `thanos` (Thanos Ruler: "
            "the groups carry `partial_response_strategy`) or `mimir` (Grafana Mimir's ruler: `mimir/rules/`, "
            "loaded with `mimirtool rules sync`)",
            "`prometheus`",
            "target: thanos",
        ),
        default="prometheus",
    )
    tenant: str | None = spec_field(
        text(check_with="dns1123_subdomain"),
        Doc("`mimir`: the tenant (`X-Scope-OrgID`) the rules load into", "`anonymous`", "tenant: payments"),
        default=None,
    )
    partial_response_strategy: str | None = spec_field(
        {"type": "string", "allowed": ["abort", "warn"]},
        Doc(
            "`thanos`: every group's strategy when a store does not answer",
            "`abort` for a group with alerts, `warn` for recording rules only",
            "partial_response_strategy: warn",
        ),
        default=None,
    )


def _url(value: str) -> str:
    return value.rstrip("/")


@dataclass(frozen=True)
class Environment:
    """`environments.<name>`; the engines add their sections (schema.shape)."""

    name: str
    labels: Labels = spec_field(
        {**PROM_LABELS, "valuesrules": {"type": "string", "check_with": "dashboard_label_value"}},
        Doc(
            "map of Prometheus label name to value, added to every alert and recorded series; not `service`, "
            "`namespace`, `tier`, `team`, `severity`, `slo`, `long_window`, `short_window`, `alertname`, `job`, "
            "`managed_by`",
            "none",
            "labels: {env: prod, cluster: prod-eu-1}",
        ),
        convert=to_labels,
        default=(),
    )
    selector_labels: Labels = spec_field(
        K8S_LABELS,
        Doc(
            "map of Kubernetes labels, on every generated object's metadata",
            "none",
            "selector_labels: {release: kube-prometheus-stack}",
        ),
        convert=to_labels,
        default=(),
    )
    velero: Velero | None = spec_field(
        mapping(Velero), Doc("mapping, required once a service has Velero backups", inline=True), default=None
    )
    sections: tuple[tuple[str, object], ...] = ()  # the datastore engines' sections by name, typed by their fragments
    pushgateway: str | None = spec_field(
        text(check_with="http_url"),
        Doc(
            "http(s) URL the backup jobs push to; required with datastores",
            example='pushgateway: "http://pushgateway.monitoring.svc:9091"',
        ),
        default=None,
    )
    services: tuple[Service, ...] = spec_field(
        {"type": "dict"},
        Doc(
            "map of service name to an override: any service field; `null` removes a field, an entry or the "
            "whole service in this environment",
            "none",
            "services: {checkout: {tier: tier3_low}, reports: null}",
        ),
        default=(),
    )  # overrides applied, sorted by name; the rules: schema.shape
    grafana_namespace: str = spec_field(
        text(check_with="dns1123_label"),
        Doc("name: where the dashboard ConfigMaps go", f"`{defaults.GRAFANA_NAMESPACE}`", "grafana_namespace: grafana"),
        default=defaults.GRAFANA_NAMESPACE,
    )
    grafana_url: str | None = spec_field(
        text(check_with="http_url"),
        Doc(
            "http(s) URL of Grafana: every alert's `dashboard_url` is `<grafana_url>/d/<uid>`",
            "none (no `dashboard_url`, with a note)",
            "grafana_url: https://grafana.example.com",
        ),
        convert=_url,
        default=None,
    )  # None: alerts carry no dashboard link
    alerting: Alerting | None = spec_field(
        mapping(Alerting), Doc("mapping: Alertmanager routing, see below", "none (no Alertmanager files)"), default=None
    )  # None: obskit writes no Alertmanager configuration
    runbook_base: str | None = spec_field(
        text(check_with="http_url"),
        Doc(
            "http(s) URL where this tree's `runbooks/` is served (the monitoring repo's web view): a service "
            "without `runbook_url` links every alert to its section of the generated runbook page, "
            "`<runbook_base>/<service>.md#<alert in lower case>`",
            "none",
            "runbook_base: https://git.example.com/acme/monitoring/-/blob/main/out/prod/runbooks",
        ),
        convert=_url,
        default=None,
    )  # the URL the tree's runbooks/ is served at
    jobs: JobPlacement = spec_field(
        mapping(JobPlacement),
        Doc("mapping: how every generated job's pod is pulled and scheduled, below", "none", inline=True),
        default=JobPlacement(),
    )
    rules: RuleTarget = spec_field(
        mapping(RuleTarget, check_with="rule_target"),
        Doc("mapping: the rule engine, below", "`target: prometheus`", inline=True),
        default=RuleTarget(),
    )
    failover: EnvironmentFailover | None = spec_field(
        mapping(EnvironmentFailover),
        Doc("mapping: the regions, DR copies, prober and DNS of multi-region failover, see below", "none"),
        default=None,
    )  # the rules: schema.shape, with the engines' DR fields
    where: Where = field(default_factory=dict, compare=False, repr=False)  # the environment, its velero settings

    def section(self, name: str) -> object | None:
        return next((settings for key, settings in self.sections if key == name), None)


API_VERSION = "obskit/v1"
DEFAULTABLE_FIELDS = ("namespace", "tier", "team", "runbook_url", "metrics")  # what `defaults:` may set


@dataclass(frozen=True)
class SpecFile:
    """One spec file's top level. Declares the shape only: the files merge into a Spec."""

    api_version: str = spec_field(
        {"required": True, "type": "string", "allowed": [API_VERSION]},
        Doc(f"`{API_VERSION}`, required in every file", example=f"apiVersion: {API_VERSION}"),
        key="apiVersion",
    )
    alert_catalogs: tuple[str, ...] = spec_field(
        {"type": "list", "schema": {"type": "string", "empty": False}},
        Doc("list of files or folders of alert templates, relative to this file", "none", "alert_catalogs: [alerts/]"),
    )
    defaults: Service = spec_field(
        mapping({name: rules_of(Service)[name] for name in DEFAULTABLE_FIELDS}),
        Doc("mapping: fields every service takes unless it sets its own, below"),
    )
    tiers: tuple[Tier, ...] = spec_field(
        {**named(mapping(Tier)), "keysrules": {"type": "string", "check_with": "tier_name"}},
        Doc("map of tier name to tier, below; merged field by field over the built-in tiers", "the built-in tiers"),
    )
    teams: tuple[Routes, ...] = spec_field(
        {
            "type": "dict",
            "keysrules": {"type": "string", "empty": False, "check_with": "label_value"},
            "valuesrules": mapping(Routes),
        },
        Doc(
            "map of team name (a service's `team`) to its own receivers, below",
            "none: every team uses the environment's",
            "teams: {payments: {page: payments-pager}}",
        ),
    )
    environments: tuple[Environment, ...] = spec_field(
        {"type": "dict"}, Doc("map of name to environment, at least one")
    )  # the rules: schema.shape
    services: tuple[Service, ...] = spec_field({"type": "dict"}, Doc("map of name to service"))  # schema.shape


@dataclass(frozen=True)
class Spec:
    files: tuple[str, ...]
    tiers: tuple[Tier, ...]
    environments: tuple[Environment, ...]
    alert_catalogs: tuple[Path, ...] = ()  # the spec's own catalog files, beside the built-in ones
    service_names: tuple[str, ...] = ()  # every service the files define, in any environment
    team_names: tuple[str, ...] = ()  # every team a service names or `teams:` gives receivers

    def tier(self, name: str) -> Tier:
        return next(tier for tier in self.tiers if tier.name == name)

    def environment(self, name: str) -> Environment:
        return next(env for env in self.environments if env.name == name)
