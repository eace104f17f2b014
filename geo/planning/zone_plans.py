"""Service zones from the database: areas and their demand in, zone polygons out.

Demand per output area is ``demand.demand_points`` (the same weights siting and routing
use); an area with none counts 0, so every area of the study is in a zone. LSOA demand is
the sum of its OAs' (``area_membership``). The partition itself is ``zones.service_zones``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Connection

from geo.db import load_sql
from geo.errors import Infeasible
from geo.planning.demand import DemandSource, demand_points
from geo.planning.zones import ZoneMethod, service_zones

ZoneLevel = Literal["oa", "lsoa"]


def zone_areas(
    conn: Connection,
    *,
    level: ZoneLevel = "oa",
    demand_source: DemandSource = "households",
    classification: str | None = None,
    segments: Sequence[str] | None = None,
    service: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    percentile: float = 80.0,
) -> tuple[gpd.GeoDataFrame, str]:
    """Every area at ``level`` with its polygon (27700), demand and representative point in km.

    Returns the frame (ordered by code) and a description of the demand.
    """
    sql = load_sql("planning/zone_areas")
    areas = gpd.read_postgis(sql, conn, geom_col="geom", params={"level": level}, crs=27700)
    if areas.empty:
        raise Infeasible(f"there are no {level.upper()} boundaries loaded to build zones from")
    demand = demand_points(
        conn,
        source=demand_source,
        classification=classification,
        segments=segments,
        service=service,
        unit="oa",
        date_from=date_from,
        date_to=date_to,
        percentile=percentile,
    )
    by_oa = pd.Series(demand.weights, index=pd.Index(demand.codes, dtype=object))
    if level == "lsoa":
        parent = pd.DataFrame(
            conn.execute(load_sql("planning/zone_oa_parent")).all(), columns=["oa_code", "area_code"]
        )
        parent = parent[parent["oa_code"].isin(by_oa.index)]
        by_area = by_oa.reindex(parent["oa_code"]).groupby(parent["area_code"].to_numpy()).sum()
    else:
        by_area = by_oa
    areas["demand"] = by_area.reindex(areas["code"]).fillna(0.0).to_numpy(dtype=float)
    areas["x_km"] = areas["x"].to_numpy(dtype=float) / 1000.0
    areas["y_km"] = areas["y"].to_numpy(dtype=float) / 1000.0
    return areas.reset_index(drop=True), demand.description


def plan_zones(
    conn: Connection,
    *,
    method: ZoneMethod = "max_p",
    level: ZoneLevel = "oa",
    floor: float | None = None,
    n_zones: int | None = None,
    min_areas: int | None = None,
    seed: int = 0,
    construction_iterations: int = 10,
    annealing_runs: int = 1,
    demand_source: DemandSource = "households",
    classification: str | None = None,
    segments: Sequence[str] | None = None,
    service: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    percentile: float = 80.0,
) -> dict[str, Any]:
    """Balanced, contiguous service zones over OAs or LSOAs, with their polygons and demand.

    Max-p (``floor``: least demand per zone) or SKATER (``n_zones``); see
    ``geo.planning.zones``. The answer holds a summary (zones, total demand, smallest and
    largest zone), one polygon feature per zone (WGS84) and each area's zone.
    """
    areas, description = zone_areas(
        conn,
        level=level,
        demand_source=demand_source,
        classification=classification,
        segments=segments,
        service=service,
        date_from=date_from,
        date_to=date_to,
        percentile=percentile,
    )
    zoning = service_zones(
        areas,
        method=method,
        floor=floor,
        n_zones=n_zones,
        min_areas=min_areas,
        seed=seed,
        max_iterations_construction=construction_iterations,
        max_iterations_sa=annealing_runs,
    )
    labels = zoning.labels
    k = int(labels.max()) + 1
    zone_demand = np.bincount(labels, weights=areas["demand"].to_numpy(), minlength=k)
    zone_count = np.bincount(labels, minlength=k)
    codes = areas["code"].astype(str).tolist()
    rows = conn.execute(
        load_sql("planning/zone_polygons"), {"codes": codes, "zones": [int(v) for v in labels]}
    ).all()
    polygons = {int(r.zone): (json.loads(r.geojson), float(r.area_km2)) for r in rows}
    features = []
    for z in range(k):
        members = areas["code"][labels == z].astype(str).tolist()
        geom, area_km2 = polygons[z]
        features.append(
            {
                "type": "Feature",
                "id": z + 1,
                "geometry": geom,
                "properties": {
                    "zone": z + 1,
                    "demand": round(float(zone_demand[z]), 3),
                    "areas": int(zone_count[z]),
                    "area_km2": round(area_km2, 3),
                    "first_area": members[0],
                },
            }
        )
    total = float(areas["demand"].sum())
    summary = {
        "method": method,
        "level": level,
        "zones": k,
        "areas": len(areas),
        "floor": floor,
        "n_zones": n_zones,
        "min_areas": min_areas,
        "seed": seed,
        "construction_iterations": construction_iterations if method == "max_p" else None,
        "annealing_runs": annealing_runs if method == "max_p" else None,
        "demand": description,
        "total_demand": round(total, 3),
        "smallest_zone_demand": round(float(zone_demand.min()), 3),
        "largest_zone_demand": round(float(zone_demand.max()), 3),
        "mean_zone_demand": round(total / k, 3),
        "contiguity": "queen (areas sharing a boundary or a corner)",
        "reference": (
            "max-p regions (Duque, Anselin and Rey, 2012; Wei, Rey and Knaap, 2021)"
            if method == "max_p"
            else "SKATER (Assuncao et al., 2006)"
        )
        + ", as implemented in PySAL spopt",
    }
    return {
        "summary": summary,
        "zones": {"type": "FeatureCollection", "features": features},
        "assignment": [
            {"code": c, "zone": int(z) + 1, "demand": round(float(d), 4)}
            for c, z, d in zip(codes, labels, areas["demand"].to_numpy(), strict=True)
        ],
    }
