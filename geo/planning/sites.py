"""Existing offices and candidate venues: the ``site`` table, for the API and the solvers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection

from geo.db import load_sql
from geo.errors import InvalidRequest

SITE_KINDS: tuple[str, ...] = ("office", "library", "community_centre", "surgery", "school")


@dataclass(frozen=True)
class SiteTable:
    """Sites as parallel arrays (existing offices first), coordinates in metres (27700)."""

    ids: np.ndarray
    names: list[str]
    kinds: list[str]
    is_existing: np.ndarray
    capacity: np.ndarray
    road_node: np.ndarray
    xy: np.ndarray
    lnglat: np.ndarray
    addresses: list[str | None] | None = None

    def __len__(self) -> int:
        return int(self.ids.size)

    def subset(self, mask: np.ndarray) -> SiteTable:
        """The sites where ``mask`` is true."""
        idx = np.flatnonzero(mask)
        return SiteTable(
            self.ids[idx],
            [self.names[i] for i in idx],
            [self.kinds[i] for i in idx],
            self.is_existing[idx],
            self.capacity[idx],
            self.road_node[idx],
            self.xy[idx],
            self.lnglat[idx],
            None if self.addresses is None else [self.addresses[i] for i in idx],
        )


def site_features(
    conn: Connection,
    *,
    kinds: Sequence[str] | None = None,
    existing: bool | None = None,
    ids: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Sites as a GeoJSON FeatureCollection in WGS84 (offices first, then by kind and name)."""
    raw = conn.execute(
        load_sql("planning/sites"),
        {"kinds": list(kinds) if kinds else None, "existing": existing, "ids": list(ids) if ids else None},
    ).scalar_one()
    result: dict[str, Any] = json.loads(raw)
    return result


def load_sites(
    conn: Connection, *, kinds: Sequence[str] | None = None, ids: Sequence[int] | None = None
) -> SiteTable:
    """Every existing office plus the candidate venues of ``kinds`` (or with ``ids``)."""
    rows = conn.execute(
        load_sql("planning/site_rows"),
        {"kinds": list(kinds) if kinds else None, "ids": list(ids) if ids else None},
    ).all()
    if ids:
        missing = sorted(set(ids) - {r.id for r in rows})
        if missing:
            raise InvalidRequest(f"`candidate_site_ids` has {missing}, which are not sites")
    return SiteTable(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        names=[r.name for r in rows],
        kinds=[r.kind for r in rows],
        is_existing=np.array([bool(r.is_existing) for r in rows], dtype=bool),
        capacity=np.array([np.nan if r.capacity is None else r.capacity for r in rows], dtype=float),
        road_node=np.array([-1 if r.road_node is None else r.road_node for r in rows], dtype=np.int64),
        xy=np.array([[r.x, r.y] for r in rows], dtype=float).reshape(-1, 2),
        lnglat=np.array([[r.lng, r.lat] for r in rows], dtype=float).reshape(-1, 2),
        addresses=[r.address_text for r in rows],
    )
