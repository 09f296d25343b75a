"""Grafana dashboards: the plan as JSON into the Jsonnet templates of dashboards/, one
evaluation (gojsonnet) per page of services, plus a ConfigMap per dashboard for Grafana's
sidecar."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from importlib import resources
from typing import Any

import _gojsonnet
import orjson

from obskit.generate.artifact import File
from obskit.generate.meta import object_metadata
from obskit.output import render
from obskit.plan import burnrate
from obskit.plan import conventions as names
from obskit.plan.pages import Page
from obskit.plan.types import Plan, ServicePlan, SLOPlan
from obskit.spec.model import LatencySLI
from obskit.units import Duration, human_duration

ENTRY = "main.jsonnet"
FOLDER_ANNOTATION = "grafana_folder"
# Argo CD applies server-side: a client-side apply keeps the whole object in an annotation,
# which Kubernetes caps at 256 KiB, and a full page's dashboard comes near that.
SYNC_OPTIONS = {"argocd.argoproj.io/sync-options": "ServerSideApply=true"}
_PLAN_JSON = "obskit_plan_json"
_WRAPPER = "<obskit>"  # the snippet that evaluates ENTRY; not a template, so never an error's location


# The series the templates read, by the names the rules and the upstream exporters use.
SERIES = {
    "budget_remaining": names.BUDGET_REMAINING,
    "data_coverage": names.DATA_COVERAGE,
    "errors_5m": names.errors_rate(Duration(300_000)),
    "total_5m": names.total_rate(Duration(300_000)),
    "velero_last_success": names.VELERO_LAST_SUCCESS,
    "velero_failures": names.VELERO_FAILURES,
    "velero_partial_failures": names.VELERO_PARTIAL_FAILURES,
    "archive_age": names.ARCHIVE_AGE,
    "archive_failures": names.ARCHIVE_FAILURES,
    "backup_last_success": names.BACKUP_LAST_SUCCESS,
    "drill_duration": names.DRILL_DURATION,
}


class DashboardError(Exception):
    """A dashboard template failed to evaluate; the message names the template and line."""


def _float(value: Fraction) -> float:
    return float(value)


def _secs(duration: Duration) -> int:
    return duration.ms // 1000


def _slo_data(slo_plan: SLOPlan) -> dict[str, Any]:
    sli = slo_plan.slo.sli
    latency = None
    if isinstance(sli, LatencySLI):
        matchers = sli.histogram.with_name("")
        latency = {
            "histogram": sli.histogram.metric,
            "matchers": matchers if matchers.startswith("{") else "",
            "threshold_seconds": _float(sli.threshold.seconds),
            "threshold_text": burnrate.decimal_text(sli.threshold.seconds),
        }
    return {
        "name": slo_plan.name,
        "objective_text": str(slo_plan.objective),
        "objective_ratio": _float(Fraction(slo_plan.objective) / 100),
        "window": str(slo_plan.window),
        "selector": slo_plan.selector,
        "sli_series": names.error_ratio(slo_plan.window),
        "burn_rates": [{"window": str(w), "series": names.burn_rate(w)} for w in burnrate.ALERT_WINDOWS],
        "pairs": [
            {
                "long": str(burn.pair.long),
                "short": str(burn.pair.short),
                "factor": _float(burn.factor),
                "factor_text": burnrate.decimal_text(burn.factor),
                "severity": burn.severity,
            }
            for burn in slo_plan.burn_alerts
        ],
        "latency": latency,
    }


def _service_data(service_plan: ServicePlan) -> dict[str, Any]:
    tier = service_plan.tier
    velero = service_plan.velero
    return {
        "name": service_plan.name,
        "uid": service_plan.dashboard_uid,
        "tier": tier.name,
        "team": service_plan.service.team,
        "job": service_plan.service.job,
        "slos": [_slo_data(slo_plan) for slo_plan in service_plan.slos],
        "velero": {
            "schedule": velero.frequent.name,
            "rpo": str(velero.age_limit),
            "rpo_seconds": _secs(velero.age_limit),
        }
        if velero is not None
        else None,
        "datastores": [
            {
                "name": ds.name,
                "exporter_job": ds.datastore.exporter_job,
                "selector": f'{{datastore="{ds.name}",service="{service_plan.name}"}}',
                "rpo": str(tier.rpo),
                "rpo_seconds": _secs(tier.rpo),
                "rto": str(tier.rto),
                "rto_seconds": _secs(tier.rto),
                "archive_timeout_seconds": str(_secs(ds.archive_timeout)),
                "base_interval": str(ds.base_interval),
                "base_limit": str(ds.base_backup_limit),
                "base_limit_seconds": _secs(ds.base_backup_limit) if ds.base_backup_limit else None,
                "drill_limit_seconds": _secs(ds.drill_limit),
                "restore_estimate": human_duration(ds.restore.total.seconds) if ds.restore else "n/a",
            }
            for ds in service_plan.datastores
        ],
    }


def dashboard_data(plan: Plan, page: Page | None = None) -> dict[str, Any]:
    """Everything the templates read, from the plan: the same numbers the rules and backups use."""
    env = plan.environment.name
    page = page or Page(0, len(plan.services))
    services = plan.services[page.start : page.stop]
    has_backups = any(service.velero is not None or service.datastores for service in services)
    return {
        "environment": env,
        "page_title": f" {page.number}/{page.count}" if page.count > 1 else "",
        "overview_uid": page.uid(env, "overview"),
        "dr_uid": page.uid(env, "dr") if has_backups else None,  # a page without backups has no DR dashboard
        "services": [_service_data(service_plan) for service_plan in services],
        "series": SERIES,
    }


_LOCATION = re.compile(r"([\w./-]+\.(?:jsonnet|libsonnet)):(\d+):(\d+)")


def _template_name(path: str, root: str) -> str:
    """A template as the user knows it: dashboards/<path inside the template folder>."""
    relative = path.removeprefix(root.rstrip("/") + "/") if path.startswith("/") else path
    return f"dashboards/{relative.split('dashboards/')[-1]}"


def _error_message(raw: str, root: str) -> str:
    """The Jsonnet error's first line and its template location (named in that line for a
    syntax error, else the innermost frame of the stack), then the stack."""
    lines = [line.strip() for line in raw.strip().splitlines() if line.strip()]
    locations = [match for line in lines for match in [_LOCATION.search(line)] if match]
    where = (
        f"{_template_name(locations[0].group(1), root)}:{locations[0].group(2)}" if locations else f"dashboards/{ENTRY}"
    )
    return f"{where}: {lines[0] if lines else 'evaluation failed'}\n" + "\n".join(f"  {line}" for line in lines[1:])


def render_dashboards(
    plan: Plan, template_dir: str | None = None, page: Page | None = None
) -> dict[str, dict[str, Any]]:
    """{uid: dashboard} for one page of services (by default all of them), in one evaluation."""
    root = template_dir or str(resources.files("obskit.builtin_dashboards"))
    try:
        text = _gojsonnet.evaluate_snippet(
            f"{root}/{_WRAPPER}",
            # go-jsonnet's own output is indented JSON, and indenting costs it more than
            # writing the result as one minified JSON string does.
            f"std.manifestJsonMinified(import '{ENTRY}')",
            jpathdir=[root],
            # `std.extVar('plan')` stays the plan object for the templates; parsed by
            # std.parseJson (Go's JSON decoder), not as Jsonnet code, which is far slower.
            ext_codes={"plan": f"std.parseJson(std.extVar('{_PLAN_JSON}'))"},
            ext_vars={_PLAN_JSON: json.dumps(dashboard_data(plan, page), sort_keys=True)},
        )
    except RuntimeError as err:
        raise DashboardError(_error_message(str(err), root)) from None
    dashboards: dict[str, dict[str, Any]] = orjson.loads(orjson.loads(text))
    return dashboards


def config_map(plan: Plan, uid: str, dashboard_json: str) -> dict[str, Any]:
    metadata = object_metadata(plan, uid, plan.environment.grafana_namespace)
    metadata["labels"]["grafana_dashboard"] = "1"
    metadata["annotations"] = {FOLDER_ANNOTATION: f"obskit {plan.environment.name}", **SYNC_OPTIONS}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {f"{uid}.json": dashboard_json},
    }


def files(plan: Plan, page: Page, template_dir: str | None = None) -> list[File]:
    """Every dashboard of the page as JSON (indented, for review), and each minified in a ConfigMap
    for Grafana's sidecar."""
    result = []
    for uid, dashboard in render_dashboards(plan, template_dir, page).items():
        result.append(File(f"grafana/dashboards/{uid}.json", render.json_file(dashboard)))
        document = render.yaml_file(plan.environment.name, config_map(plan, uid, render.json_compact(dashboard)))
        result.append(File(f"grafana/configmaps/{uid}.yaml", document, kubernetes=True))
    return result
