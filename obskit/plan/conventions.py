"""Names other tools and obskit's own parts rely on, spelled once: recorded series, rule groups,
dashboard uids, Kubernetes object names, and the upstream metrics the alerts read.

The rules write these names and the dashboards read them (the plan hands them to the Jsonnet
templates), so a rename here renames both.
"""

from __future__ import annotations

import hashlib

from obskit.units import Duration

# Recorded SLO series (level:metric:operations).
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
BUDGET_REMAINING = "slo:error_budget_remaining:ratio"
# How much of the SLO window has data (retention shorter than the window, or a new SLI): the
# time of each 10m-rate sample, the oldest of them in the window, and the share of the window since.
SAMPLE_TIMESTAMP = "slo:sli_data:timestamp"
OLDEST_TIMESTAMP = "slo:sli_data:oldest_timestamp"
DATA_COVERAGE = "slo:sli_data:coverage_ratio"
# What templated dashboards read instead of numbers baked per service: an info series per SLO
# (team, tier, window, the service's scrape job), each burn-rate alert's threshold factor, and the
# DR limits (label `limit`: rpo, rto, backup_age, archive_age, base_backup_age, drill_age, restore_estimate).
# A freshness SLO's age of the last success, and its max_age (the dashboards draw one against the other).
LAST_SUCCESS_AGE = "slo:last_success:age_seconds"
MAX_AGE = "slo:last_success:max_age_seconds"
SLO_INFO = "slo:meta:info"
BURN_THRESHOLD = "slo:burn_rate_threshold:factor"
DR_LIMIT = "dr:limit:seconds"


def errors_rate(window: Duration) -> str:
    return f"slo:sli_errors:rate{window}"


def total_rate(window: Duration) -> str:
    return f"slo:sli_total:rate{window}"


def error_ratio(window: Duration) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def errors_increase(window: Duration) -> str:
    """Failed events over the window, counted (not a rate times the window, which data shorter
    than the window would inflate)."""
    return f"slo:sli_errors:increase{window}"


def burn_rate(window: Duration) -> str:
    return f"slo:burn_rate:ratio_rate{window}"


# The generated runbooks, under the tree's runbooks/ (output/layout.py; and under an environment's
# runbook_base): a page per service with a section per alert, and the service's disaster-recovery
# runbook, side by side (a folder per service would add a directory per service for two files).
ALERT_RUNBOOKS = "{service}.md"
RUNBOOK_PATH = ALERT_RUNBOOKS + "#{anchor}"
DR_RUNBOOK = "{service}.disaster-recovery.md"


def runbook_anchor(alert: str) -> str:
    """The fragment of an alert's section: its heading's slug as GitHub and GitLab make it
    (alert names are letters and digits, so lower case is the whole slug)."""
    return alert.lower()


# On every alert obskit writes: its own Alertmanager routes match this and pass other alerts by.
ALERT_MARKER = ("managed_by", "obskit")
# Alert names the routing's inhibit rules pair: a service that is down mutes its SLO alerts.
SLO_ALERTS = ("ErrorBudgetBurn", "SLIMetricMissing", "SLIBucketMissing")
# A freshness SLO's last success older than its max_age (like BackupTooOld); not among SLO_ALERTS, which a
# service that is down mutes: a batch job's success is pushed, so its scrape targets say nothing of it.
LAST_SUCCESS_TOO_OLD = "LastSuccessTooOld"
SERVICE_DOWN_ALERTS = ("ServiceDown", "ServiceTargetsMissing")

# Upstream metrics the DR alerts and dashboards read.
VELERO_LAST_SUCCESS = "velero_backup_last_successful_timestamp"
VELERO_FAILURES = "velero_backup_failure_total"
VELERO_PARTIAL_FAILURES = "velero_backup_partial_failure_total"
VELERO_VALIDATION_FAILURES = "velero_backup_validation_failure_total"  # e.g. storage location unavailable
# (Each engine's upstream metrics are its own: obskit/engines/<engine>/metrics.py.)
# What obskit's own backup and drill jobs push (obskit/jobs/obskit_job.py spells them too).
BACKUP_LAST_SUCCESS = "obskit_backup_last_success_timestamp_seconds"
DRILL_LAST_SUCCESS = "obskit_restore_drill_last_success_timestamp_seconds"
DRILL_DURATION = "obskit_restore_drill_last_success_duration_seconds"  # a failed drill leaves it as it was
DRILL_LAST_ATTEMPT_SUCCESS = "obskit_restore_drill_last_attempt_success"
BACKUP_LAST_ATTEMPT_SUCCESS = "obskit_backup_last_attempt_success"

MAX_UID = 40  # Grafana's limit


def _shortened(name: str, limit: int) -> str:
    """`name`, or when longer than `limit` its head and a stable hash of the whole."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


DASHBOARD_KINDS = ("overview", "slo", "dr")  # the environment's dashboards, whatever its services


def dashboard_uid(*parts: str) -> str:
    """A stable uid within Grafana's 40 characters of [a-z0-9-], derived from names."""
    return _shortened("-".join(("obskit", *parts)), MAX_UID)


def k8s_name(*parts: str, limit: int = 63) -> str:
    """Parts joined by '-', shortened with a stable hash when too long for Kubernetes."""
    return _shortened("-".join(parts), limit)


def probe_name(service: str, index: int) -> str:
    """The Probe object of a service's health check (the spec's list order)."""
    return k8s_name(service, "health", str(index))


FAILOVER_RUNBOOK = "{service}.failover.md"
PROBE_SUCCESS = "probe_success"  # blackbox_exporter: 1 when the probe succeeded


def group_name(service: str, *parts: str) -> str:
    return "/".join(("obskit", service, *parts))


def alertmanager_config_name(environment: str) -> str:
    return f"obskit-{environment}"
