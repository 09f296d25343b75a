"""Name rules of Kubernetes and Prometheus, as predicates with an explanation."""

from __future__ import annotations

import re

from obskit.shown import shown

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_K8S_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
PROM_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
TIER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def dns1123_label_problem(name: str) -> str | None:
    if len(name) > 63:
        return f"{shown(name)} is {len(name)} characters; at most 63 are allowed"
    if not DNS1123_LABEL.match(name):
        return (
            f"{shown(name)} is not a DNS-1123 label "
            "(lowercase letters, digits and '-', starting and ending alphanumeric)"
        )
    return None


def dns1123_subdomain_problem(name: str) -> str | None:
    if len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        return f"{shown(name)} is not a DNS-1123 subdomain (lowercase dot-separated labels, at most 253 characters)"
    return None


def k8s_label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and dns1123_subdomain_problem(prefix):
        return f"label key {shown(key)}: the prefix {shown(prefix)} is not a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _K8S_LABEL_NAME.match(name):
        return (
            f"label key {shown(key)} is not a Kubernetes label name "
            "(at most 63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric, optionally 'prefix/')"
        )
    return None


def k8s_label_value_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"label value {shown(value)} must be a string (quote it in YAML)"
    if value and (len(value) > 63 or not _K8S_LABEL_NAME.match(value)):
        return (
            f"label value {shown(value)} is not a Kubernetes label value "
            "(at most 63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric)"
        )
    return None


def prom_label_name_problem(name: str) -> str | None:
    if not PROM_LABEL_NAME.match(name):
        return f"{shown(name)} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
    if name.startswith("__"):
        return f"{shown(name)}: label names starting with '__' are reserved for Prometheus"
    return None


def relabel_label_problem(name: str) -> str | None:
    """A label a relabeling reads or writes: Prometheus' own `__` labels are allowed there."""
    if not PROM_LABEL_NAME.match(name):
        return f"{shown(name)} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
    return None


def port_name_problem(name: str) -> str | None:
    if len(name) > 15 or not _IANA_SVC_NAME.match(name) or not re.search("[a-z]", name) or "--" in name:
        return (
            f"{shown(name)} is not a Service port name (at most 15 lowercase letters, digits and single '-', "
            "with at least one letter); ServiceMonitors select ports by name"
        )
    return None


# What Slack's API takes as a channel: #name, @user, or a channel or user ID.
SLACK_CHANNEL = re.compile(r"^[#@]?[a-zA-Z0-9][a-zA-Z0-9._-]{0,79}$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#%&'*+/=?^_~-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_NAMED_EMAIL = re.compile(r"^([^<>\"\\,;:{}@]+?) *<([^<>]+)>$")  # Display Name <address>


def slack_channel_problem(channel: str) -> str | None:
    if not SLACK_CHANNEL.match(channel):
        return f"{shown(channel)} is not a Slack channel (#name, @user or a channel ID such as C0123ABCD)"
    return None


def email_problem(text: str) -> str | None:
    """An address list as Alertmanager reads `to` and `from`: `a@example.com` or `Name <a@example.com>`,
    comma-separated; no quotes or braces (Alertmanager expands them as a template)."""
    for part in text.split(","):
        part = part.strip()
        named = _NAMED_EMAIL.match(part)
        address = named.group(2) if named else part
        if not _EMAIL.match(address) or (named and not named.group(1).isprintable()):
            return f"{shown(text)}: {shown(part)} is not an email address (a@example.com or Name <a@example.com>)"
    return None


def step_name_problem(name: str) -> str | None:
    if len(name) > 40 or not TIER_NAME.match(name):
        return f"{shown(name)} is not a step name (lowercase letters, digits and '_', starting with a letter)"
    return None


def tier_name_problem(name: str) -> str | None:
    if len(name) > 63 or not TIER_NAME.match(name):
        return f"{shown(name)} is not a tier name (lowercase letters, digits and '_', starting with a letter)"
    return None
