"""Planning solves as background jobs: route searches use their whole time limit.

The runner is ``geo.analysis.jobs.JobRunner``: jobs stored in PostgreSQL once it is bound
(``geo.analysis.jobs.bind_jobs``), claimed by any worker with SKIP LOCKED, progress polled by
id. Planning has its own queue (``planning``) so a long route search never waits behind a
permutation run, nor the other way round. Each job opens its own connection from the
engine, because the request's connection is gone by the time the job runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from geo.analysis.jobs import Job, JobRunner, register_kind
from geo.planning.plans import plan_routes, plan_sites


@functools.cache
def planning_runner() -> JobRunner:
    """The process-wide queue for planning jobs (one at a time: the machine is shared)."""
    return JobRunner(max_workers=1, keep=100, max_pending=4, queue="planning")


def _public(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in params.items()}


def _routes(engine: Engine, params: dict[str, Any], progress: Callable[[float], None]) -> Any:
    with engine.connect() as conn:
        return plan_routes(conn, progress=lambda fraction, _msg: progress(fraction), **params)


def _sites(engine: Engine, params: dict[str, Any], progress: Callable[[float], None]) -> Any:
    with engine.connect() as conn:
        progress(0.05)
        return plan_sites(conn, **params)


def _zones(engine: Engine, params: dict[str, Any], progress: Callable[[float], None]) -> Any:
    from geo.planning.zone_plans import plan_zones

    with engine.connect() as conn:
        progress(0.05)
        return plan_zones(conn, **params)


register_kind("planning.routes", _routes)
register_kind("planning.zones", _zones)
register_kind("planning.sites", _sites)


def submit_routes_job(engine: Engine, params: dict[str, Any]) -> Job:
    """Queue ``plan_routes(**params)``; progress is the share of the search time used."""
    return planning_runner().submit(
        "planning.routes", _public(params), lambda progress: _routes(engine, params, progress), payload=params
    )


def submit_sites_job(engine: Engine, params: dict[str, Any]) -> Job:
    """Queue ``plan_sites(**params)`` (for solves given a long MILP time limit)."""
    return planning_runner().submit(
        "planning.sites", _public(params), lambda progress: _sites(engine, params, progress), payload=params
    )


def submit_zones_job(engine: Engine, params: dict[str, Any]) -> Job:
    """Queue ``zone_plans.plan_zones(**params)`` (max-p over many areas takes a while)."""
    return planning_runner().submit(
        "planning.zones", _public(params), lambda progress: _zones(engine, params, progress), payload=params
    )


def planning_job(job_id: str) -> dict[str, Any]:
    """A planning job's status, progress and (when done) result."""
    job = planning_runner().get(job_id)
    body = job.summary()
    body["result"] = job.result if job.status == "done" else None
    return body
