"""A synthetic spec of N services for benchmarks: each with two SLOs (a ratio and a latency SLI)
and a PostgreSQL datastore backed up with WAL-G (Velero keeps the rest of its resources, scoped
by its labels), tiers mixed, one team file and namespace per 100 services."""

from __future__ import annotations

import sys
from pathlib import Path

TIERS = ("tier1_critical", "tier2_standard", "tier3_low")
PER_FILE = 100

PLATFORM = """\
apiVersion: obskit/v1
defaults:
  runbook_url: "https://runbooks.example.com/{service}/{alert}"
environments:
  prod:
    labels: {env: prod, cluster: prod-eu-1}
    selector_labels: {release: kube-prometheus-stack}
    velero: {namespace: velero, storage_location: default, concurrent_backups: 10}
    walg: {prefix: "s3://bench-backups/prod", credentials_secret: walg-s3, image: "registry.example.com/walg:1"}
    pushgateway: "http://pushgateway.monitoring.svc:9091"
"""

SERVICE = """\
  svc-{i:05d}:
    namespace: team-{team:03d}
    tier: {tier}
    team: team-{team:03d}
    selector: {{app.kubernetes.io/name: svc-{i:05d}}}
    metrics: {{port: http-metrics}}
    slos:
      availability:
        errors: 'http_requests_total{{job="svc-{i:05d}",code=~"5.."}}'
        total: 'http_requests_total{{job="svc-{i:05d}"}}'
      latency:
        objective: 99
        latency:
          histogram: 'http_request_duration_seconds{{job="svc-{i:05d}"}}'
          threshold: 300ms
    backup:
      duration: 1m
      volumes: none
      selector: {{app.kubernetes.io/name: svc-{i:05d}}}
      datastores:
        db:
          engine: postgres
          method: wal-g
          size: 20Gi
          restore_throughput: 200MiB/s
          wal_rate: 2GiB/h
          replay_throughput: 32MiB/s
"""


def write_spec(directory: Path, services: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "platform.yaml").write_text(PLATFORM)
    for start in range(0, services, PER_FILE):
        team = start // PER_FILE
        body = "".join(
            SERVICE.format(i=i, team=team, tier=TIERS[i % len(TIERS)])
            for i in range(start, min(start + PER_FILE, services))
        )
        (directory / f"team-{team:03d}.yaml").write_text(f"apiVersion: obskit/v1\nservices:\n{body}")
    return directory


if __name__ == "__main__":
    print(write_spec(Path(sys.argv[1]), int(sys.argv[2])))
