"""Issue 12 on the real files: tiers and bases, services, batches, strict mappings, detection, counts.

Bristol's boundaries, its OAC profile and the police.uk file load beside the demo on one
connection inside a transaction rolled back when the module ends; each test runs in a
savepoint of its own. Expected values are recomputed from the raw files with pandas.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from geo.errors import DuplicateBatch, IngestError, IngestRowError, InvalidRequest
from geo.ingest import ingest_file, ingest_frame
from geo.ingest.anonymise import find_personal_columns
from geo.ingest.batch import record_failed_batch, undo_batch

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared" / "data" / "real", ROOT.parent.parent / "shared" / "data" / "real"]
REAL = next((c for c in _CANDIDATES if (c / "bristol").is_dir()), _CANDIDATES[0])
BRISTOL = "E06000023"
SALT = "test-salt"
POLICE = "police_uk_2023-01_bristol-street_SUBSET.csv"
LIBRARIES = "librarieswest_active_members_by_lsoa_2021-07_bristol-residents.csv"

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
        for name in (f"wards_wd13_{BRISTOL}.geojson", f"lsoa11_{BRISTOL}.geojson", f"oa11_{BRISTOL}.geojson"):
            _areas(conn, name)
        oac = ingest_file(
            conn,
            "area-classification",
            REAL / "bristol" / f"oa_profile_oac2021_census2021_{BRISTOL}.csv",
            salt=SALT,
            preset="oac",
        )
        yield {"conn": conn, "oac": oac}
        trans.rollback()


@pytest.fixture
def db(council: dict[str, Any]) -> Iterator[Connection]:
    """The council's connection inside a savepoint rolled back after the test."""
    conn = council["conn"]
    savepoint = conn.begin_nested()
    try:
        yield conn
    finally:
        savepoint.rollback()


def _profile() -> pd.DataFrame:
    return pd.read_csv(
        REAL / "bristol" / f"oa_profile_oac2021_census2021_{BRISTOL}.csv", dtype=str, keep_default_na=False
    )


def _police(conn: Connection, **mapping: Any) -> Any:
    return ingest_file(
        conn, "events", REAL / "bristol" / POLICE, salt=SALT, preset="police-uk", mapping=mapping
    )


# ----------------------------------------------------------------------------- bases and tiers


def test_the_oac_preset_loads_households_and_population_per_oa(db) -> None:
    profile = _profile().set_index("oa11cd")
    stored = pd.DataFrame(
        db.execute(
            text("SELECT code, households, population FROM area WHERE set_code = :s AND level = 'oa'"),
            {"s": BRISTOL},
        ).all(),
        columns=["code", "households", "population"],
    ).set_index("code")
    has = profile["households"] != ""
    assert (stored.loc[profile.index[has], "households"] == profile.loc[has, "households"].astype(int)).all()
    assert (
        stored.loc[profile.index[has], "population"] == profile.loc[has, "usual_residents"].astype(int)
    ).all()
    assert int(stored["households"].sum()) == int(profile.loc[has, "households"].astype(int).sum()) > 150_000
    # the 40 OAs with no 2021 data keep no households (and no population)
    assert (stored.loc[profile.index[~has], "households"] == 0).all()
    assert stored.loc[profile.index[~has], "population"].isna().all()


def test_one_file_loads_every_oac_tier(db) -> None:
    tiers = db.execute(
        text(
            "SELECT code, family, tier, tier_rank FROM classification WHERE family = 'oac2021' ORDER BY tier_rank"
        )
    ).all()
    assert [tuple(t) for t in tiers] == [
        ("oac2021_supergroup", "oac2021", "supergroup", 0),
        ("oac2021_group", "oac2021", "group", 1),
        ("oac2021", "oac2021", "subgroup", 2),
    ]
    profile = _profile()
    profile = profile[profile["oac21_subgroup"] != ""].set_index("oa11cd")
    for cls, column in (
        ("oac2021", "oac21_subgroup"),
        ("oac2021_group", "oac21_group"),
        ("oac2021_supergroup", "oac21_supergroup"),
    ):
        stored = dict(
            db.execute(
                text(
                    "SELECT area_code, segment_code FROM area_segment WHERE classification_code = :c AND area_code LIKE 'E00%'"
                ),
                {"c": cls},
            ).all()
        )
        bristol = {k: v for k, v in stored.items() if k in profile.index}
        assert bristol == profile[column].str.lower().to_dict(), cls
    # parents chain subgroup -> group -> supergroup, with the file's names
    parents = dict(
        db.execute(
            text("SELECT code, parent_code FROM segment WHERE classification_code = 'oac2021_group'")
        ).all()
    )
    assert parents["6c"] == "6" and parents["4a"] == "4"
    name = db.execute(
        text("SELECT name FROM segment WHERE classification_code = 'oac2021_supergroup' AND code = '6'")
    ).scalar_one()
    assert name == "Baseline UK"


def test_a_tier_rolls_up_the_households(db) -> None:
    from geo.analysis.data import households_by_area_segment, resolve_tier
    from geo.areas import Geography

    code = resolve_tier(db, "oac2021", "supergroup")
    assert code == "oac2021_supergroup" and resolve_tier(db, "oac2021_group", "subgroup") == "oac2021"
    ours = households_by_area_segment(db, Geography("district"), code, within=BRISTOL)
    ours = ours.dropna().set_index("segment_code")["households"].sort_index()
    profile = _profile()
    profile = profile[profile["households"] != ""]
    expected = (
        profile.groupby("oac21_supergroup")["households"].apply(lambda s: s.astype(int).sum()).sort_index()
    )
    assert ours.to_dict() == expected.to_dict()
    with pytest.raises(
        InvalidRequest, match=r"'oac2021' has the tiers \['supergroup', 'group', 'subgroup'\]"
    ):
        resolve_tier(db, "oac2021", "type")


def test_area_statistics_load_a_base_and_refuse_bad_numbers_by_row(db) -> None:
    frame = pd.DataFrame(
        {
            "OA": ["E00073143", "E00073145", "E00073147", "E00073148", "E00073149", "E99999999"],
            "Households": ["151", "159.0", "", "abc", "12.5", "7"],
        }
    )
    report = ingest_frame(db, "area-statistics", frame, {"columns": {"area_code": "OA"}}, salt=SALT)
    # the blank base is nothing to load (not an error); the unknown area is out of area
    assert report.rows_loaded == 2 and report.out_of_area == 1
    assert {(r["row"], r["field"]) for r in report.rejected_sample} == {(5, "households"), (6, "households")}
    assert report.rejected_by_reason == {
        "households: is not a number; expected a whole number of households (0 or more)": 1,
        "households: is not a whole number; expected a whole number of households (0 or more)": 1,
    }
    got = dict(
        db.execute(text("SELECT code, households FROM area WHERE code IN ('E00073143', 'E00073145')")).all()
    )
    assert got == {"E00073143": 151, "E00073145": 159}
    with pytest.raises(IngestRowError, match="at least one base"):
        ingest_frame(db, "area-statistics", frame[["OA"]], {"columns": {"area_code": "OA"}}, salt=SALT)


# ----------------------------------------------------------------------------- services and batches


def test_the_police_preset_creates_its_service_and_records_the_district(db) -> None:
    db.execute(text("DELETE FROM service_event WHERE service_code = 'asb_reports'"))
    db.execute(text("DELETE FROM service WHERE code = 'asb_reports'"))
    report = _police(db)
    assert report.rows_loaded == 595
    assert any("created the service 'asb_reports'" in n for n in report.notes)
    dropped = {d["column"] for d in report.personal_columns_dropped}
    assert not dropped & {"Reported by", "Falls within", "LSOA name"}
    from geo.catalogue import get_service

    service = get_service(db, "asb_reports")
    assert service["districts"] == [BRISTOL] and service["events"] == 595 and service["unit"] == "events"


def test_a_batch_that_loads_nothing_fails_and_an_undone_batch_can_be_loaded_again(db) -> None:
    wrong = {"values": {"service_code": {"Anti-social behaviour": "no_such_service"}}, "services": {}}
    with pytest.raises(IngestRowError) as failed:
        ingest_file(db, "events", REAL / "bristol" / POLICE, salt=SALT, mapping=wrong, preset="police-uk")
    message = str(failed.value)
    assert (
        "none of 4,501 rows loaded" in message
        and "595 rejected (service_code: is not a known service" in message
    )
    assert "3,906 out of scope" in message and failed.value.row is not None
    from geo.ingest.readers import file_sha256

    digest = file_sha256(REAL / "bristol" / POLICE)
    failed_id = record_failed_batch(db, "events", POLICE, digest, message, "test")
    assert (
        db.execute(text("SELECT status FROM ingest_batch WHERE id = :i"), {"i": failed_id}).scalar()
        == "failed"
    )
    # the failed attempt never blocks the retry
    loaded = _police(db)
    assert loaded.status == "loaded" and loaded.rows_loaded == 595
    with pytest.raises(DuplicateBatch, match=f"undo {loaded.batch_id}"):
        _police(db)
    result = undo_batch(db, loaded.batch_id)
    assert result["removed"]["service_event"] == 595
    left = db.execute(
        text("SELECT count(*) FROM service_event WHERE batch_id = :b"), {"b": loaded.batch_id}
    ).scalar()
    districts = db.execute(
        text("SELECT count(*) FROM service_district WHERE batch_id = :b"), {"b": loaded.batch_id}
    ).scalar()
    assert left == 0 and districts == 0
    with pytest.raises(InvalidRequest, match="only a loaded batch can be undone"):
        undo_batch(db, loaded.batch_id)
    again = _police(db)
    assert again.rows_loaded == 595 and again.batch_id != loaded.batch_id


def test_undoing_a_classification_removes_every_tier(db, council) -> None:
    batch = council["oac"].batch_id
    result = undo_batch(db, batch)
    assert result["removed"]["area_segment"] == 3 * 1328
    assert (
        db.execute(text("SELECT count(*) FROM area_segment WHERE batch_id = :b"), {"b": batch}).scalar() == 0
    )


# ----------------------------------------------------------------------------- strict mappings, detection


@pytest.mark.parametrize(
    ("kind", "mapping", "field"),
    [
        ("events", {"columns": {"count": "Crime type"}}, "count"),
        ("events", {"columns": {"oa_code": "LSOA code"}}, "oa_code"),
        ("area-counts", {"constants": {"households": 3}}, "households"),
        ("areas", {"values": {"segment_code": {"a": "b"}}}, "segment_code"),
    ],
)
def test_unknown_target_fields_are_refused_naming_the_known_ones(db, kind, mapping, field) -> None:
    frame = pd.DataFrame({"Crime type": ["x"], "LSOA code": ["E01014485"]})
    with pytest.raises(IngestError, match=rf"\['{field}'\], which {kind} files do not have; expected fields"):
        ingest_frame(db, kind, frame, mapping, salt=SALT)


def test_place_and_organisation_names_are_never_dropped_as_personal() -> None:
    police = pd.read_csv(REAL / "bristol" / POLICE, dtype=str, keep_default_na=False).head(500)
    libraries = pd.read_csv(REAL / "bristol" / LIBRARIES, dtype=str, keep_default_na=False)
    for frame in (police, libraries):
        dropped = find_personal_columns(frame, mapped={}, explicit=[], check_names=True)
        assert dropped == [], dropped
    people = pd.DataFrame({"Contact": ["Jane Smith", "Tomasz Nowak", "Aisha Khan", "Peter Hill"]})
    assert [d.column for d in find_personal_columns(people, mapped={}, explicit=[])] == ["Contact"]
    kept = find_personal_columns(people, mapped={}, explicit=[], keep=["contact"])
    assert kept == []


def test_a_mapping_keeps_a_column_and_the_report_says_so(db) -> None:
    frame = pd.DataFrame(
        {"Area": ["E00073143"], "Households": ["150"], "Officer": ["Jane Smith"], "Patch": ["Alan Brown"]}
    )
    report = ingest_frame(
        db,
        "area-statistics",
        frame,
        {"columns": {"area_code": "Area"}, "keep": ["Officer"], "drop": ["Patch"]},
        salt=SALT,
    )
    assert report.personal_columns_dropped == [
        {"column": "Patch", "reason": "listed in the mapping's `drop`"}
    ]
    assert any("Officer" in n for n in report.notes)
    with pytest.raises(IngestError, match="both keeps and drops"):
        ingest_frame(db, "area-statistics", frame, {"keep": ["Patch"], "drop": ["patch"]}, salt=SALT)


# ----------------------------------------------------------------------------- counts per area


def test_library_counts_keep_suppressed_values_as_suppressed(db) -> None:
    db.execute(
        text(
            "INSERT INTO service (code, name, category, unit) VALUES ('lib_members', 'Library members', 'libraries', 'persons')"
        )
    )
    mapping = {
        "columns": {"area_code": "lsoa_code", "count": "users"},
        "constants": {"service_code": "lib_members", "period": "2021-07"},
    }
    report = ingest_file(db, "area-counts", REAL / "bristol" / LIBRARIES, salt=SALT, mapping=mapping)
    raw = pd.read_csv(REAL / "bristol" / LIBRARIES, dtype=str, keep_default_na=False)
    assert report.rows_loaded == len(raw) == 2890
    stored = db.execute(
        text(
            "SELECT count(*) FILTER (WHERE suppressed), sum(count), min(count_max), max(count_max), "
            "count(*) FILTER (WHERE suppressed AND count IS NOT NULL) FROM area_count WHERE service_code = 'lib_members'"
        )
    ).one()
    counted = raw.loc[raw["users"] != "*", "users"].astype(int)
    assert tuple(stored) == (int((raw["users"] == "*").sum()), int(counted.sum()), 4, 4, 0)
    districts = db.execute(
        text("SELECT district_code FROM service_district WHERE service_code = 'lib_members'")
    ).scalars()
    assert list(districts) == [BRISTOL]


def test_every_suppression_marker_and_bad_count_is_handled_by_row(db) -> None:
    db.execute(text("INSERT INTO service (code, name, category, unit) VALUES ('lib2', 'x', 'x', 'persons')"))
    frame = pd.DataFrame(
        {
            "lsoa": ["E01014485"] * 9 + ["E01999999"],
            "n": ["12", "*", "c", "<3", "..", "", "1.5", "abc", "7.0", "5"],
        }
    )
    mapping = {
        "columns": {"area_code": "lsoa", "count": "n"},
        "constants": {"service_code": "lib2", "period": "2024-03"},
    }
    report = ingest_frame(db, "area-counts", frame, mapping, salt=SALT)
    assert report.rows_loaded == 7 and report.out_of_area == 1
    assert [(r["row"], r["field"]) for r in report.rejected_sample] == [(8, "count"), (9, "count")]
    rows = db.execute(
        text("SELECT count, suppressed, count_max FROM area_count WHERE service_code = 'lib2' ORDER BY id")
    ).all()
    assert [tuple(r) for r in rows] == [
        (12, False, None),
        (None, True, 4),
        (None, True, 4),
        (None, True, 2),
        (None, True, 4),
        (None, True, 4),
        (7, False, None),
    ]
    unknown = pd.DataFrame({"lsoa": ["E01014485"], "n": ["3"]})
    with pytest.raises(IngestRowError, match="create it with `wardwise services create`"):
        ingest_frame(
            db,
            "area-counts",
            unknown,
            {**mapping, "constants": {"service_code": "nope", "period": "2024-03"}},
            salt=SALT,
        )
