"""The feeds list over HTTP (officers)."""

from __future__ import annotations

from typing import Any

from geo.auth import Role


def test_feeds_route_needs_an_officer(client: Any, auth_headers: dict[Role, dict[str, str]]) -> None:
    assert client.get("/api/v1/feeds").status_code == 401
    body = client.get("/api/v1/feeds", headers=auth_headers[Role.officer])
    assert body.status_code == 200 and isinstance(body.json(), list)
