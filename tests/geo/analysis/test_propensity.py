"""Propensity tables reproduce published (esd-toolkit style) figures to the digit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.analysis.propensity import (
    TOTAL,
    index_confidence_interval,
    propensity_from_rows,
    propensity_table,
    round_half_away,
    round_ratio_half_away,
    table_csv,
    table_records,
)
from geo.errors import InvalidRequest

# Published-style counts and the table they must give. Every figure is checkable by hand:
#   T = 500, B = 1000
#   A: 250/500 = 50.00 %, 400/1000 = 40.00 %, 250/400 = 62.50 %, 100 x 50/40 = 125
#   B: 125/500 = 25.00 %, 400/1000 = 40.00 %, 125/400 = 31.25 %, 100 x 25/40 = 62.5 -> 63
#   C: 125/500 = 25.00 %, 200/1000 = 20.00 %, 125/200 = 62.50 %, 100 x 25/20 = 125
PUBLISHED_COUNTS = [
    {"segment": "A", "target": 250, "base": 400},
    {"segment": "B", "target": 125, "base": 400},
    {"segment": "C", "target": 125, "base": 200},
]
PUBLISHED_TABLE = [
    ("A", 250, 50.00, 400, 40.00, 62.50, 125),
    ("B", 125, 25.00, 400, 40.00, 31.25, 63),
    ("C", 125, 25.00, 200, 20.00, 62.50, 125),
    (TOTAL, 500, 100.00, 1000, 100.00, 50.00, 100),
]

# Half-way cases in the percentages:
#   T = 20000, B = 4000
#   A: 2469/20000 = 12.345 % -> 12.35; 1000/4000 = 25.00 %; 2469/1000 = 246.90 %;
#      100 x 12.345/25 = 49.38 -> 49
#   B: 17531/20000 = 87.655 % -> 87.66; 3000/4000 = 75.00 %; 17531/3000 = 584.3666.. -> 584.37;
#      100 x 87.655/75 = 116.873.. -> 117
HALF_WAY_COUNTS = [
    {"segment": "A", "target": 2469, "base": 1000},
    {"segment": "B", "target": 17531, "base": 3000},
]
HALF_WAY_TABLE = [
    ("A", 2469, 12.35, 1000, 25.00, 246.90, 49),
    ("B", 17531, 87.66, 3000, 75.00, 584.37, 117),
    (TOTAL, 20000, 100.00, 4000, 100.00, 500.00, 100),
]
FIGURES = ["segment", "target", "target_pct", "base", "base_pct", "penetration_pct", "index"]


@pytest.mark.parametrize(
    ("counts", "expected"), [(PUBLISHED_COUNTS, PUBLISHED_TABLE), (HALF_WAY_COUNTS, HALF_WAY_TABLE)]
)
def test_table_from_published_counts_reproduces_published_figures(counts, expected) -> None:
    table = propensity_from_rows(counts)
    got = [tuple(r[k] for k in FIGURES) for r in table_records(table)]
    assert got == expected


def test_rounding_is_half_away_from_zero_not_bankers() -> None:
    # Python's round() rounds half to even (62.5 -> 62, 0.125 -> 0.12), and binary floats
    # put some decimal ties below the tie (2.675 is 2.67499999...): neither may leak in.
    assert round(62.5) == 62 and round(0.125, 2) == 0.12 and round(2.675, 2) == 2.67
    assert round_ratio_half_away(125, 2, 0)[()] == 63
    assert round_ratio_half_away(-125, 2, 0)[()] == -63
    assert round_ratio_half_away(12345, 1000, 2)[()] == 12.35
    assert round_ratio_half_away(125, 1000, 2)[()] == 0.13
    assert round_half_away([62.5, -0.5, 0.5], 0).tolist() == [63, -1, 1]
    assert round_half_away(2.675, 2)[()] == 2.68
    assert round_half_away(12.345, 2)[()] == 12.35
    assert round_half_away(-2.5, 0)[()] == -3
    assert np.isnan(round_ratio_half_away(1, 0, 2)[()])


def test_issue_example_row_penetration() -> None:
    # 5581 / 12749 = 0.43775982... -> 43.78 %
    table = propensity_from_rows(
        [{"segment": "A", "target": 5581, "base": 12749}, {"segment": "B", "target": 1, "base": 1}]
    )
    assert table_records(table)[0]["penetration_pct"] == 43.78


def test_index_interval_is_katz_log_method() -> None:
    t, tt, b, bb = 250, 500, 400, 1000
    low, high = index_confidence_interval(t, tt, b, bb)
    se = np.sqrt(1 / t - 1 / tt + 1 / b - 1 / bb)
    assert low[()] == pytest.approx(125 * np.exp(-1.959964 * se), rel=1e-6)
    assert high[()] == pytest.approx(125 * np.exp(1.959964 * se), rel=1e-6)
    rows = table_records(propensity_from_rows(PUBLISHED_COUNTS))
    assert rows[0]["ci_low"] < 125 < rows[0]["ci_high"]
    assert rows[0]["significant"] is True  # 125 on 250 events: interval excludes 100
    assert rows[3]["ci_low"] is None and rows[3]["significant"] is None


def test_zero_target_has_lower_limit_zero_and_finite_upper() -> None:
    rows = table_records(
        propensity_from_rows(
            [{"segment": "A", "target": 0, "base": 500}, {"segment": "B", "target": 40, "base": 500}]
        )
    )
    assert rows[0]["index"] == 0 and rows[0]["ci_low"] == 0
    assert 0 < rows[0]["ci_high"] < 100 and rows[0]["significant"] is True


def test_zero_base_gives_nulls_not_errors() -> None:
    rows = table_records(
        propensity_from_rows(
            [{"segment": "A", "target": 0, "base": 0}, {"segment": "B", "target": 4, "base": 10}]
        )
    )
    assert rows[0]["index"] is None and rows[0]["penetration_pct"] is None and rows[0]["significant"] is None


def test_interval_covers_the_true_index_at_its_nominal_rate() -> None:
    # Simulate multinomial draws of 2,000 events over 5 segments with known shares; the
    # 95% Katz interval should contain the true index about 95% of the time (tolerance:
    # 92-98%, over 4,000 draws x 5 segments the binomial sd is 0.15 points).
    rng = np.random.default_rng(42)
    base = np.array([3000, 2500, 2000, 1500, 1000])
    rates = np.array([0.05, 0.10, 0.20, 0.30, 0.60])
    share = rates * base / (rates * base).sum()
    true_index = 100 * share / (base / base.sum())
    draws = rng.multinomial(2000, share, size=4000)
    low, high = index_confidence_interval(draws, 2000, base, base.sum())
    coverage = ((low <= true_index) & (true_index <= high)).mean()
    assert 0.92 <= coverage <= 0.98


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"segment": "A", "target": -1, "base": 3}], "target"),
        ([{"segment": "A", "target": 1.5, "base": 3}], "target"),
        ([{"segment": "A", "target": 1, "base": "x"}], "base"),
    ],
)
def test_bad_counts_are_refused_naming_the_field(rows, field) -> None:
    with pytest.raises(InvalidRequest, match=f"`{field}`"):
        propensity_table(pd.DataFrame(rows))


def test_duplicate_segments_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="unique"):
        propensity_from_rows(
            [{"segment": "A", "target": 1, "base": 3}, {"segment": "A", "target": 1, "base": 3}]
        )


def test_csv_has_one_line_per_row_and_empty_nulls() -> None:
    lines = table_csv(propensity_from_rows(PUBLISHED_COUNTS)).splitlines()
    assert lines[0].split(",")[:7] == FIGURES
    assert lines[2].startswith("B,125,25.0,400,40.0,31.25,63,")
    assert lines[-1].startswith("Total,500,100.0,1000,100.0,50.0,100,,,")


def test_absurd_counts_are_refused_not_overflowed() -> None:
    with pytest.raises(InvalidRequest, match="from 0 to"):
        propensity_from_rows([{"segment": "A", "target": 58630246706528527581184, "base": 1}])
