"""Annotated dependency aliases: what routers get injected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from api.settings import Settings


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


def get_connection(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Connection]:
    """A read connection per request (no transaction left open)."""
    with engine.connect() as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
ConnDep = Annotated[Connection, Depends(get_connection)]
