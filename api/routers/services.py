"""The service catalogue: create and amend services (analyst). Listing is in ``analysis``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from api.auth import AnalystDep
from api.deps import ConnDep
from api.schemas.analysis import ServiceCreate, ServiceInfo, ServiceUpdate
from geo.catalogue import ServiceSpec, create_service, update_service

router = APIRouter(prefix="/api/v1", tags=["services"])

ServiceCode = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


@router.post(
    "/services",
    operation_id="create_service",
    response_model=ServiceInfo,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "A service with this code exists already"}},
)
def post_service(body: ServiceCreate, viewer: AnalystDep, conn: ConnDep) -> Any:
    """Create a service (code, name, unit, LGSL id, LGChL channel ids); audited."""
    service = create_service(conn, ServiceSpec(**body.model_dump()), by=viewer)
    conn.commit()
    return service


@router.patch(
    "/services/{service}",
    operation_id="update_service",
    response_model=ServiceInfo,
    responses={404: {"description": "Unknown service"}},
)
def patch_service(service: ServiceCode, body: ServiceUpdate, viewer: AnalystDep, conn: ConnDep) -> Any:
    """Amend a service: only the fields given change; audited."""
    result = update_service(conn, service, body.model_dump(exclude_unset=True), by=viewer)
    conn.commit()
    return result
