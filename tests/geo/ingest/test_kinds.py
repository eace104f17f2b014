"""The reference kinds: postcodes (onspd preset) and gazetteer addresses with aliases, then matched."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text

from geo.ingest import ingest_frame
from geo.matching.gazetteer import load_gazetteer
from geo.matching.ladder import match_records
from tests.geo.ingest.conftest import count

SALT = "test-salt"


def test_onspd_postcodes_take_their_given_output_area(conn) -> None:
    rows = conn.execute(
        text(
            "SELECT postcode, oa_code, district_code, ST_X(geom) AS x, ST_Y(geom) AS y FROM postcode ORDER BY postcode_norm LIMIT 3"
        )
    ).all()
    frame = pd.DataFrame(
        {
            "pcds": ["QW99 9AA", "QW99 9AB", "not a postcode"],
            "oseast1m": [str(round(rows[0].x)), str(round(rows[1].x)), "1"],
            "osnrth1m": [str(round(rows[0].y)), str(round(rows[1].y)), "1"],
            "oa21cd": [rows[0].oa_code, rows[1].oa_code, ""],
            "laua": [rows[0].district_code] * 3,
        }
    )
    report = ingest_frame(conn, "postcodes", frame, preset="onspd", salt=SALT)
    assert report.rows_loaded == 2 and report.rows_rejected == 1
    got = conn.execute(
        text(
            "SELECT postcode, oa_code FROM postcode WHERE postcode_norm IN ('QW999AA', 'QW999AB') ORDER BY 1"
        )
    ).all()
    assert [tuple(r) for r in got] == [("QW99 9AA", rows[0].oa_code), ("QW99 9AB", rows[1].oa_code)]


def test_gazetteer_addresses_and_aliases_load_and_then_match(conn) -> None:
    oa = conn.execute(
        text(
            "SELECT code, ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM area WHERE level = 'oa' ORDER BY code LIMIT 1"
        )
    ).one()
    frame = pd.DataFrame(
        {
            "UPRN": ["880000000001", "880000000002", "-5"],
            "PAON": ["1", "Rose Villa", "2"],
            "Street": ["Quillet Lane", "Quillet Lane", "Quillet Lane"],
            "Town": ["Saltmouth"] * 3,
            "Postcode": ["QW98 1ZZ"] * 3,
            "Easting": [str(oa.x)] * 3,
            "Northing": [str(oa.y)] * 3,
            "Alias": ["", "The Old Forge", ""],
        }
    )
    mapping = {
        "columns": {
            "uprn": "UPRN",
            "paon": "PAON",
            "street": "Street",
            "town": "Town",
            "postcode": "Postcode",
            "x": "Easting",
            "y": "Northing",
            "alias": "Alias",
        }
    }
    report = ingest_frame(conn, "gazetteer", frame, mapping, salt=SALT)
    assert report.rows_loaded == 2 and report.rows_rejected == 1  # a negative UPRN
    assert (
        count(
            conn,
            "SELECT count(*) FROM address WHERE uprn IN (880000000001, 880000000002) AND oa_code = :oa",
            oa=oa.code,
        )
        == 2
    )
    assert count(conn, "SELECT count(*) FROM address_alias WHERE uprn = 880000000002") == 1
    gz = load_gazetteer(conn)  # the fingerprint changed inside this transaction: rebuilt
    out = match_records(
        conn,
        pd.DataFrame(
            {"address": ["The Old Forge, Quillet Lane", "1 Quilet Lane"], "postcode": ["QW98 1ZZ"] * 2}
        ),
        gz,
    )
    assert out["match_level"].tolist() == ["fuzzy", "fuzzy"]
    assert out["uprn"].tolist() == [880000000002, 880000000001]
    assert out["oa_code"].tolist() == [oa.code, oa.code]


def test_a_custom_area_set_loads_and_its_output_areas_join_by_point_in_polygon(conn, tmp_path) -> None:
    import geopandas as gpd
    from shapely import wkb

    from geo.areas import resolve_geography
    from geo.ingest import ingest_file

    wards = conn.execute(
        text(
            "SELECT code, ST_AsBinary(geom) AS g FROM area WHERE level = 'ward' AND set_code = 'demo' ORDER BY code LIMIT 2"
        )
    ).all()
    frame = gpd.GeoDataFrame(
        {"zone": ["North patch", "South patch"]}, geometry=[wkb.loads(bytes(w.g)) for w in wards], crs=27700
    ).to_crs(4326)
    path = tmp_path / "patches.geojson"
    frame.to_file(path, driver="GeoJSON")
    report = ingest_file(
        conn,
        "areas",
        path,
        salt=SALT,
        mapping={
            "columns": {"code": "zone", "name": "zone"},
            "constants": {"level": "custom", "set_code": "patches"},
        },
    )
    assert report.rows_loaded == 2 and report.match_levels == {"custom": 2}
    assert resolve_geography(conn, "patches").set_code == "patches"
    for w in wards:
        in_ward = count(
            conn, "SELECT count(*) FROM area_membership WHERE level = 'ward' AND area_code = :w", w=w.code
        )
        zone = "North patch" if w == wards[0] else "South patch"
        in_zone = count(
            conn, "SELECT count(*) FROM area_membership WHERE set_code = 'patches' AND area_code = :z", z=zone
        )
        # the zone is the ward's polygon (reprojected twice): the same OAs, give or take one on the edge
        assert abs(in_zone - in_ward) <= 1 and in_ward > 0
