"""Emerging hot spots: Mann-Kendall by hand and Esri's categories on planted space-time patterns."""

from __future__ import annotations

import libpysal
import numpy as np
import pytest
from scipy import stats

from geo.analysis.spatial import weights_from_pairs
from geo.analysis.trends import emerging_hot_spots, mann_kendall

SIDE = 11
T = 8
CENTRE = 5 * SIDE + 5  # the planted block is the 3 x 3 around (5, 5)


def _weights():
    w = libpysal.weights.lat2W(SIDE, SIDE, rook=False)
    sp = w.sparse.tocoo()
    return weights_from_pairs(np.arange(SIDE * SIDE), sp.row, sp.col)


def _block() -> np.ndarray:
    r, c = np.divmod(np.arange(SIDE * SIDE), SIDE)
    return (np.abs(r - 5) <= 1) & (np.abs(c - 5) <= 1)


def _cube(block_values: list[float]) -> np.ndarray:
    """Background 1 (fixed small noise) with the block at the given value in each slice."""
    rng = np.random.default_rng(0)
    background = 1 + rng.uniform(-0.05, 0.05, SIDE * SIDE)
    cube = np.repeat(background[:, None], T, axis=1)
    for t, v in enumerate(block_values):
        if v is not None:
            cube[_block(), t] = v
    return cube


def test_mann_kendall_matches_the_definition_with_ties():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 5, (20, 9)).astype(float)  # many ties
    s, z, p = mann_kendall(x)
    for row in range(20):
        xi = x[row]
        n = len(xi)
        s_hand = sum(np.sign(xi[j] - xi[i]) for i in range(n) for j in range(i + 1, n))
        _, counts = np.unique(xi, return_counts=True)
        var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in counts)) / 18
        z_hand = (s_hand - np.sign(s_hand)) / np.sqrt(var) if s_hand else 0.0
        assert s[row] == s_hand and z[row] == pytest.approx(z_hand)
        assert p[row] == pytest.approx(2 * stats.norm.sf(abs(z_hand)))


H, L, N = 3.0, 0.1, None  # hot block, cold block, background only


@pytest.mark.parametrize(
    "block, category",
    [
        ([N, N, N, N, N, N, N, H], "new_hot_spot"),
        ([N, N, N, N, N, H, H, H], "consecutive_hot_spot"),
        ([H] * T, "persistent_hot_spot"),
        ([2.0 + 0.4 * t for t in range(T)], "intensifying_hot_spot"),
        ([2.0 + 0.4 * (T - 1 - t) for t in range(T)], "diminishing_hot_spot"),
        ([N, H, N, N, H, N, N, H], "sporadic_hot_spot"),
        ([N, N, H, N, L, N, N, H], "oscillating_hot_spot"),
        ([H, H, H, H, H, H, H, N], "historical_hot_spot"),
        ([L] * T, "persistent_cold_spot"),
        ([N, N, N, N, N, N, N, L], "new_cold_spot"),
        ([N, H, N, N, L, N, N, L], "oscillating_cold_spot"),
    ],
)
def test_planted_patterns_are_named_as_esri_names_them(block, category):
    out = emerging_hot_spots(_cube(block), _weights(), fdr=0.05)
    assert out["category"][CENTRE] == category, (out["classes"][CENTRE], out["trend_z"][CENTRE])
    # Far from the block nothing happens.
    assert out["category"][0] == "no_pattern"


def test_trends_on_the_demo_by_quarter(conn):
    from geo.analysis.hotspot_queries import trend_frame
    from geo.analysis.trends import CATEGORIES
    from geo.areas import Geography

    frame = trend_frame(conn, "asb_reports", Geography("ward"), slice="quarter")
    meta = frame.attrs["meta"]
    assert len(meta["slices"]) >= 3 and meta["slice"] == "quarter"
    allowed = {"no_pattern"} | {f"{c}_{k}" for c in CATEGORIES for k in ("hot_spot", "cold_spot")}
    assert set(frame["category"]) <= allowed
    assert (frame["slices_hot"] + frame["slices_cold"] <= len(meta["slices"])).all()
    assert frame["classes"].str.count(",").eq(len(meta["slices"]) - 1).all()
    # A category with "hot" needs a hot final slice (all but historical).
    final_hot = frame["classes"].str.endswith("hot")
    hot_now = frame["category"].str.endswith("hot_spot") & ~frame["category"].str.startswith("historical")
    assert (final_hot[hot_now]).all()
