"""The scan-cluster layer of the map page (issue 13): Kulldorff's clusters drawn over the map."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from geo.analysis.hotspot_queries import SpatialOptions, hotspot_frame
from geo.areas import Geography
from tests.browser.conftest import map_image, open_page, project, until, wait_tiles

pytestmark = pytest.mark.browser

SERVICE = "social_care"


def _drawn(page: Any) -> dict[str, Any]:
    return page.evaluate(
        "() => { const l = window.wardwise.deck.props.layers.find(x => x.id === 'scan-clusters');"
        " return {visible: l.props.visible, areas: l.props.data.features.map(f => [f.properties.code,"
        " f.properties.scan_class])}; }"
    )


@pytest.mark.parametrize("window", ["circular", "adjacency"])
def test_scan_clusters_are_drawn_over_the_map(live_server, browser, engine, window) -> None:
    context, page, watch = open_page(browser, live_server)
    page.select_option("#service", SERVICE)
    wait_tiles(page)
    # The same scan computed here, without the page: significant clusters' areas and kinds.
    with engine.connect() as conn:
        frame = hotspot_frame(
            conn,
            SERVICE,
            Geography("oa"),
            method="scan",
            options=SpatialOptions(permutations=99, seed=1, window=window),
        )
    clusters = [c for c in frame.attrs["meta"]["clusters"] if c["class"] in ("hot", "not")]
    expected = {code: c["class"] for c in clusters for code in c["areas"]}
    assert expected and {"hot", "not"} <= set(expected.values())
    hot = next(c for c in clusters if c["class"] == "hot")
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p "
                "FROM area WHERE code = :c) s"
            ),
            {"c": hot["centre"]},
        ).one()
    x, y = project(page, lon, lat)
    before = np.asarray(map_image(page), dtype=float)[int(y), int(x)]

    page.select_option("#scan-window", window)
    until(page, "() => window.wardwise.scan && window.wardwise.scan.features.length > 0", timeout_s=120)
    page.wait_for_timeout(500)
    drawn = _drawn(page)
    assert drawn["visible"]
    assert dict(drawn["areas"]) == expected
    summary = page.locator("#scan-summary").inner_text()
    assert f"{len(clusters)} significant clusters" in summary
    # The hot cluster's centre area is now tinted red: more red, less blue than before.
    after = np.asarray(map_image(page), dtype=float)[int(y), int(x)]
    assert after[0] - after[2] > before[0] - before[2] + 10, (before, after)

    # Another service clears the layer until its own scan arrives; "Off" removes it.
    page.select_option("#scan-window", "")
    until(page, "() => !window.wardwise.scan")
    assert not _drawn(page)["visible"]
    watch.assert_clean()
    context.close()
