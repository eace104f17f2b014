"""geo.tiles: tile addresses, the layer registry, rendering, disclosure and the cache."""

from __future__ import annotations

import gzip

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from geo.errors import InvalidTileAddress, UnknownLayer, UnknownService
from geo.tiles import (
    STATIC_LAYERS,
    TileCache,
    TileConfig,
    TileParams,
    district_bounds,
    fetch_tile,
    h3_resolution,
    layer_registry,
    render_tile,
    simplify_tolerance_m,
    tile_address,
    tile_bounds_3857,
    tiles_covering,
)

# ---------------------------------------------------------------- pure


def test_tile_address_accepts_the_matrix_and_names_what_is_wrong() -> None:
    assert tile_address("14", "8100", "5300") == (14, 8100, 5300)
    assert tile_address(0, 0, 0) == (0, 0, 0)
    with pytest.raises(InvalidTileAddress, match="`z` was 23"):
        tile_address(23, 0, 0)
    with pytest.raises(InvalidTileAddress, match="`x` was 4 .* between 0 and 3 at zoom 2"):
        tile_address(2, 4, 0)
    with pytest.raises(InvalidTileAddress, match="`y` was -1"):
        tile_address(2, 0, -1)
    with pytest.raises(InvalidTileAddress, match="not three integers"):
        tile_address("a", "0", "0")


def test_tile_bounds_match_web_mercator_quadrants() -> None:
    xmin, ymin, xmax, ymax = tile_bounds_3857(1, 1, 0)
    assert (xmin, ymin) == (0.0, 0.0)
    assert xmax == pytest.approx(20037508.342789244) and ymax == pytest.approx(20037508.342789244)


def test_simplification_halves_per_zoom_and_stops_when_detailed() -> None:
    config = TileConfig(extent=4096, simplify_units=1.0, simplify_max_zoom=15)
    # one tile unit at z10: 2 * 20037508.34 / 1024 / 4096 = 9.55 m
    assert simplify_tolerance_m(10, config) == pytest.approx(9.5546, rel=1e-4)
    assert simplify_tolerance_m(11, config) == pytest.approx(simplify_tolerance_m(10, config) / 2)
    assert simplify_tolerance_m(16, config) == 0.0


def test_h3_resolution_never_coarsens_as_zoom_grows() -> None:
    resolutions = [h3_resolution(z) for z in range(6, 20)]
    assert resolutions == sorted(resolutions)
    assert resolutions[0] == 6 and resolutions[-1] == 10


def test_tiles_covering_spans_the_bounds() -> None:
    tiles = tiles_covering([1.0, 52.0, 1.3, 52.2], 12)
    xs = {x for _, x, _ in tiles}
    ys = {y for _, _, y in tiles}
    assert len(tiles) == len(xs) * len(ys)
    west, _, _, north = tile_bounds_3857(12, min(xs), min(ys))
    assert west <= 1.0 * 111319.49 and north >= 6800125  # 52.2N in 3857 is ~6.80e6 m


def test_tile_cache_evicts_least_recently_used() -> None:
    cache = TileCache(max_entries=2)
    cache.put(("a",), b"1")
    cache.put(("b",), None)
    assert cache.get(("a",)) == (True, b"1")  # a is now most recent
    cache.put(("c",), b"3")
    assert cache.get(("b",)) == (False, None)
    assert cache.get(("a",))[0] and cache.get(("c",))[0]
    assert len(cache) == 2


# ---------------------------------------------------------------- database


def _decode(raw: bytes) -> dict:
    return mapbox_vector_tile.decode(raw) if raw else {}


def _features(conn, layer: str, z: int, params: TileParams | None = None) -> dict[str, dict]:
    """Every feature of ``layer`` over the district at zoom ``z``, by code (deduplicated)."""
    bounds, _ = district_bounds(conn)
    out: dict[str, dict] = {}
    for tz, tx, ty in tiles_covering(bounds, z):
        for feature in (
            _decode(render_tile(conn, layer, tz, tx, ty, params)).get(layer, {}).get("features", [])
        ):
            props = feature["properties"]
            out.setdefault(props.get("code") or props.get("cell") or str(feature.get("id")), props)
    return out


SMALL_COUNT_SERVICE = (
    "SELECT service_code FROM (SELECT service_code, oa_code, count(DISTINCT uprn) AS users, count(*) AS events "
    "FROM service_event WHERE is_primary AND oa_code IS NOT NULL GROUP BY 1, 2) q "
    "GROUP BY 1 ORDER BY count(*) FILTER (WHERE users BETWEEN 1 AND 4 OR events BETWEEN 1 AND 4) DESC, "
    "service_code LIMIT 1"
)


@pytest.fixture(scope="module")
def small_count_service(engine) -> str:
    """The service with the most output areas where only a few households use it."""
    with engine.connect() as c:
        return c.execute(text(SMALL_COUNT_SERVICE)).scalar_one()


@pytest.fixture(scope="module")
def service_code(engine) -> str:
    """The service with the most primary events (so suppression and take-up both show)."""
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT service_code FROM service_event WHERE is_primary "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()


def test_registry_has_every_fixed_layer_and_unknown_ones_are_named(conn) -> None:
    layers = layer_registry(conn)
    assert set(STATIC_LAYERS) <= set(layers)
    with pytest.raises(UnknownLayer, match="`layer` was 'nope'.*'wards'"):
        render_tile(conn, "nope", 10, 0, 0)


def test_ward_tiles_hold_all_26_wards_with_their_households(conn) -> None:
    wards = _features(conn, "wards", 10)
    expected = dict(conn.execute(text("SELECT code, households FROM area WHERE level = 'ward'")).all())
    assert len(expected) == 26
    assert {code: p["households"] for code, p in wards.items()} == expected
    names = dict(conn.execute(text("SELECT code, name FROM area WHERE level = 'ward'")).all())
    assert all(wards[c]["name"] == names[c] for c in names)


def test_oa_take_up_is_households_using_over_households(conn, service_code) -> None:
    oas = _features(conn, "oas", 12, TileParams(service=service_code))
    truth = {
        r.oa_code: (r.events, r.users)
        for r in conn.execute(
            text(
                "SELECT oa_code, count(*) AS events, count(DISTINCT uprn) AS users FROM service_event "
                "WHERE service_code = :s AND is_primary AND oa_code IS NOT NULL GROUP BY oa_code"
            ),
            {"s": service_code},
        )
    }
    n_oas = conn.execute(text("SELECT count(*) FROM area WHERE level = 'oa'")).scalar_one()
    assert len(oas) == n_oas
    checked = 0
    for code, p in oas.items():
        events, users = truth.get(code, (0, 0))
        assert p["events"] == events and p["users"] == users, code
        if p["households"]:
            assert p["takeup"] == pytest.approx(users / p["households"], abs=5e-5)
            checked += 1
    assert checked > 0.9 * n_oas


def test_ward_use_is_the_sum_of_its_output_areas(conn, service_code) -> None:
    params = TileParams(service=service_code)
    wards = _features(conn, "wards", 10, params)
    oas = _features(conn, "oas", 12, params)
    parent = dict(
        conn.execute(text("SELECT oa_code, area_code FROM area_membership WHERE level = 'ward'")).all()
    )
    summed: dict[str, int] = {}
    for code, p in oas.items():
        summed[parent[code]] = summed.get(parent[code], 0) + p["events"]
    assert {c: p["events"] for c, p in wards.items()} == summed


def test_public_tiles_suppress_small_counts_and_their_rates(conn, small_count_service) -> None:
    service_code = small_count_service
    officer = _features(conn, "oas", 12, TileParams(service=service_code, threshold=0))
    public = _features(conn, "oas", 12, TileParams(service=service_code, threshold=4))
    small = [c for c, p in officer.items() if 1 <= p["users"] <= 4 or 1 <= p["events"] <= 4]
    large = [c for c, p in officer.items() if p["users"] > 4 and p["events"] > 4]
    assert small and large, "the test borough should have OAs with few and with many users"
    for code in small:
        assert public[code]["users"] == "<5" and public[code]["events"] == "<5"
        assert "takeup" not in public[code]
    for code in large:
        assert public[code]["users"] == officer[code]["users"]
        assert public[code]["takeup"] == officer[code]["takeup"]


def test_unknown_service_is_refused_by_name(conn) -> None:
    with pytest.raises(UnknownService, match="`service` was 'no_such_service'"):
        render_tile(conn, "wards", 10, 0, 0, TileParams(service="no_such_service"))


def test_hexagon_households_add_up_to_residential_addresses(conn) -> None:
    for z in (10, 13):
        cells = _features(conn, "h3", z)
        assert {p["resolution"] for p in cells.values()} == {h3_resolution(z)}
        total = conn.execute(text("SELECT count(*) FROM address WHERE is_residential")).scalar_one()
        assert sum(p["households"] for p in cells.values()) == total


def test_hexagon_events_add_up_to_located_primary_events(conn, service_code) -> None:
    cells = _features(conn, "h3", 11, TileParams(service=service_code))
    located = conn.execute(
        text(
            "SELECT count(*) FROM service_event e JOIN address a USING (uprn) "
            "WHERE e.service_code = :s AND e.is_primary AND a.is_residential"
        ),
        {"s": service_code},
    ).scalar_one()
    assert sum(p["events"] for p in cells.values()) == located


def test_roads_show_minor_roads_only_zoomed_in(conn) -> None:
    bounds, centre = district_bounds(conn)
    z = 12
    classes_low = {p["road_class"] for p in _features(conn, "roads", z).values()}
    assert classes_low <= {"a_road", "b_road"} and classes_low
    # z14 tile at the centre of the borough is in town: streets appear there
    classes_high = set()
    for tz, tx, ty in tiles_covering(
        [centre[0] - 0.02, centre[1] - 0.02, centre[0] + 0.02, centre[1] + 0.02], 14
    ):
        for f in _decode(render_tile(conn, "roads", tz, tx, ty)).get("roads", {}).get("features", []):
            classes_high.add(f["properties"]["road_class"])
    assert classes_high - {"a_road", "b_road"}


def test_sites_layer_holds_every_site(conn) -> None:
    sites = _features(conn, "sites", 10)
    expected = dict(conn.execute(text("SELECT id, name FROM site")).all())
    assert {int(k): p["name"] for k, p in sites.items()} == expected


def test_empty_tile_is_empty_bytes(conn) -> None:
    assert render_tile(conn, "oas", 10, 0, 0) == b""


def test_custom_area_set_gets_its_own_layer(conn) -> None:
    wards = (
        conn.execute(text("SELECT code FROM area WHERE level = 'ward' ORDER BY code LIMIT 2")).scalars().all()
    )
    conn.execute(text("INSERT INTO area_set (code, name, kind) VALUES ('test_pair', 'Two wards', 'custom')"))
    conn.execute(
        text(
            "INSERT INTO area (code, name, level, set_code, households, geom, geom_3857) "
            "SELECT 'CUST1', 'Two wards', 'custom', 'test_pair', sum(households), "
            "ST_Multi(ST_Union(geom)), ST_Multi(ST_Transform(ST_Union(geom), 3857)) "
            "FROM area WHERE code = ANY(:w)"
        ),
        {"w": wards},
    )
    conn.execute(
        text(
            "INSERT INTO area_membership (oa_code, area_code, level, set_code) "
            "SELECT oa_code, 'CUST1', 'custom', 'test_pair' FROM area_membership WHERE area_code = ANY(:w)"
        ),
        {"w": wards},
    )
    assert "set_test_pair" in layer_registry(conn)
    custom = _features(conn, "set_test_pair", 10)
    both = conn.execute(
        text("SELECT sum(households) FROM area WHERE code = ANY(:w)"), {"w": wards}
    ).scalar_one()
    assert custom == {"CUST1": custom["CUST1"]} and custom["CUST1"]["households"] == both


def test_cache_serves_until_the_data_changes(conn, service_code) -> None:
    cache = TileCache(16)
    config = TileConfig()
    params = TileParams(service=service_code)
    oa, uprn = conn.execute(
        text("SELECT oa_code, uprn FROM address WHERE is_residential AND oa_code IS NOT NULL LIMIT 1")
    ).one()
    cx, cy = conn.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p FROM area WHERE code = :c) q"
        ),
        {"c": oa},
    ).one()
    (z, x, y) = tiles_covering([cx, cy, cx, cy], 14)[0]

    def events_in_tile() -> tuple[int, str]:
        tile = fetch_tile(conn, cache, "oas", z, x, y, params, config)
        feats = mapbox_vector_tile.decode(gzip.decompress(tile.body_gzip))["oas"]["features"]
        return next(f["properties"]["events"] for f in feats if f["properties"]["code"] == oa), tile.etag

    before, etag1 = events_in_tile()
    assert events_in_tile()[1] == etag1 and cache.hits == 1
    # a matching If-None-Match skips rendering
    assert fetch_tile(conn, cache, "oas", z, x, y, params, config, if_none_match=etag1).not_modified
    conn.execute(
        text(
            "INSERT INTO service_event (service_code, event_date, source_system, match_level, uprn, oa_code, is_primary) "
            "VALUES (:s, DATE '2025-01-01', 'test', 'uprn', :u, :oa, true)"
        ),
        {"s": service_code, "u": uprn, "oa": oa},
    )
    after, etag2 = events_in_tile()
    assert after == before + 1 and etag2 != etag1


def test_area_tiles_carry_the_hot_spot_analysis(conn, service_code) -> None:
    from geo.analysis.hotspot_queries import hotspot_frame
    from geo.areas import Geography

    frame = hotspot_frame(conn, service_code, Geography("ward")).set_index("area_code")
    wards = _features(conn, "wards", 10, TileParams(service=service_code))
    assert set(wards) == set(frame.index)
    for code, p in wards.items():
        assert p["class"] == frame.at[code, "class"]
        assert p["ratio"] == pytest.approx(frame.at[code, "ratio"], abs=5e-5)
        assert p["expected"] == pytest.approx(frame.at[code, "expected"], abs=5e-3)
        assert p["unmet"] == pytest.approx(frame.at[code, "unmet"], abs=5e-3)


def test_hotspots_layer_holds_the_classed_output_areas_and_finds_planted_ones(conn, truth) -> None:
    from geo.analysis.hotspot_queries import hotspot_frame
    from geo.areas import Geography

    planted = {
        code: {oa for cluster in spec.get("hot", []) for oa in cluster["oa_codes"]}
        for code, spec in truth["services"].items()
    }
    service = max(planted, key=lambda s: len(planted[s]))
    assert planted[service], "the demo plants hot spots"
    frame = hotspot_frame(conn, service, Geography("oa"))
    classed = dict(zip(frame["area_code"], frame["class"], strict=True))
    layer = _features(conn, "hotspots", 11, TileParams(service=service))
    assert set(layer) == {c for c, k in classed.items() if k in ("hot", "not")}
    assert all(p["class"] in ("hot", "not") for p in layer.values())
    found = {c for c, p in layer.items() if p["class"] == "hot"} & planted[service]
    assert found, f"no planted hot OA of {service} shows as hot in the hotspots layer"
    assert _features(conn, "hotspots", 11) == {}  # no service, no analysis, empty tiles


def test_version_watcher_learns_of_a_committed_change(engine, database_url) -> None:
    import time

    from geo.tiles import DataVersionWatcher, data_version

    watcher = DataVersionWatcher(database_url, poll_s=0.2).start()
    try:
        deadline = time.monotonic() + 10
        while watcher.current() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        with engine.connect() as c:
            assert watcher.current() == data_version(c)
        before = watcher.current()
        with engine.begin() as c:
            c.execute(text("UPDATE data_version SET version = version + 1 WHERE name = 'tiles'"))
            time.sleep(0.3)
            assert watcher.current() == before  # not before the commit
        deadline = time.monotonic() + 5
        while watcher.current() == before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watcher.current() == before + 1
    finally:
        watcher.stop()
    assert watcher.current() is None
