"""Keys scoped to areas and services: walked over the whole OpenAPI document.

A scoped officer key keeps its role only on operations that declare ``x-scope``, and there
only for requests inside its scope (403 outside, naming the scope); on every other operation
it gets exactly what an anonymous caller gets, so it sees nothing outside its scope that the
public cannot see. Operations are read from the spec at collection time, so new routes are
covered without editing this file.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.auth import ROLE_EXTENSION, SCOPE_EXTENSION
from geo.auth import Role, create_key
from geo.errors import InvalidRequest
from tests.api.test_access import _operations, _request_args

SERVICE = "asb_reports"
OTHER_SERVICE = "bus_pass"
WARD = "ZW000001"
OTHER_WARD = "ZW000002"
DISTRICT = "ZD000001"

#: Answers that legitimately differ between two callers (who am I).
PER_CALLER = {"/api/v1/me"}


@pytest.fixture(scope="module")
def scoped_headers(engine: Engine, settings: Any) -> dict[str, dict[str, str]]:
    salt = settings.secret_salt.get_secret_value()
    with engine.begin() as conn:
        one = create_key(conn, Role.officer, "scoped test key", salt, areas=[WARD], services=[SERVICE])
        two = create_key(
            conn, Role.officer, "scoped test key 2", salt, areas=[WARD], services=[SERVICE, "fire_hsv"]
        )
        district = create_key(conn, Role.officer, "district test key", salt, areas=[DISTRICT])
    return {
        k: {"Authorization": f"Bearer {v}"} for k, v in (("one", one), ("two", two), ("district", district))
    }


def _unscoped() -> list[Any]:
    return [
        pytest.param(m, p, op, id=f"{m} {p}")
        for m, p, op in _operations()
        if SCOPE_EXTENSION not in op and m == "GET" and p not in PER_CALLER
    ]


def _scoped() -> list[Any]:
    return [pytest.param(m, p, op, id=f"{m} {p}") for m, p, op in _operations() if op.get(SCOPE_EXTENSION)]


def test_scoped_routes_exist_and_are_declared() -> None:
    ops = {p for _, p, op in _operations() if op.get(SCOPE_EXTENSION)}
    assert "/api/v1/services/{service}/propensity" in ops and "/api/v1/hotspots/combined" in ops


@pytest.mark.parametrize(("method", "path", "op"), _unscoped())
def test_a_scoped_key_sees_only_what_the_public_sees_elsewhere(
    client: Any, scoped_headers: dict[str, dict[str, str]], method: str, path: str, op: dict[str, Any]
) -> None:
    url, query = _request_args(path, op)
    anonymous = client.request(method, url, params=query)
    scoped = client.request(method, url, params=query, headers=scoped_headers["one"])
    if op.get(ROLE_EXTENSION) != Role.public.name:
        assert scoped.status_code == 403, f"{path}: {scoped.status_code}"
        assert "limited to" in scoped.json()["detail"]
        return
    assert scoped.status_code == anonymous.status_code, f"{path}: {scoped.text[:200]}"
    if anonymous.status_code == 200 and anonymous.headers["content-type"].startswith("application/json"):
        assert scoped.json() == anonymous.json(), path
    elif anonymous.status_code == 200:
        assert scoped.content == anonymous.content, path


def _scoped_call(path: str, op: dict[str, Any], service: list[str], area: str | None) -> tuple[str, dict]:
    declared = op[SCOPE_EXTENSION]
    url = re.sub(r"\{service\}", service[0], path)
    url = re.sub(r"\{(\w+)\}", "x", url)
    query: dict[str, Any] = {}
    for name in declared["service"]:
        if f"{{{name}}}" not in path:
            query[name] = service
    if area is not None:
        query[declared["area"][0]] = area
    return url, query


@pytest.mark.parametrize(("method", "path", "op"), _scoped())
def test_a_scoped_key_is_refused_outside_its_scope(
    client: Any, scoped_headers: dict[str, dict[str, str]], method: str, path: str, op: dict[str, Any]
) -> None:
    headers = scoped_headers["two"]
    multi = any(n == "services" for n in op[SCOPE_EXTENSION]["service"])
    inside = [SERVICE, "fire_hsv"] if multi else [SERVICE]
    cases = {
        "inside": (inside, WARD),
        "an OA of the ward": (inside, None),
        "another service": ([SERVICE, OTHER_SERVICE] if multi else [OTHER_SERVICE], WARD),
        "another ward": (inside, OTHER_WARD),
        "the whole district": (inside, DISTRICT),
        "no area": (inside, None),
    }
    oa_of_ward = _an_oa_of(client, WARD)
    assert oa_of_ward is not None
    for label, (service, area) in cases.items():
        if label == "an OA of the ward":
            area = oa_of_ward
        url, query = _scoped_call(path, op, service, area)
        answer = client.request(method, url, params=query, headers=headers)
        if label in ("inside", "an OA of the ward"):
            assert answer.status_code == 200, f"{label}: {path} {answer.text[:300]}"
        else:
            assert answer.status_code == 403, f"{label}: {path} {answer.status_code} {answer.text[:200]}"
            assert "limited to" in answer.json()["detail"]


def _an_oa_of(client: Any, ward: str) -> str | None:
    lsoas = {
        f["id"]
        for f in client.get("/api/v1/areas", params={"level": "lsoa"}).json()["features"]
        if f["properties"]["parent_code"] == ward
    }
    for f in client.get("/api/v1/areas", params={"level": "oa"}).json()["features"]:
        if f["properties"]["parent_code"] in lsoas:
            return str(f["id"])
    return None


def test_inside_its_scope_a_key_sees_what_an_officer_sees(
    client: Any, scoped_headers: dict[str, dict[str, str]], auth_headers: dict[Role, dict[str, str]]
) -> None:
    url = f"/api/v1/services/{SERVICE}/propensity"
    params = {"area": WARD}
    scoped = client.get(url, params=params, headers=scoped_headers["one"]).json()
    officer = client.get(url, params=params, headers=auth_headers[Role.officer]).json()
    public = client.get(url, params=params).json()
    assert scoped == officer and scoped != public  # unsuppressed, and only this ward's counts
    district = client.get(url, params={"area": DISTRICT}, headers=scoped_headers["district"])
    assert district.status_code == 200
    assert client.get(url, headers=scoped_headers["district"]).status_code == 403  # area is required
    me = client.get("/api/v1/me", headers=scoped_headers["one"]).json()
    assert me["role"] == "officer" and me["scope_areas"] == [WARD] and me["scope_services"] == [SERVICE]


def test_scopes_name_known_codes(conn, settings: Any) -> None:
    salt = settings.secret_salt.get_secret_value()
    with pytest.raises(InvalidRequest, match="areas"):
        create_key(conn, Role.officer, "bad scope", salt, areas=["NOWHERE"])
    with pytest.raises(InvalidRequest, match="services"):
        create_key(conn, Role.officer, "bad scope", salt, services=["pigeons"])
    with pytest.raises(InvalidRequest, match="empty"):
        create_key(conn, Role.officer, "bad scope", salt, services=[])
    assert conn.execute(text("SELECT count(*) FROM api_key WHERE name = 'bad scope'")).scalar() == 0
