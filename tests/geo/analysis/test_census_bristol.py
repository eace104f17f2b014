"""Census variables on real Bristol data: loaded per 2011 OA, then used by similar areas and
the selector. Every answer is recomputed from the CSV file with pandas/numpy (the file's own
ward and LSOA columns), never from the database.

The OA profile file (``oa_profile_oac2021_census2021_E06000023.csv``, README in
``../shared/data/real``) carries Census 2021 usual residents, residents in households and in
communal establishments, and households per 2011 OA; 40 OAs have no 2021 row. Everything is
loaded in one transaction rolled back at the end of the module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from geo.analysis.selector import selector_profile
from geo.analysis.similar import similar_areas
from geo.errors import InvalidRequest
from geo.ingest import ingest_file, ingest_frame

REAL = (
    Path(
        os.environ.get("WARDWISE_REAL_DATA", Path(__file__).resolve().parents[4] / "shared" / "data" / "real")
    )
    / "bristol"
)
BRISTOL = "E06000023"
SALT = "test-salt"
PROFILE = REAL / f"oa_profile_oac2021_census2021_{BRISTOL}.csv"
VARIABLES = [
    "usual_residents",
    "residents_in_households",
    "residents_in_communal_establishments",
    "households",
]
CENSUS_MAPPING = {"columns": {"area_code": "oa11cd", "population": "usual_residents"}, "variables": VARIABLES}

pytestmark = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the external real-data set is not present at {REAL} (see its README)"
)


def _profile() -> pd.DataFrame:
    return pd.read_csv(PROFILE)


@pytest.fixture(scope="module")
def bristol(engine: Engine) -> Iterator[Any]:
    with engine.connect() as conn:
        trans = conn.begin()
        for name in (f"wards_wd13_{BRISTOL}.geojson", f"lsoa11_{BRISTOL}.geojson", f"oa11_{BRISTOL}.geojson"):
            ingest_file(
                conn,
                "areas",
                REAL / name,
                salt=SALT,
                preset="ons-boundaries",
                mapping={
                    "constants": {"set_code": BRISTOL, "district_code": BRISTOL},
                    "set_name": "Bristol (2011 OAs and LSOAs, 2013 wards)",
                    "district_name": "Bristol, City of",
                },
            )
        ingest_file(conn, "area-classification", PROFILE, salt=SALT, preset="oac")
        report = ingest_file(conn, "area-statistics", PROFILE, salt=SALT, mapping=CENSUS_MAPPING)
        conn.info["census_report"] = report
        yield conn
        trans.rollback()


def test_census_variables_load_per_output_area(bristol) -> None:
    conn = bristol
    report = bristol.info["census_report"]
    profile = _profile().dropna(subset=["usual_residents"])
    assert report.rows_loaded == len(profile) == 1328
    stored = pd.DataFrame(
        conn.execute(text("SELECT area_code, variable, value FROM area_variable")).all(),
        columns=["area_code", "variable", "value"],
    )
    expected = profile.melt(id_vars="oa11cd", value_vars=VARIABLES, var_name="variable", value_name="value")
    merged = expected.merge(
        stored,
        left_on=["oa11cd", "variable"],
        right_on=["area_code", "variable"],
        how="outer",
        indicator=True,
    )
    assert (merged["_merge"] == "both").all() and len(merged) == 4 * 1328
    assert np.array_equal(merged["value_x"].to_numpy(), merged["value_y"].to_numpy())
    # the bases ride along: households and usual residents on the OA itself
    hh = dict(
        conn.execute(
            text(
                "SELECT code, households FROM area WHERE level = 'oa' AND code LIKE 'E00%' AND households > 0"
            )
        ).all()
    )
    assert hh == {c: int(h) for c, h in zip(profile["oa11cd"], profile["households"], strict=True)}


def test_census_variables_refuse_non_numbers_by_row_and_unknown_variables(bristol) -> None:
    conn = bristol
    frame = pd.DataFrame({"OA": ["E00073143", "E00073145"], "Students": ["12", "lots"]})
    sp = conn.begin_nested()
    report = ingest_frame(
        conn, "area-statistics", frame, {"columns": {"area_code": "OA"}, "variables": ["Students"]}, salt=SALT
    )
    assert report.rows_loaded == 1
    assert {(r["row"], r["field"]) for r in report.rejected_sample} == {(3, "students")}
    assert conn.execute(
        text("SELECT value FROM area_variable WHERE variable = 'students'")
    ).scalars().all() == [12.0]
    sp.rollback()
    with pytest.raises(InvalidRequest, match="not loaded"):
        similar_areas(conn, "E05001979", by="census", variables=["students"])
    with pytest.raises(InvalidRequest, match="ratio"):
        selector_profile(conn, None, variables={"usual_residents/households": 1}, classification="oac2021")


def _z(table: pd.DataFrame) -> pd.DataFrame:
    return (table - table.mean()) / table.std(ddof=0)


@pytest.mark.parametrize(
    ("level", "column", "variables", "area"),
    [
        # ward: share of residents in communal establishments and household size
        (
            "ward",
            "wd13cd",
            ["residents_in_communal_establishments/usual_residents", "usual_residents/households"],
            "E05001979",
        ),
        # LSOA: the four counts (default: every loaded variable)
        ("lsoa", "lsoa11cd", None, "E01014485"),
    ],
)
def test_similar_areas_by_census_variables_match_pandas(bristol, level, column, variables, area) -> None:
    conn = bristol
    got = similar_areas(conn, area, k=5, by="census", variables=variables)
    sums = _profile().groupby(column)[VARIABLES].sum(min_count=1).dropna()
    if variables is None:
        table = sums[sorted(VARIABLES)]
    else:
        table = pd.DataFrame(
            {v: sums[v.split("/")[0]] / sums[v.split("/")[1]] for v in variables}, index=sums.index
        )
    z = _z(table)
    d = np.sqrt(((z - z.loc[area]) ** 2).sum(axis=1)).drop(area)
    nearest = d.sort_values(kind="stable").head(5)
    assert got["by"] == "census" and got["distance"] == "euclidean"
    assert got["candidates"] == len(table) - 1
    assert "standardised to z-scores" in got["distance_definition"]
    assert [s["code"] for s in got["similar"]] == list(nearest.index)
    assert [s["distance"] for s in got["similar"]] == pytest.approx(list(nearest.to_numpy()), abs=5e-5)
    top = got["similar"][0]
    far = float(np.sqrt(((z - z.loc[area]) ** 2).sum(axis=1)).max())
    assert top["similarity"] == pytest.approx(1 - nearest.iloc[0] / far, abs=5e-5)
    assert top["values"] == pytest.approx(table.loc[top["code"]].to_dict(), abs=5e-5)


def test_similar_areas_by_census_within_a_subset(bristol) -> None:
    """`within` limits the candidates, and the z-scores are taken over those areas."""
    conn = bristol
    ward = "E05001979"
    got = similar_areas(conn, "E01014485", k=3, by="census", variables=["usual_residents"], within=ward)
    profile = _profile()
    inside = profile.loc[profile["wd13cd"] == ward, "lsoa11cd"].unique().tolist()
    sums = profile.groupby("lsoa11cd")["usual_residents"].sum(min_count=1).dropna()
    table = sums.loc[[c for c in sums.index if c in inside or c == "E01014485"]].to_frame()
    z = _z(table)
    d = np.sqrt(((z - z.loc["E01014485"]) ** 2).sum(axis=1)).drop("E01014485").sort_values(kind="stable")
    assert [s["code"] for s in got["similar"]] == list(d.index[:3])
    assert got["candidates"] == len(table) - 1


def test_selector_by_census_variable_matches_pandas(bristol) -> None:
    """Residents in communal establishments (halls, care homes) as the target group."""
    conn = bristol
    got = selector_profile(
        conn,
        None,
        variables={"residents_in_communal_establishments": 1},
        level="ward",
        classification="oac2021",
    )
    profile = _profile().dropna(subset=["usual_residents"])
    group = "residents_in_communal_establishments"
    by_ward = profile.groupby("wd13cd").agg(expected=(group, "sum"), households=("households", "sum"))
    total, all_hh = by_ward["expected"].sum(), by_ward["households"].sum()
    by_ward["index"] = 100 * (by_ward["expected"] / by_ward["households"]) / (total / all_hh)
    assert got["size"] == pytest.approx(total) and got["households"] == all_hh
    assert got["unplaced"] == 0
    areas = got["areas"].set_index("area_code")
    assert len(areas) == len(by_ward)
    assert areas["expected"].to_dict() == pytest.approx(by_ward["expected"].to_dict(), abs=0.05)
    assert areas["index"].to_dict() == pytest.approx(by_ward["index"].round().to_dict(), abs=0.51)
    order = by_ward.sort_values("expected", ascending=False, kind="stable").index[:3]
    assert list(got["areas"]["area_code"][:3]) == list(order)
    # over segments: each OA's residents fall in its OAC subgroup
    by_sub = profile.groupby(profile["oac21_subgroup"].str.lower())[group].sum()
    segments = got["segments"].set_index("segment")["expected"]
    assert segments[segments > 0].to_dict() == pytest.approx(by_sub[by_sub > 0].to_dict(), abs=0.05)


def test_selector_mixes_segment_and_census_weights_with_a_size(bristol) -> None:
    """0.1 per 3a1 household plus every communal resident, scaled to 1,000 places."""
    conn = bristol
    got = selector_profile(
        conn,
        {"3a1": 0.1},
        variables={"residents_in_communal_establishments": 1},
        size=1000,
        level="ward",
        classification="oac2021",
    )
    profile = _profile().dropna(subset=["usual_residents"])
    raw = profile["residents_in_communal_establishments"] + 0.1 * profile["households"] * (
        profile["oac21_subgroup"] == "3a1"
    )
    by_ward = raw.groupby(profile["wd13cd"]).sum()
    expected = 1000 * by_ward / by_ward.sum()
    areas = got["areas"].set_index("area_code")["expected"]
    assert got["size"] == pytest.approx(1000)
    assert areas.to_dict() == pytest.approx(expected.to_dict(), abs=0.05)


# ------------------------------------------------------------ spine chart comparator (issue 20)


def _ward_shares() -> pd.DataFrame:
    """Ward-by-OAC-subgroup shares of households, from the CSV."""
    profile = _profile().dropna(subset=["households"])
    counts = profile.pivot_table(
        index="wd13cd", columns="oac21_subgroup", values="households", aggfunc="sum", fill_value=0
    )
    return counts.div(counts.sum(axis=1), axis=0)


def _csv_profile(code: str, column: str) -> dict[str, Any]:
    """A profile's segment rows built from the CSV (what `with_comparator` extends)."""
    profile = _profile().dropna(subset=["households"])
    counts = profile[profile[column] == code].groupby("oac21_subgroup")["households"].sum()
    return {
        "area": {"code": code},
        "classification": "oac2021",
        "segments": [{"segment": str(s), "households": int(h)} for s, h in counts.items()],
    }


def test_spine_comparator_is_the_mean_of_the_k_similar_areas(bristol) -> None:
    from geo.analysis.profile import with_comparator

    conn = bristol
    ward = "E05001979"
    got = with_comparator(conn, _csv_profile(ward, "wd13cd"), "similar", 4)
    shares = _ward_shares()
    hellinger = np.sqrt(0.5 * ((np.sqrt(shares) - np.sqrt(shares.loc[ward])) ** 2).sum(axis=1)).drop(ward)
    similar = hellinger.sort_values(kind="stable").index[:4]
    mean = shares.loc[similar].mean(axis=0)
    assert got["comparator"]["kind"] == "similar" and got["comparator"]["k"] == 4
    assert [a["code"] for a in got["comparator"]["areas"]] == list(similar)
    rows = {s["segment"]: s for s in got["segments"]}
    for seg, row in rows.items():
        assert row["comparator_pct"] == pytest.approx(100 * mean[seg], abs=0.005)
        if mean[seg] > 0:
            assert row["comparator_index"] == pytest.approx(100 * shares.loc[ward, seg] / mean[seg], abs=0.51)
    # the district comparator: Bristol's own shares
    profile = _profile().dropna(subset=["households"])
    bristol_shares = profile.groupby("oac21_subgroup")["households"].sum() / profile["households"].sum()
    district = with_comparator(conn, _csv_profile(ward, "wd13cd"), "district", 5)
    assert district["comparator"]["areas"][0]["code"] == BRISTOL
    for row in district["segments"]:
        assert row["comparator_pct"] == pytest.approx(100 * bristol_shares[row["segment"]], abs=0.005)


def test_spine_comparator_parent_of_an_lsoa_is_its_ward(bristol) -> None:
    from geo.analysis.profile import with_comparator

    conn = bristol
    lsoa = "E01014485"
    got = with_comparator(conn, _csv_profile(lsoa, "lsoa11cd"), "parent", 5)
    profile = _profile().dropna(subset=["households"])
    ward = profile.loc[profile["lsoa11cd"] == lsoa, "wd13cd"].iloc[0]
    assert got["comparator"]["areas"][0]["code"] == ward
    mean = _ward_shares().loc[ward]
    for row in got["segments"]:
        assert row["comparator_pct"] == pytest.approx(100 * mean[row["segment"]], abs=0.005)
