"""Large uploads run as durable ingest jobs: 202 with a job URL, progress, the report once done (issue 17)."""

from __future__ import annotations

import io
import json
import time
import uuid
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
    with engine.connect() as conn:
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM ingest_batch")).scalar_one()
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ingest_batch WHERE id > :last"), {"last": last})


def _app(database_url: str, **over: Any) -> TestClient:
    from api.main import create_app
    from api.settings import Settings

    # every upload above 64 bytes is "large" here
    settings = Settings(
        DATABASE_URL=database_url, ingest_inline_max_bytes=64, rate_limit_enabled=False, **over
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def _extract(engine: Engine, rows: int, bad_dates: int = 0) -> tuple[bytes, list[str]]:
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT address_text, postcode FROM address WHERE saon IS NULL ORDER BY uprn LIMIT :n"),
            {"n": rows},
        ).all()
    tag = uuid.uuid4().hex[:8]
    refs = [f"JOB-{tag}-{i}" for i in range(rows)]
    dates = ["30/02/2025"] * bad_dates + ["01/03/2025"] * (rows - bad_dates)
    frame = pd.DataFrame(
        {
            "Ref": refs,
            "Date": dates,
            "Address": [r.address_text for r in found],
            "Postcode": [r.postcode for r in found],
        }
    )
    return frame.to_csv(index=False).encode(), refs


def _upload(client: TestClient, headers: dict[str, str], body: bytes) -> Any:
    return client.post(
        "/api/v1/ingest/events",
        headers=headers,
        files={"file": ("asb.csv", io.BytesIO(body), "text/csv")},
        data={"mapping": MAPPING},
    )


def _poll(client: TestClient, url: str, headers: dict[str, str], timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(url, headers=headers).json()
        if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def _stored(engine: Engine, batch_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM service_event WHERE batch_id = :b"), {"b": batch_id}
        ).scalar_one()


def test_a_large_upload_answers_202_and_its_job_reports_the_batch(database_url, engine, auth_headers) -> None:
    body, _ = _extract(engine, 40, bad_dates=3)
    headers = auth_headers[Role.analyst]
    with _app(database_url) as client:
        r = _upload(client, headers, body)
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["kind"] == "ingest" and job["status"] in ("queued", "running", "done")
        assert job["params"] == {"kind": "events", "filename": "asb.csv", "bytes": len(body)}
        assert r.headers["location"] == job["links"]["self"]
        assert "/api/v1/ingest/jobs/" in r.headers["location"]
        done = _poll(client, r.headers["location"], headers)
        # an officer cannot read an ingest job (the upload is an analyst's)
        assert client.get(r.headers["location"], headers=auth_headers[Role.officer]).status_code == 403
    assert done["status"] == "done", done
    assert done["progress"] == 1.0
    report = done["report"]
    assert report["rows_received"] == 40 and report["rows_rejected"] == 3
    # independently: the rows the batch stored are in the table, committed
    assert _stored(engine, report["batch_id"]) == report["rows_loaded"] == 37
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT queue, payload IS NULL AS gone FROM job WHERE id = :i"), {"i": done["id"]}
        ).one()
        audit = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'ingest.load' AND target = :t"),
            {"t": str(report["batch_id"])},
        ).scalar_one()
    assert row.queue == "ingest" and row.gone  # the file's bytes left the job when it ended
    assert audit == 1


def test_a_queued_ingest_is_run_by_a_worker_process_after_the_api_accepted_it(
    database_url, engine, auth_headers
) -> None:
    from geo.worker_cli import run_worker

    body, refs = _extract(engine, 12)
    headers = auth_headers[Role.analyst]
    with _app(database_url, run_jobs=False) as client:  # this API process runs no jobs
        r = _upload(client, headers, body)
        assert r.status_code == 202, r.text
        time.sleep(0.5)
        assert client.get(r.headers["location"], headers=headers).json()["status"] == "queued"
        assert run_worker(engine, once=True, refresh_every_s=-1) >= 1  # `wardwise worker --once`
        done = client.get(r.headers["location"], headers=headers).json()
    assert done["status"] == "done", done
    assert _stored(engine, done["report"]["batch_id"]) == 12


def test_a_failing_large_upload_fails_its_job_and_stores_nothing(database_url, engine, auth_headers) -> None:
    body, _ = _extract(engine, 10, bad_dates=10)
    headers = auth_headers[Role.analyst]
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM service_event")).scalar_one()
    with _app(database_url) as client:
        r = _upload(client, headers, body)
        assert r.status_code == 202, r.text
        done = _poll(client, r.headers["location"], headers)
    assert done["status"] == "failed" and done["report"] is None
    assert "event_date" in done["error"] and "row 2" in done["error"]
    assert "Traceback" not in done["error"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM service_event")).scalar_one() == before
        failed = conn.execute(
            text("SELECT status FROM ingest_batch WHERE filename = 'asb.csv' ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert failed == "failed"
