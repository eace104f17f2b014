"""Issue 12 over HTTP: the service catalogue (analyst writes) and undoing a batch (analyst, audited)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from geo.auth import Role


@pytest.fixture(scope="module", autouse=True)
def _cleanup(engine: Engine) -> Iterator[None]:
    """The API commits: remove this module's batches and services afterwards."""
    with engine.connect() as conn:
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM ingest_batch")).scalar_one()
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ingest_batch WHERE id > :last"), {"last": last})
        conn.execute(text("DELETE FROM service WHERE code LIKE 't12_%'"))


def test_analysts_create_and_amend_services_and_everyone_lists_them(client, auth_headers) -> None:
    body = {
        "code": "t12_parking",
        "name": "Parking permits",
        "unit": "households",
        "lgsl_id": 101,
        "lgchl_ids": [1, 3],
    }
    assert client.post("/api/v1/services", json=body, headers=auth_headers[Role.officer]).status_code == 403
    created = client.post("/api/v1/services", json=body, headers=auth_headers[Role.analyst])
    assert created.status_code == 201, created.text
    assert created.json()["lgsl_id"] == 101 and created.json()["lgchl_ids"] == [1, 3]
    assert created.json()["unit"] == "households" and created.json()["districts"] == []
    again = client.post("/api/v1/services", json=body, headers=auth_headers[Role.analyst])
    assert again.status_code == 409 and "exists already" in again.json()["detail"]
    bad = client.post(
        "/api/v1/services",
        json={**body, "code": "t12_x", "unit": "visits"},
        headers=auth_headers[Role.analyst],
    )
    assert bad.status_code == 422
    patched = client.patch(
        "/api/v1/services/t12_parking",
        json={"lgsl_id": 102, "name": "Resident parking permits"},
        headers=auth_headers[Role.analyst],
    )
    assert patched.status_code == 200 and patched.json()["lgsl_id"] == 102
    assert patched.json()["name"] == "Resident parking permits" and patched.json()["unit"] == "households"
    missing = client.patch(
        "/api/v1/services/t12_none", json={"name": "x"}, headers=auth_headers[Role.analyst]
    )
    assert missing.status_code == 404
    listed = {s["code"]: s for s in client.get("/api/v1/services").json()}
    assert listed["t12_parking"]["lgsl_id"] == 102
    audit = client.get("/api/v1/admin/audit", headers=auth_headers[Role.admin]).json()
    actions = [e["action"] for e in audit["entries"]]
    assert "service.create" in actions and "service.update" in actions


@pytest.fixture(scope="module")
def upload(engine: Engine) -> bytes:
    with engine.connect() as conn:
        uprns = conn.execute(text("SELECT uprn FROM address ORDER BY uprn LIMIT 3")).scalars().all()
    frame = pd.DataFrame({"UPRN": uprns, "Date": ["2025-03-01", "2025-03-02", "2025-03-03"]})
    return frame.to_csv(index=False).encode()


MAPPING = json.dumps(
    {
        "columns": {"event_date": "Date"},
        "constants": {"service_code": "t12_visits", "source_system": "council"},
        "services": {"t12_visits": {"name": "Home visits", "unit": "events"}},
    }
)


def _post(client: Any, headers: dict[str, str], body: bytes, mapping: str = MAPPING) -> Any:
    return client.post(
        "/api/v1/ingest/events",
        headers=headers,
        files={"file": ("visits.csv", io.BytesIO(body), "text/csv")},
        data={"mapping": mapping},
    )


def test_a_batch_is_undone_over_http_audited_and_its_file_loads_again(client, auth_headers, upload) -> None:
    loaded = _post(client, auth_headers[Role.analyst], upload)
    assert loaded.status_code == 201, loaded.text
    batch = loaded.json()["batch_id"]
    assert loaded.json()["rows_loaded"] == 3 and any("t12_visits" in n for n in loaded.json()["notes"])
    assert _post(client, auth_headers[Role.analyst], upload).status_code == 409
    assert (
        client.delete(f"/api/v1/ingest/batches/{batch}", headers=auth_headers[Role.officer]).status_code
        == 403
    )
    undone = client.delete(f"/api/v1/ingest/batches/{batch}", headers=auth_headers[Role.analyst])
    assert undone.status_code == 200, undone.text
    assert undone.json()["removed"]["service_event"] == 3 and undone.json()["status"] == "undone"
    shown = client.get(f"/api/v1/ingest/batches/{batch}", headers=auth_headers[Role.officer]).json()
    assert shown["status"] == "undone"
    assert (
        client.delete(f"/api/v1/ingest/batches/{batch}", headers=auth_headers[Role.analyst]).status_code
        == 422
    )
    assert (
        client.delete("/api/v1/ingest/batches/999999", headers=auth_headers[Role.analyst]).status_code == 404
    )
    audit = client.get("/api/v1/admin/audit", headers=auth_headers[Role.admin]).json()["entries"]
    assert any(e["action"] == "ingest.undo" and e["target"] == str(batch) for e in audit)
    reloaded = _post(client, auth_headers[Role.analyst], upload)
    assert reloaded.status_code == 201 and reloaded.json()["batch_id"] != batch


def test_a_batch_that_loads_nothing_is_422_failed_and_does_not_block_a_retry(
    client, auth_headers, upload
) -> None:
    wrong = json.dumps(
        {"columns": {"event_date": "Date"}, "constants": {"service_code": "t12_nope", "source_system": "x"}}
    )
    body = upload.replace(b"2025-03-01", b"2025-04-01")
    failed = _post(client, auth_headers[Role.analyst], body, wrong)
    assert failed.status_code == 422
    detail = failed.json()["detail"]
    assert "none of 3 rows loaded" in detail and "is not a known service" in detail and "row 2" in detail
    listed = client.get("/api/v1/ingest/batches", headers=auth_headers[Role.officer]).json()["batches"]
    assert listed[0]["status"] == "failed" and listed[0]["filename"] == "visits.csv"
    retry = _post(client, auth_headers[Role.analyst], body)
    assert retry.status_code == 201 and retry.json()["rows_loaded"] == 3


def test_an_unknown_mapping_field_is_422_naming_it(client, auth_headers, upload) -> None:
    bad = json.dumps(
        {
            "columns": {"event_date": "Date", "count": "UPRN"},
            "constants": {"service_code": "x", "source_system": "x"},
        }
    )
    r = _post(client, auth_headers[Role.analyst], upload.replace(b"2025-03-01", b"2025-05-01"), bad)
    assert r.status_code == 422 and "['count'], which events files do not have" in r.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/matrix?level=ward&tier=supergroup",
        "/api/v1/services/asb_reports/propensity?tier=supergroup",
        "/api/v1/channels/mix?tier=supergroup",
    ],
)
def test_a_tier_the_classification_lacks_is_422_naming_it(client, auth_headers, url) -> None:
    r = client.get(url, headers=auth_headers[Role.officer])
    assert r.status_code == 422, r.text
    assert "`tier` was 'supergroup'" in r.json()["detail"] and "no tiers" in r.json()["detail"]
