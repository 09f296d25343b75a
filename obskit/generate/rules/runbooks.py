"""The runbooks behind the alerts: `runbooks/<service>.md`, a section for each alert name the
service's rules raise (its `runbook_url` links the section's anchor), written from the rules
themselves (the exact PromQL, thresholds, `for:`) and the plan's numbers, and
`runbooks/<service>.disaster-recovery.md` for a service with backups. One page per service rather
than one per alert: a fleet's tree holds two runbook files per service, not twenty.
Part of the rules family: a runbook documents the rules it is generated with."""

from __future__ import annotations

from obskit.alerting.alerts import ABSENT_LABEL, Group, Rule
from obskit.generate.artifact import File
from obskit.generate.rules.failover_runbook import failover_runbook
from obskit.output import escape, layout
from obskit.output.render import markdown_table
from obskit.plan.conventions import ALERT_RUNBOOKS, DR_RUNBOOK, FAILOVER_RUNBOOK, runbook_anchor
from obskit.plan.types import Plan, ServicePlan
from obskit.spec.alert_templates import render_label_templates
from obskit.units import human_duration

# Labels that tell the variants of one alert apart, in the order a reader wants them.
VARIANT_LABELS = ("slo", "long_window", "short_window", "datastore", ABSENT_LABEL, "severity")

FIRST_STEPS = {
    "ErrorBudgetBurn": (
        "Open the dashboard: which SLO, since when, and is the error ratio still rising?",
        "Look for what changed at that time: a deploy, a config change, a dependency's incident. "
        "Roll back a recent deploy first and investigate after.",
        "A page (fast burn) means the budget is gone within days at this rate: mitigate now. A ticket "
        "(slow burn) means it runs out before the window ends: fix it this week.",
    ),
    "SLIMetricMissing": (
        "Check that the service still exports the SLI's metrics under the same names and labels "
        "(a renamed metric or label, a new client library version).",
        "Check the targets page in Prometheus for the job that exposes them (the service's own, or the "
        "Pushgateway or exporter a batch job's metrics reach Prometheus through): scrapes failing, or no target.",
        "Until the metric is back, the SLO's burn alerts cannot fire: watch the service by other means.",
    ),
    "SLIBucketMissing": (
        "List the histogram's buckets (`count by (le) (<histogram>_bucket)`): none is at the threshold.",
        "Add the threshold to the histogram's buckets in the service, or set the SLO's threshold to an existing "
        "bucket in the spec.",
    ),
    "LastSuccessTooOld": (
        "Find the job's last runs (`kubectl get jobs -n <namespace>`, its CronJob's last schedule): did it run, "
        "fail, or succeed without pushing its metrics?",
        "With `cause=absent`, nothing reports the last success at all: check the Pushgateway (restarted without "
        "persistence?) and its scrape, or the job has never succeeded.",
        "Rerun the job once the cause is fixed; the SLO counts the time until its next success.",
    ),
    "ServiceDown": (
        "Check the pods (`kubectl get pods -n <namespace> -l <selector>`) and their events and logs.",
        "If a rollout is in progress, roll it back (`kubectl rollout undo`).",
        "Check the scrape itself: a changed port or path makes every target look down.",
    ),
    "ServiceTargetsDown": (
        "Find the targets that are down on Prometheus' targets page; check those pods' logs and events.",
        "The service still serves from its other pods: fix within the day.",
    ),
    "ServiceTargetsMissing": (
        "Check that the Service and its endpoints exist and match the ServiceMonitor's selector and port.",
        "A rename of the Service, its port or labels leaves Prometheus nothing to scrape.",
    ),
    "BackupTooOld": (
        "`velero backup get` for the schedule: is a backup running, failing, or none started?",
        "Check the Velero pod's logs and the backup storage location (`velero backup-location get`).",
        "Until a backup succeeds, data written since the last one is not protected: see the disaster-recovery "
        "runbook (linked at the top of this page).",
    ),
    "FailoverPrimaryUnhealthy": (
        "Open the failover runbook, <failover_runbook>: its first section says whether to fail over now.",
        "Confirm from outside the region (another network, the provider's status page) that it is down for clients.",
    ),
    "FailoverStandbyRegionUnhealthy": (
        "The DR region would not take over if the primary failed: check its endpoint and pods there.",
        "Until it is healthy, a failover would not restore the service: fix within the day.",
    ),
    "FailoverProbeMissing": (
        "Check the blackbox_exporter's pod and logs, and that the Probe object exists "
        "(`kubectl get probes -n <namespace>`).",
        "Until it reports again, an outage of the region raises no page: watch the service by other means.",
    ),
    "FailoverBackupTooOld": (
        "`velero backup get` for the schedule ending in `-dr`: is a backup running, failing, or none started?",
        "Check the DR region's storage location (`velero backup-location get`): it must be Available.",
    ),
    "BackupFailed": (
        "`velero backup describe <backup> --details` and `velero backup logs <backup>` for the failed backup.",
        "A failed validation usually means the storage location is unavailable (`velero backup-location get`).",
    ),
}
# the expressions are in "How to confirm it", above a section's first steps
GENERIC_STEPS = ("Read the description, and run the expressions above against what you see on the dashboard.",)


def _alerts(groups: list[Group]) -> dict[str, list[Rule]]:
    by_name: dict[str, list[Rule]] = {}
    for group in groups:
        for rule in group["rules"]:
            if "alert" in rule:
                by_name.setdefault(rule["alert"], []).append(rule)
    return by_name


class _Shown(dict[str, str]):
    """Labels for a description's templates; one only the alert's series has reads as `<name>`."""

    def get(self, key: str, default: str | None = None) -> str:  # type: ignore[override]
        return super().get(key, f"<{key}>")


def _variant(rule: Rule) -> str:
    labels = rule["labels"]
    shown = [escape.markdown_code(f"{name}={labels[name]}") for name in VARIANT_LABELS if name in labels]
    held = f", held for {rule['for']}" if "for" in rule else ", no `for:`"
    return " ".join(shown) + held


def _escalation(plan: Plan, service_plan: ServicePlan, severities: set[str]) -> str:
    tier, team = service_plan.tier, service_plan.service.team
    routing = plan.routing
    lines = []
    for severity in ("critical", "warning", "info"):
        if severity not in severities:
            continue
        receiver = f" (receiver `{routing.receiver(team, severity)}`)" if routing else ""
        lines.append(
            f"- `{severity}`{receiver}: " + _ESCALATION[severity].format(team=escape.markdown_text(team), rto=tier.rto)
        )
    return "\n".join(lines)


_ESCALATION = {
    "critical": "pages team {team}. Acknowledge at once; if the service is not mitigated within its RTO of "
    "{rto}, declare an incident and bring in the team's lead and the platform on-call.",
    "warning": "a ticket for team {team}: fix within the working day, or before the budget or the backups run out.",
    "info": "for team {team}'s attention; no action required now.",
}


def _job(service_plan: ServicePlan, labels: dict[str, str]) -> str:
    """The `job` the alert's series carry: its datastore's exporter's, or the service's."""
    jobs = {ds.name: ds.series_job for ds in service_plan.datastores}
    return jobs.get(labels.get("datastore", "")) or service_plan.service.job


def _first_steps(plan: Plan, service_plan: ServicePlan, alert: str) -> tuple[str, ...]:
    """Of the alert, as Markdown: its catalog template's `runbook.first_steps` (text someone wrote:
    escaped but for its code spans), obskit's own, or its datastore engine's."""
    for template in plan.alert_templates:
        if template.name == alert and template.first_steps:
            return tuple(escape.markdown_with_code(_filled(step, service_plan)) for step in template.first_steps)
    for ds in service_plan.datastores:
        if alert in ds.runbook_steps:
            return tuple(_filled(step, service_plan) for step in ds.runbook_steps[alert])
    return tuple(_filled(step, service_plan) for step in FIRST_STEPS.get(alert, GENERIC_STEPS))


def alert_section(plan: Plan, service_plan: ServicePlan, name: str, rules: list[Rule]) -> str:
    """One alert's section of the service's page. Its heading is the alert's name alone, so that
    its slug is the anchor `runbook_url` links; the headings inside it are several words, so
    that no slug of theirs is an alert's."""
    first = rules[0]
    labels = _Shown({**first["labels"], "alertname": name, "job": _job(service_plan, first["labels"])})
    description = render_label_templates(first["annotations"]["description"], labels).replace(
        "{{ $value | humanizePercentage }}", "(the current value)"
    )
    variants = "\n\n".join(f"{_variant(rule)}:\n\n{escape.markdown_block(rule['expr'], 'promql')}" for rule in rules)
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(_first_steps(plan, service_plan, name), start=1))
    return f"""\
## {name}

{escape.markdown_text(first["annotations"]["summary"])}

### What it means

{escape.markdown_text(description)}

### How to confirm it

Run each expression in Prometheus; a result means the alert's condition holds.

{variants}

### What to do first

{steps}

### Who is reached

{_escalation(plan, service_plan, {rule["labels"]["severity"] for rule in rules})}
"""


def alert_runbooks(plan: Plan, service_plan: ServicePlan, alerts: dict[str, list[Rule]]) -> str:
    """The service's page: what the service is, an index of its alerts, then a section per alert."""
    service, tier = service_plan.service, service_plan.tier
    dashboard = f"[{service_plan.dashboard_uid}]({service_plan.dashboard_url})" if service_plan.dashboard_url else ""
    dr_page = DR_RUNBOOK.format(service=service.name)
    restores = f" Restores: [{dr_page}]({dr_page})." if _has_backups(service_plan) else ""
    index = "\n".join(
        f"- [{name}](#{runbook_anchor(name)}): {escape.markdown_text(rules[0]['annotations']['summary'])}"
        for name, rules in alerts.items()
    )
    sections = "\n".join(alert_section(plan, service_plan, name, rules) for name, rules in alerts.items())
    return f"""\
# Alert runbooks: {service.name}

Service `{service.name}` in namespace `{service.namespace}`, team {escape.markdown_text(service.team)}, tier {tier.name}
(RTO {tier.rto}, RPO {tier.rpo}).{" Dashboard: " + dashboard + "." if dashboard else ""}{restores}

{index}

{sections}"""


def _filled(step: str, service_plan: ServicePlan) -> str:
    """A first step on one line (a catalog's may span several) with the service's own namespace
    and pod selector in its commands."""
    selector = ",".join(f"{key}={value}" for key, value in service_plan.service.selector)
    page = FAILOVER_RUNBOOK.format(service=service_plan.name)
    return (
        " ".join(step.split())
        .replace("<namespace>", service_plan.service.namespace)
        .replace("<selector>", selector)
        .replace("<failover_runbook>", f"[{page}]({page})")
    )


def _has_backups(service_plan: ServicePlan) -> bool:
    return service_plan.velero is not None or bool(service_plan.datastores)


def _dr_alerts(plan: Plan, service_plan: ServicePlan) -> str:
    """The alerts that say the service's data is not being backed up: Velero's and its engines'."""
    engines = plan.engines_of(service_plan.datastores)
    velero = ("BackupTooOld",) if service_plan.velero is not None else ()
    return ", ".join(f"`{name}`" for name in (*velero, *(engine.freshness_alert for engine in engines)))


def dr_runbook(plan: Plan, service_plan: ServicePlan) -> str:
    service, tier = service_plan.service, service_plan.tier
    team = escape.markdown_text(service.team)
    parts = [
        f"""\
# Disaster recovery: {service.name}

Service `{service.name}` in namespace `{service.namespace}`, team {team}, tier {tier.name}:
recovery time objective (RTO) {tier.rto}, recovery point objective (RPO) {tier.rpo}. Every number
here is the plan's (`obskit plan --env {plan.environment.name}`).
"""
    ]
    velero = service_plan.velero
    settings = plan.environment.velero
    if velero is not None and settings is not None:
        schedule, ns = velero.frequent.name, settings.namespace
        rows: list[tuple[str, ...]] = [
            (
                "schedule",
                f"`{planned.name}` in namespace `{ns}`: `{planned.cron}`, every {planned.interval}, "
                f"kept {planned.ttl} (`ttl`)",
            )
            for planned in velero.schedules
        ]
        rows += [
            (
                "worst-case loss",
                f"{human_duration(velero.worst_case_loss.seconds)} (a backup takes about {velero.backup_duration}"
                + (f" and may wait {velero.queue_wait} for a Velero worker" if velero.queue_wait.ms else "")
                + ")",
            ),
            ("restore", f"about {velero.restore}" + (" (estimated)" if velero.restore_assumed else " (measured)")),
        ]
        targets = markdown_table(("what", "value"), rows)
        parts.append(f"""\
## Kubernetes resources (Velero)

{targets}
```sh
velero -n {ns} backup get --selector velero.io/schedule-name={schedule}   # newest first; Completed ones
velero -n {ns} restore create {schedule}-restore-$(date +%Y%m%d%H%M) --from-schedule {schedule}
# or from one backup: --from-backup <backup name>
# beside the damaged objects: add --namespace-mappings {service.namespace}:<new namespace>
velero -n {ns} restore describe <restore name> --details   # Phase: Completed, no errors or warnings
velero -n {ns} restore logs <restore name>
```

Velero does not replace objects that exist: delete the damaged ones first, or restore into a
new namespace.{"".join(" " + engine.restore_note for engine in plan.engines_of(service_plan.datastores))}
""")
    fresh = []
    if velero is not None and settings is not None:
        velero_ns, name = settings.namespace, service.name
        fresh.append(f"`velero -n {velero_ns} backup create {name}-after-restore --from-schedule {name}`")
    for ds in service_plan.datastores:
        parts.append(ds.runbook(plan, service_plan))
        fresh.append(ds.fresh_backup(service_plan))
    parts.append(f"""\
## Afterwards

- Check the service's SLOs and that no DR alert fires ({_dr_alerts(plan, service_plan)}).
- Take a fresh backup at once: {"; ".join(fresh)}.
- Write down how long the restore took: if it came near the RTO of {tier.rto}, set the
  datastore's measured restore figures in the spec (`obskit plan` names the ones it assumed).
""")
    return "\n".join(parts)


def files(plan: Plan, service_plan: ServicePlan, groups: list[Group]) -> list[File]:
    name = service_plan.name
    alerts = dict(sorted(_alerts(groups).items()))
    result = [
        File(f"{layout.RUNBOOKS}/{ALERT_RUNBOOKS.format(service=name)}", alert_runbooks(plan, service_plan, alerts))
    ]
    if _has_backups(service_plan):
        result.append(File(f"{layout.RUNBOOKS}/{DR_RUNBOOK.format(service=name)}", dr_runbook(plan, service_plan)))
    if service_plan.failover is not None:
        page = FAILOVER_RUNBOOK.format(service=name)
        result.append(File(f"{layout.RUNBOOKS}/{page}", failover_runbook(plan, service_plan)))
    return result
