"""Shared set-up of the map page's browser tests: the real app on a loopback port, Debian's
Chromium driven by Playwright, every non-local request blocked, and helpers that read what
the map drew (pixel colours of the canvas, not only the DOM).

The page is served here with the strict self-only policy (no eval, inline script or
inline style), on top of the app's own Content-Security-Policy header.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from tests.live import serve

REPO = Path(__file__).resolve().parents[2]
#: Screenshots of every tab at desktop and phone width (gitignored: tests/artefacts/).
ARTEFACTS = REPO / "tests" / "artefacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # WebGL without a GPU: SwiftShader through ANGLE (needed by deck.gl in headless mode).
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
#: Self only, except images from data: URLs: the deck.gl bundle probes WebP support with a
#: data: image at start-up (loaders.gl's image loader), which img-src 'self' would log as
#: a violation. No 'unsafe-eval', 'unsafe-inline' or blob: is needed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: The page's own constants (frontend_static/app.js), restated so the tests check them.
LAND = (238, 240, 234)
FILL_ALPHA = 0.75 * 210 / 255  # layer opacity x fill alpha
MARKER = (230, 0, 126)


@pytest.fixture(scope="session")
def live_server(settings) -> Iterator[str]:
    """The real app served by uvicorn on a free loopback port, in a background thread."""
    from api.main import create_app

    with serve(create_app(settings), lifespan="on") as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Watch:
    """What the page did that it must not: remote requests, failures, console errors."""

    def __init__(self, base: str) -> None:
        self.origin = urlsplit(base).netloc
        self.remote: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.tiles: list[tuple[str, int]] = []
        self.responses: list[Any] = []

    def attach(self, page: Any) -> None:
        def route(r: Any) -> None:
            url = r.request.url
            parts = urlsplit(url)
            if parts.netloc != self.origin or parts.scheme not in {"http", "https"}:
                if parts.scheme in {"blob", "data"}:
                    r.continue_()
                    return
                self.remote.append(url)
                r.abort()
                return
            if r.request.resource_type in {"document", "script"} and parts.path.endswith((".js", "/")):
                response = r.fetch()
                r.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})
                return
            r.fallback()

        page.route("**/*", route)
        page.on("requestfailed", lambda req: self.failed.append(f"{req.url}: {req.failure}"))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

        def response(resp: Any) -> None:
            self.responses.append(resp)
            if "/tiles/" in resp.url:
                self.tiles.append((resp.url, resp.status))
            if resp.status >= 400:
                self.failed.append(f"{resp.url}: HTTP {resp.status}")

        page.on("response", response)

    def assert_clean(self) -> None:
        assert self.remote == [], f"the page tried to leave the machine: {self.remote}"
        assert self.failed == [], f"requests failed: {self.failed}"
        assert self.errors == [], f"console errors: {self.errors}"


def until(page: Any, expression: str, arg: Any = None, timeout_s: float = 30.0) -> Any:
    """Poll ``expression`` (a JS function of ``arg``) until it is truthy.

    Playwright's wait_for_function compiles its predicate with eval inside the page, which
    the page's Content-Security-Policy forbids; page.evaluate goes through DevTools instead.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {expression}")
        time.sleep(0.05)


def wait_tiles(page: Any) -> None:
    """Until the visible choropleth's tiles are loaded and drawn (and no transition runs)."""
    until(
        page,
        "() => { const w = window.wardwise, d = w.deck; if (!d || !d.layerManager) return false;"
        " const ls = d.layerManager.getLayers().filter(l => ['areas', 'h3'].includes(l.id) && l.props.visible);"
        " return ls.length > 0 && ls.every(l => l.isLoaded) && !w.pending && !w.breaksLoading && !w.moving; }",
    )
    page.wait_for_timeout(400)


def wait_ready(page: Any) -> None:
    until(page, "() => window.wardwise && (window.wardwise.ready || window.wardwise.error)")
    assert page.evaluate("() => window.wardwise.error || null") is None
    wait_tiles(page)


def open_page(
    browser: Any, base: str, viewport: dict[str, int] = DESKTOP, path: str = "/"
) -> tuple[Any, Any, Watch]:
    """A fresh context and page (device scale 1, downloads accepted), watched, loaded and ready."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1, accept_downloads=True)
    page = context.new_page()
    watch = Watch(base)
    watch.attach(page)
    page.goto(f"{base}{path}", wait_until="load")
    wait_ready(page)
    return context, page, watch


def project(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """Where deck.gl draws a WGS84 point, in pixels from the map's top left."""
    x, y = page.evaluate(
        "([lon, lat]) => window.wardwise.deck.getViewports()[0].project([lon, lat])", [lon, lat]
    )
    return float(x), float(y)


def map_image(page: Any) -> Any:
    """A screenshot of the map element as a PIL image (RGB, one pixel per CSS pixel)."""
    from PIL import Image

    png = page.locator("#map").screenshot()
    return Image.open(io.BytesIO(png)).convert("RGB")


def blend(
    colour: tuple[int, ...] | list[int], alpha: float = FILL_ALPHA, under: tuple[int, ...] = LAND
) -> tuple[float, ...]:
    return tuple(c * alpha + u * (1 - alpha) for c, u in zip(colour[:3], under, strict=True))


def coloured_share(image: Any) -> float:
    """Share of the image's pixels that are neither bare land, white nor black."""
    import numpy as np

    px = np.asarray(image.convert("RGB"), dtype=float)

    def far(c: tuple[int, ...]) -> Any:
        return np.sqrt(((px - np.array(c, dtype=float)) ** 2).sum(axis=2)) > 20

    return float((far(LAND) & far((255, 255, 255)) & far((0, 0, 0))).mean())


def distance(a: Any, b: Any) -> float:
    return float(sum((float(x) - float(y)) ** 2 for x, y in zip(a[:3], b[:3], strict=True)) ** 0.5)


def wards(engine) -> list[dict[str, Any]]:
    """Every ward with a point inside it (WGS84), its households and its bounding box."""
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT code, name, households, ST_X(p) AS lon, ST_Y(p) AS lat, "
                " ST_XMin(b) AS w, ST_YMin(b) AS s, ST_XMax(b) AS e, ST_YMax(b) AS n FROM "
                "(SELECT code, name, households, ST_Transform(ST_PointOnSurface(geom), 4326) AS p, "
                "  ST_Transform(geom, 4326)::box2d::geometry AS b "
                " FROM area WHERE level = 'ward') q ORDER BY households DESC, code"
            )
        ).mappings()
        return [dict(r) for r in rows]


@pytest.fixture(scope="session")
def officer_key(engine, settings) -> Iterator[str]:
    from geo.auth import Role, create_key

    with engine.begin() as c:
        key = create_key(c, Role.officer, "map page test", settings.secret_salt.get_secret_value())
    yield key
    with engine.begin() as c:
        c.execute(text("DELETE FROM api_key WHERE prefix = :p"), {"p": key.split("_")[1]})


def sign_in(page: Any, key: str) -> None:
    page.fill("#api-key", key)
    page.click("#signin-button")
    until(
        page,
        "() => !!sessionStorage.getItem('wardwise.apiKey') && !document.querySelector('#signout-button').hidden",
    )


def shot(page: Any, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
