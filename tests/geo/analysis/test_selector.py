"""A profile with no customer data: the expected distribution recomputed from household counts."""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import text

from geo.analysis.selector import selector_profile
from geo.errors import InvalidRequest

CLASSIFICATION = "wardwise12"


def _ward_households(conn) -> dict[str, dict[str | None, int]]:
    rows = conn.execute(
        text(
            """
            SELECT w.code, hs.segment_code, count(*)
            FROM address ad
            LEFT JOIN household_segment hs ON hs.uprn = ad.uprn AND hs.classification_code = :c
            JOIN area o ON o.code = ad.oa_code
            JOIN area l ON l.code = o.parent_code
            JOIN area w ON w.code = l.parent_code AND w.level = 'ward'
            WHERE ad.is_residential
            GROUP BY 1, 2
            """
        ),
        {"c": CLASSIFICATION},
    ).all()
    out: dict[str, dict[str | None, int]] = defaultdict(dict)
    for ward, seg, n in rows:
        out[ward][seg] = int(n)
    return out


def test_rates_spread_over_wards_and_segments(conn) -> None:
    weights = {"B": 0.3, "I": 0.2}
    wards = _ward_households(conn)
    result = selector_profile(conn, weights, level="ward", classification=CLASSIFICATION)
    expected = {w: sum(n * weights.get(s or "", 0) for s, n in mix.items()) for w, mix in wards.items()}
    total = sum(expected.values())
    households = sum(sum(m.values()) for m in wards.values())
    assert result["size"] == pytest.approx(total, abs=0.05)
    areas = result["areas"].set_index("area_code")
    assert set(areas.index) == set(wards)
    for w, e in expected.items():
        assert areas.at[w, "expected"] == pytest.approx(e, abs=0.05)
        rate = e / sum(wards[w].values())
        assert areas.at[w, "index"] == round(100 * rate / (total / households))
    assert areas["expected"].is_monotonic_decreasing
    segs = result["segments"].set_index("segment")
    assert segs.loc[["B", "I"], "share_pct"].sum() == pytest.approx(100, abs=0.01)
    assert (segs.drop(["B", "I"])["expected"] == 0).all()


def test_relative_weights_are_scaled_to_the_size(conn) -> None:
    a = selector_profile(conn, {"A": 3, "L": 1}, size=1000, level="ward", classification=CLASSIFICATION)
    b = selector_profile(conn, {"A": 0.03, "L": 0.01}, level="ward", classification=CLASSIFICATION)
    assert a["size"] == pytest.approx(1000, abs=0.1)
    shares_a = a["areas"].set_index("area_code")["share_pct"]
    shares_b = b["areas"].set_index("area_code")["share_pct"]
    assert shares_a.sort_index().tolist() == pytest.approx(shares_b.sort_index().tolist(), abs=0.011)
    segs = a["segments"].set_index("segment")
    # A's households weigh 3 times L's: expected A / expected L = 3 × households A / households L
    ratio = segs.at["A", "expected"] / segs.at["L", "expected"]
    assert ratio == pytest.approx(3 * segs.at["A", "households"] / segs.at["L", "households"], rel=1e-3)


def test_bad_weights_name_the_segment(conn) -> None:
    with pytest.raises(InvalidRequest, match="ZZ"):
        selector_profile(conn, {"ZZ": 1}, classification=CLASSIFICATION)
    with pytest.raises(InvalidRequest, match="weights.A"):
        selector_profile(conn, {"A": -1}, classification=CLASSIFICATION)
    with pytest.raises(InvalidRequest, match="all 0"):
        selector_profile(conn, {"A": 0}, classification=CLASSIFICATION)
    with pytest.raises(InvalidRequest, match="size"):
        selector_profile(conn, {"A": 1}, size=-5, classification=CLASSIFICATION)
