"""The profiling API: propensity, matrices, profiles, segments, channels, co-use, surveys."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from geo.auth import Role
from tests.factories import ASB_QUESTION, FEAR_QUESTION, SURVEY, synthetic_survey
from tests.geo.analysis.test_propensity import HALF_WAY_COUNTS, HALF_WAY_TABLE

API = "/api/v1"


@pytest.fixture(scope="module")
def officer(auth_headers) -> dict[str, str]:
    return auth_headers[Role.officer]


@pytest.fixture(scope="module")
def ward(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT code FROM area WHERE level = 'ward' ORDER BY households DESC LIMIT 1")
        ).scalar_one()


@pytest.fixture(scope="module")
def survey(engine: Engine) -> Iterator[dict]:
    """The synthetic survey, committed so the app sees it, and removed afterwards."""
    with engine.begin() as conn:
        planted = synthetic_survey(conn, crime_service="asb_reports")
    yield planted
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM survey_response WHERE survey_code = :s"), {"s": SURVEY})


def _csv_rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def test_services_list(client) -> None:
    body = client.get(f"{API}/services").json()
    codes = {s["code"] for s in body}
    assert {"asb_reports", "housing_benefit"} <= codes
    assert all(s["events"] > 0 for s in body)


def test_propensity_json_and_csv(client) -> None:
    body = client.get(f"{API}/services/asb_reports/propensity").json()
    assert body["unit"] == "events" and body["classification"] == "wardwise12"
    rows = body["rows"]
    assert [r["segment"] for r in rows] == [*"ABCDEFGHIJKL", "Total"]
    assert rows[-1]["index"] == 100 and rows[-1]["target"] == sum(r["target"] for r in rows[:-1])
    assert isinstance(rows[0]["index"], int) and isinstance(rows[0]["significant"], bool)
    response = client.get(f"{API}/services/asb_reports/propensity", params={"format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    parsed = _csv_rows(response.text)
    assert [r["segment"] for r in parsed] == [r["segment"] for r in rows]
    assert [int(r["index"]) for r in parsed] == [r["index"] for r in rows]


def test_propensity_filters_and_errors(client) -> None:
    full = client.get(f"{API}/services/bus_pass/propensity").json()
    events = client.get(
        f"{API}/services/bus_pass/propensity", params={"unit": "events", "channel": "web"}
    ).json()
    assert full["unit"] == "households" and events["unit"] == "events"
    assert events["rows"][-1]["target"] < full["rows"][-1]["target"]
    assert client.get(f"{API}/services/nope/propensity").status_code == 404
    bad = client.get(f"{API}/services/asb_reports/propensity", params={"unit": "people"})
    assert bad.status_code == 422 and "unit" in bad.json()["detail"]
    dates = client.get(
        f"{API}/services/asb_reports/propensity", params={"date_from": "2026-02-01", "date_to": "2026-01-01"}
    )
    assert dates.status_code == 422 and "date_from" in dates.json()["detail"]


def test_public_propensity_in_a_small_area_is_suppressed_for_the_public_only(client, officer, engine) -> None:
    with engine.connect() as conn:
        oa = conn.execute(text("SELECT code FROM area WHERE level = 'oa' ORDER BY code LIMIT 1")).scalar_one()
    params = {"area": oa}
    public = client.get(f"{API}/services/fire_hsv/propensity", params=params).json()["rows"]
    seen = client.get(f"{API}/services/fire_hsv/propensity", params=params, headers=officer).json()["rows"]
    assert any(r["target"] == "<5" for r in public)
    assert all(isinstance(r["target"], int) for r in seen)
    for p, o in zip(public, seen, strict=True):
        if isinstance(p["target"], str):
            assert p["index"] is None and 0 < o["target"] or p["target"] == "[c]"


def test_post_propensity_reproduces_published_figures(client) -> None:
    response = client.post(f"{API}/propensity", json={"rows": HALF_WAY_COUNTS})
    assert response.status_code == 200
    got = [
        (
            r["segment"],
            r["target"],
            r["target_pct"],
            r["base"],
            r["base_pct"],
            r["penetration_pct"],
            r["index"],
        )
        for r in response.json()["rows"]
    ]
    assert got == HALF_WAY_TABLE
    bad = client.post(f"{API}/propensity", json={"rows": [{"segment": "A", "target": -1, "base": 2}]})
    assert bad.status_code == 422 and "target" in bad.json()["detail"]


def test_matrix_json_csv_xlsx(client) -> None:
    params = {"level": "ward", "service": "asb_reports"}
    body = client.get(f"{API}/matrix", params=params).json()
    assert body["level"] == "ward" and len(body["segments"]) == 12
    cells = body["cells"]
    grand = next(c for c in cells if c["area_code"] == "Total" and c["segment"] == "Total")
    inner = [c for c in cells if "Total" not in (c["area_code"], c["segment"])]
    # a public caller may see suppressed cells; the totals of the shown ones never exceed the grand total
    shown = [c["households"] for c in inner if isinstance(c["households"], int)]
    assert sum(shown) <= grand["households"]
    csv_rows = _csv_rows(client.get(f"{API}/matrix", params={**params, "format": "csv"}).text)
    assert len(csv_rows) == len(cells)
    response = client.get(f"{API}/matrix", params={**params, "format": "xlsx"})
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "households",
        "target",
        "penetration_pct",
        "index",
        "households_index",
        "cells",
    ]
    sheet = book["households"]
    header = [c.value for c in sheet[1]]
    assert header == ["area_code", "area_name", *"ABCDEFGHIJKL", "Total"]
    assert sheet.max_row == len(body["areas"]) + 2  # header + areas + Total


def test_matrix_for_officers_adds_up(client, officer) -> None:
    cells = client.get(
        f"{API}/matrix", params={"level": "lsoa", "service": "housing_benefit"}, headers=officer
    ).json()["cells"]
    inner = [c for c in cells if "Total" not in (c["area_code"], c["segment"])]
    grand = next(c for c in cells if c["area_code"] == "Total" and c["segment"] == "Total")
    assert sum(c["households"] for c in inner) == grand["households"]
    assert sum(c["target"] for c in inner) == grand["target"]


def test_profile_and_report_need_an_officer(client, officer, ward) -> None:
    assert client.get(f"{API}/areas/{ward}/profile").status_code == 401
    assert client.get(f"/areas/{ward}/report").status_code == 401
    profile = client.get(f"{API}/areas/{ward}/profile", headers=officer).json()
    assert profile["area"]["code"] == ward
    assert profile["pen_portrait"].startswith(profile["area"]["name"])
    assert profile["neighbours"] and profile["parent"]["level"] == "district"
    assert {s["service"] for s in profile["services"]} >= {"asb_reports", "bus_pass"}
    report = client.get(f"/areas/{ward}/report", headers=officer)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert profile["area"]["name"] in report.text
    assert client.get(f"{API}/areas/ZZ999/profile", headers=officer).status_code == 404


def test_classifications_and_segments(client) -> None:
    classes = client.get(f"{API}/classifications").json()
    assert any(c["code"] == "wardwise12" and c["segments"] == 12 for c in classes)
    segments = client.get(f"{API}/classifications/wardwise12/segments").json()
    assert [s["code"] for s in segments] == list("ABCDEFGHIJKL")
    first = segments[0]
    assert first["preferred_channels"] and first["top_areas"] and first["services"] and first["channel_use"]
    assert client.get(f"{API}/classifications/nope/segments").status_code == 404


def test_channels(client, officer) -> None:
    mix = client.get(f"{API}/channels/mix", params={"by": "segment"}).json()
    assert {r["group"] for r in mix} == set("ABCDEFGHIJKL")
    mix_csv = _csv_rows(client.get(f"{API}/channels/mix", params={"by": "area", "format": "csv"}).text)
    assert mix_csv and {"group", "channel", "events", "share_pct"} <= set(mix_csv[0])
    shift = {
        "service": "housing_benefit",
        "segment": "G",
        "from_channel": "face_to_face",
        "to_channel": "web",
        "share_pct": 50,
    }
    assert client.post(f"{API}/channels/shift", json=shift).status_code == 401
    result = client.post(f"{API}/channels/shift", json=shift, headers=officer).json()
    assert result["annual_saving_gbp"] > 0 and result["by_area"]
    overridden = client.post(
        f"{API}/channels/shift", json={**shift, "unit_costs": {"face_to_face": 2.0}}, headers=officer
    ).json()
    assert (
        overridden["unit_cost_from_gbp"] == 2.0
        and overridden["annual_saving_gbp"] < result["annual_saving_gbp"]
    )
    ranking = client.get(f"{API}/channels/web-enable-ranking").json()
    assert [r["score_gbp"] for r in ranking] == sorted((r["score_gbp"] for r in ranking), reverse=True)


def test_co_use(client) -> None:
    body = client.get(f"{API}/services/housing_benefit/co-use").json()
    assert body["service"] == "housing_benefit" and body["rows"]
    assert body["rows"][0]["lift"] >= body["rows"][-1]["lift"]
    assert _csv_rows(client.get(f"{API}/services/housing_benefit/co-use", params={"format": "csv"}).text)


def test_survey_endpoints(client, survey) -> None:
    results = client.get(
        f"{API}/surveys/{SURVEY}/results",
        params={"question": ASB_QUESTION, "by": "segment", "answer": "agree"},
    ).json()
    assert {r["group"] for r in results} == {*"ABCDEFGHIJKL", "Total"}
    assert all(r["ci_low_pct"] <= r["pct"] <= r["ci_high_pct"] for r in results)
    gap = client.get(
        f"{API}/surveys/{SURVEY}/perception-gap",
        params={
            "question": FEAR_QUESTION,
            "answer": "very or fairly worried",
            "crime_service": "asb_reports",
        },
    ).json()
    assert {r["area_code"] for r in gap[:3]} == set(survey["high_fear_wards"])
    missing = client.get(f"{API}/surveys/nope/results", params={"question": ASB_QUESTION})
    assert missing.status_code == 404 and "survey" in missing.json()["detail"]


def test_openapi_documents_every_profiling_operation(client) -> None:
    spec = client.get("/openapi.json").json()
    operations = {
        op["operationId"]: op
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for name in (
        "list_services",
        "get_service_propensity",
        "compute_propensity",
        "get_matrix",
        "get_area_profile",
        "get_area_report",
        "list_classifications",
        "list_segments",
        "get_channel_mix",
        "model_channel_shift",
        "rank_services_to_web_enable",
        "get_service_co_use",
        "get_survey_results",
        "get_perception_gap",
    ):
        assert name in operations and operations[name].get("description")
    assert "MatrixCell" in spec["components"]["schemas"] and "AreaProfile" in spec["components"]["schemas"]
