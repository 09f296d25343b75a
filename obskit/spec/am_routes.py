"""Alertmanager routes a spec writes as they are (`alerting.extra_routes`): the keys obskit passes
on, the matchers it can read (each one label, operator and value), and the same route spelled as an
AlertmanagerConfig's (camel case, matchers as objects). Alertmanager itself checks the rest
(amtool check-config in `obskit test`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from obskit.shown import shown

NULL_RECEIVER = "null"  # the receiver without integrations that obskit's configuration drops alerts with

# A route's keys in Alertmanager's configuration and in an AlertmanagerConfig. Time intervals are
# left out: obskit's configuration defines none for a route to name.
KEYS = {
    "receiver": "receiver",
    "matchers": "matchers",
    "match": "matchers",
    "match_re": "matchers",
    "continue": "continue",
    "group_by": "groupBy",
    "group_wait": "groupWait",
    "group_interval": "groupInterval",
    "repeat_interval": "repeatInterval",
    "routes": "routes",
}
_MATCHER = re.compile(
    r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"{},=~!]*?))\s*$', re.DOTALL
)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


def parse_matcher(text: str) -> tuple[str, str, str]:
    """(label, operator, value) of one matcher as Alertmanager reads it: `severity="critical"`,
    `namespace=~"kube-.*"` or an unquoted value."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(
            f"matcher {shown(text)} is not one label, operator (=, !=, =~, !~) and value, such as "
            "'severity=\"critical\"'"
        )
    label, op, quoted, bare = found.groups()
    if quoted is None:
        return label, op, bare
    return label, op, _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), quoted)


def route_problems(route: Any, path: str = "") -> Iterator[str]:
    """What obskit cannot pass on in a route as written: not a mapping, an unknown key, a matcher it
    cannot read, a value of the wrong type; nested routes are checked too."""

    def at(key: str) -> str:
        return f"{path}.{key}" if path else key

    if not isinstance(route, dict):
        example = "{matchers: ['severity=\"warning\"'], receiver: tickets}"
        yield f"{path + ': ' if path else ''}a route is a mapping, such as {example}"
        return
    for key in route:
        if key not in KEYS:
            yield f"{shown(key)}{' in ' + path if path else ''} is not a route key obskit passes on ({', '.join(KEYS)})"
    for key in ("receiver", "group_wait", "group_interval", "repeat_interval"):
        if key in route and not isinstance(route[key], str):
            yield f"{at(key)}: must be a string"
    if "continue" in route and not isinstance(route["continue"], bool):
        yield f"{at('continue')}: must be true or false"
    if "group_by" in route and not _strings(route["group_by"]):
        yield f"{at('group_by')}: must be a list of label names"
    for key in ("match", "match_re"):
        if key in route and not (isinstance(route[key], dict) and _strings([*route[key], *route[key].values()])):
            yield f"{at(key)}: must map label names to strings"
    matchers = route.get("matchers", [])
    if not _strings(matchers):
        yield f"{at('matchers')}: must be a list of strings"
    else:
        for matcher in matchers:
            try:
                parse_matcher(matcher)
            except ValueError as err:
                yield f"{at('matchers')}: {err}"
    children = route.get("routes", [])
    if not isinstance(children, list):
        yield f"{at('routes')}: must be a list of routes"
        return
    for index, child in enumerate(children):
        yield from route_problems(child, f"{at('routes')}[{index}]")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def receivers(route: dict[str, Any]) -> Iterator[str]:
    """Every receiver a checked route and its children name."""
    if "receiver" in route:
        yield route["receiver"]
    for child in route.get("routes", []):
        yield from receivers(child)


def matchers(route: dict[str, Any]) -> list[tuple[str, str, str]]:
    """A checked route's matchers, its `match` and `match_re` included, as (label, operator, value)."""
    found = [parse_matcher(text) for text in route.get("matchers", [])]
    found += [(label, "=", value) for label, value in route.get("match", {}).items()]
    found += [(label, "=~", value) for label, value in route.get("match_re", {}).items()]
    return found


def matches(matcher: tuple[str, str, str], labels: dict[str, str]) -> bool:
    """Whether labels satisfy a matcher (a regular expression matches the whole value, as in Alertmanager)."""
    label, op, value = matcher
    have = labels.get(label, "")
    if op in ("=", "!="):
        return (have == value) == (op == "=")
    try:
        found = re.fullmatch(value, have) is not None
    except re.error:
        return False
    return found == (op == "=~")


def as_resource_route(route: dict[str, Any]) -> dict[str, Any]:
    """A checked route as an AlertmanagerConfig spells it."""
    result: dict[str, Any] = {}
    for key, value in route.items():
        if key in ("matchers", "match", "match_re"):
            continue
        if key == "routes":
            result["routes"] = [as_resource_route(child) for child in value]
        else:
            result[KEYS[key]] = value
    found = matchers(route)
    if found:
        result["matchers"] = [{"name": label, "matchType": op, "value": value} for label, op, value in found]
    return result
