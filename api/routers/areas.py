"""Areas: the output-area hierarchy and custom area sets as GeoJSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from api.auth import PUBLIC
from api.deps import ConnDep
from api.schemas import AreaCollection, AreaFeature
from geo.areas import area_feature, area_features, resolve_geography

router = APIRouter(prefix="/api/v1", tags=["areas"])

GEOJSON = "application/geo+json"
AREA_CODE = Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")


@router.get(
    "/areas",
    operation_id="list_areas",
    openapi_extra=PUBLIC,
    response_model=AreaCollection,
    responses={200: {"content": {GEOJSON: {}}}},
)
def list_areas(
    conn: ConnDep,
    level: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_\-]+$",
            description="oa, lsoa, ward, district, or the code of a custom area set",
        ),
    ] = "ward",
    district: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")] = None,
    simplify_m: Annotated[
        float | None, Query(gt=0, le=1000, description="simplify tolerance in metres")
    ] = None,
) -> Any:
    """List the areas at one level (or of one custom set) as GeoJSON."""
    geography = resolve_geography(conn, level)
    body = area_features(conn, geography, district_code=district, simplify_m=simplify_m)
    return JSONResponse(body, media_type=GEOJSON)


@router.get(
    "/areas/{code}",
    operation_id="get_area",
    openapi_extra=PUBLIC,
    response_model=AreaFeature,
    responses={200: {"content": {GEOJSON: {}}}, 404: {"description": "Unknown area code"}},
)
def get_area(conn: ConnDep, code: Annotated[str, AREA_CODE]) -> Any:
    """Return one area, with its parent and household count, as a GeoJSON Feature."""
    return JSONResponse(area_feature(conn, code), media_type=GEOJSON)
