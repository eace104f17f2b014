"""The embed view framed by a page on an allowed origin, in headless Chromium; the full map refuses.

The council's page is served from a second loopback port (another origin); the app allows
exactly that origin in ``frame_ancestors``.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.browser.test_map_page import _until
from tests.live import free_port, serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def origins() -> dict[str, int]:
    return {"app": free_port(), "council": free_port()}


@pytest.fixture(scope="module")
def embed_server(database_url, origins) -> Iterator[str]:
    from api.main import create_app
    from api.settings import Settings

    settings = Settings(DATABASE_URL=database_url, frame_ancestors=[f"http://127.0.0.1:{origins['council']}"])
    with serve(create_app(settings), port=origins["app"]) as url:
        yield url


@pytest.fixture(scope="module")
def council_page(embed_server, origins, engine) -> Iterator[str]:
    with engine.connect() as c:
        service = c.execute(text("SELECT code FROM service ORDER BY code LIMIT 1")).scalar_one()
    html = (
        "<!doctype html><title>Council</title><h1>Our services</h1>"
        f'<iframe id="embed" width="800" height="500" src="{embed_server}/embed.html?layer=wards&service={service}&measure=takeup"></iframe>'
        f'<iframe id="full" width="400" height="300" src="{embed_server}/"></iframe>'
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", origins["council"]), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{origins['council']}/"
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_council_page_embeds_the_public_map_but_not_the_full_one(browser, council_page, embed_server):
    # The session's browser (tests/browser/conftest.py): a second sync Playwright in the same
    # process fails once the first one has started ("Sync API inside the asyncio loop").
    context = browser.new_context()
    try:
        page = context.new_page()
        sent_keys: list[str] = []
        page.on("request", lambda r: sent_keys.append(r.url) if "authorization" in r.headers else None)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(council_page)
        embed = next(f for f in _frames(page, "/embed.html"))
        _until(
            embed,
            "() => window.wardwiseEmbed && (window.wardwiseEmbed.ready || window.wardwiseEmbed.error)",
        )
        assert embed.evaluate("() => window.wardwiseEmbed.error") is None
        _until(embed, "() => window.wardwiseEmbed.tiles > 0 && window.wardwiseEmbed.domain")
        assert embed.evaluate("() => window.wardwiseEmbed.measure") == "takeup"
        assert sent_keys == []  # the embed view never sends a key: public figures only
        # The full map (sign-in, profiles) refuses to be framed: Chromium blocks it.
        page.wait_for_timeout(500)
        full = [f for f in page.frames if f.url.startswith(embed_server) and "/embed.html" not in f.url]
        assert all(not f.evaluate("() => Boolean(window.wardwise)") for f in full)
        assert any("frame-ancestors" in e or "Refused to frame" in e for e in errors), errors
    finally:
        context.close()


def _frames(page: Any, fragment: str) -> Iterator[Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [f for f in page.frames if fragment in f.url]
        if found:
            yield from found
            return
        time.sleep(0.05)
    raise AssertionError(f"no frame loaded {fragment}")
