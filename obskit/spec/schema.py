"""The spec's shape as cerberus schemas, and the validator that turns its errors into Problems.

Only shape and per-value rules live here (types, unknown keys, units, names, PromQL);
rules that relate fields to each other are in `checks.py`.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import cerberus

from obskit import units
from obskit.output import escape
from obskit.shown import got, shown
from obskit.spec import names, promql, urls
from obskit.spec.fragment import DatastoreKind, Kinds
from obskit.spec.problems import FieldPath
from obskit.spec.tiers import TIER_FIELDS

API_VERSION = "obskit/v1"
RUNBOOK_PLACEHOLDERS = ("service", "alert")
VOLUME_MODES = ("snapshot", "fs", "none")
SEVERITY_ROUTES = ("page", "ticket", "info")  # what an environment's alerting and a team route


def _name_rule(check: Callable[[str], str | None]) -> Callable[[Any, str, Any], None]:
    def rule(validator: Any, field: str, value: Any) -> None:
        if isinstance(value, str):
            problem = check(value)
            if problem:
                validator._error(field, problem)

    return rule


def _parse_rule(parse: Callable[[Any], Any]) -> Callable[[Any, str, Any], None]:
    def rule(validator: Any, field: str, value: Any) -> None:
        try:
            parse(value)
        except ValueError as err:
            validator._error(field, str(err))

    return rule


def _positive_duration(value: Any) -> None:
    if units.parse_duration(value).ms <= 0:
        raise ValueError(f"{shown(value)} must be longer than zero")


def _bounded_duration(low: str, high: str, why: str) -> Callable[[Any], None]:
    """A duration from `low` to `high`; `why` says what the bounds protect."""
    least, most = units.parse_duration(low), units.parse_duration(high)

    def check(value: Any) -> None:
        duration = units.parse_duration(value)
        if not least <= duration <= most:
            raise ValueError(f"{shown(value)} is out of range: it must be from {low} to {high}; {why}")

    return check


# Duration fields whose values reach the generated rules and their promtool tests. Each range keeps
# the rules meaningful and the tests correct and small (they feed a sample a minute, and promtool
# reads at most 10,000 samples in one query); docs/spec.md gives the same ranges.
_SCRAPE_INTERVAL = _bounded_duration(
    "1s", "2m", "the rules' 5m rate windows need two samples, and a series not scraped for 5m is gone"
)
_PLATFORM_ALERT_FOR = _bounded_duration(
    "1s", "6h", "an alert held back longer comes too late, and its tests check every minute of the wait"
)
_RPO = _bounded_duration(
    "1s",
    "3d",
    "the generated tests of the archive alerts feed a sample a minute over the RPO, and promtool "
    "reads at most 10,000 samples in one query",
)
_RTO = _bounded_duration("1s", "7d", "a restore that may take longer than a week is no recovery objective")
_DRILL_INTERVAL = _bounded_duration("1h", "365d", "restore drills must run at least once a year")


def _objective(value: Any) -> None:
    if isinstance(value, str) and _is_number(value):
        raise ValueError(f"{shown(value)} is quoted, so it is text: write the number without quotes, e.g. 99.9")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 100:
        raise ValueError(f"{shown(value)} must be a percentage strictly between 0 and 100, e.g. 99.9")
    if 0 < value < 1:
        percent = format((units.exact_decimal(value) * 100).normalize(), "f")
        raise ValueError(f"{shown(value)} looks like a ratio; objectives are percentages: did you mean {percent}?")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _require_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {got(value, text_wanted=True)}")
    return value


def _runbook_url(value: Any) -> None:
    problem = urls.credentials_problem(_require_text(value))  # first: the messages below quote the value
    if problem:
        raise ValueError(problem)
    fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    unknown = sorted(set(fields) - set(RUNBOOK_PLACEHOLDERS))
    if unknown or any(name == "" for name in fields):
        found = ", ".join(map(shown, unknown)) or "{}"
        raise ValueError(f"{shown(value)}: placeholders may only be {{service}} and {{alert}}, found {found}")
    _safe_url(value.format(service="service", alert="alert"))


def _safe_url(url: str, hint: str = urls.SECRET_HINT) -> None:
    problem = urls.credentials_problem(url, hint) or urls.character_problem(url)
    if problem:
        raise ValueError(problem)


def _http_url(value: Any) -> None:
    _safe_url(_require_text(value))
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown(value)} must be an http:// or https:// URL with a host")


def _secret_ref(value: Any) -> None:
    """A secret only by reference to a Kubernetes Secret's key, never as a value in the spec."""
    if isinstance(value, str):
        raise ValueError(
            "is a secret: reference it as {secret: <Secret name>, key: <key in the Secret>}, never as a value"
        )
    if not isinstance(value, dict) or set(value) != {"secret", "key"}:
        raise ValueError("must be {secret: <Secret name>, key: <key in the Secret>}")
    problem = names.dns1123_subdomain_problem(value["secret"]) if isinstance(value["secret"], str) else "a name"
    if problem:
        raise ValueError(f"secret: {problem}")
    if not isinstance(value["key"], str) or not re.fullmatch(r"[-._a-zA-Z0-9]+", value["key"]):
        raise ValueError(f"key: {shown(value['key'])} is not a Secret key (letters, digits, '-', '_', '.')")


def _object_store_prefix(value: Any) -> None:
    _safe_url(
        _require_text(value),
        "the prefix is committed in a generated ConfigMap; the storage credentials belong in the "
        "section's credentials_secret",
    )
    parts = urlsplit(value)
    if parts.scheme not in ("s3", "gs", "az", "file") or not (parts.netloc or parts.path.strip("/")):
        raise ValueError(
            f"{shown(value)} must be an object storage prefix such as 's3://bucket/path' (s3, gs, az or file)"
        )


class SpecValidator(cerberus.Validator):  # type: ignore[misc]
    """cerberus with the spec's own value rules, referenced as `check_with: <name>`."""

    _check_with_dns1123_label = _name_rule(names.dns1123_label_problem)
    _check_with_dns1123_subdomain = _name_rule(names.dns1123_subdomain_problem)
    _check_with_k8s_label_key = _name_rule(names.k8s_label_key_problem)
    _check_with_prom_label_name = _name_rule(names.prom_label_name_problem)
    _check_with_port_name = _name_rule(names.port_name_problem)
    _check_with_tier_name = _name_rule(names.tier_name_problem)
    _check_with_label_value = _name_rule(escape.label_value_problem)  # on alerts, in matchers and templates
    _check_with_annotation = _name_rule(escape.annotation_problem)
    _check_with_dashboard_label_value = _name_rule(escape.dashboard_value_problem)
    _check_with_slack_channel = _name_rule(names.slack_channel_problem)
    _check_with_email = _name_rule(names.email_problem)
    _check_with_smarthost = _name_rule(urls.smarthost_problem)
    _check_with_duration = _parse_rule(_positive_duration)
    _check_with_scrape_interval = _parse_rule(_SCRAPE_INTERVAL)
    _check_with_platform_alert_for = _parse_rule(_PLATFORM_ALERT_FOR)
    _check_with_rpo = _parse_rule(_RPO)
    _check_with_rto = _parse_rule(_RTO)
    _check_with_drill_interval = _parse_rule(_DRILL_INTERVAL)
    _check_with_size = _parse_rule(units.parse_size)
    _check_with_throughput = _parse_rule(units.parse_throughput)
    _check_with_objective = _parse_rule(_objective)
    _check_with_selector = _parse_rule(promql.parse_selector)
    _check_with_histogram = _parse_rule(promql.check_histogram_selector)
    _check_with_window_query = _parse_rule(promql.check_window_query)
    _check_with_runbook_url = _parse_rule(_runbook_url)
    _check_with_http_url = _parse_rule(_http_url)
    _check_with_object_store_prefix = _parse_rule(_object_store_prefix)
    _check_with_secret_ref = _parse_rule(_secret_ref)

    def _check_with_k8s_label_value(self, field: str, value: Any) -> None:
        problem = names.k8s_label_value_problem(value)
        if problem:
            self._error(field, problem)


def text(**extra: Any) -> dict[str, Any]:
    return {"type": "string", "empty": False, **extra}


DURATION = {"check_with": "duration"}
K8S_LABELS = {
    "type": "dict",
    "keysrules": {"type": "string", "check_with": "k8s_label_key"},
    "valuesrules": {"check_with": "k8s_label_value"},
}
PROM_LABELS = {
    "type": "dict",
    "keysrules": {"type": "string", "check_with": "prom_label_name"},
    "valuesrules": {"type": "string", "check_with": "label_value"},
}

SLO = {
    "objective": {"check_with": "objective"},
    "window": DURATION,
    "description": text(),
    "errors": text(check_with="selector"),
    "total": text(check_with="selector"),
    "latency": {
        "type": "dict",
        "schema": {
            "histogram": text(required=True, check_with="histogram"),
            "threshold": {**DURATION, "required": True},
        },
    },
    "error_query": text(check_with="window_query"),
    "total_query": text(check_with="window_query"),
    "alerts": {
        "type": "dict",
        "schema": {
            "page": {"type": "boolean"},  # false: no fast-burn alerts
            "ticket": {"type": "boolean"},  # false: no slow-burn alerts
            "min_errors": {"type": "integer", "min": 0},
            "labels": PROM_LABELS,
            "annotations": {
                **PROM_LABELS,
                "valuesrules": {"type": "string", "empty": False, "check_with": "annotation"},
            },
        },
    },
}

# The fields every datastore has; each engine adds its own (obskit/spec/fragment.py), and `shape`
# puts them together with the engines the pipeline gives it.
DATASTORE_COMMON: dict[str, dict[str, Any]] = {
    "engine": {"type": "string", "required": True},
    "method": {"type": "string", "required": True},
    "size": {"required": True, "check_with": "size"},
    "restore_throughput": {"check_with": "throughput"},
}

BACKUP_FIELDS = {
    "namespaces": {
        "type": "list",
        "empty": False,
        "schema": {"type": "string", "check_with": "dns1123_label"},
    },
    "velero": {"type": "boolean"},  # false: only the datastores are backed up, by their engines
    "volumes": {"type": "string", "allowed": list(VOLUME_MODES)},
    "duration": DURATION,
    "restore_duration": DURATION,
    "selector": {**K8S_LABELS, "empty": False},  # the Velero Schedule's scope within the namespaces
}

METRICS = {
    "port": text(required=True, check_with="port_name"),
    "path": {"type": "string", "regex": r"/\S*"},
    "interval": {"check_with": "scrape_interval"},
    "scheme": {"type": "string", "allowed": ["http", "https"]},
}

SERVICE_FIELDS = {
    "namespace": text(required=True, check_with="dns1123_label"),
    "tier": text(required=True),
    "team": text(required=True, check_with="label_value"),
    "job": text(check_with="label_value"),
    "runbook_url": text(check_with="runbook_url"),  # required unless the environment has runbook_base
    "selector": {**K8S_LABELS, "required": True, "empty": False},
    "metrics": {"type": "dict", "required": True, "schema": METRICS},
    "slos": {
        "type": "dict",
        "keysrules": {"type": "string", "check_with": "dns1123_label"},
        "valuesrules": {"type": "dict", "schema": SLO},
    },
}

# Fields a `defaults:` section may set for every service.
DEFAULTABLE_FIELDS = ("namespace", "tier", "team", "runbook_url", "metrics")
DEFAULTS = {name: SERVICE_FIELDS[name] for name in DEFAULTABLE_FIELDS}

TIER = {
    "rto": {"check_with": "rto"},
    "rpo": {"check_with": "rpo"},
    "scrape_interval": {"check_with": "scrape_interval"},
    "scrape_timeout": DURATION,
    "slo_objective": {"check_with": "objective"},
    "pages": {"type": "boolean"},
    "restore_drill_interval": {"check_with": "drill_interval"},
    "retention": DURATION,
    "platform_alert_for": {"check_with": "platform_alert_for"},
}
assert set(TIER_FIELDS) <= set(TIER)


def nullable(fields: dict[str, Any]) -> dict[str, Any]:
    """The same field rules with null allowed at every level: what an override may say. Value
    rules (check_with) are left to the check of the merged service, which reports at the
    override's line: cerberus would run them on a null too."""
    result = {}
    for name, field_rules in fields.items():
        rules = {key: value for key, value in field_rules.items() if key != "check_with"} | {"nullable": True}
        if rules.get("type") == "dict" and "schema" in rules:
            rules["schema"] = nullable(rules["schema"])
        if isinstance(rules.get("valuesrules"), dict) and "schema" in rules["valuesrules"]:
            inner = rules["valuesrules"]
            rules["valuesrules"] = {**inner, "nullable": True, "schema": nullable(inner["schema"])}
        result[name] = rules
    return result


SECRET = {"check_with": "secret_ref", "required": True}
# Alertmanager integrations: what each needs, secrets only as references to a Secret's key.
INTEGRATIONS = {
    "pagerduty": {"routing_key": SECRET},
    "slack": {"api_url": SECRET, "channel": text(required=True, check_with="slack_channel")},
    # exactly one of the two (checks.py): a URL with no credential, or a Secret's key holding the URL
    "webhook": {"url": text(check_with="http_url"), "url_secret": {**SECRET, "required": False}},
    "email": {
        "to": text(required=True, check_with="email"),
        "from": text(required=True, check_with="email"),
        "smarthost": text(required=True, check_with="smarthost"),
        "auth_username": text(),
        "auth_password": {**SECRET, "required": False},
    },
    "opsgenie": {"api_key": SECRET, "api_url": text(check_with="http_url")},
}
RECEIVER = {name: {"type": "dict", "schema": fields} for name, fields in INTEGRATIONS.items()}
ROUTES = {name: text() for name in SEVERITY_ROUTES}  # receiver names by severity: critical, warning, info
ALERTING = {
    "receivers": {
        "type": "dict",
        "required": True,
        "empty": False,
        "keysrules": {"type": "string", "check_with": "dns1123_label"},
        "valuesrules": {"type": "dict", "schema": RECEIVER},
    },
    **ROUTES,
    "page": text(required=True),
    "ticket": text(required=True),
    "alertmanager_namespace": text(check_with="dns1123_label"),  # where the AlertmanagerConfig goes
}

ENVIRONMENT_FIELDS = {
    "labels": {**PROM_LABELS, "valuesrules": {"type": "string", "check_with": "dashboard_label_value"}},
    "selector_labels": K8S_LABELS,
    "velero": {
        "type": "dict",
        "schema": {
            "namespace": text(required=True, check_with="dns1123_label"),
            "storage_location": text(required=True, check_with="dns1123_subdomain"),
            "concurrent_backups": {"type": "integer", "min": 1, "max": 100},
        },
    },
    "pushgateway": text(check_with="http_url"),
    "grafana_namespace": text(check_with="dns1123_label"),  # where the dashboard ConfigMaps go
    "grafana_url": text(check_with="http_url"),  # for the alerts' dashboard links
    "runbook_base": text(check_with="http_url"),  # where the tree's runbooks/ is served
    "alerting": {"type": "dict", "schema": ALERTING},
}

FILE_FIELDS = {
    "apiVersion": {"required": True, "type": "string", "allowed": [API_VERSION]},
    # alert catalog files or directories of them, relative to the spec file that names them
    "alert_catalogs": {"type": "list", "schema": {"type": "string", "empty": False}},
    "defaults": {"type": "dict", "schema": DEFAULTS},
    "tiers": {
        "type": "dict",
        "keysrules": {"type": "string", "check_with": "tier_name"},
        "valuesrules": {"type": "dict", "schema": TIER},
    },
    "teams": {  # a team's own receivers, by name, over the environment's
        "type": "dict",
        "keysrules": {"type": "string", "empty": False, "check_with": "label_value"},
        "valuesrules": {"type": "dict", "schema": ROUTES},
    },
}


def _named(schema: dict[str, Any], nullable_values: bool = False) -> dict[str, Any]:
    """A mapping of DNS-label names to documents of `schema`."""
    values = {"type": "dict", "schema": schema} | ({"nullable": True} if nullable_values else {})
    return {"type": "dict", "keysrules": {"type": "string", "check_with": "dns1123_label"}, "valuesrules": values}


@dataclass(frozen=True, eq=False)
class Shape:
    """The spec's schemas with the datastore engines' fragments in them."""

    datastore: dict[str, Any]
    service: dict[str, Any]
    environment: dict[str, Any]  # without `services`: the overrides are checked as merged services
    file: dict[str, Any]
    kinds: Kinds


def _union(kinds: Kinds, fields_of: Callable[[DatastoreKind], Mapping[str, Any]], what: str) -> dict[str, Any]:
    """The fields of every engine; engines that share a field or a section declare it alike."""
    result: dict[str, Any] = {}
    for kind in kinds:
        for name, rules in fields_of(kind).items():
            if result.setdefault(name, rules) != rules:
                raise ValueError(f"engines declare {what} {name!r} differently")
    return result


def _optional(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: {key: value for key, value in rules.items() if key != "required"} for name, rules in fields.items()}


@lru_cache(maxsize=8)
def shape(kinds: Kinds) -> Shape:
    # An engine's required fields are required of its own datastores only: check_datastore says so.
    datastore = {
        **_union(kinds, lambda kind: _optional(kind.fields), "the datastore field"),
        **DATASTORE_COMMON,
        "engine": {**DATASTORE_COMMON["engine"], "allowed": sorted({kind.engine for kind in kinds})},
        "method": {**DATASTORE_COMMON["method"], "allowed": sorted({kind.method for kind in kinds})},
    }
    backup = {**BACKUP_FIELDS, "datastores": _named(datastore)}
    service = {**SERVICE_FIELDS, "backup": {"type": "dict", "schema": backup}}
    sections = _union(
        kinds, lambda kind: {kind.section: {"type": "dict", "schema": kind.section_fields}}, "the environment section"
    )
    environment = {**ENVIRONMENT_FIELDS, **sections}
    # an override: any field of a service, or null to remove a field, an entry or the service
    overrides = _named(nullable(service), nullable_values=True)
    file = {
        **FILE_FIELDS,
        "environments": _named({**environment, "services": overrides}),
        "services": _named(service),
    }
    return Shape(datastore, service, environment, file, kinds)


_TYPE_CODES = (cerberus.errors.BAD_TYPE.code, cerberus.errors.NOT_NULLABLE.code)


def did_you_mean(given: object, known: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest known name, or nothing when none is close."""
    close = difflib.get_close_matches(str(given), list(known), n=1, cutoff=0.6)
    return f"; did you mean {shown(close[0])}?" if close else ""


def _fields_at(schema: dict[str, Any], path: FieldPath) -> list[str]:
    """The fields the schema allows in the mapping at `path` (names of map entries skipped)."""
    fields: dict[str, Any] | None = schema
    rules: dict[str, Any] | None = None
    for key in path:
        if rules is not None and "valuesrules" in rules:  # `key` names an entry of a map
            fields, rules = rules["valuesrules"].get("schema"), None
            continue
        rules = fields.get(str(key)) if fields else None
        if rules is None:
            return []
        fields = rules.get("schema") if rules.get("type") == "dict" else None
    if rules is not None and "valuesrules" in rules:
        return []
    return sorted(fields or ())


def _describe(error: cerberus.errors.ValidationError, schema: dict[str, Any]) -> str:
    """A human message for one leaf cerberus error, quoting the value."""
    value = error.value
    code = error.code
    if code == cerberus.errors.UNKNOWN_FIELD.code:
        name = error.document_path[-1]
        return f"unknown field {shown(name)}" + did_you_mean(name, _fields_at(schema, tuple(error.document_path[:-1])))
    if code == cerberus.errors.REQUIRED_FIELD.code:
        return "required field is missing"
    if code == cerberus.errors.NOT_NULLABLE.code:
        return "must have a value, got null"
    if code == cerberus.errors.BAD_TYPE.code:
        wanted = error.constraint if isinstance(error.constraint, str) else " or ".join(error.constraint)
        article = {
            "dict": "a mapping",
            "list": "a list",
            "string": "a string",
            "boolean": "true or false",
            "integer": "a whole number",
            "number": "a number",
        }
        wanted_text = " or ".join(article.get(part, part) for part in wanted.split(" or "))
        return f"must be {wanted_text}, got {got(value, text_wanted='string' in wanted)}"
    if code == cerberus.errors.UNALLOWED_VALUE.code:
        choices = list(map(str, error.constraint))
        hint = did_you_mean(value, choices) if len(choices) > 1 else ""
        return f"{shown(value)} is not allowed; choose one of: {', '.join(choices)}{hint}"
    if code == cerberus.errors.EMPTY_NOT_ALLOWED.code:
        return "must not be empty"
    if code == cerberus.errors.REGEX_MISMATCH.code:
        return f"{shown(value)} does not match the pattern {error.constraint}"
    if code == cerberus.errors.CUSTOM.code:
        return str(error.info[0]) if error.info else "invalid value"
    message: str = cerberus.errors.BasicErrorHandler.messages.get(code, "invalid")
    # formatted before the value is put in front: a shown mapping holds braces
    return f"{shown(value)}: " + message.format(constraint=error.constraint, field=error.field, value=shown(value))


def _leaf_errors(errors: list[Any]) -> Iterator[cerberus.errors.ValidationError]:
    for error in errors:
        if error.is_group_error:
            yield from _leaf_errors(error.child_errors)
        else:
            yield error


_validators: dict[int, SpecValidator] = {}


def _validator(key: int, schema: dict[str, Any]) -> SpecValidator:
    # Building a validator checks the schema itself, which is slow; the schemas here are constants.
    if key not in _validators:
        _validators[key] = SpecValidator(schema)
    return _validators[key]


# The fast path. cerberus spends its time building a child validator per nested value and
# recording errors, yet almost every document it sees is valid. `_value_accepts` and
# `_mapping_accepts` compile a schema into plain predicates that say only whether a document
# is valid; cerberus runs only when they refuse, to name the problems. A predicate may
# refuse a document cerberus would accept (that costs time, nothing else) but must never
# accept one cerberus would refuse. They call the check_with rules in cerberus' order and
# stop at the first failure, so a rule that raises does so at the same point as in cerberus.

Accepts = Callable[[Any], bool]
_COMPILED_RULES = frozenset(
    {
        "type",
        "empty",
        "required",
        "nullable",
        "allowed",
        "regex",
        "min",
        "max",
        "check_with",
        "schema",
        "keysrules",
        "valuesrules",
    }
)


class _Verdict:
    """Stands in for the validator while a check_with rule runs, noting whether it reported an error."""

    def __init__(self) -> None:
        self.refused = False

    def _error(self, *_: Any) -> None:
        self.refused = True


def _check_with_verdict(name: str, value: Any) -> bool:
    verdict = _Verdict()
    getattr(SpecValidator, f"_check_with_{name}")(verdict, name, value)
    return not verdict.refused


# A check_with rule depends on the value alone, and a spec repeats many strings (units, names, selectors,
# each seen again when the services are resolved); only strings are remembered, as 1 == 1.0 == True.
_string_verdict = lru_cache(maxsize=1 << 18)(_check_with_verdict)


def _check_with_accepts(name: str) -> Accepts:
    return lambda value: (_string_verdict if type(value) is str else _check_with_verdict)(name, value)


def _type_accepts(data_type: str | list[str]) -> Accepts:
    names = [data_type] if isinstance(data_type, str) else data_type
    definitions = [SpecValidator.types_mapping[name] for name in names]
    if len(definitions) == 1 and not definitions[0].excluded_types:
        included = definitions[0].included_types
        return lambda value: isinstance(value, included)
    return lambda value: any(
        isinstance(value, d.included_types) and not isinstance(value, d.excluded_types) for d in definitions
    )


def _empty_accepts(empty: bool) -> Accepts:
    # cerberus skips some later rules for an empty value when `empty` is true; only false is compiled.
    if empty is not False:
        raise NotImplementedError("the fast path compiles only 'empty: False'")
    return lambda value: not (isinstance(value, Sized) and len(value) == 0)


def _allowed_accepts(allowed: list[Any]) -> Accepts:
    def accepts(value: Any) -> bool:
        if isinstance(value, Iterable) and not isinstance(value, str):
            return all(item in allowed for item in value)
        return value in allowed

    return accepts


def _regex_accepts(pattern: str) -> Accepts:
    compiled = re.compile(pattern if pattern.endswith("$") else pattern + "$")
    return lambda value: not isinstance(value, str) or compiled.match(value) is not None


def _bound_accepts(bound: Any, out_of_range: Callable[[Any, Any], bool]) -> Accepts:
    def accepts(value: Any) -> bool:
        try:
            return not out_of_range(value, bound)
        except TypeError:  # cerberus ignores values that cannot be compared
            return True

    return accepts


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _schema_accepts(rules: Mapping[str, Any], partial: bool) -> Accepts:
    # cerberus reads `schema` as item rules for a list and as field rules for a mapping.
    if rules.get("type") == "list":
        item = _value_accepts(rules["schema"], partial)
        return lambda value: not isinstance(value, Mapping) and (not _is_list(value) or all(map(item, value)))
    if rules.get("type") == "dict":
        fields = _mapping_accepts(rules["schema"], partial)
        return lambda value: not _is_list(value) and (not isinstance(value, Mapping) or fields(value))
    raise NotImplementedError("the fast path compiles 'schema' only beside 'type: dict' or 'type: list'")


def _keysrules_accepts(rules: Mapping[str, Any]) -> Accepts:
    key = _value_accepts(rules, partial=False)  # cerberus checks keys as a whole document
    return lambda value: not isinstance(value, Mapping) or all(map(key, value))


def _valuesrules_accepts(rules: Mapping[str, Any], partial: bool) -> Accepts:
    item = _value_accepts(rules, partial)
    return lambda value: not isinstance(value, Mapping) or all(map(item, value.values()))


def _rule_accepts(rule: str, rules: Mapping[str, Any], partial: bool) -> Accepts:
    constraint = rules[rule]
    if rule == "type":
        return _type_accepts(constraint)
    if rule == "empty":
        return _empty_accepts(constraint)
    if rule == "allowed":
        return _allowed_accepts(constraint)
    if rule == "regex":
        return _regex_accepts(constraint)
    if rule == "min":
        return _bound_accepts(constraint, lambda value, bound: value < bound)
    if rule == "max":
        return _bound_accepts(constraint, lambda value, bound: value > bound)
    if rule == "check_with":
        return _check_with_accepts(constraint)
    if rule == "schema":
        return _schema_accepts(rules, partial)
    if rule == "keysrules":
        return _keysrules_accepts(constraint)
    return _valuesrules_accepts(constraint, partial)


def _value_accepts(rules: Mapping[str, Any], partial: bool) -> Accepts:
    unknown = set(rules) - _COMPILED_RULES
    if unknown:
        raise NotImplementedError(f"the fast path does not compile the rules {sorted(unknown)}")
    # cerberus' order: nullable (false unless given), type and empty first, then the rest as written.
    order = [rule for rule in ("type", "empty") if rule in rules]
    order += [rule for rule in rules if rule not in ("type", "empty", "required", "nullable")]
    steps = [_rule_accepts(rule, rules, partial) for rule in order]
    if rules.get("nullable") is True:
        return lambda value: value is None or all(step(value) for step in steps)
    return lambda value: value is not None and all(step(value) for step in steps)


def _mapping_accepts(fields: Mapping[str, Any], partial: bool) -> Accepts:
    per_field = {name: _value_accepts(rules, partial) for name, rules in fields.items()}
    required = frozenset(name for name, rules in fields.items() if rules.get("required") is True)

    def accepts(document: Mapping[Any, Any]) -> bool:
        for key, value in document.items():
            field_accepts = per_field.get(key)
            if field_accepts is None or not field_accepts(value):
                return False
        return partial or required <= document.keys()

    return accepts


_accepting: dict[tuple[int, bool], Accepts] = {}


def _accepts(key: int, schema: dict[str, Any], partial: bool) -> Accepts:
    # Compiled from the schema as written, which cerberus reads unchanged (a test makes sure), so
    # that a valid spec never pays for building the cerberus validator, which checks the schema.
    if (key, partial) not in _accepting:
        _accepting[key, partial] = _mapping_accepts(schema, partial)
    return _accepting[key, partial]


def validate(data: Any, schema: dict[str, Any], partial: bool = False) -> list[tuple[FieldPath, str]]:
    """(field path, message) for every problem; `partial` skips required-field checks."""
    if isinstance(data, Mapping) and _accepts(id(schema), schema, partial)(data):
        return []
    validator = _validator(id(schema), schema)
    # No normalization: obskit applies defaults itself, and cerberus' normalization pass
    # costs more than validation does.
    if validator.validate(data, update=partial, normalize=False):
        return []
    leaves = list(_leaf_errors(validator._errors))
    # A value of the wrong type also fails its check_with rule; the type message says it better.
    mistyped = {tuple(e.document_path) for e in leaves if e.code in _TYPE_CODES}
    return [
        (tuple(error.document_path), _describe(error, schema))
        for error in leaves
        if not (error.code == cerberus.errors.CUSTOM.code and tuple(error.document_path) in mistyped)
    ]
