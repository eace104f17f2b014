"""Planning answers as CSV for the team: one row per feature, properties as columns."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

SitingTable = Literal["demand", "sites", "catchments"]
RouteTable = Literal["stops", "routes", "timetable"]


def features_csv(collection: dict[str, Any], *, drop: tuple[str, ...] = ()) -> str:
    """CSV of a FeatureCollection's properties, with point features' ``lng``/``lat`` (WGS84).

    Lists (a catchment's area codes) are written as ``;``-joined text; non-point geometries
    are left out (the GeoJSON answer carries them).
    """
    rows = []
    for feature in collection.get("features", []):
        row: dict[str, Any] = {}
        geom = feature.get("geometry") or {}
        if geom.get("type") == "Point":
            row["lng"], row["lat"] = geom["coordinates"][:2]
        for key, value in feature.get("properties", {}).items():
            if key in drop:
                continue
            if isinstance(value, list):
                value = ";".join(map(str, value))
            elif isinstance(value, dict):
                value = json.dumps(value)
            row[key] = value
        rows.append(row)
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def siting_csv(plan: dict[str, Any], table: SitingTable = "demand") -> str:
    """The demand points with their assigned sites (auditable), the chosen sites, or catchments."""
    return features_csv(plan[table])


#: Columns of the printable timetable, in print order.
TIMETABLE_COLUMNS = (
    "week",
    "day",
    "vehicle",
    "route_id",
    "sequence",
    "kind",
    "stop_id",
    "name",
    "address",
    "arrive",
    "start",
    "depart",
    "dwell_min",
)


def rows_csv(rows: list[dict[str, Any]], columns: tuple[str, ...] | None = None) -> str:
    """CSV of plain rows with the given columns (default: every key, in first-seen order).

    Missing values are blank; nested dicts and lists are written as JSON.
    """
    if columns is None:
        seen: list[str] = []
        for row in rows:
            seen.extend(k for k in row if k not in seen)
        columns = tuple(seen)
    rows = [{k: (json.dumps(v) if isinstance(v, dict | list) else v) for k, v in r.items()} for r in rows]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def routes_csv(plan: dict[str, Any], table: RouteTable = "stops") -> str:
    """The stops in visiting order, the route totals, or the printable timetable."""
    if table == "timetable":
        return rows_csv(plan["timetable"], TIMETABLE_COLUMNS)
    return features_csv(plan[table])
