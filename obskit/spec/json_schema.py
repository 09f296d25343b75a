"""The spec format as a JSON Schema (draft 2020-12), translated from the cerberus schemas that
schema.py reads off the declarations (declare.py), for editors: yaml-language-server completes and checks
a spec file with it. It describes one file of a spec; what only the merged spec can tell
(required fields that `defaults` may supply, cross-field rules, the plan's checks) is left
to `obskit validate`."""

from __future__ import annotations

from typing import Any

from obskit import units
from obskit.spec import names, schema
from obskit.spec.fragment import Kinds

SCHEMA_ID = "https://obskit.dev/schema/spec-v1.json"

_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "dict": "object",
          "list": "array"}  # fmt: skip


def _bounded_duration(low: str, high: str) -> dict[str, Any]:
    return {"type": "string", "pattern": units.DURATION_PATTERN, "description": f"a duration from {low} to {high}"}


# check_with rules as JSON Schema, where a pattern says the same; the rest only describes.
_CHECKS: dict[str, dict[str, Any]] = {
    "dns1123_label": {"type": "string", "pattern": names.DNS1123_LABEL.pattern, "maxLength": 63},
    "dns1123_subdomain": {"type": "string", "pattern": names.DNS1123_SUBDOMAIN.pattern, "maxLength": 253},
    "prom_label_name": {"type": "string", "pattern": names.PROM_LABEL_NAME.pattern},
    "relabel_label": {"type": "string", "pattern": names.PROM_LABEL_NAME.pattern},
    "relabel_regex": {"type": "string", "description": "an RE2 regular expression, anchored at both ends"},
    "k8s_label_value": {"type": "string", "maxLength": 63},
    "tier_name": {"type": "string", "pattern": names.TIER_NAME.pattern},
    "step_name": {"type": "string", "pattern": names.TIER_NAME.pattern, "maxLength": 40},
    "duration": {"type": "string", "pattern": units.DURATION_PATTERN, "description": "a duration: 30s, 5m, 1h30m, 7d"},
    "scrape_interval": _bounded_duration("1s", "2m"),
    "platform_alert_for": _bounded_duration("1s", "6h"),
    "rpo": _bounded_duration("1s", "3d"),
    "rto": _bounded_duration("1s", "7d"),
    "drill_interval": _bounded_duration("1h", "365d"),
    "probe_interval": _bounded_duration("1s", "5m"),
    "heartbeat_interval": _bounded_duration("30s", "1h"),
    "alertmanager_route": {"type": "object", "description": "an Alertmanager route, as its configuration writes it"},
    "dns_target": {"type": "string", "description": "an IPv4 or IPv6 address, or a host name"},
    "host_port": {"type": "string", "pattern": "^[^\\s:@/]+:[0-9]+$"},
    "size": {"type": ["string", "integer"], "pattern": units.SIZE_PATTERN, "description": "a size: 500Mi, 200Gi"},
    "throughput": {"type": "string", "pattern": units.THROUGHPUT_PATTERN, "description": "100MiB/s, 2GiB/h"},
    "objective": {
        "type": "number",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 100,
        "description": "a percentage, e.g. 99.9",
    },
    "selector": {"type": "string", "description": 'a PromQL series selector, e.g. http_requests_total{job="api"}'},
    "histogram": {"type": "string", "description": "a histogram's base name with matchers (no _bucket)"},
    "window_query": {"type": "string", "description": "PromQL with the placeholder {{window}}"},
    "runbook_url": {"type": "string", "description": "a URL; {service} and {alert} are replaced"},
    "http_url": {"type": "string", "pattern": "^https?://"},
    "object_store_prefix": {"type": "string", "pattern": "^(s3|gs|az|file)://"},
    "port_name": {"type": "string", "maxLength": 15},
    "k8s_label_key": {"type": "string", "maxLength": 316},
    "smarthost": {"type": "string", "pattern": "^[^\\s:@/]+:[0-9]+$"},
    "label_value": {"type": "string", "description": "text on one line, without '{{' (alerts expand templates)"},
    "dashboard_label_value": {"type": "string", "description": "text on one line, without '{{', '$name' or '[['"},
    "annotation": {"type": "string", "description": "text; the only templates allowed are {{ $labels.name }}"},
    "quantity": {"type": ["string", "integer"], "pattern": units.QUANTITY_PATTERN, "description": "500m, 2, 512Mi"},
    "requests_within_limits": {"description": "no request above its limit"},
    "rule_target": {"description": "tenant only with target mimir, partial_response_strategy only with thanos"},
    "slack_channel": {"type": "string", "pattern": names.SLACK_CHANNEL.pattern},
    "email": {"type": "string", "description": "a@example.com or Name <a@example.com>, comma-separated"},
    "secret_ref": {
        "type": "object",
        "properties": {
            "secret": {"type": "string", "pattern": names.DNS1123_SUBDOMAIN.pattern},
            "key": {"type": "string", "pattern": "^[-._a-zA-Z0-9]+$"},
        },
        "required": ["secret", "key"],
        "additionalProperties": False,
        "description": "a key of a Kubernetes Secret: {secret: name, key: key}; never the secret itself",
    },
}


def _value(rules: dict[str, Any]) -> dict[str, Any]:
    """One cerberus field definition as a JSON Schema."""
    out: dict[str, Any] = {}
    if "check_with" in rules:
        out.update(_CHECKS[rules["check_with"]])
    kind = rules.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        out["type"] = [_TYPES[k] for k in kinds] if len(kinds) > 1 else _TYPES[kinds[0]]
    if rules.get("nullable"):
        types = out.get("type")
        if types is not None:
            out["type"] = [*(types if isinstance(types, list) else [types]), "null"]
    if "allowed" in rules:
        if kind == "list":
            out["items"] = {"enum": list(rules["allowed"])}
        else:
            out["enum"] = list(rules["allowed"]) + ([None] if rules.get("nullable") else [])
    if "regex" in rules:
        out["pattern"] = rules["regex"] if rules["regex"].startswith("^") else f"^(?:{rules['regex']})$"
    for rule, keyword in (("min", "minimum"), ("max", "maximum")):
        if rule in rules:
            out[keyword] = rules[rule]
    if rules.get("empty") is False:
        out["minLength" if kind == "string" else "minItems" if kind == "list" else "minProperties"] = 1
    if "schema" in rules:
        if kind == "list":
            out["items"] = _value(rules["schema"])
        else:
            out.update({key: v for key, v in _mapping(rules["schema"]).items() if key != "type"})
    if "keysrules" in rules:
        out["propertyNames"] = {key: v for key, v in _value(rules["keysrules"]).items() if key != "type"}
    if "valuesrules" in rules:
        out["additionalProperties"] = _value(rules["valuesrules"])
    return out


def _mapping(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: _value(rules) for name, rules in fields.items()},
        "additionalProperties": False,
    }


def spec_json_schema(kinds: Kinds) -> dict[str, Any]:
    """The JSON Schema of one spec file with the engines' fragments; only apiVersion is required
    of a file on its own."""
    document = _mapping(schema.shape(kinds).file)
    document["required"] = ["apiVersion"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "obskit spec (obskit/v1)",
        "description": "One file of an obskit spec. `obskit validate` checks the merged spec in full.",
        **document,
    }
