"""A fleet of N unlike services for benchmarks, drawn from a seeded generator (the same N gives
the same files byte for byte).

Where `synthetic.py`'s services share three shapes, these vary in what makes a shape: tier (the
built-in three and one of the spec's own), metrics endpoint, one to three SLOs of every kind
(ratio, latency, raw queries) with their windows, objectives, min_errors, page and ticket
switches, alert labels and annotations; backups Velero only (snapshot or file system, measured
durations), PostgreSQL with WAL-G (sizes and throughputs that give different schedules), both,
or none; teams of different sizes, a third of them with their own Alertmanager routes. So the
sharing that `gen` and `test` get from shapes is measured where it is weakest: `obskit gen` and
`obskit test` print how many shapes they found.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import yaml

SEED = 26
TEAM_SIZE = 25  # services per team on average; a file per team
TIERS = ("tier1_critical", "tier2_standard", "tier3_low", "tier0_edge")
TIER_WEIGHTS = (2, 5, 3, 1)
STRICT_TIERS = ("tier1_critical", "tier0_edge")
# Velero backs up volumes only where the RPO is a day: one Velero server could not keep up with
# thousands of services snapshotting every few minutes (the plan counts its queue), so the others'
# data is their datastores' and Velero keeps their resources daily.
VOLUME_TIER = "tier3_low"
WINDOWS = ("7d", "28d", "30d")
OBJECTIVES = (None, 99.0, 99.5, 99.9, 99.95)  # None: the tier's
THRESHOLDS = ("100ms", "250ms", "300ms", "500ms", "1s", "2500ms")
MIN_ERRORS = (None, 0, 3, 5, 20)  # None: the default (10)
SIZES = ("2Gi", "10Gi", "20Gi", "50Gi", "120Gi")
RESTORE = ("100MiB/s", "200MiB/s", "400MiB/s")
WAL_RATES = (None, "512MiB/h", "2GiB/h", "4GiB/h")
REPLAY = (None, "32MiB/s", "64MiB/s")
VELERO_DURATIONS = (None, "1m", "2m", "3m")
# One datastore a service: validate refuses a second datastore of one engine in a service, whose
# alerts would share names and labels with the first's.
DATASTORES_PER_SERVICE = (1,)
BACKUPS = ("none", "velero", "walg", "walg+velero", "walg-only")
BACKUP_WEIGHTS = (2, 3, 3, 2, 1)

PLATFORM: dict[str, Any] = {
    "apiVersion": "obskit/v1",
    "defaults": {"runbook_url": "https://runbooks.example.com/{service}/{alert}"},
    "tiers": {
        "tier0_edge": {
            "rto": "30m",
            "rpo": "10m",
            "scrape_interval": "15s",
            "slo_objective": 99.99,
            "pages": True,
            "restore_drill_interval": "14d",
            "retention": "21d",
        }
    },
}


def _environment(teams_with_routes: list[str]) -> dict[str, Any]:
    receivers: dict[str, Any] = {
        "oncall-pager": {"pagerduty": {"routing_key": {"secret": "pagerduty-oncall", "key": "routing-key"}}},
        "platform-chat": {
            "slack": {"api_url": {"secret": "slack-platform", "key": "url"}, "channel": "#platform-alerts"}
        },
        "tickets": {"webhook": {"url": "http://alert-bridge.tools.svc:8080/tickets"}},
    }
    for team in teams_with_routes:
        receivers[f"{team}-pager"] = {"pagerduty": {"routing_key": {"secret": f"pagerduty-{team}", "key": "key"}}}
        receivers[f"{team}-chat"] = {
            "slack": {"api_url": {"secret": f"slack-{team}", "key": "url"}, "channel": f"#{team}-alerts"}
        }
    return {
        "labels": {"env": "prod", "cluster": "prod-eu-1"},
        "selector_labels": {"release": "kube-prometheus-stack"},
        "velero": {"namespace": "velero", "storage_location": "default", "concurrent_backups": 100},
        "walg": {
            "prefix": "s3://fleet-backups/prod",
            "credentials_secret": "walg-s3",
            "image": "registry.example.com/walg:1",
        },
        "pushgateway": "http://pushgateway.monitoring.svc:9091",
        "grafana_url": "https://grafana.example.com",
        "alerting": {"receivers": receivers, "page": "oncall-pager", "ticket": "tickets", "info": "platform-chat"},
    }


def _slo(draw: random.Random, name: str, job: str, kind: str) -> dict[str, Any]:
    slo: dict[str, Any] = {}
    objective = draw.choice(OBJECTIVES)
    if objective is not None:
        slo["objective"] = objective
    if draw.random() < 0.7:
        slo["window"] = draw.choice(WINDOWS)
    if kind == "ratio":
        slo["errors"] = f'http_requests_total{{job="{job}",code=~"5.."}}'
        slo["total"] = f'http_requests_total{{job="{job}"}}'
    elif kind == "latency":
        slo["latency"] = {
            "histogram": f'http_request_duration_seconds{{job="{job}"}}',
            "threshold": draw.choice(THRESHOLDS),
        }
    else:
        slo["error_query"] = f'sum(rate({name}_failed_total{{job="{job}"}}[{{{{window}}}}]))'
        slo["total_query"] = f'sum(rate({name}_processed_total{{job="{job}"}}[{{{{window}}}}]))'
    alerts: dict[str, Any] = {}
    min_errors = draw.choice(MIN_ERRORS)
    if min_errors is not None:
        alerts["min_errors"] = min_errors
    if draw.random() < 0.15:
        alerts["page"] = False
    elif draw.random() < 0.1:
        alerts["ticket"] = False
    if draw.random() < 0.3:
        alerts["labels"] = {"component": draw.choice(("api", "worker", "frontend", "storage"))}
    if draw.random() < 0.2:
        alerts["annotations"] = {"playbook": f"https://wiki.example.com/playbooks/{name}"}
    if alerts:
        slo["alerts"] = alerts
    return slo


def _datastore(draw: random.Random, strict: bool) -> dict[str, Any]:
    store: dict[str, Any] = {
        "engine": "postgres",
        "method": "wal-g",
        "size": draw.choice(SIZES[:3] if strict else SIZES),
        "restore_throughput": draw.choice(RESTORE),
    }
    for field, choices in (("wal_rate", WAL_RATES), ("replay_throughput", REPLAY)):
        value = draw.choice(choices)
        if value is not None:
            store[field] = value
    return store


def _backup(draw: random.Random, name: str, tier: str) -> dict[str, Any] | None:
    strict = tier in STRICT_TIERS  # short RTO and RPO: small datastores, quick Velero backups
    kind = draw.choices(BACKUPS, BACKUP_WEIGHTS)[0]
    if kind == "none" or (kind == "velero" and tier != VOLUME_TIER):
        return None
    backup: dict[str, Any] = {"selector": {"app.kubernetes.io/name": name}}
    duration = draw.choice(VELERO_DURATIONS[:2] if strict else VELERO_DURATIONS)
    if duration is not None:
        backup["duration"] = duration
    if kind == "velero":
        backup["volumes"] = draw.choice(("snapshot", "fs"))
        return backup
    backup["datastores"] = {
        store: _datastore(draw, strict)
        for store in draw.sample(("db", "orders-db", "events-db"), draw.choice(DATASTORES_PER_SERVICE))
    }
    if kind == "walg":
        backup["volumes"] = "none"
    elif kind == "walg-only":
        backup["velero"] = False
    else:
        backup["volumes"] = draw.choice(("snapshot", "fs")) if tier == VOLUME_TIER else "none"
    return backup


def _service(draw: random.Random, index: int, team: str) -> tuple[str, dict[str, Any]]:
    name = f"{draw.choice(('api', 'web', 'worker', 'gateway', 'sync'))}-{index:05d}"
    service: dict[str, Any] = {
        "namespace": team,
        "tier": draw.choices(TIERS, TIER_WEIGHTS)[0],
        "team": team,
        "selector": {"app.kubernetes.io/name": name},
        "metrics": {"port": draw.choice(("http-metrics", "metrics"))},
    }
    if draw.random() < 0.1:
        service["job"] = f"{name}-job"
    if draw.random() < 0.2:
        service["metrics"]["path"] = "/internal/metrics"
    if draw.random() < 0.2:
        service["metrics"]["interval"] = draw.choice(("15s", "30s", "1m"))
    job = service.get("job", name)
    kinds = draw.sample(("ratio", "latency", "raw"), draw.choice((1, 2, 2, 3)))
    slo_names = {"ratio": "availability", "latency": "latency", "raw": "freshness"}
    service["slos"] = {slo_names[kind]: _slo(draw, slo_names[kind], job, kind) for kind in kinds}
    backup = _backup(draw, name, service["tier"])
    if backup is not None:
        service["backup"] = backup
    return name, service


def write_fleet(directory: Path, services: int, seed: int = SEED) -> Path:
    """Writes the fleet's spec files into `directory` (a platform file and one per team)."""
    draw = random.Random(f"{seed}-{services}")
    directory.mkdir(parents=True, exist_ok=True)
    teams: list[list[int]] = []
    index = 0
    while index < services:  # teams of 5 to 45 services
        size = min(services - index, draw.randint(5, 2 * TEAM_SIZE - 5))
        teams.append(list(range(index, index + size)))
        index += size
    names = [f"team-{number:03d}" for number in range(len(teams))]
    routed = [team for team in names if draw.random() < 1 / 3]
    platform = dict(PLATFORM, environments={"prod": _environment(routed)})
    _dump(directory / "platform.yaml", platform)
    for team, members in zip(names, teams, strict=True):
        document: dict[str, Any] = {"apiVersion": "obskit/v1"}
        if team in routed:
            routes = {"page": f"{team}-pager", "ticket": f"{team}-chat"}
            if draw.random() < 0.5:
                routes["info"] = f"{team}-chat"
            document["teams"] = {team: routes}
        document["services"] = dict(_service(draw, member, team) for member in members)
        _dump(directory / f"{team}.yaml", document)
    return directory


def _dump(path: Path, document: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=200))


if __name__ == "__main__":
    print(write_fleet(Path(sys.argv[1]), int(sys.argv[2])))
