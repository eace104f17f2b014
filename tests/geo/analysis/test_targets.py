"""Core and developmental targets: recomputed from raw counts with exact fractions."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pandas as pd
import pytest
from sqlalchemy import text

from geo.analysis.propensity import TOTAL, propensity_table
from geo.analysis.services import ServiceFilter
from geo.analysis.targets import TargetThresholds, service_targets, target_areas, target_classes
from geo.disclosure import DisclosurePolicy
from geo.errors import InvalidRequest

CLASSIFICATION = "wardwise12"


def _round(value: Fraction, places: int) -> Decimal:
    """Half away from zero, exactly, from a fraction (independent of the code's rounding)."""
    quantum = Decimal(1).scaleb(-places)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=ROUND_HALF_UP)


def _classes_by_hand(
    counts: dict[str, tuple[int, int]], min_index: float, min_share: float
) -> dict[str, str | None]:
    t_total = sum(t for t, _ in counts.values())
    b_total = sum(b for _, b in counts.values())
    out: dict[str, str | None] = {}
    for seg, (t, b) in counts.items():
        if b == 0 or t_total == 0:
            out[seg] = None
            continue
        index = _round(Fraction(100 * t * b_total, b * t_total), 0)
        share = _round(Fraction(100 * t, t_total), 2)
        if index >= Decimal(str(min_index)):
            out[seg] = "core" if share >= Decimal(str(min_share)) else "developmental"
        else:
            out[seg] = None
    return out


def test_target_classes_follow_the_rule_on_a_hand_table() -> None:
    # index A = 100*(300/500)/(1000/4000) = 240, share 60% -> core
    # B: 100*(20/500)/(100/4000) = 160, share 4% -> developmental
    # C: 100*(180/500)/(2900/4000) ~ 50 -> none
    table = propensity_table(
        pd.DataFrame({"segment": ["A", "B", "C"], "target": [300, 20, 180], "base": [1000, 100, 2900]})
    )
    classes = dict(zip(table["segment"], target_classes(table), strict=True))
    assert classes == {"A": "core", "B": "developmental", "C": None, TOTAL: None}
    # thresholds are adjustable: with a 3% share B becomes core; with index 250 nothing qualifies
    looser = target_classes(table, TargetThresholds(min_index=120, min_share_pct=3))
    assert looser.tolist()[:2] == ["core", "core"]
    assert target_classes(table, TargetThresholds(min_index=250)).isna().all()


def test_thresholds_are_checked() -> None:
    with pytest.raises(InvalidRequest, match="min_index"):
        TargetThresholds(min_index=90)
    with pytest.raises(InvalidRequest, match="min_share_pct"):
        TargetThresholds(min_share_pct=120)


@pytest.mark.parametrize("service", ["bus_pass", "asb_reports", "housing_benefit"])
def test_service_targets_match_a_recount_from_the_events(conn, service) -> None:
    unit = conn.execute(text("SELECT unit FROM service WHERE code = :s"), {"s": service}).scalar()
    counted = "count(DISTINCT e.household_key)" if unit == "membership" else "count(*)"
    # Recount: events of classified households by a plain join, households per segment.
    target = dict(
        conn.execute(
            text(
                f"SELECT hs.segment_code, {counted} FROM service_event e "
                "JOIN household_segment hs ON hs.uprn = e.uprn AND hs.classification_code = :c "
                "WHERE e.service_code = :s AND e.is_primary AND e.oa_code IS NOT NULL GROUP BY 1"
            ),
            {"c": CLASSIFICATION, "s": service},
        ).all()
    )
    base = dict(
        conn.execute(
            text(
                "SELECT hs.segment_code, count(*) FROM household_segment hs JOIN address ad USING (uprn) "
                "WHERE hs.classification_code = :c AND ad.is_residential AND ad.oa_code IS NOT NULL GROUP BY 1"
            ),
            {"c": CLASSIFICATION},
        ).all()
    )
    counts = {s: (int(target.get(s, 0)), int(b)) for s, b in base.items()}
    for min_index, min_share in [(120, 5), (110, 10)]:
        result = service_targets(
            conn, service, CLASSIFICATION, thresholds=TargetThresholds(min_index, min_share)
        )
        rows = result["rows"].set_index("segment")
        assert {s: int(rows.at[s, "target"]) for s in counts} == {s: t for s, (t, _) in counts.items()}
        expected = _classes_by_hand(counts, min_index, min_share)
        assert {s: rows.at[s, "target_class"] for s in counts} == expected
        assert sorted(result["core"]) == sorted(s for s, c in expected.items() if c == "core")
        assert sorted(result["developmental"]) == sorted(
            s for s, c in expected.items() if c == "developmental"
        )
        assert rows.at[TOTAL, "target_class"] is None


def test_bus_pass_core_targets_are_the_planted_heavy_users(conn, truth) -> None:
    """The planted rates say which segments use bus passes most: the core ones are among them."""
    rates = pd.Series(truth["services"]["bus_pass"]["rates"])
    result = service_targets(conn, "bus_pass", CLASSIFICATION)
    assert result["core"], "the demo plants heavy bus-pass segments"
    mean_rate = rates.mean()
    assert all(rates[s] > mean_rate for s in result["core"] + result["developmental"])


def test_public_targets_are_read_from_the_protected_figures(conn) -> None:
    # A small area: some segments' counts are suppressed, and those rows get no class.
    oa = conn.execute(
        text("SELECT code FROM area WHERE level = 'oa' AND set_code = 'demo' ORDER BY households LIMIT 1")
    ).scalar()
    public = service_targets(
        conn, "asb_reports", CLASSIFICATION, ServiceFilter(within=oa), policy=DisclosurePolicy()
    )
    rows = public["rows"]
    hidden = rows["index"].isna()
    assert hidden.any()
    assert rows.loc[hidden, "target_class"].isna().all()


def test_target_areas_rank_by_unmet_demand_of_core_segments(conn) -> None:
    result = target_areas(conn, "bus_pass", "ward", top=10)
    meta, rows = result["meta"], result["rows"]
    assert meta["segments"] == meta["core"] + meta["developmental"]
    assert len(rows) > 0 and rows["unmet"].is_monotonic_decreasing
    for r in rows.itertuples():
        assert set(r.core_segments) <= set(meta["core"])
        assert set(r.developmental_segments) <= set(meta["developmental"])
        assert sorted(r.core_segments + r.developmental_segments) == sorted(r.segments)
    only_core = target_areas(conn, "bus_pass", "ward", classes=("core",), top=10)
    assert only_core["meta"]["segments"] == meta["core"]
    nothing = target_areas(conn, "bus_pass", "ward", thresholds=TargetThresholds(min_index=5000))
    assert nothing["rows"] == [] and nothing["meta"]["segments"] == []
