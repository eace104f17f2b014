"""Exports of OGC collections as files people open directly, each carrying its metadata."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.auth import DisclosureDep
from api.deps import ConnDep, SettingsDep
from api.routers.ogc import CollectionId, DatetimeQuery
from geo.ogc.exports import MEDIA_TYPES, Licence, export_collection

router = APIRouter(prefix="/api/v1", tags=["ogc"])


@router.get(
    "/exports/{collectionId}",
    operation_id="export_collection",
    response_class=Response,
    responses={
        200: {"content": {m: {} for m in MEDIA_TYPES.values()}, "description": "The file, as an attachment"},
        404: {"description": "Unknown collection"},
    },
)
def export_collection_file(
    conn: ConnDep,
    settings: SettingsDep,
    disclosure: DisclosureDep,
    collection_id: CollectionId,
    format: Annotated[
        Literal["gpkg", "parquet", "xlsx", "zip"],
        Query(
            description="gpkg (GeoPackage), parquet (GeoParquet), xlsx (with a README sheet) or zip "
            "(CSV with a Frictionless datapackage.json)"
        ),
    ] = "gpkg",
    datetime: DatetimeQuery = None,
) -> Any:
    """A collection (see /ogc/collections) as GeoPackage, GeoParquet, XLSX or CSV + data package."""
    licence = Licence(
        name=settings.licence_id,
        title=settings.licence_title,
        path=settings.licence_url,
        attribution=settings.attribution,
    )
    body, filename = export_collection(
        conn, collection_id, format, disclosure, datetime=datetime, licence=licence
    )
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=MEDIA_TYPES[format], headers=headers)
