"""Issue 12: every numeric field of every kind refuses a bad value by row, field and expectation.

Missing, non-numeric and fractional values in each whole-number field (UPRNs, households,
population, counts) and non-numeric values in each coordinate field; a file that is mostly
bad fails as a whole with a clear error and a failed batch recorded. Runs on the demo
borough inside a rolled-back transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from geo.errors import IngestError, IngestRowError
from geo.ingest import ingest_file, ingest_frame

SALT = "test-salt"
# rows 2..11: good, missing, text, fraction, a float-integer, then good rows (at most 40% refused)
BAD = ["12", "", "abc", "1.5", "7.0", "12", "12", "12", "12", "12"]


def _codes(conn: Connection, level: str, n: int) -> list[str]:
    return list(
        conn.execute(
            text("SELECT code FROM area WHERE level = :l AND set_code = 'demo' ORDER BY code LIMIT :n"),
            {"l": level, "n": n},
        ).scalars()
    )


def _point(conn: Connection) -> tuple[str, str]:
    """An easting and northing inside the demo borough."""
    x, y = conn.execute(
        text("SELECT ST_X(geom)::int, ST_Y(geom)::int FROM address ORDER BY uprn LIMIT 1")
    ).one()
    return str(x), str(y)


def _uprns(conn: Connection, n: int) -> list[str]:
    rows = conn.execute(text("SELECT uprn FROM address ORDER BY uprn LIMIT :n"), {"n": n}).scalars()
    return [str(u) for u in rows]


def _frame(conn: Connection, kind: str, field: str, values: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    n = len(values)
    if kind in ("area-classification", "area-statistics", "area-counts"):
        frame = pd.DataFrame({"area_code": _codes(conn, "oa", n), field: values})
        mapping: dict[str, Any] = {}
        if kind == "area-classification":
            frame["segment_code"] = "z1"
            mapping = {"constants": {"classification": "t12"}}
        if kind == "area-counts":
            conn.execute(
                text("INSERT INTO service (code, name, category, unit) VALUES ('t12', 't', 't', 'persons')")
            )
            # a count column: blank is a suppression marker, so test the rest
            mapping = {"constants": {"service_code": "t12", "period": "2024-01"}}
        return frame, mapping
    if kind in ("events", "households", "survey"):
        uprns = _uprns(conn, n)
        # a real UPRN where the test value is good, so those rows match
        frame = pd.DataFrame({"uprn": [u if v == "12" else v for u, v in zip(uprns, values, strict=True)]})
        constants = {
            "events": {"service_code": "asb_reports", "source_system": "council", "event_date": "2024-01-05"},
            "households": {"classification": "t12h", "segment_code": "a"},
            "survey": {"survey_code": "s", "question": "q", "answer": "a"},
        }[kind]
        return frame, {"constants": constants}
    if kind == "gazetteer":
        frame = pd.DataFrame(
            {"uprn": [str(990_000_000 + i) for i in range(n)], "x": ["400000"] * n, "y": ["300000"] * n}
        )
        frame[field] = values
        return frame, {}
    if kind == "postcodes":
        # a point inside the demo borough, so the postcodes land in an output area
        x, y = _point(conn)
        frame = pd.DataFrame({"postcode": [f"QW{i} 1AB" for i in range(n)], "x": [x] * n, "y": [y] * n})
        frame[field] = values
        return frame, {}
    raise AssertionError(kind)


WHOLE_NUMBER_FIELDS = [
    ("area-classification", "households"),
    ("area-classification", "population"),
    ("area-statistics", "households"),
    ("area-statistics", "population"),
    ("area-counts", "count"),
    ("events", "uprn"),
    ("households", "uprn"),
    ("survey", "uprn"),
    ("gazetteer", "uprn"),
]


@pytest.mark.parametrize(("kind", "field"), WHOLE_NUMBER_FIELDS)
def test_whole_number_fields_refuse_text_and_fractions_by_row(conn, kind, field) -> None:
    frame, mapping = _frame(conn, kind, field, BAD)
    report = ingest_frame(conn, kind, frame, mapping, salt=SALT)
    refused = {(r["row"], r["field"]): r["reason"] for r in report.rejected_sample if r["field"] == field}
    assert refused[(4, field)].startswith("is not a number; expected ")
    assert refused[(5, field)].startswith("is not a whole number; expected ")
    # "7.0" is the whole number 7 (a spreadsheet's float); a blank is missing, not an error,
    # except where the field is required (a gazetteer's UPRN)
    assert (6, field) not in refused
    assert ((3, field) in refused) == (kind == "gazetteer")
    assert report.status == "loaded"


@pytest.mark.parametrize(
    ("kind", "field"),
    [("postcodes", "x"), ("postcodes", "y"), ("gazetteer", "x"), ("gazetteer", "y"), ("events", "x")],
)
def test_coordinate_fields_refuse_text_by_row(conn, kind, field) -> None:
    x, y = _point(conn)
    base = int(x if field == "x" else y)
    values = [f"{base}.5", "abc", str(base + 1), str(base + 2), str(base + 3)]
    if kind == "events":
        frame, mapping = _frame(conn, "events", "uprn", ["12"] * 5)
        frame["x"], frame["y"] = values, [y] * 5
    else:
        frame, mapping = _frame(conn, kind, field, values)
    report = ingest_frame(conn, kind, frame, mapping, salt=SALT)
    refused = [(r["row"], r["field"], r["reason"]) for r in report.rejected_sample if r["field"] == field]
    assert [(row, f) for row, f, _ in refused] == [(3, field)]
    assert refused[0][2].startswith("expected a") and "British National Grid" in refused[0][2]


def test_a_missing_and_a_float_population_load_without_a_crash(conn, tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    frame = gpd.GeoDataFrame(
        {
            "code": ["T12A", "T12B", "T12C", "T12D"],
            "population": ["359.0", "", "12", "abc"],
            "households": ["150", "", "4.0", "3"],
        },
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100), box(200, 0, 300, 100), box(300, 0, 400, 100)],
        crs=27700,
    )
    path = tmp_path / "custom.geojson"
    frame.to_file(path, driver="GeoJSON")
    report = ingest_file(
        conn, "areas", path, salt=SALT, mapping={"constants": {"set_code": "t12set", "level": "custom"}}
    )
    assert report.rows_loaded == 3
    assert report.rejected_sample == [
        {
            "row": 4,  # a GeoJSON numbers its features from 1
            "field": "population",
            "reason": "is not a number; expected a whole number of population (0 or more)",
        }
    ]
    stored = dict(
        conn.execute(
            text("SELECT code, (households, population)::text FROM area WHERE set_code = 't12set'")
        ).all()
    )
    assert stored == {"T12A": "(150,359)", "T12B": "(0,)", "T12C": "(4,12)"}


def test_a_mostly_bad_file_is_a_clear_error_and_a_failed_batch(engine: Engine, tmp_path: Path) -> None:
    from geo.ingest.service import ingest_path

    with engine.connect() as c:
        codes = _codes(c, "oa", 4)
    path = tmp_path / "bases.csv"
    pd.DataFrame({"area_code": codes, "households": ["1.5", "x", "2.5", "10"]}).to_csv(path, index=False)
    with pytest.raises(IngestRowError) as caught:
        ingest_path(engine, "area-statistics", path, salt=SALT, actor="test")
    assert caught.value.row == 2 and caught.value.field == "households"
    assert "is not a whole number; expected a whole number of households" in str(caught.value)
    with engine.begin() as c:
        row = c.execute(
            text(
                "SELECT id, status, report->>'error' FROM ingest_batch WHERE filename = 'bases.csv' ORDER BY id DESC"
            )
        ).first()
        assert row is not None and row.status == "failed" and "row 2" in row[2]
        c.execute(text("DELETE FROM ingest_batch WHERE id = :i"), {"i": row.id})


def test_a_database_refusal_is_an_ingest_error_not_a_traceback(engine: Engine, tmp_path: Path) -> None:
    from geo.ingest.service import ingest_path

    path = tmp_path / "missing.csv"
    with pytest.raises(IngestError, match="does not exist"):
        ingest_path(engine, "areas", path, salt=SALT, actor="test")
    with engine.begin() as c:
        c.execute(text("DELETE FROM ingest_batch WHERE filename = 'missing.csv'"))
