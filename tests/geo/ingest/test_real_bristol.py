"""Real open data: Bristol (E06000023) loads beside the demo and its police.uk records match by coordinates.

Files come from ``../shared/data/real/bristol`` (see its README; they are not copied into
the repository). Everything is loaded on one connection inside a transaction that is
rolled back when the module ends, so other tests see only the demo.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from geo.ingest import ingest_file
from tests.geo.ingest.conftest import count

REAL = Path(__file__).resolve().parents[4] / "shared" / "data" / "real" / "bristol"
BRISTOL = "E06000023"
SALT = "test-salt"

pytestmark = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the external real-data set is not present at {REAL} (see its README)"
)


def _areas(conn: Any, name: str) -> Any:
    return ingest_file(
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


@pytest.fixture(scope="module")
def bristol(engine: Engine) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        trans = conn.begin()
        reports = {
            "wards": _areas(conn, f"wards_wd13_{BRISTOL}.geojson"),
            "lsoas": _areas(conn, f"lsoa11_{BRISTOL}.geojson"),
            "oas": _areas(conn, f"oa11_{BRISTOL}.geojson"),
            "oac": ingest_file(
                conn,
                "area-classification",
                REAL / f"oa_profile_oac2021_census2021_{BRISTOL}.csv",
                salt=SALT,
                preset="oac",
            ),
            "postcodes": ingest_file(
                conn,
                "postcodes",
                REAL / f"postcodes_codepoint_open_2014-08_{BRISTOL}.csv",
                salt=SALT,
                preset="codepoint-open",
            ),
            "police": ingest_file(
                conn,
                "events",
                REAL / "police_uk_2023-01_bristol-street_SUBSET.csv",
                salt=SALT,
                preset="police-uk",
                mapping={"districts": [BRISTOL]},
            ),
        }
        yield {"conn": conn, "reports": reports}
        trans.rollback()


def test_bristol_geography_loads_beside_the_demo(bristol) -> None:
    conn = bristol["conn"]
    levels = dict(
        conn.execute(
            text("SELECT level, count(*) FROM area WHERE set_code = :s GROUP BY level"), {"s": BRISTOL}
        ).all()
    )
    assert levels == {"district": 1, "ward": 35, "lsoa": 263, "oa": 1368}
    assert count(conn, "SELECT count(*) FROM area WHERE set_code = 'demo' AND level = 'ward'") == 26
    # every OA is a member of exactly one LSOA, ward and district of its set
    per_oa = conn.execute(
        text(
            "SELECT o.code, count(*) FILTER (WHERE m.level = 'lsoa') AS l, count(*) FILTER (WHERE m.level = 'ward') AS w, "
            "count(*) FILTER (WHERE m.level = 'district') AS d FROM area o JOIN area_membership m ON m.oa_code = o.code "
            "WHERE o.set_code = :s AND o.level = 'oa' GROUP BY o.code"
        ),
        {"s": BRISTOL},
    ).all()
    assert len(per_oa) == 1368 and all((r.l, r.w, r.d) == (1, 1, 1) for r in per_oa)


def test_memberships_agree_with_the_published_lookup(bristol) -> None:
    lookup = pd.read_csv(REAL / f"lookup_oa11_lsoa11_msoa11_wd13_{BRISTOL}_DERIVED.csv")
    ours = pd.DataFrame(
        bristol["conn"]
        .execute(
            text(
                "SELECT oa_code, max(area_code) FILTER (WHERE level = 'lsoa') AS lsoa, "
                "max(area_code) FILTER (WHERE level = 'ward') AS ward FROM area_membership "
                "WHERE set_code = :s GROUP BY oa_code"
            ),
            {"s": BRISTOL},
        )
        .mappings()
        .all()
    )
    both = lookup.merge(ours, left_on="oa11cd", right_on="oa_code")
    assert len(both) == 1368
    # ST_PointOnSurface and shapely's representative_point may pick different inner points
    # on a boundary-hugging OA: allow 1% disagreement
    assert (both["lsoa"] == both["lsoa11cd"]).mean() >= 0.99
    assert (both["ward"] == both["wd13cd"]).mean() >= 0.99


def test_oac_is_loaded_per_output_area_with_unclassified_areas_reported(bristol) -> None:
    report = bristol["reports"]["oac"]
    assert report.rows_received == 1368
    assert report.rows_loaded == 1328 and report.rows_rejected == 40  # OAs split or merged in 2021
    assert list(report.rejected_by_reason) == [
        "segment_code: is empty: this area has no class in the classification"
    ]
    conn = bristol["conn"]
    cls = conn.execute(text("SELECT unit, area_level FROM classification WHERE code = 'oac2021'")).one()
    assert tuple(cls) == ("area", "oa")
    seg = conn.execute(
        text(
            "SELECT s.name, s.parent_code FROM area_segment a JOIN segment s ON s.classification_code = a.classification_code AND s.code = a.segment_code WHERE a.area_code = 'E00073143' AND a.classification_code = 'oac2021'"
        )
    ).one()
    assert tuple(seg) == ("Transient Communities", "6c")


def test_codepoint_postcodes_are_placed_in_bristol_output_areas(bristol) -> None:
    report = bristol["reports"]["postcodes"]
    assert report.rows_received == 11_585
    assert report.out_of_area <= 10  # the README counts 4 postcodes outside every OA
    assert report.rows_loaded == report.rows_received - report.out_of_area
    conn = bristol["conn"]
    row = conn.execute(
        text("SELECT postcode, oa_code, district_code FROM postcode WHERE postcode_norm = 'BS11AD'")
    ).one()
    assert row.postcode == "BS1 1AD" and row.oa_code.startswith("E00") and row.district_code == BRISTOL


def test_police_uk_asb_records_match_by_coordinates(bristol) -> None:
    report = bristol["reports"]["police"]
    assert report.rows_received == 4_501
    assert report.out_of_scope == 4_501 - 595  # other crime types are not a service here
    assert report.rows_loaded == 595 and report.out_of_area == 0 and report.rows_rejected == 0
    assert report.match_levels == {"coordinates": 595}
    assert report.personal_columns_dropped == []
    raw = pd.read_csv(REAL / "police_uk_2023-01_bristol-street_SUBSET.csv", keep_default_na=False)
    asb = raw[raw["Crime type"] == "Anti-social behaviour"]
    ours = pd.DataFrame(
        bristol["conn"]
        .execute(
            text(
                "SELECT lsoa_code, district_code, event_date, source_system FROM service_event WHERE batch_id = :b"
            ),
            {"b": report.batch_id},
        )
        .mappings()
        .all()
    )
    assert set(ours["district_code"]) == {BRISTOL} and set(ours["source_system"]) == {"police"}
    assert set(ours["event_date"].astype(str)) == {"2023-01-01"}
    # police.uk assigns each record's LSOA from the true location but publishes an
    # anonymised snap point, which can sit across an LSOA boundary: measured, the LSOA
    # counts from the points differ from the published ones by 5% of records; allow 7%
    # (a matching error would scatter records across the city, not move a few next door)
    moved = (
        ours["lsoa_code"].value_counts().sub(asb["LSOA code"].value_counts(), fill_value=0).abs().sum() / 2
    )
    assert moved <= 0.07 * 595
    assert set(ours["lsoa_code"]) <= set(asb["LSOA code"]) | set(
        bristol["conn"]
        .execute(text("SELECT code FROM area WHERE level = 'lsoa' AND set_code = :s"), {"s": BRISTOL})
        .scalars()
    )
