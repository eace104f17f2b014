"""OGC API - Features (Part 1 core, GeoJSON; Part 2 CRS) and OGC API - Tiles under ``/ogc``.

QGIS, ArcGIS, GDAL and OWSLib connect to ``/ogc`` without code. The same disclosure rules
and roles apply as on ``/api/v1``: public callers see small counts suppressed; an officer
key (``Authorization: Bearer ww_...``) sees them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from api.auth import PUBLIC, DisclosureDep, ViewerDep
from api.deps import ConnDep, EngineDep, SettingsDep
from api.routers import tiles as tiles_router
from geo.ogc import conformance, landing_page
from geo.ogc.crs import content_crs_header, parse_bbox, parse_crs
from geo.ogc.features import (
    GEOJSON,
    ItemsQuery,
    check_limit,
    collection_document,
    collections_document,
    get_collection,
    item,
    items_page,
)
from geo.ogc.tiles import (
    MVT,
    check_tile_matrix_set,
    tile_layer_of,
    tile_matrix_set,
    tile_matrix_sets,
    tileset,
    tilesets,
)

router = APIRouter(prefix="/ogc", tags=["ogc"])

CODE = r"^[A-Za-z0-9_\-]+$"
# FastAPI matches path parameters by name: the OGC spelling is an alias of a snake_case argument.
CollectionId = Annotated[
    str,
    Path(
        alias="collectionId",
        min_length=1,
        max_length=80,
        pattern=CODE,
        description="Collection id (see /ogc/collections)",
    ),
]
FeatureId = Annotated[
    str, Path(alias="featureId", min_length=1, max_length=64, pattern=CODE, description="Feature id")
]
#: Clients add ``f=json`` (OWSLib) or ``f=geojson``; JSON is the only encoding, so any is fine.
Format = Annotated[
    Literal["json", "geojson", "application/json", "application/geo+json"] | None,
    Query(description="Encoding: JSON (GeoJSON for features) is the only one"),
]
CrsQuery = Annotated[
    str | None,
    Query(
        max_length=120,
        description="Output CRS: http://www.opengis.net/def/crs/OGC/1.3/CRS84 (default) or "
        "http://www.opengis.net/def/crs/EPSG/0/27700 (British National Grid)",
    ),
]
DatetimeQuery = Annotated[
    str | None,
    Query(
        max_length=80,
        description="An instant or interval (2025-01-01/2025-12-31, '..' for open ends): for hot-spot "
        "collections, the period whose service use is counted; other collections have no time",
    ),
]


def _base(request: Request) -> str:
    return f"{_root(request)}/ogc"


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("", operation_id="ogc_landing_page", openapi_extra=PUBLIC)
@router.get("/", include_in_schema=False, openapi_extra=PUBLIC)  # a pasted URL often ends in /
def get_landing_page(request: Request, f: Format = None) -> Any:
    """The OGC API landing page: links to the conformance classes, collections and tile matrix sets."""
    return landing_page(_base(request), _root(request))


@router.get("/conformance", operation_id="ogc_conformance", openapi_extra=PUBLIC)
def get_conformance(f: Format = None) -> Any:
    """The OGC API conformance classes Wardwise implements."""
    return conformance()


@router.get("/collections", operation_id="ogc_list_collections", openapi_extra=PUBLIC)
def list_collections(request: Request, conn: ConnDep, f: Format = None) -> Any:
    """Every collection: areas per level and custom set, sites, hot spots per service, ward x segment."""
    return collections_document(conn, _base(request))


@router.get(
    "/collections/{collectionId}",
    operation_id="ogc_describe_collection",
    openapi_extra=PUBLIC,
    responses={404: {"description": "Unknown collection"}},
)
def describe_collection(
    request: Request, conn: ConnDep, collection_id: CollectionId, f: Format = None
) -> Any:
    """One collection's metadata: extent, CRSs, links to its items and tiles."""
    return collection_document(conn, get_collection(conn, collection_id), _base(request))


@router.get(
    "/collections/{collectionId}/items",
    operation_id="ogc_get_items",
    responses={
        200: {"content": {GEOJSON: {}}, "description": "A page of features (GeoJSON)"},
        400: {"description": "A malformed bbox, crs, bbox-crs or datetime"},
        404: {"description": "Unknown collection"},
    },
)
def get_items(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    disclosure: DisclosureDep,
    collection_id: CollectionId,
    limit: Annotated[
        int, Query(ge=1, le=2**31 - 1, description="Page size (above the maximum, the maximum is used)")
    ] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="Features to skip")] = 0,
    bbox: Annotated[
        str | None, Query(max_length=200, description="minx,miny,maxx,maxy in bbox-crs (default CRS 84)")
    ] = None,
    bbox_crs: Annotated[
        str | None, Query(alias="bbox-crs", max_length=120, description="CRS of bbox")
    ] = None,
    crs: CrsQuery = None,
    datetime: DatetimeQuery = None,
    f: Format = None,
) -> Any:
    """A page of a collection's features, with numberMatched, numberReturned and next/prev links."""
    query = ItemsQuery(
        limit=check_limit(limit, settings.max_limit),
        offset=offset,
        bbox=parse_bbox(bbox),
        bbox_crs=parse_crs(bbox_crs, "bbox-crs"),
        crs=parse_crs(crs),
        datetime=datetime,
    )
    extra = {"f": f} if f else None
    body = items_page(conn, collection_id, query, disclosure, _base(request), extra)
    return JSONResponse(body, media_type=GEOJSON, headers={"Content-Crs": content_crs_header(query.crs)})


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    operation_id="ogc_get_item",
    responses={200: {"content": {GEOJSON: {}}}, 404: {"description": "Unknown collection or feature"}},
)
def get_item(
    request: Request,
    conn: ConnDep,
    disclosure: DisclosureDep,
    collection_id: CollectionId,
    feature_id: FeatureId,
    crs: CrsQuery = None,
    datetime: DatetimeQuery = None,
    f: Format = None,
) -> Any:
    """One feature of a collection by its id (an area code, a site id)."""
    out_crs = parse_crs(crs)
    body = item(conn, collection_id, feature_id, disclosure, _base(request), out_crs, datetime)
    return JSONResponse(body, media_type=GEOJSON, headers={"Content-Crs": content_crs_header(out_crs)})


# ------------------------------------------------------------------------------ tiles


def _tile_layer(engine: Engine, collection_id: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        return tile_layer_of(conn, collection_id)


TmsId = Annotated[
    str, Path(alias="tileMatrixSetId", max_length=40, pattern=CODE, description="WebMercatorQuad")
]


@router.get("/tileMatrixSets", operation_id="ogc_list_tile_matrix_sets", openapi_extra=PUBLIC)
def list_tile_matrix_sets(request: Request, f: Format = None) -> Any:
    """The tile matrix sets offered: WebMercatorQuad."""
    return tile_matrix_sets(_base(request))


@router.get(
    "/tileMatrixSets/{tileMatrixSetId}",
    operation_id="ogc_get_tile_matrix_set",
    openapi_extra=PUBLIC,
    responses={404: {"description": "Unknown tile matrix set"}},
)
def get_tile_matrix_set(tms: TmsId, f: Format = None) -> Any:
    """The WebMercatorQuad tile matrix set definition (OGC TMS 2.0 JSON)."""
    check_tile_matrix_set(tms)
    return tile_matrix_set()


@router.get(
    "/collections/{collectionId}/tiles",
    operation_id="ogc_list_tilesets",
    openapi_extra=PUBLIC,
    responses={404: {"description": "Unknown collection, or one without tiles"}},
)
def list_tilesets(
    request: Request,
    conn: ConnDep,
    collection_id: CollectionId,
    f: Format = None,
) -> Any:
    """The vector tilesets of a collection (WebMercatorQuad)."""
    return tilesets(conn, collection_id, _base(request), _root(request))


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}",
    operation_id="ogc_get_tileset",
    openapi_extra=PUBLIC,
    responses={404: {"description": "Unknown collection or tile matrix set"}},
)
def get_tileset(
    request: Request,
    conn: ConnDep,
    collection_id: CollectionId,
    tms: TmsId,
    f: Format = None,
) -> Any:
    """Tileset metadata: the tile URL template, zoom limits, layers and a TileJSON link."""
    check_tile_matrix_set(tms)
    return tileset(conn, collection_id, _base(request), _root(request))


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    operation_id="ogc_get_tile",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}, "description": "A Mapbox Vector Tile (gzip when accepted)"},
        204: {"description": "The tile has no features"},
        304: {"description": "Not modified"},
        400: {"description": "The address is outside the tile matrix"},
        404: {"description": "Unknown collection or tile matrix set"},
    },
)
async def get_ogc_tile(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    collection_id: CollectionId,
    tms: TmsId,
    tile_matrix: Annotated[str, Path(alias="tileMatrix", max_length=4, description="Zoom")],
    tile_row: Annotated[str, Path(alias="tileRow", max_length=8, description="Row (y)")],
    tile_col: Annotated[str, Path(alias="tileCol", max_length=8, description="Column (x)")],
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """One vector tile: the same tile as /tiles/{layer}/{z}/{x}/{y}.pbf, addressed z/row/col."""
    check_tile_matrix_set(tms)
    layer, service = await run_in_threadpool(_tile_layer, engine, collection_id)
    return await tiles_router.get_tile(
        request,
        engine,
        settings,
        viewer,
        layer,
        tile_matrix,
        tile_col,
        tile_row,
        service=service,
        v=None,
        if_none_match=if_none_match,
        accept_encoding=accept_encoding,
    )
