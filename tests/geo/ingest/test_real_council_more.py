"""Issue 12, the remainder, on the real Bristol files: tiers in hot spots, MSOA as a level,
undo that restores, OA 2011 <-> 2021 vintages, custom areas from a postcode list.

Bristol's wards, LSOAs, MSOAs, OAs, its OAC profile, the police.uk subset and Code-Point
Open postcodes load beside
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
from sqlalchemy import Connection, Engine, text

from geo.errors import IngestRowError, InvalidRequest
from geo.ingest import ingest_file, ingest_frame
from geo.ingest.batch import undo_batch

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared" / "data" / "real", ROOT.parent.parent / "shared" / "data" / "real"]
REAL = next((c for c in _CANDIDATES if (c / "bristol").is_dir()), _CANDIDATES[0])
BRISTOL = "E06000023"
SALT = "test-salt"
POLICE = "police_uk_2023-01_bristol-street_SUBSET.csv"
LOOKUP = f"lookup_oa11_lsoa11_msoa11_wd13_{BRISTOL}_DERIVED.csv"
CODEPOINT = f"postcodes_codepoint_open_2014-08_{BRISTOL}.csv"

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
        oac = ingest_file(
            conn,
            "area-classification",
            REAL / "bristol" / f"oa_profile_oac2021_census2021_{BRISTOL}.csv",
            salt=SALT,
            preset="oac",
        )
        ingest_file(conn, "events", REAL / "bristol" / POLICE, salt=SALT, preset="police-uk")
        reports["postcodes"] = ingest_file(
            conn, "postcodes", REAL / "bristol" / CODEPOINT, salt=SALT, preset="codepoint-open"
        )
        yield {"conn": conn, "reports": reports, "oac": oac}
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
        [
            "hotspots",
            "asb_reports",
            "--level",
            "lsoa",
            "--classification",
            "oac2021",
            "--tier",
            "supergroup",
            "--dispersion",
            "none",
        ]
    )
    assert code == 0
    ours = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"code": str}).set_index("code")
    expected = _expected_by_lsoa("oac21_supergroup")
    np.testing.assert_allclose(ours.loc[expected.index, "expected"], expected["expected"], atol=0.0051)
    # a tier the classification lacks is bad input: one line naming the tiers, exit 2
    bad = ["hotspots", "asb_reports", "--level", "lsoa", "--classification", "oac2021", "--tier", "type"]
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert "`tier` was 'type'" in err and "supergroup" in err and "Traceback" not in err


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


# ----------------------------------------------------------------------------- 2. undo restores


def _classes(db: Connection, classification: str) -> dict[str, str]:
    return dict(
        db.execute(
            text(
                "SELECT s.area_code, s.segment_code FROM area_segment s JOIN area a ON a.code = s.area_code "
                "WHERE s.classification_code = :c AND a.district_code = :d"
            ),
            {"c": classification, "d": BRISTOL},
        ).all()
    )


def _households(db: Connection) -> dict[str, int]:
    return dict(
        db.execute(
            text("SELECT code, households FROM area WHERE level = 'oa' AND district_code = :d"),
            {"d": BRISTOL},
        ).all()
    )


def _ward_matrix(db: Connection) -> pd.DataFrame:
    from geo.analysis.matrix import service_matrix

    cells = service_matrix(db, "ward", "oac2021", tier="supergroup", within=BRISTOL)["cells"]
    return cells[["area_code", "segment", "households"]].reset_index(drop=True)


def test_undoing_a_later_classification_batch_restores_the_earlier_one(db, council) -> None:
    first = {c: _classes(db, c) for c in ("oac2021", "oac2021_group", "oac2021_supergroup")}
    first_households, first_matrix = _households(db), _ward_matrix(db)
    # a changed file: 200 OAs take another OA's classes, 150 OAs gain 7 households
    raw = pd.read_csv(
        REAL / "bristol" / f"oa_profile_oac2021_census2021_{BRISTOL}.csv", dtype=str, keep_default_na=False
    )
    has = raw.index[raw["oac21_subgroup"] != ""]
    rng = np.random.default_rng(12)
    moved, donors = rng.choice(has, 200, replace=False), rng.choice(has, 200)
    oac_cols = [c for c in raw.columns if c.startswith("oac21_")]
    changed = raw.copy()
    changed.loc[moved, oac_cols] = raw.loc[donors, oac_cols].to_numpy()
    bumped = rng.choice(has, 150, replace=False)
    changed.loc[bumped, "households"] = (raw.loc[bumped, "households"].astype(int) + 7).astype(str)
    second = ingest_frame(db, "area-classification", changed, salt=SALT, preset="oac", filename="changed.csv")
    # the second batch took effect (recomputed from the changed file, not read back)
    expected = changed[changed["oac21_subgroup"] != ""].set_index("oa11cd")
    assert _classes(db, "oac2021") == expected["oac21_subgroup"].str.lower().to_dict()
    assert _households(db)[str(raw.loc[bumped[0], "oa11cd"])] == int(raw.loc[bumped[0], "households"]) + 7
    assert not _ward_matrix(db).equals(first_matrix)
    # the first batch cannot be undone under the second, and the message names it
    with pytest.raises(
        InvalidRequest, match=rf"batch {second.batch_id} \(area-classification, changed.csv\)"
    ):
        undo_batch(db, council["oac"].batch_id)
    result = undo_batch(db, second.batch_id)
    assert result["removed"]["area_segment_restored"] == 3 * 1328
    for cls, before in first.items():
        assert _classes(db, cls) == before, cls
    assert _households(db) == first_households
    pd.testing.assert_frame_equal(_ward_matrix(db), first_matrix)
    # and now the first batch can go, leaving no OAC on Bristol at all
    undo_batch(db, council["oac"].batch_id)
    assert _classes(db, "oac2021") == {} and _classes(db, "oac2021_supergroup") == {}


def test_undoing_a_postcode_batch_restores_the_moved_postcodes(db) -> None:
    def rows() -> dict[str, tuple[Any, ...]]:
        return {
            r[0]: tuple(r[1:])
            for r in db.execute(
                text(
                    "SELECT postcode_norm, oa_code, ST_X(geom), ST_Y(geom) FROM postcode WHERE district_code = :d"
                ),
                {"d": BRISTOL},
            ).all()
        }

    before = rows()
    codepoint = pd.read_csv(REAL / "bristol" / CODEPOINT, dtype=str, keep_default_na=False)
    moved = codepoint.iloc[:5].copy()
    moved["eastings"] = codepoint["eastings"].iloc[100:105].to_numpy()
    moved["northings"] = codepoint["northings"].iloc[100:105].to_numpy()
    extra = codepoint.iloc[:1].copy().assign(postcode="BS99 9ZZ")
    batch = ingest_frame(
        db, "postcodes", pd.concat([moved, extra]), salt=SALT, preset="codepoint-open", filename="moved.csv"
    )
    after = rows()
    assert "BS999ZZ" in after and after != before
    result = undo_batch(db, batch.batch_id)
    assert result["removed"] == {"postcode": 1, "postcode_restored": 5}
    assert rows() == before


# ----------------------------------------------------------------------------- 4. vintages


def _vintage_files() -> tuple[pd.DataFrame, pd.DataFrame]:
    """An ONS-format OA11 -> OA21 lookup and an OA21-keyed OAC file with households.

    Unchanged OAs are the real ones (2011 code = 2021 code; classes from the national OAC
    2021 file, households from Census 2021); the 40 Bristol OAs that have no 2021 row get
    made-up 2021 codes: 20 split in two, 18 merged in pairs, 2 irregular (2 x 2).
    """
    profile = _profile()
    national = pd.read_csv(REAL / "reference" / "oac2021_uk_oa.csv", dtype=str, keep_default_na=False)
    national = national.set_index("oa21cd")
    same = profile.index[profile["oac21_subgroup"] != ""]
    missing = sorted(profile.index[profile["oac21_subgroup"] == ""])
    assert len(same) == 1328 and len(missing) == 40
    links = [(oa, oa, "U") for oa in same]
    new = iter(f"E0099{i:04d}" for i in range(1000))
    for oa in missing[:20]:
        links += [(oa, next(new), "S"), (oa, next(new), "S")]
    for a, b in zip(missing[20:38:2], missing[21:38:2], strict=True):
        code = next(new)
        links += [(a, code, "M"), (b, code, "M")]
    r, s_ = next(new), next(new)
    links += [(oa, c, "X") for oa in missing[38:40] for c in (r, s_)]
    lookup = pd.DataFrame(links, columns=["OA11CD", "OA21CD", "CHNGIND"]).assign(
        LAD11CD=BRISTOL, LAD22CD=BRISTOL, LAD22NM="Bristol, City of"
    )
    rng = np.random.default_rng(21)
    real = national.loc[same, ["supergroup", "group", "subgroup"]].reset_index()
    real["households"] = profile.loc[same, "households"].to_numpy().astype(str)
    made = sorted(set(lookup["OA21CD"]) - set(same))
    donors = national.loc[rng.choice(same, len(made)), ["supergroup", "group", "subgroup"]].reset_index(
        drop=True
    )
    donors.insert(0, "oa21cd", made)
    donors["households"] = rng.integers(60, 200, len(made)).astype(str)
    return lookup, pd.concat([real, donors], ignore_index=True)


def _load_vintage(db: Connection) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    lookup, oac21 = _vintage_files()
    ingest_frame(
        db, "area-lookup", lookup, salt=SALT, preset="ons-oa-lookup", filename="OA11_OA21_lookup.csv"
    )
    report = ingest_frame(
        db,
        "area-classification",
        oac21,
        salt=SALT,
        preset="oac",
        mapping={"vintage": "oa21", "constants": {"classification": "oac21v"}},
        filename="oac2021_oa21.csv",
    )
    return lookup, oac21, report


def test_an_oa21_classification_sits_on_2011_boundaries_by_the_documented_rules(db) -> None:
    lookup, oac21, report = _load_vintage(db)
    assert any("vintage rule for classes" in n for n in report.notes)
    assert any("vintage rule for counts" in n for n in report.notes)
    hh21 = oac21.set_index("oa21cd")["households"].astype(int)
    sub21 = oac21.set_index("oa21cd")["subgroup"]
    # independent: share each 2021 OA's households equally among its 2011 OAs (none of the
    # 40 has households stored), largest remainder to the lowest 2011 code; a 2011 OA takes
    # the class of the 2021 OA giving it most households (ties: lowest 2021 code)
    link = lookup[["OA11CD", "OA21CD"]].copy()
    link["n"] = link.groupby("OA21CD")["OA11CD"].transform("size")
    link["raw"] = link["OA21CD"].map(hh21) / link["n"]
    link = link.sort_values(["OA21CD", "OA11CD"])
    link["part"] = np.floor(link["raw"]) + (
        link.groupby("OA21CD").cumcount() < (link["OA21CD"].map(hh21) % link["n"])
    ).astype(int)
    expected_hh = link.groupby("OA11CD")["part"].sum().astype(int)
    best = link.sort_values(["OA11CD", "raw", "OA21CD"], ascending=[True, False, True]).drop_duplicates(
        "OA11CD"
    )
    expected_sub = best.set_index("OA11CD")["OA21CD"].map(sub21)
    stored = _classes(db, "oac21v")
    assert stored == expected_sub.to_dict()
    households = _households(db)
    assert {k: households[k] for k in expected_hh.index} == expected_hh.to_dict()
    # the unchanged OAs equal the real profile (the national file agrees with it)
    profile = _profile()
    same = lookup.loc[lookup["CHNGIND"] == "U", "OA11CD"]
    assert all(stored[oa] == profile.loc[oa, "oac21_subgroup"] for oa in same)
    assert sum(households[oa] for oa in same) == int(profile.loc[same, "households"].sum())
    # totals are kept: every 2021 household lands on exactly one 2011 OA
    assert sum(households[k] for k in expected_hh.index) == int(hh21.sum())
    # coarser tiers ride along
    sup21 = oac21.set_index("oa21cd")["supergroup"]
    assert _classes(db, "oac21v_supergroup") == best.set_index("OA11CD")["OA21CD"].map(sup21).to_dict()


def test_a_2011_classification_goes_back_to_2021_codes(db) -> None:
    from geo.ingest.vintage import classes_on_oa21

    lookup, oac21, _ = _load_vintage(db)
    back = classes_on_oa21(db, "oac21v").set_index("oa21_code")["segment_code"]
    original = oac21.set_index("oa21cd")["subgroup"]
    assert sorted(back.index) == sorted(original.index)
    change = lookup.drop_duplicates("OA21CD").set_index("OA21CD")["CHNGIND"]
    # exact for unchanged and merged OAs
    for kind in ("U", "M"):
        codes = change.index[change == kind]
        assert (back[codes] == original[codes]).all(), kind
    # a split 2011 OA's parts all take the class the 2011 OA was given: its largest part's
    stored = _classes(db, "oac21v")
    split = lookup[lookup["CHNGIND"] == "S"]
    assert (back[split["OA21CD"]].to_numpy() == split["OA11CD"].map(stored).to_numpy()).all()


def test_a_bad_lookup_row_is_refused_naming_row_and_field(db) -> None:
    lookup, _ = _vintage_files()
    bad = lookup.copy()
    bad.loc[bad.index[:5], "CHNGIND"] = "Q"
    report = ingest_frame(db, "area-lookup", bad, salt=SALT, preset="ons-oa-lookup")
    assert report.rows_rejected == 5
    first = report.rejected_sample[0]
    assert first["row"] == 2 and first["field"] == "change" and "U (unchanged)" in first["reason"]
    with pytest.raises(IngestRowError, match="change"):
        ingest_frame(db, "area-lookup", bad.assign(CHNGIND="?"), salt=SALT, preset="ons-oa-lookup")


# ----------------------------------------------------------------------------- 5. postcode areas


def _postcode_list() -> pd.DataFrame:
    codepoint = pd.read_csv(REAL / "bristol" / CODEPOINT, dtype=str, keep_default_na=False)
    wards = sorted(codepoint["admin_ward_code"].unique())[:4]
    picked = codepoint[codepoint["admin_ward_code"].isin(wards)].iloc[::3]
    names = {w: f"Patch {i + 1}" for i, w in enumerate(wards)}
    out = pd.DataFrame({"postcode": picked["postcode"], "area_name": picked["admin_ward_code"].map(names)})
    # other spellings of real postcodes: lower case, no space, extra spaces
    out.iloc[0, 0] = out.iloc[0, 0].lower()
    out.iloc[1, 0] = out.iloc[1, 0].replace(" ", "")
    out.iloc[2, 0] = "  " + out.iloc[2, 0] + " "
    return out.reset_index(drop=True)


def test_custom_areas_from_a_postcode_list_hold_the_households_pandas_finds(db) -> None:
    import geopandas as gpd

    from geo.analysis.matrix import service_matrix

    listing = _postcode_list()
    unknown = pd.DataFrame({"postcode": ["ZZ1 1ZZ", "not a postcode"], "area_name": ["Patch 1", "Patch 2"]})
    upload = pd.concat([listing, unknown], ignore_index=True)
    report = ingest_frame(
        db,
        "postcode-areas",
        upload,
        salt=SALT,
        mapping={"constants": {"set_code": "patches"}},
        filename="patches.csv",
    )
    # the unknown and invalid postcodes are reported with their rows (header is row 1)
    rejected = {(r["row"], r["field"]) for r in report.rejected_sample}
    assert rejected == {(len(listing) + 2, "postcode"), (len(listing) + 3, "postcode")}
    # independent: each Code-Point point in its OA polygon, each OA to the area with most
    # of its listed postcodes (ties: lowest area code), households from the Census profile
    codepoint = pd.read_csv(REAL / "bristol" / CODEPOINT, dtype=str, keep_default_na=False)
    points = gpd.GeoDataFrame(
        {"postcode": codepoint["postcode"].str.replace(" ", "")},
        geometry=gpd.points_from_xy(
            codepoint["eastings"].astype(float), codepoint["northings"].astype(float)
        ),
        crs=27700,
    )
    oa_of = gpd.sjoin(points, _oa_polygons(), predicate="within").drop_duplicates("postcode")
    oa_of = oa_of.set_index("postcode")["code"]
    listed = listing.assign(pc=listing["postcode"].str.upper().str.replace(" ", "").str.strip())
    listed["code"] = "patches-" + listed["area_name"].str.lower().str.replace(" ", "-")
    listed["oa"] = listed["pc"].map(oa_of)
    listed = listed.dropna(subset=["oa"])
    votes = listed.groupby(["oa", "code"])["pc"].nunique().rename("n").reset_index()
    chosen = votes.sort_values(["oa", "n", "code"], ascending=[True, False, True]).drop_duplicates("oa")
    profile = _profile()
    chosen["households"] = chosen["oa"].map(profile["households"])
    expected = chosen.groupby("code")["households"].sum()
    stored = dict(
        db.execute(
            text("SELECT code, households FROM area WHERE set_code = 'patches' AND level = 'custom'")
        ).all()
    )
    assert stored == expected.to_dict() and len(stored) == 4
    # the set is a level like any other: households by supergroup through the OA membership
    cells = service_matrix(db, "patches", "oac2021", tier="supergroup")["cells"]
    totals = cells[(cells["segment"] == "Total") & (cells["area_code"] != "Total")]
    classified = chosen[chosen["oa"].map(profile["oac21_supergroup"]) != ""]
    assert totals.set_index("area_code")["households"].astype(int).to_dict() == (
        classified.groupby("code")["households"].sum().to_dict()
    )
    # undo removes the set
    undo_batch(db, report.batch_id)
    assert db.execute(text("SELECT count(*) FROM area WHERE set_code = 'patches'")).scalar() == 0
