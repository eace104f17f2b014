"""Kulldorff's Poisson scan statistic against a brute-force reference and planted clusters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import xlogy

from geo.analysis.scan import brute_force_scan, circular_windows, poisson_llr, spatial_scan
from geo.errors import InvalidRequest


def _grid(side: int) -> np.ndarray:
    x, y = np.meshgrid(np.arange(side) * 100.0, np.arange(side) * 100.0)
    return np.column_stack([x.ravel(), y.ravel()])


def _planted_grid(side: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, set[int], set[int]]:
    rng = np.random.default_rng(seed)
    xy = _grid(side)
    e = rng.uniform(5, 30, len(xy))
    risk = np.ones(len(xy))
    d_hot = np.hypot(*(xy - xy[side + 1]).T)  # around (1, 1)
    d_not = np.hypot(*(xy - xy[(side - 2) * side + side - 2]).T)
    hot = set(np.flatnonzero(d_hot <= 100.0))  # a plus shape: 5 cells
    cold = set(np.flatnonzero(d_not <= 100.0))
    risk[list(hot)] = 2.5
    risk[list(cold)] = 0.2
    o = rng.poisson(e * risk).astype(float)
    return o, e, xy, hot, cold


def test_llr_matches_kulldorffs_formula():
    c, e, total = 30.0, 12.0, 200.0
    expected = c * np.log(c / e) + (total - c) * np.log((total - c) / (total - e))
    assert poisson_llr(c, e, total) == pytest.approx(expected)
    assert poisson_llr(c, e, total, "low") == 0.0
    assert poisson_llr(3.0, 12.0, total, "low") == pytest.approx(
        xlogy(3.0, 3.0 / 12.0) + xlogy(197.0, 197.0 / 188.0)
    )
    assert poisson_llr(12.0, 12.0, total) == 0.0


@pytest.mark.parametrize("direction", ["both", "high", "low"])
def test_every_window_and_its_llr_match_the_brute_force_reference(direction):
    o, e, xy, _, _ = _planted_grid(8, seed=3)
    share = 0.2
    reference = brute_force_scan(o, e, xy, max_share=share, direction=direction)
    # Ties: a regular grid has many areas at equal distances; every window must hold all of them.
    nn, dist, valid = circular_windows(xy, e * o.sum() / e.sum(), share)
    ours: dict[frozenset[int], float] = {}
    total = o.sum()
    es = e * total / e.sum()
    for i, k in zip(*np.nonzero(valid), strict=True):
        members = frozenset(nn[i, : k + 1].tolist())
        ours[members] = float(poisson_llr(o[list(members)].sum(), es[list(members)].sum(), total, direction))
    assert set(ours) == {members for _, members in reference}
    ref = {members: llr for llr, members in reference}
    assert max(abs(ours[k] - ref[k]) for k in ref) < 1e-9
    result = spatial_scan(o, e, xy, max_share=share, permutations=99, seed=1, direction=direction)
    best = result.clusters[0]
    assert frozenset(best.members.tolist()) == reference[0][1]
    assert best.llr == pytest.approx(reference[0][0], rel=1e-12)
    assert result.windows >= len(ours)  # (centre, radius) pairs; several may give one area set
    # Secondary clusters of a kind never overlap and all come in descending LLR order.
    seen: dict[str, set[int]] = {"hot": set(), "not": set()}
    for c in result.clusters:
        members = set(c.members.tolist())
        assert not members & seen[c.kind]
        seen[c.kind] |= members
        assert ref[frozenset(members)] == pytest.approx(c.llr)
    assert [c.llr for c in result.clusters] == sorted((c.llr for c in result.clusters), reverse=True)


def test_planted_hot_and_not_clusters_are_found_with_small_p_values():
    o, e, xy, hot, cold = _planted_grid(12, seed=5)
    result = spatial_scan(o, e, xy, max_share=0.1, permutations=199, seed=2)
    found_hot = [set(c.members.tolist()) for c in result.clusters if c.kind == "hot" and c.p_value <= 0.05]
    found_not = [set(c.members.tolist()) for c in result.clusters if c.kind == "not" and c.p_value <= 0.05]
    assert any(f == hot for f in found_hot), (found_hot, hot)
    assert any(f == cold for f in found_not), (found_not, cold)
    best = result.clusters[0]
    assert best.p_value == pytest.approx(1 / 200)
    # Relative risk as Kulldorff defines it: inside rate over outside rate.
    c, ex, t = best.observed, best.expected, best.total
    assert best.relative_risk == pytest.approx((c / ex) / ((t - c) / (t - ex)))


def test_null_data_rarely_gives_a_significant_cluster():
    # Under the null the most likely cluster's p-value is uniform: P(p <= 0.1) ~ 0.1.
    rng = np.random.default_rng(9)
    xy = rng.uniform(0, 5000, (150, 2))
    e = rng.uniform(5, 20, 150)
    hits = 0
    runs = 40
    for r in range(runs):
        o = rng.poisson(e).astype(float)
        result = spatial_scan(o, e, xy, max_share=0.1, permutations=99, seed=r)
        hits += result.clusters[0].p_value <= 0.1
    assert hits <= 0.1 * runs + 3 * np.sqrt(0.1 * 0.9 * runs)


def test_bad_arguments_name_the_field():
    xy = _grid(3)
    o = np.ones(9)
    with pytest.raises(InvalidRequest, match="max_share"):
        spatial_scan(o, o, xy, max_share=0.7)
    with pytest.raises(InvalidRequest, match="xy"):
        spatial_scan(o, o, xy[:4])
    with pytest.raises(InvalidRequest, match="direction"):
        spatial_scan(o, o, xy, direction="up")  # type: ignore[arg-type]
