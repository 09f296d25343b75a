"""Platform alerts from the alert catalog's templates, filled in for one service: the templates
that apply to it (in its scope, not disabled, their conditional placeholders given a value)."""

from __future__ import annotations

import re

from obskit.alerting.alerts import Rule
from obskit.alerting.timing import check_time, input_steps, platform_step
from obskit.output import escape
from obskit.plan.types import Plan, ServicePlan
from obskit.spec import alert_templates
from obskit.spec.alert_templates import CONDITIONAL_PLACEHOLDERS, AlertTemplate, fill
from obskit.units import Duration, parse_duration

_NOT_IN_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")
_RANGE = re.compile(r"\[((?:\d+(?:ms|[smhdwy]))+)[:\]]")


def pod_label_matchers(selector: dict[str, str]) -> str:
    """The service's pod selector as matchers on kube-state-metrics' `kube_pod_labels`, which
    writes a pod label `app.kubernetes.io/name` as `label_app_kubernetes_io_name`."""
    return escape.matchers(
        (f"label_{_NOT_IN_LABEL_NAME.sub('_', name)}", "=", value) for name, value in sorted(selector.items())
    )


TARGET_SERIES = "up"  # the series Prometheus writes for every scrape target


def backup_jobs(plan: Plan, service_plan: ServicePlan) -> tuple[str, ...]:
    """The CronJobs obskit writes for the service's datastores (backups, retention, drills)."""
    return tuple(
        obj["metadata"]["name"]
        for ds in service_plan.datastores
        for obj in ds.objects(plan, service_plan)
        if obj.get("kind") == "CronJob"
    )


def _conditional_params(plan: Plan, service_plan: ServicePlan, template: AlertTemplate) -> dict[str, str]:
    """The conditional placeholders the template uses, each "" where the service has none."""
    if not template.conditions:
        return dict.fromkeys(CONDITIONAL_PLACEHOLDERS, "")
    jobs = backup_jobs(plan, service_plan)
    namespace = service_plan.service.namespace
    owners = [
        escape.selector(
            "kube_job_owner", [("namespace", "=", namespace), ("owner_kind", "=", "CronJob"), ("owner_name", "=", job)]
        )
        for job in jobs
    ]
    return {"backup_job_owners": "\nor ".join(owners), "backup_job": jobs[0] if jobs else ""}


def _scraped_or_needs_no_target(service_plan: ServicePlan, template: AlertTemplate) -> bool:
    """A service with `scrape: false` has no scrape target to alert on (a template reading `up`) and
    no selector to find its pods by ([[pod_labels]] would match every pod of the namespace)."""
    if service_plan.service.scrape:
        return True
    return TARGET_SERIES not in alert_templates.reads(template) and not alert_templates.uses(template, "pod_labels")


def applies(plan: Plan, service_plan: ServicePlan, template: AlertTemplate) -> bool:
    """Whether the service gets the template's alert: it has what the alert watches, the alert is in
    its scope and not disabled, and every conditional placeholder it uses has a value (a backup
    Job's alert only where obskit runs one)."""
    service = service_plan.service
    if not _scraped_or_needs_no_target(service_plan, template):
        return False
    if not template.in_scope(service.name, service.team) or template.name in service.alerts.disable:
        return False
    return all(_conditional_params(plan, service_plan, template)[name] for name in template.conditions)


def templates(plan: Plan, service_plan: ServicePlan) -> list[AlertTemplate]:
    """The catalog's templates rendered for the service, in the catalog's order."""
    return [template for template in plan.alert_templates if applies(plan, service_plan, template)]


def alert_for(service_plan: ServicePlan, template: AlertTemplate) -> Duration | None:
    if not template.for_:
        return None
    return parse_duration(fill(template.for_, _timing_params(service_plan)))


def check_time_of(service_plan: ServicePlan, template: AlertTemplate) -> Duration:
    """When a template's "fires" case has surely fired: its inputs need the expression's longest
    range to show the condition (an increase over 15m grows for 15m), then the `for:` passes."""
    ranges = [parse_duration(text) for text in _RANGE.findall(template.expr)]
    warm_up = max(ranges, default=Duration(0))
    for_ = alert_for(service_plan, template) or Duration(0)
    return check_time(for_ + warm_up, platform_step(service_plan.evaluation_interval))


def _timing_params(service_plan: ServicePlan) -> dict[str, str]:
    return {"platform_for": str(service_plan.tier.platform_alert_for)}


def template_params(plan: Plan, service_plan: ServicePlan, template: AlertTemplate) -> dict[str, str]:
    """Values of the catalog's [[placeholders]] for one service and template."""
    return {
        **_conditional_params(plan, service_plan, template),
        "service": service_plan.name,
        "job": service_plan.service.job,
        "namespace": service_plan.service.namespace,
        "pod_labels": pod_label_matchers(dict(service_plan.service.selector)),
        "tier": service_plan.tier.name,
        "team": service_plan.service.team,
        **_timing_params(service_plan),
        # samples of a test series: long enough to pass the template's `for:` and be checked
        "span": str(input_steps(check_time_of(service_plan, template))),
    }


def promql_params(params: dict[str, str]) -> dict[str, str]:
    """The values as PromQL text: a name stands inside a template's double-quoted string
    (`job="[[job]]"`), escaped as such; the matchers and numbers as they are."""
    return {name: value if name in _PROMQL_PARAMS else escape.string_body(value) for name, value in params.items()}


# PromQL text already, or numbers and durations
_PROMQL_PARAMS = ("pod_labels", "backup_job_owners", "platform_for", "span")


def catalog_rule(plan: Plan, service_plan: ServicePlan, template: AlertTemplate) -> Rule:
    params = template_params(plan, service_plan, template)
    rule: Rule = {
        "alert": template.name,
        "expr": fill(template.expr, promql_params(params)),
        "labels": {
            **service_plan.alert_labels(template.severity),
            **{name: fill(value, params) for name, value in template.labels},
        },
        "annotations": {
            "summary": template.summary,
            "description": fill(template.description, params),
            **service_plan.links(template.name),
        },
    }
    if template.for_:
        rule["for"] = fill(template.for_, params)
    return rule
