"""Embedding: only the read-only embed view may be framed, and only by the origins the admin allows."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.main import create_app
from api.settings import Settings


def test_embed_view_is_frameable_only_by_allowed_origins(database_url):
    allowed = ["https://www.council.gov.uk", "http://127.0.0.1:8081"]
    with TestClient(create_app(Settings(DATABASE_URL=database_url, frame_ancestors=allowed))) as c:
        embed = c.get("/embed.html")
        assert embed.status_code == 200 and "embed.js" in embed.text
        csp = embed.headers["content-security-policy"]
        assert "frame-ancestors 'self' https://www.council.gov.uk http://127.0.0.1:8081" in csp
        assert "x-frame-options" not in embed.headers
        # everything else stays unframeable: the full map (sign-in, profiles) and the API
        for path in ("/", "/index.html", "/api/v1/areas", "/ogc"):
            r = c.get(path)
            assert r.headers["x-frame-options"] == "DENY", path
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path


def test_embed_view_is_not_frameable_when_no_origin_is_allowed(client):
    embed = client.get("/embed.html")
    assert embed.status_code == 200
    assert embed.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in embed.headers["content-security-policy"]


@pytest.mark.parametrize(
    "bad",
    [
        "https://a.gov.uk; script-src *",
        "https://a.gov.uk/path",
        "*",
        "javascript:alert(1)",
        "'unsafe-inline'",
    ],
)
def test_frame_ancestors_accepts_only_origins(database_url, bad):
    with pytest.raises(ValidationError, match="frame_ancestors"):
        Settings(DATABASE_URL=database_url, frame_ancestors=[bad])


def test_frame_ancestors_from_the_environment(monkeypatch, database_url):
    monkeypatch.setenv("WARDWISE_FRAME_ANCESTORS", "https://a.gov.uk, https://b.gov.uk:8443")
    assert Settings(DATABASE_URL=database_url).frame_ancestors == [
        "https://a.gov.uk",
        "https://b.gov.uk:8443",
    ]
