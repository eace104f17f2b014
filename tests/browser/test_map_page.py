"""The map page in headless Chromium (Debian's), driven by Playwright, against the real app.

Every request that is not to the app on 127.0.0.1 is blocked and fails the test; so does
any failed request, console error or Content-Security-Policy violation (the page is
served here with a strict self-only policy, to prove it needs no eval, inline script or
inline style). Fixtures and helpers are in conftest.py.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import pytest
from sqlalchemy import text

from tests.browser.conftest import ARTEFACTS, CHROMIUM, CHROMIUM_ARGS, REPO, Watch  # noqa: F401 (test_embed)
from tests.browser.conftest import until as _until
from tests.browser.conftest import wait_ready as _wait_ready
from tests.browser.conftest import wait_tiles as _wait_tiles

pytestmark = pytest.mark.browser


def _ward(engine) -> dict[str, Any]:
    """The ward with the most households, with a point inside it (WGS84)."""
    with engine.connect() as c:
        row = (
            c.execute(
                text(
                    "SELECT code, name, households, ST_X(p) AS lon, ST_Y(p) AS lat FROM "
                    "(SELECT code, name, households, ST_Transform(ST_PointOnSurface(geom), 4326) AS p "
                    " FROM area WHERE level = 'ward' ORDER BY households DESC, code LIMIT 1) q"
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


def test_map_page_finds_a_ward_shows_its_profile_and_switches_layers(
    live_server, browser, engine, client, officer_key
) -> None:
    watch = Watch(live_server)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    watch.attach(page)
    started = time.perf_counter()
    page.goto(f"{live_server}/", wait_until="load")
    _wait_ready(page)
    first_render_s = time.perf_counter() - started
    timings = page.evaluate("() => ({tiles: window.wardwise.firstTilesMs, marks: window.wardwise.marks})")
    print(f"\nfirst render with tiles: {first_render_s:.2f} s after navigation; page timings (ms): {timings}")

    ward = _ward(engine)
    expected = client.get(f"/api/v1/areas/{ward['code']}").json()["properties"]
    assert expected["households"] == ward["households"]

    # Centre the map on the ward, then click it where deck.gl projects its inner point.
    page.evaluate(
        "([lon, lat]) => window.wardwise.deck.setProps({initialViewState: "
        "{...window.wardwise.deck.props.initialViewState, longitude: lon, latitude: lat, zoom: 12}})",
        [ward["lon"], ward["lat"]],
    )
    _wait_tiles(page)
    x, y = page.evaluate(
        "([lon, lat]) => window.wardwise.deck.getViewports()[0].project([lon, lat])",
        [ward["lon"], ward["lat"]],
    )
    box = page.locator("#map").bounding_box()
    picked = page.evaluate(
        "([x, y]) => { const i = window.wardwise.deck.pickObject({x, y, layerIds: ['areas']});"
        " return i && i.object ? i.object.properties.code : null; }",
        [x, y],
    )
    assert picked == ward["code"]
    # Hovering shows the tooltip with the ward's name and households.
    page.mouse.move(box["x"] + x, box["y"] + y)
    _until(
        page,
        "name => [...document.querySelectorAll('#tooltip')].some(t => !t.hidden && t.textContent.includes(name))",
        ward["name"],
    )
    assert f"Households: {expected['households']:,}" in page.locator("#tooltip").inner_text()
    page.mouse.click(box["x"] + x, box["y"] + y)
    _until(
        page,
        "name => document.querySelector('#area-name') && document.querySelector('#area-name').textContent === name",
        ward["name"],
    )
    figures = page.locator("#area-figures").inner_text()
    assert ward["code"] in figures
    assert f"{expected['households']:,}" in figures
    assert (expected["parent_code"] or "–") in figures

    # Choropleth by a service and its take-up: the legend shows percentages.
    service = page.evaluate("window.wardwise.spec.services[0].code")
    page.select_option("#service", service)
    page.select_option("#measure", "takeup")
    _wait_tiles(page)
    _until(page, "() => document.querySelector('#legend').textContent.includes('%')")

    # Switch to output areas: tiles of the oas layer are fetched and drawn.
    page.get_by_label("Output areas").check()
    _wait_tiles(page)
    _until(
        page,
        "() => window.wardwise.deck.layerManager.getLayers()"
        ".some(l => l.id === 'areas' && String(l.props.data).includes('/tiles/oas/'))",
    )
    deadline = time.monotonic() + 10  # response events reach Python asynchronously
    while not any("/tiles/oas/" in url and status == 200 for url, status in watch.tiles):
        assert time.monotonic() < deadline, f"no output-area tile was fetched: {watch.tiles[-5:]}"
        page.wait_for_timeout(50)

    # Search by postcode flies there.
    with engine.connect() as c:
        postcode = c.execute(text("SELECT postcode FROM postcode ORDER BY postcode LIMIT 1")).scalar_one()
    page.fill("#search-q", postcode)
    page.press("#search-q", "Enter")
    _until(page, "pc => document.querySelector('#status').textContent.includes(pc)", postcode)
    _wait_tiles(page)

    # The ward-by-segment matrix (issue 4's /api/v1/matrix) highlights a ward on the map.
    page.click("#tab-matrix")
    if "/api/v1/matrix" in page.evaluate("window.wardwise.openapi.paths"):
        row = page.locator("#pane-matrix tbody tr").first
        row.wait_for(timeout=30_000)
        code = row.get_attribute("data-code")
        row.focus()
        page.keyboard.press("Enter")
        assert page.evaluate("() => [window.wardwise.layer, window.wardwise.selected]") == ["wards", code]
        _wait_tiles(page)
    else:
        _until(page, "() => document.querySelector('#pane-matrix').textContent.includes('not available')")

    # An officer signs in (key kept in sessionStorage, sent as Bearer): the profile appears.
    page.fill("#api-key", officer_key)
    page.click("#signin-button")
    _until(page, "() => !!sessionStorage.getItem('wardwise.apiKey')")
    page.evaluate("code => window.wardwise.openArea(code)", ward["code"])
    _until(page, "name => document.querySelector('#area-name')?.textContent === name", ward["name"])
    if "/api/v1/areas/{code}/profile" in page.evaluate("window.wardwise.openapi.paths"):
        _until(page, "() => document.querySelector('#area-profile table tbody tr')")
    paths = page.evaluate("window.wardwise.openapi.paths")

    # The ingest quality reports (issue 3's /api/v1/ingest/batches), for officers.
    page.click("#tab-quality")
    if "/api/v1/ingest/batches" in paths:
        _until(
            page, "() => document.querySelector('#pane-quality table, #pane-quality .error, #quality-empty')"
        )
        assert page.locator("#pane-quality .error").count() == 0
    else:
        _until(page, "() => document.querySelector('#pane-quality').textContent.includes('not available')")

    # Planning (issue 7): suggest two one-stop shops; sites and catchments are drawn.
    if "/api/v1/planning/sites" in paths:
        assert page.locator("#planning").is_visible()
        page.click("#plan-sites")
        _until(
            page,
            "() => /sites shown|No plan/.test(document.querySelector('#plan-summary').textContent)",
            None,
            60,
        )
        assert "sites shown" in page.locator("#plan-summary").inner_text()
        _until(
            page,
            "() => window.wardwise.deck.layerManager.getLayers().some(l => l.id === 'planning' && l.props.visible"
            " && l.props.data.features.some(f => f.properties.role === 'site'))",
            None,
            10,
        )
        page.click("#plan-clear")
    page.click("#tab-area")

    # Back to the whole borough for the screenshot (the README's).
    page.evaluate(
        "() => window.wardwise.deck.setProps({initialViewState: window.wardwise.spec.deck.initialViewState})"
    )
    _wait_tiles(page)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "map_page.png"
    page.screenshot(path=str(shot))
    # The README's screenshot is refreshed on request, so a test run leaves the tree clean.
    if os.environ.get("WARDWISE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, REPO / "docs" / "screenshot.png")
    watch.assert_clean()
    context.close()


def test_map_page_is_usable_at_phone_width_and_by_keyboard(live_server, browser) -> None:
    watch = Watch(live_server)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = context.new_page()
    watch.attach(page)
    page.goto(f"{live_server}/", wait_until="load")
    _wait_ready(page)
    box = page.locator("#map").bounding_box()
    assert box["width"] >= 380 and box["height"] >= 300
    # No horizontal scrolling at phone width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Keyboard: Tab reaches the search box, then the layer switcher, and arrows change layers.
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "search-q"
    page.focus("#layer-wards")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("window.wardwise.layer") == "lsoas"
    _wait_tiles(page)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "map_page_phone.png"))
    watch.assert_clean()
    context.close()
