"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api.answers import AnswerHeaders
from api.auth import get_disclosure, install_role_declarations
from api.errors import install_error_handlers
from api.routers import admin, areas, health, mappage, ogc, ogc_exports, tiles
from api.routers import analysis as analysis_router
from api.routers import feeds as feeds_router
from api.routers import hotspots as hotspots_router
from api.routers import ingest as ingest_router
from api.routers import insight as insight_router
from api.routers import planning as planning_router
from api.routers import profiles_pdf as profiles_pdf_router
from api.routers import services as services_router
from api.security import install_security
from api.settings import Settings, get_settings
from api.static import PageFiles
from geo.analysis.aggregates import keep_aggregates_current
from geo.analysis.jobs import bind_jobs, unbind_jobs
from geo.cache import configure_staleness
from geo.db import check_database, make_engine, make_session_factory

log = logging.getLogger("wardwise")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Wardwise app: API routers first, then the static map page at ``/``."""
    settings = settings or get_settings()
    if not (settings.static_dir / "index.html").is_file():
        raise RuntimeError(f"the map page is missing: no index.html in {settings.static_dir}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        # Fail at startup with a plain sentence if the database or PostGIS is missing.
        version = check_database(engine)
        log.info("connected to PostGIS %s", ".".join(map(str, version)))
        app.state.engine = engine
        # Read-only work goes to the replica when there is one (api.deps.get_connection).
        app.state.read_engine = (
            make_engine(settings.database_read_url) if settings.database_read_url else engine
        )
        app.state.session_factory = make_session_factory(engine)
        # API keys are checked on a pool of their own: a request holding a connection from
        # the main pool must never wait for a second one from it (a pool deadlock under load).
        app.state.auth_engine = make_engine(settings.database_url, pool_size=2)
        configure_staleness(settings.stale_max_s)
        # Jobs live in PostgreSQL: any worker process sees, runs and answers for them.
        jobs_before = bind_jobs(engine, run_locally=settings.run_jobs)
        stop_maintenance = threading.Event()
        if settings.aggregate_refresh_s > 0:
            keep_aggregates_current(engine, settings.aggregate_refresh_s, stop_maintenance)
        try:
            yield
        finally:
            watcher = getattr(app.state, "tile_version_watcher", None)
            if watcher is not None:
                watcher.stop()
            stop_maintenance.set()
            unbind_jobs(jobs_before)
            app.state.auth_engine.dispose()
            if app.state.read_engine is not engine:
                app.state.read_engine.dispose()
            engine.dispose()

    app = FastAPI(
        title="Wardwise",
        version="0.1.0",
        summary="Geospatial customer insight for local government.",
        description=(
            "Which segments use a service more or less than their share of households, "
            "where take-up differs from what the population predicts, and where to put "
            "services. All geometries are GeoJSON in WGS84; storage is British National Grid."
        ),
        lifespan=lifespan,
        # Runs first on every route: 401 for any invalid key, and the caller's disclosure
        # policy chosen by role before a database connection is opened (api/auth.py).
        dependencies=[Depends(get_disclosure)],
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_security(app, settings.max_request_bytes, settings.max_upload_bytes)
    app.add_middleware(AnswerHeaders)
    app.include_router(health.router)
    app.include_router(areas.router)
    app.include_router(admin.router)
    app.include_router(tiles.router)
    app.include_router(mappage.router)
    app.include_router(analysis_router.router)
    app.include_router(analysis_router.pages)
    app.include_router(hotspots_router.router)
    app.include_router(insight_router.router)
    app.include_router(planning_router.router)
    app.include_router(ingest_router.router)
    app.include_router(feeds_router.router)
    app.include_router(ogc.router)
    app.include_router(ogc_exports.router)
    app.include_router(services_router.router)
    app.include_router(profiles_pdf_router.router)
    install_role_declarations(app)
    app.mount("/", PageFiles(directory=settings.static_dir, html=True), name="static")
    return app


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory api.main:app_factory``."""
    return create_app()
