"""Vector tiles (Mapbox Vector Tiles from PostGIS), TileJSON and the layer catalogue."""

from __future__ import annotations

import datetime as dt
import gzip
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import ViewerDep, public_policy
from api.deps import ConnDep, ReadEngineDep, SettingsDep
from api.schemas.tiles import Catalog, TileJson
from api.settings import Settings
from geo.auth import Role, Viewer
from geo.disclosure import DisclosurePolicy
from geo.tiles import (
    DataVersionWatcher,
    TileCache,
    TileConfig,
    TileParams,
    cached_tile,
    catalog,
    fetch_tile,
    tilejson,
)

router = APIRouter(tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"
LAYER = Path(
    min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_\-]+$", description="Layer name (see /catalog)"
)
SERVICE = Query(
    min_length=1,
    max_length=64,
    pattern=r"^[A-Za-z0-9_\-]+$",
    description="Service code: adds its take-up attributes to area and hexagon layers",
)
#: Public tiles may sit in shared caches briefly; keyed ones stay private. The ETag lets a
#: client revalidate for the cost of one row read.
PUBLIC_CACHE = "public, max-age=60, stale-while-revalidate=300"
PRIVATE_CACHE = "private, max-age=60"


def _tile_cache(request: Request, settings: Settings) -> TileCache:
    """The app's tile cache, created on first use."""
    cache: TileCache | None = getattr(request.app.state, "tile_cache", None)
    if cache is None:
        cache = request.app.state.tile_cache = TileCache(
            settings.tile_cache_entries, max_stale_s=settings.stale_max_s
        )
    return cache


def _version_watcher(request: Request, settings: Settings) -> DataVersionWatcher | None:
    """The app's data-version watcher (LISTEN/NOTIFY), started on first use.

    None with a read replica: a standby cannot LISTEN, and the version must come from the
    server the tile is rendered from, so each tile reads it there (one indexed read).
    """
    if settings.database_read_url:
        return None
    watcher: DataVersionWatcher | None = getattr(request.app.state, "tile_version_watcher", None)
    if watcher is None:
        watcher = request.app.state.tile_version_watcher = DataVersionWatcher(settings.database_url).start()
    return watcher


def _tile_config(settings: Settings) -> TileConfig:
    return TileConfig(
        extent=settings.tile_extent, buffer=settings.tile_buffer, max_features=settings.tile_max_features
    )


def _threshold(viewer: Viewer, settings: Settings) -> int:
    """Public callers get small counts suppressed; officers and above see them."""
    return 0 if viewer.may(Role.officer) else settings.suppression_threshold


def _policy(request: Request, viewer: Viewer) -> DisclosurePolicy | None:
    """The public policy (perturbation, floors) for public callers; None for officers."""
    if viewer.may(Role.officer):
        return None
    policy = getattr(request.state, "disclosure", None)
    return policy if policy is not None else public_policy(request.app.state.settings)


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.pbf",
    operation_id="get_tile",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}, "description": "A gzip-compressed Mapbox Vector Tile"},
        204: {"description": "The tile has no features"},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        400: {"description": "The z/x/y address is outside the tile matrix"},
        404: {"description": "Unknown layer or service"},
    },
)
async def get_tile(
    request: Request,
    engine: ReadEngineDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    layer: Annotated[str, LAYER],
    z: Annotated[str, Path(max_length=4, description="Zoom, 0 to 22")],
    x: Annotated[str, Path(max_length=8, description="Column, 0 to 2^z - 1")],
    y: Annotated[str, Path(max_length=8, description="Row, 0 to 2^z - 1")],
    service: Annotated[str | None, SERVICE] = None,
    v: Annotated[int | None, Query(description="Data version (cache buster; any value works)")] = None,
    date_from: Annotated[
        dt.date | None, Query(description="Area layers: first day of events counted (inclusive)")
    ] = None,
    date_to: Annotated[
        dt.date | None, Query(description="Area layers: last day of events counted (inclusive)")
    ] = None,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """Return one vector tile of a layer, gzip-compressed, with ETag and Cache-Control."""
    # Async so a cached tile is answered on the event loop with no threadpool hop; only a
    # miss (database work) goes to the threadpool.
    cache = _tile_cache(request, settings)
    params = TileParams(
        service=service,
        threshold=_threshold(viewer, settings),
        policy=_policy(request, viewer),
        date_from=date_from,
        date_to=date_to,
    )
    config = _tile_config(settings)
    watcher = _version_watcher(request, settings)
    tile = cached_tile(cache, layer, z, x, y, params, config, if_none_match=if_none_match, watcher=watcher)
    if tile is None:
        tile = await run_in_threadpool(
            partial(
                fetch_tile,
                engine,
                cache,
                layer,
                z,
                x,
                y,
                params,
                config,
                if_none_match=if_none_match,
                watcher=watcher,
            )
        )
    headers = {
        "ETag": tile.etag,
        "Cache-Control": PUBLIC_CACHE if viewer.role is Role.public else PRIVATE_CACHE,
        "Vary": "Accept-Encoding, Authorization",
        "X-Data-Version": str(tile.version),
        "X-Wardwise-Data-Version": str(tile.version),
    }
    if tile.stale_age_s is not None:
        headers["Age"] = str(int(tile.stale_age_s))
        headers["Warning"] = '110 - "Response is Stale"'
    if tile.not_modified:
        return Response(status_code=304, headers=headers)
    if tile.body_gzip is None:
        return Response(status_code=204, headers=headers)
    if accept_encoding is not None and "gzip" not in accept_encoding.lower():
        return Response(gzip.decompress(tile.body_gzip), media_type=MVT, headers=headers)
    return Response(tile.body_gzip, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})


@router.get(
    "/tiles/{layer}.json",
    operation_id="get_tilejson",
    response_model=TileJson,
    responses={404: {"description": "Unknown layer or service"}},
)
def get_tilejson(
    request: Request,
    conn: ConnDep,
    viewer: ViewerDep,
    layer: Annotated[str, LAYER],
    service: Annotated[str | None, SERVICE] = None,
) -> Any:
    """Return the TileJSON of a layer: its tile URL template, zoom range, bounds and attributes."""
    return tilejson(conn, layer, str(request.base_url), service=service)


@router.get("/catalog", operation_id="list_tile_layers", response_model=Catalog)
def list_tile_layers(conn: ConnDep, viewer: ViewerDep) -> Any:
    """List every tile layer with its geometry, zoom range and TileJSON link."""
    return {"layers": catalog(conn)}
