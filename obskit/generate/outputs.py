"""The output table: every artifact family, what it is written per, and the function that
writes it. Tree assembly iterates this table; adding an output kind is one module and one line.

Scopes: per service (plan, service_plan), per datastore (plan, service_plan, datastore_plan),
per page of services (plan, page), once per environment (plan).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from obskit.generate import alertmanager, dashboards, datastores, failover, servicemonitor, velero
from obskit.generate.artifact import File
from obskit.generate.rules import groups as rules
from obskit.generate.rules import targets


class Scope(Enum):
    SERVICE = "service"
    DATASTORE = "datastore"
    PAGE = "page"
    ENVIRONMENT = "environment"


@dataclass(frozen=True)
class Output:
    name: str
    scope: Scope
    files: Callable[..., list[File]]


OUTPUTS: tuple[Output, ...] = (
    Output("servicemonitors", Scope.SERVICE, servicemonitor.files),
    Output("rules", Scope.SERVICE, rules.files),
    Output("velero", Scope.SERVICE, velero.files),
    Output("failover", Scope.SERVICE, failover.files),
    Output("datastores", Scope.DATASTORE, datastores.files),
    Output("dashboards", Scope.PAGE, dashboards.files),
    Output("alertmanager", Scope.ENVIRONMENT, alertmanager.files),
    Output("rule target", Scope.ENVIRONMENT, targets.environment_files),
)


def of_scope(scope: Scope) -> list[Callable[..., list[File]]]:
    return [output.files for output in OUTPUTS if output.scope is scope]
