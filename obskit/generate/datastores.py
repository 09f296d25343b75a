"""Each datastore's own backup objects, written by its engine (obskit/engines)."""

from __future__ import annotations

from obskit.engines.postgres_walg.plan import DatastorePlan
from obskit.engines.registry import engine
from obskit.generate.artifact import File
from obskit.output import render
from obskit.plan.types import Plan, ServicePlan

PATCHES_DIR = "patches"


def files(plan: Plan, service_plan: ServicePlan, datastore_plan: DatastorePlan) -> list[File]:
    datastore_engine = engine(datastore_plan.datastore)
    objects = datastore_engine.objects(plan, service_plan, datastore_plan)
    name = f"{datastore_engine.folder}/{service_plan.name}-{datastore_plan.name}.yaml"
    result = [File(f"backup/{name}", render.yaml_file(plan.environment.name, objects), kubernetes=True)]
    patch = datastore_engine.database_patch(plan, service_plan, datastore_plan)
    if patch is not None:  # for the user's own database workload, not an object of the tree
        result.append(File(f"{PATCHES_DIR}/{name}", render.yaml_file(plan.environment.name, patch)))
    return result
