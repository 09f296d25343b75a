"""Multi-region failover, as the spec declares it: the environment's regions, DR copies, prober and
DNS, and each service's health checks, DNS record and steps (declare.py). The datastore engines add
their DR copies' fields under `failover.<their section>` (fragment.py)."""

from __future__ import annotations

from dataclasses import dataclass

from obskit.spec.declare import Doc, spec_field
from obskit.spec.refs import SecretRef, secret_ref
from obskit.spec.rules import BOOLEAN, SECRET, mapping, text
from obskit.units import Duration, parse_duration

# The steps obskit knows how to run and budget; any other name is a step done by hand.
DETECT, PROMOTE, UPDATE_DNS, SCALE = "detect", "promote_database", "update_dns", "scale_dr"
KNOWN_STEPS = (DETECT, PROMOTE, UPDATE_DNS, SCALE)
PROBE_MODULE = "http_2xx"
DNS_TTL = 60
HEALTH_INTERVAL = parse_duration("30s")
UNHEALTHY_THRESHOLD = 3


@dataclass(frozen=True)
class DRVelero:
    storage_location: str = spec_field(
        text(required=True, check_with="dns1123_subdomain"),
        Doc("Velero BackupStorageLocation in the DR region", example="storage_location: dr-us-west-2"),
    )


@dataclass(frozen=True)
class Prober:
    url: str = spec_field(
        text(required=True, check_with="http_url"),
        Doc("http(s) URL of the blackbox_exporter that probes the health checks", example=(
            'url: "http://blackbox-exporter.monitoring.svc:9115"'
        )),
    )  # fmt: skip
    module: str = spec_field(
        text(check_with="label_value"),
        Doc("the blackbox_exporter module of the probes", f"`{PROBE_MODULE}`", "module: http_2xx"),
        default=PROBE_MODULE,
    )


@dataclass(frozen=True)
class RFC2136:
    server: str = spec_field(
        text(required=True, check_with="host_port"),
        Doc("`host:port` of the authoritative DNS server that takes dynamic updates", example=(
            'server: "ns1.example.com:53"'
        )),
    )  # fmt: skip
    zone: str = spec_field(
        text(required=True, check_with="dns1123_subdomain"), Doc("the zone of the records", example="zone: example.com")
    )
    key_secret: SecretRef = spec_field(
        {**SECRET, "required": True},
        Doc(
            "`{secret, key}`: the TSIG key file (`nsupdate -k`) that signs the updates",
            example="key_secret: {secret: dns-update, key: tsig.key}",
        ),
        convert=secret_ref,
    )
    check_servers: tuple[str, ...] = spec_field(
        {"type": "list", "schema": text(check_with="host_port")},
        Doc(
            "`host:port` of each authoritative server clients' resolvers ask (secondaries, a provider's edge): "
            "the step waits until every one answers the new record",
            "`server` alone",
            'check_servers: ["ns1.example.com:53", "ns2.example.com:53"]',
        ),
        convert=tuple,
        default=(),
    )


@dataclass(frozen=True)
class ExternalDNS:
    namespace: str = spec_field(
        text(required=True, check_with="dns1123_label"),
        Doc("where the DNSEndpoint goes in the DR cluster (external-dns watches it)", example="namespace: dns"),
    )


@dataclass(frozen=True)
class DNSUpdate:
    """Exactly one of the two (cross_checks.py)."""

    rfc2136: RFC2136 | None = spec_field(
        mapping(RFC2136), Doc("mapping: an RFC 2136 dynamic update, signed with TSIG", inline=True), default=None
    )
    external_dns: ExternalDNS | None = spec_field(
        mapping(ExternalDNS), Doc("mapping: an external-dns DNSEndpoint object", inline=True), default=None
    )


@dataclass(frozen=True)
class EnvironmentFailover:
    """`environments.<name>.failover`."""

    primary_region: str = spec_field(
        text(required=True, check_with="label_value"),
        Doc("the region that serves, the `region` label of its probes' alerts", example="primary_region: us-east-1"),
    )
    dr_region: str = spec_field(
        text(required=True, check_with="label_value"),
        Doc("the region that takes over", example="dr_region: us-west-2"),
    )
    prober: Prober = spec_field(mapping(Prober, required=True), Doc("mapping: the blackbox_exporter", inline=True))
    velero: DRVelero | None = spec_field(
        mapping(DRVelero),
        Doc("mapping: where a daily Velero schedule copies every failover service's resources", inline=True),
        default=None,
    )
    dns: DNSUpdate | None = spec_field(
        mapping(DNSUpdate),
        Doc("mapping: how the `update_dns` steps change the record; required with one", inline=True),
        default=None,
    )
    image: str | None = spec_field(
        text(),
        Doc(
            "the step Jobs' image: python3, nsupdate and dig (bind9-dnsutils), kubectl (build it from "
            "`obskit/jobs/failover.Dockerfile` in obskit's repository); required with an automated step",
            "none",
            "image: registry.example.com/obskit-failover:1",
        ),
        default=None,
    )
    sections: tuple[tuple[str, object], ...] = ()  # the engines' DR copies, by their section's name

    def section(self, name: str) -> object | None:
        return next((settings for key, settings in self.sections if key == name), None)


@dataclass(frozen=True)
class HealthCheck:
    endpoint: str = spec_field(
        text(required=True, check_with="http_url"),
        Doc("http(s) URL the prober requests", example='endpoint: "https://us-east-1.api.example.com/health"'),
    )
    interval: Duration = spec_field(
        {"check_with": "probe_interval"},
        Doc("duration, 1s to 5m: between probes", f"{HEALTH_INTERVAL}", "interval: 30s"),
        convert=parse_duration,
        default=HEALTH_INTERVAL,
    )
    unhealthy_threshold: int = spec_field(
        {"type": "integer", "min": 1, "max": 20},
        Doc(
            "the region is unhealthy once every probe failed for `interval` x this (this + 1 probes in a row)",
            f"{UNHEALTHY_THRESHOLD}",
            "unhealthy_threshold: 3",
        ),
        default=UNHEALTHY_THRESHOLD,
    )
    region: str | None = spec_field(
        text(check_with="label_value"),
        Doc("the region the endpoint serves from", "the environment's `primary_region`", "region: us-west-2"),
        default=None,
    )


@dataclass(frozen=True)
class DNSRecord:
    name: str = spec_field(
        text(required=True, check_with="dns1123_subdomain"),
        Doc("the record clients resolve", example="name: api.example.com"),
    )
    dr_target: str = spec_field(
        text(required=True, check_with="dns_target"),
        Doc(
            "what the record points to after failover: an IPv4 or IPv6 address (A, AAAA) or a host name (CNAME)",
            example="dr_target: 203.0.113.20",
        ),
    )
    ttl: int = spec_field(
        {"type": "integer", "min": 1, "max": 86400}, Doc("seconds", f"{DNS_TTL}", "ttl: 60"), default=DNS_TTL
    )


@dataclass(frozen=True)
class Step:
    name: str = spec_field(
        text(required=True, check_with="step_name"),
        Doc(
            "`detect`, `promote_database`, `update_dns`, `scale_dr`, or a step of your own (done by hand)",
            example="name: promote_database",
        ),
    )
    automated: bool = spec_field(
        BOOLEAN,
        Doc("false: the on-call engineer does it by hand (then `duration` is required)", "true", "automated: true"),
        default=True,
    )
    duration: Duration | None = spec_field(
        {"check_with": "duration"},
        Doc(
            "duration, measured: the step's budget (for `update_dns`, the propagation added to the TTL)",
            "obskit's default for the step",
            "duration: 2m",
        ),
        convert=parse_duration,
        default=None,
    )
    replicas: int | None = spec_field(
        {"type": "integer", "min": 1, "max": 1000},
        Doc("`scale_dr`: the replicas the DR region's workload is scaled to; required there", "", "replicas: 3"),
        default=None,
    )
    workload: str | None = spec_field(
        text(check_with="dns1123_subdomain"),
        Doc("`scale_dr`: the Deployment to scale", "the service's name", "workload: checkout-api"),
        default=None,
    )


@dataclass(frozen=True)
class ServiceFailover:
    """`services.<name>.failover`."""

    health_checks: tuple[HealthCheck, ...] = spec_field(
        {"type": "list", "required": True, "empty": False, "schema": mapping(HealthCheck)},
        Doc("list of health checks, below: at least one of the primary region"),
    )
    dns: DNSRecord = spec_field(mapping(DNSRecord, required=True), Doc("mapping: the service's record", inline=True))
    steps: tuple[Step, ...] = spec_field(
        {"type": "list", "required": True, "empty": False, "schema": mapping(Step)},
        Doc("list of steps in order, below; `detect` first"),
    )
