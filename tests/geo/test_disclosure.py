"""Disclosure control: primary suppression, secondary suppression in tables, rounding.

The secondary rule is checked for what it promises: no row or column (totals included)
has exactly one hidden entry, so no single subtraction reveals a hidden cell. An LP audit
(scipy.optimize.linprog) additionally computes, for tables where the rule's cells form
cycles, the range each hidden cell can take given everything published, and checks it is
not a single value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from geo.disclosure import (
    SECONDARY_LABEL,
    DisclosurePolicy,
    disclose,
    round_counts,
    secondary_suppression,
    small_count_mask,
    suppress_columns,
    suppress_matrix,
    suppressed_label,
    with_margins,
)


def test_counts_one_to_threshold_are_hidden_and_zero_is_shown() -> None:
    counts = np.arange(0, 8)
    assert small_count_mask(counts, 4).tolist() == [False, True, True, True, True, False, False, False]
    assert [disclose(c) for c in counts] == [0, "<5", "<5", "<5", "<5", 5, 6, 7]
    assert suppressed_label(9) == "<10"
    assert [disclose(c, threshold=9) for c in (9, 10)] == ["<10", 10]


def test_rounding_goes_to_the_nearest_multiple_with_halves_up() -> None:
    assert round_counts([0, 2, 3, 5, 7, 8, 12, 13], 5).tolist() == [0, 0, 5, 5, 5, 10, 10, 15]
    assert [disclose(c, 4, 5) for c in (3, 6, 8, 101)] == ["<5", 5, 10, 100]


def test_bad_policies_are_refused_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DisclosurePolicy(threshold=-1)
    with pytest.raises(ValueError, match="round_to_base"):
        DisclosurePolicy(round_to_base=1)


def test_suppress_columns_hides_small_counts_and_their_rates() -> None:
    frame = pd.DataFrame(
        {"area": ["a", "b", "c", "d"], "users": [0, 3, 12, None], "rate": [0.0, 0.03, 0.12, None]}
    )
    out = suppress_columns(frame, ["users"], 4, {"users": ["rate"]})
    assert out["users"].tolist() == [0, "<5", 12, None]
    assert out["rate"].tolist()[1] is None
    assert out["rate"].tolist()[2] == pytest.approx(0.12)
    # the input is not modified
    assert frame["users"].tolist()[1] == 3


def test_rounded_counts_scale_their_dependent_rates() -> None:
    frame = pd.DataFrame({"users": [12, 7], "households": [100, 100], "pct": [12.0, 7.0]})
    out = suppress_columns(frame, ["users"], 4, {"users": ["pct"]}, round_to_base=5)
    assert out["users"].tolist() == [10, 5]
    # a rate left at 12% would undo the rounding (12 = 12% of 100 households)
    assert out["pct"].tolist() == pytest.approx([10.0, 5.0])


def _lines_with_one_hidden(mask: np.ndarray) -> int:
    return int((mask.sum(axis=1) == 1).sum() + (mask.sum(axis=0) == 1).sum())


def test_secondary_suppression_leaves_no_line_with_one_hidden_entry() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        cells = rng.poisson(rng.uniform(0.5, 30), size=(rng.integers(2, 9), rng.integers(2, 9)))
        full = with_margins(cells)
        primary = small_count_mask(full, 4)
        mask = secondary_suppression(full, primary)
        assert (mask >= primary).all(), "primary suppressions are kept"
        assert _lines_with_one_hidden(mask) == 0


def test_secondary_suppression_picks_the_next_smallest_cell() -> None:
    # Row 0 has a 2 (hidden); the smallest other positive entry of row 0 is 7.
    cells = np.array([[2, 7, 30], [40, 50, 60], [45, 55, 65]])
    full = with_margins(cells)
    mask = secondary_suppression(full, small_count_mask(full, 4))
    assert mask[0, 1], "the 7 next to the 2 is hidden"
    # column 0 then has one hidden entry: its smallest other positive entry (40) goes too
    assert mask[1, 0]
    # and so on to a fixed point with no single hidden entry in any line
    assert _lines_with_one_hidden(mask) == 0


def _hidden_cell_ranges(cells: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """For each hidden interior cell, max - min over all non-negative tables that agree with
    every published cell and every published (or hidden) margin relation."""
    full = with_margins(cells)
    r, c = full.shape
    unknown = np.argwhere(hidden)
    index = {tuple(p): i for i, p in enumerate(unknown)}
    rows_eq, rhs = [], []

    def value(i: int, j: int) -> tuple[int | None, float]:
        return (index[(i, j)], 0.0) if (i, j) in index else (None, full[i, j])

    # each row: cells sum to the row total; each column: cells sum to the column total
    for lines in (
        [[(i, j) for j in range(c - 1)] + [(i, c - 1)] for i in range(r)],
        [[(i, j) for i in range(r - 1)] + [(r - 1, j)] for j in range(c)],
    ):
        for line in lines:
            coeffs = np.zeros(len(unknown))
            known = 0.0
            for k, (i, j) in enumerate(line):
                sign = -1.0 if k == len(line) - 1 else 1.0
                var, val = value(i, j)
                if var is None:
                    known += sign * val
                else:
                    coeffs[var] += sign
            rows_eq.append(coeffs)
            rhs.append(-known)
    a_eq, b_eq = np.array(rows_eq), np.array(rhs)
    ranges = []
    for k in range(len(unknown)):
        objective = np.zeros(len(unknown))
        objective[k] = 1.0
        lo = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        hi = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        assert lo.status == 0 and hi.status == 0
        ranges.append(-hi.fun - lo.fun)
    return np.array(ranges)


def test_published_totals_cannot_pin_down_a_hidden_cell() -> None:
    # Segments by ward with a few small cells, as a public profile matrix would be.
    cells = np.array(
        [
            [120, 3, 45, 80],
            [90, 60, 2, 75],
            [110, 70, 50, 95],
            [130, 85, 65, 1],
        ]
    )
    full = with_margins(cells)
    mask = secondary_suppression(full, small_count_mask(full, 4))
    ranges = _hidden_cell_ranges(cells, mask)
    assert len(ranges) >= 6
    # every hidden cell can move by at least the smallest hidden value in its cycle (>= 1)
    assert ranges.min() >= 1.0


def test_suppress_matrix_labels_primary_and_secondary_cells() -> None:
    table = pd.DataFrame(
        [[2, 7, 30], [40, 50, 60]], index=pd.Index(["w1", "w2"], name="ward"), columns=["A", "B", "C"]
    )
    out = suppress_matrix(table, 4)
    assert out.loc["w1", "A"] == "<5"
    assert out.loc["w1", "B"] == SECONDARY_LABEL
    assert out.loc["total", "total"] == 189
    assert out.index.name == "ward"
    # nothing in any row or column lets the reader subtract out a hidden value
    hidden = out.isin(["<5", SECONDARY_LABEL]).to_numpy()
    assert _lines_with_one_hidden(hidden) == 0
    inner = suppress_matrix(table, 4, margins=False)
    assert inner.shape == table.shape


def test_suppress_long_protects_an_area_by_segment_frame() -> None:
    rng = np.random.default_rng(11)
    areas = [f"ZW{i:06d}" for i in range(12)]
    segments = list("ABCDEFGHIJKL")
    frame = pd.DataFrame(
        [(a, s, int(rng.poisson(rng.choice([2, 40])))) for a in areas for s in segments],
        columns=["area_code", "segment_code", "target"],
    )
    frame["rate"] = frame["target"] / 100.0
    out = DisclosurePolicy().long(frame, "area_code", "segment_code", "target", dependent=["rate"])
    small = frame["target"].between(1, 4)
    assert (out.loc[small, "target"] == "<5").all()
    hidden = out["target"].isin(["<5", SECONDARY_LABEL])
    assert out.loc[hidden, "rate"].isna().all()
    shown = ~hidden
    assert (out.loc[shown, "target"] == frame.loc[shown, "target"]).all()
    # per area and per segment: never exactly one hidden count
    for key in ("area_code", "segment_code"):
        per_line = hidden.groupby(frame[key]).sum()
        assert not (per_line == 1).any(), f"a {key} line has one hidden cell"


def test_policy_applies_rounding_everywhere() -> None:
    policy = DisclosurePolicy(threshold=4, round_to_base=5)
    assert policy.label == "<5"
    assert policy.value(13) == 15
    frame = pd.DataFrame({"n": [3, 13, 27]})
    assert policy.columns(frame, ["n"])["n"].tolist() == ["<5", 15, 25]
