"""The seven things issue 14 found broken on the map page, each driven in Chromium.

Where the fault was visual the test reads the map's pixels: a ward's colour is checked
against the class the test computes itself from the database (numpy quantiles of take-up),
not against what the page says it drew.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from tests.browser.conftest import (
    LAND,
    MARKER,
    PHONE,
    blend,
    coloured_share,
    distance,
    map_image,
    open_page,
    project,
    shot,
    sign_in,
    until,
    wait_tiles,
    wards,
)

pytestmark = pytest.mark.browser


def _busiest_service(engine) -> str:
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT service_code FROM service_event WHERE is_primary GROUP BY service_code "
                "ORDER BY count(*) DESC, service_code LIMIT 1"
            )
        ).scalar_one()


def _ward_takeup(engine, service: str) -> dict[str, float]:
    """users / households per ward, from the raw events (not the page's SQL)."""
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT a.code, a.households, count(DISTINCT e.uprn) AS users FROM area a "
                "LEFT JOIN area_membership m ON m.area_code = a.code "
                "LEFT JOIN service_event e ON e.oa_code = m.oa_code AND e.service_code = :s AND e.is_primary "
                "WHERE a.level = 'ward' GROUP BY a.code, a.households"
            ),
            {"s": service},
        ).all()
    return {code: users / hh for code, hh, users in rows if hh}


def _viridis(engine) -> list[list[int]]:
    from geo.mappage import PALETTES

    return PALETTES["viridis"]


def _ramp(stops: list[list[int]], t: float) -> list[float]:
    x = min(1.0, max(0.0, t)) * (len(stops) - 1)
    i = min(len(stops) - 2, int(np.floor(x)))
    f = x - i
    return [round(a + (b - a) * f) for a, b in zip(stops[i], stops[i + 1], strict=True)]


def _select_measure(page: Any, service: str, measure: str) -> None:
    page.select_option("#service", service)
    page.select_option("#measure", measure)
    until(page, "() => window.wardwise.breaksFor && !window.wardwise.breaksLoading")
    wait_tiles(page)


def test_choosing_a_measure_colours_every_ward_by_its_class(live_server, browser, engine) -> None:
    """Broken 1: Service + Measure "Take-up" left every ward grey until the user zoomed."""
    context, page, watch = open_page(browser, live_server)
    service = _busiest_service(engine)
    _select_measure(page, service, "takeup")
    assert "Loading" not in page.locator("#legend").inner_text()

    # The test's own classes: quantiles of take-up over every ward (5 classes, numpy).
    takeup = _ward_takeup(engine, service)
    values = np.array([round(v, 4) for v in takeup.values()])
    edges = sorted(set(np.quantile(values, np.linspace(0, 1, 6)).tolist()))
    stops = _viridis(engine)
    k = len(edges) - 1
    colours = [_ramp(stops, i / (k - 1) if k > 1 else 0.5) for i in range(k)]

    def expected_class(v: float) -> int:
        for i in range(1, len(edges) - 1):
            if v < edges[i]:
                return i - 1
        return len(edges) - 2

    image = map_image(page)
    width, height = image.size
    checked = matched = 0
    for ward in wards(engine):
        if ward["code"] not in takeup:
            continue
        x, y = project(page, ward["lon"], ward["lat"])
        if not (5 <= x < width - 60 and 5 <= y < height - 5):
            continue  # off the map or under the zoom buttons
        pixel = image.getpixel((int(x), int(y)))
        nearest = min(range(k), key=lambda i: distance(pixel, blend(colours[i])))
        checked += 1
        matched += nearest == expected_class(round(takeup[ward["code"]], 4))
        # never the faint "still loading" grey or the bare land
        assert distance(pixel, LAND) > 12, f"ward {ward['code']} is not coloured: {pixel}"
    assert checked >= 5, "too few ward centres on screen to judge"
    assert matched / checked >= 0.8, f"only {matched}/{checked} wards drawn in their take-up class"

    # Switching measure again (events) recolours without any zooming.
    page.select_option("#measure", "events")
    until(page, "() => window.wardwise.breaksFor && window.wardwise.breaksFor.includes('|events|')")
    wait_tiles(page)
    assert "Loading" not in page.locator("#legend").inner_text()
    watch.assert_clean()
    context.close()


def test_printable_report_keeps_its_styles_under_the_csp(live_server, browser, engine, officer_key) -> None:
    """Broken 2: the report's inline <style> was blocked by style-src 'self' (Times, no borders)."""
    context, page, watch = open_page(browser, live_server)
    paths = page.evaluate("Object.keys(window.wardwise.openapi.paths)")
    if "/areas/{code}/report" not in paths:
        pytest.skip("no printable report route on this server")
    sign_in(page, officer_key)
    ward = wards(engine)[0]
    page.evaluate("code => window.wardwise.openArea(code)", ward["code"])
    page.locator("#report-link").wait_for()
    with context.expect_page() as popup_info:
        page.click("#report-link")
    report = popup_info.value
    errors: list[str] = []
    report.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    report.wait_for_load_state("load")
    until(report, "() => document.querySelector('h1') && document.styleSheets.length > 0")
    style = report.evaluate(
        "() => { const td = document.querySelector('td'); const b = getComputedStyle(document.body);"
        " const rules = [...document.styleSheets].flatMap(s => { try { return [...s.cssRules]; } catch (e) { return []; } });"
        " return { font: b.fontFamily, border: getComputedStyle(td).borderBottomWidth,"
        "  page: rules.some(r => r.type === CSSRule.PAGE_RULE && /a4/i.test(r.cssText)),"
        "  swatch: [...document.querySelectorAll('.swatch rect')].map(r => r.getAttribute('fill')).filter(Boolean).length,"
        "  inline: document.querySelectorAll('[style], style').length }; }"
    )
    assert "Times" not in style["font"] and "system-ui" in style["font"], style
    assert style["border"] == "1px", style
    assert style["page"], "no @page { size: A4 } rule reached the report"
    assert style["swatch"] > 0 and style["inline"] == 0, style
    assert not [e for e in errors if "Content Security Policy" in e], errors
    report.close()
    watch.assert_clean()
    context.close()


def test_signing_out_clears_officer_data_and_signing_in_refreshes_the_panel(
    live_server, browser, engine, officer_key
) -> None:
    """Broken 3: after sign-out the unsuppressed profile and report link stayed on screen."""
    context, page, watch = open_page(browser, live_server)
    paths = page.evaluate("Object.keys(window.wardwise.openapi.paths)")
    if "/api/v1/areas/{code}/profile" not in paths:
        pytest.skip("no community profile route on this server")
    ward = wards(engine)[0]
    page.evaluate("code => window.wardwise.openArea(code)", ward["code"])
    until(page, "() => document.querySelector('#profile-hint')")
    # Signing in with the area open brings its profile in, without reopening it.
    sign_in(page, officer_key)
    until(page, "() => document.querySelector('#area-profile table tbody tr')")
    assert page.locator("#area-name").inner_text() == ward["name"]
    until(
        page,
        "() => window.wardwise.deck.layerManager.getLayers().some(l => l.id === 'areas' && String(l.props.data).includes('as=officer'))",
    )
    page.click("#signout-button")
    until(page, "() => !document.querySelector('#area-profile') && document.querySelector('#profile-hint')")
    assert page.locator("#report-link").count() == 0
    assert page.locator("#area-name").inner_text() == ward["name"]
    # The tiles fetched with the key are not reused for the public.
    assert page.evaluate(
        "() => window.wardwise.deck.layerManager.getLayers().filter(l => l.id === 'areas')"
        ".every(l => !String(l.props.data).includes('as=officer'))"
    )
    assert page.locator("#planning").is_hidden()
    watch.assert_clean()
    context.close()


def test_failing_tiles_and_a_hot_spot_layer_without_service_say_so(live_server, browser) -> None:
    """Broken 4: tiles answering 503 left a blank map saying "Loading…" for good."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    page = context.new_page()
    failing = {"on": True}

    def tiles(route: Any) -> None:
        if failing["on"] and "/tiles/wards/" in route.request.url:
            route.fulfill(status=503, body=b"busy", headers={"content-type": "text/plain"})
        else:
            route.fallback()

    page.route("**/tiles/**", tiles)
    page.goto(f"{live_server}/", wait_until="load")
    until(page, "() => window.wardwise && window.wardwise.ready")
    until(page, "() => !document.querySelector('#map-message').hidden")
    message = page.locator("#map-message")
    assert message.get_attribute("role") == "alert"
    assert "could not be loaded" in message.inner_text() and "503" in message.inner_text()
    failing["on"] = False
    page.click("#map-retry")
    wait_tiles(page)
    assert message.is_hidden()
    image = map_image(page)
    assert coloured_share(image) > 0.2, "the retried map drew almost nothing"

    # The hot-spot layer needs a service: it says so instead of drawing nothing.
    page.get_by_label("Hot and not spots").check()
    until(page, "() => !document.querySelector('#map-message').hidden")
    assert "choose a Service" in message.inner_text()
    assert "Choose a service" in page.locator("#legend").inner_text()
    context.close()


def test_search_results_and_matrix_rows_are_brought_into_view(live_server, browser, engine) -> None:
    """Broken 5: a postcode zoomed in with no marker, a ward filled the screen, a matrix row did nothing."""
    context, page, watch = open_page(browser, live_server)
    with engine.connect() as c:
        pc = (
            c.execute(
                text(
                    "SELECT p.postcode, ST_X(ST_Transform(p.geom, 4326)) AS lon, ST_Y(ST_Transform(p.geom, 4326)) AS lat, "
                    " w.code AS ward, w.name AS ward_name FROM postcode p "
                    "JOIN area w ON w.level = 'ward' AND ST_Contains(w.geom, p.geom) "
                    "ORDER BY p.postcode LIMIT 1"
                )
            )
            .mappings()
            .one()
        )
    page.fill("#search-q", pc["postcode"])
    page.press("#search-q", "Enter")
    until(page, "name => document.querySelector('#area-name')?.textContent === name", pc["ward_name"])
    wait_tiles(page)
    x, y = project(page, pc["lon"], pc["lat"])
    pixel = map_image(page).getpixel((int(x), int(y)))
    assert distance(pixel, MARKER) < 40, f"no marker at the postcode: {pixel}"
    assert page.evaluate("window.wardwise.selected") == pc["ward"]

    # A ward found by search is fitted in the map with a margin, not filling it.
    ward = wards(engine)[-1]
    page.fill("#search-q", ward["name"])
    page.press("#search-q", "Enter")
    until(
        page,
        "name => document.querySelector('#area-name')?.textContent === name || [...document.querySelectorAll("
        "'#search-results:not([hidden]) button')].some(b => b.textContent.startsWith(name + ' ('))",
        ward["name"],
    )
    button = page.locator("#search-results:not([hidden]) button", has_text=f"{ward['name']} (").first
    if button.count():
        button.click()
    until(page, "name => document.querySelector('#area-name')?.textContent === name", ward["name"])
    wait_tiles(page)
    box = page.locator("#map").bounding_box()
    x0, y0 = project(page, ward["w"], ward["n"])
    x1, y1 = project(page, ward["e"], ward["s"])
    assert 0 <= x0 and x1 <= box["width"] and 0 <= y0 and y1 <= box["height"], "the ward is not all in view"
    assert max((x1 - x0) / box["width"], (y1 - y0) / box["height"]) > 0.4, "the ward is not zoomed to"
    assert page.evaluate("window.wardwise.marker") is None

    # A matrix row opens its ward and moves the map to it.
    page.click("#tab-matrix")
    paths = page.evaluate("Object.keys(window.wardwise.openapi.paths)")
    if "/api/v1/matrix" in paths:
        row = page.locator("#pane-matrix tbody tr").nth(1)
        row.wait_for()
        code = row.get_attribute("data-code")
        target = next(w for w in wards(engine) if w["code"] == code)
        row.focus()
        page.keyboard.press("Enter")
        until(page, "name => document.querySelector('#area-name')?.textContent === name", target["name"])
        wait_tiles(page)
        cx, cy = project(page, (target["w"] + target["e"]) / 2, (target["s"] + target["n"]) / 2)
        assert (
            abs(cx - box["width"] / 2) < box["width"] * 0.15
            and abs(cy - box["height"] / 2) < box["height"] * 0.15
        )
    watch.assert_clean()
    context.close()


def test_planning_summary_is_brought_into_view(live_server, browser, officer_key) -> None:
    """Broken 5 (last part): the planning summary sat below the fold."""
    context, page, watch = open_page(browser, live_server, viewport={"width": 1280, "height": 600})
    paths = page.evaluate("Object.keys(window.wardwise.openapi.paths)")
    if "/api/v1/planning/routes" not in paths:
        pytest.skip("no planning routes on this server")
    sign_in(page, officer_key)
    page.click("#plan-route")
    until(page, "() => /stops|No route/.test(document.querySelector('#plan-summary').textContent)", None, 60)
    page.wait_for_timeout(300)
    box = page.locator("#plan-summary").bounding_box()
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= 600, f"summary out of view: {box}"
    watch.assert_clean()
    context.close()


def test_geojson_downloads_tooltips_stay_on_screen_and_legends_never_repeat(
    live_server, browser, engine
) -> None:
    """Broken 6: the GeoJSON link navigated away, tooltips were cut off, legends repeated values."""
    context, page, watch = open_page(browser, live_server)
    ward = wards(engine)[0]
    page.evaluate("code => window.wardwise.openArea(code)", ward["code"])
    page.locator("#geojson-link").wait_for()
    before = page.url
    with page.expect_download() as info:
        page.click("#geojson-link")
    body = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert body["properties"]["code"] == ward["code"]
    assert page.url == before and page.locator("#area-name").inner_text() == ward["name"]

    # Hover the easternmost ward on screen: the tooltip is whole, inside the window, above the panel.
    east = max(
        wards(engine),
        key=lambda w: (
            project(page, w["lon"], w["lat"])[0] if project(page, w["lon"], w["lat"])[0] < 900 else -1
        ),
    )
    x, y = project(page, east["lon"], east["lat"])
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    until(page, "() => !document.querySelector('#tooltip').hidden")
    tip = page.locator("#tooltip").bounding_box()
    assert (
        tip["x"] >= 0
        and tip["y"] >= 0
        and tip["x"] + tip["width"] <= 1280
        and tip["y"] + tip["height"] <= 800
    )
    assert page.evaluate("getComputedStyle(document.querySelector('#tooltip')).position") == "fixed"

    # Legends: no two classes with the same label, for every measure of a service on OAs.
    page.get_by_label("Output areas").check()
    service = _busiest_service(engine)
    page.select_option("#service", service)
    for measure in ("takeup", "events", "ratio", "unmet"):
        page.select_option("#measure", measure)
        until(
            page,
            "m => window.wardwise.breaksFor && window.wardwise.breaksFor.includes('|' + m + '|') && !window.wardwise.breaksLoading",
            measure,
        )
        labels = page.evaluate(
            "[...document.querySelectorAll('#legend li')].map(li => li.firstChild.nextSibling ? li.childNodes[1].textContent : li.textContent)"
        )
        assert len(labels) == len(set(labels)), f"{measure}: {labels}"
    watch.assert_clean()
    context.close()


def _contrast(fg: tuple[float, ...], bg: tuple[float, ...]) -> float:
    def lum(c: tuple[float, ...]) -> float:
        ch = [v / 255 for v in c[:3]]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in ch]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    a, b = sorted((lum(fg), lum(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _rgb(css: str) -> tuple[float, ...]:
    inside = css[css.index("(") + 1 : css.index(")")]
    return tuple(float(v) for v in inside.replace("/", " ").replace(",", " ").split()[:3])


def test_phone_width_keyboard_focus_and_accessibility(live_server, browser, engine) -> None:
    """Broken 7: no scrolling at phone width, tiny targets, no keyboard selection, no focus ring, axe failures."""
    context, page, watch = open_page(browser, live_server, viewport=PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollHeight") > PHONE["height"], "the page cannot scroll"
    map_box = page.locator("#map").bounding_box()
    assert map_box["width"] >= 380 and map_box["height"] >= 400
    controls = page.locator("#controls").bounding_box()
    assert controls["width"] >= 380, "controls squeezed into a strip"
    small = page.evaluate(
        "() => [...document.querySelectorAll('button, select, input[type=search], input[type=password], input[type=number], label.choice')]"
        ".filter(e => e.offsetParent !== null && !e.closest('.visually-hidden'))"
        ".map(e => [e.id || e.textContent.trim().slice(0, 20), e.getBoundingClientRect().height])"
        ".filter(([, h]) => h < 44)"
    )
    assert small == [], f"targets under 44 px: {small}"
    assert (
        float(page.evaluate("parseFloat(getComputedStyle(document.querySelector('#service')).fontSize)"))
        >= 16
    )

    # Keyboard: the map shows a focus ring; the list of areas opens one on Enter.
    page.focus("#search-q")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "map":
            break
    assert page.evaluate("document.activeElement.id") == "map", "Tab never reached the map"
    ring = page.evaluate(
        "(() => { const s = getComputedStyle(document.querySelector('#map')); return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert ring[0] != "none" and ring[1] >= 2, ring
    page.locator("#area-list button").first.wait_for()
    first = page.locator("#area-list button").first
    code = first.get_attribute("data-code")
    first.focus()
    page.keyboard.press("Enter")
    until(page, "code => window.wardwise.selected === code && document.querySelector('#area-name')", code)
    shot(page, "phone_area")

    # axe's two failures, checked directly: no control inside an option, matrix text contrast >= 4.5.
    page.fill("#search-q", wards(engine)[0]["name"][:3])
    page.press("#search-q", "Enter")
    until(page, "() => !document.querySelector('#search-results').hidden")
    nested = page.evaluate(
        "() => [...document.querySelectorAll('[role=option], [role=listbox] > *')]"
        ".filter(o => o.querySelector('button, a, input, select, [tabindex]')).length"
    )
    assert nested == 0
    page.keyboard.press("Escape")
    page.click("#tab-matrix")
    paths = page.evaluate("Object.keys(window.wardwise.openapi.paths)")
    if "/api/v1/matrix" in paths:
        page.locator("#pane-matrix td.cell").first.wait_for()
        cells = page.evaluate(
            "() => [...document.querySelectorAll('#pane-matrix td.cell')].map(td => [getComputedStyle(td).color, getComputedStyle(td).backgroundColor])"
        )
        worst = min(_contrast(_rgb(fg), _rgb(bg)) for fg, bg in cells)
        assert worst >= 4.5, f"matrix cell contrast {worst:.2f} < 4.5"
    watch.assert_clean()
    context.close()
