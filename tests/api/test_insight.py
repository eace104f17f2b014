"""Insight routes: targets, similar areas, combined hot spots, exclusion and selector over HTTP."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from geo.auth import Role

CLASSIFICATION = "wardwise12"


def test_propensity_table_shows_target_classes(client: Any) -> None:
    body = client.get(
        "/api/v1/services/bus_pass/propensity", params={"classification": CLASSIFICATION}
    ).json()
    rows = {r["segment"]: r for r in body["rows"] if r["segment"] != "Total"}
    for r in rows.values():
        if r["index"] is not None and r["index"] >= 120:
            assert r["target_class"] == ("core" if r["target_pct"] >= 5 else "developmental")
        else:
            assert r["target_class"] is None
    assert body["core"] == [s for s, r in rows.items() if r["target_class"] == "core"]
    stricter = client.get(
        "/api/v1/services/bus_pass/propensity",
        params={"classification": CLASSIFICATION, "min_index": 150, "min_share_pct": 10},
    ).json()
    assert set(stricter["core"]) <= set(body["core"])
    assert stricter["thresholds"]["min_index"] == 150


def test_posted_counts_get_target_classes(client: Any) -> None:
    body = client.post(
        "/api/v1/propensity",
        json={
            "rows": [
                {"segment": "A", "target": 300, "base": 1000},
                {"segment": "B", "target": 20, "base": 100},
                {"segment": "C", "target": 180, "base": 2900},
            ]
        },
    ).json()
    assert [r["target_class"] for r in body["rows"]] == ["core", "developmental", None, None]


def test_targets_route_and_csv(client: Any) -> None:
    body = client.get("/api/v1/services/asb_reports/targets", params={"min_index": 110}).json()
    assert body["thresholds"]["min_index"] == 110
    assert "core:" in body["thresholds"]["rule"]
    text = client.get("/api/v1/services/asb_reports/targets", params={"format": "csv"}).text
    header = next(csv.reader(io.StringIO(text)))
    assert "target_class" in header
    bad = client.get("/api/v1/services/asb_reports/targets", params={"min_index": 90})
    assert bad.status_code == 422


def test_target_areas_need_an_officer(client: Any, auth_headers: dict[Role, dict[str, str]]) -> None:
    url = "/api/v1/services/bus_pass/targets/areas"
    assert client.get(url).status_code == 401
    body = client.get(url, params={"level": "ward", "top": 5}, headers=auth_headers[Role.officer]).json()
    assert len(body["rows"]) <= 5 and body["meta"]["segments"]
    for row in body["rows"]:
        assert set(row["core_segments"]) <= set(body["meta"]["core"])
    text = client.get(url, params={"level": "ward", "format": "csv"}, headers=auth_headers[Role.officer]).text
    assert text.splitlines()[0].startswith("rank,area_code")


def test_similar_areas_route(client: Any, auth_headers: dict[Role, dict[str, str]]) -> None:
    url = "/api/v1/areas/ZW000003/similar"
    assert client.get(url).status_code == 401
    body = client.get(
        url, params={"k": 3, "distance": "euclidean"}, headers=auth_headers[Role.officer]
    ).json()
    assert len(body["similar"]) == 3 and body["distance"] == "euclidean"
    assert [s["distance"] for s in body["similar"]] == sorted(s["distance"] for s in body["similar"])
    assert client.get("/api/v1/areas/NOPE/similar", headers=auth_headers[Role.officer]).status_code == 404
    profile = client.get("/api/v1/areas/ZW000003/profile", headers=auth_headers[Role.officer]).json()
    assert len(profile["similar"]) == 5 and "distance" in profile["similar"][0]


def test_profile_spine_comparator_similar_areas_route(
    client: Any, auth_headers: dict[Role, dict[str, str]], engine: Any
) -> None:
    """`comparator=similar&k=3`: each segment against the mean of the 3 similar areas' shares,
    recomputed with pandas from the households table (one row per household)."""
    import numpy as np
    import pandas as pd
    from sqlalchemy import text

    officer = auth_headers[Role.officer]
    url = "/api/v1/areas/ZW000003/profile"
    body = client.get(url, params={"comparator": "similar", "k": 3}, headers=officer).json()
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.area_code, hs.segment_code FROM address ad "
                "JOIN household_segment hs ON hs.uprn = ad.uprn AND hs.classification_code = :c "
                "JOIN area_membership m ON m.oa_code = ad.oa_code AND m.level = 'ward' WHERE ad.is_residential"
            ),
            {"c": body["classification"]},
        ).all()
    households = pd.DataFrame(rows, columns=["ward", "segment"])
    shares = pd.crosstab(households["ward"], households["segment"], normalize="index")
    hellinger = np.sqrt(0.5 * ((np.sqrt(shares) - np.sqrt(shares.loc["ZW000003"])) ** 2).sum(axis=1))
    similar = hellinger.drop("ZW000003").sort_values(kind="stable").index[:3]
    mean = shares.loc[similar].mean(axis=0)
    assert body["comparator"]["kind"] == "similar"
    assert [a["code"] for a in body["comparator"]["areas"]] == list(similar)
    for seg in body["segments"]:
        assert seg["comparator_pct"] == pytest.approx(100 * mean.get(seg["segment"], 0.0), abs=0.005)
    district = client.get(url, headers=officer).json()
    assert district["comparator"]["kind"] == "district"
    for seg in district["segments"]:
        assert seg["comparator_pct"] == pytest.approx(seg["district_pct"], abs=0.0051)
    bad = client.get(url, params={"comparator": "galaxy"}, headers=officer)
    assert bad.status_code == 422


def test_combined_hotspots_route(client: Any, auth_headers: dict[Role, dict[str, str]]) -> None:
    params = {"services": ["asb_reports", "fire_hsv"], "weights": "asb_reports:2,fire_hsv:1", "level": "lsoa"}
    officer = client.get(
        "/api/v1/hotspots/combined", params=params, headers=auth_headers[Role.officer]
    ).json()
    assert officer["type"] == "FeatureCollection" and officer["features"]
    assert officer["meta"]["weights"] == {"asb_reports": 2.0, "fire_hsv": 1.0}
    first = officer["features"][0]
    assert first["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert {"z", "class", "contributing", "z__asb_reports"} <= set(first["properties"])
    public = client.get("/api/v1/hotspots/combined", params={**params, "level": "oa"}).json()
    assert "disclosure" in public["meta"]
    for f in public["features"]:
        p = f["properties"]
        if p["observed__fire_hsv"] == "<5" or p["observed__asb_reports"] == "<5":
            assert p["z"] is None and p["contributing"] is None
    text = client.get("/api/v1/hotspots/combined", params={**params, "format": "csv"}).text
    assert text.splitlines()[0].startswith("code,name,households,z")
    assert client.get("/api/v1/hotspots/combined", params={"services": ["asb_reports"]}).status_code == 422
    bad = client.get("/api/v1/hotspots/combined", params={**params, "weights": "asb_reports=2"})
    assert bad.status_code == 422 and "weights" in bad.json()["detail"]


def test_exclusion_and_selector_routes(client: Any, auth_headers: dict[Role, dict[str, str]]) -> None:
    officer = auth_headers[Role.officer]
    body = {"service": "housing_benefit", "share_pct": 50}
    assert client.post("/api/v1/channels/exclusion", json=body).status_code == 401
    result = client.post("/api/v1/channels/exclusion", json=body, headers=officer).json()
    assert result["annual_saving_with_exclusion_gbp"] <= result["annual_saving_without_exclusion_gbp"]
    assert result["low_web_segments"] and result["segments"][0]["web_index"] is not None
    sel = client.post("/api/v1/selector", json={"weights": {"B": 0.3}, "top": 3}, headers=officer).json()
    assert len(sel["areas"]) == 3 and sel["segments"]
    bad = client.post("/api/v1/selector", json={"weights": {"ZZ": 1}}, headers=officer)
    assert bad.status_code == 422 and "ZZ" in bad.json()["detail"]
