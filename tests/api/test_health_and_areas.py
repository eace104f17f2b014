"""Health and the areas API against the real database."""

from __future__ import annotations

import pytest
from shapely.geometry import shape
from shapely.ops import unary_union


def test_health_reports_postgis(client) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] is True
    major = int(body["postgis"].split(".")[0])
    assert major >= 3


def test_wards_are_26_and_cover_every_output_area(client) -> None:
    wards = client.get("/api/v1/areas", params={"level": "ward"})
    assert wards.status_code == 200
    assert wards.headers["content-type"].startswith("application/geo+json")
    features = wards.json()["features"]
    assert len(features) == 26
    assert {f["properties"]["level"] for f in features} == {"ward"}
    for key in ("code", "name", "level", "parent_code", "households"):
        assert key in features[0]["properties"]
    union = unary_union([shape(f["geometry"]) for f in features]).buffer(1e-7)
    oas = client.get("/api/v1/areas", params={"level": "oa"}).json()["features"]
    assert len(oas) > 200
    uncovered = [f["id"] for f in oas if not union.contains(shape(f["geometry"]).representative_point())]
    assert uncovered == []


def test_households_add_up_through_the_api(client) -> None:
    by_level = {
        level: client.get("/api/v1/areas", params={"level": level}).json()["features"]
        for level in ("oa", "lsoa", "ward", "district")
    }
    totals = {level: sum(f["properties"]["households"] for f in fs) for level, fs in by_level.items()}
    assert len(set(totals.values())) == 1, totals
    ward_codes = {f["id"] for f in by_level["ward"]}
    assert {f["properties"]["parent_code"] for f in by_level["lsoa"]} <= ward_codes


def test_one_area_and_its_parent(client) -> None:
    ward = client.get("/api/v1/areas", params={"level": "ward"}).json()["features"][0]
    r = client.get(f"/api/v1/areas/{ward['id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "Feature" and body["properties"]["code"] == ward["id"]
    assert body["properties"]["parent_code"] == ward["properties"]["parent_code"]
    assert body["geometry"]["type"] == "MultiPolygon"


def test_unknown_area_is_404_problem_json(client) -> None:
    r = client.get("/api/v1/areas/ZW999999")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "ZW999999" in r.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"level": "county"},
        {"level": "ward'; DROP TABLE area; --"},
        {"level": "x" * 500},
        {"simplify_m": "-1"},
        {"simplify_m": "abc"},
    ],
)
def test_bad_area_queries_are_4xx_without_traces(client, params) -> None:
    r = client.get("/api/v1/areas", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == 422 and body["detail"]
    assert "Traceback" not in r.text and "SELECT" not in r.text
    # and nothing was dropped
    assert client.get("/api/v1/areas", params={"level": "ward"}).status_code == 200


def test_openapi_docs_are_served(client) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/areas" in spec["paths"] and "/health" in spec["paths"]
    ops = [op.get("operationId") for path in spec["paths"].values() for op in path.values()]
    assert all(ops)
