"""Exports open in GDAL/pyogrio, geopandas and openpyxl with their metadata, and hide what REST hides."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
from openpyxl import load_workbook
from sqlalchemy import text

from geo.auth import Role


def _service(engine) -> str:
    with engine.connect() as c:
        return c.execute(text("SELECT code FROM service ORDER BY code LIMIT 1")).scalar_one()


def _labelled(frame: pd.DataFrame, column: str) -> list:
    """A count column with its suppression label put back, as REST shows it."""
    labels = frame.get(f"{column}_suppressed")
    values = []
    for i, v in enumerate(frame[column].tolist()):
        label = None if labels is None else labels.iloc[i]
        if isinstance(label, str):
            values.append(label)
        elif v is None or (isinstance(v, float) and pd.isna(v)):
            values.append(None)
        else:
            values.append(int(v))
    return values


def _download(client, collection: str, fmt: str, headers=None) -> bytes:
    response = client.get(f"/api/v1/exports/{collection}", params={"format": fmt}, headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith("attachment")
    return response.content


def test_geopackage_opens_in_gdal_with_its_metadata(client, engine, tmp_path):
    service = _service(engine)
    path = tmp_path / "hot.gpkg"
    path.write_bytes(_download(client, f"hotspots_{service}", "gpkg"))
    layers = [name for name, _ in pyogrio.list_layers(path)]
    assert layers[0] == f"hotspots_{service}" and {"wardwise_metadata", "wardwise_fields"} <= set(layers)
    info = pyogrio.read_info(path, layer=f"hotspots_{service}")
    assert info["crs"] == "EPSG:27700"
    meta = info["layer_metadata"]
    assert meta["SERVICE"] == service and "Open Government Licence" in meta["LICENCE"]
    assert "public view" in meta["DISCLOSURE"] and meta["PERIOD"].count("-") >= 4
    assert "ZD" in meta["DISTRICTS"] and "Poisson" in meta["METHOD"]
    frame = pyogrio.read_dataframe(path, layer=f"hotspots_{service}")
    rest = client.get(f"/api/v1/services/{service}/hotspots").json()["features"]
    assert frame["code"].tolist() == [f["id"] for f in rest]
    assert _labelled(frame, "observed") == [f["properties"]["observed"] for f in rest]
    assert any(isinstance(f["properties"]["observed"], str) for f in rest)
    table = pyogrio.read_dataframe(path, layer="wardwise_metadata")
    assert dict(zip(table["key"], table["value"], strict=True))["collection"] == f"hotspots_{service}"
    if shutil.which("ogrinfo"):
        out = subprocess.run(
            ["ogrinfo", "-ro", "-so", str(path), f"hotspots_{service}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "LICENCE=Open Government Licence v3.0" in out and "DISCLOSURE=public view" in out


def test_geoparquet_carries_geo_and_wardwise_metadata(client, engine, auth_headers):
    service = _service(engine)
    body = _download(client, f"hotspots_{service}", "parquet", auth_headers[Role.officer])
    frame = gpd.read_parquet(io.BytesIO(body))
    assert frame.crs.to_epsg() == 27700
    rest = client.get(f"/api/v1/services/{service}/hotspots", headers=auth_headers[Role.officer]).json()[
        "features"
    ]
    assert frame["observed"].tolist() == [f["properties"]["observed"] for f in rest]
    assert "observed_suppressed" not in frame  # officers see every count
    schema = pq.read_schema(io.BytesIO(body))
    geo = json.loads(schema.metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    meta = json.loads(schema.metadata[b"wardwise"])
    assert meta["service"] == service and meta["disclosure"].startswith("officer view")
    assert set(meta["fields"]) == {c for c in frame.columns if c != "geometry"}
    # area of each polygon in m2 matches PostGIS (the geometry really is British National Grid)
    with engine.connect() as c:
        stored = dict(c.execute(text("SELECT code, ST_Area(geom) FROM area WHERE level = 'oa'")).all())
    assert all(
        abs(a - stored[code]) / stored[code] < 1e-3 for code, a in zip(frame["code"], frame.area, strict=True)
    )


def test_xlsx_has_a_readme_sheet_and_opens_in_gdal(client, engine, tmp_path):
    with engine.connect() as c:
        classification = c.execute(text("SELECT code FROM classification LIMIT 1")).scalar_one()
    body = _download(client, f"ward_segments_{classification}", "xlsx")
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["README", "data"]
    rows = list(book["README"].iter_rows(values_only=True))
    blank = [i for i, row in enumerate(rows) if i > 2 and not any(row)][0]
    readme = {row[0]: row[1] for row in rows[2:blank]}  # the metadata section
    fields = {row[0]: row[1] for row in rows[blank + 2 :]}  # then every field, described
    assert readme["classification"] == classification
    assert "Open Government Licence" in readme["licence"] and readme["disclosure"].startswith("public view")
    assert fields["classification"] and any(str(k).startswith("households_index_") for k in fields)
    path = tmp_path / "m.xlsx"
    path.write_bytes(body)
    frame = pyogrio.read_dataframe(path, layer="data")
    matrix = client.get("/api/v1/matrix", params={"level": "ward", "classification": classification}).json()
    totals = {cell["area_code"]: cell["households"] for cell in matrix["cells"] if cell["segment"] == "Total"}
    assert dict(zip(frame["code"], _labelled(frame, "households_total"), strict=True)) == {
        k: v for k, v in totals.items() if k != "Total"
    }


def test_csv_travels_with_a_frictionless_data_package(client):
    body = _download(client, "wards", "zip")
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert set(archive.namelist()) == {"wards.csv", "datapackage.json"}
    package = json.loads(archive.read("datapackage.json"))
    frame = pd.read_csv(io.BytesIO(archive.read("wards.csv")))
    resource = package["resources"][0]
    assert resource["path"] == "wards.csv"
    assert [f["name"] for f in resource["schema"]["fields"]] == list(frame.columns)
    types = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
    assert types["households"] == "integer" and types["area_km2"] == "number" and types["code"] == "string"
    assert package["licenses"][0]["name"] == "OGL-UK-3.0"
    assert package["wardwise"]["collection"] == "wards" and package["wardwise"]["districts"]
    rest = client.get("/api/v1/areas", params={"level": "ward"}).json()["features"]
    assert frame["households"].tolist() == [f["properties"]["households"] for f in rest]
    assert gpd.GeoSeries.from_wkt(frame["wkt"], crs=27700).area.gt(0).all()


def test_export_audited_and_unknown_collection_is_404(client, engine):
    assert client.get("/api/v1/exports/nope").status_code == 404
    _download(client, "sites", "xlsx")
    with engine.connect() as c:
        n = c.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'export.xlsx' AND target = '/api/v1/exports/sites'"
            )
        ).scalar_one()
    assert n >= 1
