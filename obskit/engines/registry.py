"""The datastore engines obskit knows, keyed by (engine, method): one line per engine.

An engine is a package that plans the datastores the spec gives it (obskit/plan/engine.py's
`Engine`) into plans that write its alerts, objects and runbook (`DatastorePlan`). Only the
pipeline imports this module: the generic stages see engines through that interface."""

from __future__ import annotations

from obskit.engines.mongodb_dump.plan import ENGINE as MONGODB_DUMP
from obskit.engines.postgres_walg.plan import ENGINE as POSTGRES_WALG
from obskit.plan.engine import Engine, EngineKey

ENGINES: dict[EngineKey, Engine] = {engine.key: engine for engine in (POSTGRES_WALG, MONGODB_DUMP)}
