"""Vector tiles: the layer registry, ``render_tile`` (PostGIS ``ST_AsMVT``), TileJSON and a cache.

Every layer is one named query in ``geo/sql/tiles/`` with pg_tileserv's three steps:
the tile envelope (with the margin ``buffer / extent``), the features clipped and
quantised by ``ST_AsMVTGeom`` from the web-mercator copy of each geometry (simplified with
plain ``ST_Simplify`` at about one tile unit), then ``ST_AsMVT``. Identifiers never come
from a request: a layer name selects a :class:`TileLayer` from the registry, and every
value reaches SQL as a bound parameter.

The cache is keyed by the version of what the layer shows (``geo.cache``'s small versions:
the layer's geography, the reference tables and, with ``service``, that service's events),
so a tile is never served from before a change to its data, and an ingest of one service
leaves every other service's tiles cached. With a staleness bound, a changed tile is served
from the cache (``Warning``/``Age`` headers) while its new version renders in the background.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from geo.cache import Depends, VersionedCache, VersionSnapshot, cache_key, geography_subject, read_snapshot
from geo.cache import data_version as cache_data_version
from geo.db import load_sql
from geo.disclosure import (
    KEY_RANGE,
    TABLE_ROWS,
    DisclosurePolicy,
    perturbation_table,
    policy_of,
    protect,
    suppressed_label,
)
from geo.errors import InvalidTileAddress, UnknownLayer

log = logging.getLogger(__name__)

#: Half the circumference of the web-mercator world, metres (EPSG:3857 bounds).
MERCATOR_HALF = 20037508.342789244
MAX_ZOOM = 22

#: Custom area sets appear as layers named ``set_<code>``.
CUSTOM_PREFIX = "set_"


@dataclass(frozen=True)
class TileConfig:
    """How tiles are cut: extent and buffer in tile units, a feature cap, simplification."""

    extent: int = 4096
    buffer: int = 64
    max_features: int = 50_000
    #: ST_Simplify tolerance in tile units (1 unit = tile width / extent).
    simplify_units: float = 1.0
    #: Above this zoom, geometries are not simplified (they are detailed enough already).
    simplify_max_zoom: int = 15
    #: Streets and lanes show from this zoom; A and B roads always.
    roads_minor_zoom: int = 13


@dataclass(frozen=True)
class TileParams:
    """What a tile's content depends on besides its address."""

    service: str | None = None
    #: Counts 1..threshold are shown as the suppressed label (0 = officers see all).
    threshold: int = 0
    #: A public caller's policy (geo.disclosure): counts perturbed, floors applied.
    policy: DisclosurePolicy | None = None
    #: Events counted from/to these days (inclusive; None: all). Area layers only (issue 14's
    #: time slider); the hexagon layer counts every event.
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def key(self) -> tuple[Any, ...]:
        """A hashable key for the cache."""
        return (self.service, self.threshold, self.policy, self.date_from, self.date_to)


@dataclass(frozen=True)
class TileLayer:
    """One tile layer: its query, zoom range, attributes and the parameters it takes."""

    name: str
    title: str
    sql: str
    geometry: str  # 'polygon' | 'line' | 'point'
    fields: Mapping[str, str]
    minzoom: int = 8
    maxzoom: int = 18
    level: str | None = None
    set_code: str | None = None
    takes_service: bool = False
    #: Only areas the hot-spot analysis classes as hot or not (the ``hotspots`` layer).
    only_classed: bool = False
    description: str = ""


#: Attributes of area layers; the service ones appear when ``service`` is given.
AREA_FIELDS: dict[str, str] = {
    "code": "Area code",
    "name": "Area name",
    "households": "Households (number, or '<5' for public callers)",
    "events": "Primary service events (with ?service=)",
    "users": "Households with at least one event (with ?service=)",
    "takeup": "users / households (with ?service=)",
    "expected": "Events expected from the area's segment mix (with ?service=, from the profiling analysis)",
    "ratio": "Observed / expected (with ?service=, from the profiling analysis)",
    "class": "Hot-spot class: hot | not | as_expected (with ?service=, from the hot-spot analysis)",
    "unmet": "Unmet demand, households (with ?service=, from the hot-spot analysis)",
}

STATIC_LAYERS: dict[str, TileLayer] = {
    layer.name: layer
    for layer in (
        TileLayer(
            "wards",
            "Wards",
            "tiles/areas",
            "polygon",
            AREA_FIELDS,
            minzoom=8,
            level="ward",
            takes_service=True,
            description="Electoral wards with household counts and service take-up.",
        ),
        TileLayer(
            "lsoas",
            "LSOAs",
            "tiles/areas",
            "polygon",
            AREA_FIELDS,
            minzoom=10,
            level="lsoa",
            takes_service=True,
            description="Lower layer super output areas with household counts and service take-up.",
        ),
        TileLayer(
            "oas",
            "Output areas",
            "tiles/areas",
            "polygon",
            AREA_FIELDS,
            minzoom=10,
            level="oa",
            takes_service=True,
            description="Output areas with household counts and service take-up.",
        ),
        TileLayer(
            "hotspots",
            "Hot and not spots",
            "tiles/areas",
            "polygon",
            AREA_FIELDS,
            minzoom=10,
            level="oa",
            takes_service=True,
            only_classed=True,
            description="Output areas where use of ?service= is significantly above (hot) or below (not) "
            "what the households' segments predict; empty without a service.",
        ),
        TileLayer(
            "h3",
            "Hexagons",
            "tiles/h3",
            "polygon",
            {
                "cell": "H3 index",
                "resolution": "H3 resolution (chosen by zoom)",
                "households": "Residential addresses in the cell",
                "events": "Primary service events (with ?service=)",
                "users": "Households with at least one event (with ?service=)",
                "takeup": "users / households (with ?service=)",
            },
            minzoom=8,
            takes_service=True,
            description="H3 hexagons of households and service use; resolution follows zoom.",
        ),
        TileLayer(
            "sites",
            "Sites",
            "tiles/sites",
            "point",
            {
                "id": "Site id",
                "name": "Site name",
                "kind": "office | library | community_centre | surgery | school",
                "is_existing": "Existing office (true) or candidate venue",
                "capacity": "Capacity",
            },
            minzoom=8,
            description="Existing offices and candidate venues.",
        ),
        TileLayer(
            "roads",
            "Roads",
            "tiles/roads",
            "line",
            {"id": "Road link id", "name": "Road name", "road_class": "a_road | b_road | street | lane"},
            minzoom=8,
            description="The road network, drawn as the basemap.",
        ),
    )
}


# --------------------------------------------------------------------------- addresses


def tile_address(z: int | str, x: int | str, y: int | str) -> tuple[int, int, int]:
    """Return ``(z, x, y)`` as integers, or raise InvalidTileAddress naming what is wrong."""
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except (TypeError, ValueError):
        raise InvalidTileAddress(
            f"tile address {z}/{x}/{y} is not three integers z/x/y (zoom, column, row)"
        ) from None
    if not 0 <= zi <= MAX_ZOOM:
        raise InvalidTileAddress(f"`z` was {zi} but is expected to be between 0 and {MAX_ZOOM}")
    n = 1 << zi
    if not 0 <= xi < n:
        raise InvalidTileAddress(f"`x` was {xi} but is expected to be between 0 and {n - 1} at zoom {zi}")
    if not 0 <= yi < n:
        raise InvalidTileAddress(f"`y` was {yi} but is expected to be between 0 and {n - 1} at zoom {zi}")
    return zi, xi, yi


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Return the tile's (xmin, ymin, xmax, ymax) in EPSG:3857 metres (ST_TileEnvelope's)."""
    size = 2 * MERCATOR_HALF / (1 << z)
    xmin = -MERCATOR_HALF + x * size
    ymax = MERCATOR_HALF - y * size
    return xmin, ymax - size, xmin + size, ymax


def tiles_covering(bounds: Sequence[float], z: int) -> list[tuple[int, int, int]]:
    """Every tile ``(z, x, y)`` that intersects WGS84 ``bounds`` (west, south, east, north)."""
    west, south, east, north = bounds

    def column(lon: float) -> int:
        return int(np.floor((lon + 180.0) / 360.0 * (1 << z)))

    def row(lat: float) -> int:
        phi = np.radians(np.clip(lat, -85.0511, 85.0511))
        return int(np.floor((1.0 - np.log(np.tan(phi) + 1.0 / np.cos(phi)) / np.pi) / 2.0 * (1 << z)))

    last = (1 << z) - 1
    x0, x1 = max(0, column(west)), min(last, column(east))
    y0, y1 = max(0, row(north)), min(last, row(south))
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def simplify_tolerance_m(z: int, config: TileConfig) -> float:
    """ST_Simplify tolerance for zoom ``z``: ``simplify_units`` tile units in 3857 metres.

    One tile unit is ``2 * 20037508.34 / 2**z / extent`` metres (9.55 m at z10, 0.6 m at
    z14 with extent 4096); ST_AsMVTGeom snaps to that grid anyway, so simplifying at it
    loses nothing visible and saves clipping work.
    """
    if z > config.simplify_max_zoom:
        return 0.0
    return config.simplify_units * 2 * MERCATOR_HALF / (1 << z) / config.extent


# --------------------------------------------------------------------------- registry


def layer_registry(conn: Connection) -> dict[str, TileLayer]:
    """Every tile layer: the fixed ones and one per custom area set (``set_<code>``)."""
    layers = dict(STATIC_LAYERS)
    rows = conn.execute(text("SELECT code, name FROM area_set WHERE kind = 'custom' ORDER BY code")).all()
    for code, name in rows:
        layers[f"{CUSTOM_PREFIX}{code}"] = TileLayer(
            f"{CUSTOM_PREFIX}{code}",
            str(name),
            "tiles/areas",
            "polygon",
            AREA_FIELDS,
            minzoom=8,
            level="custom",
            set_code=str(code),
            takes_service=True,
            description=f"Custom area set {code!r} with household counts and service take-up.",
        )
    return layers


def get_layer(conn: Connection, name: str) -> TileLayer:
    """Return the named layer, or raise UnknownLayer listing the ones that exist."""
    if name in STATIC_LAYERS:
        return STATIC_LAYERS[name]
    layers = layer_registry(conn)
    if name not in layers:
        raise UnknownLayer(f"`layer` was {name!r} but is expected to be one of {sorted(layers)}")
    return layers[name]


def check_service(conn: Connection, service: str | None) -> None:
    """Raise UnknownService unless ``service`` is None or a service code."""
    if service is None:
        return
    from geo.analysis.data import check_service as _check

    _check(conn, service)


# --------------------------------------------------------------------------- measures

#: Per-area measures from the analyses that area tiles join by code (areas.sql's
#: ``:measures``): expected use from the segment mix, observed/expected, the hot-spot
#: class (``hot`` / ``not`` / ``as_expected``, exact Poisson test with Benjamini-Hochberg)
#: and unmet demand, all from issue 5's ``hotspot_frame``.
MEASURE_COLUMNS = ("expected", "ratio", "class", "unmet")
_measures: VersionedCache[str | None] = VersionedCache(64)


def analysis_measures(
    conn: Connection,
    layer: TileLayer,
    service: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> pd.DataFrame:
    """The hot-spot analysis of ``service`` over the layer's areas (one row per area)."""
    from geo.analysis.hotspot_queries import hotspot_frame
    from geo.areas import Geography
    from geo.errors import InvalidRequest

    geography = Geography(level=str(layer.level), set_code=layer.set_code)
    try:
        frame = hotspot_frame(conn, service, geography, date_from=date_from, date_to=date_to)
    except InvalidRequest:
        # e.g. a custom set with no households: the tile keeps its counts, without measures
        return pd.DataFrame(columns=["area_code", *MEASURE_COLUMNS])
    return frame[["area_code", *MEASURE_COLUMNS]]


def area_measures(
    conn: Connection,
    layer: TileLayer,
    service: str,
    version: int,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> str | None:
    """The analyses' per-area measures for ``service`` as the jsonb the tile SQL joins.

    Computed once per (data version, layer geography, service) and kept: the analysis
    reads the whole study area, so per tile it would cost 0.2-0.3 s instead of a lookup.
    """

    def compute() -> str | None:
        frame = analysis_measures(conn, layer, service, date_from, date_to)
        if frame.empty:
            return None
        out = frame.astype(object).where(frame.notna(), None)
        return json.dumps(out.to_dict(orient="records"))

    policy = policy_of(conn)
    return _measures.get_or_compute_at(
        version, cache_key(layer.level, layer.set_code, service, repr(policy), date_from, date_to), compute
    )


# --------------------------------------------------------------------------- h3


def h3_resolution(z: int) -> int:
    """H3 resolution for zoom ``z``: about 10 to 30 hexagons across a 256-pixel tile.

    H3 edge lengths: res 6 3.2 km, 7 1.2 km, 8 460 m, 9 174 m, 10 66 m (Uber's table);
    a tile is 39 km wide at z10 and 2.4 km at z14.
    """
    table = {10: 7, 11: 8, 12: 8, 13: 9}
    return 6 if z <= 9 else table.get(z, 10)


@dataclass
class _HexGrid:
    """Hexagons of one resolution with household counts and lazily, service counts."""

    cells: np.ndarray  # str
    households: np.ndarray  # int
    bbox: np.ndarray  # (n, 4) EPSG:3857
    wkb: list[bytes]
    services: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


class _H3Store:
    """Hexagon aggregates per (data version, resolution), computed once and reused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._points: pd.DataFrame | None = None  # uprn, lat, lng, finest cell
        self._grids: dict[int, _HexGrid] = {}

    FINEST = 10

    def _reset(self, version: int) -> None:
        self._version, self._points, self._grids = version, None, {}

    def points(self, conn: Connection) -> pd.DataFrame:
        import h3

        if self._points is None:
            rows = conn.execute(
                text(
                    "SELECT uprn, ST_Y(p) AS lat, ST_X(p) AS lng FROM "
                    "(SELECT uprn, ST_Transform(geom, 4326) AS p FROM address WHERE is_residential) q"
                )
            ).all()
            frame = pd.DataFrame(rows, columns=["uprn", "lat", "lng"])
            # h3's Python API is per point; this runs once per data version, not per tile.
            frame["cell"] = [
                h3.latlng_to_cell(lat, lng, self.FINEST)
                for lat, lng in zip(frame["lat"].to_numpy(), frame["lng"].to_numpy(), strict=True)
            ]
            self._points = frame
        return self._points

    def grid(self, conn: Connection, res: int) -> _HexGrid:
        import h3
        import shapely
        from pyproj import Transformer

        if res in self._grids:
            return self._grids[res]
        pts = self.points(conn)
        fine = pts["cell"].unique()
        parent = {c: h3.cell_to_parent(c, res) for c in fine} if res < self.FINEST else None
        cells = pts["cell"].map(parent) if parent is not None else pts["cell"]
        counts = cells.value_counts().sort_index()
        ids = counts.index.to_numpy(dtype=object)
        rings = [h3.cell_to_boundary(c) for c in ids]  # (lat, lng) tuples
        sizes = np.array([len(r) for r in rings])
        flat = np.array([p for r in rings for p in r], dtype=float).reshape(-1, 2)
        to3857 = Transformer.from_crs(4326, 3857, always_xy=True)
        xs, ys = to3857.transform(flat[:, 1], flat[:, 0])
        coords = np.column_stack([xs, ys])
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        polys = [
            shapely.Polygon(coords[offsets[i] : offsets[i + 1]]) for i in range(len(ids))
        ]  # at most a few thousand cells per resolution, once per data version
        arr = np.array(polys, dtype=object)
        bbox = shapely.bounds(arr)
        grid = _HexGrid(
            cells=ids.astype(str),
            households=counts.to_numpy(dtype=np.int64),
            bbox=bbox,
            wkb=list(shapely.to_wkb(arr)),
        )
        self._grids[res] = grid
        return grid

    def service_counts(
        self, conn: Connection, grid: _HexGrid, res: int, service: str
    ) -> tuple[np.ndarray, np.ndarray]:
        import h3

        if service in grid.services:
            return grid.services[service]
        rows = conn.execute(
            text(
                "SELECT e.uprn FROM service_event e "
                "WHERE e.service_code = :s AND e.is_primary AND e.uprn IS NOT NULL"
            ),
            {"s": service},
        ).all()
        ev = pd.DataFrame(rows, columns=["uprn"])
        pts = self.points(conn)[["uprn", "cell"]]
        ev = ev.merge(pts, on="uprn", how="inner")
        fine = ev["cell"].unique()
        if res < self.FINEST:
            parent = {c: h3.cell_to_parent(c, res) for c in fine}
            ev["cell"] = ev["cell"].map(parent)
        events = ev.groupby("cell").size()
        users = ev.groupby("cell")["uprn"].nunique()
        index = pd.Index(grid.cells)
        out = (
            events.reindex(index, fill_value=0).to_numpy(dtype=np.int64),
            users.reindex(index, fill_value=0).to_numpy(dtype=np.int64),
        )
        grid.services[service] = out
        return out

    def tile_arrays(
        self,
        conn: Connection,
        version: int,
        z: int,
        x: int,
        y: int,
        service: str | None,
        margin: float,
        policy: DisclosurePolicy | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            if self._version != version:
                self._reset(version)
            res = h3_resolution(z)
            if policy is not None and policy.floors is not None:
                res = min(res, policy.floors.max_h3_resolution)
            grid = self.grid(conn, res) if policy is None else self.public_grid(conn, res, policy)
            xmin, ymin, xmax, ymax = tile_bounds_3857(z, x, y)
            pad = (xmax - xmin) * margin
            b = grid.bbox
            sel = np.flatnonzero(
                (b[:, 2] >= xmin - pad)
                & (b[:, 0] <= xmax + pad)
                & (b[:, 3] >= ymin - pad)
                & (b[:, 1] <= ymax + pad)
            )
            events: list[int | None]
            users: list[int | None]
            if service is None:
                events = [None] * len(sel)
                users = [None] * len(sel)
            elif policy is not None:
                ev, us = self.public_service_counts(conn, grid, res, service, policy)
                events, users = ev[sel].tolist(), us[sel].tolist()
            else:
                ev, us = self.service_counts(conn, grid, res, service)
                events, users = ev[sel].tolist(), us[sel].tolist()
            return {
                "resolution": res,
                "cells": grid.cells[sel].tolist(),
                "wkb": [grid.wkb[i] for i in sel],
                "households": grid.households[sel].tolist(),
                "events": events,
                "users": users,
            }

    # Public grids: cells under the household floor withheld, counts cell-key perturbed.
    # Record keys here are SipHash (keyed by the policy's seed) of the UPRN and event id.

    def public_grid(self, conn: Connection, res: int, policy: DisclosurePolicy) -> _HexGrid:
        """The grid of ``res`` as a public caller sees it (cached beside the true one)."""
        key = -res  # the true grids are cached under res, the public ones under -res
        if key in self._grids:
            return self._grids[key]
        import h3

        true = self.grid(conn, res)
        floor = policy.floors.min_households if policy.floors is not None else 0
        keep = np.flatnonzero(true.households >= floor)
        pts = self.points(conn)
        fine = pts["cell"].unique()
        parent = {c: h3.cell_to_parent(c, res) for c in fine} if res < self.FINEST else None
        cells = pts["cell"].map(parent) if parent is not None else pts["cell"]
        keys = pd.Series(_record_keys(pts["uprn"], policy)).groupby(cells.to_numpy()).sum()
        cell_keys = keys.reindex(pd.Index(true.cells[keep]), fill_value=0).to_numpy()
        grid = _HexGrid(
            cells=true.cells[keep],
            households=policy.perturb(true.households[keep], cell_keys),
            bbox=true.bbox[keep],
            wkb=[true.wkb[i] for i in keep],
        )
        self._grids[key] = grid
        return grid

    def public_service_counts(
        self, conn: Connection, grid: _HexGrid, res: int, service: str, policy: DisclosurePolicy
    ) -> tuple[np.ndarray, np.ndarray]:
        """Events and users per public cell, cell-key perturbed (events keyed by id, users by UPRN)."""
        import h3

        if service in grid.services:
            return grid.services[service]
        rows = conn.execute(
            text(
                "SELECT e.id, e.uprn FROM service_event e "
                "WHERE e.service_code = :s AND e.is_primary AND e.uprn IS NOT NULL"
            ),
            {"s": service},
        ).all()
        ev = pd.DataFrame(rows, columns=["id", "uprn"]).merge(
            self.points(conn)[["uprn", "cell"]], on="uprn", how="inner"
        )
        if res < self.FINEST:
            parent = {c: h3.cell_to_parent(c, res) for c in ev["cell"].unique()}
            ev["cell"] = ev["cell"].map(parent)
        ev["key"] = _record_keys(ev["id"], policy)
        users = ev.drop_duplicates(["cell", "uprn"]).copy()
        users["key"] = _record_keys(users["uprn"], policy)
        index = pd.Index(grid.cells)

        def protected(frame: pd.DataFrame) -> np.ndarray:
            sums = frame.groupby("cell")["key"].agg(["size", "sum"]).reindex(index, fill_value=0)
            return policy.perturb(sums["size"].to_numpy(), sums["sum"].to_numpy())

        out = (protected(ev), protected(users))
        grid.services[service] = out
        return out


def _record_keys(ids: pd.Series, policy: DisclosurePolicy) -> np.ndarray:
    """Record keys in [0, KEY_RANGE) for ids hashed in Python (SipHash keyed by the policy's seed)."""
    seed = policy.seed if policy.seed is not None else 0
    hash_key = (seed & (2**63 - 1)).to_bytes(8, "big").hex()  # 16 characters, as pandas wants
    hashed = pd.util.hash_pandas_object(ids.astype(str), index=False, hash_key=hash_key)
    return np.asarray((hashed.to_numpy(dtype=np.uint64) % np.uint64(KEY_RANGE)).astype(np.int64))


def _perturbation_params(policy: DisclosurePolicy | None) -> dict[str, Any]:
    """Bind parameters of areas.sql's perturbation: the table (flat), the seed, the floor."""
    if policy is None:
        return {"perturb": False, "seed": 0, "ptable": _PTABLE_FLAT, "min_households": 0}
    return {
        "perturb": policy.seed is not None,
        "seed": policy.seed or 0,
        "ptable": _PTABLE_FLAT,
        "min_households": policy.floors.min_households if policy.floors is not None else 0,
    }


#: The perturbation table flattened row by row (areas.sql reads [v * KEY_RANGE + key + 1]).
_PTABLE_FLAT = perturbation_table().ravel().tolist()
assert (TABLE_ROWS, KEY_RANGE) == (21, 256), "geo/sql/tiles/areas.sql hard-codes 20 and 256"


_h3_store = _H3Store()


# --------------------------------------------------------------------------- rendering


def data_version(conn: Connection, deps: Depends | None = None) -> int:
    """The data version of ``deps`` (default: everything): it grows with every write to it."""
    return cache_data_version(conn, deps or Depends())[0]


def layer_depends(spec: TileLayer, service: str | None) -> Depends:
    """What a layer's tiles depend on: its geography, the reference tables, ``service``'s events."""
    if spec.sql == "tiles/areas":
        geographies: tuple[str, ...] = ("level:oa", geography_subject(spec.level, spec.set_code))
    else:
        geographies = ()
    return Depends(services=(service,) if service else (), geographies=geographies)


def render_tile(
    conn: Connection,
    layer: str | TileLayer,
    z: int,
    x: int,
    y: int,
    params: TileParams | None = None,
    config: TileConfig | None = None,
    *,
    version: int | None = None,
) -> bytes:
    """Render one tile of ``layer`` as uncompressed Mapbox Vector Tile bytes (empty: b'').

    Raises
    ------
    UnknownLayer
        If there is no such layer.
    InvalidTileAddress
        If z/x/y is outside the tile matrix.
    UnknownService
        If ``params.service`` is not a service code.
    """
    params = params or TileParams()
    config = config or TileConfig()
    # A public caller's policy travels on the connection: the analyses behind the measures
    # then read perturbed, floored counts (geo.analysis.data), as every other route does.
    conn = protect(conn, params.policy)
    spec = layer if isinstance(layer, TileLayer) else get_layer(conn, layer)
    z, x, y = tile_address(z, x, y)
    service = params.service if spec.takes_service else None
    check_service(conn, service)
    common: dict[str, Any] = {
        "z": z,
        "x": x,
        "y": y,
        "extent": config.extent,
        "buffer": config.buffer,
        "layer_name": spec.name,
        "threshold": params.threshold,
        "label": suppressed_label(params.threshold),
        **_perturbation_params(params.policy),
    }
    current = data_version(conn) if version is None else version
    if spec.sql == "tiles/areas":
        bind = {
            **common,
            "tolerance_m": simplify_tolerance_m(z, config),
            "max_features": config.max_features,
            "level": spec.level,
            "set_code": spec.set_code,
            "service": service,
            "measures": (
                area_measures(conn, spec, service, current, params.date_from, params.date_to)
                if service
                else None
            ),
            "only_classed": spec.only_classed,
            "date_from": params.date_from,
            "date_to": params.date_to,
        }
    elif spec.sql == "tiles/h3":
        arrays = _h3_store.tile_arrays(
            conn, current, z, x, y, service, config.buffer / config.extent, params.policy
        )
        if not arrays["cells"]:
            return b""
        bind = {**common, **arrays}
    elif spec.sql == "tiles/roads":
        bind = {
            **common,
            "tolerance_m": simplify_tolerance_m(z, config),
            "max_features": config.max_features,
            "min_zoom_minor": config.roads_minor_zoom,
        }
    else:
        bind = {**common, "max_features": config.max_features}
    tile = conn.execute(load_sql(spec.sql), bind).scalar_one()
    return bytes(tile) if tile else b""


@dataclass(frozen=True)
class Tile:
    """A tile ready to send: gzip-compressed body (None when empty), ETag, data version."""

    body_gzip: bytes | None
    etag: str
    version: int
    not_modified: bool = False
    #: Seconds since a newer version than this tile's was first asked for (None: fresh).
    stale_age_s: float | None = None

    @property
    def empty(self) -> bool:
        """Whether the tile has no features (sent as 204)."""
        return self.body_gzip is None


class TileCache:
    """A thread-safe LRU of gzip-compressed tiles keyed by address, parameters and data version.

    The last element of a key is its data version. With ``max_stale_s > 0`` a tile whose
    newest cached version is older than the current one may still be served (stale while
    a fresh one renders in the background) for ``max_stale_s`` seconds after the newer
    version was first asked for.
    """

    def __init__(self, max_entries: int = 4096, *, max_stale_s: float = 0.0) -> None:
        self.max_entries = max_entries
        self.max_stale_s = max_stale_s
        self._items: OrderedDict[tuple[Any, ...], bytes | None] = OrderedDict()
        self._latest: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._stale_since: dict[tuple[Any, ...], tuple[Any, float]] = {}
        self._refreshing: set[tuple[Any, ...]] = set()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...]) -> tuple[bool, bytes | None]:
        """Return (found, body)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return True, self._items[key]
            self.misses += 1
            return False, None

    def get_stale(self, key: tuple[Any, ...]) -> tuple[tuple[Any, ...], bytes | None, float] | None:
        """An older version of ``key``'s tile within the staleness bound: (its key, body, age s)."""
        if self.max_stale_s <= 0:
            return None
        base, version = key[:-1], key[-1]
        now = time.monotonic()
        with self._lock:
            older = self._latest.get(base)
            if older is None or older not in self._items or older[-1] >= version:
                return None
            seen_version, since = self._stale_since.get(base, (None, now))
            if seen_version != version:
                since = now
                self._stale_since[base] = (version, since)
            age = now - since
            if age > self.max_stale_s:
                return None
            return older, self._items[older], age

    def start_refresh(self, key: tuple[Any, ...]) -> bool:
        """Claim the background render of ``key`` (False if one is already running)."""
        with self._lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
            return True

    def end_refresh(self, key: tuple[Any, ...]) -> None:
        """Release the claim taken by :meth:`start_refresh`."""
        with self._lock:
            self._refreshing.discard(key)

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Block until no background render is running (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._refreshing and time.monotonic() < deadline:
            time.sleep(0.01)

    def put(self, key: tuple[Any, ...], body: bytes | None) -> None:
        """Store a body, evicting the least recently used beyond ``max_entries``."""
        with self._lock:
            self._items[key] = body
            self._items.move_to_end(key)
            latest = self._latest.get(key[:-1])
            if latest is None or latest not in self._items or _newer(key[-1], latest[-1]):
                self._latest[key[:-1]] = key
            while len(self._items) > self.max_entries:
                old, _ = self._items.popitem(last=False)
                if self._latest.get(old[:-1]) == old:
                    del self._latest[old[:-1]]

    def clear(self) -> None:
        """Forget every tile."""
        with self._lock:
            self._items.clear()
            self._latest.clear()
            self._stale_since.clear()

    def __len__(self) -> int:
        return len(self._items)


def _newer(a: Any, b: Any) -> bool:
    try:
        return bool(a >= b)
    except TypeError:
        return True


def tile_etag(key: Sequence[Any]) -> str:
    """A strong ETag for a cache key (the key includes the data version)."""
    digest = hashlib.blake2b(repr(tuple(key)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


class DataVersionWatcher:
    """Keeps the data version in memory by LISTENing to ``wardwise_data_version``.

    A trigger on ``data_version`` NOTIFYs at commit (migration 0004), so a warm tile can
    be answered from the cache without a database round trip: the watcher re-reads the
    version when told, on its own connection. LISTEN comes before the first read, so no
    change is missed; until the watcher is listening (or after its connection drops, until
    it reconnects) :meth:`current` is None and callers read the version themselves.
    """

    CHANNEL = "wardwise_data_version"

    def __init__(self, database_url: str, *, poll_s: float = 1.0) -> None:
        self._url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._poll_s = poll_s
        self._snapshot: VersionSnapshot | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tile-data-version", daemon=True)

    def start(self) -> DataVersionWatcher:
        """Start listening in a daemon thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (the thread ends within ``poll_s``)."""
        self._stop.set()
        self._thread.join(self._poll_s * 3)

    def current(self, deps: Depends | None = None) -> int | None:
        """The data version of ``deps`` (default: everything), or None while not listening."""
        snapshot = self._snapshot
        return None if snapshot is None else snapshot.version(deps or Depends())

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as pg:
                    pg.execute(f"LISTEN {self.CHANNEL}")
                    self._snapshot = read_snapshot(pg)
                    while not self._stop.is_set():
                        changed = any(True for _ in pg.notifies(timeout=self._poll_s, stop_after=1))
                        if changed:
                            self._snapshot = read_snapshot(pg)
            except Exception:  # noqa: BLE001 - any failure: fall back to per-request reads, retry
                log.warning("tile data-version watcher lost its connection; retrying", exc_info=True)
                self._snapshot = None
                self._stop.wait(self._poll_s)
        self._snapshot = None


def cached_tile(
    cache: TileCache,
    layer: str,
    z: int | str,
    x: int | str,
    y: int | str,
    params: TileParams,
    config: TileConfig,
    *,
    if_none_match: str | None = None,
    watcher: DataVersionWatcher | None = None,
) -> Tile | None:
    """The tile if it can be answered from memory alone (cached, or not modified), else None.

    Needs a listening ``watcher`` (the data version without a database read) and a fixed
    layer; it touches no database, so an async endpoint can call it on the event loop and
    leave :func:`fetch_tile` for the threadpool.
    """
    spec = STATIC_LAYERS.get(layer)
    if watcher is None or spec is None:
        return None
    params = _key_params(spec, params)
    version = watcher.current(layer_depends(spec, params.service))
    if version is None:
        return None
    zi, xi, yi = tile_address(z, x, y)
    key = (spec.name, zi, xi, yi, params.key(), config, version)
    etag = tile_etag(key)
    if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
        return Tile(None, etag, version, not_modified=True)
    found, body = cache.get(key)
    return Tile(body, etag, version) if found else None


def _key_params(spec: TileLayer, params: TileParams) -> TileParams:
    """The parameters the layer's content depends on (``service`` only where it is used)."""
    dated = spec.takes_service and spec.sql == "tiles/areas"
    return TileParams(
        service=params.service if spec.takes_service else None,
        threshold=params.threshold,
        policy=params.policy,
        date_from=params.date_from if dated else None,
        date_to=params.date_to if dated else None,
    )


def fetch_tile(
    bind: Engine | Connection,
    cache: TileCache,
    layer: str,
    z: int | str,
    x: int | str,
    y: int | str,
    params: TileParams,
    config: TileConfig,
    *,
    if_none_match: str | None = None,
    watcher: DataVersionWatcher | None = None,
) -> Tile:
    """Return a tile from the cache or PostGIS; a matching ``If-None-Match`` skips rendering.

    The key includes the version of what the layer depends on (:func:`layer_depends`), so a
    write to that data invalidates its tiles and their ETags, and no others. With a cache
    whose ``max_stale_s > 0`` and an engine, a tile whose data changed is answered from the
    cache (``stale_age_s`` set) while the new one renders in the background.
    With a listening ``watcher`` a warm tile needs no database connection at all; otherwise
    the version is one indexed read. The layer and
    service are checked against the database only when the tile is rendered, so only valid
    keys ever reach the cache.
    """
    zi, xi, yi = tile_address(z, x, y)
    with ExitStack() as stack:
        opened: list[Connection] = []

        def connection() -> Connection:
            if not opened:
                opened.append(bind if isinstance(bind, Connection) else stack.enter_context(bind.connect()))
            return opened[0]

        spec = STATIC_LAYERS.get(layer) or get_layer(connection(), layer)
        params = _key_params(spec, params)
        deps = layer_depends(spec, params.service)
        version = watcher.current(deps) if watcher is not None else None
        if version is None:
            version = data_version(connection(), deps)
        key = (spec.name, zi, xi, yi, params.key(), config, version)
        etag = tile_etag(key)
        if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
            return Tile(None, etag, version, not_modified=True)
        found, body = cache.get(key)
        if not found and isinstance(bind, Engine):
            stale = cache.get_stale(key)
            if stale is not None:
                old_key, old_body, age = stale
                _render_later(bind, cache, spec, key, params, config)
                return Tile(old_body, tile_etag(old_key), old_key[-1], stale_age_s=age)
        if not found:
            raw = render_tile(connection(), spec, zi, xi, yi, params, config, version=version)
            body = gzip.compress(raw, compresslevel=6, mtime=0) if raw else None
            cache.put(key, body)
    return Tile(body, etag, version)


def _render_later(
    engine: Engine,
    cache: TileCache,
    spec: TileLayer,
    key: tuple[Any, ...],
    params: TileParams,
    config: TileConfig,
) -> None:
    """Render ``key``'s tile in the background (once at a time per key) and cache it."""
    if not cache.start_refresh(key):
        return
    from geo.cache import _REVALIDATE

    def run() -> None:
        try:
            with engine.connect() as conn:
                deps = layer_depends(spec, params.service)
                version = data_version(conn, deps)
                _, z, x, y = key[:4]
                raw = render_tile(conn, spec, z, x, y, params, config, version=version)
                cache.put((*key[:-1], version), gzip.compress(raw, compresslevel=6, mtime=0) if raw else None)
        except Exception:  # noqa: BLE001 - the stale tile stays until its bound, then renders inline
            log.warning("background render of %s failed", key, exc_info=True)
        finally:
            cache.end_refresh(key)

    _REVALIDATE.submit(run)


# --------------------------------------------------------------------------- TileJSON


def district_bounds(conn: Connection) -> tuple[list[float], list[float]]:
    """The WGS84 bounds and centre of all districts (the data's extent)."""
    row = conn.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Transform(ST_SetSRID(ST_Extent(geom), 27700), 4326) AS e "
            "FROM area WHERE level = 'district') q"
        )
    ).one()
    if row[0] is None:
        return [-180.0, -85.0511, 180.0, 85.0511], [0.0, 0.0]
    bounds = [round(float(v), 6) for v in row]
    centre = [round((bounds[0] + bounds[2]) / 2, 6), round((bounds[1] + bounds[3]) / 2, 6)]
    return bounds, centre


def tilejson(
    conn: Connection,
    layer: str,
    base_url: str,
    *,
    service: str | None = None,
) -> dict[str, Any]:
    """TileJSON 3.0.0 for ``layer``; its tile URL carries the data version and ``service``."""
    spec = get_layer(conn, layer)
    service = service if spec.takes_service else None
    check_service(conn, service)
    bounds, centre = district_bounds(conn)
    query = f"?v={data_version(conn)}"
    if service:
        query += f"&service={service}"
    minzoom = spec.minzoom
    return {
        "tilejson": "3.0.0",
        "name": spec.name,
        "description": spec.description,
        "scheme": "xyz",
        "tiles": [f"{base_url.rstrip('/')}/tiles/{spec.name}/{{z}}/{{x}}/{{y}}.pbf{query}"],
        "minzoom": minzoom,
        "maxzoom": spec.maxzoom,
        "bounds": bounds,
        "center": [*centre, max(minzoom, 12)],
        "vector_layers": [
            {
                "id": spec.name,
                "description": spec.description,
                "minzoom": minzoom,
                "maxzoom": spec.maxzoom,
                "fields": dict(spec.fields),
            }
        ],
    }


def catalog(conn: Connection) -> list[dict[str, Any]]:
    """Every layer with its title, geometry, zoom range and whether it takes ``service``."""
    return [
        {
            "name": spec.name,
            "title": spec.title,
            "geometry": spec.geometry,
            "description": spec.description,
            "minzoom": spec.minzoom,
            "maxzoom": spec.maxzoom,
            "takes_service": spec.takes_service,
            "tilejson": f"/tiles/{spec.name}.json",
        }
        for spec in layer_registry(conn).values()
    ]
