"""ServiceMonitor (monitoring.coreos.com/v1) for each scraped service, or its PodMonitor with
`metrics.pod_monitor`: what to scrape, how often, over which TLS and with which credentials (by
reference to Secrets), and relabelings that attach the service's identity to every scraped series.
A service with `scrape: false` has neither."""

from __future__ import annotations

from typing import Any

from obskit.generate.artifact import File
from obskit.output import escape, layout, render
from obskit.plan.meta import object_metadata
from obskit.plan.types import Plan, ServicePlan
from obskit.spec.model import Metrics, Relabeling
from obskit.spec.refs import SecretRef

API_VERSION = "monitoring.coreos.com/v1"
# The operator's names of a relabel_config's fields.
_RELABEL_KEYS = (
    ("source_labels", "sourceLabels"),
    ("separator", "separator"),
    ("regex", "regex"),
    ("modulus", "modulus"),
    ("target_label", "targetLabel"),
    ("replacement", "replacement"),
)


def _replace(target: str, value: str) -> dict[str, str]:
    return {"action": "replace", "targetLabel": target, "replacement": escape.relabel_replacement(value)}


def _key(ref: SecretRef) -> dict[str, str]:
    """A SecretKeySelector: the operator reads the Secret in the monitor's namespace."""
    return {"name": ref.secret, "key": ref.key}


def _relabeling(item: Relabeling) -> dict[str, Any]:
    """The spec's relabeling as written: its replacement is a template of the user's ($1), not escaped."""
    written: dict[str, Any] = {"action": item.action}
    for attribute, key in _RELABEL_KEYS:
        value = getattr(item, attribute)
        if value is not None and value != ():
            written[key] = list(value) if isinstance(value, tuple) else value
    return written


def _security(metrics: Metrics) -> dict[str, Any]:
    """tlsConfig, and the credential: `authorization` (not the deprecated bearerTokenSecret) or basicAuth."""
    fields: dict[str, Any] = {}
    tls = metrics.tls
    if tls is not None:
        config: dict[str, Any] = {}
        if tls.ca_secret is not None:
            config["ca"] = {"secret": _key(tls.ca_secret)}
        if tls.cert_secret is not None and tls.key_secret is not None:
            config["cert"] = {"secret": _key(tls.cert_secret)}
            config["keySecret"] = _key(tls.key_secret)
        if tls.server_name is not None:
            config["serverName"] = tls.server_name
        if tls.insecure_skip_verify:
            config["insecureSkipVerify"] = True
        fields["tlsConfig"] = config
    if metrics.bearer_token_secret is not None:
        fields["authorization"] = {"type": "Bearer", "credentials": _key(metrics.bearer_token_secret)}
    if metrics.basic_auth is not None:
        auth = metrics.basic_auth
        fields["basicAuth"] = {"username": _key(auth.username_secret), "password": _key(auth.password_secret)}
    return fields


def endpoint(service_plan: ServicePlan, metrics: Metrics) -> dict[str, Any]:
    """One endpoint of a ServiceMonitor, or of a PodMonitor (the same fields)."""
    service = service_plan.service
    written: dict[str, Any] = {
        "port": metrics.port,
        "path": metrics.path,
        "scheme": metrics.scheme,
        "interval": str(service_plan.scrape_interval),
        "scrapeTimeout": str(service_plan.scrape_timeout),
        **_security(metrics),
        # The spec's own relabelings first, then obskit's: the operator sets `job` from the Kubernetes
        # Service (or the PodMonitor); the spec's job wins so that the rules' selectors and the scraped
        # series agree.
        "relabelings": [
            *map(_relabeling, metrics.relabelings),
            _replace("job", service.job),
            _replace("service", service.name),
            _replace("tier", service_plan.tier.name),
            _replace("team", service.team),
        ],
    }
    if metrics.metric_relabelings:
        written["metricRelabelings"] = [_relabeling(item) for item in metrics.metric_relabelings]
    return written


def service_monitor(plan: Plan, service_plan: ServicePlan) -> dict[str, Any]:
    """The service's ServiceMonitor, or its PodMonitor with `metrics.pod_monitor`."""
    service, metrics = service_plan.service, service_plan.service.metrics
    assert metrics is not None, "only a scraped service has a monitor"
    kind, endpoints = ("PodMonitor", "podMetricsEndpoints") if metrics.pod_monitor else ("ServiceMonitor", "endpoints")
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": object_metadata(plan, service.name, service.namespace),
        "spec": {
            "selector": {"matchLabels": dict(service.selector)},
            "namespaceSelector": {"matchNames": [service.namespace]},
            endpoints: [endpoint(service_plan, metrics)],
        },
    }


def files(plan: Plan, service_plan: ServicePlan) -> list[File]:
    if service_plan.service.metrics is None:
        return []  # `scrape: false`
    document = render.yaml_file(plan.environment.name, service_monitor(plan, service_plan))
    return [File(f"{layout.SERVICE_MONITORS}/{service_plan.name}.yaml", document, kubernetes=True)]
