"""What officers do beyond the main flow: share a view by its URL, walk it with Back and
Forward, export the map as PNG and tables as CSV, read the service's propensity, and the
screenshots of every tab at desktop and phone width (tests/artefacts/)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    coloured_share,
    open_page,
    shot,
    sign_in,
    until,
    wait_tiles,
    wards,
)

pytestmark = pytest.mark.browser


def _state(page: Any) -> dict[str, Any]:
    return page.evaluate(
        "() => { const w = window.wardwise; return {layer: w.layer, service: w.service, measure: w.measure,"
        " method: w.method, selected: w.selected, tab: w.tab, zoom: w.view && w.view.zoom}; }"
    )


def _hash(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).fragment).items()}


def test_the_view_lives_in_the_url_and_back_and_forward_walk_it(live_server, browser, engine) -> None:
    context, page, watch = open_page(browser, live_server)
    with engine.connect() as c:
        service = c.execute(text("SELECT code FROM service ORDER BY code LIMIT 1")).scalar_one()
    page.get_by_label("LSOAs").check()
    wait_tiles(page)
    page.select_option("#service", service)
    page.select_option("#measure", "ratio")
    page.select_option("#method", "equal")
    until(page, "() => window.wardwise.breaksFor && window.wardwise.breaksFor.includes('|ratio|equal|')")
    ward = wards(engine)[0]
    page.evaluate("code => window.wardwise.openArea(code, {fit: true})", ward["code"])
    until(page, "() => document.querySelector('#area-name')")
    wait_tiles(page)
    page.click("#tab-matrix")
    page.wait_for_timeout(500)  # the view is written after 300 ms of stillness
    shared = page.url
    h = _hash(page)
    assert h["layer"] == "lsoas" and h["service"] == service and h["measure"] == "ratio"
    assert h["method"] == "equal" and h["area"] == ward["code"] and h["tab"] == "matrix"
    lon, lat, zoom = (float(v) for v in h["view"].split(","))
    assert zoom > page.evaluate("window.wardwise.spec.deck.initialViewState.zoom")

    # The URL opened elsewhere shows the same thing: controls, classes, area, tab and view.
    other = context.new_page()
    other.goto(shared, wait_until="load")
    until(other, "() => window.wardwise && window.wardwise.ready")
    wait_tiles(other)
    got = _state(other)
    assert got["layer"] == "lsoas" and got["service"] == service and got["measure"] == "ratio"
    assert got["method"] == "equal" and got["selected"] == ward["code"] and got["tab"] == "matrix"
    assert abs(got["zoom"] - zoom) < 0.01
    assert other.input_value("#service") == service and other.input_value("#measure") == "ratio"
    assert other.locator("#layer-lsoas").is_checked()
    assert not other.locator("#pane-matrix").is_hidden()
    assert "Index" in other.locator("#legend").inner_text()
    other.close()

    # Back walks the choices in reverse: tab, then area, then method; Forward returns.
    page.go_back()
    until(page, "() => window.wardwise.tab === 'area'")
    page.go_back()
    until(page, "() => window.wardwise.selected === null")
    page.go_back()
    until(page, "() => window.wardwise.method === 'quantile'")
    assert page.input_value("#method") == "quantile"
    page.go_forward()
    until(page, "() => window.wardwise.method === 'equal'")
    page.go_forward()
    until(page, "code => window.wardwise.selected === code", ward["code"])
    until(page, "name => document.querySelector('#area-name')?.textContent === name", ward["name"])
    watch.assert_clean()
    context.close()


def test_map_png_and_table_csv_exports(live_server, browser, engine, officer_key) -> None:
    from PIL import Image

    context, page, watch = open_page(browser, live_server)
    with page.expect_download() as info:
        page.click("#map-png")
    png = Image.open(info.value.path()).convert("RGB")
    box = page.locator("#map").bounding_box()
    assert png.size == (int(box["width"]), int(box["height"]))
    assert coloured_share(png) > 0.2, "the PNG has no choropleth in it"

    paths = page.evaluate("Object.keys(window.wardwise.openapi.paths)")
    if "/api/v1/matrix" in paths:
        page.click("#tab-matrix")
        page.locator("#pane-matrix .csv").wait_for()
        with page.expect_download() as info:
            page.click("#pane-matrix .csv")
        rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
        header, body = rows[0], rows[1:]
        assert header[0] == "Ward" and len(body) == len(wards(engine))
        # Segment names, not letters, head the columns.
        assert all(len(h) > 2 for h in header[1:]), header
        # Numbers as numbers: no thousands separators or dashes in the CSV.
        assert all(v == "" or float(v) >= 0 for r in body for v in r[1:])
    watch.assert_clean()
    context.close()


def test_service_tab_shows_the_propensity_table_and_chart(live_server, browser, engine) -> None:
    context, page, watch = open_page(browser, live_server)
    paths = page.evaluate("Object.keys(window.wardwise.openapi.paths)")
    if "/api/v1/services/{service}/propensity" not in paths:
        pytest.skip("no propensity route on this server")
    page.click("#tab-service")
    until(page, "() => document.querySelector('#pane-service').textContent.includes('Choose a service')")
    with engine.connect() as c:
        service = c.execute(
            text("SELECT service_code FROM service_event GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
        ).scalar_one()
    page.select_option("#service", service)
    until(
        page,
        "() => document.querySelector('#propensity-table tbody tr') || document.querySelector('#pane-service .error')",
    )
    assert page.locator("#pane-service .error").count() == 0
    bars = page.locator("#propensity-chart rect").count()
    rows = page.locator("#propensity-table tbody tr").count()
    assert rows > 0 and bars > 0
    watch.assert_clean()
    context.close()


AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"


def _axe(page: Any) -> list[str]:
    """Serious and critical axe-core violations on the page (axe evaluated through DevTools)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"
    )
    return list(found)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_tab_has_no_serious_axe_violation_and_is_screenshot(
    live_server, browser, engine, officer_key, viewport
) -> None:
    """axe-core on each tab, signed in, with screenshots as test artefacts (tests/artefacts/tab_*.png)."""
    context, page, watch = open_page(browser, live_server, viewport=viewport)
    sign_in(page, officer_key)
    with engine.connect() as c:
        service = c.execute(
            text("SELECT service_code FROM service_event GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
        ).scalar_one()
    page.select_option("#service", service)
    page.select_option("#measure", "ratio")
    until(page, "() => window.wardwise.breaksFor && window.wardwise.breaksFor.includes('|ratio|')")
    ward = wards(engine)[0]
    page.evaluate("code => window.wardwise.openArea(code)", ward["code"])
    until(page, "() => document.querySelector('#area-profile') || document.querySelector('#profile-hint')")
    wait_tiles(page)
    name = "desktop" if viewport is DESKTOP else "phone"
    for tab in ("area", "matrix", "service", "quality"):
        page.click(f"#tab-{tab}")
        page.wait_for_timeout(300)
        until(page, "t => !document.querySelector('#pane-' + t).textContent.includes('Loading')", tab)
        if viewport is PHONE:
            page.locator(f"#pane-{tab}").scroll_into_view_if_needed()
        path = shot(page, f"tab_{tab}_{name}")
        assert path.stat().st_size > 10_000
        violations = _axe(page)
        assert violations == [], f"{tab} tab at {name} width: {violations}"
    watch.assert_clean()
    context.close()
