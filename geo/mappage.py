"""The map page's deck, described in Python with pydeck: layers, view and tooltips.

pydeck's ``to_html()`` always links its JavaScript from a CDN, so the page does not use
it: :func:`deck_spec` returns pydeck's ``to_json()`` (the deck.gl JSON the page's
vendored bundle turns into a ``Deck`` with ``createDeck``) plus what the page's controls
need: the layers it can switch between, the services and measures of the choropleth,
colour-blind-safe palettes and the legend labels. No basemap provider is set (no Mapbox
token, no remote style): the demo's roads layer is the basemap.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import pydeck as pdk
from sqlalchemy import Connection

from geo.cache import VersionedCache, cache_key
from geo.db import load_sql
from geo.errors import InvalidRequest
from geo.tiles import area_measures, check_service, data_version, district_bounds, get_layer, layer_registry

#: The vendored deck.gl bundle (from the pydeck wheel) and loaders.gl MVT worker (npm);
#: scripts/vendor-frontend.sh puts them in frontend_static/vendor with these names.
DECK_BUNDLE = "/vendor/pydeck-0.9.3-deckgl-9.3.6.js"
MVT_WORKER = "/vendor/loaders.gl-mvt-4.4.3-worker.js"

#: Colour-blind-safe sequential palettes (matplotlib's viridis and cividis, 9 stops,
#: Nuñez et al. 2018 for cividis), a diverging one for indices centred on 100 (ColorBrewer's
#: PuOr, orange below and purple above; the page never uses its white middle, so "as
#: expected" is not confused with "no data"), and Okabe & Ito's colours for classes.
PALETTES: dict[str, list[list[int]]] = {
    "viridis": [
        [68, 1, 84],
        [71, 44, 122],
        [59, 81, 139],
        [44, 113, 142],
        [33, 144, 141],
        [39, 173, 129],
        [92, 200, 99],
        [170, 220, 50],
        [253, 231, 37],
    ],
    "cividis": [
        [0, 34, 78],
        [35, 55, 108],
        [76, 76, 108],
        [104, 98, 111],
        [128, 121, 119],
        [156, 145, 117],
        [187, 170, 105],
        [219, 196, 83],
        [253, 231, 55],
    ],
    "puor": [
        [179, 88, 6],
        [224, 130, 20],
        [253, 184, 99],
        [254, 224, 182],
        [247, 247, 247],
        [216, 218, 235],
        [178, 171, 210],
        [128, 115, 172],
        [84, 39, 136],
    ],
}
CLASS_COLOURS: dict[str, list[int]] = {
    "hot": [213, 94, 0],
    "not": [0, 114, 178],
    "as_expected": [200, 200, 200],
}

#: The choropleth's measures: property in the tiles, label, palette, format, whether it
#: needs ``service``; ``ratio`` (shown as an index) is diverging around 1 (as expected).
MEASURES: list[dict[str, Any]] = [
    {"id": "households", "label": "Households", "palette": "viridis", "format": "int", "service": False},
    {"id": "takeup", "label": "Take-up (households using / households)", "palette": "viridis",
     "format": "pct", "service": True},
    {"id": "events", "label": "Service events", "palette": "viridis", "format": "int", "service": True},
    {"id": "ratio", "label": "Index (100 = as expected)", "palette": "puor", "format": "index",
     "service": True},
    {"id": "class", "label": "Hot / not spot", "palette": "classes", "format": "class", "service": True},
    {"id": "unmet", "label": "Unmet demand (households)", "palette": "viridis", "format": "int",
     "service": True},
]  # fmt: skip

#: Tile layers the choropleth can show, in switcher order.
CHOROPLETH_LAYERS = ("wards", "lsoas", "oas", "hotspots", "h3")

AREA_TOOLTIP = "{name} ({code})\nHouseholds: {households}"


def _tile_url(layer: str, version: int) -> str:
    return f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf?v={version}"


def _mvt_layer(layer_id: str, url: str, **props: Any) -> pdk.Layer:
    """An MVTLayer whose tiles are decoded by the locally served loaders.gl worker."""
    return pdk.Layer(
        "MVTLayer",
        id=layer_id,
        data=url,
        load_options={"mvt": {"workerUrl": MVT_WORKER}},
        **props,
    )


def fit_zoom(bounds: list[float], width_px: int = 720, height_px: int = 640) -> float:
    """The zoom at which ``bounds`` fits a map of about the page's size (deck.gl's 512-px world).

    Web mercator: the world is ``512 * 2**zoom`` pixels wide; latitude spans are stretched
    by the mercator ``y = ln(tan(pi/4 + phi/2))``.
    """
    west, south, east, north = bounds
    dlon = max(east - west, 1e-6)
    merc = math.log(math.tan(math.pi / 4 + math.radians(north) / 2)) - math.log(
        math.tan(math.pi / 4 + math.radians(south) / 2)
    )
    zoom_x = math.log2(width_px * 360 / (512 * dlon))
    zoom_y = math.log2(height_px * 2 * math.pi / (512 * max(merc, 1e-9)))
    return round(min(zoom_x, zoom_y, 16.0), 2)


def build_deck(version: int, centre: list[float], bounds: list[float]) -> pdk.Deck:
    """The deck: roads as basemap, the area choropleth (wards first), hexagons, sites."""
    roads = _mvt_layer(
        "roads",
        _tile_url("roads", version),
        get_line_color="properties.road_class === 'a_road' ? [150, 120, 90] : "
        "(properties.road_class === 'b_road' ? [170, 150, 120] : [190, 190, 190])",
        get_line_width="properties.road_class === 'a_road' ? 4 : "
        "(properties.road_class === 'b_road' ? 3 : 1)",
        line_width_units=pdk.types.String("pixels"),
        line_width_min_pixels=1,
        pickable=False,
    )
    areas = _mvt_layer(
        "areas",
        _tile_url("wards", version),
        unique_id_property=pdk.types.String("code"),
        filled=True,
        stroked=True,
        get_fill_color=[200, 200, 200, 140],
        get_line_color=[40, 40, 40, 200],
        line_width_min_pixels=1,
        opacity=0.75,
        pickable=True,
        auto_highlight=True,
        highlight_color=[255, 255, 255, 90],
    )
    hexes = _mvt_layer(
        "h3",
        _tile_url("h3", version),
        unique_id_property=pdk.types.String("cell"),
        visible=False,
        filled=True,
        stroked=True,
        get_fill_color=[200, 200, 200, 140],
        get_line_color=[255, 255, 255, 120],
        line_width_min_pixels=0.5,
        opacity=0.75,
        pickable=True,
        auto_highlight=True,
    )
    sites = _mvt_layer(
        "sites",
        _tile_url("sites", version),
        point_type=pdk.types.String("circle"),
        get_fill_color="properties.is_existing ? [0, 0, 0] : [255, 255, 255]",
        get_line_color=[0, 0, 0],
        stroked=True,
        point_radius_units=pdk.types.String("pixels"),
        get_point_radius=5,
        line_width_min_pixels=1.5,
        pickable=True,
    )
    # Planning answers (issue 7: sites with catchments, van routes with stops) are drawn
    # here when an officer asks for one; the page fills in the data.
    planning = pdk.Layer(
        "GeoJsonLayer",
        id="planning",
        data={"type": "FeatureCollection", "features": []},
        visible=False,
        filled=True,
        stroked=True,
        get_fill_color=[0, 0, 0, 0],
        get_line_color=[0, 0, 0, 255],
        line_width_units=pdk.types.String("pixels"),
        get_line_width=2,
        point_type=pdk.types.String("circle"),
        point_radius_units=pdk.types.String("pixels"),
        get_point_radius=7,
        pickable=True,
    )
    view = pdk.ViewState(
        longitude=centre[0], latitude=centre[1], zoom=fit_zoom(bounds), min_zoom=8, max_zoom=18
    )
    return pdk.Deck(
        layers=[roads, areas, hexes, sites, planning],
        initial_view_state=view,
        views=[pdk.View("MapView", controller=True)],
        map_provider=None,
        map_style=None,
        tooltip={"text": AREA_TOOLTIP},
    )


def deck_spec(conn: Connection) -> dict[str, Any]:
    """The page's deck JSON and the choices its controls offer (layers, services, measures)."""
    version = data_version(conn)
    bounds, centre = district_bounds(conn)
    deck = build_deck(version, centre, bounds)
    services = [
        {
            "code": r.code,
            "name": r.name,
            "unit": r.unit,
            "polarity": r.polarity,
            # the months the time slider steps over
            "first": r.first_day.isoformat() if r.first_day else None,
            "last": r.last_day.isoformat() if r.last_day else None,
        }
        for r in conn.execute(load_sql("map/services"))
    ]
    registry = layer_registry(conn)
    switchable = [n for n in CHOROPLETH_LAYERS if n in registry]
    switchable += [n for n in registry if n.startswith("set_")]
    deck_json = json.loads(deck.to_json())
    # The page reuses this instance (deck.gl's JSON converter builds it) to fly to places.
    deck_json["initialViewState"]["transitionInterpolator"] = {"@@type": "FlyToInterpolator"}
    return {
        "deck": deck_json,
        "tooltip": deck._tooltip,
        "version": version,
        "bounds": bounds,
        "worker_url": MVT_WORKER,
        "layers": [
            {
                "name": n,
                "title": registry[n].title,
                "url": _tile_url(n, version),
                "takes_service": True,
                "areas": registry[n].sql == "tiles/areas",
                "only_classed": registry[n].only_classed,
            }
            for n in switchable
        ],
        "services": services,
        "measures": MEASURES,
        "palettes": PALETTES,
        "class_colours": CLASS_COLOURS,
        "break_methods": list(BREAK_METHODS),
    }


def map_labels(conn: Connection) -> dict[str, Any]:
    """Ward labels (a point on each ward's surface) and district outlines for the page's map."""
    rows = conn.execute(load_sql("map/labels")).mappings().all()
    return {
        "labels": [
            {"code": r["code"], "name": r["name"], "lon": r["lon"], "lat": r["lat"]}
            for r in rows
            if r["level"] == "ward"
        ],
        "districts": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": json.loads(r["outline"]),
                    "properties": {"code": r["code"], "name": r["name"], "role": "district"},
                }
                for r in rows
                if r["level"] == "district" and r["outline"]
            ],
        },
    }


# --------------------------------------------------------------------------- class breaks

#: How class breaks can be chosen: equal counts of areas per class, equal widths, or
#: "natural" breaks (one-dimensional k-means, which minimises the within-class variance
#: like Jenks' method, started from the quantile classes).
BREAK_METHODS = ("quantile", "equal", "natural", "manual")
#: Measures whose colour is diverging around a centre (observed / expected: 1, shown as 100).
DIVERGING_CENTRE = {"ratio": 1.0}
NUMERIC_MEASURES = ("households", "takeup", "events", "ratio", "unmet")
_values: VersionedCache[list[dict[str, Any]]] = VersionedCache(64)


def area_values(
    conn: Connection,
    layer_name: str,
    service: str | None,
    threshold: int,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Every area of an area layer with the measures the map colours by, as tiles show them.

    A figure hidden by the small-count rule is ``"suppressed"``; one that does not exist
    (no service, no households, no analysis for the area) is ``None``.
    """
    layer = get_layer(conn, layer_name)
    if layer.sql != "tiles/areas":
        raise InvalidRequest(f"layer {layer_name!r} is not an area layer: class breaks need areas")
    if service is None and layer.only_classed:
        return []
    check_service(conn, service)
    version = data_version(conn)

    def compute() -> list[dict[str, Any]]:
        measures = area_measures(conn, layer, service, version, date_from, date_to) if service else None
        rows = conn.execute(
            load_sql("map/area_values"),
            {
                "level": layer.level,
                "set_code": layer.set_code,
                "service": service,
                "threshold": threshold,
                "measures": measures,
                "only_classed": layer.only_classed,
                "date_from": date_from,
                "date_to": date_to,
            },
        ).mappings()
        out = []
        for r in rows:
            hidden = bool(r["hide_households"])
            hidden_use = hidden or bool(r["hide_use"])
            row: dict[str, Any] = {
                "code": r["code"],
                "households": "suppressed" if hidden else r["households"],
            }
            if service:
                households = r["households"] or 0
                row["events"] = "suppressed" if r["hide_use"] else r["events"]
                # rounded as the tiles round them, so an area sits in the same class here
                # and on the map
                row["takeup"] = (
                    "suppressed"
                    if hidden_use
                    else (round(r["users"] / households, 4) if households else None)
                )
                for name, places in (("ratio", 4), ("unmet", 2)):
                    value = r[name]
                    if value is not None and hidden_use:
                        row[name] = "suppressed"
                    else:
                        row[name] = None if value is None else round(float(value), places)
                row["class"] = r["class"]
            out.append(row)
        return out

    return _values.get_or_compute_at(
        version, cache_key(layer_name, service, threshold, date_from, date_to), compute
    )


def _kmeans_edges(values: np.ndarray, k: int) -> list[float]:
    """Natural breaks: 1-D k-means from the quantile classes; edges halfway between centres."""
    centres = np.unique(np.quantile(values, (np.arange(k) + 0.5) / k))
    for _ in range(100):
        label = np.abs(values[:, None] - centres[None, :]).argmin(axis=1)
        new = np.array([values[label == j].mean() for j in range(len(centres)) if (label == j).any()])
        if len(new) == len(centres) and np.allclose(new, centres):
            break
        centres = new
    inner = [(a + b) / 2 for a, b in zip(centres[:-1], centres[1:], strict=True)]
    return [float(values.min()), *map(float, inner), float(values.max())]


def _edges(data: np.ndarray, method: str, k: int) -> list[float]:
    if method == "quantile":
        return [float(v) for v in np.quantile(data, np.linspace(0, 1, k + 1))]
    if method == "equal":
        return [float(v) for v in np.linspace(data.min(), data.max(), k + 1)]
    return _kmeans_edges(data, k)


def break_edges(values: Any, method: str, classes: int, centre: float | None = None) -> list[float]:
    """The class edges (ascending, distinct, min first and max last) of ``values``.

    With a ``centre`` inside the range (diverging measures) the values below and above it
    are classed separately, the classes shared in proportion to the areas on each side, and
    the centre is an edge: no class straddles "as expected".
    """
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if method not in BREAK_METHODS or method == "manual":
        raise InvalidRequest(f"unknown class break method {method!r}: use one of {', '.join(BREAK_METHODS)}")
    if data.size == 0:
        return []
    k = max(1, min(int(classes), 9))
    if centre is None or not (data.min() < centre < data.max()) or k < 2:
        return sorted(set(_edges(data, method, k)))
    low, high = data[data < centre], data[data >= centre]
    k_low = min(k - 1, max(1, round(k * low.size / data.size)))
    edges = _edges(np.append(low, centre), method, k_low) + _edges(np.append(high, centre), method, k - k_low)
    return sorted(set(edges))


def _manual_edges(numbers: list[float], inner: list[float]) -> list[float]:
    """The user's inner edges, closed by the data's min and max where those lie outside them."""
    if not numbers:
        return []
    lo, hi = min(numbers), max(numbers)
    return [min(lo, inner[0]), *inner, max(hi, inner[-1])]


def class_breaks(
    conn: Connection,
    layer_name: str,
    measure: str,
    service: str | None,
    *,
    method: str = "quantile",
    classes: int = 5,
    threshold: int = 0,
    edges: list[float] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    """Class breaks of ``measure`` over every area of the layer, with counts per class.

    ``edges`` are k+1 ascending values; class ``i`` holds ``edges[i] <= v < edges[i+1]``
    (the last class includes its upper edge). ``no_data`` and ``suppressed`` count the
    areas drawn in their own styles. ``method="manual"`` takes the user's inner ``edges``
    (ascending); the data's minimum and maximum close the first and last class.
    ``date_from``/``date_to`` count only the events between them (inclusive).
    """
    if measure not in NUMERIC_MEASURES and measure != "class":
        raise InvalidRequest(f"unknown measure {measure!r}")
    if measure != "households" and service is None:
        raise InvalidRequest(f"measure {measure!r} needs a service")
    if date_from and date_to and date_from > date_to:
        raise InvalidRequest(f"`date_from` ({date_from}) is after `date_to` ({date_to})")
    if method == "manual":
        inner = [float(e) for e in edges or []]
        if not inner or not all(np.isfinite(inner)):
            raise InvalidRequest(
                "`edges` is expected to hold at least one number for manual breaks, e.g. 0.1,0.2"
            )
        if any(b <= a for a, b in zip(inner[:-1], inner[1:], strict=True)):
            raise InvalidRequest(f"`edges` were {inner} but are expected to be strictly ascending")
        if len(inner) > 8:
            raise InvalidRequest(f"`edges` held {len(inner)} values but at most 8 (9 classes) are allowed")
    rows = area_values(conn, layer_name, service, threshold, date_from, date_to)
    values = [r.get(measure) for r in rows]
    suppressed = sum(1 for v in values if v == "suppressed")
    answer: dict[str, Any] = {
        "layer": layer_name,
        "measure": measure,
        "service": service,
        "method": method,
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "areas": len(rows),
        "suppressed": suppressed,
    }
    if measure == "class":
        counts: dict[str, int] = {}
        for v in values:
            if isinstance(v, str) and v != "suppressed":
                counts[v] = counts.get(v, 0) + 1
        answer.update(classes=counts, no_data=sum(1 for v in values if v is None), edges=[], counts=[])
        return answer
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    centre = DIVERGING_CENTRE.get(measure)
    if method == "manual":
        edges = _manual_edges(numbers, [float(e) for e in edges or []])
    else:
        edges = break_edges(numbers, method, classes, centre)
    counts_list = []
    if len(edges) >= 2:
        idx = np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, len(edges) - 2)
        counts_list = np.bincount(idx, minlength=len(edges) - 1).tolist()
    elif edges:
        counts_list = [len(numbers)]
    answer.update(
        edges=edges,
        counts=counts_list,
        no_data=sum(1 for v in values if v is None),
        centre=centre,
        min=min(numbers) if numbers else None,
        max=max(numbers) if numbers else None,
    )
    return answer
