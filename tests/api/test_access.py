"""The role matrix, read from the OpenAPI document: every operation declares a role, and each
protected one answers 401 without a key (or with a bad one) and 403 with every weaker role.

The operations are collected from the app's own OpenAPI document at collection time, so
endpoints added later are covered without editing this file; an operation without
``x-required-role`` fails ``test_every_operation_declares_a_role``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest

from api.auth import ROLE_EXTENSION
from geo.auth import Role

Operation = tuple[str, str, dict[str, Any]]


@cache
def _spec() -> dict[str, Any]:
    from api.main import create_app
    from api.settings import Settings

    # Building the document needs no database (the lifespan is not run).
    return create_app(Settings()).openapi()


def _operations() -> list[Operation]:
    return [
        (method.upper(), path, op)
        for path, item in _spec()["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _protected() -> list[Any]:
    return [
        pytest.param(m, p, op, id=f"{m} {p}")
        for m, p, op in _operations()
        if op.get(ROLE_EXTENSION) not in (None, Role.public.name)
    ]


def _public_gets() -> list[Any]:
    return [
        pytest.param(m, p, op, id=f"{m} {p}")
        for m, p, op in _operations()
        if op.get(ROLE_EXTENSION) == Role.public.name and m == "GET"
    ]


def _sample(schema: dict[str, Any]) -> Any:
    """A plausible value for a parameter (validity does not matter before the role check)."""
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("anyOf", "oneOf"):
        options = [s for s in schema.get(key, []) if s.get("type") != "null"]
        if options:
            return _sample(options[0])
    kind = schema.get("type")
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 1.0)) or 1.0
    if kind == "boolean":
        return "true"
    if schema.get("format") == "date":
        return "2025-01-01"
    return "ZW000001"


def _request_args(path: str, op: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    params = op.get("parameters", [])
    values = {p["name"]: _sample(p.get("schema", {})) for p in params if p["in"] == "path"}
    url = re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), "x")), path)
    query = {
        p["name"]: _sample(p.get("schema", {})) for p in params if p["in"] == "query" and p.get("required")
    }
    return url, query


def test_every_operation_declares_a_role() -> None:
    undeclared = [f"{m} {p}" for m, p, op in _operations() if ROLE_EXTENSION not in op]
    assert not undeclared, (
        "these operations declare no role: take ViewerDep/DisclosureDep (public), "
        f"OfficerDep/AnalystDep/AdminDep, or openapi_extra=PUBLIC: {undeclared}"
    )
    roles = {op[ROLE_EXTENSION] for _, _, op in _operations()}
    assert roles <= {r.name for r in Role}


def test_routes_hidden_from_the_spec_declare_a_role_too() -> None:
    from api.auth import api_routes, declared_role
    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings())
    undeclared = [f"{sorted(r.methods)} {r.path_format}" for r in api_routes(app) if declared_role(r) is None]
    assert not undeclared, f"these routes declare no role: {undeclared}"


def test_the_matrix_covers_every_role_level() -> None:
    # The admin endpoints exist in this issue; officer/analyst ones arrive with others'.
    assert any(op[ROLE_EXTENSION] == "admin" for _, _, op in _operations())
    assert _protected(), "no protected operations were found in the OpenAPI document"


@pytest.mark.parametrize(("method", "path", "op"), _protected())
def test_protected_operation_needs_a_key_of_its_role(
    client: Any, auth_headers: dict[Role, dict[str, str]], method: str, path: str, op: dict[str, Any]
) -> None:
    needed = Role[op[ROLE_EXTENSION]]
    url, query = _request_args(path, op)
    body = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}

    anonymous = client.request(method, url, params=query, **body)
    assert anonymous.status_code == 401, f"{method} {path} without a key: {anonymous.status_code}"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.headers["content-type"].startswith("application/problem+json")

    forged = client.request(
        method, url, params=query, headers={"Authorization": "Bearer ww_000000000000_" + "x" * 32}, **body
    )
    assert forged.status_code == 401, f"{method} {path} with a bad key: {forged.status_code}"

    for weaker in (r for r in Role if r < needed):
        answer = client.request(method, url, params=query, headers=auth_headers[weaker], **body)
        assert answer.status_code == 403, f"{method} {path} with a {weaker.name} key: {answer.status_code}"
        assert needed.name in answer.json()["detail"]

    if method == "GET":  # safe to call for real: the right key gets past the role check
        allowed = client.request(method, url, params=query, headers=auth_headers[needed])
        assert allowed.status_code not in (401, 403), f"{method} {path}: {allowed.text[:200]}"
        assert allowed.status_code < 500, f"{method} {path}: {allowed.text[:200]}"


@pytest.mark.parametrize(("method", "path", "op"), _public_gets())
def test_public_operation_answers_without_a_key(
    client: Any, method: str, path: str, op: dict[str, Any]
) -> None:
    url, query = _request_args(path, op)
    answer = client.request(method, url, params=query)
    assert answer.status_code not in (401, 403), f"{method} {path}: {answer.status_code}"
    assert answer.status_code < 500, f"{method} {path}: {answer.text[:200]}"


def test_me_reports_the_role_of_each_key(client: Any, auth_headers: dict[Role, dict[str, str]]) -> None:
    assert client.get("/api/v1/me").json() == {
        "role": "public",
        "key_prefix": None,
        "authenticated": False,
        "can_see_unsuppressed": False,
        "scope_areas": None,
        "scope_services": None,
    }
    for role, headers in auth_headers.items():
        me = client.get("/api/v1/me", headers=headers).json()
        assert me["role"] == role.name
        assert me["authenticated"] is True
        assert headers["Authorization"].split("_")[1] == me["key_prefix"]
        assert me["can_see_unsuppressed"] is (role >= Role.officer)
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-key"})
    assert bad.status_code == 401


def test_key_lifecycle_create_list_use_revoke_is_audited(
    client: Any, auth_headers: dict[Role, dict[str, str]]
) -> None:
    admin = auth_headers[Role.admin]
    created = client.post(
        "/api/v1/admin/keys", json={"role": "officer", "name": "lifecycle test"}, headers=admin
    )
    assert created.status_code == 201, created.text
    new = created.json()
    key, prefix = new["key"], new["prefix"]
    assert key.startswith(f"ww_{prefix}_") and new["role"] == "officer"

    listing = client.get("/api/v1/admin/keys", headers=admin)
    assert listing.status_code == 200
    assert key.split("_", 2)[2] not in listing.text, "a listing must never contain a secret"
    assert "key_hash" not in listing.text
    assert any(k["prefix"] == prefix and not k["revoked"] for k in listing.json()["keys"])

    mine = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/me", headers=mine).json()["role"] == "officer"

    revoked = client.delete(f"/api/v1/admin/keys/{prefix}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert client.get("/api/v1/me", headers=mine).status_code == 401, "a revoked key stops working at once"
    assert client.delete("/api/v1/admin/keys/ffffffffffff", headers=admin).status_code == 404
    assert client.delete("/api/v1/admin/keys/not-hex", headers=admin).status_code == 422

    audit = client.get("/api/v1/admin/audit", params={"action": "key", "limit": 1000}, headers=admin).json()
    admin_prefix = admin["Authorization"].split("_")[1]
    seen = {
        (e["action"], e["target"])
        for e in audit["entries"]
        if e["actor"] in (admin_prefix, prefix, "anonymous")
    }
    assert ("key.create", prefix) in seen
    assert ("key.revoke", prefix) in seen
    assert ("key.use", prefix) in seen, "the new key's use is recorded"
    assert all(e["action"].startswith("key.") for e in audit["entries"])
    assert key.split("_", 2)[2] not in str(audit), "the audit log never holds a secret"


def test_key_names_must_not_be_email_addresses(client: Any, auth_headers: dict[Role, dict[str, str]]) -> None:
    answer = client.post(
        "/api/v1/admin/keys",
        json={"role": "officer", "name": "jo@example.org"},
        headers=auth_headers[Role.admin],
    )
    assert answer.status_code == 422
    assert "name" in answer.json()["detail"]


def test_responses_carry_the_security_headers(client: Any, auth_headers: dict[Role, dict[str, str]]) -> None:
    for url in ("/", "/api/v1/me", "/api/v1/no-such-thing", "/health"):
        headers = client.get(url).headers
        assert headers["content-security-policy"].startswith("default-src 'self'"), url
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self';" in headers["content-security-policy"] + ";"
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    keyed = client.get("/api/v1/me", headers=auth_headers[Role.officer]).headers
    assert "authorization" in keyed["vary"].lower()
    assert "public" not in keyed.get("cache-control", "")


def test_oversized_requests_are_refused_before_any_handler(client: Any) -> None:
    huge = client.post(
        "/api/v1/admin/keys",
        content=b"{" + b" " * (11 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert client.get("/api/v1/areas", params={"level": "x" * 20_000}).status_code == 414


def test_cli_creates_lists_and_revokes_keys(
    database_url: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    client: Any,
) -> None:
    from geo.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WARDWISE_SECRET_SALT", settings.secret_salt.get_secret_value())
    assert main(["keys", "create", "--role", "analyst", "--name", "cli test"]) == 0
    key = capsys.readouterr().out.strip()
    assert re.fullmatch(r"ww_[0-9a-f]{12}_[A-Za-z0-9_\-]{32}", key)
    prefix = key.split("_")[1]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["role"] == "analyst"

    assert main(["keys", "create", "--role", "analyst", "--name", "cli test", "--replace"]) == 0
    replacement = capsys.readouterr().out.strip()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert replacement.split("_")[1] in listing and prefix not in listing
    assert replacement.split("_", 2)[2] not in listing
    assert main(["keys", "revoke", replacement.split("_")[1]]) == 0
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {replacement}"}).status_code == 401
    assert main(["keys", "revoke", "ffffffffffff"]) == 1


def test_downloads_are_audited_with_who_and_what(
    client: Any, engine: Any, auth_headers: dict[Role, dict[str, str]]
) -> None:
    from sqlalchemy import text

    with engine.connect() as conn:
        service = conn.execute(text("SELECT code FROM service ORDER BY code LIMIT 1")).scalar_one()
    officer = auth_headers[Role.officer]
    downloads = []
    for path, item in _spec()["paths"].items():
        op = item.get("get", {})
        formats = [p for p in op.get("parameters", []) if p["name"] == "format"]
        required = {p["name"] for p in op.get("parameters", []) if p.get("required")}
        if formats and "csv" in str(formats[0].get("schema")) and required <= {"service"}:
            downloads.append(path.replace("{service}", service))
    assert downloads, "no CSV download found in the OpenAPI document"
    answer = next(
        (
            a
            for a in (client.get(u, params={"format": "csv"}, headers=officer) for u in downloads)
            if a.status_code == 200
        ),
        None,
    )
    assert answer is not None, f"none of {downloads} answered 200"
    assert "attachment" in answer.headers["content-disposition"]
    path = answer.request.url.path
    audit = client.get(
        "/api/v1/admin/audit", params={"action": "export"}, headers=auth_headers[Role.admin]
    ).json()
    officer_prefix = officer["Authorization"].split("_")[1]
    mine = [e for e in audit["entries"] if e["target"] == path and e["actor"] == officer_prefix]
    assert mine, f"no export entry for {path}: {audit['entries'][:3]}"
    assert mine[0]["action"] == "export.csv" and mine[0]["role"] == "officer"
    assert "format=csv" in mine[0]["detail"]["query"]


#: JSON keys and CSV columns that hold counts of people, households or events.
COUNT_KEY = re.compile(
    r"(count|users|events|households|target|observed|respondents|responses|people|cases)$|^n$", re.I
)


def _small_counts(value: Any, threshold: int, where: str = "") -> list[str]:
    """Every count-named integer in 1..threshold in a JSON document, with its path."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}"
            is_count = COUNT_KEY.search(str(key)) and isinstance(item, int) and not isinstance(item, bool)
            if is_count and 1 <= item <= threshold:
                found.append(f"{here}={item}")
            found += _small_counts(item, threshold, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _small_counts(item, threshold, f"{where}[{i}]")
    return found


def _probe_public_gets(
    client: Any, engine: Any, threshold: int, headers: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Ask every public GET (at output-area level where it can be, as JSON and CSV); return
    (what was checked, small counts seen)."""
    import csv
    import io

    from sqlalchemy import text

    with engine.connect() as conn:
        service = conn.execute(
            text("SELECT service_code FROM service_event GROUP BY 1 ORDER BY count(*) LIMIT 1")
        ).scalar_one()
    fill = {"service": service, "level": "oa", "classification": "wardwise12", "by": "segment"}
    checked, leaks = [], []
    for path, item in _spec()["paths"].items():
        op = item.get("get")
        if not op or op.get(ROLE_EXTENSION) != "public" or "{z}" in path:
            continue
        params = {p["name"]: p for p in op.get("parameters", [])}
        if any(p.get("required") and name not in fill for name, p in params.items()):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], path)
        query = {k: v for k, v in fill.items() if k in params and params[k]["in"] == "query"}
        for fmt in ("json", "csv") if "format" in params else ("json",):
            answer = client.get(
                url, params={**query, **({"format": fmt} if fmt == "csv" else {})}, headers=headers
            )
            if answer.status_code != 200:
                continue
            checked.append(f"{path} {fmt}")
            if fmt == "csv":
                rows = list(csv.DictReader(io.StringIO(answer.text)))
                for r, row in enumerate(rows):
                    for col, cell in row.items():
                        if col and COUNT_KEY.search(col) and cell.isdigit() and 1 <= int(cell) <= threshold:
                            leaks.append(f"{path} csv row {r} {col}={cell}")
            elif "json" in answer.headers.get("content-type", ""):
                leaks += [f"{path} {leak}" for leak in _small_counts(answer.json(), threshold)]
    return checked, leaks


def test_public_answers_show_no_small_counts(
    client: Any, engine: Any, settings: Any, auth_headers: dict[Role, dict[str, str]]
) -> None:
    threshold = settings.suppression_threshold
    checked, leaks = _probe_public_gets(client, engine, threshold, {})
    assert len(checked) >= 5, f"too few public answers to check: {checked}"
    assert not leaks, f"small counts shown to the public ({len(leaks)}): {leaks[:15]}"
    # the probe can see small counts: officers get them, unsuppressed, from the same answers
    _, officer_sees = _probe_public_gets(client, engine, threshold, auth_headers[Role.officer])
    assert officer_sees, f"the probe found no small count even for an officer in {checked}"


def test_public_callers_cannot_learn_rates_from_small_areas(
    client: Any, engine: Any, auth_headers: dict[Role, dict[str, str]]
) -> None:
    """Rates learnt in one output area, applied to many areas of known mix, would give away its
    small counts per segment: the public may learn only from a whole district."""
    from sqlalchemy import text

    with engine.connect() as conn:
        oa, district = conn.execute(
            text(
                "SELECT min(code) FILTER (WHERE level = 'oa'), min(code) FILTER (WHERE level = 'district') FROM area"
            )
        ).one()
        service = conn.execute(text("SELECT code FROM service ORDER BY code LIMIT 1")).scalar_one()
    body = {"source_service": service, "level": "ward", "format": "csv"}
    assert client.post("/api/v1/demand/predict", json={**body, "source_area": oa}).status_code == 403
    assert client.post("/api/v1/demand/predict", json={**body, "source_area": district}).status_code == 200
    officer = auth_headers[Role.officer]
    assert (
        client.post("/api/v1/demand/predict", json={**body, "source_area": oa}, headers=officer).status_code
        == 200
    )
    hotspots = f"/api/v1/services/{service}/hotspots"
    assert client.get(hotspots, params={"level": "ward", "reference": f"area:{oa}"}).status_code == 403
    assert (
        client.get(hotspots, params={"level": "ward", "reference": f"area:{oa}"}, headers=officer).status_code
        == 200
    )
