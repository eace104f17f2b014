"""OGC API - Features over Wardwise's own answers: collections, items, one item.

Every collection is filled by the same geo function the REST route of the same data calls
(``area_features`` for ``/api/v1/areas``, ``site_features`` for ``/api/v1/sites``,
``hotspots_output`` for ``/api/v1/services/{s}/hotspots``, ``service_matrix`` for
``/api/v1/matrix``), with the caller's disclosure policy, so an OGC client sees exactly
what the REST API shows the same caller. This module only pages, filters by bbox,
reprojects and links; it never reads a count itself.

One encoding choice differs from the REST JSON, for GIS clients: a field that holds
numbers for some features and a suppression label (``"<5"``, ``"[c]"``) for others would
be typed from whichever page a client reads first (GDAL and QGIS fix a field's type from
the first features), and a later ``"<5"`` would then read as 0. Such a field stays numeric,
with null where the count is hidden, and a companion ``<field>_suppressed`` carries the
label. The information is the same as the REST answer's; nothing more is revealed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from geo.analysis.hotspot_outputs import HotspotParams, hotspots_output
from geo.analysis.matrix import service_matrix
from geo.analysis.propensity import TOTAL
from geo.areas import STANDARD_LEVELS, Geography, area_features, resolve_geography
from geo.cache import VersionedCache, cache_key
from geo.db import load_sql
from geo.disclosure import DisclosurePolicy
from geo.errors import InvalidParameter, NotFound
from geo.ogc.crs import (
    CRS84,
    DECIMALS,
    STORAGE_CRS,
    SUPPORTED_CRS,
    bbox_polygon,
    transform_geometries,
)
from geo.planning.sites import site_features
from geo.tiles import CUSTOM_PREFIX, district_bounds

GEOJSON = "application/geo+json"
JSON = "application/json"
SUPPRESSED_SUFFIX = "_suppressed"
#: Collection ids of the standard levels (the tile layers' names, for one vocabulary).
LEVEL_COLLECTIONS: dict[str, str] = {"district": "districts", "ward": "wards", "lsoa": "lsoas", "oa": "oas"}
LEVEL_TITLES: dict[str, str] = {
    "district": "Districts",
    "ward": "Electoral wards",
    "lsoa": "Lower layer super output areas",
    "oa": "Output areas",
}
HOTSPOT_PREFIX = "hotspots_"
SEGMENTS_PREFIX = "ward_segments_"

Kind = Literal["areas", "sites", "hotspots", "segments"]


class UnknownCollection(NotFound):
    """No OGC API collection has the given id."""


class UnknownFeature(NotFound):
    """The collection has no feature with the given id."""


@dataclass(frozen=True)
class Collection:
    """One OGC API collection: what fills it, and the tile layer drawing the same features."""

    id: str
    title: str
    description: str
    kind: Kind
    level: str | None = None
    service: str | None = None
    classification: str | None = None
    tile_layer: str | None = None
    tile_service: str | None = None
    #: First and last day of the data (collections whose ``datetime`` filter applies).
    temporal: tuple[dt.date | None, dt.date | None] | None = None
    keywords: tuple[str, ...] = ()


def collection_registry(conn: Connection) -> dict[str, Collection]:
    """Every collection: area levels, custom sets, sites, hot spots per service, ward x segment."""
    out: list[Collection] = []
    for level in ("district", "ward", "lsoa", "oa"):
        out.append(
            Collection(
                LEVEL_COLLECTIONS[level],
                LEVEL_TITLES[level],
                f"{LEVEL_TITLES[level]} with their code, name, parent, households and area (km2).",
                "areas",
                level=level,
                tile_layer=None if level == "district" else LEVEL_COLLECTIONS[level],
                keywords=("areas", level),
            )
        )
    for code, name in conn.execute(
        text("SELECT code, name FROM area_set WHERE kind = 'custom' ORDER BY code")
    ).all():
        out.append(
            Collection(
                f"{CUSTOM_PREFIX}{code}",
                str(name),
                f"Custom area set {code!r}: its areas with households and area (km2).",
                "areas",
                level=str(code),
                tile_layer=f"{CUSTOM_PREFIX}{code}",
                keywords=("areas", "custom set"),
            )
        )
    out.append(
        Collection(
            "sites",
            "Offices and candidate venues",
            "Existing council offices and the venues that could host a one-stop shop.",
            "sites",
            tile_layer="sites",
            keywords=("sites", "planning"),
        )
    )
    periods = {
        r.service_code: (r.first_date, r.last_date)
        for r in conn.execute(load_sql("analysis/service_periods")).all()
    }
    for code, name in conn.execute(text("SELECT code, name FROM service ORDER BY code")).all():
        out.append(
            Collection(
                f"{HOTSPOT_PREFIX}{code}",
                f"Hot and not spots: {name}",
                f"Output areas with observed against expected use of {name} (exact Poisson tests, "
                "Benjamini-Hochberg classes hot | not | as_expected), potential and unmet demand. "
                "`datetime` chooses the period counted.",
                "hotspots",
                service=str(code),
                tile_layer="hotspots",
                tile_service=str(code),
                temporal=periods.get(code, (None, None)),
                keywords=("hot spots", "analysis", str(code)),
            )
        )
    for code, name in conn.execute(text("SELECT code, name FROM classification ORDER BY code")).all():
        out.append(
            Collection(
                f"{SEGMENTS_PREFIX}{code}",
                f"Wards by segment: {name}",
                f"The ward x segment matrix of {name} as ward attributes: households_<segment>, "
                "households_pct_<segment> (share of the ward) and households_index_<segment> "
                "(location quotient, 100 = the borough's share).",
                "segments",
                level="ward",
                classification=str(code),
                keywords=("segments", "matrix", str(code)),
            )
        )
    return {c.id: c for c in out}


def get_collection(conn: Connection, collection_id: str) -> Collection:
    """The collection with this id, or UnknownCollection naming the ones there are."""
    registry = collection_registry(conn)
    if collection_id not in registry:
        raise UnknownCollection(
            f"`collectionId` was {collection_id!r} but is expected to be one of {sorted(registry)}"
        )
    return registry[collection_id]


# --------------------------------------------------------------------------- parameters


def parse_datetime(value: str | None) -> tuple[dt.date | None, dt.date | None] | None:
    """Parse OGC ``datetime``: an instant, or an interval ``start/end`` with ``..`` open ends.

    Returns the first and last day it covers (None for an open end), or None without one.

    Raises
    ------
    InvalidParameter
        If a part is neither ``..``, an RFC 3339 date, nor an RFC 3339 date-time.
    """
    if value is None or value == "":
        return None

    def day(part: str) -> dt.date | None:
        part = part.strip()
        if part in ("", ".."):
            return None
        try:
            if len(part) == 10:
                return dt.date.fromisoformat(part)
            return dt.datetime.fromisoformat(part.replace("Z", "+00:00")).date()
        except ValueError:
            raise InvalidParameter(
                f"`datetime` was {value!r} but is expected to be a date (2025-01-31), a date-time, "
                "or an interval start/end with '..' for an open end"
            ) from None

    parts = value.split("/")
    if len(parts) == 1:
        instant = day(parts[0])
        if instant is None:
            raise InvalidParameter(f"`datetime` was {value!r}: an instant cannot be open ('..')")
        return instant, instant
    if len(parts) != 2:
        raise InvalidParameter(f"`datetime` was {value!r} but is expected to be an instant or start/end")
    start, end = day(parts[0]), day(parts[1])
    if start and end and start > end:
        raise InvalidParameter(f"`datetime` was {value!r}: its start is after its end")
    return start, end


@dataclass(frozen=True)
class ItemsQuery:
    """The query of ``/collections/{id}/items`` (already parsed)."""

    limit: int = 100
    offset: int = 0
    bbox: list[float] | None = None
    bbox_crs: str = CRS84
    crs: str = CRS84
    datetime: str | None = None


# --------------------------------------------------------------------------- data


@dataclass
class _Data:
    """A collection's features for one caller: properties, ids and geometries (CRS 84)."""

    features: list[dict[str, Any]]
    geoms: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    _projected: dict[str, np.ndarray] = field(default_factory=dict)

    def geoms_in(self, crs: str) -> np.ndarray:
        """All geometries in ``crs`` (computed once per CRS)."""
        if crs == CRS84:
            return self.geoms
        if crs not in self._projected:
            self._projected[crs] = transform_geometries(self.geoms, CRS84, crs)
        return self._projected[crs]


_DATA: VersionedCache[_Data] = VersionedCache(64)


def _policy_key(policy: DisclosurePolicy | None) -> Any:
    return None if policy is None else [policy.threshold, policy.round_to_base]


def collection_data(
    conn: Connection,
    spec: Collection,
    policy: DisclosurePolicy | None,
    period: tuple[dt.date | None, dt.date | None] | None,
) -> _Data:
    """A collection's features for a caller's policy and period, cached per data version."""
    key = cache_key("ogc", spec.id, _policy_key(policy), period)
    return _DATA.get_or_compute(conn, key, lambda: _load(conn, spec, policy, period))


def _load(
    conn: Connection,
    spec: Collection,
    policy: DisclosurePolicy | None,
    period: tuple[dt.date | None, dt.date | None] | None,
) -> _Data:
    meta: dict[str, Any] = {}
    if spec.kind == "areas":
        assert spec.level is not None
        collection = area_features(conn, resolve_geography(conn, spec.level), precision=8)
    elif spec.kind == "sites":
        collection = site_features(conn)
    elif spec.kind == "hotspots":
        assert spec.service is not None
        date_from, date_to = period or (None, None)
        params = HotspotParams(service=spec.service, level="oa", date_from=date_from, date_to=date_to)
        body = hotspots_output(conn, params, policy, "geojson")
        assert isinstance(body, dict)
        meta = dict(body.get("meta", {}))
        # The REST answer's outlines are at 6 decimals (~0.1 m); take 8 (~1 mm) from the same
        # function, so British National Grid output and exports keep the stored geometry.
        outlines = {
            f["id"]: f["geometry"]
            for f in area_features(conn, resolve_geography(conn, "oa"), precision=8)["features"]
        }
        collection = {
            "features": [{**f, "geometry": outlines.get(f["id"], f["geometry"])} for f in body["features"]]
        }
    else:
        collection = _segment_features(conn, spec, policy)
    features = stable_types(collection["features"])
    geoms = np.array(
        [shapely.from_geojson(json.dumps(f["geometry"])) if f["geometry"] else None for f in features],
        dtype=object,
    )
    return _Data(features, geoms, meta)


def _segment_features(conn: Connection, spec: Collection, policy: DisclosurePolicy | None) -> dict[str, Any]:
    """Wards with the ward x segment matrix (households only) flattened into attributes."""
    matrix = service_matrix(conn, "ward", spec.classification, None, policy=policy)
    cells: pd.DataFrame = matrix["cells"]
    segments = [s["code"] for s in matrix["segments"]]
    by_area: dict[str, dict[str, Any]] = {}
    for row in cells.itertuples(index=False):
        if row.area_code == TOTAL:
            continue
        props = by_area.setdefault(str(row.area_code), {})
        suffix = "total" if row.segment == TOTAL else str(row.segment)
        props[f"households_{suffix}"] = _plain(row.households)
        if row.segment != TOTAL:
            props[f"households_pct_{suffix}"] = _plain(row.households_pct)
            props[f"households_index_{suffix}"] = _plain(row.households_index)
    wards = area_features(conn, Geography("ward"), precision=8)
    features = []
    for feature in wards["features"]:
        code = feature["id"]
        if code not in by_area:
            continue
        attrs = by_area[code]
        ordered = {"households_total": attrs.get("households_total")}
        for s in segments:
            for name in (f"households_{s}", f"households_pct_{s}", f"households_index_{s}"):
                ordered[name] = attrs.get(name)
        props = {
            "code": code,
            "name": feature["properties"]["name"],
            "classification": spec.classification,
            **ordered,
        }
        features.append({"type": "Feature", "id": code, "geometry": feature["geometry"], "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def stable_types(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every property one JSON type across the collection (see the module docstring).

    A property holding numbers and strings (suppression labels) keeps its numbers, is null
    where it held a label, and gains ``<name>_suppressed`` with the label (null elsewhere).
    Every feature gets every property, in one order, so clients see one schema.
    """
    names: dict[str, None] = {}
    kinds: dict[str, set[str]] = {}
    for f in features:
        for k, v in (f.get("properties") or {}).items():
            names.setdefault(k, None)
            if v is None:
                continue
            kind = "number" if isinstance(v, int | float) and not isinstance(v, bool) else type(v).__name__
            kinds.setdefault(k, set()).add(kind)
    mixed = {k for k, seen in kinds.items() if "number" in seen and "str" in seen}
    order: list[str] = []
    for k in names:
        order.append(k)
        if k in mixed:
            order.append(f"{k}{SUPPRESSED_SUFFIX}")
    out = []
    for f in features:
        props = f.get("properties") or {}
        new: dict[str, Any] = {}
        for k in order:
            if k.endswith(SUPPRESSED_SUFFIX) and k[: -len(SUPPRESSED_SUFFIX)] in mixed:
                value = props.get(k[: -len(SUPPRESSED_SUFFIX)])
                new[k] = value if isinstance(value, str) else None
            elif k in mixed:
                value = props.get(k)
                new[k] = None if isinstance(value, str) else value
            else:
                new[k] = props.get(k)
        out.append({**f, "properties": new})
    return out


# --------------------------------------------------------------------------- documents


def _link(href: str, rel: str, type_: str, title: str | None = None, **extra: Any) -> dict[str, Any]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return {**link, **extra}


def collection_document(
    conn: Connection, spec: Collection, base: str, bounds: list[float] | None = None
) -> dict[str, Any]:
    """The ``/collections/{id}`` document: links, extent (the districts' bounds), CRSs."""
    bounds = bounds or district_bounds(conn)[0]
    url = f"{base}/collections/{spec.id}"
    links = [
        _link(url, "self", JSON, "This collection"),
        _link(f"{url}/items", "items", GEOJSON, "The features (GeoJSON)"),
    ]
    if spec.tile_layer:
        links += [
            _link(
                f"{url}/tiles", "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", JSON, "Vector tiles"
            ),
        ]
    extent: dict[str, Any] = {"spatial": {"bbox": [bounds], "crs": CRS84}}
    if spec.temporal is not None:
        first, last = spec.temporal
        extent["temporal"] = {
            "interval": [[_instant(first), _instant(last, end=True)]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return {
        "id": spec.id,
        "title": spec.title,
        "description": spec.description,
        "keywords": list(spec.keywords),
        "itemType": "feature",
        "links": links,
        "extent": extent,
        "crs": list(SUPPORTED_CRS),
        "storageCrs": STORAGE_CRS,
    }


def _instant(day: dt.date | None, *, end: bool = False) -> str | None:
    if day is None:
        return None
    return f"{day.isoformat()}T{'23:59:59' if end else '00:00:00'}Z"


def collections_document(conn: Connection, base: str) -> dict[str, Any]:
    """The ``/collections`` document."""
    bounds, _ = district_bounds(conn)
    return {
        "links": [_link(f"{base}/collections", "self", JSON, "The collections")],
        "collections": [
            collection_document(conn, c, base, bounds) for c in collection_registry(conn).values()
        ],
    }


def items_page(
    conn: Connection,
    collection_id: str,
    query: ItemsQuery,
    policy: DisclosurePolicy | None,
    base: str,
    extra_params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One page of a collection's items as a GeoJSON FeatureCollection with OGC paging links.

    ``numberMatched`` counts the features passing the filters, ``numberReturned`` those on
    this page; ``next``/``prev`` links carry the same filters with the offset moved.
    ``extra_params`` are query parameters to repeat in links (``f``).
    """
    spec = get_collection(conn, collection_id)
    period = parse_datetime(query.datetime)
    data = collection_data(conn, spec, policy, period if spec.temporal is not None else None)
    index = np.arange(len(data.features))
    if query.bbox is not None:
        area = bbox_polygon(query.bbox, query.bbox_crs, query.bbox_crs)
        geoms = data.geoms_in(query.bbox_crs)
        present = np.array([g is not None for g in geoms], dtype=bool)
        hit = np.zeros(len(geoms), dtype=bool)
        hit[present] = shapely.intersects(np.asarray(geoms[present]), area)
        index = index[hit]
    matched = int(index.size)
    page = index[query.offset : query.offset + query.limit]
    features = _render(data, page, query.crs)
    url = f"{base}/collections/{spec.id}/items"
    params = {k: v for k, v in _link_params(query).items() if v is not None}
    params.update(extra_params or {})

    def href(offset: int) -> str:
        return f"{url}?{urlencode({**params, 'offset': offset, 'limit': query.limit})}"

    links = [
        _link(href(query.offset), "self", GEOJSON, "This page"),
        _link(f"{base}/collections/{spec.id}", "collection", JSON, "The collection"),
    ]
    if query.offset + len(page) < matched:
        links.append(_link(href(query.offset + query.limit), "next", GEOJSON, "Next page"))
    if query.offset > 0:
        links.append(_link(href(max(0, query.offset - query.limit)), "prev", GEOJSON, "Previous page"))
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }
    if data.meta:
        body["meta"] = data.meta
    return body


def _link_params(query: ItemsQuery) -> dict[str, Any]:
    return {
        "bbox": ",".join(f"{v:g}" for v in query.bbox) if query.bbox else None,
        "bbox-crs": query.bbox_crs if query.bbox and query.bbox_crs != CRS84 else None,
        "crs": query.crs if query.crs != CRS84 else None,
        "datetime": query.datetime or None,
    }


def _render(data: _Data, rows: np.ndarray, crs: str) -> list[dict[str, Any]]:
    if rows.size == 0:
        return []
    geoms = data.geoms[rows]
    present = np.array([g is not None for g in geoms], dtype=bool)
    out_geoms = np.full(len(rows), None, dtype=object)
    if present.any():
        projected = transform_geometries(np.asarray(geoms[present]), CRS84, crs)
        decimals = DECIMALS[crs]
        rounded = shapely.transform(projected, lambda c: np.round(c, decimals))
        out_geoms[present] = [json.loads(s) for s in shapely.to_geojson(rounded)]
    return [
        {
            "type": "Feature",
            "id": data.features[i]["id"],
            "geometry": g,
            "properties": data.features[i]["properties"],
        }
        for i, g in zip(rows.tolist(), out_geoms.tolist(), strict=True)
    ]


def item(
    conn: Connection,
    collection_id: str,
    feature_id: str,
    policy: DisclosurePolicy | None,
    base: str,
    crs: str = CRS84,
    datetime: str | None = None,
) -> dict[str, Any]:
    """One feature by id, with ``self`` and ``collection`` links.

    Raises
    ------
    UnknownFeature
        If the collection has no feature with this id.
    """
    spec = get_collection(conn, collection_id)
    period = parse_datetime(datetime)
    data = collection_data(conn, spec, policy, period if spec.temporal is not None else None)
    found = [i for i, f in enumerate(data.features) if str(f["id"]) == feature_id]
    if not found:
        raise UnknownFeature(f"collection {spec.id!r} has no feature with the id {feature_id!r}")
    feature = _render(data, np.array(found[:1]), crs)[0]
    url = f"{base}/collections/{spec.id}"
    feature["links"] = [
        _link(f"{url}/items/{feature_id}", "self", GEOJSON, "This feature"),
        _link(url, "collection", JSON, "The collection"),
    ]
    return feature


def check_limit(limit: int, max_limit: int) -> int:
    """OGC API: a limit above the maximum is not an error; the maximum is used instead."""
    if limit < 1:
        raise InvalidParameter(f"`limit` was {limit} but is expected to be at least 1")
    return min(limit, max_limit)


def level_collection_id(level: str) -> str:
    """The collection id of a standard level or custom set code."""
    if level in STANDARD_LEVELS:
        return LEVEL_COLLECTIONS[level]
    return f"{CUSTOM_PREFIX}{level}"
