"""Every default obskit applies to what a spec leaves out, in one place (the README's field
reference lists the same values). Engine-specific defaults live with their engine
(obskit/engines/<engine>/defaults.py); the built-in tiers are in obskit/spec/tiers.py."""

from __future__ import annotations

from obskit.units import parse_duration

SLO_WINDOW = "30d"
# a burn alert needs this many failed events in its long window: one failure among a handful
# of requests is not an outage
SLO_MIN_ERRORS = 10
METRICS_PATH = "/metrics"
VOLUMES = "snapshot"  # Velero captures persistent volumes as snapshots
GRAFANA_NAMESPACE = "monitoring"
ALERTMANAGER_NAMESPACE = "monitoring"  # where the AlertmanagerConfig goes
WATCHDOG_REPEAT_INTERVAL = parse_duration("1m")  # how often the always-firing Watchdog reaches the dead man's switch
SCRAPE_TIMEOUT = parse_duration("10s")  # Prometheus' own default; never above the interval
VELERO_BACKUP_DURATION = parse_duration("1m")  # until backup.duration gives the measured time
# A Velero restore, until backup.restore_duration gives the measured time: volumes provisioned from
# snapshots or copied back take longer than the backup that made them, then the pods start.
VELERO_RESTORE_FACTOR = 2
VELERO_RESTORE_STARTUP = parse_duration("2m")
VELERO_MAX_BACKUPS_PER_SCHEDULE = 300  # Velero lists every Backup each sync; keep the lists short
PLATFORM_ALERT_FOR = "5m"  # for a tier the spec adds without platform_alert_for

RULE_TARGETS = ("prometheus", "thanos", "mimir")  # the rule engines obskit writes for (environments.<env>.rules)
MIMIR_TENANT = "anonymous"  # Mimir's tenant when multi-tenancy is off
