"""Each datastore's own backup objects, written by its engine (obskit/engines)."""

from __future__ import annotations

from obskit.generate.artifact import File
from obskit.output import layout, render
from obskit.plan import jobs
from obskit.plan.engine import DatastorePlan
from obskit.plan.types import Plan, ServicePlan


def files(plan: Plan, service_plan: ServicePlan, datastore_plan: DatastorePlan) -> list[File]:
    objects = jobs.placed(datastore_plan.objects(plan, service_plan), plan.environment.jobs)
    name = f"{datastore_plan.folder}/{service_plan.name}-{datastore_plan.name}.yaml"
    result = [File(f"{layout.BACKUP}/{name}", render.yaml_file(plan.environment.name, objects), kubernetes=True)]
    patch = datastore_plan.database_patch(plan, service_plan)
    if patch is not None:  # for the user's own database workload, not an object of the tree
        result.append(File(f"{layout.PATCHES}/{name}", render.yaml_file(plan.environment.name, patch)))
    return result
