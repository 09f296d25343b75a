"""The rule engines a tree is written for (`environments.<env>.rules.target`) and what each needs of
the same rule groups. The plain rule files promtool checks are the same for every target; a target's
own files are those groups with its fields, and `obskit test` checks they are nothing more."""

from __future__ import annotations

from obskit import defaults
from obskit.alerting.alerts import Group
from obskit.generate.artifact import File
from obskit.output import layout, render
from obskit.plan.meta import object_metadata
from obskit.plan.types import Plan, ServicePlan


def groups_yaml(groups: list[Group]) -> str:
    """The rule groups as a YAML sequence, rendered once for the files that hold them as they are."""
    return render.to_yaml([groups])  # one document that is a list


_NO_GROUPS = "[]\n"  # a service with no alerts at all (`scrape: false`, no SLOs or backups): still valid files


def _groups(text: str, indent: int = 0) -> str:
    """`groups:` and the groups' YAML below it, at `indent`."""
    if text == _NO_GROUPS:
        return " " * indent + "groups: []\n"
    return " " * indent + "groups:\n" + render.indented(text, indent)


def rule_file(environment: str, text: str) -> str:
    """The plain rule file: the groups' YAML under `groups:`."""
    return render.header(environment) + _groups(text)


def prometheus_rule(plan: Plan, service_plan: ServicePlan, text: str) -> str:
    """The PrometheusRule: the groups' YAML nested under `spec:` (`spec` sorts after `apiVersion`,
    `kind` and `metadata`)."""
    head = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": object_metadata(plan, service_plan.name, service_plan.service.namespace),
    }
    return render.yaml_file(plan.environment.name, head) + "spec:\n" + _groups(text, 2)


def thanos_groups(plan: Plan, groups: list[Group]) -> list[Group]:
    """Each group with Thanos Ruler's `partial_response_strategy`: a group that alerts aborts when a
    store does not answer (an alert on part of the data fires or resolves wrongly); a group that
    only records warns, and records what the stores that answered have."""
    chosen = plan.environment.rules.partial_response_strategy
    return [
        {
            **group,
            "partial_response_strategy": chosen or ("abort" if any("alert" in r for r in group["rules"]) else "warn"),
        }
        for group in groups
    ]


def deployed(plan: Plan, service_plan: ServicePlan, groups: list[Group], text: str) -> list[File]:
    """The files the rule engine loads. prometheus: the PrometheusRule object. thanos: the same with
    each group's strategy (Thanos Ruler, through the operator's ThanosRuler, reads PrometheusRule
    objects). mimir: the groups in a rule namespace of the service's own, as `mimirtool rules
    sync` reads a file (one namespace a file: mimirtool refuses a namespace found in two), and no
    PrometheusRule, which a Prometheus would evaluate a second time."""
    name, target = service_plan.name, plan.environment.rules.target
    if target == "mimir":
        content = render.header(plan.environment.name) + f"namespace: {mimir_namespace(name)}\n" + _groups(text)
        return [File(layout.mimir_rules(name), content)]
    if target == "thanos":
        text = groups_yaml(thanos_groups(plan, groups))
    return [File(layout.prometheus_rule(name), prometheus_rule(plan, service_plan, text), kubernetes=True)]


def mimir_namespace(service: str) -> str:
    """The service's rule namespace in Mimir: marked as obskit's among the tenant's others."""
    return f"obskit-{service}"


def environment_files(plan: Plan) -> list[File]:
    """mimir: the command that loads mimir/rules/ into the tenant. It syncs only obskit's namespaces
    of this tree: `mimirtool rules sync` deletes every namespace of the tenant it is given that the
    files lack, and a tenant holds other teams' rules beside its series."""
    if plan.environment.rules.target != "mimir":
        return []
    tenant = plan.environment.rules.tenant or defaults.MIMIR_TENANT
    namespaces = ",".join(mimir_namespace(service_plan.name) for service_plan in plan.services)
    script = (
        "#!/bin/sh\n"
        + render.header(plan.environment.name)
        + "# Loads mimir/rules/ into Mimir's ruler: MIMIR_ADDRESS is Mimir's URL (MIMIR_API_USER, MIMIR_API_KEY or\n"
        "# MIMIR_AUTH_TOKEN when it needs them). A service removed from the spec leaves its namespace behind:\n"
        "# mimirtool rules delete-namespace obskit-<service>.\n"
        "set -eu\n"
        f'exec mimirtool rules sync --id "{tenant}" --namespaces "{namespaces}" \\\n'
        '  --rule-dirs "$(dirname "$0")/rules" "$@"\n'
    )
    return [File(layout.MIMIR_SYNC, script)]
