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
