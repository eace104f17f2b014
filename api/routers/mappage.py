"""The map page's data: its deck (built with pydeck) and place search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import ViewerDep
from api.deps import ConnDep
from api.schemas.tiles import MapDeck, PlacePage
from geo.mappage import deck_spec
from geo.search import search_places

router = APIRouter(prefix="/api/v1", tags=["map"])


@router.get("/map/deck.json", operation_id="get_map_deck", response_model=MapDeck)
def get_map_deck(conn: ConnDep, viewer: ViewerDep) -> Any:
    """Return the map page's deck.gl JSON with its layers, services, measures and palettes."""
    return deck_spec(conn)


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
