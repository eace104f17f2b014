"""PDF community profiles (issue 14): the figures read back from the PDF (pypdf) equal the
JSON profile's for the same caller; public callers get neither; a district's batch holds
every ward."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from geo.analysis.profile_pdf import _fmt
from geo.auth import Role


def _text(body: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() or "" for page in reader.pages), len(reader.pages)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s)


@pytest.fixture(scope="module")
def ward(engine) -> str:
    with engine.connect() as c:
        return c.execute(
            text("SELECT code FROM area WHERE level = 'ward' ORDER BY households DESC, code LIMIT 1")
        ).scalar_one()


def test_officer_pdf_holds_the_json_profile_s_figures(client, auth_headers, ward) -> None:
    officer = auth_headers[Role.officer]
    profile = client.get(f"/api/v1/areas/{ward}/profile", headers=officer).json()
    r = client.get(f"/api/v1/areas/{ward}/profile.pdf", headers=officer)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    body, pages = _text(r.content)
    flat = _norm(body)
    assert profile["area"]["name"] in flat and ward in flat
    assert f"{profile['area']['households']:,} households" in flat
    assert "data version" in flat and "Method notes" in flat and "Produced" in flat
    for s in profile["segments"]:
        row = " ".join(
            [
                _fmt(s["households"], "int"),
                _fmt(s["pct"], "pct"),
                _fmt(s["district_pct"], "pct"),
                _fmt(s["index"], "int"),
            ]
        )
        assert f"{s['name']} {row}" in flat, (s, row)
    for s in profile["services"]:
        row = " ".join([_fmt(s["observed"], "int"), _fmt(s["expected"]), _fmt(s["ratio"], "int")])
        assert row in flat, (s["name"], row)
    for ch in profile["channels"]:
        assert f"{ch['channel']} {_fmt(ch['events'], 'int')} {_fmt(ch['share_pct'], 'pct')}" in flat
    assert pages >= 1


def test_public_callers_get_no_pdf_as_they_get_no_json_profile(client, auth_headers, ward) -> None:
    json_status = client.get(f"/api/v1/areas/{ward}/profile").status_code
    pdf = client.get(f"/api/v1/areas/{ward}/profile.pdf")
    batch = client.get("/api/v1/districts/ZD000001/profiles.pdf")
    assert json_status in (401, 403)
    assert pdf.status_code == json_status and batch.status_code == json_status
    assert not pdf.content.startswith(b"%PDF") and not batch.content.startswith(b"%PDF")


def test_district_batch_has_every_ward(client, auth_headers, engine) -> None:
    with engine.connect() as c:
        district = c.execute(
            text("SELECT code FROM area WHERE level = 'district' ORDER BY code LIMIT 1")
        ).scalar_one()
        wards = c.execute(
            text("SELECT code, name FROM area WHERE level = 'ward' AND parent_code = :d ORDER BY code"),
            {"d": district},
        ).all()
    r = client.get(f"/api/v1/districts/{district}/profiles.pdf", headers=auth_headers[Role.officer])
    assert r.status_code == 200, r.text
    reader = PdfReader(io.BytesIO(r.content))
    assert len(reader.pages) >= len(wards)
    titles = [_norm(p.extract_text() or "") for p in reader.pages]
    found = {code for code, _name in wards if any(f"({code})" in t for t in titles)}
    assert found == {code for code, _ in wards}
    # wards in code order, each starting a page
    starts = [re.search(r"\((ZW\d+)\)", t) for t in titles]
    firsts = [m.group(1) for m in starts if m]
    assert firsts == sorted(firsts) and set(firsts) == found


def test_batch_and_pdf_refuse_what_they_cannot_answer(client, auth_headers, ward) -> None:
    officer = auth_headers[Role.officer]
    assert client.get("/api/v1/areas/NOPE0001/profile.pdf", headers=officer).status_code == 404
    r = client.get(f"/api/v1/districts/{ward}/profiles.pdf", headers=officer)
    assert r.status_code in (400, 422) and "district" in r.text and "Traceback" not in r.text
    assert client.get("/api/v1/districts/NOPE0001/profiles.pdf", headers=officer).status_code == 404


def test_a_table_posted_comes_back_as_xlsx_with_numbers_as_numbers(client) -> None:
    from openpyxl import load_workbook

    body = {
        "title": "Propensity",
        "columns": ["Segment", "Households", "Index"],
        "rows": [["Affluent", 1234, 105.5], ["=cmd()", None, 80]],
    }
    r = client.post("/api/v1/exports/table.xlsx", json=body)
    assert r.status_code == 200, r.text
    rows = list(load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][0] == "Propensity" and list(rows[2]) == body["columns"]
    assert list(rows[3]) == ["Affluent", 1234, 105.5]
    assert rows[4][0] == "'=cmd()" and rows[4][1] is None and rows[4][2] == 80  # no formula


def test_table_xlsx_names_the_bad_row(client) -> None:
    r = client.post(
        "/api/v1/exports/table.xlsx", json={"title": "t", "columns": ["a", "b"], "rows": [[1, 2], [3]]}
    )
    assert r.status_code in (400, 422) and "row 2" in r.text
    assert client.post("/api/v1/exports/table.xlsx", json={"title": "t", "columns": []}).status_code == 422
