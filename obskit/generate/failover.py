"""A service's failover objects: the Probe of each health check (this cluster's Prometheus probes
them through the blackbox_exporter), and for the DR region's cluster, a suspended CronJob per
automated step that the on-call engineer starts with one `kubectl create job --from=cronjob/...`,
the step scripts and what they may touch, and each datastore's DR copy and standby (its engine's).

The DR region's objects go to failover/<service>.yaml, listed in failover/kustomization.yaml
(applied to the DR cluster), never in the tree's own kustomization: they run there."""

from __future__ import annotations

import ipaddress
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from obskit.generate.artifact import File
from obskit.output import layout, render
from obskit.plan import jobs
from obskit.plan.conventions import k8s_name
from obskit.plan.failover import FailoverPlan, ProbePlan, StepPlan
from obskit.plan.meta import object_metadata
from obskit.plan.types import Plan, ServicePlan
from obskit.spec.failover import PROMOTE, SCALE, UPDATE_DNS, DNSRecord
from obskit.units import Duration

DNS_SCRIPT = "failover_dns.py"
KUBECTL_SCRIPT = "failover_kubectl.py"
STEP_UID = 65532  # the failover image's non-root user
NEVER = "0 0 1 1 *"  # a suspended CronJob never runs on its own; its schedule is a formality
DNS_KEY_DIR = "/etc/obskit/dns"
DNS_ENDPOINT_DIR = "/etc/obskit/dns-endpoint"
STEP_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
}


@cache
def step_script(name: str) -> str:
    return resources.files("obskit.jobs").joinpath(name).read_text(encoding="utf-8")


def _prober(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {"url": parts.netloc, "scheme": parts.scheme, "path": "/probe"}


def probe(plan: Plan, service_plan: ServicePlan, failover: FailoverPlan, planned: ProbePlan) -> dict[str, Any]:
    check = planned.check
    prober = failover.environment.prober
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Probe",
        "metadata": object_metadata(plan, planned.name, service_plan.service.namespace),
        "spec": {
            "interval": str(check.interval),
            "scrapeTimeout": str(min(check.interval, Duration(10_000))),
            "module": prober.module,
            "prober": _prober(prober.url),
            "targets": {
                "staticConfig": {
                    "static": [check.endpoint],
                    # the labels of every probe_success series (rules/failover.py probe_labels)
                    "labels": {"region": planned.region, "service": service_plan.name},
                }
            },
        },
    }


def step_name(service: str, step: str, part: str = "") -> str:
    """The suspended CronJob of a step: `kubectl create job --from=cronjob/<this>`."""
    return k8s_name(service, "failover", step.replace("_", "-"), *([part] if part else []), limit=52)


def _suspended(metadata: dict[str, Any], budget: Duration, pod: dict[str, Any]) -> dict[str, Any]:
    """A step as a CronJob that never runs on its own; its Job may take the step's budget and a minute."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata,
        "spec": {
            "schedule": NEVER,
            "suspend": True,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,  # a failed step is for the on-call engineer to read, not to rerun blindly
                    "activeDeadlineSeconds": jobs.seconds(budget) + 60,
                    "template": {"spec": {"restartPolicy": "Never", **pod}},
                }
            },
        },
    }


def _security() -> dict[str, Any]:
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": STEP_UID,
            "runAsGroup": STEP_UID,
            "fsGroup": STEP_UID,  # the Secret's key file is group-readable only
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    }


def _container(image: str, args: list[str], mounts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "step",
        "image": image,
        "command": ["python3", *args],
        "resources": STEP_RESOURCES,
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": mounts,
    }


def _scripts_volume(service: str) -> tuple[dict[str, Any], dict[str, Any]]:
    volume = {"name": "scripts", "configMap": {"name": k8s_name(service, "failover-scripts"), "defaultMode": 0o555}}
    return volume, {"name": "scripts", "mountPath": jobs.SCRIPTS_DIR, "readOnly": True}


def _record_type(record: DNSRecord) -> str:
    try:
        return "AAAA" if ipaddress.ip_address(record.dr_target).version == 6 else "A"
    except ValueError:
        return "CNAME"


def _dns_pod(service_plan: ServicePlan, failover: FailoverPlan, step: StepPlan, image: str) -> dict[str, Any]:
    dns = failover.environment.dns
    record = service_plan.service.failover.dns if service_plan.service.failover else None
    assert dns is not None and record is not None, "validation requires them with an update_dns step"
    scripts, scripts_mount = _scripts_volume(service_plan.name)
    if dns.rfc2136 is not None:
        update = dns.rfc2136
        key = update.key_secret
        args = [
            f"{jobs.SCRIPTS_DIR}/{DNS_SCRIPT}",
            f"--server={update.server}",
            f"--zone={update.zone}",
            f"--name={record.name}",
            f"--type={_record_type(record)}",
            f"--address={record.dr_target}",
            f"--ttl={record.ttl}",
            f"--key-file={DNS_KEY_DIR}/{key.key}",
            f"--timeout={jobs.seconds(step.budget)}",
            *(f"--check-server={server}" for server in update.check_servers),
        ]
        volumes = [scripts, {"name": "tsig", "secret": {"secretName": key.secret, "defaultMode": 0o440}}]
        mounts = [scripts_mount, {"name": "tsig", "mountPath": DNS_KEY_DIR, "readOnly": True}]
        return {"automountServiceAccountToken": False, **_security(),
                "containers": [_container(image, args, mounts)], "volumes": volumes}  # fmt: skip
    args = [f"{jobs.SCRIPTS_DIR}/{KUBECTL_SCRIPT}", "apply", f"--file={DNS_ENDPOINT_DIR}/endpoint.yaml"]
    endpoint = {"name": "endpoint", "configMap": {"name": k8s_name(service_plan.name, "failover-dns-endpoint")}}
    mounts = [scripts_mount, {"name": "endpoint", "mountPath": DNS_ENDPOINT_DIR, "readOnly": True}]
    return {
        "serviceAccountName": step_name(service_plan.name, UPDATE_DNS),
        **_security(),
        "containers": [_container(image, args, mounts)],
        "volumes": [scripts, endpoint],
    }


def _scale_pod(service_plan: ServicePlan, step: StepPlan, image: str) -> dict[str, Any]:
    scripts, scripts_mount = _scripts_volume(service_plan.name)
    workload = step.step.workload or service_plan.name
    args = [
        f"{jobs.SCRIPTS_DIR}/{KUBECTL_SCRIPT}",
        "scale",
        f"--namespace={service_plan.service.namespace}",
        f"--deployment={workload}",
        f"--replicas={step.step.replicas}",
        f"--timeout={jobs.seconds(step.budget)}",
    ]
    return {
        "serviceAccountName": step_name(service_plan.name, SCALE),
        **_security(),
        "containers": [_container(image, args, [scripts_mount])],
        "volumes": [scripts],
    }


def _access(plan: Plan, service_plan: ServicePlan, step: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A step's ServiceAccount and what it may do in the service's namespace, nothing more."""
    return jobs.access(object_metadata(plan, step_name(service_plan.name, step), service_plan.service.namespace), rules)


def _dns_endpoint(service_plan: ServicePlan) -> dict[str, Any]:
    record = service_plan.service.failover.dns if service_plan.service.failover else None
    assert record is not None
    return {
        "apiVersion": "externaldns.k8s.io/v1alpha1",
        "kind": "DNSEndpoint",
        "metadata": {"name": k8s_name(service_plan.name, "failover"), "namespace": service_plan.service.namespace},
        "spec": {
            "endpoints": [
                {
                    "dnsName": record.name,
                    "recordType": _record_type(record),
                    "recordTTL": record.ttl,
                    "targets": [record.dr_target],
                }
            ]
        },
    }


def dr_objects(plan: Plan, service_plan: ServicePlan) -> list[dict[str, Any]]:
    """What the DR region's cluster runs for the service's failover."""
    failover = service_plan.failover
    assert failover is not None
    environment, name, namespace = failover.environment, service_plan.name, service_plan.service.namespace
    scripts = {DNS_SCRIPT: step_script(DNS_SCRIPT), KUBECTL_SCRIPT: step_script(KUBECTL_SCRIPT)}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": object_metadata(plan, k8s_name(name, "failover-scripts"), namespace),
            "data": scripts,
        }
    ]
    steps = {planned.name: planned for planned in failover.steps if planned.step.automated}
    image = environment.image
    if PROMOTE in steps and image is not None:
        for store, datastore in failover.datastores:
            metadata = object_metadata(plan, step_name(name, PROMOTE, store), namespace)
            pod = {**_security(), **datastore.promote_pod(plan, service_plan, image)}
            objects.append(_suspended(metadata, steps[PROMOTE].budget, pod))
    if UPDATE_DNS in steps and image is not None:
        if environment.dns is not None and environment.dns.external_dns is not None:
            endpoint = render.to_yaml([_dns_endpoint(service_plan)])
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": object_metadata(plan, k8s_name(name, "failover-dns-endpoint"), namespace),
                    "data": {"endpoint.yaml": endpoint},
                }
            )
            # kubectl apply reads the object, then creates or patches it
            rules = [jobs.rule("externaldns.k8s.io", "dnsendpoints", "get", "create", "patch")]
            objects += _access(plan, service_plan, UPDATE_DNS, rules)
        metadata = object_metadata(plan, step_name(name, UPDATE_DNS), namespace)
        objects.append(
            _suspended(metadata, steps[UPDATE_DNS].budget, _dns_pod(service_plan, failover, steps[UPDATE_DNS], image))
        )
    if SCALE in steps and image is not None:
        # kubectl scale writes the scale subresource; rollout status watches the Deployment
        scaling = [
            jobs.rule("apps", "deployments/scale", "get", "patch", "update"),
            jobs.rule("apps", "deployments", "get", "watch"),
        ]
        objects += _access(plan, service_plan, SCALE, scaling)
        metadata = object_metadata(plan, step_name(name, SCALE), namespace)
        objects.append(_suspended(metadata, steps[SCALE].budget, _scale_pod(service_plan, steps[SCALE], image)))
    for _, datastore in failover.datastores:
        objects += datastore.objects(plan, service_plan)
    return jobs.placed(objects, plan.environment.jobs)


def files(plan: Plan, service_plan: ServicePlan) -> list[File]:
    failover = service_plan.failover
    if failover is None:
        return []
    env = plan.environment.name
    probes = [probe(plan, service_plan, failover, planned) for planned in failover.probes]
    return [
        File(layout.probes(service_plan.name), render.yaml_file(env, probes), kubernetes=True),
        File(layout.failover(service_plan.name), render.yaml_file(env, dr_objects(plan, service_plan)),
             kubernetes=True, cluster=layout.DR_CLUSTER),
    ]  # fmt: skip
