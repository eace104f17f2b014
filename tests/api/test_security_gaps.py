"""The security gaps of issue 15 other than disclosure: salts, keys, rate limits, formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.main import create_app
from api.security import DEV_SALT, InsecureSalt
from api.settings import Settings
from geo.auth import Role, create_key, revoke_key
from geo.exports import csv_text, neutralise

STRONG_SALT = "a-long-installation-secret-0123456789"


# ---------------------------------------------------------------------- salt


@pytest.mark.parametrize("salt", ["", "   ", DEV_SALT, "change-me", "short-salt"])
def test_a_known_empty_or_short_salt_is_refused_outside_demo_mode(database_url: str, salt: str) -> None:
    with pytest.raises(InsecureSalt, match="WARDWISE_SECRET_SALT"):
        create_app(Settings(DATABASE_URL=database_url, secret_salt=salt, demo=False))
    create_app(Settings(DATABASE_URL=database_url, secret_salt=salt or DEV_SALT, demo=True))
    create_app(Settings(DATABASE_URL=database_url, secret_salt=STRONG_SALT, demo=False))


def test_serve_demo_flag_sets_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """`wardwise serve --demo` (make demo, the Docker image) lets the server run on the known salt."""
    from geo import cli

    seen: dict[str, Any] = {}
    monkeypatch.delenv("WARDWISE_DEMO", raising=False)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: seen.update(demo=Settings().demo))
    assert cli.main(["serve", "--demo"]) == 0
    assert seen == {"demo": True}


# ---------------------------------------------------------------------- keys


PUBLIC_GETS = ["/api/v1/services", "/api/v1/classifications", "/api/v1/matrix?level=ward", "/health"]


@pytest.mark.parametrize("path", PUBLIC_GETS)
def test_a_forged_key_is_401_even_where_no_key_is_needed(client: Any, path: str) -> None:
    assert client.get(path).status_code == 200
    forged = client.get(path, headers={"Authorization": "Bearer ww_0123456789ab_notarealsecret"})
    assert forged.status_code == 401, forged.text[:200]
    assert forged.headers["x-content-type-options"] == "nosniff"
    garbage = client.get(path, headers={"Authorization": "Bearer garbage"})
    assert garbage.status_code == 401


def test_a_revoked_key_is_401_on_public_routes(client: Any, engine: Any, settings: Any) -> None:
    with engine.begin() as conn:
        key = create_key(conn, Role.officer, "revoked soon", settings.secret_salt.get_secret_value())
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/services", headers=headers).status_code == 200
    with engine.begin() as conn:
        revoke_key(conn, key.split("_")[1])
    assert client.get("/api/v1/services", headers=headers).status_code == 401
    assert client.get("/api/v1/services").status_code == 200


# ---------------------------------------------------------------------- rate limits


@pytest.fixture
def limited(database_url: str) -> Iterator[TestClient]:
    app = create_app(
        Settings(
            DATABASE_URL=database_url,
            rate_limit_enabled=True,
            rate_limit_public="5/minute",
            rate_limit_key="8/minute",
        )
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_rate_limits_per_address_and_per_key(limited: TestClient, api_keys: dict[Role, str]) -> None:
    answers = [limited.get("/api/v1/services").status_code for _ in range(7)]
    assert answers[:5] == [200] * 5 and answers[5:] == [429, 429], answers
    refused = limited.get("/api/v1/services")
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert "5 per 1 minute" in refused.json()["detail"]
    # a key has its own budget, counted per key (not per address)
    officer = {"Authorization": f"Bearer {api_keys[Role.officer]}"}
    keyed = [limited.get("/api/v1/services", headers=officer).status_code for _ in range(9)]
    assert keyed[:8] == [200] * 8 and keyed[8] == 429, keyed
    # the map page's tiles and /health are not limited
    assert limited.get("/health").status_code == 200


# ---------------------------------------------------------------------- formula injection


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Saltmouth", "Saltmouth"),
        ("<5", "<5"),
        (-3, -3),
        (None, None),
    ],
)
def test_text_a_spreadsheet_would_evaluate_is_neutralised(value: Any, expected: Any) -> None:
    assert neutralise(value) == expected


def test_csv_text_neutralises_cells_and_headers() -> None:
    import pandas as pd

    text_out = csv_text(pd.DataFrame({"name": ["=1+1", "ok"], "=col": [-1, 2]}))
    rows = list(csv.reader(io.StringIO(text_out)))
    assert rows == [["name", "'=col"], ["'=1+1", "-1"], ["ok", "2"]]


def test_public_xlsx_and_csv_write_ingested_names_as_text(client: Any, engine: Any) -> None:
    from openpyxl import load_workbook

    evil = '=HYPERLINK("http://evil.example","x")'
    with engine.begin() as conn:
        code, name = conn.execute(
            text("SELECT code, name FROM area WHERE level = 'ward' ORDER BY code LIMIT 1")
        ).one()
        conn.execute(text("UPDATE area SET name = :n WHERE code = :c"), {"n": evil, "c": code})
    try:
        xlsx = client.get("/api/v1/matrix", params={"level": "ward", "format": "xlsx"})
        assert xlsx.status_code == 200
        book = load_workbook(io.BytesIO(xlsx.content))
        cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
        names = [c for c in cells if isinstance(c.value, str) and "HYPERLINK" in c.value]
        assert names, "the area name is in the workbook"
        assert all(c.data_type == "s" and c.value == "'" + evil for c in names)
        assert b"<f>" not in _sheet_xml(xlsx.content)
        service = conn_service(engine)
        hot = client.get(f"/api/v1/services/{service}/hotspots", params={"level": "ward", "format": "csv"})
        assert hot.status_code == 200
        rows = list(csv.DictReader(io.StringIO(hot.text)))
        assert any(r["name"] == "'" + evil for r in rows)
        assert not any(v.startswith("=") for r in rows for v in r.values() if v)
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE area SET name = :n WHERE code = :c"), {"n": name, "c": code})


def conn_service(engine: Any) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT code FROM service ORDER BY code LIMIT 1")).scalar_one())


def _sheet_xml(content: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return b"".join(archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/"))


# ---------------------------------------------------------------------- avoidable 500s


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/matrix?service=nosuch",
        "/api/v1/matrix?area=NOSUCH&service=fire_hsv",
        "/api/v1/services/fire_hsv/propensity?area=NOSUCH",
        "/api/v1/channels/mix?area=NOSUCH",
        "/api/v1/services/fire_hsv/co-use?area=NOSUCH",
        "/api/v1/services/fire_hsv/hotspots?within=NOSUCH",
    ],
)
def test_unknown_codes_are_404_with_the_security_headers(
    client: Any, auth_headers: dict[Role, dict[str, str]], path: str
) -> None:
    for headers in ({}, auth_headers[Role.officer]):
        r = client.get(path, headers=headers)
        assert r.status_code == 404, (path, r.status_code, r.text[:200])
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" in r.headers


def test_an_unexpected_error_is_500_with_the_security_headers(database_url: str) -> None:
    from fastapi import FastAPI

    from api.auth import PUBLIC

    app = create_app(Settings(DATABASE_URL=database_url))

    def boom() -> None:
        raise RuntimeError("a bug")

    assert isinstance(app, FastAPI)
    app.add_api_route("/api/v1/boom", boom, openapi_extra=PUBLIC)
    app.router.routes.insert(0, app.router.routes.pop())  # before the static mount at "/"
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom")
    assert r.status_code == 500 and "a bug" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_distance_weights_over_too_many_pairs_are_422_naming_the_limit(
    client: Any, auth_headers: dict[Role, dict[str, str]]
) -> None:
    from geo.limits import MAX_NEIGHBOUR_PAIRS

    r = client.get(
        "/api/v1/services/fire_hsv/hotspots",
        params={
            "level": "h3",
            "resolution": 11,
            "method": "gistar",
            "weights": "distance",
            "distance_m": 20000,
        },
        headers=auth_headers[Role.officer],
    )
    assert r.status_code == 422, r.text[:300]
    assert f"{MAX_NEIGHBOUR_PAIRS:,}" in r.json()["detail"] and "neighbour pairs" in r.json()["detail"]


@pytest.mark.parametrize("mapping", ["/etc/passwd", "pyproject.toml", "docs/ingest.md", "[1, 2]"])
def test_an_ingest_mapping_over_http_is_inline_json_never_a_server_path(
    client: Any, auth_headers: dict[Role, dict[str, str]], mapping: str
) -> None:
    r = client.post(
        "/api/v1/ingest/events",
        headers=auth_headers[Role.analyst],
        files={"file": ("x.csv", io.BytesIO(b"Ref,Date\n1,2024-01-01\n"), "text/csv")},
        data={"mapping": mapping},
    )
    assert r.status_code == 422, r.text[:300]
    assert "inline" in r.json()["detail"]
    assert "root:" not in r.text and "[project]" not in r.text


# ---------------------------------------------------------------------- rejected rows


def test_rejected_rows_csv_scrubs_free_text_like_stored_rows(
    client: Any, engine: Any, auth_headers: dict[Role, dict[str, str]]
) -> None:
    import json

    import pandas as pd

    with engine.connect() as conn:
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM ingest_batch")).scalar_one()
        address, postcode = conn.execute(
            text("SELECT address_text, postcode FROM address WHERE saon IS NULL ORDER BY uprn DESC LIMIT 1")
        ).one()
    mapping = {
        "columns": {"source_ref": "Ref", "event_date": "Date", "address": "Address", "postcode": "Postcode"},
        "constants": {"service_code": "asb_reports", "source_system": "gaps_test"},
        "date_format": "%d/%m/%Y",
    }
    body = pd.DataFrame(
        {
            "Ref": ["GAP-1", "GAP-2"],
            "Date": ["01/03/2025", "31/02/2025"],
            "Address": [address, f"{address} ring jo.bloggs@example.com or 07700 900123"],
            "Postcode": [postcode, postcode],
        }
    ).to_csv(index=False)
    analyst = auth_headers[Role.analyst]
    try:
        r = client.post(
            "/api/v1/ingest/events",
            headers=analyst,
            files={"file": ("gaps.csv", io.BytesIO(body.encode()), "text/csv")},
            data={"mapping": json.dumps(mapping)},
        )
        assert r.status_code == 201, r.text[:300]
        assert r.json()["rows_rejected"] == 1
        rejected = client.get(f"/api/v1/ingest/batches/{r.json()['batch_id']}/rejected.csv", headers=analyst)
        assert rejected.status_code == 200
        assert "example.com" not in rejected.text and "900123" not in rejected.text
        with engine.connect() as conn:
            stored = json.dumps(
                conn.execute(
                    text("SELECT values FROM ingest_rejected_row WHERE batch_id = :b"),
                    {"b": r.json()["batch_id"]},
                ).scalar_one()
            )
        assert "example.com" not in stored and "900123" not in stored
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM ingest_batch WHERE id > :last"), {"last": last})


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("date_format", "%Q"),
        ("date_format", 123),
        ("delimiter", 5),
        ("delimiter", "ab"),
        ("delimiter", '"'),
        ("encoding", ["x"]),
        ("encoding", "nosuch"),
    ],
)
def test_odd_reading_options_in_a_mapping_are_422_naming_them(
    client: Any, auth_headers: dict[Role, dict[str, str]], option: str, value: Any
) -> None:
    import json

    mapping = {
        "columns": {"event_date": "Date", "address": "Address", "source_ref": "Ref"},
        "constants": {"service_code": "asb_reports", "source_system": "odd_options"},
        option: value,
    }
    body = f"Ref,Date,Address\nODD-{option},01/03/2025,{value!r}\n".encode()
    r = client.post(
        "/api/v1/ingest/events",
        headers=auth_headers[Role.analyst],
        files={"file": ("odd.csv", io.BytesIO(body), "text/csv")},
        data={"mapping": json.dumps(mapping)},
    )
    assert r.status_code == 422, r.text[:300]
    assert option in r.json()["detail"] and r.headers["x-content-type-options"] == "nosniff"


_ENTITIES = {
    "billion-laughs": '<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcdefg", "bcdefgh", strict=True))
    + "]>",
    "xxe": '<!DOCTYPE w [<!ENTITY h SYSTEM "file:///etc/passwd">]>',
}


def _hostile_xlsx(kind: str) -> bytes:
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Ref", "Date", "Address"])
    book.active.append(["X1", "01/03/2025", "PAYLOAD"])
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.startswith("xl/worksheets/sheet"):
                xml = data.decode()
                at = xml.index("<worksheet")
                data = (xml[:at] + _ENTITIES[kind] + xml[at:]).replace("PAYLOAD", "&h;").encode()
            dst.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("kind", sorted(_ENTITIES))
def test_xlsx_with_entity_attacks_is_422(
    client: Any, auth_headers: dict[Role, dict[str, str]], kind: str
) -> None:
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML, "openpyxl reads XLSX through defusedxml (pyproject dependency)"
    r = client.post(
        "/api/v1/ingest/events",
        headers=auth_headers[Role.analyst],
        files={"file": (f"{kind}.xlsx", io.BytesIO(_hostile_xlsx(kind)), "application/octet-stream")},
        data={"preset": "police-uk"},
    )
    assert r.status_code == 422, r.text[:300]
    assert "root:" not in r.text and "aaaaaaaaaaaaaaaaaaaa" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_csv_with_too_many_columns_is_422_before_it_is_parsed(
    client: Any, auth_headers: dict[Role, dict[str, str]]
) -> None:
    import time

    from geo.ingest.readers import MAX_COLUMNS

    n = 200_000
    body = (",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("1" for _ in range(n)) + "\n").encode()
    started = time.monotonic()
    r = client.post(
        "/api/v1/ingest/events",
        headers=auth_headers[Role.analyst],
        files={"file": ("wide.csv", io.BytesIO(body), "text/csv")},
        data={"preset": "police-uk"},
    )
    assert r.status_code == 422, r.text[:300]
    assert f"{MAX_COLUMNS:,} columns" in r.json()["detail"] and f"{n:,} columns" in r.json()["detail"]
    assert time.monotonic() - started < 60
