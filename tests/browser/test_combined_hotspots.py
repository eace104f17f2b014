"""Combined hot spots on the map (issue 20): several services chosen, one layer drawn.

Chromium ticks two services in the "Combined hot spots" panel and presses Show. The test
then reads what deck.gl holds (the layer's features and their classes) against the
route's answer fetched by the test itself, reads the map's pixels (a hot area is painted
red over what was there before, an area as expected is left as it was), and hovers a hot
area to read the contributing services in the tooltip.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.browser.conftest import distance, map_image, open_page, project, sign_in, until

pytestmark = pytest.mark.browser

HOT = (215, 48, 39)
NOT = (69, 117, 180)
ALPHA = 200 / 255


def _two_services(engine) -> list[str]:
    with engine.connect() as c:
        return list(
            c.execute(
                text(
                    "SELECT service_code FROM service_event WHERE is_primary GROUP BY service_code "
                    "ORDER BY count(*) DESC, service_code LIMIT 2"
                )
            ).scalars()
        )


def _points(engine, codes: list[str]) -> dict[str, tuple[float, float]]:
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, "
                "ST_Transform(ST_PointOnSurface(geom), 4326) AS p FROM area WHERE code = ANY(:c)) q"
            ),
            {"c": codes},
        ).all()
    return {r[0]: (float(r[1]), float(r[2])) for r in rows}


def _blend(colour: tuple[int, ...], under: tuple[int, ...]) -> tuple[float, ...]:
    return tuple(c * ALPHA + u * (1 - ALPHA) for c, u in zip(colour, under[:3], strict=True))


def test_combined_hot_spots_are_drawn_with_their_contributing_services(
    live_server, browser, engine, officer_key
) -> None:
    services = _two_services(engine)
    assert len(services) == 2
    context, page, watch = open_page(browser, live_server)
    sign_in(page, officer_key)
    assert page.locator("#combined").is_visible()
    before = map_image(page)

    for code in services:
        page.check(f"input[name=combined-service][value={code}]")
    page.select_option("#combined-level", "lsoa")
    page.click("#combined-show")
    until(
        page,
        "() => { const l = window.wardwise.deck.layerManager.getLayers().find(l => l.id === 'combined-hotspots');"
        " return l && l.props.visible && l.props.data.features.length > 0 && l.isLoaded; }",
    )
    page.wait_for_timeout(600)

    # what deck.gl holds: the route's answer, area by area
    drawn = page.evaluate(
        "() => window.wardwise.deck.layerManager.getLayers().find(l => l.id === 'combined-hotspots')"
        ".props.data.features.map(f => [f.properties.code, f.properties['class']])"
    )
    answer = httpx.get(
        f"{live_server}/api/v1/hotspots/combined",
        params={"services": services, "level": "lsoa"},
        headers={"Authorization": f"Bearer {officer_key}"},
    ).json()
    classes = {f["properties"]["code"]: f["properties"]["class"] for f in answer["features"]}
    assert dict(drawn) == classes
    hot = [c for c, k in classes.items() if k in ("hot", "not")]
    assert hot, "the test borough should have at least one combined hot or cold spot"
    summary = page.locator("#combined-summary").inner_text()
    n_hot = sum(k == "hot" for k in classes.values())
    assert summary.startswith(f"{n_hot} hot and ")

    # the pixels: hot/cold areas painted over what was there, the others left alone
    after = map_image(page)
    width, height = after.size
    quiet = [c for c, k in classes.items() if k == "as_expected"][:40]
    points = _points(engine, hot + quiet)
    checked = matched = 0
    for code in hot + quiet:
        x, y = project(page, *points[code])
        if not (5 <= x < width - 60 and 5 <= y < height - 5):
            continue
        old, new = before.getpixel((int(x), int(y))), after.getpixel((int(x), int(y)))
        colour = HOT if classes[code] == "hot" else NOT if classes[code] == "not" else None
        want = _blend(colour, old) if colour else old
        checked += 1
        matched += distance(new, want) < 18
    assert checked >= 5, "too few areas on screen to judge"
    assert matched / checked >= 0.85, f"only {matched}/{checked} areas drawn as their class"

    # the tooltip of the strongest on-screen hot spot lists its contributing services
    feature = {f["properties"]["code"]: f["properties"] for f in answer["features"]}
    on_screen = []
    for code in hot:
        x, y = project(page, *points[code])
        if 5 <= x < width - 60 and 5 <= y < height - 5:
            on_screen.append((abs(feature[code]["z"]), code, x, y))
    assert on_screen
    _, code, x, y = max(on_screen)
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    until(page, "() => !document.querySelector('#tooltip').hidden")
    tip = page.locator("#tooltip").inner_text()
    assert code in tip and "Contributing services:" in tip
    names: dict[str, Any] = {
        s["code"]: s["name"] for s in page.evaluate("() => window.wardwise.spec.services")
    }
    for c in feature[code]["contributing"]:
        assert names[c["service"]] in tip

    page.click("#combined-clear")
    until(
        page,
        "() => !window.wardwise.deck.layerManager.getLayers().find(l => l.id === 'combined-hotspots').props.visible",
    )
    watch.assert_clean()
    context.close()


def test_the_spine_chart_compares_with_similar_areas(live_server, browser, engine, officer_key) -> None:
    """The profile's comparator control redraws the spine chart against the mean of k similar
    areas: the bars are the route's comparator indices for that k."""
    context, page, watch = open_page(browser, live_server)
    sign_in(page, officer_key)
    page.evaluate("() => window.wardwise.openArea('ZW000003')")
    until(page, "() => document.querySelector('#spine-comparator-kind')")
    page.fill("#spine-comparator-k", "3")
    page.select_option("#spine-comparator-kind", "similar")
    until(page, "() => window.wardwise.spineComparator && window.wardwise.spineComparator.kind === 'similar'")
    label = page.locator("#spine-comparator svg.spine").get_attribute("aria-label")
    body = httpx.get(
        f"{live_server}/api/v1/areas/ZW000003/profile",
        params={"comparator": "similar", "k": 3},
        headers={"Authorization": f"Bearer {officer_key}"},
    ).json()
    assert "similar areas" in label.lower()
    for s in body["segments"]:
        if s["comparator_index"] is not None and s["index"] is not None:
            assert f"{s['name']} {s['comparator_index']}" in label
    assert page.locator("#spine-comparator").inner_text().count("Mean of 3 similar areas") == 1
    watch.assert_clean()
    context.close()
