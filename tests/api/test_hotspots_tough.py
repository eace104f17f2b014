"""The API forms of issue 13's later additions: adjacency scan windows and eligible bases."""

from __future__ import annotations

from sqlalchemy import text

from geo.auth import Role


def test_adjacency_scan_windows_from_the_api(client, auth_headers):
    params = {
        "level": "oa",
        "method": "scan",
        "window": "adjacency",
        "max_size": 8,
        "permutations": 99,
        "seed": 1,
    }
    r = client.get("/api/v1/services/social_care/hotspots", params=params, headers=auth_headers[Role.officer])
    assert r.status_code == 200, r.text
    meta = r.json()["meta"]
    assert meta["window"] == "adjacency" and meta["max_size"] == 8
    assert meta["clusters"] and all(1 <= len(c["areas"]) <= 8 for c in meta["clusters"])
    bad = client.get(
        "/api/v1/services/social_care/hotspots",
        params={**params, "window": "hexagon"},
        headers=auth_headers[Role.officer],
    )
    assert bad.status_code == 422 and "window" in bad.text
    big = client.get(
        "/api/v1/services/social_care/hotspots",
        params={**params, "max_size": 13},
        headers=auth_headers[Role.officer],
    )
    assert big.status_code == 422 and "max_size" in big.text


def test_reach_per_resident_from_the_api(client, auth_headers, engine):
    r = client.get(
        "/api/v1/services/bus_pass/reach",
        params={"eligible": "population"},
        headers=auth_headers[Role.officer],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "usual residents" in body["meta"]["eligible"]
    with engine.connect() as conn:
        residents = conn.execute(
            text(
                "SELECT sum(population) FROM area WHERE level = 'oa' AND code IN "
                "(SELECT DISTINCT a.oa_code FROM address a JOIN household_segment hs USING (uprn) "
                "WHERE a.is_residential AND hs.segment_code IS NOT NULL)"
            )
        ).scalar_one()
    assert abs(sum(row["eligible"] for row in body["rows"]) - residents) < 0.01 * residents
    bad = client.get(
        "/api/v1/services/bus_pass/reach",
        params={"eligible": "variable:x;drop"},
        headers=auth_headers[Role.officer],
    )
    assert bad.status_code == 422 and "eligible" in bad.text
