"""OGC API - Features and Tiles under /ogc: documents, paging, bbox, CRS, disclosure, tiles.

Expected answers are recomputed independently: area codes and geometries straight from
PostGIS, the REST routes' answers for the same caller (disclosure must match), tile
matrices from morecantile (tipg's tile-matrix library), tiles from the /tiles route.
"""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import urlsplit

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from sqlalchemy import text

from geo.auth import Role
from geo.ogc.features import SUPPRESSED_SUFFIX
from geo.tiles import district_bounds, tiles_covering

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _all_items(
    client: Any, collection: str, headers: dict[str, str] | None = None, **params: Any
) -> list[dict]:
    """Follow next links from the first page to the last; check the counts on the way."""
    response = client.get(f"/ogc/collections/{collection}/items", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    first = response.json()
    matched = first["numberMatched"]
    features = list(first["features"])
    page = first
    while True:
        assert page["numberReturned"] == len(page["features"])
        nxt = [link for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        page = client.get(_path(nxt[0]["href"]), headers=headers or {}).json()
        features += page["features"]
    assert len(features) == matched
    return features


def _one_service(engine: Any) -> str:
    with engine.connect() as c:
        return c.execute(text("SELECT code FROM service ORDER BY code LIMIT 1")).scalar_one()


def test_landing_page_links_conformance_collections_and_tiling_schemes(client):
    body = client.get("/ogc").json()
    assert client.get("/ogc/").json() == body
    rels = {link["rel"]: link["href"] for link in body["links"]}
    for rel in (
        "self",
        "conformance",
        "data",
        "service-desc",
        "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
    ):
        assert rel in rels
        assert client.get(_path(rels[rel])).status_code == 200, rel
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes
    # The API document is OpenAPI 3.1: claiming the OpenAPI 3.0 class would be false.
    assert not any(c.endswith("/conf/oas30") for c in classes)
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_collections_cover_every_level_set_service_and_classification(client, engine):
    with engine.connect() as c:
        sets = c.execute(text("SELECT code FROM area_set WHERE kind = 'custom'")).scalars().all()
        services = c.execute(text("SELECT code FROM service")).scalars().all()
        classifications = c.execute(text("SELECT code FROM classification")).scalars().all()
    expected = {"districts", "wards", "lsoas", "oas", "sites"}
    expected |= {f"set_{s}" for s in sets}
    expected |= {f"hotspots_{s}" for s in services}
    expected |= {f"ward_segments_{c}" for c in classifications}
    body = client.get("/ogc/collections").json()
    ids = {c["id"] for c in body["collections"]}
    assert ids == expected
    for collection in body["collections"]:
        assert collection["crs"] == [CRS84, BNG]
        assert collection["storageCrs"] == BNG
        west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
        assert -8 < west < east < 2 and 49 < south < north < 61 or (west, east) == (-180.0, 180.0)
        items = [link for link in collection["links"] if link["rel"] == "items"]
        assert items and items[0]["type"] == "application/geo+json"
        one = client.get(f"/ogc/collections/{collection['id']}").json()
        assert one["id"] == collection["id"]
    hot = next(c for c in body["collections"] if c["id"].startswith("hotspots_"))
    assert hot["extent"]["temporal"]["interval"][0][0] is not None
    assert client.get("/ogc/collections/nope").status_code == 404


def test_items_paging_visits_every_area_once(client, engine):
    with engine.connect() as c:
        lsoas = c.execute(text("SELECT code FROM area WHERE level = 'lsoa' ORDER BY code")).scalars().all()
    features = _all_items(client, "lsoas", limit=17)
    codes = [f["id"] for f in features]
    assert sorted(codes) == lsoas and len(set(codes)) == len(codes)
    page = client.get("/ogc/collections/lsoas/items", params={"limit": 17, "offset": 17}).json()
    assert [f["id"] for f in page["features"]] == codes[17:34]
    assert any(link["rel"] == "prev" for link in page["links"])
    # A limit above the maximum is not an error: the maximum is used (OGC API rule).
    big = client.get("/ogc/collections/lsoas/items", params={"limit": 10**9})
    assert big.status_code == 200 and big.json()["numberReturned"] == len(lsoas)
    assert client.get("/ogc/collections/lsoas/items", params={"limit": 0}).status_code == 422


def test_bbox_in_either_crs_selects_what_postgis_selects(client, engine):
    with engine.connect() as c:
        x0, y0, x1, y1 = c.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM area WHERE level = 'district') q"
            )
        ).one()
        # The south-west quarter of the district, in metres.
        box = [x0, y0, (x0 + x1) / 2, (y0 + y1) / 2]
        inside = set(
            c.execute(
                text(
                    "SELECT code FROM area WHERE level = 'oa' AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 27700))"
                ),
                dict(zip("abcd", box, strict=True)),
            ).scalars()
        )
        ll = c.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform(ST_MakeEnvelope(:a, :b, :c, :d, 27700), 4326) e) q"
            ),
            dict(zip("abcd", box, strict=True)),
        ).one()
        inside_ll = set(
            c.execute(
                text(
                    "SELECT code FROM area WHERE level = 'oa' AND ST_Intersects(ST_Transform(geom, 4326), ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
                ),
                dict(zip("abcd", ll, strict=True)),
            ).scalars()
        )
    assert 0 < len(inside) < 10_000
    got = {
        f["id"]
        for f in _all_items(client, "oas", limit=500, bbox=",".join(map(str, box)), **{"bbox-crs": BNG})
    }
    assert got == inside
    got_ll = {f["id"] for f in _all_items(client, "oas", limit=500, bbox=",".join(map(str, ll)))}
    assert got_ll == inside_ll
    # the links repeat the filter
    page = client.get(
        "/ogc/collections/oas/items", params={"limit": 5, "bbox": ",".join(map(str, ll))}
    ).json()
    assert "bbox=" in next(link for link in page["links"] if link["rel"] == "next")["href"]
    assert client.get("/ogc/collections/oas/items", params={"bbox": "1,2,3"}).status_code == 400
    assert (
        client.get(
            "/ogc/collections/oas/items", params={"bbox": "0,0,1,1", "bbox-crs": "EPSG:4326"}
        ).status_code
        == 400
    )


def test_british_national_grid_output_matches_the_stored_geometry(client, engine):
    with engine.connect() as c:
        code, stored = c.execute(
            text("SELECT code, ST_AsGeoJSON(geom) FROM area WHERE level = 'ward' ORDER BY code LIMIT 1")
        ).one()
    response = client.get(f"/ogc/collections/wards/items/{code}", params={"crs": BNG})
    assert response.status_code == 200
    assert response.headers["content-crs"] == f"<{BNG}>"
    got = shapely.from_geojson(json.dumps(response.json()["geometry"]))
    want = shapely.from_geojson(stored)
    # Through WGS84 at 1e-8 degrees and back, rounded to centimetres.
    assert shapely.hausdorff_distance(got, want) < 0.05
    default = client.get(f"/ogc/collections/wards/items/{code}")
    assert default.headers["content-crs"] == f"<{CRS84}>"
    lon, lat = default.json()["geometry"]["coordinates"][0][0][0]
    assert -8 < lon < 2 and 49 < lat < 61
    assert client.get(f"/ogc/collections/wards/items/{code}", params={"crs": "EPSG:4326"}).status_code == 400
    assert client.get("/ogc/collections/wards/items/NOPE").status_code == 404


def _unsplit(props: dict[str, Any]) -> dict[str, Any]:
    """Undo the numeric/label split: a hidden count comes back as its label."""
    out = {}
    for k, v in props.items():
        if k.endswith(SUPPRESSED_SUFFIX):
            continue
        label = props.get(f"{k}{SUPPRESSED_SUFFIX}")
        out[k] = label if label is not None else v
    return out


@pytest.mark.parametrize("role", [None, Role.officer])
def test_hotspot_collection_shows_each_caller_what_rest_shows(client, engine, auth_headers, role):
    service = _one_service(engine)
    headers = auth_headers[role] if role else {}
    rest = client.get(f"/api/v1/services/{service}/hotspots", headers=headers).json()["features"]
    ogc = _all_items(client, f"hotspots_{service}", headers, limit=250)
    assert [f["id"] for f in ogc] == [f["id"] for f in rest]
    for mine, theirs in zip(ogc, rest, strict=True):
        assert _unsplit(mine["properties"]) == theirs["properties"]
    suppressed = [f for f in ogc if f["properties"].get(f"observed{SUPPRESSED_SUFFIX}")]
    if role is None:
        # the test borough has small counts: the public must see them hidden, typed as null
        assert suppressed
        assert all(
            f["properties"]["observed"] is None and f["properties"]["ratio"] is None for f in suppressed
        )
        # one schema on every page: every feature has the companion field
        assert all(f"observed{SUPPRESSED_SUFFIX}" in f["properties"] for f in ogc)
    else:
        assert not suppressed and all(isinstance(f["properties"]["observed"], int | float) for f in ogc)


def test_datetime_counts_the_period_asked_for(client, engine):
    service = _one_service(engine)
    period = {"date_from": "2025-01-01", "date_to": "2025-06-30"}
    rest = client.get(f"/api/v1/services/{service}/hotspots", params=period).json()["features"]
    ogc = _all_items(client, f"hotspots_{service}", limit=1000, datetime="2025-01-01/2025-06-30")
    assert [_unsplit(f["properties"]) for f in ogc] == [f["properties"] for f in rest]
    whole = _all_items(client, f"hotspots_{service}", limit=1000)
    assert [f["properties"] for f in whole] != [f["properties"] for f in ogc]
    open_end = _all_items(client, f"hotspots_{service}", limit=1000, datetime="../2025-06-30")
    rest_open = client.get(f"/api/v1/services/{service}/hotspots", params={"date_to": "2025-06-30"}).json()
    assert [_unsplit(f["properties"]) for f in open_end] == [f["properties"] for f in rest_open["features"]]
    bad = client.get(f"/ogc/collections/hotspots_{service}/items", params={"datetime": "last year"})
    assert bad.status_code == 400


@pytest.mark.parametrize("role", [None, Role.officer])
def test_ward_segment_collection_is_the_matrix_as_ward_attributes(client, engine, auth_headers, role):
    headers = auth_headers[role] if role else {}
    with engine.connect() as c:
        classification = c.execute(
            text("SELECT code FROM classification ORDER BY (unit = 'household') DESC, code LIMIT 1")
        ).scalar_one()
    matrix = client.get(
        "/api/v1/matrix", params={"level": "ward", "classification": classification}, headers=headers
    ).json()
    cells = {(cell["area_code"], cell["segment"]): cell for cell in matrix["cells"]}
    features = _all_items(client, f"ward_segments_{classification}", headers, limit=10)
    assert {f["id"] for f in features} == {a["code"] for a in matrix["areas"]}
    for feature in features:
        props = _unsplit(feature["properties"])
        code = feature["id"]
        assert props["households_total"] == cells[(code, "Total")]["households"]
        for segment in matrix["segments"]:
            cell = cells[(code, segment["code"])]
            assert props[f"households_{segment['code']}"] == cell["households"]
            assert props[f"households_pct_{segment['code']}"] == cell["households_pct"]
            assert props[f"households_index_{segment['code']}"] == cell["households_index"]


def test_sites_collection_is_the_sites_route(client):
    rest = client.get("/api/v1/sites").json()["features"]
    ogc = _all_items(client, "sites", limit=25)
    assert [f["id"] for f in ogc] == [f["id"] for f in rest]
    assert [f["properties"] for f in ogc] == [f["properties"] for f in rest]
    one = client.get(f"/ogc/collections/sites/items/{rest[0]['id']}").json()
    assert one["geometry"]["type"] == "Point"
    assert np.allclose(one["geometry"]["coordinates"], rest[0]["geometry"]["coordinates"], atol=1e-6)


def test_area_collections_are_the_areas_route(client):
    for level, collection in (("ward", "wards"), ("district", "districts")):
        rest = client.get("/api/v1/areas", params={"level": level}).json()["features"]
        ogc = _all_items(client, collection, limit=7)
        assert [f["properties"] for f in ogc] == [f["properties"] for f in rest]


# --------------------------------------------------------------------------- tiles


def test_web_mercator_quad_matches_morecantile(client):
    morecantile = pytest.importorskip("morecantile")
    listed = client.get("/ogc/tileMatrixSets").json()["tileMatrixSets"]
    assert [t["id"] for t in listed] == ["WebMercatorQuad"]
    ours = client.get("/ogc/tileMatrixSets/WebMercatorQuad").json()
    reference = morecantile.tms.get("WebMercatorQuad")
    assert ours["crs"].endswith("/EPSG/0/3857")
    for mine in ours["tileMatrices"]:
        theirs = reference.matrix(int(mine["id"]))
        assert mine["matrixWidth"] == theirs.matrixWidth and mine["matrixHeight"] == theirs.matrixHeight
        assert mine["scaleDenominator"] == pytest.approx(theirs.scaleDenominator, rel=1e-9)
        assert mine["cellSize"] == pytest.approx(theirs.cellSize, rel=1e-9)
        assert mine["pointOfOrigin"] == pytest.approx(list(theirs.pointOfOrigin), rel=1e-12)
    assert client.get("/ogc/tileMatrixSets/WorldCRS84Quad").status_code == 404


def _decoded(body: bytes) -> dict:
    # httpx has already undone Content-Encoding: gzip
    return mapbox_vector_tile.decode(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)


def test_ogc_tile_is_the_xyz_tile_with_row_before_column(client, engine, auth_headers):
    with engine.connect() as c:
        bounds, _ = district_bounds(c)
    service = _one_service(engine)
    cases = [("wards", "wards", None), (f"hotspots_{service}", "hotspots", service), ("sites", "sites", None)]
    for collection, layer, svc in cases:
        meta = client.get(f"/ogc/collections/{collection}/tiles/WebMercatorQuad").json()
        template = next(link for link in meta["links"] if link["rel"] == "item")["href"]
        assert template.endswith("/{tileMatrix}/{tileRow}/{tileCol}")
        tilejson = next(link for link in meta["links"] if link["rel"] == "alternate")["href"]
        assert client.get(_path(tilejson)).json()["vector_layers"][0]["id"] == layer
        z = 12
        limits = next(lim for lim in meta["tileMatrixSetLimits"] if lim["tileMatrix"] == str(z))
        tiles = tiles_covering(bounds, z)
        assert limits["minTileCol"] == min(x for _, x, _ in tiles) and limits["maxTileRow"] == max(
            y for _, _, y in tiles
        )
        found = False
        for role_headers in ({}, auth_headers[Role.officer]):
            for _, x, y in tiles:
                ogc = client.get(
                    _path(
                        template.replace("{tileMatrix}", str(z))
                        .replace("{tileRow}", str(y))
                        .replace("{tileCol}", str(x))
                    ),
                    headers=role_headers,
                )
                xyz = client.get(
                    f"/tiles/{layer}/{z}/{x}/{y}.pbf",
                    params={"service": svc} if svc else {},
                    headers=role_headers,
                )
                assert ogc.status_code == xyz.status_code
                if ogc.status_code == 200:
                    found = True
                    assert _decoded(ogc.content) == _decoded(xyz.content)
                    assert ogc.headers["etag"] == xyz.headers["etag"]
        assert found, collection
    assert client.get("/ogc/collections/districts/tiles").status_code == 404
    assert client.get("/ogc/collections/wards/tiles/WebMercatorQuad/12/99999/0").status_code == 400
    assert client.get("/ogc/collections/wards/tiles").json()["tilesets"][0]["dataType"] == "vector"
