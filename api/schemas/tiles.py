"""Models for the tile catalogue and TileJSON."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class VectorLayer(BaseModel):
    """One layer inside a tile set, with its attribute names and meanings."""

    id: str
    description: str
    minzoom: int
    maxzoom: int
    fields: dict[str, str]


class TileJson(BaseModel):
    """TileJSON 3.0.0: where a layer's tiles are and what they hold."""

    tilejson: Literal["3.0.0"] = "3.0.0"
    name: str
    description: str
    scheme: Literal["xyz"] = "xyz"
    tiles: list[str] = Field(description="URL templates; they carry the data version as `v`")
    minzoom: int
    maxzoom: int
    bounds: list[float] = Field(description="west, south, east, north (WGS84)")
    center: list[float] = Field(description="longitude, latitude, zoom")
    vector_layers: list[VectorLayer]


class CatalogLayer(BaseModel):
    """A tile layer in the catalogue."""

    name: str
    title: str
    geometry: Literal["polygon", "line", "point"]
    description: str
    minzoom: int
    maxzoom: int
    takes_service: bool = Field(description="Whether `?service=` adds take-up attributes")
    tilejson: str


class Catalog(BaseModel):
    """Every tile layer (martin's `/catalog`)."""

    layers: list[CatalogLayer]


class Place(BaseModel):
    """A place found by search, with where to fly the map."""

    kind: str = Field(description="postcode, ward, lsoa, oa, district, a custom level, street or address")
    label: str
    area_code: str | None = Field(description="The area it is (or the output area it lies in)")
    zoom: int = Field(description="A map zoom that shows it")
    lon: float
    lat: float
    bbox: list[float] | None = Field(default=None, description="west, south, east, north (WGS84)")


class PlacePage(BaseModel):
    """Places matching a search, best kinds first (postcodes, areas, streets, addresses)."""

    query: str
    places: list[Place]


class MapDeck(BaseModel):
    """The map page's deck.gl JSON (built with pydeck) and the options of its controls."""

    deck: dict[str, Any] = Field(description="pydeck's to_json(): layers, views, initial view state")
    tooltip: dict[str, Any] | bool | None
    version: int = Field(description="Data version the tile URLs carry")
    bounds: list[float]
    worker_url: str
    layers: list[dict[str, Any]]
    services: list[dict[str, Any]]
    measures: list[dict[str, Any]]
    palettes: dict[str, list[list[int]]]
    class_colours: dict[str, list[int]]
    break_methods: list[str] = Field(
        default_factory=list, description="How class breaks can be cut (GET /api/v1/map/breaks?method=)"
    )
