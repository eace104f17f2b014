"""Similar areas: checked by brute force over households counted through the OA hierarchy."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from geo.analysis.profile import area_profile
from geo.analysis.similar import most_similar, segment_shares, similar_areas
from geo.errors import InvalidRequest, UnknownArea

CLASSIFICATION = "wardwise12"


def _ward_mixes(conn) -> dict[str, dict[str, int]]:
    """Households per ward and segment through area.parent_code (OA -> LSOA -> ward), not area_membership."""
    rows = conn.execute(
        text(
            """
            SELECT w.code, hs.segment_code, count(*)
            FROM household_segment hs
            JOIN address ad ON ad.uprn = hs.uprn AND ad.is_residential
            JOIN area o ON o.code = ad.oa_code
            JOIN area l ON l.code = o.parent_code
            JOIN area w ON w.code = l.parent_code AND w.level = 'ward'
            WHERE hs.classification_code = :c
            GROUP BY 1, 2
            """
        ),
        {"c": CLASSIFICATION},
    ).all()
    out: dict[str, dict[str, int]] = {}
    for ward, seg, n in rows:
        out.setdefault(ward, {})[seg] = int(n)
    return out


def _hellinger(p: dict[str, int], q: dict[str, int]) -> float:
    tp, tq = sum(p.values()), sum(q.values())
    segs = set(p) | set(q)
    return math.sqrt(
        0.5 * sum((math.sqrt(p.get(s, 0) / tp) - math.sqrt(q.get(s, 0) / tq)) ** 2 for s in segs)
    )


def _euclid(p: dict[str, int], q: dict[str, int]) -> float:
    tp, tq = sum(p.values()), sum(q.values())
    segs = set(p) | set(q)
    return math.sqrt(sum((100 * p.get(s, 0) / tp - 100 * q.get(s, 0) / tq) ** 2 for s in segs))


@pytest.mark.parametrize(("distance", "measure"), [("hellinger", _hellinger), ("euclidean", _euclid)])
def test_similar_wards_are_the_brute_force_nearest(conn, distance, measure) -> None:
    mixes = _ward_mixes(conn)
    assert len(mixes) == 26
    for code in sorted(mixes)[:6]:
        result = similar_areas(conn, code, k=4, classification=CLASSIFICATION, distance=distance)
        brute = sorted((measure(mixes[code], mixes[o]), o) for o in mixes if o != code)[:4]
        assert [s["code"] for s in result["similar"]] == [o for _, o in brute]
        for got, (d, _) in zip(result["similar"], brute, strict=True):
            assert got["distance"] == pytest.approx(d, abs=1e-4)
        assert result["candidates"] == 25
        assert result["distance"] == distance and distance in result["distance_definition"].lower()
        total = sum(mixes[code].values())
        for seg, pct in result["mix"].items():
            assert pct == pytest.approx(100 * mixes[code].get(seg, 0) / total, abs=0.005)


def test_an_area_is_its_own_nearest_and_ties_go_by_code() -> None:
    import pandas as pd

    shares = segment_shares(
        pd.DataFrame(
            {
                "area_code": ["X", "X", "Y", "Y", "Z", "Z", "W", "W"],
                "segment_code": ["A", "B"] * 4,
                "households": [10, 10, 5, 5, 10, 0, 0, 10],
            }
        )
    )
    best = most_similar(shares, "X", k=3)
    assert best["area_code"].tolist()[0] == "Y" and best["distance"].iloc[0] == 0
    # Z and W are equally far from X (Hellinger): the tie goes to the smaller code
    assert best["area_code"].tolist()[1:] == ["W", "Z"]
    assert best["similarity"].iloc[0] == 1.0


def test_within_limits_the_candidates(conn) -> None:
    oa = conn.execute(
        text("SELECT code, parent_code FROM area WHERE level = 'oa' ORDER BY code LIMIT 1")
    ).one()
    ward = conn.execute(text("SELECT parent_code FROM area WHERE code = :l"), {"l": oa.parent_code}).scalar()
    result = similar_areas(conn, oa.code, k=3, classification=CLASSIFICATION, within=ward)
    inside = set(
        conn.execute(text("SELECT oa_code FROM area_membership WHERE area_code = :w"), {"w": ward}).scalars()
    )
    assert result["similar"] and {s["code"] for s in result["similar"]} <= inside


def test_bad_requests_name_the_field(conn) -> None:
    with pytest.raises(UnknownArea):
        similar_areas(conn, "NOPE")
    with pytest.raises(InvalidRequest, match="distance"):
        similar_areas(conn, sorted(_ward_mixes(conn))[0], distance="cosine")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="`k`"):
        similar_areas(conn, sorted(_ward_mixes(conn))[0], k=0)


def test_profile_compares_with_similar_areas(conn) -> None:
    code = sorted(_ward_mixes(conn))[3]
    profile = area_profile(conn, code, CLASSIFICATION)
    direct = similar_areas(conn, code, k=5, classification=CLASSIFICATION)
    assert [s["code"] for s in profile["similar"]] == [s["code"] for s in direct["similar"]]
    for s in profile["similar"]:
        assert set(s["services"]) == {r["service"] for r in profile["services"]}
        assert s["level"] == "ward"
