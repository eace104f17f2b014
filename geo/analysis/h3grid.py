"""H3 hexagons as an analysis geography: points to cells, cells to polygons and neighbours.

H3 works on WGS84 latitude and longitude: points come in already transformed from
British National Grid by PostGIS, and cell centres go back out to 27700 (metres) for
distance-based weights. h3 (>= 4) has no vectorised ``latlng_to_cell``; the per-point
call costs under 1 µs (measured: 40,000 points in 35 ms), and it is made once per
distinct point, so a list comprehension is fast enough here.
"""

from __future__ import annotations

from typing import Any

import h3
import numpy as np
import pandas as pd
from pyproj import Transformer

from geo.errors import InvalidRequest

MIN_RESOLUTION, MAX_RESOLUTION = 5, 12

_TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


def check_resolution(resolution: int | None) -> int:
    """Validate an H3 resolution a caller picked (5 = ~250 km² cells, 12 = ~300 m²)."""
    if resolution is None or not MIN_RESOLUTION <= int(resolution) <= MAX_RESOLUTION:
        raise InvalidRequest(
            f"`resolution` was {resolution!r} but is expected to be an H3 resolution "
            f"from {MIN_RESOLUTION} to {MAX_RESOLUTION} (level=h3 needs one)"
        )
    return int(resolution)


def points_to_cells(lat: Any, lng: Any, resolution: int) -> np.ndarray:
    """The H3 cell (string index) of each WGS84 point, computed once per distinct point."""
    res = check_resolution(resolution)
    lat_a = np.asarray(lat, dtype=float)
    lng_a = np.asarray(lng, dtype=float)
    if lat_a.size == 0:
        return np.array([], dtype=object)
    pts = np.column_stack([lat_a, lng_a])
    unique, inverse = np.unique(pts, axis=0, return_inverse=True)
    cells = np.array([h3.latlng_to_cell(a, b, res) for a, b in unique.tolist()], dtype=object)
    return cells[np.asarray(inverse).reshape(-1)]


def aggregate_to_cells(points: pd.DataFrame, resolution: int, value: str) -> pd.DataFrame:
    """Sum ``value`` per (cell, segment) from a frame with ``lat``, ``lng``, ``segment_code``
    (and ``cell`` where the cell is already known).

    Returns a long frame ``area_code`` (the cell), ``segment_code``, ``value``.
    """
    if points.empty:
        return pd.DataFrame({"area_code": [], "segment_code": [], value: []})
    if "cell" in points:  # a query that read the cells stored per address (geo.analysis.h3cells)
        from geo.analysis.h3cells import cells_of

        cells = cells_of(points, resolution)
    else:
        cells = points_to_cells(points["lat"], points["lng"], resolution)
    frame = pd.DataFrame(
        {"area_code": cells, "segment_code": points["segment_code"].to_numpy(), value: points[value]}
    )
    return frame.groupby(["area_code", "segment_code"], dropna=False, as_index=False)[value].sum()


def cell_polygons(cells: Any) -> list[dict[str, Any]]:
    """GeoJSON Polygon geometry (WGS84, lng/lat order, closed ring) of each cell."""
    out = []
    for cell in cells:
        ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]
        ring.append(ring[0])
        out.append({"type": "Polygon", "coordinates": [ring]})
    return out


def cell_neighbour_pairs(cells: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of listed cells that share an edge (the hexagonal queen/rook neighbours)."""
    cell_list = list(cells)
    present = set(cell_list)
    left, right = [], []
    for cell in cell_list:
        for other in h3.grid_ring(cell, 1):
            if other in present and cell < other:
                left.append(cell)
                right.append(other)
    return np.asarray(left, dtype=object), np.asarray(right, dtype=object)


def cell_centres_bng(cells: Any) -> np.ndarray:
    """Cell centres as (n, 2) British National Grid coordinates in metres."""
    cell_list = list(cells)
    if not cell_list:
        return np.empty((0, 2))
    latlng = np.array([h3.cell_to_latlng(c) for c in cell_list])
    x, y = _TO_BNG.transform(latlng[:, 1], latlng[:, 0])
    return np.column_stack([x, y])
