"""Service zones over HTTP and from the CLI: roles, 422s, the answer's shape (issue 16)."""

from __future__ import annotations

import pytest

from geo.auth import Role


def test_zones_over_http_and_the_cli(client, auth_headers, capsys) -> None:
    from geo.cli import build_parser
    from geo.planning.cli import cmd_zones

    h = auth_headers[Role.officer]
    assert client.post("/api/v1/planning/zones", json={"floor": 5000}).status_code == 401
    r = client.post("/api/v1/planning/zones", json={"method": "max_p", "level": "lsoa"}, headers=h)
    assert r.status_code == 422 and "floor" in r.text
    r = client.post(
        "/api/v1/planning/zones", json={"method": "max_p", "level": "oa", "floor": 5000}, headers=h
    )
    assert r.status_code == 422 and "async=true" in r.json()["detail"]
    r = client.post(
        "/api/v1/planning/zones", json={"method": "skater", "level": "lsoa", "n_zones": 40}, headers=h
    )
    assert r.status_code == 422 and "async=true" in r.json()["detail"]
    r = client.post(
        "/api/v1/planning/zones", json={"method": "skater", "level": "lsoa", "n_zones": 4}, headers=h
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"]["zones"] == len(body["zones"]["features"]) == 4
    assert {a["zone"] for a in body["assignment"]} == {1, 2, 3, 4}
    assert sum(a["demand"] for a in body["assignment"]) == pytest.approx(body["summary"]["total_demand"])

    args = build_parser().parse_args(["planning", "zones", "--method", "max_p"])
    assert cmd_zones(args) == 2
    assert "--floor" in capsys.readouterr().err


def test_zones_run_as_a_background_job(client, auth_headers) -> None:
    import time

    h = auth_headers[Role.officer]
    body = {"method": "skater", "level": "lsoa", "n_zones": 3}
    r = client.post("/api/v1/planning/zones", params={"async": "true"}, json=body, headers=h)
    assert r.status_code == 202
    job = r.json()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and job["status"] not in ("done", "failed"):
        time.sleep(0.5)
        job = client.get(f"/api/v1/planning/jobs/{job['id']}", headers=h).json()
    assert job["status"] == "done", job.get("error")
    result = job["result"]
    assert result["summary"]["zones"] == 3 and len(result["zones"]["features"]) == 3
    assert sorted({a["zone"] for a in result["assignment"]}) == [1, 2, 3]
