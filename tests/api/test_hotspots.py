"""The hot-spot, demand, targeting, evaluation and job endpoints over HTTP."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest

from geo.auth import Role

URL = "/api/v1/services/{}/hotspots"


def _planted(truth: dict[str, Any], service: str, kind: str) -> set[str]:
    return {code for cluster in truth["services"][service][kind] for code in cluster["oa_codes"]}


def test_hotspots_geojson_for_officers_has_every_property(client, auth_headers, truth):
    # dispersion=none: the demo's counts are Poisson (the default may widen the test, see
    # tests/geo/analysis/test_hotspots_scan_db.py).
    r = client.get(
        URL.format("asb_reports"),
        params={"level": "oa", "dispersion": "none"},
        headers=auth_headers[Role.officer],
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) > 300
    props = body["features"][0]["properties"]
    for key in (
        "code",
        "name",
        "households",
        "expected",
        "observed",
        "ratio",
        "ci_low",
        "ci_high",
        "p_value",
        "q_value",
        "funnel_95_low",
        "funnel_95_high",
        "funnel_998_low",
        "funnel_998_high",
        "class",
        "unmet",
    ):
        assert key in props
    # WGS84 polygons around the borough (longitude, latitude order).
    ring = body["features"][0]["geometry"]["coordinates"][0][0]
    assert -8 < ring[0][0] < 2 and 49 < ring[0][1] < 61
    hot = {f["id"] for f in body["features"] if f["properties"]["class"] == "hot"}
    planted = _planted(truth, "asb_reports", "hot")
    assert len(hot & planted) >= 0.8 * len(planted)
    assert body["meta"]["variable"] == "ratio" and body["meta"]["unit"] == "events"
    assert body["meta"]["dispersion"]["applied"] == "none" and body["meta"]["dispersion"]["phi"] > 0


def test_public_callers_get_small_counts_suppressed(client):
    body = client.get(URL.format("fire_hsv"), params={"level": "oa"}).json()
    small = [f["properties"] for f in body["features"] if f["properties"]["observed"] == "<5"]
    assert small, "the test borough has OAs with 1-4 fire visits"
    for props in small:
        assert props["ratio"] is None and props["ci_low"] is None and props["p_value"] is None
    shown = [f["properties"]["observed"] for f in body["features"]]
    assert not any(isinstance(v, int | float) and 1 <= v <= 4 for v in shown)
    assert "disclosure" in body["meta"]


def test_gistar_and_moran_state_variable_weights_and_transform(client, auth_headers):
    officer = auth_headers[Role.officer]
    g = client.get(
        URL.format("council_tax_payment"), params={"level": "oa", "method": "gistar"}, headers=officer
    )
    assert g.status_code == 200, g.text
    meta = g.json()["meta"]
    assert meta["transform"] == "B" and meta["weights"]["kind"] == "queen" and meta["variable"] == "ratio"
    props = g.json()["features"][0]["properties"]
    assert {"value", "z", "p_value", "class"} <= set(props)
    m = client.get(
        URL.format("council_tax_payment"),
        params={"level": "ward", "method": "moran", "weights": "knn", "k": 5, "variable": "rate"},
        headers=officer,
    )
    assert m.status_code == 200, m.text
    meta = m.json()["meta"]
    assert meta["transform"] == "R" and meta["weights"] == {**meta["weights"], "kind": "knn", "k": 5}
    assert {f["properties"]["class"] for f in m.json()["features"]} <= {
        "high_high",
        "low_low",
        "high_low",
        "low_high",
        "as_expected",
    }


def test_csv_and_h3(client, auth_headers):
    r = client.get(
        URL.format("asb_reports"),
        params={"level": "ward", "format": "csv"},
        headers=auth_headers[Role.officer],
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 26 and {"code", "expected", "observed", "ratio", "class"} <= set(rows[0])
    h = client.get(
        URL.format("asb_reports"), params={"level": "h3", "resolution": 7}, headers=auth_headers[Role.officer]
    )
    assert h.status_code == 200, h.text
    feature = h.json()["features"][0]
    assert feature["geometry"]["type"] == "Polygon" and len(feature["geometry"]["coordinates"][0]) == 7
    assert client.get(URL.format("asb_reports"), params={"level": "h3"}).status_code == 422


@pytest.mark.parametrize(
    "params, field",
    [
        ({"level": "nowhere"}, "level"),
        ({"method": "gistar", "permutations": 9999}, "permutations"),
        ({"reference": "rates:A=-1"}, "rates"),
        ({"reference": "bogus"}, "reference"),
        ({"method": "gistar", "weights": "distance"}, "distance_m"),
        ({"dispersion": "gamma"}, "dispersion"),
        ({"method": "scan", "max_share": 0.9}, "max_share"),
        ({"method": "scan", "members": "all"}, "members"),
    ],
)
def test_bad_requests_name_the_field(client, params, field):
    r = client.get(URL.format("asb_reports"), params=params)
    assert r.status_code == 422 and field in r.json()["detail"]


def test_scan_method_returns_clusters_with_their_areas(client, auth_headers, truth):
    params = {"level": "oa", "method": "scan", "permutations": 99, "seed": 3}
    body = client.get(URL.format("asb_reports"), params=params, headers=auth_headers[Role.officer]).json()
    meta = body["meta"]
    assert meta["method"] == "scan" and meta["permutations"] == 99 and "dispersion" in meta
    clusters = meta["clusters"]
    assert clusters and {"areas", "relative_risk", "llr", "p_value", "observed", "expected"} <= set(
        clusters[0]
    )
    props = {f["id"]: f["properties"] for f in body["features"]}
    for c in clusters:
        assert all(props[a]["cluster"] is not None for a in c["areas"])
        assert all(props[a]["class"] == c["class"] for a in c["flagged_areas"])
    hot = {f["id"] for f in body["features"] if f["properties"]["class"] == "hot"}
    planted = _planted(truth, "asb_reports", "hot")
    assert len(hot & planted) >= 0.8 * len(planted) and len(hot & planted) >= 0.9 * len(hot)
    # 99 replicates cannot reach p <= 0.01 at fdr 0.01: the answer says so.
    low = client.get(
        URL.format("asb_reports"),
        params={**params, "permutations": 19, "fdr": 0.01},
        headers=auth_headers[Role.officer],
    ).json()
    assert any("no cluster can be significant" in w for w in low["meta"]["warnings"])
    # Public callers get cluster counts through the small-count rule.
    public = client.get(URL.format("asb_reports"), params=params).json()
    for c in public["meta"]["clusters"]:
        assert isinstance(c["observed"], int) or c["observed"] == "<5"


def test_unknown_service_is_404(client):
    assert client.get(URL.format("no_such_service")).status_code == 404


def test_permutation_job_runs_with_progress(client, auth_headers):
    officer = auth_headers[Role.officer]
    r = client.post(
        URL.format("asb_reports") + "/jobs",
        json={"level": "oa", "method": "gistar", "permutations": 199, "seed": 1},
        headers=officer,
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "done")
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/v1/hotspot-jobs/{job['id']}", headers=officer).json()
    assert job["status"] == "done" and job["progress"] == 1.0
    result = client.get(f"/api/v1/hotspot-jobs/{job['id']}/result", headers=officer).json()
    assert "199 permutations" in result["meta"]["inference"]
    assert all(0 < f["properties"]["p_value"] <= 1 for f in result["features"])
    assert client.post(URL.format("asb_reports") + "/jobs", json={"method": "gistar"}).status_code == 401


def test_scan_runs_as_a_job(client, auth_headers):
    officer = auth_headers[Role.officer]
    r = client.post(
        URL.format("fire_hsv") + "/jobs",
        json={"level": "oa", "method": "scan", "permutations": 99, "seed": 2, "direction": "low"},
        headers=officer,
    )
    assert r.status_code == 202, r.text
    job = r.json()
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(f"/api/v1/hotspot-jobs/{job['id']}", headers=officer).json()
    assert job["status"] == "done" and job["progress"] == 1.0
    result = client.get(f"/api/v1/hotspot-jobs/{job['id']}/result", headers=officer).json()
    meta = result["meta"]
    assert meta["method"] == "scan" and meta["direction"] == "low" and meta["permutations"] == 99
    assert meta["clusters"] and all(c["direction"] == "reduced" for c in meta["clusters"])


def test_demand_and_prediction(client, truth):
    d = client.get("/api/v1/services/bus_pass/demand", params={"level": "ward", "percentile": 90})
    assert d.status_code == 200, d.text
    assert len(d.json()["features"]) == 26 and d.json()["meta"]["percentile"] == 90
    rates = truth["services"]["library_membership"]["rates"]
    p = client.post(
        "/api/v1/demand/predict",
        json={"profile": [{"segment_code": k, "rate": v} for k, v in rates.items()], "level": "ward"},
    )
    assert p.status_code == 200, p.text
    total = sum(f["properties"]["predicted"] for f in p.json()["features"])
    assert total == pytest.approx(truth["services"]["library_membership"]["events"], rel=0.1)
    learnt = client.post(
        "/api/v1/demand/predict",
        json={
            "source_service": "library_membership",
            "source_area": "ZD000001",
            "level": "lsoa",
            "format": "csv",
        },
    )
    assert learnt.status_code == 200 and learnt.text.startswith("code,name,households,predicted")
    csv_profile = "segment_code,rate\n" + "\n".join(f"{k},{v}" for k, v in rates.items())
    assert client.post("/api/v1/demand/predict", json={"profile_csv": csv_profile}).status_code == 200
    bad = client.post("/api/v1/demand/predict", json={"profile_csv": "segment,share\nA,1"})
    assert bad.status_code == 422 and "rate" in bad.json()["detail"]


def test_targeting_is_officer_only_and_actionable(client, auth_headers):
    url = "/api/v1/services/bus_pass/targeting"
    assert client.get(url, params={"segments": "B"}).status_code == 401
    r = client.get(url, params={"segments": "B,I", "top": 5}, headers=auth_headers[Role.officer])
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [row["rank"] for row in rows] == [1, 2, 3, 4, 5] and rows[0]["channels"]
    c = client.get(url, params={"segments": "B", "format": "csv"}, headers=auth_headers[Role.officer])
    assert c.status_code == 200 and "channels" in c.text.splitlines()[0]


def test_evaluation_endpoint(client, auth_headers, engine):
    from sqlalchemy import text

    with engine.connect() as conn:
        codes = conn.execute(text("SELECT code FROM area WHERE level = 'oa' ORDER BY code")).scalars().all()
    body = {
        "level": "oa",
        "treated": codes[:6],
        "before": {"start": "2024-11-01", "end": "2025-10-31"},
        "after": {"start": "2025-11-01", "end": "2026-10-31"},
    }
    url = "/api/v1/services/asb_reports/evaluation"
    assert client.post(url, json=body).status_code == 401
    r = client.post(url, json=body, headers=auth_headers[Role.officer])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ci_low"] <= out["estimate"] <= out["ci_high"] and len(out["control"]) == 18


def test_hotspots_against_an_uploaded_rate_table(client, truth):
    rates = truth["services"]["asb_reports"]["rates"]
    r = client.post(
        URL.format("asb_reports"),
        json={"rates": [{"segment_code": k, "rate": v} for k, v in rates.items()], "level": "ward"},
    )
    assert r.status_code == 200, r.text
    meta = r.json()["meta"]
    assert meta["reference"]["kind"] == "rates" and meta["scale"] == 1.0
    assert meta["reference"]["rates"] == pytest.approx(rates)
    csv_rates = "segment_code,rate\n" + "\n".join(f"{k},{v}" for k, v in rates.items())
    c = client.post(
        URL.format("asb_reports"), json={"rates_csv": csv_rates, "level": "ward", "format": "csv"}
    )
    assert c.status_code == 200 and len(c.text.strip().splitlines()) == 27
    neither = client.post(URL.format("asb_reports"), json={"level": "ward"})
    assert neither.status_code == 422 and "rates" in neither.json()["detail"]


def test_reach_lists_segments_least_reached_first(client, auth_headers, truth):
    rates = truth["services"]["bus_pass"]["rates"]
    target = max(rates, key=lambda k: rates[k])
    table = "rates:" + ",".join(f"{k}={2 * v if k == target else v}" for k, v in rates.items())
    r = client.get(
        "/api/v1/services/bus_pass/reach", params={"reference": table}, headers=auth_headers[Role.officer]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["unit"] == "households" and body["meta"]["reference"]["kind"] == "rates"
    first = body["rows"][0]
    assert first["segment_code"] == target and first["class"] == "under_served"
    assert first["reach_low"] <= first["reach"] <= first["reach_high"]
    ratios = [row["ratio"] for row in body["rows"]]
    assert ratios == sorted(ratios)
    csv_text = client.get("/api/v1/services/bus_pass/reach", params={"format": "csv"}).text
    assert csv_text.startswith("segment_code,name,eligible,observed,reach")
    assert (
        client.get("/api/v1/services/bus_pass/reach", params={"reference": "area:ZO000001"}).status_code
        == 403
    )


def test_trends_endpoint_names_categories(client):
    r = client.get(
        "/api/v1/services/asb_reports/hotspots/trends", params={"level": "ward", "slice": "quarter"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["slice"] == "quarter" and len(body["features"]) == 26
    assert {"category", "trend_z", "trend_p", "classes"} <= set(body["features"][0]["properties"])
    bad = client.get("/api/v1/services/asb_reports/hotspots/trends", params={"slice": "week"})
    assert bad.status_code == 422 and "slice" in bad.text


def test_hot_spots_refuse_a_tier_the_classification_lacks_with_a_422(client, auth_headers):
    # the demo's household classification has no tiers: GET and POST bodies both say so
    r = client.get(
        URL.format("asb_reports"),
        params={"level": "ward", "tier": "supergroup", "dispersion": "none"},
        headers=auth_headers[Role.officer],
    )
    assert r.status_code == 422, r.text
    assert "`tier` was 'supergroup'" in r.text and "Traceback" not in r.text
    r = client.post(
        URL.format("asb_reports"),
        json={"level": "ward", "tier": "supergroup", "rates": [{"segment_code": "A", "rate": 0.1}]},
        headers=auth_headers[Role.officer],
    )
    assert r.status_code == 422, r.text
    assert "`tier` was 'supergroup'" in r.text
