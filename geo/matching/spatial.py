"""Point in polygon in PostGIS: which output area holds each of many points."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.db import load_sql


def oas_for_points(conn: Connection, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the OA code holding each EPSG:27700 point (None outside every OA).

    The points go to a temp table by COPY, then one ST_Intersects join against the
    GiST-indexed ``area.geom`` places them all: one round trip whatever the row count.
    """
    n = len(x)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    conn.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS ingest_points "
            "(idx integer PRIMARY KEY, x double precision, y double precision) ON COMMIT DROP"
        )
    )
    conn.execute(text("TRUNCATE ingest_points"))
    raw = conn.connection.driver_connection
    assert raw is not None
    payload = pd.DataFrame({"idx": np.arange(n), "x": x, "y": y}).to_csv(
        index=False, header=False, float_format="%.3f"
    )
    with raw.cursor() as cur, cur.copy("COPY ingest_points (idx, x, y) FROM STDIN (FORMAT csv)") as copy:
        copy.write(payload)
    conn.execute(text("ANALYZE ingest_points"))
    for idx, oa_code in conn.execute(load_sql("ingest/points_in_oas")).all():
        out[idx] = oa_code
    return out
