"""Bad input gets a clear error naming row, field and expectation; a failed batch leaves nothing behind."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from geo.errors import DuplicateBatch, IngestError, IngestRowError
from geo.ingest import ingest_file, ingest_frame
from tests.geo.ingest.conftest import count

SALT = "test-salt"
MAPPING = {
    "columns": {"event_date": "Date", "address": "Address", "postcode": "Postcode", "source_ref": "Ref"},
    "constants": {"service_code": "asb_reports", "source_system": "council_crm"},
    "date_format": "%d/%m/%Y",
}


def _state(conn) -> tuple[int, int, int]:
    return (
        count(conn, "SELECT count(*) FROM service_event"),
        count(conn, "SELECT count(*) FROM ingest_batch"),
        count(conn, "SELECT count(*) FROM ingest_rejected_row"),
    )


def _an_address(conn) -> tuple[str, str]:
    row = conn.execute(
        text("SELECT address_text, postcode FROM address WHERE saon IS NULL ORDER BY uprn LIMIT 1")
    ).one()
    return row.address_text, row.postcode


def _csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_missing_required_column_is_named_and_nothing_is_stored(conn, tmp_path) -> None:
    before = _state(conn)
    path = _csv(tmp_path / "x.csv", [{"Ref": "1", "Address": "a", "Postcode": "QW1 2AB"}])
    with pytest.raises(IngestRowError) as err:
        ingest_file(conn, "events", path, salt=SALT, mapping=MAPPING)
    assert "Date" in str(err.value) and "columns" in str(err.value)
    assert _state(conn) == before


def test_a_wrong_date_format_fails_the_batch_naming_row_and_field(conn, tmp_path) -> None:
    text_, postcode = _an_address(conn)
    before = _state(conn)
    rows = [
        {"Ref": str(i), "Date": f"2025-01-{i + 1:02d}", "Address": text_, "Postcode": postcode}
        for i in range(5)
    ]
    with pytest.raises(IngestRowError) as err:
        ingest_file(conn, "events", _csv(tmp_path / "dates.csv", rows), salt=SALT, mapping=MAPPING)
    assert (err.value.row, err.value.field) == (2, "event_date")
    assert "%d/%m/%Y" in err.value.expected and "5 of 5 rows" in str(err.value.got)
    assert _state(conn) == before  # nothing half-loaded, not even the batch row


def test_bad_rows_are_rejected_with_row_field_and_reason(conn, tmp_path) -> None:
    text_, postcode = _an_address(conn)
    rows = [
        {
            "Ref": str(i),
            "Date": "03/02/2025",
            "Address": text_,
            "Postcode": postcode,
            "Easting": "",
            "Northing": "",
        }
        for i in range(6)
    ]
    rows[2]["Date"] = "31/02/2025"
    rows[4]["Easting"], rows[4]["Northing"] = "six hundred", "250000"
    mapping = {**MAPPING, "columns": {**MAPPING["columns"], "x": "Easting", "y": "Northing"}}
    report = ingest_file(conn, "events", _csv(tmp_path / "rows.csv", rows), salt=SALT, mapping=mapping)
    assert report.rows_loaded == 4 and report.rows_rejected == 2
    assert report.match_levels == {"address": 4}
    got = conn.execute(
        text(
            "SELECT row_number, field, reason FROM ingest_rejected_row WHERE batch_id = :b ORDER BY row_number"
        ),
        {"b": report.batch_id},
    ).all()
    assert [(r.row_number, r.field) for r in got] == [(4, "event_date"), (6, "x")]
    assert "expected %d/%m/%Y" in got[0].reason and "easting in metres" in got[1].reason


def test_failure_mid_file_leaves_earlier_batches_untouched(conn, tmp_path) -> None:
    text_, postcode = _an_address(conn)
    good = [{"Ref": "g1", "Date": "03/02/2025", "Address": text_, "Postcode": postcode}]
    first = ingest_file(conn, "events", _csv(tmp_path / "good.csv", good), salt=SALT, mapping=MAPPING)
    before = _state(conn)
    # the second chunk of this file is all junk dates: the batch fails after chunk one was copied
    rows = good * 3 + [{"Ref": "b", "Date": "soon", "Address": text_, "Postcode": postcode}] * 7
    with pytest.raises(IngestRowError):
        ingest_file(
            conn, "events", _csv(tmp_path / "bad.csv", rows), salt=SALT, mapping=MAPPING, chunk_rows=3
        )
    assert _state(conn) == before
    assert count(conn, "SELECT count(*) FROM service_event WHERE batch_id = :b", b=first.batch_id) == 1


def test_same_file_twice_is_a_duplicate_batch(conn, tmp_path) -> None:
    text_, postcode = _an_address(conn)
    path = _csv(
        tmp_path / "once.csv", [{"Ref": "1", "Date": "03/02/2025", "Address": text_, "Postcode": postcode}]
    )
    first = ingest_file(conn, "events", path, salt=SALT, mapping=MAPPING)
    before = _state(conn)
    with pytest.raises(DuplicateBatch) as err:
        ingest_file(conn, "events", path, salt=SALT, mapping=MAPPING)
    assert err.value.batch_id == first.batch_id and _state(conn) == before


def test_zip_bomb_and_mislabelled_files_are_refused_before_reading(conn, tmp_path) -> None:
    bomb = tmp_path / "areas.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.shp", b"\x00" * (40 * 1024 * 1024))
        zf.writestr("a.dbf", b"")
    with pytest.raises(IngestRowError, match="zip bomb"):
        ingest_file(conn, "areas", bomb, salt=SALT, mapping={"constants": {"set_code": "x"}})
    fake = tmp_path / "wards.gpkg"
    fake.write_text("WD13CD,name\n")
    with pytest.raises(IngestRowError, match="GeoPackage"):
        ingest_file(conn, "areas", fake, salt=SALT, mapping={"constants": {"set_code": "x"}})


def test_unknown_kind_and_preset_are_named(conn, tmp_path) -> None:
    path = _csv(tmp_path / "x.csv", [{"a": "1"}])
    with pytest.raises(IngestError, match="kind"):
        ingest_file(conn, "people", path, salt=SALT)
    with pytest.raises(IngestError, match="preset"):
        ingest_file(conn, "events", path, salt=SALT, preset="ons-everything")


def test_households_and_survey_kinds_match_and_hash(conn) -> None:
    rows = conn.execute(
        text("SELECT uprn, address_text, postcode FROM address WHERE saon IS NULL ORDER BY uprn LIMIT 3")
    ).all()
    households = pd.DataFrame(
        {
            "UPRN": [str(rows[0].uprn), "", ""],
            "Address": ["", rows[1].address_text, "1 Nowhere"],
            "Postcode": ["", rows[1].postcode, "ZZ9 9ZZ"],
            "Segment": ["X1", "X2", "X1"],
        }
    )
    report = ingest_frame(
        conn,
        "households",
        households,
        {
            "columns": {
                "uprn": "UPRN",
                "address": "Address",
                "postcode": "Postcode",
                "segment_code": "Segment",
            },
            "constants": {"classification": "test_cls"},
        },
        salt=SALT,
    )
    assert report.rows_loaded == 2 and report.match_levels == {"uprn": 1, "address": 1}
    assert report.out_of_area == 1  # a postcode from an area we hold nothing for
    assert count(conn, "SELECT count(*) FROM household_segment WHERE classification_code = 'test_cls'") == 2
    assert count(conn, "SELECT count(*) FROM segment WHERE classification_code = 'test_cls'") == 2
    survey = pd.DataFrame(
        {
            "Respondent": ["r1", "r2"],
            "Email": ["a@example.com", "b@example.com"],
            "Q": ["Satisfied with the library?"] * 2,
            "A": ["Yes", "No"],
            "Postcode": [rows[2].postcode, rows[2].postcode],
        }
    )
    report = ingest_frame(
        conn,
        "survey",
        survey,
        {
            "columns": {"person_id": "Respondent", "question": "Q", "answer": "A", "postcode": "Postcode"},
            "constants": {"survey_code": "test_survey"},
        },
        salt=SALT,
    )
    assert report.rows_loaded == 2 and report.match_levels == {"postcode": 2}
    assert [d["column"] for d in report.personal_columns_dropped] == ["Email"]
    keys = (
        conn.execute(text("SELECT household_key FROM survey_response WHERE survey_code = 'test_survey'"))
        .scalars()
        .all()
    )
    assert len(set(keys)) == 2 and not any(k in ("r1", "r2") for k in keys)
