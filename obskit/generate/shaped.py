"""Rendering services alike up to their names once.

A fleet's services mostly share a few shapes: the same tier, SLO kinds and datastores,
differing in their names (service, namespace, team, job) and in the staggered minutes of
their schedules. Two services have the same shape when their plans are equal once those
names are replaced by placeholders, and what generators look up by a name outside the plan
(the Alertmanager receivers of the team) is equal too. A shape is rendered once, from its
plan with placeholders (as long as the longest of its services' names, so that no name its
services derive is shortened unless one of theirs would be), and each service's files are
that text with its own names put in. Before a shape's template is used it must reproduce,
name for name, the files of two of its services rendered directly (those with the shortest
and the longest names): a generator that treated placeholders unlike names (quoting,
escaping, shortening, padding, reading a name's parts) fails that check and the shape's
services are rendered one by one, as are services whose names YAML could read as something
other than text. tests/test_shaped.py holds the tree byte-identical to rendering every
service directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from obskit.generate.artifact import File
from obskit.generate.outputs import Scope, of_scope
from obskit.output.renaming import PLACEHOLDER, ROLES, canonical, placeholders, renamer
from obskit.plan.routing import SEVERITIES
from obskit.plan.types import Plan, ServicePlan

ServiceFiles = Callable[[ServicePlan], list[File]]


def render_directly(plan: Plan, service_plan: ServicePlan) -> list[File]:
    """Every file the output table writes for one service and its datastores."""
    produced = [file for output in of_scope(Scope.SERVICE) for file in output(plan, service_plan)]
    for datastore_plan in service_plan.datastores:
        produced += [
            file for output in of_scope(Scope.DATASTORE) for file in output(plan, service_plan, datastore_plan)
        ]
    return produced


def names(service_plan: ServicePlan) -> list[str]:
    """What differs between services of one shape, in a fixed order of roles."""
    service = service_plan.service
    found = [service.name, service.namespace, service.team or "", service.job]
    if service_plan.velero is not None:
        found += [schedule.cron for schedule in service_plan.velero.schedules]
    for datastore_plan in service_plan.datastores:
        found += datastore_plan.schedules
    return found


def _renamed(value: Any, rename: Callable[[str], str]) -> Any:
    """The value with every string in it renamed, dataclasses rebuilt field by field."""
    if isinstance(value, str):
        return rename(value)
    if isinstance(value, tuple):
        return tuple(_renamed(item, rename) for item in value)
    if isinstance(value, list):
        return [_renamed(item, rename) for item in value]
    if isinstance(value, dict):
        return {_renamed(key, rename): _renamed(item, rename) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _renamed(getattr(value, f.name), rename) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **fields)
    return value


@dataclass(frozen=True)
class _Text:
    """A text cut at its placeholders: the literal pieces, and between each two the role of the name that goes there."""

    pieces: tuple[str, ...]
    roles: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> _Text:
        cut = PLACEHOLDER.split(text)  # literal pieces, and between them each placeholder's role letter
        return cls(tuple(cut[::2]), tuple(ROLES.index(letter) for letter in cut[1::2]))

    def fill(self, found: list[str]) -> str:
        if not self.roles:
            return self.pieces[0]
        joined = [""] * (2 * len(self.pieces) - 1)
        joined[::2] = self.pieces
        joined[1::2] = [found[role] for role in self.roles]
        return "".join(joined)


@dataclass(frozen=True)
class _Template:
    """A shape's files with placeholders, each path and content cut at its placeholders."""

    files: tuple[tuple[_Text, _Text, bool, str], ...]

    @classmethod
    def of(cls, produced: Iterable[File]) -> _Template:
        return cls(
            tuple((_Text.of(file.path), _Text.of(file.content), file.kubernetes, file.cluster) for file in produced)
        )

    def fill(self, found: list[str]) -> list[File]:
        return [
            File(path.fill(found), content.fill(found), kubernetes, cluster)
            for path, content, kubernetes, cluster in self.files
        ]


class ShapedRenderer:
    """Renders each service of a plan, through its shape's template when it shares one."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._names: dict[str, list[str]] = {}
        self._shape: dict[str, str] = {}
        members: dict[str, list[ServicePlan]] = {}
        for service_plan in plan.services:
            found = self._names[service_plan.name] = names(service_plan)
            text = canonical(repr(service_plan), found)
            if text is None or self._scoped_in(service_plan):
                continue
            # what generators look up by a name outside the service's plan joins the key as it is
            key = text + "\0" + repr(self._receivers(service_plan))
            self._shape[service_plan.name] = key
            members.setdefault(key, []).append(service_plan)
        self._members = {key: plans for key, plans in members.items() if len(plans) > 1}
        self._templates: dict[str, _Template | None] = {}

    @property
    def rendered_directly(self) -> int:
        """How many services no shape covers (at most: a shape whose template fails adds its own)."""
        return len(self.plan.services) - sum(len(plans) for plans in self._members.values())

    def render(self, service_plan: ServicePlan) -> list[File]:
        key = self._shape.get(service_plan.name)
        if key not in self._members:
            return render_directly(self.plan, service_plan)
        if key not in self._templates:
            self._templates[key] = self._template(self._members[key])
        template = self._templates[key]
        if template is None:
            return render_directly(self.plan, service_plan)
        return template.fill(self._names[service_plan.name])

    def _scoped_in(self, service_plan: ServicePlan) -> bool:
        """Whether a catalog template scoped by name takes the service in: its placeholders would not be."""
        service = service_plan.service
        return any(t.scoped and t.in_scope(service.name, service.team) for t in self.plan.alert_templates)

    def _receivers(self, service_plan: ServicePlan) -> tuple[str, ...]:
        """The Alertmanager receivers the service's team reaches (its runbooks name them)."""
        routing, team = self.plan.routing, service_plan.service.team
        return tuple(routing.receiver(team, severity) for _, severity in SEVERITIES) if routing and team else ()

    def _with_team_routes(self, placeholder_team: str, team: str | None) -> Plan:
        """The plan, with the placeholder team routed as the shape's team is."""
        routing = self.plan.routing
        if routing is None or not team:
            return self.plan
        own = tuple(dataclasses.replace(route, team=placeholder_team) for route in routing.routes if route.team == team)
        return dataclasses.replace(self.plan, routing=dataclasses.replace(routing, routes=own + routing.routes))

    def _template(self, members: list[ServicePlan]) -> _Template | None:
        roles = range(len(self._names[members[0].name]))
        lengths = [max(len(self._names[member.name][role]) for member in members) for role in roles]
        if any(0 < length < 3 for length in lengths):
            return None
        # the services with the shortest and the longest names stand witness for the others
        by_length = sorted(members, key=lambda member: (sum(map(len, self._names[member.name])), member.name))
        witness = by_length[0]
        renamed = _renamed(witness, renamer(placeholders(self._names[witness.name], lengths)))
        plan = self._with_team_routes(renamed.service.team or "", witness.service.team)
        try:
            template = _Template.of(render_directly(plan, renamed))
        except (ValueError, KeyError, TypeError):  # a generator that parses what a placeholder stands for
            return None
        for member in {witness.name: witness, by_length[-1].name: by_length[-1]}.values():
            if template.fill(self._names[member.name]) != render_directly(self.plan, member):
                return None
        return template
