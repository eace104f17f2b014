"""The tile, TileJSON, catalogue, deck and search endpoints over the real app."""

from __future__ import annotations

import gzip

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from geo.auth import Role, create_key
from geo.tiles import tiles_covering

MVT = "application/vnd.mapbox-vector-tile"


SMALL_COUNT_SERVICE = (
    "SELECT service_code FROM (SELECT service_code, oa_code, count(DISTINCT uprn) AS users, count(*) AS events "
    "FROM service_event WHERE is_primary AND oa_code IS NOT NULL GROUP BY 1, 2) q "
    "GROUP BY 1 ORDER BY count(*) FILTER (WHERE users BETWEEN 1 AND 4 OR events BETWEEN 1 AND 4) DESC, "
    "service_code LIMIT 1"
)


@pytest.fixture(scope="module")
def small_count_service(engine) -> str:
    """The service with the most output areas where only a few households use it."""
    with engine.connect() as c:
        return c.execute(text(SMALL_COUNT_SERVICE)).scalar_one()


@pytest.fixture(scope="module")
def centre_tile(client) -> tuple[int, int, int]:
    """A z13 tile at the middle of the borough (it has output areas in it)."""
    tj = client.get("/tiles/oas.json").json()
    lon, lat, _ = tj["center"]
    return tiles_covering([lon, lat, lon, lat], 13)[0]


@pytest.fixture(scope="module")
def busiest_service(engine) -> str:
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT service_code FROM service_event WHERE is_primary GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()


@pytest.fixture(scope="module")
def officer_headers(engine, settings):
    with engine.begin() as c:
        key = create_key(c, Role.officer, "tiles test", settings.secret_salt.get_secret_value())
    yield {"Authorization": f"Bearer {key}"}
    prefix = key.split("_")[1]
    with engine.begin() as c:
        c.execute(text("DELETE FROM api_key WHERE prefix = :p"), {"p": prefix})


def test_tile_is_gzip_mvt_with_etag_and_cache_control(client, centre_tile) -> None:
    z, x, y = centre_tile
    r = client.get(f"/tiles/oas/{z}/{x}/{y}.pbf", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"] == MVT
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["etag"].startswith('"') and "max-age" in r.headers["cache-control"]
    assert r.headers["cache-control"].startswith("public")
    features = mapbox_vector_tile.decode(r.content)["oas"]["features"]  # httpx has un-gzipped it
    assert features and all(f["properties"]["code"].startswith("ZO") for f in features)
    again = client.get(f"/tiles/oas/{z}/{x}/{y}.pbf", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_tile_without_gzip_support_is_sent_plain(client, centre_tile) -> None:
    z, x, y = centre_tile
    r = client.get(f"/tiles/wards/{z}/{x}/{y}.pbf", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200 and "content-encoding" not in r.headers
    assert mapbox_vector_tile.decode(r.content)["wards"]["features"]
    with pytest.raises(OSError):
        gzip.decompress(r.content)


def test_empty_tile_is_204(client) -> None:
    r = client.get("/tiles/oas/10/0/0.pbf")
    assert r.status_code == 204 and r.content == b""


@pytest.mark.parametrize(
    "path", ["/tiles/oas/23/0/0.pbf", "/tiles/oas/3/8/0.pbf", "/tiles/oas/3/0/-1.pbf", "/tiles/oas/a/0/0.pbf"]
)
def test_bad_coordinates_are_400_with_a_reason(client, path) -> None:
    r = client.get(path)
    assert r.status_code == 400
    assert "expected" in r.json()["detail"] or "integers" in r.json()["detail"]


def test_unknown_layer_and_service_are_404(client, centre_tile) -> None:
    z, x, y = centre_tile
    r = client.get(f"/tiles/parishes/{z}/{x}/{y}.pbf")
    assert r.status_code == 404 and "wards" in r.json()["detail"]
    assert client.get("/tiles/parishes.json").status_code == 404
    r = client.get(f"/tiles/oas/{z}/{x}/{y}.pbf", params={"service": "no_such"})
    assert r.status_code == 404 and "`service`" in r.json()["detail"]


def test_public_gets_suppressed_counts_and_officers_the_figures(
    client, officer_headers, small_count_service
) -> None:
    busiest_service = small_count_service
    tj = client.get("/tiles/oas.json").json()
    west, south, east, north = tj["bounds"]
    public_seen, officer_seen = {}, {}
    for z, x, y in tiles_covering([west, south, east, north], 11):
        url = f"/tiles/oas/{z}/{x}/{y}.pbf"
        pub = client.get(url, params={"service": busiest_service})
        off = client.get(url, params={"service": busiest_service}, headers=officer_headers)
        assert pub.status_code == off.status_code
        if pub.status_code == 204:
            continue
        assert off.headers["cache-control"].startswith("private")
        for f in mapbox_vector_tile.decode(pub.content)["oas"]["features"]:
            public_seen[f["properties"]["code"]] = f["properties"]
        for f in mapbox_vector_tile.decode(off.content)["oas"]["features"]:
            officer_seen[f["properties"]["code"]] = f["properties"]
    small = [c for c, p in officer_seen.items() if 1 <= p["users"] <= 4]
    assert small
    # cell-key perturbation (docs/security.md): a public count is "<5", or a perturbed one
    # (zero or five and over); areas under the household floor are not in public tiles
    shown = [public_seen[c]["users"] for c in small if c in public_seen]
    assert shown and all(v == "<5" or v == 0 or v >= 5 for v in shown)
    assert all(isinstance(p["users"], int) for p in officer_seen.values())


def test_tilejson_describes_the_layer_and_carries_version_and_service(client, busiest_service) -> None:
    r = client.get("/tiles/wards.json", params={"service": busiest_service})
    assert r.status_code == 200
    tj = r.json()
    assert tj["tilejson"] == "3.0.0" and tj["name"] == "wards"
    url = tj["tiles"][0]
    assert "/tiles/wards/{z}/{x}/{y}.pbf?v=" in url and f"service={busiest_service}" in url
    west, south, east, north = tj["bounds"]
    assert west < tj["center"][0] < east and south < tj["center"][1] < north
    fields = tj["vector_layers"][0]["fields"]
    assert {"code", "name", "households", "takeup"} <= set(fields)


def test_catalog_lists_every_layer(client) -> None:
    r = client.get("/catalog")
    assert r.status_code == 200
    names = {layer["name"] for layer in r.json()["layers"]}
    assert {"wards", "lsoas", "oas", "h3", "sites", "roads"} <= names
    for layer in r.json()["layers"]:
        assert client.get(layer["tilejson"]).status_code == 200


def test_deck_json_is_local_only_and_built_by_pydeck(client) -> None:
    r = client.get("/api/v1/map/deck.json")
    assert r.status_code == 200
    body = r.json()
    layers = {layer["id"]: layer for layer in body["deck"]["layers"]}
    assert {"roads", "areas", "h3", "sites", "planning"} <= set(layers)
    tiled = [layer for layer in layers.values() if layer["@@type"] == "MVTLayer"]
    assert {layer["id"] for layer in tiled} == {"roads", "areas", "h3", "sites"}
    assert all(layer["loadOptions"]["mvt"]["workerUrl"] == body["worker_url"] for layer in tiled)
    assert layers["planning"]["@@type"] == "GeoJsonLayer"
    assert "://" not in r.text  # every URL is on this origin
    assert client.get(body["worker_url"]).status_code == 200
    assert {s["code"] for s in body["services"]}
    assert {m["id"] for m in body["measures"]} >= {"households", "takeup", "ratio", "class", "unmet"}


def test_search_finds_a_postcode_and_its_output_area(client, engine) -> None:
    with engine.connect() as c:
        postcode, oa = c.execute(
            text("SELECT postcode, oa_code FROM postcode ORDER BY postcode LIMIT 1")
        ).one()
    r = client.get("/api/v1/search", params={"q": postcode.lower()})
    assert r.status_code == 200
    first = r.json()["places"][0]
    assert first["kind"] == "postcode" and first["label"] == postcode and first["area_code"] == oa
    assert -180 < first["lon"] < 180 and 45 < first["lat"] < 60


def test_search_finds_a_ward_by_name_and_an_address_by_prefix(client, engine) -> None:
    with engine.connect() as c:
        code, name = c.execute(
            text("SELECT code, name FROM area WHERE level = 'ward' ORDER BY code LIMIT 1")
        ).one()
        address, oa = c.execute(
            text("SELECT address_text, oa_code FROM address WHERE paon ~ '^[0-9]+$' ORDER BY uprn LIMIT 1")
        ).one()
    places = client.get("/api/v1/search", params={"q": name}).json()["places"]
    assert any(p["area_code"] == code and p["kind"] == "ward" and p["bbox"] for p in places)
    prefix = address.split(",")[0]
    places = client.get("/api/v1/search", params={"q": prefix, "limit": 50}).json()["places"]
    assert any(p["kind"] == "address" and p["label"] == address and p["area_code"] == oa for p in places)


def test_search_refuses_a_one_letter_query(client) -> None:
    r = client.get("/api/v1/search", params={"q": "%%"})
    assert r.status_code == 422 and "`q`" in r.json()["detail"]
