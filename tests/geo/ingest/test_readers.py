"""Readers: encodings, delimiters, formats, and refusing files that are not what they say."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from geo.errors import IngestRowError
from geo.ingest.mapping import Mapping
from geo.ingest.readers import MAX_FIELD_CHARS, inspect_file, read_chunks


def _read(path: Path, mapping: Mapping | None = None, chunk_rows: int = 100_000) -> pd.DataFrame:
    info = inspect_file(path)
    return pd.concat(list(read_chunks(info, mapping or Mapping(), chunk_rows=chunk_rows)))


def test_windows_1252_semicolon_csv_is_read_with_its_accents(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    path.write_bytes(
        "Ref;Address;Postcode\r\n1;Café Parade, Saltmouth;QW1 2AB\r\n2;12 Église Row;QW1 2AB\r\n".encode(
            "cp1252"
        )
    )
    frame = _read(path)
    assert list(frame.columns) == ["Ref", "Address", "Postcode"]
    assert frame["Address"].tolist() == ["Café Parade, Saltmouth", "12 Église Row"]
    assert frame.index.tolist() == [2, 3]  # spreadsheet row numbers: the header is row 1


def test_utf16_with_bom_and_tabs_is_read(tmp_path: Path) -> None:
    path = tmp_path / "extract.tsv"
    path.write_bytes("Ref\tTown\n1\tSaltmouth\n".encode("utf-16"))
    assert _read(path)["Town"].tolist() == ["Saltmouth"]


def test_declared_encoding_that_does_not_fit_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    path.write_bytes(b"Ref,Address\n1,ok\n2,ok\n3,Caf\xe9\n")
    with pytest.raises(IngestRowError) as err:
        _read(path, Mapping(encoding="utf-8"))
    assert err.value.row == 4
    assert "utf-8" in err.value.expected and "encoding" in str(err.value)


def test_undecodable_bytes_without_a_declared_encoding_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    path.write_bytes(b"Ref,Address\n1,fine\n2,\x81\x8d\x8f broken\n")
    with pytest.raises(IngestRowError) as err:
        _read(path)
    assert err.value.row == 3 and "cp1252" in err.value.expected


def test_a_file_named_xlsx_that_is_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "extract.xlsx"
    path.write_text("Ref,Address\n1,x\n")
    with pytest.raises(IngestRowError) as err:
        inspect_file(path)
    assert "XLSX" in err.value.expected and "Ref,Address" in str(err.value.got)


def test_a_csv_that_is_really_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", "hello")
    with pytest.raises(IngestRowError, match="zip archive"):
        inspect_file(path)


def test_a_zip_bomb_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("layer.shp", b"\x00" * (50 * 1024 * 1024))
        zf.writestr("layer.dbf", b"\x00" * 10)
    with pytest.raises(IngestRowError) as err:
        inspect_file(path)
    assert "zip bomb" in str(err.value.got)


def test_an_oversized_field_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    pd.DataFrame({"Ref": ["1", "2"], "Notes": ["short", "x" * (MAX_FIELD_CHARS + 1)]}).to_csv(
        path, index=False
    )
    with pytest.raises(IngestRowError) as err:
        _read(path)
    assert (err.value.row, err.value.field) == (3, "Notes")


def test_size_limit_is_enforced(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    path.write_text("a,b\n" + "1,2\n" * 100)
    with pytest.raises(IngestRowError, match="at most 100 bytes"):
        inspect_file(path, max_bytes=100)


def test_chunks_stream_with_continuous_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    pd.DataFrame({"n": range(2500)}).to_csv(path, index=False)
    chunks = list(read_chunks(inspect_file(path), Mapping(), chunk_rows=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert chunks[1].index[0] == 1002 and chunks[-1].index[-1] == 2501


def test_xlsx_sheet_is_read_with_dates_as_iso(tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    path = tmp_path / "extract.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Ref", "Date", "UPRN"])
    sheet.append(["A1", dt.datetime(2025, 3, 4), 990000000001])
    sheet.append(["A2", dt.date(2025, 3, 5), None])
    book.save(path)
    frame = _read(path)
    assert frame["Date"].tolist() == ["2025-03-04", "2025-03-05"]
    assert frame["UPRN"].tolist() == ["990000000001", ""]


def test_geojson_and_zipped_shapefile_arrive_in_british_national_grid(tmp_path: Path) -> None:
    square = Polygon([(-2.60, 51.45), (-2.59, 51.45), (-2.59, 51.46), (-2.60, 51.46)])
    gdf = gpd.GeoDataFrame({"WD13CD": ["E05000001"]}, geometry=[square], crs=4326)
    geojson = tmp_path / "wards.geojson"
    gdf.to_file(geojson, driver="GeoJSON")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gdf.to_file(shp_dir / "wards.shp")
    zipped = tmp_path / "wards.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f.name)
    for path in (geojson, zipped):
        frame = _read(path)
        assert frame.crs.to_epsg() == 27700
        centre = frame.geometry.iloc[0].centroid
        # -2.595, 51.455 is about (358,800 E, 172,700 N) on the National Grid
        assert abs(centre.x - 358_800) < 1_000 and abs(centre.y - 172_700) < 1_000
        assert frame["WD13CD"].tolist() == ["E05000001"]
    assert Point(0, 0)  # shapely import used for the fixture geometry
