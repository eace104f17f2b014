"""Issue 14, the map as an everyday tool: the period slider (dates in the URL, applied to
tiles, class breaks and panels), each service's polarity, manual class breaks and the
segmentation tier, driven in Debian's Chromium with every non-local request blocked.

Colours are read from the map's pixels and compared with classes the test computes itself
with numpy/pandas from the raw tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from tests.browser.conftest import (
    DESKTOP,
    LAND,
    PHONE,
    blend,
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
from tests.browser.test_map_state import _axe

pytestmark = pytest.mark.browser


def _service(engine) -> str:
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT service_code FROM service_event WHERE is_primary GROUP BY service_code "
                "ORDER BY count(*) DESC, service_code LIMIT 1"
            )
        ).scalar_one()


def _months(engine, service: str) -> list[str]:
    with engine.connect() as c:
        first, last = c.execute(
            text(
                "SELECT min(event_date), max(event_date) FROM service_event WHERE service_code = :s AND is_primary"
            ),
            {"s": service},
        ).one()
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def _ward_figures(engine, service: str, date_from: dt.date | None, date_to: dt.date | None) -> pd.DataFrame:
    """Events and users per ward in the window, from the raw events (pandas, not the page's SQL)."""
    with engine.connect() as c:
        areas = pd.read_sql(text("SELECT code, households FROM area WHERE level = 'ward'"), c)
        members = pd.read_sql(text("SELECT area_code, oa_code FROM area_membership WHERE level = 'ward'"), c)
        ev = pd.read_sql(
            text(
                "SELECT oa_code, uprn, event_date FROM service_event WHERE service_code = :s AND is_primary"
            ),
            c,
            params={"s": service},
        )
    ev["event_date"] = pd.to_datetime(ev["event_date"]).dt.date
    if date_from:
        ev = ev[ev["event_date"] >= date_from]
    if date_to:
        ev = ev[ev["event_date"] <= date_to]
    use = (
        members.merge(ev, on="oa_code")
        .groupby("area_code")
        .agg(events=("uprn", "size"), users=("uprn", "nunique"))
    )
    out = areas.set_index("code").join(use).fillna({"events": 0, "users": 0})
    return out


def _ramp(stops: list[list[int]], t: float) -> list[float]:
    x = min(1.0, max(0.0, t)) * (len(stops) - 1)
    i = min(len(stops) - 2, int(np.floor(x)))
    f = x - i
    return [round(a + (b - a) * f) for a, b in zip(stops[i], stops[i + 1], strict=True)]


def _class_of(v: float, edges: list[float]) -> int:
    for i in range(1, len(edges) - 1):
        if v < edges[i]:
            return i - 1
    return len(edges) - 2


def _check_pixels(
    page: Any, engine, values: dict[str, float], edges: list[float], colours: list[list[float]]
) -> float:
    """Share of on-screen ward centres drawn in the colour of the class the test expects."""
    image = map_image(page)
    width, height = image.size
    checked = matched = 0
    for ward in wards(engine):
        if ward["code"] not in values:
            continue
        x, y = project(page, ward["lon"], ward["lat"])
        if not (5 <= x < width - 60 and 5 <= y < height - 5):
            continue
        pixel = image.getpixel((int(x), int(y)))
        assert distance(pixel, LAND) > 12, f"ward {ward['code']} is not coloured: {pixel}"
        nearest = min(range(len(colours)), key=lambda i: distance(pixel, blend(colours[i])))
        checked += 1
        matched += nearest == _class_of(values[ward["code"]], edges)
    assert checked >= 5, "too few ward centres on screen to judge"
    return matched / checked


def _hash(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).fragment).items()}


def _breaks_settled(page: Any, fragment: str) -> None:
    until(
        page,
        "f => window.wardwise.breaksFor && window.wardwise.breaksFor.includes(f) && !window.wardwise.breaksLoading",
        fragment,
    )
    wait_tiles(page)


def test_the_period_slider_recolours_the_map_and_lives_in_the_url(
    live_server, browser, engine, officer_key
) -> None:
    from geo.mappage import PALETTES

    service = _service(engine)
    months = _months(engine, service)
    assert len(months) >= 6, "the demo's service needs several months for a slider"
    context, page, watch = open_page(browser, live_server)
    sign_in(page, officer_key)
    page.select_option("#service", service)
    page.select_option("#measure", "events")
    page.select_option("#method", "equal")
    _breaks_settled(page, "|events|equal|")
    assert page.locator("#period").is_visible()
    # keyboard on the sliders: three months off the start and two off the end
    page.focus("#period-from")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.focus("#period-to")
    for _ in range(2):
        page.keyboard.press("ArrowLeft")
    want_from, want_to = months[3], months[-3]
    _breaks_settled(page, f"|{want_from}|{want_to}|")
    h = _hash(page)
    assert h["from"] == want_from and h["to"] == want_to
    assert page.locator("#period-from-label").inner_text().endswith(want_from[:4])

    date_from = dt.date.fromisoformat(f"{want_from}-01")
    date_to = (pd.Period(want_to, freq="M").end_time).date()
    figures = _ward_figures(engine, service, date_from, date_to)
    everything = _ward_figures(engine, service, None, None)
    assert figures["events"].sum() < everything["events"].sum()

    # the tiles asked for carry the period, and the features drawn hold the window's counts
    dated = [
        u
        for u, status in watch.tiles
        if "/tiles/wards/" in u and f"date_from={date_from}&date_to={date_to}" in u
    ]
    assert dated and all(status in (200, 204) for u, status in watch.tiles if u in dated)
    drawn = page.evaluate(
        "() => { const l = window.wardwise.deck.layerManager.getLayers().find(x => x.id === 'areas');"
        " const out = {}; for (const t of l.state.tileset.tiles) for (const f of (t.content || []))"
        " out[f.properties.code] = f.properties.events; return out; }"
    )
    assert drawn and all(v == figures.loc[k, "events"] for k, v in drawn.items())

    # equal intervals of the window's events, and each ward's pixel in its class
    values = figures["events"].astype(float)
    edges = np.linspace(values.min(), values.max(), 6).tolist()
    stops = PALETTES["viridis"]
    colours = [_ramp(stops, i / 4) for i in range(5)]
    assert _check_pixels(page, engine, values.to_dict(), edges, colours) >= 0.8
    assert "Events from" in page.locator("#legend-period").inner_text()

    # the service tab's propensity is asked for over the same period
    page.click("#tab-service")
    until(page, "() => document.querySelector('#propensity-table')")
    asked = [r.url for r in watch.responses if "/propensity" in r.url]
    assert asked and f"date_from={date_from}" in asked[-1] and f"date_to={date_to}" in asked[-1]

    # Back walks the tab, then each slider step (one history entry per month moved);
    # Forward returns
    page.go_back()
    until(page, "() => window.wardwise.tab === 'area'")
    page.go_back()
    until(page, "m => window.wardwise.dateTo === m", months[-2])
    page.go_back()
    until(page, "m => window.wardwise.dateTo === null && window.wardwise.dateFrom === m", want_from)
    for _ in range(3):
        page.go_back()
    until(page, "() => window.wardwise.dateFrom === null")
    _breaks_settled(page, "|events|equal|")
    assert "from" not in _hash(page)
    assert page.input_value("#period-from") == "0"
    for _ in range(5):
        page.go_forward()
    until(page, f"() => window.wardwise.dateTo === '{want_to}' && window.wardwise.dateFrom === '{want_from}'")
    assert page.input_value("#period-to") == str(len(months) - 3)

    # the URL opened in a new page restores the period and its tiles
    other = context.new_page()
    other.goto(page.url, wait_until="load")
    until(other, "() => window.wardwise && window.wardwise.ready")
    _breaks_settled(other, f"|{want_from}|{want_to}|")
    assert other.input_value("#period-from") == "3"
    other.close()
    watch.assert_clean()
    context.close()


def test_a_service_where_high_is_bad_runs_the_palette_the_other_way(
    live_server, browser, engine, officer_key
) -> None:
    from geo.mappage import PALETTES

    service = _service(engine)
    with engine.begin() as c:
        c.execute(text("UPDATE service SET polarity = 'high_bad' WHERE code = :s"), {"s": service})
    try:
        context, page, watch = open_page(browser, live_server)
        sign_in(page, officer_key)
        page.select_option("#service", service)
        page.select_option("#measure", "events")
        page.select_option("#method", "equal")
        _breaks_settled(page, "|events|equal|")
        values = _ward_figures(engine, service, None, None)["events"].astype(float)
        edges = np.linspace(values.min(), values.max(), 6).tolist()
        stops = PALETTES["viridis"]
        reversed_colours = [_ramp(stops, 1 - i / 4) for i in range(5)]
        assert _check_pixels(page, engine, values.to_dict(), edges, reversed_colours) >= 0.8
        assert "bad news" in page.locator("#legend-polarity").inner_text()
        # the legend's first class (fewest events) has the palette's top colour
        first_swatch = page.locator("#legend .legend-items li svg rect").first.get_attribute("fill")
        assert first_swatch.replace(" ", "") == "rgb({},{},{})".format(*stops[-1])
        # households are not a service figure: no flip
        page.select_option("#measure", "households")
        _breaks_settled(page, "|households|equal|")
        assert page.locator("#legend-polarity").count() == 0
        watch.assert_clean()
        context.close()
    finally:
        with engine.begin() as c:
            c.execute(text("UPDATE service SET polarity = 'high_good' WHERE code = :s"), {"s": service})


def test_manual_breaks_drive_the_legend_and_the_map(live_server, browser, engine) -> None:
    from geo.mappage import PALETTES

    context, page, watch = open_page(browser, live_server)
    households = {w["code"]: float(w["households"]) for w in wards(engine) if not 1 <= w["households"] <= 4}
    values = np.array(list(households.values()))
    inner = [float(np.round(np.quantile(values, q))) for q in (0.25, 0.5, 0.75)]
    page.select_option("#method", "manual")
    assert page.locator("#manual-edges").is_visible()
    # not ascending: said in the legend, nothing asked of the server
    page.fill("#manual-edges", "500, 100")
    page.press("#manual-edges", "Enter")
    until(page, "() => document.querySelector('#legend .error')")
    assert "ascending" in page.locator("#legend").inner_text()
    page.fill("#manual-edges", ", ".join(f"{v:g}" for v in inner))
    page.click("#manual-apply")
    _breaks_settled(page, "|households|manual|")
    edges = [min(values.min(), inner[0]), *inner, max(values.max(), inner[-1])]
    counts = np.bincount([_class_of(v, edges) for v in values], minlength=4).tolist()
    legend = page.locator("#legend .legend-items li").all_inner_texts()
    for i, n in enumerate(counts):
        assert f"({n:,} area" in legend[i], (legend[i], n)
    stops = PALETTES["viridis"]
    colours = [_ramp(stops, i / 3) for i in range(4)]
    assert _check_pixels(page, engine, households, edges, colours) >= 0.8
    assert _hash(page)["edges"] == ", ".join(f"{v:g}" for v in inner)
    # the URL restores manual breaks
    other = context.new_page()
    other.goto(page.url, wait_until="load")
    until(other, "() => window.wardwise && window.wardwise.ready")
    _breaks_settled(other, "|households|manual|")
    assert other.input_value("#manual-edges") == ", ".join(f"{v:g}" for v in inner)
    other.close()
    watch.assert_clean()
    context.close()


def test_the_segmentation_tier_is_kept_in_the_url_and_sent_to_the_panels(
    live_server, browser, engine
) -> None:
    with engine.connect() as c:
        classification = c.execute(text("SELECT code FROM classification ORDER BY code LIMIT 1")).scalar_one()
    service = _service(engine)
    context, page, watch = open_page(
        browser,
        live_server,
        path=f"/#service={service}&measure=takeup&tab=service&classification={classification}",
    )
    until(page, "() => document.querySelector('#propensity-table')")
    assert page.input_value("#classification") == classification
    asked = [r.url for r in watch.responses if "/propensity" in r.url]
    assert asked and f"classification={classification}" in asked[-1]
    page.select_option("#classification", "")
    until(page, "() => !location.hash.includes('classification=')")
    watch.assert_clean()
    context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_period_and_manual_breaks_pass_axe_and_are_screenshot(live_server, browser, engine, viewport) -> None:
    service = _service(engine)
    months = _months(engine, service)
    context, page, watch = open_page(
        browser,
        live_server,
        viewport=viewport,
        path=f"/#service={service}&measure=takeup&method=manual&edges=20,40,60&from={months[1]}&to={months[-2]}",
    )
    _breaks_settled(page, "|takeup|manual|")
    name = "desktop" if viewport is DESKTOP else "phone"
    page.locator("#period").scroll_into_view_if_needed()
    assert shot(page, f"controls_period_manual_{name}").stat().st_size > 10_000
    assert page.locator("#period-from").bounding_box()["height"] >= 44
    violations = _axe(page)
    assert violations == [], f"period/manual controls at {name} width: {violations}"
    watch.assert_clean()
    context.close()


def test_ward_names_and_the_district_outline_are_drawn_offline(live_server, browser, engine) -> None:
    import numpy as np

    context, page, watch = open_page(browser, live_server)
    all_wards = wards(engine)
    until(
        page,
        "n => { const l = window.wardwise.deck.layerManager.getLayers().find(x => x.id === 'ward-labels');"
        " return l && l.props.visible && l.props.data.length === n && l.isLoaded; }",
        len(all_wards),
    )
    wait_tiles(page)
    page.wait_for_timeout(500)
    on = np.asarray(map_image(page), dtype=float)
    labels = page.evaluate("() => window.wardwise.context.labels")
    assert {lab["code"] for lab in labels} == {w["code"] for w in all_wards}
    # the district outline: dark blue pixels near its vertices
    outline = page.evaluate("() => window.wardwise.context.districts.features[0].geometry")
    lines = outline["coordinates"] if outline["type"] == "MultiLineString" else [outline["coordinates"]]
    near = seen = 0
    h, w = on.shape[:2]
    for lon, lat in [pt for line in lines for pt in line[:: max(1, len(line) // 40)]]:
        x, y = project(page, lon, lat)
        if not (4 <= x < w - 64 and 4 <= y < h - 4):
            continue
        seen += 1
        patch = on[int(y) - 3 : int(y) + 4, int(x) - 3 : int(x) + 4]
        near += bool((np.sqrt(((patch - np.array([18, 48, 79])) ** 2).sum(axis=2)) < 40).any())
    assert seen >= 5 and near / seen >= 0.8, f"outline drawn at {near}/{seen} vertices"
    # the ward's own point stays clear of its name (the choropleth's colour shows there)
    for lab in labels[:5]:
        x, y = project(page, lab["lon"], lab["lat"])
        if 4 <= x < w - 64 and 4 <= y < h - 4:
            pixel = on[int(y), int(x)]
            assert np.sqrt(((pixel - np.array([29, 29, 31])) ** 2).sum()) > 30
    # the names: turning them off changes the pixels just above the label points
    page.uncheck("#overlay-labels")
    page.wait_for_timeout(600)
    off = np.asarray(map_image(page), dtype=float)
    changed = 0
    shown = 0
    for lab in labels:
        x, y = project(page, lab["lon"], lab["lat"])
        if not (30 <= x < w - 90 and 10 <= y < h - 10):
            continue
        shown += 1
        box = (slice(int(y) - 24, int(y) - 4), slice(int(x) - 25, int(x) + 26))  # the name sits above
        changed += float(np.abs(on[box] - off[box]).sum(axis=2).max()) > 150
    assert shown >= 5 and changed / shown >= 0.8, f"labels drawn at {changed}/{shown} wards"
    watch.assert_clean()
    context.close()
