"""Annotated dependency aliases: what routers get injected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from api.settings import Settings
from geo.disclosure import DisclosurePolicy, protect


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with (async: no threadpool hop for an attribute read)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    """The app's engine (created in lifespan; async: no threadpool hop for an attribute read)."""
    engine: Engine = request.app.state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """A session per request, closed afterwards; routers commit explicitly."""
    with request.app.state.session_factory() as session:
        yield session


#: Marks "no policy resolved": treated as the public policy (fail closed).
_UNRESOLVED = object()

#: Paths whose GETs read what was just written (keys, batches, jobs): always the primary.
PRIMARY_ONLY = ("/api/v1/admin", "/api/v1/ingest", "/api/v1/planning/jobs", "/api/v1/hotspot-jobs")


async def get_read_engine(request: Request) -> Engine:
    """The engine for read-only work: the replica (``DATABASE_READ_URL``) when there is one."""
    engine: Engine = getattr(request.app.state, "read_engine", None) or request.app.state.engine
    return engine


def get_connection(request: Request) -> Iterator[Connection]:
    """A connection per request (no transaction left open), carrying the caller's policy.

    GET and HEAD requests read from the replica when one is configured, except under
    :data:`PRIMARY_ONLY`; anything else (a write) uses the primary.
    ``request.state.disclosure`` is set by the app-wide ``api.auth.get_disclosure``
    dependency (None for officers); if it is missing the connection gets the public policy.
    """
    state = request.app.state
    engine: Engine = state.engine
    if request.method in ("GET", "HEAD") and not request.url.path.startswith(PRIMARY_ONLY):
        engine = getattr(state, "read_engine", None) or engine
    found = getattr(request.state, "disclosure", _UNRESOLVED)
    if found is _UNRESOLVED:
        from api.auth import public_policy

        found = public_policy(request.app.state.settings)
    policy = found if isinstance(found, DisclosurePolicy) else None
    with engine.connect() as conn:
        yield protect(conn, policy)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ReadEngineDep = Annotated[Engine, Depends(get_read_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
ConnDep = Annotated[Connection, Depends(get_connection)]
