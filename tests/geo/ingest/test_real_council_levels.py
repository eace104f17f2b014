"""Issue 12, the remainder, on the real Bristol files: tiers in hot spots, MSOA as a level.

Bristol's wards, LSOAs, MSOAs, OAs, its OAC profile and the police.uk subset load beside
the demo on one connection inside a transaction rolled back when the module ends; each test
runs in a savepoint of its own. Expected values are recomputed from the raw files with
pandas and geopandas, never read back from Wardwise.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine

from geo.errors import InvalidRequest
from geo.ingest import ingest_file

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared" / "data" / "real", ROOT.parent.parent / "shared" / "data" / "real"]
REAL = next((c for c in _CANDIDATES if (c / "bristol").is_dir()), _CANDIDATES[0])
BRISTOL = "E06000023"
SALT = "test-salt"
POLICE = "police_uk_2023-01_bristol-street_SUBSET.csv"
LOOKUP = f"lookup_oa11_lsoa11_msoa11_wd13_{BRISTOL}_DERIVED.csv"

pytestmark = pytest.mark.skipif(
    not (REAL / "bristol").is_dir(),
    reason=f"SKIPPED LOUDLY: the real open data is not present at {REAL} (see its README)",
)


def _areas(conn: Any, name: str) -> Any:
    return ingest_file(
        conn,
        "areas",
        REAL / "bristol" / name,
        salt=SALT,
        preset="ons-boundaries",
        mapping={"constants": {"set_code": BRISTOL, "district_code": BRISTOL}, "district_name": "Bristol"},
    )


@pytest.fixture(scope="module")
def council(engine: Engine) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        trans = conn.begin()
        reports = {}
        for name in (
            f"wards_wd13_{BRISTOL}.geojson",
            f"lsoa11_{BRISTOL}.geojson",
            f"msoa11_{BRISTOL}.geojson",
            f"oa11_{BRISTOL}.geojson",
        ):
            reports[name] = _areas(conn, name)
        ingest_file(
            conn,
            "area-classification",
            REAL / "bristol" / f"oa_profile_oac2021_census2021_{BRISTOL}.csv",
            salt=SALT,
            preset="oac",
        )
        ingest_file(conn, "events", REAL / "bristol" / POLICE, salt=SALT, preset="police-uk")
        yield {"conn": conn, "reports": reports}
        trans.rollback()


@pytest.fixture
def db(council: dict[str, Any]) -> Iterator[Connection]:
    conn = council["conn"]
    savepoint = conn.begin_nested()
    try:
        yield conn
    finally:
        savepoint.rollback()


# ----------------------------------------------------------------------------- the files, independently


def _profile() -> pd.DataFrame:
    frame = pd.read_csv(
        REAL / "bristol" / f"oa_profile_oac2021_census2021_{BRISTOL}.csv", dtype=str, keep_default_na=False
    )
    frame["households"] = pd.to_numeric(frame["households"].replace("", "0")).astype(int)
    return frame.set_index("oa11cd")


def _oa_polygons() -> Any:
    import geopandas as gpd

    oas = gpd.read_file(REAL / "bristol" / f"oa11_{BRISTOL}.geojson").to_crs(27700)
    return oas[["OA11CD", "geometry"]].rename(columns={"OA11CD": "code"})


def _lookup() -> pd.DataFrame:
    return pd.read_csv(REAL / "bristol" / LOOKUP, dtype=str, keep_default_na=False).set_index("oa11cd")


def _asb_oas() -> pd.Series:
    """The OA of every ASB record of the Bristol police.uk subset (point in polygon)."""
    import geopandas as gpd

    police = pd.read_csv(REAL / "bristol" / POLICE, dtype=str, keep_default_na=False)
    asb = police[(police["Crime type"] == "Anti-social behaviour") & (police["Longitude"] != "")]
    points = gpd.GeoDataFrame(
        index=asb.index,
        geometry=gpd.points_from_xy(asb["Longitude"].astype(float), asb["Latitude"].astype(float)),
        crs=4326,
    ).to_crs(27700)
    joined = gpd.sjoin(points, _oa_polygons(), predicate="intersects", how="inner")
    return joined[~joined.index.duplicated()]["code"]


def _expected_by_lsoa(column: str) -> pd.DataFrame:
    """Expected ASB per LSOA from rates per class of ``column`` (supergroup, group, subgroup)."""
    profile = _profile()
    oa = pd.DataFrame({"households": profile["households"], "segment": profile[column].str.lower()})
    oa["events"] = _asb_oas().value_counts().reindex(oa.index, fill_value=0)
    oa["lsoa"] = _lookup()["lsoa11cd"].reindex(oa.index)
    classified = oa[(oa["segment"] != "") & (oa["households"] > 0)]
    by_seg = classified.groupby("segment")[["events", "households"]].sum()
    rate = by_seg["events"] / by_seg["households"]
    classified = classified.assign(expected=classified["households"] * classified["segment"].map(rate))
    lsoa = classified.groupby("lsoa")[["expected", "households"]].sum()
    lsoa["observed"] = oa.groupby("lsoa")["events"].sum().reindex(lsoa.index, fill_value=0)
    lsoa = lsoa[lsoa["households"] > 0]
    # rates from the study area itself: expected scaled so the whole area is as expected
    lsoa["expected"] *= lsoa["observed"].sum() / lsoa["expected"].sum()
    return lsoa


# ----------------------------------------------------------------------------- 1. tiers in hot spots


def _hotspots_csv(db: Connection, **query: Any) -> pd.DataFrame:
    """Hot spots through the API's own query object (GET /services/{service}/hotspots)."""
    from api.routers.hotspots import HotspotQuery
    from geo.analysis.hotspot_outputs import hotspots_output

    q = HotspotQuery(**{"dispersion": "none", **query})
    body = hotspots_output(db, q.params(db, "asb_reports"), None, "csv")
    return pd.read_csv(io.StringIO(str(body)), dtype={"code": str}).set_index("code")


def test_hot_spots_take_a_tier_and_roll_up_to_supergroups(db) -> None:
    ours = _hotspots_csv(db, level="lsoa", classification="oac2021", tier="supergroup")
    expected = _expected_by_lsoa("oac21_supergroup")
    assert sorted(ours.index) == sorted(expected.index) and len(expected) == 263
    np.testing.assert_allclose(ours.loc[expected.index, "expected"], expected["expected"], atol=0.0051)
    assert (ours.loc[expected.index, "observed"].astype(int) == expected["observed"]).all()
    assert int(expected["observed"].sum()) == 595
    # the tier matters: at subgroups the expected counts differ, and they too match pandas
    fine = _hotspots_csv(db, level="lsoa", classification="oac2021")
    by_subgroup = _expected_by_lsoa("oac21_subgroup")
    np.testing.assert_allclose(fine.loc[by_subgroup.index, "expected"], by_subgroup["expected"], atol=0.0051)
    gap = (by_subgroup["expected"] - expected["expected"]).abs()
    assert gap.max() > 1.0
    # a group tier sits between them, and also matches
    mid = _hotspots_csv(db, level="lsoa", classification="oac2021", tier="group")
    by_group = _expected_by_lsoa("oac21_group")
    np.testing.assert_allclose(mid.loc[by_group.index, "expected"], by_group["expected"], atol=0.0051)


def test_an_unknown_tier_is_refused_naming_the_tiers(db) -> None:
    with pytest.raises(InvalidRequest, match=r"'district'.*supergroup"):
        _hotspots_csv(db, level="lsoa", classification="oac2021", tier="district")


def test_hot_spot_routes_with_a_classification_all_take_a_tier() -> None:
    from api.main import create_app

    spec = create_app().openapi()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            params = {p["name"] for p in op.get("parameters", [])}
            if "classification" in params:
                assert "tier" in params, (method, path)
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body and "$ref" in body:
                schema = spec["components"]["schemas"][body["$ref"].split("/")[-1]]
                if "classification" in schema.get("properties", {}):
                    assert "tier" in schema["properties"], (method, path)


def test_the_hotspots_cli_takes_a_tier(db, monkeypatch, capsys) -> None:
    import contextlib

    from geo.analysis import hotspot_cli
    from geo.cli import main

    @contextlib.contextmanager
    def same_connection() -> Iterator[Connection]:
        yield db

    monkeypatch.setattr(hotspot_cli, "cli_connection", same_connection)
    code = main(
        ["hotspots", "asb_reports", "--level", "lsoa", "--classification", "oac2021", "--tier", "supergroup", "--dispersion", "none"]
    )
    assert code == 0
    ours = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"code": str}).set_index("code")
    expected = _expected_by_lsoa("oac21_supergroup")
    np.testing.assert_allclose(ours.loc[expected.index, "expected"], expected["expected"], atol=0.0051)


# ----------------------------------------------------------------------------- 3. MSOA as a level


def test_msoa_boundaries_load_with_the_ons_preset(council) -> None:
    report = council["reports"][f"msoa11_{BRISTOL}.geojson"]
    assert report.rows_loaded == 55 and report.match_levels == {"msoa": 55}


def test_msoa_households_by_supergroup_equal_a_groupby_through_the_lookup(db) -> None:
    from geo.analysis.matrix import service_matrix

    matrix = service_matrix(db, "msoa", "oac2021", tier="supergroup", within=BRISTOL)
    cells = matrix["cells"]
    cells = cells[(cells["area_code"] != "Total") & (cells["segment"] != "Total")]
    ours = cells.set_index(["area_code", "segment"])["households"].astype(int)
    profile = _profile()
    profile["msoa"] = _lookup()["msoa11cd"].reindex(profile.index)
    classified = profile[profile["oac21_supergroup"] != ""]
    expected = classified.groupby(["msoa", "oac21_supergroup"])["households"].sum()
    expected = expected.reindex(ours.index, fill_value=0)
    assert len(ours.index.get_level_values(0).unique()) == 55
    assert (ours == expected).all(), ours[ours != expected].head()
    totals = ours.groupby(level=0).sum()
    assert (totals == classified.groupby("msoa")["households"].sum().reindex(totals.index)).all()
    assert int(totals.sum()) == int(classified["households"].sum())


def test_msoa_hot_spots_count_every_record(db) -> None:
    ours = _hotspots_csv(db, level="msoa", classification="oac2021", tier="supergroup")
    lookup = _lookup()
    observed = _asb_oas().map(lookup["msoa11cd"]).value_counts()
    assert len(ours) == 55
    assert (ours["observed"].astype(int) == observed.reindex(ours.index, fill_value=0)).all()
