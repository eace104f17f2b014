"""Insight on real open data: Bristol's OAC 2021 mix and four police.uk crime types (January 2023).

Files come from ``../shared/data/real/bristol`` (see its README; never copied into the
repository). The boundary files carry no household counts, so each 2011 OA's Census 2021
households (TS041, in the OAC profile file) are set on it; the police.uk file is loaded with
four crime types as four services. Everything happens in one transaction rolled back at the
end of the module, so other tests see only the demo. Answers are recomputed from the CSV
files with pandas, not from the database.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from scipy import stats
from sqlalchemy import Engine, text

from geo.analysis.combined import combined_hot_spots
from geo.analysis.hotspot_outputs import HotspotParams, hotspot_table
from geo.analysis.selector import selector_profile
from geo.analysis.services import ServiceFilter
from geo.analysis.similar import similar_areas
from geo.analysis.targets import service_targets
from geo.ingest import ingest_file

#: ``../shared/data/real`` beside the repository; WARDWISE_REAL_DATA points elsewhere (a work tree).
REAL = (
    Path(
        os.environ.get("WARDWISE_REAL_DATA", Path(__file__).resolve().parents[4] / "shared" / "data" / "real")
    )
    / "bristol"
)
BRISTOL = "E06000023"
SALT = "test-salt"
OAC = "oac2021"
CRIMES = {
    "Anti-social behaviour": "asb_reports",
    "Violence and sexual offences": "violent_crime",
    "Burglary": "burglary",
    "Criminal damage and arson": "criminal_damage",
}

pytestmark = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the external real-data set is not present at {REAL} (see its README)"
)


def _profile() -> pd.DataFrame:
    return pd.read_csv(REAL / f"oa_profile_oac2021_census2021_{BRISTOL}.csv")


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
        ingest_file(
            conn,
            "area-classification",
            REAL / f"oa_profile_oac2021_census2021_{BRISTOL}.csv",
            salt=SALT,
            preset="oac",
        )
        profile = _profile().dropna(subset=["households"])
        conn.execute(
            text("UPDATE area SET households = :h WHERE code = :c"),
            [{"h": int(h), "c": c} for c, h in zip(profile["oa11cd"], profile["households"], strict=True)],
        )
        for crime, code in CRIMES.items():
            conn.execute(
                text(
                    "INSERT INTO service (code, name, category, owner, unit) "
                    "VALUES (:c, :n, 'community safety', 'police', 'events') ON CONFLICT (code) DO NOTHING"
                ),
                {"c": code, "n": crime},
            )
        ingest_file(
            conn,
            "events",
            REAL / "police_uk_2023-01_bristol-street_SUBSET.csv",
            salt=SALT,
            preset="police-uk",
            mapping={"districts": [BRISTOL], "values": {"service_code": CRIMES}},
        )
        yield conn
        trans.rollback()


def _round(value: Fraction, places: int) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=ROUND_HALF_UP)


def test_asb_core_and_developmental_segments_in_bristol(bristol) -> None:
    conn = bristol
    # Events per OA from the database (their OA is where police.uk's snap point falls),
    # households and subgroups per OA from the CSV: join and count with pandas.
    events = pd.DataFrame(
        conn.execute(
            text(
                "SELECT oa_code, count(*) AS n FROM service_event WHERE service_code = 'asb_reports' "
                "AND is_primary AND district_code = :b AND oa_code IS NOT NULL GROUP BY 1"
            ),
            {"b": BRISTOL},
        ).all(),
        columns=["oa_code", "n"],
    )
    profile = _profile().dropna(subset=["oac21_subgroup"])
    base = profile.groupby("oac21_subgroup")["households"].sum().astype(int)
    joined = events.merge(profile, left_on="oa_code", right_on="oa11cd")
    target = joined.groupby("oac21_subgroup")["n"].sum().reindex(base.index, fill_value=0)
    t_total, b_total = int(target.sum()), int(base.sum())
    want: dict[str, str | None] = {}
    for seg in base.index:
        t, b = int(target[seg]), int(base[seg])
        index = _round(Fraction(100 * t * b_total, b * t_total), 0)
        share = _round(Fraction(100 * t, t_total), 2)
        want[seg] = None if index < 120 else ("core" if share >= 5 else "developmental")
    result = service_targets(conn, "asb_reports", OAC, ServiceFilter(within=BRISTOL))
    rows = result["rows"].set_index("segment")
    got = {s: rows.at[s, "target_class"] for s in base.index}
    assert got == want
    assert result["core"], "Bristol's ASB concentrates in some subgroups (3a1 University Centric, 6a3)"


def _ward_mixes() -> dict[str, pd.Series]:
    profile = _profile().dropna(subset=["oac21_subgroup"])
    mix = profile.groupby(["wd13cd", "oac21_subgroup"])["households"].sum()
    return {w: mix.loc[w] / mix.loc[w].sum() for w in mix.index.get_level_values(0).unique()}


def test_similar_bristol_wards_by_oac_mix(bristol) -> None:
    mixes = _ward_mixes()
    assert len(mixes) == 35
    for ward in sorted(mixes)[:5]:
        result = similar_areas(bristol, ward, k=3, classification=OAC, within=BRISTOL)
        p = mixes[ward]

        def hellinger(q: pd.Series, p: pd.Series = p) -> float:
            both = pd.concat([p, q], axis=1).fillna(0.0)
            return math.sqrt(0.5 * ((both.iloc[:, 0] ** 0.5 - both.iloc[:, 1] ** 0.5) ** 2).sum())

        brute = sorted((hellinger(q), w) for w, q in mixes.items() if w != ward)
        # OA-to-ward membership is point-in-polygon in Wardwise and the published lookup
        # here; they differ for under 1% of OAs, so distances agree to 0.01, not exactly.
        got = [s["distance"] for s in result["similar"]]
        assert got == pytest.approx([d for d, _ in brute[:3]], abs=0.01)
        assert result["candidates"] == 34


def test_combined_crime_hot_spots_in_bristol(bristol) -> None:
    services = list(CRIMES.values())
    # The recomputation below is the exact Poisson test: ask for it (dispersion="none").
    out = combined_hot_spots(
        bristol, services, level="lsoa", classification=OAC, within=BRISTOL, dispersion="none"
    ).set_index("area_code")
    assert len(out) == 263
    singles = {
        s: hotspot_table(
            bristol,
            HotspotParams(service=s, level="lsoa", classification=OAC, within=BRISTOL, dispersion="none"),
        ).set_index("area_code")
        for s in services
    }
    for code in out.index:
        zs = []
        for s in services:
            o, e = singles[s].at[code, "observed"], singles[s].at[code, "expected"]
            p = max(min(1.0, 2 * min(stats.poisson.cdf(o, e), stats.poisson.sf(o - 1, e))), 1e-300)
            zs.append(0.0 if o == e else math.copysign(stats.norm.isf(p / 2), o - e))
        assert out.at[code, "z"] == pytest.approx(sum(zs) / 2, abs=1e-6)  # sqrt(4 equal weights) = 2
    hot = out[out["class"] == "hot"]
    assert len(hot) > 0
    # every combined-hot LSOA has at least one crime type significant on its own
    assert all(any(c["significant"] for c in cs) for cs in hot["contributing"])


def test_a_group_with_no_records_spread_over_bristol_wards(bristol) -> None:
    weights = {"3a1": 1.0, "3c1": 0.5}
    result = selector_profile(bristol, weights, size=1000, level="ward", classification=OAC, within=BRISTOL)
    profile = _profile().dropna(subset=["oac21_subgroup"])
    raw = profile["oac21_subgroup"].map(weights).fillna(0.0) * profile["households"]
    assert result["size"] == pytest.approx(1000, abs=0.1)
    segs = result["segments"].set_index("segment")
    share_3a1 = 100 * raw[profile["oac21_subgroup"] == "3a1"].sum() / raw.sum()
    assert segs.at["3a1", "share_pct"] == pytest.approx(share_3a1, abs=0.01)
    by_ward = (raw * 1000 / raw.sum()).groupby(profile["wd13cd"]).sum().sort_values(ascending=False)
    areas = result["areas"].set_index("area_code")
    assert areas.index[0] == by_ward.index[0]
    assert areas.at[by_ward.index[0], "expected"] == pytest.approx(by_ward.iloc[0], rel=0.02)
