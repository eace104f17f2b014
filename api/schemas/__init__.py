"""Pydantic request and response models, named by role (one module per domain)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    """Whether the service can answer: database reachable, PostGIS version."""

    status: Literal["ok", "unavailable"]
    database: bool
    postgis: str | None
    detail: str | None = None


class AreaProperties(BaseModel):
    """What every area feature carries."""

    code: str
    name: str
    level: str
    set_code: str
    parent_code: str | None
    district_code: str | None
    households: int
    area_km2: float | None = None


class AreaFeature(BaseModel):
    """One area as a GeoJSON Feature (WGS84)."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: AreaProperties


class AreaCollection(BaseModel):
    """Areas as a GeoJSON FeatureCollection (WGS84)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[AreaFeature] = Field(default_factory=list)


class JobState(BaseModel):
    """What every background job reports (hot-spot and planning jobs add their own fields)."""

    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    params: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: str | None
