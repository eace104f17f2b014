"""The tile SQL run directly: envelope and margin, feature cap, simplification, index use."""

from __future__ import annotations

import mapbox_vector_tile
from sqlalchemy import text

from geo.db import load_sql
from geo.tiles import TileConfig, _perturbation_params, district_bounds, simplify_tolerance_m, tiles_covering


def _areas_bind(z: int, x: int, y: int, **over) -> dict:
    config = TileConfig()
    bind = {
        "z": z,
        "x": x,
        "y": y,
        "extent": config.extent,
        "buffer": config.buffer,
        "layer_name": "oas",
        "threshold": 0,
        "label": "<5",
        "tolerance_m": simplify_tolerance_m(z, config),
        "max_features": config.max_features,
        "level": "oa",
        "set_code": None,
        "service": None,
        "measures": None,
        "only_classed": False,
        "date_from": None,  # all events (the period slider's open ends)
        "date_to": None,
        # true figures (an officer's tile): no perturbation, no floor
        **_perturbation_params(None),
    }
    bind.update(over)
    return bind


def _busiest_tile(conn, z: int) -> tuple[int, int, int]:
    bounds, centre = district_bounds(conn)
    return tiles_covering([centre[0], centre[1], centre[0], centre[1]], z)[0]


def _decode(raw) -> list[dict]:
    return mapbox_vector_tile.decode(bytes(raw))["oas"]["features"] if raw else []


def test_limit_caps_the_feature_count(conn) -> None:
    z, x, y = _busiest_tile(conn, 12)
    full = _decode(conn.execute(load_sql("tiles/areas"), _areas_bind(z, x, y)).scalar_one())
    capped = _decode(conn.execute(load_sql("tiles/areas"), _areas_bind(z, x, y, max_features=3)).scalar_one())
    assert len(full) > 3 and len(capped) == 3


def test_margin_brings_in_areas_just_outside_the_tile(conn) -> None:
    z, x, y = _busiest_tile(conn, 15)
    config = TileConfig()

    def touching(margin: float) -> int:
        return conn.execute(
            text(
                "SELECT count(*) FROM area WHERE level = 'oa' "
                "AND ST_Intersects(geom_3857, ST_TileEnvelope(:z, :x, :y, margin => :m))"
            ),
            {"z": z, "x": x, "y": y, "m": margin},
        ).scalar_one()

    with_margin = _decode(conn.execute(load_sql("tiles/areas"), _areas_bind(z, x, y)).scalar_one())
    no_margin = _decode(conn.execute(load_sql("tiles/areas"), _areas_bind(z, x, y, buffer=0)).scalar_one())
    assert len(no_margin) == touching(0.0)
    assert len(with_margin) == touching(config.buffer / config.extent)
    assert len(no_margin) <= len(with_margin)


def test_simplification_reduces_vertices_at_low_zoom(conn) -> None:
    z, x, y = _busiest_tile(conn, 10)

    def vertices(tolerance: float) -> int:
        feats = _decode(
            conn.execute(load_sql("tiles/areas"), _areas_bind(z, x, y, tolerance_m=tolerance)).scalar_one()
        )
        total = 0
        for f in feats:
            geom = f["geometry"]
            polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
            total += sum(len(ring) for poly in polys for ring in poly)
        return total

    simplified, raw = vertices(simplify_tolerance_m(z, TileConfig()) * 4), vertices(0.0)
    assert 0 < simplified < raw


def test_envelope_filter_uses_the_spatial_index(conn) -> None:
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        conn.execute(
            text("EXPLAIN " + load_sql("tiles/areas").text), _areas_bind(*_busiest_tile(conn, 14))
        ).scalars()
    )
    assert "geom_3857" in plan and "Index" in plan


def test_measures_from_the_analyses_are_joined_by_area_code(conn) -> None:
    z, x, y = _busiest_tile(conn, 12)
    feats = _decode(conn.execute(load_sql("tiles/areas"), _areas_bind(z, x, y)).scalar_one())
    code = feats[0]["properties"]["code"]
    measures = f'[{{"area_code": "{code}", "expected": 12.345, "ratio": 1.5, "class": "hot", "unmet": 3}}]'
    again = _decode(
        conn.execute(load_sql("tiles/areas"), _areas_bind(z, x, y, measures=measures)).scalar_one()
    )
    props = {f["properties"]["code"]: f["properties"] for f in again}
    assert props[code]["class"] == "hot" and props[code]["ratio"] == 1.5 and props[code]["expected"] == 12.35
    others = [p for c, p in props.items() if c != code]
    assert others and all("class" not in p and "ratio" not in p for p in others)
