"""The scan-cluster layer of the map page (issue 13): Kulldorff's clusters drawn over the map."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

import numpy as np
import pytest
from sqlalchemy import text

from tests.browser.conftest import map_image, open_page, project, until, wait_tiles

pytestmark = pytest.mark.browser

SERVICE = "social_care"


def _drawn(page: Any) -> dict[str, Any]:
    return page.evaluate(
        "() => { const l = window.wardwise.deck.props.layers.find(x => x.id === 'scan-clusters');"
        " return {visible: l.props.visible, areas: l.props.data.features.map(f => [f.properties.code,"
        " f.properties.scan_cluster, f.properties.scan_class])}; }"
    )


@pytest.mark.parametrize("window", ["circular", "adjacency"])
def test_scan_clusters_are_drawn_over_the_map(live_server, browser, engine, window) -> None:
    context, page, watch = open_page(browser, live_server)
    page.select_option("#service", SERVICE)
    wait_tiles(page)
    # The same request made here, without the page (the clusters themselves are checked
    # against brute force in tests/geo/analysis): every area of every significant cluster.
    url = f"{live_server}/api/v1/services/{SERVICE}/hotspots?" + urlencode(
        {
            "level": "oa",
            "method": "scan",
            "window": window,
            "permutations": 99,
            "seed": 1,
            "format": "geojson",
        }
    )
    with urlopen(url, timeout=300) as response:  # noqa: S310 - the loopback test server
        body = json.load(response)
    codes = {f["properties"]["code"] for f in body["features"]}
    clusters = [c for c in body["meta"]["clusters"] if c["class"] in ("hot", "not")]
    expected = sorted((code, c["id"], c["class"]) for c in clusters for code in c["areas"] if code in codes)
    assert expected and {"hot", "not"} <= {k for _, _, k in expected}
    assert body["meta"]["window"] == window
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
    assert sorted(map(tuple, drawn["areas"])) == expected
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
