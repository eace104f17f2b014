"""Reach against an eligible base from an area statistic (the population base), by pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sqlalchemy import text

from geo.analysis.hotspot_queries import reach_frame
from geo.analysis.reach import allocate_eligible
from geo.errors import InvalidRequest


def test_allocation_shares_an_area_count_by_households_and_names_missing_areas():
    h = pd.DataFrame(
        {
            "area_code": ["a", "a", "b", "c"],
            "segment_code": ["X", "Y", "X", "Y"],
            "households": [30, 10, 5, 0],
        }
    )
    out = allocate_eligible(h, pd.Series({"a": 100.0, "b": 7.0, "c": 3.0}))
    assert out["households"].tolist() == [75.0, 25.0, 7.0]  # c has no households: dropped
    with pytest.raises(InvalidRequest, match="no eligible count"):
        allocate_eligible(h, pd.Series({"a": 100.0}))


def test_reach_per_resident_on_the_demo_recomputed_with_pandas(conn):
    frame = reach_frame(conn, "bus_pass", eligible="population")
    meta = frame.attrs["meta"]
    assert "usual residents" in meta["eligible"] and meta["unit"] == "households"
    hh = pd.DataFrame(
        conn.execute(
            text(
                "SELECT a.oa_code, hs.segment_code FROM household_segment hs JOIN address a USING (uprn) "
                "WHERE hs.classification_code = :c AND a.is_residential"
            ),
            {"c": meta["classification"]},
        ).all(),
        columns=["oa_code", "segment_code"],
    )
    pop = pd.DataFrame(
        conn.execute(text("SELECT code, population FROM area WHERE level = 'oa'")).all(),
        columns=["oa_code", "population"],
    ).set_index("oa_code")["population"]
    cells = hh.groupby(["oa_code", "segment_code"]).size().rename("h").reset_index()
    cells["share"] = cells["h"] / cells.groupby("oa_code")["h"].transform("sum")
    cells["eligible"] = cells["share"] * cells["oa_code"].map(pop)
    eligible = cells.groupby("segment_code")["eligible"].sum()
    users = pd.DataFrame(
        conn.execute(
            text(
                "SELECT DISTINCT e.uprn, hs.segment_code FROM service_event e JOIN household_segment hs "
                "ON hs.uprn = e.uprn AND hs.classification_code = :c WHERE e.service_code = 'bus_pass'"
            ),
            {"c": meta["classification"]},
        ).all(),
        columns=["uprn", "segment_code"],
    )["segment_code"].value_counts()
    got = frame.set_index("segment_code")
    assert got["eligible"].to_dict() == pytest.approx(eligible.reindex(got.index).to_dict(), rel=1e-9)
    assert got["observed"].to_dict() == pytest.approx(users.reindex(got.index).astype(float).to_dict())
    reach = users.reindex(got.index) / eligible.reindex(got.index)
    assert np.allclose(got["reach"], reach, rtol=1e-12)
    # Wilson's interval, written out: (p + z^2/2n ± z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
    z = stats.norm.isf(0.025)
    n = eligible.reindex(got.index)
    centre = (reach + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(reach * (1 - reach) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert np.allclose(got["reach_low"], centre - half) and np.allclose(got["reach_high"], centre + half)
    # Least reached first; with the study's own rate the ratio is reach over overall reach.
    assert (np.diff(got["ratio"].to_numpy()) >= 0).all()
    overall = users.sum() / eligible.sum()
    assert np.allclose(got["ratio"], reach / overall, rtol=1e-9)


def test_eligible_population_refuses_rates_learnt_per_household(conn):
    with pytest.raises(InvalidRequest, match="eligible=population"):
        reach_frame(conn, "bus_pass", eligible="population", reference="area:ZD000001")
    with pytest.raises(InvalidRequest, match="eligible"):
        reach_frame(conn, "bus_pass", eligible="persons")  # type: ignore[arg-type]


def test_reach_against_a_stored_area_variable_recomputed_with_pandas(conn):
    # An area-statistics batch's variable per OA (as `wardwise ingest area-statistics` with
    # `variables` stores it), here "residents_65_plus" = a third of the OA's population + 1.
    conn.execute(
        text(
            "INSERT INTO area_variable (area_code, variable, value) "
            "SELECT code, 'residents_65_plus', floor(population / 3.0) + 1 FROM area WHERE level = 'oa'"
        )
    )
    frame = reach_frame(conn, "bus_pass", eligible="variable:residents_65_plus")
    assert "residents_65_plus" in frame.attrs["meta"]["eligible"]
    classification = frame.attrs["meta"]["classification"]
    hh = pd.DataFrame(
        conn.execute(
            text(
                "SELECT a.oa_code, hs.segment_code FROM household_segment hs JOIN address a USING (uprn) "
                "WHERE hs.classification_code = :c AND a.is_residential"
            ),
            {"c": classification},
        ).all(),
        columns=["oa_code", "segment_code"],
    )
    base = pd.DataFrame(
        conn.execute(text("SELECT code, population FROM area WHERE level = 'oa'")).all(),
        columns=["oa_code", "population"],
    ).set_index("oa_code")["population"]
    base = np.floor(base / 3.0) + 1
    cells = hh.groupby(["oa_code", "segment_code"]).size().rename("h").reset_index()
    cells["eligible"] = (
        cells["h"] / cells.groupby("oa_code")["h"].transform("sum") * cells["oa_code"].map(base)
    )
    eligible = cells.groupby("segment_code")["eligible"].sum()
    got = frame.set_index("segment_code")
    assert got["eligible"].to_dict() == pytest.approx(eligible.reindex(got.index).to_dict(), rel=1e-9)
    assert np.allclose(got["reach"], got["observed"] / eligible.reindex(got.index), rtol=1e-12)
    # A variable no batch stored names the areas that lack it.
    with pytest.raises(InvalidRequest, match="no eligible count"):
        reach_frame(conn, "bus_pass", eligible="variable:residents_90_plus")
