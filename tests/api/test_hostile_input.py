"""Hostile input: injection strings, huge values, bad geometries and tile addresses, oversized
uploads and zip bombs get 4xx answers, leak no SQL or traces, and change nothing.

Operations and their parameters are read from the OpenAPI document, so filters added later
are attacked too. A bounded schemathesis run (about a minute, positive and negative cases,
GET operations plus POSTs open to officers, which only compute) asserts that no 5xx exists.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.auth import ROLE_EXTENSION
from geo.auth import Role

INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE service_event; --",
    "1; DELETE FROM api_key",
    '" OR ""="',
    "ZW000001' UNION SELECT key_hash, role FROM api_key --",
    "%' AND pg_sleep(5) IS NULL --",
    "ward) ; UPDATE area SET households = 0; --",
    "\x00",
    "../../../../etc/passwd",
    "<script>alert(1)</script>",
]
#: Words that must never reach a client: SQL, driver names, Python tracebacks.
LEAKS = re.compile(r"Traceback|psycopg|sqlalchemy|syntax error|SELECT |INSERT |pg_catalog|File \"/", re.I)
#: Tables whose contents a read-only request must never change.
WATCHED = ["area", "area_set", "address", "service_event", "household_segment", "api_key", "site"]


def _fingerprint(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in WATCHED}
        counts["households"] = conn.execute(text("SELECT sum(households) FROM area")).scalar_one()
        counts["revoked"] = conn.execute(text("SELECT count(*) FROM api_key WHERE revoked")).scalar_one()
        # a refused upload may be listed as a failed batch (that is the audit trail); none may load
        counts["loaded batches"] = conn.execute(
            text("SELECT count(*) FROM ingest_batch WHERE status <> 'failed'")
        ).scalar_one()
    return counts


def _spec(client: TestClient) -> dict[str, Any]:
    spec: dict[str, Any] = client.get("/openapi.json").json()
    return spec


def _gets(client: TestClient) -> list[tuple[str, dict[str, Any]]]:
    return [(path, item["get"]) for path, item in _spec(client)["paths"].items() if "get" in item]


def _headers_for(op: dict[str, Any], auth_headers: dict[Role, dict[str, str]]) -> dict[str, str]:
    # Attack with a key strong enough to get past the role check, so the filters are reached.
    return auth_headers[Role[op.get(ROLE_EXTENSION, "admin")]] if op.get(ROLE_EXTENSION) != "public" else {}


def _fill(path: str, op: dict[str, Any], override: dict[str, str]) -> tuple[str, dict[str, str]]:
    values: dict[str, str] = {}
    query: dict[str, str] = {}
    for p in op.get("parameters", []):
        schema = p.get("schema", {})
        default = schema.get("default", (schema.get("enum") or ["1"])[0])
        value = override.get(p["name"], default if p.get("required") or p["name"] in override else None)
        if value is None:
            continue
        (values if p["in"] == "path" else query)[p["name"]] = str(value)
    url = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)
    return url, query


def _assert_clean(answer: Any, what: str, sent: str = "") -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:300]}"
    if answer.headers.get("content-type", "").startswith(("application/json", "application/problem+json")):
        # an endpoint may echo the input back (a search's "query"): only what it adds counts
        body = answer.text.replace(json.dumps(sent)[1:-1], "") if sent else answer.text
        assert not LEAKS.search(body), f"{what} leaks internals: {answer.text[:300]}"


def test_injection_strings_in_every_parameter_change_nothing(
    client: TestClient, engine: Engine, auth_headers: dict[Role, dict[str, str]]
) -> None:
    before = _fingerprint(engine)
    attacked = 0
    for path, op in _gets(client):
        params = [p for p in op.get("parameters", []) if p["in"] in ("query", "path")]
        for param in params:
            for attack in INJECTIONS:
                if param["in"] == "path" and ("/" in attack or "\x00" in attack):
                    continue  # would address another route, not this parameter
                url, query = _fill(path, op, {param["name"]: attack})
                answer = client.get(url, params=query, headers=_headers_for(op, auth_headers))
                what = f"GET {path} {param['name']}={attack!r}"
                _assert_clean(answer, what, attack)
                constrained = any(k in param.get("schema", {}) for k in ("pattern", "enum", "format"))
                if constrained or param.get("schema", {}).get("type") in ("integer", "number", "boolean"):
                    assert 400 <= answer.status_code < 500, f"{what} was accepted: {answer.status_code}"
                attacked += 1
    assert attacked > 50
    assert _fingerprint(engine) == before


def test_huge_and_out_of_range_values_are_refused(
    client: TestClient, engine: Engine, auth_headers: dict[Role, dict[str, str]]
) -> None:
    before = _fingerprint(engine)
    huge = {
        "integer": ["9" * 40, "-1e308", "NaN"],
        "number": ["1e999", "NaN", "-inf"],
        "string": ["Z" * 5000],
    }
    for path, op in _gets(client):
        for param in op.get("parameters", []):
            schema = param.get("schema", {})
            kinds = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
            for kind in (k for k in kinds if k in huge):
                for value in huge[kind]:
                    if param["in"] == "path" and kind == "string":
                        continue
                    url, query = _fill(path, op, {param["name"]: value})
                    answer = client.get(url, params=query, headers=_headers_for(op, auth_headers))
                    what = f"GET {path} {param['name']}={value[:20]}..."
                    _assert_clean(answer, what)
                    if kind != "string" or "maxLength" in schema or "pattern" in schema:
                        assert answer.status_code >= 400, f"{what} was accepted"
    assert client.get("/api/v1/areas", params={"level": "ward" * 5000}).status_code == 414
    assert _fingerprint(engine) == before


@pytest.mark.parametrize(
    "address",
    [
        "0/1/0",
        "0/0/1",
        "-1/0/0",
        "31/0/0",
        "3/8/0",
        "3/0/8",
        "3/-1/0",
        "a/b/c",
        "1.5/0/0",
        "99999999999999/0/0",
    ],
)
def test_invalid_tile_addresses_are_4xx(client: TestClient, address: str) -> None:
    spec = _spec(client)
    tile_paths = [p for p in spec["paths"] if "{z}/{x}/{y}" in p]
    assert tile_paths, "no tile endpoint in the OpenAPI document"
    for path in tile_paths:
        layer_param = next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] not in "zxy")
        layer = (layer_param.get("schema", {}).get("enum") or ["wards"])[0]
        z, x, y = address.split("/")
        url = path.replace(f"{{{layer_param['name']}}}", str(layer)).replace("{z}", z).replace("{x}", x)
        answer = client.get(url.replace("{y}", y))
        _assert_clean(answer, f"tile {address}")
        assert 400 <= answer.status_code < 500, f"tile {address}: {answer.status_code}"


def _upload_operations(client: TestClient) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, url, file field, operation) for every multipart upload, path filled from its enums."""
    spec = _spec(client)
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "multipart/form-data" not in content:
                continue
            ref = content["multipart/form-data"]["schema"].get("$ref", "").rsplit("/", 1)[-1]
            props = spec["components"]["schemas"].get(ref, {}).get("properties", {})
            field = next(
                (f for f, p in props.items() if p.get("format") == "binary" or "contentMediaType" in p),
                "file",
            )
            url, _ = _fill(path, op, {})
            found.append((method.upper(), url, field, op))
    return found


def _zip_bomb(uncompressed_mb: int = 100) -> bytes:
    """A small zip holding a CSV of ``uncompressed_mb`` megabytes (about 100 KB compressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("events.csv", "w", force_zip64=True) as member:
            member.write(b"uprn,service,date\n")
            block = b"0" * (1024 * 1024)
            for _ in range(uncompressed_mb):
                member.write(block)
    return buffer.getvalue()


def test_oversized_uploads_and_zip_bombs_are_refused(
    client: TestClient, engine: Engine, settings: Any, auth_headers: dict[Role, dict[str, str]]
) -> None:
    from api.main import create_app

    uploads = _upload_operations(client)
    assert uploads, "no upload (multipart) operation in the OpenAPI document"
    before = _fingerprint(engine)
    small = settings.model_copy(update={"max_upload_bytes": 256 * 1024})
    bomb = _zip_bomb()
    admin = auth_headers[Role.admin]
    with TestClient(create_app(small), raise_server_exceptions=False) as limited:
        for method, url, field, _ in uploads:
            big = b"uprn,service\n" + b"1,x\n" * 200_000
            answer = limited.request(method, url, files={field: ("big.csv", big, "text/csv")}, headers=admin)
            assert answer.status_code == 413, (
                f"{method} {url} oversized: {answer.status_code} {answer.text[:200]}"
            )
            # without a Content-Length (chunked), the streamed bytes are counted instead
            chunks = iter([b"x" * 65536] * 8)
            answer = limited.request(
                method,
                url,
                content=chunks,
                headers={**admin, "Content-Type": "multipart/form-data; boundary=b"},
            )
            assert answer.status_code == 413, f"{method} {url} streamed: {answer.status_code}"
            for name in ("events.zip", "events.xlsx"):
                answer = client.request(
                    method, url, files={field: (name, bomb, "application/zip")}, headers=admin
                )
                _assert_clean(answer, f"{method} {url} zip bomb {name}")
                assert 400 <= answer.status_code < 500, (
                    f"{method} {url} zip bomb {name}: {answer.status_code}"
                )
    assert _fingerprint(engine) == before


def _malformed(x: float, y: float) -> dict[str, Any]:
    """Geometries no area may have, placed inside the borough (lon/lat ``x``, ``y``): each must be
    refused, never stored or silently emptied."""
    d = 0.01
    return {
        "unclosed ring": {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d]]]},
        "zero area": {"type": "Polygon", "coordinates": [[[x, y], [x, y], [x, y], [x, y]]]},
        # out and back along one edge: no area in any projection (points collinear in lon/lat
        # are not collinear in British National Grid, so that case would be a genuine sliver)
        "retraced ring": {"type": "Polygon", "coordinates": [[[x, y], [x + d, y + d], [x, y], [x, y]]]},
        "a line": {"type": "LineString", "coordinates": [[x, y], [x + d, y + d]]},
        "out of range": {"type": "Point", "coordinates": [1e308, -1e308]},
        "NaN": {"type": "Polygon", "coordinates": [[["NaN", y], [x, y + d], [x + d, y], ["NaN", y]]]},
        "WKT string": {
            "type": "Polygon",
            "coordinates": f"POLYGON(({x} {y},{x + d} {y},{x} {y + d},{x} {y}))",
        },
        "unknown type": {"type": "Circle", "coordinates": [x, y]},
        "no geometry": None,
    }


MALFORMED_GEOMETRIES = list(_malformed(0.0, 0.0))


@pytest.mark.parametrize("name", MALFORMED_GEOMETRIES)
def test_malformed_area_geometries_are_refused_and_change_nothing(
    client: TestClient, engine: Engine, auth_headers: dict[Role, dict[str, str]], name: str
) -> None:
    uploads = [u for u in _upload_operations(client) if "areas" in json.dumps(u[3].get("parameters", []))]
    assert uploads, "no upload operation takes areas"
    before = _fingerprint(engine)
    with engine.connect() as conn:
        x, y = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p "
                "FROM area WHERE level = 'district' LIMIT 1) s"
            )
        ).one()
    feature = {"type": "Feature", "properties": {"code": "ZXHOSTILE1", "name": name}}
    body = {"type": "FeatureCollection", "features": [{**feature, "geometry": _malformed(x, y)[name]}]}
    mapping = {
        "columns": {"code": "code", "name": "name"},
        "constants": {"set_code": "hostile", "level": "custom"},
    }
    for method, url, field, _ in uploads:
        url = re.sub(r"/[a-z\-]+$", "/areas", url)
        answer = client.request(
            method,
            url,
            files={field: ("areas.geojson", json.dumps(body).encode(), "application/geo+json")},
            data={"mapping": json.dumps(mapping)},
            headers=auth_headers[Role.admin],
        )
        _assert_clean(answer, f"{method} {url} {name}")
        assert 400 <= answer.status_code < 500, f"{method} {url} accepted {name}: {answer.text[:200]}"
    assert _fingerprint(engine) == before


SCHEMATHESIS_BUDGET_S = 60.0


def test_schemathesis_finds_no_server_errors(
    settings: Any, engine: Engine, auth_headers: dict[Role, dict[str, str]]
) -> None:
    """A bounded property-based run over the OpenAPI document: no 5xx for any generated request."""
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    from api.main import create_app

    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        role = operation.definition.raw.get(ROLE_EXTENSION, "admin")
        method = operation.method.upper()
        if method == "GET" or (method == "POST" and Role[role] <= Role.officer):
            operations.append((operation, role))
    assert operations
    before = _fingerprint(engine)
    deadline = time.monotonic() + SCHEMATHESIS_BUDGET_S
    per_operation = max(3, int(400 / len(operations)))
    failures: list[str] = []
    ran = 0
    for operation, role in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if time.monotonic() > deadline:
                break
            headers = auth_headers[Role[role]] if role != "public" else {}

            @hsettings(
                max_examples=per_operation if mode is GenerationMode.POSITIVE else max(2, per_operation // 2),
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                nonlocal ran
                if time.monotonic() > deadline:
                    return
                response = case.call(headers=headers)  # noqa: B023 - run() is called in this iteration
                ran += 1
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} {case.as_curl_command()}")

            try:
                run()
            except Unsatisfiable:
                # negative mode has nothing to break in an operation without parameters
                assert mode is GenerationMode.NEGATIVE, (
                    f"{operation.label}: no positive case could be generated"
                )
    assert ran >= len(operations), f"only {ran} requests ran in the budget"
    assert not failures, "server errors:\n" + "\n".join(failures[:20])
    assert _fingerprint(engine) == before
