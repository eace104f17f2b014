"""Each address's H3 cells, stored once (issue 17) instead of computed per request and point.

``address.h3_cells`` holds the cell of every located address at each resolution an analysis
may ask for (5 to 12; element ``r - 4`` is resolution ``r``; migration ``scale17b_3``),
filled here for addresses that have none: after the demo load, after a gazetteer ingest
(which clears the cells of an address whose point moved), and by the migration for what was
stored before. Every resolution is stored, not only the finest: H3 cells do not nest
exactly (a point's resolution-9 cell is not always the parent of its resolution-12 cell:
about 7 % of the demo's addresses), and answers must stay those of h3 on the point.
An H3 hot-spot request then groups by ``h3_cells[r - 4]`` in SQL and reads one row per
(cell, segment) rather than one per address point, and calls h3 only for events at a point
of their own (no matched address).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from h3.api import basic_int
from sqlalchemy import Connection, text

from geo.db import load_sql

#: The resolutions stored (geo.analysis.h3grid.MIN_RESOLUTION .. MAX_RESOLUTION).
RESOLUTIONS = range(5, 13)


def _array_literal(cells: np.ndarray) -> np.ndarray:
    """PostgreSQL array literals ``{c5,...,c12}`` of each row of an (n, 8) int64 matrix."""
    parts = pd.DataFrame(cells).astype(str)
    joined = parts.iloc[:, 0]
    for column in parts.columns[1:]:
        joined = joined + "," + parts[column]
    return ("{" + joined + "}").to_numpy(dtype=object)


def store_address_cells(conn: Connection) -> int:
    """Compute and store the H3 cells of every located address that has none; return how many."""
    from geo.ingest.copy import copy_frame

    rows = conn.execute(load_sql("h3/addresses_without_cells")).all()
    if not rows:
        return 0
    uprn, lng, lat = (np.asarray(c) for c in zip(*rows, strict=True))
    points = np.column_stack([lat.astype(float), lng.astype(float)])
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    # h3 has no vectorised call; once per distinct point and resolution, at load time
    cells = np.array(
        [[basic_int.latlng_to_cell(a, b, r) for r in RESOLUTIONS] for a, b in unique.tolist()],
        dtype=np.uint64,
    ).astype(np.int64)[np.asarray(inverse).reshape(-1)]
    conn.execute(
        text("CREATE TEMP TABLE IF NOT EXISTS h3_stage_cells (uprn bigint, h3_cells bigint[]) ON COMMIT DROP")
    )
    conn.execute(text("TRUNCATE h3_stage_cells"))
    copy_frame(
        conn,
        "h3_stage_cells",
        pd.DataFrame({"uprn": uprn.astype(np.int64), "h3_cells": _array_literal(cells)}),
    )
    conn.execute(load_sql("h3/store_cells"))
    return len(rows)


def cells_of(frame: pd.DataFrame, resolution: int) -> np.ndarray:
    """Each row's cell: the stored one (``cell``) where the query found it, else from lng/lat."""
    from geo.analysis.h3grid import points_to_cells

    cell = frame["cell"].to_numpy(dtype=object).copy()
    missing = pd.isna(cell)
    if missing.any():
        cell[missing] = points_to_cells(
            frame["lat"].to_numpy(dtype=float)[missing],
            frame["lng"].to_numpy(dtype=float)[missing],
            resolution,
        )
    return cell
