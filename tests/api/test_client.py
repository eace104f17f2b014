"""geo.client against the live OpenAPI spec and a live server (uvicorn on a loopback port)."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import geopandas as gpd
import pytest
from sqlalchemy import text

from geo.auth import Role
from geo.client import OPERATIONS, Client, WardwiseAPIError
from tests.api.test_ogc_clients import live_server  # noqa: F401 - the module-scoped server fixture


def test_every_operation_matches_the_live_spec(client):
    spec = client.get("/openapi.json").json()
    by_id = {
        op["operationId"]: (
            method.upper(),
            path,
            {p["name"] for p in op.get("parameters", []) if p["in"] == "query"},
        )
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    for operation, (method, path, query) in OPERATIONS.items():
        assert operation in by_id, f"{operation} is not in the spec"
        assert by_id[operation][:2] == (method, path), operation
        assert set(query) <= by_id[operation][2], (operation, set(query) - by_id[operation][2])


def test_client_does_not_import_fastapi():
    source = Path("geo/client.py").read_text()
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert modules <= {"__future__", "json", "urllib", "collections", "typing"}, modules


def test_client_calls_give_what_the_routes_give(live_server, client, engine, auth_headers, api_keys):  # noqa: F811
    public = Client(live_server)
    with engine.connect() as c:
        service = c.execute(text("SELECT code FROM service ORDER BY code LIMIT 1")).scalar_one()
        ward = c.execute(
            text("SELECT code FROM area WHERE level = 'ward' ORDER BY code LIMIT 1")
        ).scalar_one()
    assert [s["code"] for s in public.services()] == [
        s["code"] for s in client.get("/api/v1/services").json()
    ]
    assert public.areas("lsoa") == client.get("/api/v1/areas", params={"level": "lsoa"}).json()
    assert public.area(ward)["id"] == ward
    params = {"date_from": "2025-01-01"}
    assert (
        public.propensity(service, **params)
        == client.get(f"/api/v1/services/{service}/propensity", params=params).json()
    )
    assert public.matrix("ward") == client.get("/api/v1/matrix", params={"level": "ward"}).json()
    assert public.hotspots(service) == client.get(f"/api/v1/services/{service}/hotspots").json()
    assert (
        public.demand(service, level="ward")
        == client.get(f"/api/v1/services/{service}/demand", params={"level": "ward"}).json()
    )
    assert (
        public.sites(existing=True)["features"]
        == client.get("/api/v1/sites", params={"existing": "true"}).json()["features"]
    )
    # roles: the profile needs an officer key
    with pytest.raises(WardwiseAPIError) as denied:
        public.profile(ward)
    assert denied.value.status == 401
    officer = Client(live_server, api_key=api_keys[Role.officer])
    assert (
        officer.profile(ward)
        == client.get(f"/api/v1/areas/{ward}/profile", headers=auth_headers[Role.officer]).json()
    )
    # OGC items page through every feature; exports open
    assert {c["id"] for c in public.collections()} >= {"wards", "sites", f"hotspots_{service}"}
    assert [f["id"] for f in public.items("oas", page_size=50)] == [
        f["id"] for f in client.get("/api/v1/areas", params={"level": "oa"}).json()["features"]
    ]
    frame = gpd.read_parquet(io.BytesIO(public.export("wards", "parquet")))
    assert frame.crs.to_epsg() == 27700 and len(frame) == len(public.areas("ward")["features"])
    with pytest.raises(TypeError, match="no query parameter"):
        public.url("list_areas", nonsense=1)
    with pytest.raises(WardwiseAPIError) as missing:
        public.hotspots("no_such_service")
    assert missing.value.status == 404 and "no_such_service" in str(missing.value.detail)
