"""Planning endpoints over HTTP: roles, GeoJSON shapes, CSV, background jobs and 422s."""

from __future__ import annotations

import csv
import io
import time

import pytest

from geo.auth import Role


def test_sites_are_public_geojson(client) -> None:
    r = client.get("/api/v1/sites")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    feats = r.json()["features"]
    assert sum(f["properties"]["is_existing"] for f in feats) == 3
    assert len(feats) >= 60
    assert all(f["geometry"]["type"] == "Point" for f in feats)
    offices = client.get("/api/v1/sites", params={"existing": "true"}).json()["features"]
    assert {f["properties"]["kind"] for f in offices} == {"office"}
    libraries = client.get("/api/v1/sites", params={"kind": "library"}).json()["features"]
    assert libraries and {f["properties"]["kind"] for f in libraries} == {"library"}


def test_planning_posts_need_an_officer(client, auth_headers) -> None:
    assert client.post("/api/v1/planning/sites", json={"p": 1}).status_code == 401
    assert (
        client.post("/api/v1/planning/routes", json={}, headers=auth_headers[Role.public]).status_code == 403
    )


def test_siting_answer_has_the_shapes_the_map_uses(client, auth_headers) -> None:
    body = {"p": 2, "demand": {"segments": ["B", "I", "K"]}, "cover_within": 10}
    r = client.post("/api/v1/planning/sites", json=body, headers=auth_headers[Role.officer])
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["summary"]["status"] == "optimal" and plan["summary"]["travel_unit"] == "min"
    assert plan["current"]["site_ids"] and len(plan["proposed"]["new_site_ids"]) == 2
    assert 0 <= plan["proposed"]["coverage_share"] <= 1
    assert {f["geometry"]["type"] for f in plan["sites"]["features"]} == {"Point"}
    assert {f["geometry"]["type"] for f in plan["catchments"]["features"]} == {"MultiPolygon"}
    assert len(plan["demand"]["features"]) == plan["summary"]["demand_points"]
    csv_r = client.post(
        "/api/v1/planning/sites", params={"format": "csv"}, json=body, headers=auth_headers[Role.officer]
    )
    assert csv_r.status_code == 200 and csv_r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_r.text)))
    assert len(rows) == plan["summary"]["demand_points"]
    assert {"code", "weight", "site_id", "travel", "lng", "lat"} <= set(rows[0])


def test_bad_siting_requests_are_422_saying_why(client, auth_headers) -> None:
    h = auth_headers[Role.officer]
    libraries = len(client.get("/api/v1/sites", params={"kind": "library"}).json()["features"])
    r = client.post(
        "/api/v1/planning/sites", json={"p": libraries + 1, "candidate_kinds": ["library"]}, headers=h
    )
    assert r.status_code == 422 and f"only {libraries} candidate" in r.json()["detail"]
    r = client.post("/api/v1/planning/sites", json={"objective": "max_cover"}, headers=h)
    assert r.status_code == 422 and "cover_within" in r.json()["detail"]
    r = client.post(
        "/api/v1/planning/sites",
        json={"demand": {"source": "service_use", "service": "bus_pass", "date_from": "2099-01-01"}},
        headers=h,
    )
    assert r.status_code == 422 and "demand set is empty" in r.json()["detail"]
    r = client.post("/api/v1/planning/sites", json={"demand": {"segments": ["Z"]}}, headers=h)
    assert r.status_code == 422 and "segments" in r.json()["detail"]
    r = client.post("/api/v1/planning/sites", json={"time_limit_s": 200}, headers=h)
    assert r.status_code == 422 and "async=true" in r.json()["detail"]


def test_route_for_the_van_and_an_impossible_window(client, auth_headers) -> None:
    h = auth_headers[Role.officer]
    body = {"days": ["tue"], "max_stops": 6, "demand": {"segments": ["B", "I", "K"]}, "time_limit_s": 1}
    r = client.post("/api/v1/planning/routes", json=body, headers=h)
    assert r.status_code == 200, r.text
    plan = r.json()
    [route] = plan["routes"]["features"]
    assert route["geometry"]["type"] == "LineString" and route["properties"]["day"] == "tue"
    stop = plan["stops"]["features"][0]["properties"]
    bad = {**body, "time_windows": [{"stop_id": stop["stop_id"], "open": "09:00", "close": "09:01"}]}
    r = client.post("/api/v1/planning/routes", json=bad, headers=h)
    assert r.status_code == 422 and "window" in r.json()["detail"]
    r = client.post("/api/v1/planning/routes", params={"format": "csv"}, json=body, headers=h)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(x["sequence"]) for x in rows] == list(range(1, len(rows) + 1))


def test_long_route_searches_run_as_jobs_with_progress(client, auth_headers) -> None:
    h = auth_headers[Role.officer]
    body = {"days": ["tue", "thu"], "max_stops": 10, "time_limit_s": 1.5}
    r = client.post("/api/v1/planning/routes", params={"async": "true"}, json=body, headers=h)
    assert r.status_code == 202
    job = r.json()
    assert job["status"] in ("queued", "running") and job["status_url"].endswith(job["id"])
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/planning/jobs/{job['id']}", headers=h).json()
        seen.append(job["progress"])
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert job["status"] == "done", job["error"]
    assert job["progress"] == 1.0 and seen == sorted(seen)
    assert job["result"]["summary"]["days"] == ["tue", "thu"]
    assert client.get("/api/v1/planning/jobs/" + "0" * 32, headers=h).status_code == 404


def test_a_weekday_twice_is_a_422_and_the_timetable_prints(client, auth_headers) -> None:
    h = auth_headers[Role.officer]
    r = client.post("/api/v1/planning/routes", json={"days": ["tue", "tue"]}, headers=h)
    assert r.status_code == 422 and "more than once" in r.text
    body = {"days": ["tue"], "frequency": "fortnightly", "max_stops": 6, "time_limit_s": 1, "break_min": 30}
    r = client.post(
        "/api/v1/planning/routes", params={"format": "csv", "table": "timetable"}, json=body, headers=h
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [
        "week",
        "day",
        "vehicle",
        "route_id",
        "sequence",
        "kind",
        "stop_id",
        "name",
        "address",
        "arrive",
        "start",
        "depart",
        "dwell_min",
    ]
    stops = [x for x in rows if x["kind"] == "stop"]
    assert stops and {x["week"] for x in rows} <= {"1", "2"}
    assert len({x["stop_id"] for x in stops}) == len(stops)


def test_scenarios_save_list_compare_and_left_out_recomputes(client, auth_headers, conn) -> None:
    from sqlalchemy import text

    h = auth_headers[Role.officer]
    one = {"name": "one new shop", "sites": {"p": 1, "cover_within": 8, "time_limit_s": 10}}
    two = {"name": "two new shops", "sites": {"p": 2, "cover_within": 8, "time_limit_s": 10}}
    van = {
        "name": "fortnightly van",
        "routes": {"days": ["tue"], "frequency": "fortnightly", "max_stops": 5, "time_limit_s": 1},
    }
    saved = []
    for body in (one, two, van):
        r = client.post("/api/v1/planning/scenarios", json=body, headers=h)
        assert r.status_code == 201, r.text
        saved.append(r.json())
    assert client.post("/api/v1/planning/scenarios", json=one, headers=h).status_code == 422
    listed = client.get("/api/v1/planning/scenarios", headers=h).json()
    assert {s["name"] for s in listed} >= {"one new shop", "two new shops", "fortnightly van"}
    full = client.get(f"/api/v1/planning/scenarios/{saved[1]['id']}", headers=h).json()
    result = full["result"]
    # Left out per segment, recomputed from the stored answer's travel and SQL households.
    travel = {f["id"]: f["properties"]["travel"] for f in result["demand"]["features"]}
    rows = conn.execute(
        text(
            "SELECT a.oa_code, coalesce(hs.segment_code, 'unclassified') AS seg, count(*) AS n "
            "FROM address a LEFT JOIN household_segment hs ON hs.uprn = a.uprn "
            "AND hs.classification_code = 'wardwise12' WHERE a.is_residential GROUP BY 1, 2"
        )
    ).all()
    left: dict[str, int] = {}
    for oa, seg, n in rows:
        if oa in travel and travel[oa] > 8:
            left[seg] = left.get(seg, 0) + n
    figures = {r["segment"]: r["proposed_left_out"] for r in result["segments"]["rows"]}
    assert {k: v for k, v in figures.items() if v} == left
    assert full["figures"]["left_out"] == sum(left.values())
    assert full["figures"]["new_sites"] == 2 and full["figures"]["sites_open"] == 5
    cmp = client.get(
        "/api/v1/planning/scenarios/compare", params=[("ids", s["id"]) for s in saved], headers=h
    ).json()
    names = [s["name"] for s in cmp["scenarios"]]
    assert names == ["one new shop", "two new shops", "fortnightly van"]
    assert cmp["scenarios"][1]["left_out"] <= cmp["scenarios"][0]["left_out"]
    van_fig = cmp["scenarios"][2]
    assert van_fig["households_reached"] == saved[2]["figures"]["households_reached"] > 0
    van_full = client.get(f"/api/v1/planning/scenarios/{saved[2]['id']}", headers=h).json()["result"]
    hours = van_full["summary"]["total_duration_min"] / 60
    assert van_fig["staff_hours_per_year"] == pytest.approx(hours * 52 / 2, abs=0.06)
    assert van_full["timetable"] and van_full["routes"]["features"]
    seg_rows = {r["segment"]: r for r in cmp["segments"]}
    assert all(r["two new shops"] <= r["today"] for r in seg_rows.values() if "today" in r)
    csv_r = client.get(
        "/api/v1/planning/scenarios/compare",
        params=[("ids", saved[0]["id"]), ("ids", saved[1]["id"]), ("format", "csv"), ("table", "segments")],
        headers=h,
    )
    assert csv_r.status_code == 200 and "two new shops" in csv_r.text.splitlines()[0]
    assert client.delete(f"/api/v1/planning/scenarios/{saved[0]['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/planning/scenarios/{saved[0]['id']}", headers=h).status_code == 404


def test_lscp_accessibility_and_isochrones_over_http(client, auth_headers) -> None:
    h = auth_headers[Role.officer]
    r = client.post("/api/v1/planning/lscp", json={"cover_within": 10, "share": 0.9}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["coverage_share"] >= 0.9 - 1e-4
    r = client.post("/api/v1/planning/accessibility", json={"within": 10}, headers=h)
    assert r.status_code == 200 and r.json()["demand"]["features"]
    surgeries = [f["id"] for f in client.get("/api/v1/sites", params={"kind": "surgery"}).json()["features"]]
    r = client.post("/api/v1/planning/huff", json={"competitor_site_ids": surgeries}, headers=h)
    assert r.status_code == 200, r.text
    assert 0 < r.json()["summary"]["our_share"] < 1
    office = client.get("/api/v1/sites", params={"existing": "true"}).json()["features"][0]["id"]
    r = client.get(
        "/api/v1/planning/isochrones", params={"site_id": office, "mode": "walk", "minutes": [5, 10]}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert [f["properties"]["minutes"] for f in r.json()["features"]] == [10, 5]
