"""Files people open directly: GeoPackage, GeoParquet, XLSX and CSV with a data package.

Each export is one OGC collection (areas, sites, hot spots of a service, the ward x segment
matrix) exactly as :func:`geo.ogc.features.items_page` gives it to the same caller, so
disclosure control is the REST API's. Every file carries its metadata where the format's
readers look for it:

* GeoPackage: GDAL layer metadata (``ogrinfo`` prints it; QGIS shows it in the layer's
  properties) plus a ``wardwise_metadata`` attribute table and a ``wardwise_fields`` table;
* GeoParquet: the ``geo`` key (GeoParquet 1.0, CRS as PROJJSON) plus a ``wardwise`` key
  in the Parquet file's key-value metadata;
* XLSX: a ``README`` sheet first (what, when, where, how, disclosure, licence, every field);
* CSV: zipped with a Frictionless ``datapackage.json`` (table schema with field types and
  descriptions, licence, sources, and the same metadata).

Geometries are written in British National Grid (EPSG:27700), the CRS councils' GIS use.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, text

from geo.db import load_sql
from geo.disclosure import DisclosurePolicy
from geo.ogc.crs import BNG
from geo.ogc.features import (
    SUPPRESSED_SUFFIX,
    Collection,
    collection_data,
    get_collection,
    parse_datetime,
)

ExportFormat = Literal["gpkg", "parquet", "xlsx", "zip"]
MEDIA_TYPES: dict[str, str] = {
    "gpkg": "application/geopackage+sqlite3",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
}


@dataclass(frozen=True)
class Licence:
    """The licence and attribution an export is published under."""

    name: str = "OGL-UK-3.0"
    title: str = "Open Government Licence v3.0"
    path: str = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
    attribution: str = (
        "Contains public sector information licensed under the Open Government Licence v3.0. "
        "Boundaries: Office for National Statistics licensed under the OGL; contains OS data "
        "(c) Crown copyright and database right."
    )


@dataclass(frozen=True)
class ExportMetadata:
    """What travels with every export (one flat record of plain strings and lists)."""

    title: str
    collection: str
    description: str
    service: str | None
    classification: str | None
    classification_source: str | None
    period: str
    districts: list[str]
    method: str
    disclosure: str
    data_vintages: dict[str, str]
    licence: str
    licence_id: str
    licence_url: str
    attribution: str
    generated_at: str
    crs: str
    fields: dict[str, str] = field(default_factory=dict)

    def items(self) -> list[tuple[str, str]]:
        """``(key, text)`` pairs for a README sheet, layer metadata or a key-value table."""
        out = []
        for key, value in asdict(self).items():
            if key == "fields":
                continue
            if isinstance(value, list):
                value = "; ".join(value)
            elif isinstance(value, dict):
                value = "; ".join(f"{k}: {v}" for k, v in value.items())
            out.append((key, "" if value is None else str(value)))
        return out


#: Field descriptions by name (the suppressed companions and matrix columns are derived).
FIELD_DESCRIPTIONS: dict[str, str] = {
    "code": "Area code",
    "name": "Name",
    "level": "Area level (oa, lsoa, ward, district, custom)",
    "set_code": "Area set the area belongs to",
    "parent_code": "Code of the parent area",
    "district_code": "District code",
    "households": "Households (residential addresses)",
    "area_km2": "Area in square kilometres",
    "expected": "Use expected from the area's households and each segment's borough-wide rate",
    "observed": "Use observed",
    "ratio": "Observed / expected",
    "ci_low": "Lower 95% limit of the ratio (exact Poisson)",
    "ci_high": "Upper 95% limit of the ratio (exact Poisson)",
    "p_value": "Two-sided exact Poisson p-value",
    "q_value": "Benjamini-Hochberg adjusted p-value",
    "funnel_95_low": "Lower 95% funnel limit of the ratio",
    "funnel_95_high": "Upper 95% funnel limit of the ratio",
    "funnel_998_low": "Lower 99.8% funnel limit of the ratio",
    "funnel_998_high": "Upper 99.8% funnel limit of the ratio",
    "class": "hot | not | as_expected at the stated false-discovery rate",
    "potential": "Use if every segment reached the benchmark percentile's take-up",
    "unmet": "potential - observed (where positive)",
    "site_id": "Site id",
    "kind": "office | library | community_centre | surgery | school",
    "is_existing": "An existing office (true) or a candidate venue",
    "capacity": "Capacity",
    "address_text": "Address",
    "oa_code": "Output area containing the site",
    "classification": "Classification of the segments",
    "households_total": "Classified households in the ward",
}


def describe_field(name: str) -> str:
    """A one-line description of an export column."""
    if name.endswith(SUPPRESSED_SUFFIX):
        base = name[: -len(SUPPRESSED_SUFFIX)]
        return f"Label shown instead of `{base}` where it is suppressed ('<5' small, '[c]' secondary)"
    if name in FIELD_DESCRIPTIONS:
        return FIELD_DESCRIPTIONS[name]
    for prefix, text_ in (
        ("households_index_", "Location quotient of segment {} (100 = its borough-wide share)"),
        ("households_pct_", "Share of the ward's classified households in segment {}, %"),
        ("households_", "Households of segment {}"),
    ):
        if name.startswith(prefix):
            return text_.format(name[len(prefix) :])
    return name


def _method(spec: Collection, meta: dict[str, Any]) -> str:
    if spec.kind == "hotspots":
        settings = ", ".join(f"{k}={v}" for k, v in meta.items() if not isinstance(v, dict | list))
        return (
            "Expected use per output area = sum over segments of households x the segment's rate in "
            "the whole district; observed against expected with exact Poisson tests and "
            f"Benjamini-Hochberg false-discovery control ({settings})."
        )
    if spec.kind == "segments":
        return (
            "Ward x segment matrix of households: households_pct = 100 x h / H_ward; "
            "households_index = 100 x (h / H_ward) / (H_segment / H)."
        )
    if spec.kind == "sites":
        return "Sites as loaded (existing offices and candidate venues)."
    return "Area boundaries as loaded; households are residential addresses in the gazetteer."


def _vintages(conn: Connection, spec: Collection) -> dict[str, str]:
    out: dict[str, str] = {}
    for kind, finished in conn.execute(
        text(
            "SELECT kind, max(finished_at) FROM ingest_batch WHERE status = 'loaded' "
            "GROUP BY kind ORDER BY kind"
        )
    ).all():
        out[f"{kind} loaded"] = finished.date().isoformat() if finished else "unknown"
    if spec.service:
        for row in conn.execute(load_sql("analysis/service_periods")).all():
            if row.service_code == spec.service and row.first_date:
                out[f"{spec.service} events"] = f"{row.first_date} to {row.last_date}"
    return out


def export_metadata(
    conn: Connection,
    spec: Collection,
    meta: dict[str, Any],
    columns: list[str],
    policy: DisclosurePolicy | None,
    period: tuple[dt.date | None, dt.date | None] | None,
    licence: Licence,
) -> ExportMetadata:
    """Gather what travels with an export of ``spec``."""
    districts = [
        f"{code} {name}"
        for code, name in conn.execute(
            text("SELECT code, name FROM area WHERE level = 'district' ORDER BY code")
        ).all()
    ]
    source = None
    if spec.classification or spec.kind == "hotspots":
        code = spec.classification or meta.get("classification")
        source = conn.execute(
            text("SELECT coalesce(source, name) FROM classification WHERE code = :c"), {"c": code}
        ).scalar_one_or_none()
    if spec.temporal is None:
        period_text = "not time-bound"
    else:
        first, last = period or (None, None)
        first = first or spec.temporal[0]
        last = last or spec.temporal[1]
        period_text = f"{first} to {last}"
    disclosure = (
        "officer view: counts unsuppressed (do not publish without disclosure control)"
        if policy is None
        else f"public view: counts 1 to {policy.threshold} shown as {policy.label!r}, figures that would "
        "reveal them null; '[c]' marks secondary suppression"
        + (f"; counts rounded to base {policy.round_to_base}" if policy.round_to_base else "")
    )
    return ExportMetadata(
        title=spec.title,
        collection=spec.id,
        description=spec.description,
        service=spec.service,
        classification=spec.classification or meta.get("classification"),
        classification_source=source,
        period=period_text,
        districts=districts,
        method=_method(spec, meta),
        disclosure=disclosure,
        data_vintages=_vintages(conn, spec),
        licence=licence.title,
        licence_id=licence.name,
        licence_url=licence.path,
        attribution=licence.attribution,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        crs="EPSG:27700 (British National Grid)",
        fields={c: describe_field(c) for c in columns},
    )


def collection_frame(
    conn: Connection,
    collection_id: str,
    policy: DisclosurePolicy | None,
    datetime: str | None = None,
) -> tuple[gpd.GeoDataFrame, Collection, dict[str, Any], tuple[dt.date | None, dt.date | None] | None]:
    """A collection as a GeoDataFrame in EPSG:27700, as the caller may see it."""
    spec = get_collection(conn, collection_id)
    period = parse_datetime(datetime) if spec.temporal is not None else None
    data = collection_data(conn, spec, policy, period)
    rows = [f["properties"] for f in data.features]
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    gdf = gpd.GeoDataFrame(frame, geometry=list(data.geoms_in(BNG)), crs="EPSG:27700")
    return gdf, spec, data.meta, period


def export_collection(
    conn: Connection,
    collection_id: str,
    fmt: ExportFormat,
    policy: DisclosurePolicy | None,
    *,
    datetime: str | None = None,
    licence: Licence | None = None,
) -> tuple[bytes, str]:
    """One collection as a file of format ``fmt``, with its metadata; returns (bytes, filename)."""
    gdf, spec, meta, period = collection_frame(conn, collection_id, policy, datetime)
    columns = [c for c in gdf.columns if c != "geometry"]
    metadata = export_metadata(conn, spec, meta, columns, policy, period, licence or Licence())
    name = spec.id
    if fmt == "gpkg":
        return geopackage(gdf, name, metadata), f"{name}.gpkg"
    if fmt == "parquet":
        return geoparquet(gdf, metadata), f"{name}.parquet"
    if fmt == "xlsx":
        return workbook(gdf, metadata), f"{name}.xlsx"
    return data_package(gdf, name, metadata), f"{name}.zip"


def geopackage(gdf: gpd.GeoDataFrame, layer: str, metadata: ExportMetadata) -> bytes:
    """A GeoPackage: the layer with GDAL layer metadata, plus metadata and field tables."""
    import pyogrio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{layer}.gpkg"
        layer_metadata = {k.upper(): v for k, v in metadata.items()}
        layer_metadata["IDENTIFIER"] = metadata.title
        layer_metadata["DESCRIPTION"] = metadata.description
        pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", layer_metadata=layer_metadata)
        table = pd.DataFrame(metadata.items(), columns=["key", "value"])
        pyogrio.write_dataframe(table, path, layer="wardwise_metadata", driver="GPKG", append=True)
        fields = pd.DataFrame(list(metadata.fields.items()), columns=["field", "description"])
        pyogrio.write_dataframe(fields, path, layer="wardwise_fields", driver="GPKG", append=True)
        return path.read_bytes()


def geoparquet(gdf: gpd.GeoDataFrame, metadata: ExportMetadata) -> bytes:
    """GeoParquet 1.0 with the metadata as a ``wardwise`` key beside ``geo``."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    gdf.to_parquet(buffer, index=False)
    buffer.seek(0)
    table = pq.read_table(buffer)
    extra = {b"wardwise": json.dumps(asdict(metadata)).encode()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def workbook(gdf: gpd.GeoDataFrame, metadata: ExportMetadata) -> bytes:
    """XLSX: a README sheet (metadata, then every field), then the data without geometry."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    readme = book.active
    readme.title = "README"
    readme.append([metadata.title])
    readme["A1"].font = Font(bold=True, size=14)
    readme.append([])
    for key, value in metadata.items():
        readme.append([key, value])
    readme.append([])
    readme.append(["field", "description"])
    for cell in readme[readme.max_row]:
        cell.font = Font(bold=True)
    for name, description in metadata.fields.items():
        readme.append([name, description])
    readme.column_dimensions["A"].width = 28
    readme.column_dimensions["B"].width = 110
    sheet = book.create_sheet("data")
    columns = [c for c in gdf.columns if c != "geometry"]
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in gdf[columns].itertuples(index=False, name=None):
        sheet.append([_cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


_TYPES = {"i": "integer", "u": "integer", "f": "number", "b": "boolean"}


def data_package(gdf: gpd.GeoDataFrame, name: str, metadata: ExportMetadata) -> bytes:
    """A zip of ``<name>.csv`` (geometry as WKT in EPSG:27700) and a Frictionless datapackage.json."""
    frame = pd.DataFrame(gdf.drop(columns="geometry"))
    frame["wkt"] = gdf.geometry.to_wkt(rounding_precision=2)
    fields = []
    for column in frame.columns:
        kind = _TYPES.get(frame[column].dtype.kind, "string")
        if kind == "string" and frame[column].dropna().map(lambda v: isinstance(v, bool)).all():
            kind = "boolean" if frame[column].notna().any() else "string"
        description = (
            "Geometry as WKT, EPSG:27700" if column == "wkt" else metadata.fields.get(column, column)
        )
        fields.append({"name": column, "type": kind, "description": description})
    package = {
        "profile": "tabular-data-package",
        "name": name.replace("_", "-").lower(),
        "title": metadata.title,
        "description": metadata.description,
        "created": metadata.generated_at,
        "licenses": [{"name": metadata.licence_id, "title": metadata.licence, "path": metadata.licence_url}],
        "sources": [{"title": metadata.attribution}],
        "wardwise": {k: v for k, v in asdict(metadata).items() if k != "fields"},
        "resources": [
            {
                "name": name.replace("_", "-").lower(),
                "path": f"{name}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {"fields": fields},
            }
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.csv", frame.to_csv(index=False, lineterminator="\n"))
        archive.writestr("datapackage.json", json.dumps(package, indent=2, default=str))
    return buffer.getvalue()
