"""The spec's value rules (units, names, PromQL, URLs, secrets), as the cerberus validator that
every schema runs: a field's rules name one as `check_with: <name>`."""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import cerberus

from obskit import units
from obskit.output import escape
from obskit.shown import got, shown
from obskit.spec import am_routes, names, promql, re2, urls

RUNBOOK_PLACEHOLDERS = ("service", "alert")


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
_PROBE_INTERVAL = _bounded_duration(
    "1s", "5m", "a region found unhealthy only after longer probes leaves no failover within an RTO"
)
_HEARTBEAT_INTERVAL = _bounded_duration(
    "30s", "1h", "a dead man's switch waits about this long before it raises the alarm"
)


def _dns_target(value: Any) -> None:
    """An A or AAAA record's address, or a CNAME's host name."""
    text = _require_text(value)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        problem = names.dns1123_subdomain_problem(text.rstrip("."))
        if problem:
            raise ValueError(f"{shown(value)} is neither an IP address nor a host name: {problem}") from None


def _host_port(value: Any) -> None:
    if not urls.HOST_PORT.fullmatch(_require_text(value)):
        raise ValueError(f"{shown(value)} must be host:port, e.g. ns1.example.com:53")


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


def _relabel_regex(value: Any) -> None:
    re2.check(_require_text(value))


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
    _check_with_step_name = _name_rule(names.step_name_problem)
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
    _check_with_probe_interval = _parse_rule(_PROBE_INTERVAL)
    _check_with_heartbeat_interval = _parse_rule(_HEARTBEAT_INTERVAL)
    _check_with_dns_target = _parse_rule(_dns_target)
    _check_with_host_port = _parse_rule(_host_port)
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
    _check_with_relabel_regex = _parse_rule(_relabel_regex)
    _check_with_relabel_label = _name_rule(names.relabel_label_problem)

    _check_with_quantity = _parse_rule(units.parse_quantity)

    def _check_with_requests_within_limits(self, field: str, value: Any) -> None:
        if not isinstance(value, dict):
            return
        requests, limits = value.get("requests"), value.get("limits")
        if not isinstance(requests, dict) or not isinstance(limits, dict):
            return
        for name in sorted(set(requests) & set(limits)):
            try:
                over = units.parse_quantity(requests[name]) > units.parse_quantity(limits[name])
            except ValueError:
                continue  # the value's own rule says what is wrong
            if over:
                self._error(
                    field, f"the {name} request {shown(requests[name])} is above its limit {shown(limits[name])}"
                )

    def _check_with_rule_target(self, field: str, value: Any) -> None:
        if not isinstance(value, dict):
            return
        target = value.get("target", "prometheus")
        for setting, needs in (("tenant", "mimir"), ("partial_response_strategy", "thanos")):
            if setting in value and target != needs:
                self._error(field, f"{setting} is for target {needs}, not {shown(target)}")

    def _check_with_alertmanager_route(self, field: str, value: Any) -> None:
        for problem in am_routes.route_problems(value):
            self._error(field, problem)

    def _check_with_k8s_label_value(self, field: str, value: Any) -> None:
        problem = names.k8s_label_value_problem(value)
        if problem:
            self._error(field, problem)
