"""Liveness and readiness: is the database there, and which PostGIS."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import PUBLIC
from api.deps import EngineDep
from api.schemas import Health
from geo.db import check_database
from geo.errors import DatabaseUnavailable

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    operation_id="get_health",
    openapi_extra=PUBLIC,
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is unreachable"}},
)
def get_health(engine: EngineDep) -> Health | JSONResponse:
    """Report whether the database is reachable and which PostGIS it runs."""
    try:
        version = check_database(engine)
    except DatabaseUnavailable as exc:
        body = Health(status="unavailable", database=False, postgis=None, detail=str(exc))
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database=True, postgis=".".join(map(str, version)))
