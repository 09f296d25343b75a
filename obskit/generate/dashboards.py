"""Grafana dashboards: a constant, templated set per environment (SLO overview, SLO detail, DR),
the Jsonnet templates of dashboards/ evaluated once (gojsonnet), plus a ConfigMap per dashboard
for Grafana's sidecar."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import _gojsonnet
import orjson

from obskit.generate.artifact import File
from obskit.output import escape, layout, render
from obskit.plan import burnrate
from obskit.plan import conventions as names
from obskit.plan.meta import object_metadata
from obskit.plan.pages import Page
from obskit.plan.types import Plan
from obskit.spec.model import FreshnessSLI
from obskit.units import Duration

ENTRY = "main.jsonnet"
FOLDER_ANNOTATION = "grafana_folder"
# Argo CD applies server-side: a client-side apply keeps the whole object in an annotation,
# which Kubernetes caps at 256 KiB, and a full page's dashboard comes near that.
SYNC_OPTIONS = {"argocd.argoproj.io/sync-options": "ServerSideApply=true"}
_PLAN_JSON = "obskit_plan_json"
_WRAPPER = "<obskit>"  # the snippet that evaluates ENTRY; not a template, so never an error's location


# The series the templates read, by the names the rules and the upstream exporters use.
SERIES = {
    "slo_info": names.SLO_INFO,
    "objective": names.OBJECTIVE,
    "error_budget": names.ERROR_BUDGET,
    "budget_remaining": names.BUDGET_REMAINING,
    "data_coverage": names.DATA_COVERAGE,
    "burn_1h": names.burn_rate(Duration(3_600_000)),
    "burn_threshold": names.BURN_THRESHOLD,
    "error_ratio_5m": names.error_ratio(Duration(300_000)),
    "errors_5m": names.errors_rate(Duration(300_000)),
    "total_5m": names.total_rate(Duration(300_000)),
    "last_success_age": names.LAST_SUCCESS_AGE,
    "max_age": names.MAX_AGE,
    "dr_limit": names.DR_LIMIT,
    "velero_last_success": names.VELERO_LAST_SUCCESS,
    "backup_last_success": names.BACKUP_LAST_SUCCESS,
    "drill_last_success": names.DRILL_LAST_SUCCESS,
    "drill_duration": names.DRILL_DURATION,
}


class DashboardError(Exception):
    """A dashboard template failed to evaluate; the message names the template and line."""


def dashboard_data(plan: Plan) -> dict[str, Any]:
    """What the templates read: names and the environment's labels, never a service's numbers
    (those are series the rules record), so the dashboards are the same for any number of services."""
    env = plan.environment.name
    return {
        "environment": env,
        "uids": {kind: names.dashboard_uid(env, kind) for kind in names.DASHBOARD_KINDS},
        "env_matchers": [escape.matchers([(name, "=", value)]) for name, value in sorted(plan.labels)],
        "env_labels": sorted(name for name, _ in plan.labels),
        "has_backups": any(service.velero is not None or service.datastores for service in plan.services),
        "has_freshness": any(
            isinstance(slo.slo.sli, FreshnessSLI) for service in plan.services for slo in service.slos
        ),
        "burn_rates": [{"window": str(w), "series": names.burn_rate(w)} for w in burnrate.ALERT_WINDOWS],
        "series": {**SERIES, **{key: name for engine in plan.engines for key, name in engine.dashboard_series.items()}},
    }


_LOCATION = re.compile(r"([\w./-]+\.(?:jsonnet|libsonnet)):(\d+):(\d+)")


def _template_name(path: str, root: str) -> str:
    """A template as the user knows it: dashboards/<path inside the template folder>, or an
    engine's rows as obskit/engines/<engine>/<file>."""
    if "/obskit/engines/" in path:
        return "obskit/engines/" + path.rsplit("/obskit/engines/", 1)[1]
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


def _engine_rows(plan: Plan) -> str:
    """The DR dashboard rows of the environment's datastore engines, as Jsonnet imports."""
    return "[" + ", ".join(f"import {json.dumps(engine.dashboard_rows)}" for engine in plan.engines_used) + "]"


def render_dashboards(plan: Plan, template_dir: str | None = None) -> dict[str, dict[str, Any]]:
    """{uid: dashboard} of the environment, in one evaluation."""
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
            ext_codes={"plan": f"std.parseJson(std.extVar('{_PLAN_JSON}'))", "engines": _engine_rows(plan)},
            ext_vars={_PLAN_JSON: json.dumps(dashboard_data(plan), sort_keys=True)},
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
    """The environment's dashboards as JSON (indented, for review), and each minified in a ConfigMap
    for Grafana's sidecar: rendered with the first part of the tree, as they do not depend on the services."""
    if page.number != 1:
        return []
    result = []
    for uid, dashboard in render_dashboards(plan, template_dir).items():
        result.append(File(f"{layout.GRAFANA_DASHBOARDS}/{uid}.json", render.json_file(dashboard)))
        document = render.yaml_file(plan.environment.name, config_map(plan, uid, render.json_compact(dashboard)))
        result.append(File(f"{layout.GRAFANA_CONFIGMAPS}/{uid}.yaml", document, kubernetes=True))
    return result
