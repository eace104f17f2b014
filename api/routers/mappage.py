"""The map page's data: its deck (built with pydeck) and place search."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import ViewerDep
from api.deps import ConnDep, SettingsDep
from api.schemas.tiles import MapDeck, PlacePage
from geo.auth import Role
from geo.errors import InvalidRequest
from geo.mappage import BREAK_METHODS, class_breaks, deck_spec, map_labels
from geo.search import search_places

router = APIRouter(prefix="/api/v1", tags=["map"])


@router.get("/map/deck.json", operation_id="get_map_deck", response_model=MapDeck)
def get_map_deck(conn: ConnDep, viewer: ViewerDep) -> Any:
    """Return the map page's deck.gl JSON with its layers, services, measures and palettes."""
    return deck_spec(conn)


@router.get("/map/labels.json", operation_id="get_map_labels")
def get_map_labels(conn: ConnDep, viewer: ViewerDep) -> Any:
    """Ward labels (a point inside each ward) and district outlines: the map's context, offline."""
    return map_labels(conn)


@router.get("/search", operation_id="search_places", response_model=PlacePage)
def get_places(
    conn: ConnDep,
    viewer: ViewerDep,
    q: Annotated[
        str, Query(min_length=2, max_length=100, description="Postcode, area, street or address prefix")
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Any:
    """Find places by postcode, area name or code, street or address prefix, to fly the map there."""
    return {"query": q, "places": search_places(conn, q, limit=limit)}


@router.get("/map/breaks", operation_id="get_map_breaks")
def get_map_breaks(
    conn: ConnDep,
    viewer: ViewerDep,
    settings: SettingsDep,
    layer: Annotated[str, Query(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_\-]+$")] = "wards",
    measure: Annotated[str, Query(pattern=r"^(households|takeup|events|ratio|unmet|class)$")] = "households",
    service: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")] = None,
    method: Annotated[str, Query(pattern="^(" + "|".join(BREAK_METHODS) + ")$")] = "quantile",
    classes: Annotated[int, Query(ge=2, le=9)] = 5,
    edges: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^-?[0-9.]+(,-?[0-9.]+){0,7}$",
            description="method=manual: the inner class edges, ascending, comma-separated (e.g. 0.1,0.2,0.3)",
        ),
    ] = None,
    date_from: Annotated[dt.date | None, Query(description="First day of events counted (inclusive)")] = None,
    date_to: Annotated[dt.date | None, Query(description="Last day of events counted (inclusive)")] = None,
) -> Any:
    """Class breaks of a measure over every area of a layer (the whole study area, not the tiles in view).

    Counts hidden from the public by the small-count rule are counted as ``suppressed`` and
    left out of the breaks, as the tiles leave them out.
    """
    threshold = 0 if viewer.may(Role.officer) else settings.suppression_threshold
    try:
        manual = [float(e) for e in edges.split(",")] if edges else None
    except ValueError:
        raise InvalidRequest(
            f"`edges` was {edges!r} but is expected to be numbers separated by commas"
        ) from None
    return class_breaks(
        conn,
        layer,
        measure,
        service,
        method=method,
        classes=classes,
        threshold=threshold,
        edges=manual,
        date_from=date_from,
        date_to=date_to,
    )
