"""Issue 16's planning answers drawn on the map: timetable, isochrones, zones, scenarios.

Each answer is asked for through the page's own controls; the test then checks what deck.gl
drew, not only the DOM: the layer's data against the API's answer (captured from the page's
own request), what deck.gl picks at projected points (the picking pass renders the layer),
and the colours of the screenshot's pixels at stops and left-out areas.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from tests.browser.conftest import map_image, open_page, project, sign_in, until

pytestmark = pytest.mark.browser

DAY_COLOURS = {"tue": (213, 94, 0), "thu": (204, 121, 167)}
LEFT_OUT = (200, 0, 0)


def _layer_data(page: Any, layer_id: str) -> dict[str, Any]:
    return page.evaluate(
        "(id) => { const l = window.wardwise.deck.layerManager.getLayers().find(x => x.id === id);"
        " return l && l.props.visible ? l.props.data : null; }",
        layer_id,
    )


def _pick(page: Any, x: float, y: float, layer_id: str) -> dict[str, Any] | None:
    return page.evaluate(
        "([x, y, id]) => { const p = window.wardwise.deck.pickObject({x, y, radius: 0, layerIds: [id]});"
        " return p && p.object ? p.object.properties : null; }",
        [x, y, layer_id],
    )


def _settle(page: Any, layer_id: str) -> None:
    until(
        page,
        "(id) => { const l = window.wardwise.deck.layerManager.getLayers().find(x => x.id === id);"
        " return l && l.props.visible && l.isLoaded && !window.wardwise.moving; }",
        layer_id,
    )
    page.wait_for_timeout(1200)  # the fly-to transition and a redraw


def _inside(page: Any, x: float, y: float) -> bool:
    box = page.locator("#map").bounding_box()
    return 5 < x < box["width"] - 5 and 5 < y < box["height"] - 5


def _near(px: np.ndarray, colour: tuple[int, int, int], tol: float = 45) -> bool:
    return float(np.sqrt(((px[:3] - np.array(colour)) ** 2).sum())) < tol


def test_timetable_isochrones_zones_and_scenarios_are_drawn(live_server, browser, officer_key) -> None:
    context, page, watch = open_page(browser, live_server)
    sign_in(page, officer_key)
    page.click("#plan-more > summary")

    # Fortnightly timetable: a route and stops per day, the timetable in the Plan tab.
    with page.expect_response(lambda r: r.url.endswith("/api/v1/planning/routes"), timeout=90_000) as got:
        page.click("#plan-timetable")
    plan = got.value.json()
    _settle(page, "plan-timetable")
    drawn = _layer_data(page, "plan-timetable")
    lines = [f for f in drawn["features"] if f["geometry"]["type"] == "LineString"]
    stops = [f for f in drawn["features"] if f["geometry"]["type"] == "Point"]
    # the solver may leave a route-day empty; every route it planned is drawn
    assert len(lines) == len(plan["routes"]["features"]) >= 1
    assert plan["summary"]["route_days"] == 4 and plan["summary"]["frequency"] == "fortnightly"
    assert sorted(f["id"] for f in lines) == sorted(f["id"] for f in plan["routes"]["features"])
    assert {f["properties"]["day"] for f in lines} <= {"tue", "thu"}
    assert sorted(f["properties"]["stop_id"] for f in stops) == sorted(
        f["properties"]["stop_id"] for f in plan["stops"]["features"]
    )
    rows = page.locator("#plan-timetable-table tbody tr")
    assert rows.count() == len(plan["timetable"]) > len(stops)
    assert page.locator("#pane-plan").is_visible()
    image = np.asarray(map_image(page), dtype=float)
    hits, seen = 0, 0
    for f in stops:
        x, y = project(page, *f["geometry"]["coordinates"])
        if not _inside(page, x, y):
            continue
        seen += 1
        hits += _near(image[int(round(y)), int(round(x))], DAY_COLOURS[f["properties"]["day"]])
    assert seen >= 3 and hits >= 0.8 * seen, f"{hits} of {seen} stops drawn in their day's colour"

    # Isochrones on foot: three nested bands; the 5-minute band is on top at the site.
    page.select_option("#plan-iso-mode", "walk")
    with page.expect_response(lambda r: "/api/v1/planning/isochrones" in r.url, timeout=60_000) as got:
        page.click("#plan-isochrones")
    bands = got.value.json()["features"]
    _settle(page, "plan-isochrones")
    drawn = _layer_data(page, "plan-isochrones")
    assert [f["properties"]["minutes"] for f in drawn["features"]] == [15.0, 10.0, 5.0]
    assert all(f["properties"]["mode"] == "walk" for f in drawn["features"])
    by_minutes = {f["properties"]["minutes"]: shape(f["geometry"]) for f in bands}
    inner = by_minutes[5.0].representative_point()
    ring = by_minutes[15.0].difference(by_minutes[10.0]).representative_point()
    for point, minutes in ((inner, 5.0), (ring, 15.0)):
        x, y = project(page, point.x, point.y)
        picked = _pick(page, x, y, "plan-isochrones")
        assert picked and picked["minutes"] == minutes, (minutes, picked)
    assert page.locator("#pane-plan table tbody tr").count() == 3

    # Service zones (max-p over LSOAs): each zone is what deck.gl picks inside it.
    page.fill("#plan-zone-floor", "5000")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/planning/zones"), timeout=120_000) as got:
        page.click("#plan-zones")
    zones = got.value.json()
    _settle(page, "plan-zones")
    drawn = _layer_data(page, "plan-zones")
    assert [f["properties"]["zone"] for f in drawn["features"]] == list(
        range(1, zones["summary"]["zones"] + 1)
    )
    assert all(f["properties"]["demand"] >= 5000 for f in drawn["features"])
    assert page.locator("#plan-zones-table tbody tr").count() == zones["summary"]["zones"]
    # picking is asked of the zones layer alone, so the bands drawn above do not hide it
    checked = 0
    for f in zones["zones"]["features"]:
        point = shapely.make_valid(shape(f["geometry"])).representative_point()
        x, y = project(page, point.x, point.y)
        if not _inside(page, x, y):
            continue
        picked = _pick(page, x, y, "plan-zones")
        assert picked and picked["zone"] == f["properties"]["zone"], (f["properties"]["zone"], picked)
        checked += 1
    assert checked >= 2

    # Scenarios: save one, compare (a table side by side), map who it leaves out.
    name = f"browser test sites {time.time_ns()}"
    page.fill("#plan-scenario-name", name)
    page.click("#plan-save-scenario")
    until(page, "() => document.querySelector('#plan-scenarios-table')", None, 90)
    names = page.locator("#plan-scenarios-table tbody tr th").all_inner_texts()
    assert name in names
    with page.expect_response(
        lambda r: "/api/v1/planning/scenarios/" in r.url and "compare" not in r.url
    ) as got:
        page.locator("button.left-out", has_text=name).click()
    scenario = got.value.json()
    standard = scenario["result"]["segments"]["standard"]
    beyond = [f for f in scenario["result"]["demand"]["features"] if f["properties"]["travel"] > standard]
    _settle(page, "plan-left-out")
    drawn = _layer_data(page, "plan-left-out")
    assert sorted(f["properties"]["code"] for f in drawn["features"]) == sorted(
        f["properties"]["code"] for f in beyond
    )
    assert beyond, "the demo's 10-minute standard leaves someone out"
    image = np.asarray(map_image(page), dtype=float)
    hits, seen = 0, 0
    for f in beyond:
        x, y = project(page, *f["geometry"]["coordinates"])
        if not _inside(page, x, y):
            continue
        seen += 1
        hits += _near(image[int(round(y)), int(round(x))], LEFT_OUT)
    assert seen and hits >= 0.8 * seen, f"{hits} of {seen} left-out areas drawn red"
    watch.assert_clean()
    context.close()
