"""The ingest API: upload as an analyst, get the report; duplicates 409, oversize 413, bad files 422."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo.auth import Role

MAPPING = json.dumps(
    {
        "columns": {"event_date": "Date", "address": "Address", "postcode": "Postcode", "source_ref": "Ref"},
        "constants": {"service_code": "asb_reports", "source_system": "council_crm"},
        "date_format": "%d/%m/%Y",
    }
)


@pytest.fixture(scope="module", autouse=True)
def _remove_committed_batches(engine: Engine) -> Iterator[None]:
    """The API commits; delete this module's batches (and their events, by cascade) afterwards."""
    with engine.connect() as conn:
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM ingest_batch")).scalar_one()
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ingest_batch WHERE id > :last"), {"last": last})


@pytest.fixture(scope="module")
def extract(engine: Engine) -> bytes:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT address_text, postcode FROM address WHERE saon IS NULL ORDER BY uprn LIMIT 3")
        ).all()
    frame = pd.DataFrame(
        {
            "Ref": ["API-1", "API-2", "API-3"],
            "Date": ["01/03/2025", "02/03/2025", "30/02/2025"],
            "Address": [r.address_text for r in rows],
            "Postcode": [r.postcode for r in rows],
            "Caller": ["Jane Smith", "Tomasz Nowak", "Aisha Khan"],
        }
    )
    return frame.to_csv(index=False).encode()


def _upload(client: Any, headers: dict[str, str], body: bytes, name: str = "asb.csv", **form: str) -> Any:
    return client.post(
        "/api/v1/ingest/events",
        headers=headers,
        files={"file": (name, io.BytesIO(body), "text/csv")},
        data={"mapping": MAPPING, **form},
    )


def test_analyst_upload_returns_the_report_and_a_repeat_is_409(client, auth_headers, extract) -> None:
    r = _upload(client, auth_headers[Role.analyst], extract)
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["status"] == "loaded" and report["rows_received"] == 3
    assert report["rows_loaded"] == 2 and report["rows_rejected"] == 1
    assert report["match_levels"] == {"address": 2}
    assert report["personal_columns_dropped"] == [{"column": "Caller", "reason": "personal names"}]
    assert report["rejected_sample"] == [
        {"row": 4, "field": "event_date", "reason": "is not a date; expected %d/%m/%Y"}
    ]

    again = _upload(client, auth_headers[Role.analyst], extract)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert f"batch {report['batch_id']}" in again.json()["detail"]

    listed = client.get("/api/v1/ingest/batches", headers=auth_headers[Role.officer]).json()["batches"]
    assert listed[0]["id"] == report["batch_id"] and listed[0]["rows_rejected"] == 1
    one = client.get(f"/api/v1/ingest/batches/{report['batch_id']}", headers=auth_headers[Role.officer])
    assert one.status_code == 200 and one.json()["report"]["rows_loaded"] == 2

    csv = client.get(
        f"/api/v1/ingest/batches/{report['batch_id']}/rejected.csv", headers=auth_headers[Role.analyst]
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    rejected = pd.read_csv(io.StringIO(csv.text))
    assert rejected.loc[0, "row"] == 4 and rejected.loc[0, "field"] == "event_date"
    assert "Caller" not in rejected.columns and "Jane" not in csv.text and "API-3" not in csv.text
    assert (
        client.get(
            f"/api/v1/ingest/batches/{report['batch_id']}/rejected.csv", headers=auth_headers[Role.officer]
        ).status_code
        == 403
    )


def test_ingest_needs_the_analyst_role(client, auth_headers, extract) -> None:
    assert _upload(client, {}, extract).status_code == 401
    assert _upload(client, auth_headers[Role.officer], extract).status_code == 403
    assert client.get("/api/v1/ingest/batches").status_code == 401


def test_a_file_that_is_not_what_its_name_says_is_422_and_listed_as_failed(client, auth_headers) -> None:
    r = _upload(client, auth_headers[Role.analyst], b"Ref,Date\n1,2\n", name="asb.xlsx")
    assert r.status_code == 422
    assert "XLSX workbook" in r.json()["detail"] and "Ref,Date" in r.json()["detail"]
    latest = client.get("/api/v1/ingest/batches", headers=auth_headers[Role.officer]).json()["batches"][0]
    assert latest["status"] == "failed" and latest["rows_loaded"] == 0
    assert "XLSX" in latest["report"]["error"]


def test_bad_mapping_kind_and_missing_batch_are_clear(client, auth_headers, extract) -> None:
    bad = client.post(
        "/api/v1/ingest/events",
        headers=auth_headers[Role.analyst],
        files={"file": ("x.csv", io.BytesIO(extract), "text/csv")},
        data={"mapping": "{not json"},
    )
    assert bad.status_code == 422 and "JSON" in bad.json()["detail"]
    kind = client.post(
        "/api/v1/ingest/people",
        headers=auth_headers[Role.analyst],
        files={"file": ("x.csv", io.BytesIO(extract), "text/csv")},
    )
    assert kind.status_code == 422
    assert client.get("/api/v1/ingest/batches/999999", headers=auth_headers[Role.officer]).status_code == 404


def test_an_oversized_upload_is_413(settings, auth_headers, extract) -> None:
    from api.main import create_app

    small = settings.model_copy(update={"max_upload_bytes": 100})
    with TestClient(create_app(small), raise_server_exceptions=False) as c:
        r = _upload(c, auth_headers[Role.analyst], extract * 10)
    assert r.status_code == 413 and "100 bytes" in r.json()["detail"]


def test_postcode_areas_over_http_make_a_custom_set_and_refuse_unknown_postcodes_by_row(
    client, auth_headers, engine
) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.postcode, p.oa_code, a.households FROM postcode p JOIN area a ON a.code = p.oa_code "
                "ORDER BY p.postcode_norm LIMIT 6"
            )
        ).all()
    listing = pd.DataFrame(
        {
            "postcode": [r.postcode.replace(" ", "").lower() for r in rows],
            "area_name": ["North"] * 3 + ["South"] * 3,
        }
    )
    mapping = json.dumps({"constants": {"set_code": "api_patches"}})

    def upload(frame: pd.DataFrame, name: str) -> Any:
        return client.post(
            "/api/v1/ingest/postcode-areas",
            headers=auth_headers[Role.analyst],
            files={"file": (name, io.BytesIO(frame.to_csv(index=False).encode()), "text/csv")},
            data={"mapping": mapping},
        )

    bad = upload(pd.DataFrame({"postcode": ["ZZ9 9ZZ", "QQ1 1QQ"], "area_name": ["X", "Y"]}), "bad.csv")
    assert bad.status_code == 422, bad.text
    assert "row 2" in bad.text and "postcode" in bad.text and "Traceback" not in bad.text
    batches = client.get("/api/v1/ingest/batches", headers=auth_headers[Role.officer]).json()["batches"]
    assert batches[0]["kind"] == "postcode-areas" and batches[0]["status"] == "failed"

    good = upload(listing, "patches.csv")
    assert good.status_code == 201, good.text
    with engine.connect() as conn:
        stored = dict(
            conn.execute(text("SELECT name, households FROM area WHERE set_code = 'api_patches'")).all()
        )
    # each OA once, to the area listing most of its postcodes (ties: the lowest area code)
    votes = pd.DataFrame(
        {"oa": [r.oa_code for r in rows], "hh": [r.households for r in rows], "area": listing["area_name"]}
    )
    n = votes.groupby(["oa", "area"]).size().rename("n").reset_index()
    n["code"] = "api_patches-" + n["area"].str.lower()
    chosen = n.sort_values(["oa", "n", "code"], ascending=[True, False, True]).drop_duplicates("oa")
    hh = votes.drop_duplicates("oa").set_index("oa")["hh"]
    assert stored == chosen.assign(hh=chosen["oa"].map(hh)).groupby("area")["hh"].sum().to_dict()
    undone = client.delete(
        f"/api/v1/ingest/batches/{good.json()['batch_id']}", headers=auth_headers[Role.analyst]
    )
    assert undone.status_code == 200, undone.text
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM area_set WHERE code = 'api_patches'")).scalar() == 0


def test_a_classification_on_oa21_needs_a_loaded_lookup(client, auth_headers) -> None:
    r = client.get("/api/v1/classifications/nope/oa21", headers=auth_headers[Role.officer])
    assert r.status_code == 404 and "nope" in r.text
    r = client.get(
        "/api/v1/classifications/{}/oa21".format(client.get("/api/v1/classifications").json()[0]["code"]),
        headers=auth_headers[Role.officer],
    )
    assert r.status_code == 422 and "area-lookup" in r.text
