"""The failover rules that relate fields to each other: a service's steps among themselves (on its
data, reported at the layer that wrote them), and what a service's failover needs of its
environment (on the typed model, once both passed their own checks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from obskit.shown import shown
from obskit.spec.failover import DETECT, KNOWN_STEPS, PROMOTE, SCALE, UPDATE_DNS, EnvironmentFailover
from obskit.spec.fragment import Kinds
from obskit.spec.model import Service
from obskit.spec.problems import FieldPath

Finding = tuple[FieldPath, str]
JOB_STEPS = (PROMOTE, UPDATE_DNS, SCALE)  # the automated steps obskit writes a Job for


def check_dns(failover: Any) -> Iterator[Finding]:
    """The environment's `failover.dns`: exactly one way to update the record."""
    dns = failover.get("dns") if isinstance(failover, dict) else None
    if isinstance(dns, dict) and len(dns) != 1:
        yield ("dns",), f"give exactly one of rfc2136 and external_dns; found {', '.join(sorted(dns)) or 'none'}"


def check_steps(failover: Any) -> Iterator[Finding]:
    """A service's `failover` on its own: its steps' order, names and fields."""
    steps = failover.get("steps") if isinstance(failover, dict) else None
    if not isinstance(steps, list):
        return
    names = [step.get("name") if isinstance(step, dict) else None for step in steps]
    if names and names[0] != DETECT:
        yield ("steps", 0, "name"), f"the first step must be {shown(DETECT)} (obskit's alert), got {shown(names[0])}"
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        name = step.get("name")
        at: FieldPath = ("steps", index)
        if names.index(name) != index:
            yield (*at, "name"), f"step {shown(name)} is named twice"
        if name not in KNOWN_STEPS and step.get("automated", True):
            yield (
                (*at, "automated"),
                f"{shown(name)} is a step of your own, which obskit cannot run: set `automated: false` and its "
                f"measured `duration` (obskit runs {', '.join(JOB_STEPS)})",
            )
        if step.get("automated", True) is False and "duration" not in step:
            yield (*at, "duration"), "required field is missing: a step done by hand needs its measured duration"
        if name == DETECT and step.get("automated", True) is False:
            yield (*at, "automated"), "detection is obskit's alert on the health checks: it is always automated"
        if name == SCALE and "replicas" not in step:
            yield (*at, "replicas"), "required field is missing: how many replicas the DR region runs"
        for field in ("replicas", "workload"):
            if field in step and name != SCALE:
                yield (*at, field), f"is a field of the {shown(SCALE)} step only"


def check_environment(failover: EnvironmentFailover | None, service: Service, kinds: Kinds) -> Iterator[Finding]:
    """What the service's failover needs of its environment, at paths within the service."""
    for path, message in _environment_findings(failover, service, kinds):
        yield (path if path[:1] == ("backup",) else ("failover", *path)), message


def _environment_findings(failover: EnvironmentFailover | None, service: Service, kinds: Kinds) -> Iterator[Finding]:
    own = service.failover
    if own is None:
        return
    if failover is None:
        yield (), "the environment has no `failover` section: add its regions and prober"
        return
    regions = (failover.primary_region, failover.dr_region)
    for index, check in enumerate(own.health_checks):
        if check.region is not None and check.region not in regions:
            yield (
                ("health_checks", index, "region"),
                f"{shown(check.region)} is neither the primary region {shown(regions[0])} nor the DR region "
                f"{shown(regions[1])}",
            )
    if all(check.region not in (None, failover.primary_region) for check in own.health_checks):
        yield ("health_checks",), f"no health check probes the primary region {shown(failover.primary_region)}"
    steps = {step.name: (index, step) for index, step in enumerate(own.steps)}
    automated_jobs = [name for name in JOB_STEPS if name in steps and steps[name][1].automated]
    if automated_jobs and failover.image is None:
        index = steps[automated_jobs[0]][0]
        yield (
            ("steps", index, "automated"),
            "the environment's failover has no `image` for the step Jobs: set it, or do the step by hand",
        )
    if UPDATE_DNS in steps and steps[UPDATE_DNS][1].automated and failover.dns is None:
        yield (
            ("steps", steps[UPDATE_DNS][0], "automated"),
            "the environment's failover has no `dns` (rfc2136 or external_dns) to update the record with",
        )
    datastores = service.backup.datastores if service.backup else ()
    by_key = {kind.key: kind for kind in kinds}
    for datastore in datastores:
        kind = by_key[datastore.engine, datastore.method]
        path: FieldPath = ("backup", "datastores", datastore.name)
        if kind.dr_fields is None:
            yield path, f"{kind.engine} datastores cannot fail over yet (obskit keeps no DR copy of their backups)"
        elif failover.section(kind.section) is None:
            yield (
                path,
                f"the environment's failover has no `{kind.section}` section: where the DR copy of this "
                f"datastore's {kind.label} backups is",
            )
    if datastores and PROMOTE not in steps:
        yield ("steps",), f"the service has datastores: add a {shown(PROMOTE)} step before traffic moves"
    if not datastores and PROMOTE in steps:
        yield ("steps", steps[PROMOTE][0], "name"), "the service has no datastores to promote"
