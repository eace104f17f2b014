"""Each address's H3 cells are stored once (issue 17): the stored cells and the hot-spot inputs
built from them equal h3 called per point on the same coordinates."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
from sqlalchemy import text

from geo.analysis.h3cells import store_address_cells
from geo.analysis.hotspot_queries import H3Grid, study_inputs


def _points(conn, sql: str, **params) -> pd.DataFrame:
    rows = conn.execute(text(sql), params).all()
    return pd.DataFrame(rows, columns=list(rows[0]._fields)) if rows else pd.DataFrame()


def test_stored_cells_equal_h3_per_point_at_every_resolution(conn) -> None:
    sample = _points(
        conn,
        "SELECT uprn, h3_cells, ST_X(ST_Transform(geom, 4326)) AS lng, ST_Y(ST_Transform(geom, 4326)) AS lat "
        "FROM address WHERE geom IS NOT NULL ORDER BY uprn",
    )
    assert sample["h3_cells"].notna().all()  # the demo load stored every located address's cells
    pairs = list(zip(sample["lat"], sample["lng"], strict=True))
    for res in range(5, 13):
        stored = [h3.int_to_str(int(cells[res - 5])) for cells in sample["h3_cells"]]  # 1-based in SQL
        assert stored == [h3.latlng_to_cell(lat, lng, res) for lat, lng in pairs], res


def _brute_force(conn, service: str, res: int) -> tuple[pd.Series, pd.Series]:
    """Households and events per (cell, segment), h3 called on every point in Python."""
    homes = _points(
        conn,
        "SELECT ST_X(ST_Transform(a.geom, 4326)) AS lng, ST_Y(ST_Transform(a.geom, 4326)) AS lat, "
        "hs.segment_code FROM address a LEFT JOIN household_segment hs ON hs.uprn = a.uprn "
        "AND hs.classification_code = 'wardwise12' "
        "WHERE a.is_residential AND a.geom IS NOT NULL AND a.oa_code IS NOT NULL",
    )
    homes["cell"] = [
        h3.latlng_to_cell(la, lo, res) for la, lo in zip(homes["lat"], homes["lng"], strict=True)
    ]
    events = _points(
        conn,
        "SELECT ST_X(ST_Transform(coalesce(a.geom, e.geom), 4326)) AS lng, "
        "ST_Y(ST_Transform(coalesce(a.geom, e.geom), 4326)) AS lat, hs.segment_code "
        "FROM service_event e LEFT JOIN address a ON a.uprn = e.uprn "
        "LEFT JOIN household_segment hs ON hs.uprn = e.uprn AND hs.classification_code = 'wardwise12' "
        "WHERE e.service_code = :s AND e.is_primary AND coalesce(a.geom, e.geom) IS NOT NULL",
        s=service,
    )
    events["cell"] = [
        h3.latlng_to_cell(la, lo, res) for la, lo in zip(events["lat"], events["lng"], strict=True)
    ]
    return (
        homes.groupby(["cell", "segment_code"], dropna=False).size(),
        events.groupby(["cell", "segment_code"], dropna=False).size(),
    )


def _as_series(frame: pd.DataFrame, value: str) -> pd.Series:
    """Non-zero counts per (cell, segment) (the inputs also list the empty segments of a cell)."""
    s = frame.set_index(["area_code", "segment_code"])[value].astype(np.int64).rename(None)
    return s[s != 0]


def test_h3_inputs_from_stored_cells_equal_h3_per_point_also_after_an_address_moved(conn) -> None:
    res = 9
    households, counts = study_inputs(conn, "asb_reports", H3Grid(res), "wardwise12")
    homes, events = _brute_force(conn, "asb_reports", res)
    pd.testing.assert_series_equal(
        _as_series(households, "households").sort_index(), homes.sort_index(), check_names=False
    )
    pd.testing.assert_series_equal(
        _as_series(counts, "target").sort_index(), events.sort_index(), check_names=False
    )

    # An address moves (as a gazetteer upsert does: new point, stored cell cleared): the
    # inputs place it from its point until its cell is stored again, and stay exact.
    uprn = conn.execute(
        text(
            "SELECT e.uprn FROM service_event e JOIN address a ON a.uprn = e.uprn "
            "WHERE e.service_code = 'asb_reports' AND a.is_residential ORDER BY e.uprn LIMIT 1"
        )
    ).scalar_one()
    conn.execute(
        text("UPDATE address SET geom = ST_Translate(geom, 1500, -900), h3_cells = NULL WHERE uprn = :u"),
        {"u": uprn},
    )
    homes, events = _brute_force(conn, "asb_reports", res)
    households, counts = study_inputs(conn, "asb_reports", H3Grid(res), "wardwise12")
    pd.testing.assert_series_equal(
        _as_series(households, "households").sort_index(), homes.sort_index(), check_names=False
    )
    pd.testing.assert_series_equal(
        _as_series(counts, "target").sort_index(), events.sort_index(), check_names=False
    )
    assert store_address_cells(conn) == 1
    households, _ = study_inputs(conn, "asb_reports", H3Grid(res), "wardwise12")
    pd.testing.assert_series_equal(
        _as_series(households, "households").sort_index(), homes.sort_index(), check_names=False
    )
