"""Adjacency (flexibly shaped) scan windows against a brute-force reference and a planted L shape."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from geo.analysis.scan import adjacency_windows, brute_force_adjacency_scan, poisson_llr, spatial_scan
from geo.errors import InvalidRequest


def _grid(side: int) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Cell centres of a side x side lattice (100 m cells) and queen contiguity written out by hand."""
    x, y = np.meshgrid(np.arange(side) * 100.0, np.arange(side) * 100.0)
    xy = np.column_stack([x.ravel(), y.ravel()])
    rows, cols = [], []
    for r in range(side):
        for c in range(side):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    if (dr or dc) and 0 <= r + dr < side and 0 <= c + dc < side:
                        rows.append(r * side + c)
                        cols.append((r + dr) * side + c + dc)
    a = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(side * side, side * side))
    return xy, a


@pytest.mark.parametrize("direction", ["both", "high", "low"])
@pytest.mark.parametrize("max_size", [4, 6])
def test_every_adjacency_window_and_its_llr_match_the_brute_force_reference(direction, max_size):
    xy, a = _grid(6)
    rng = np.random.default_rng(11)
    e = rng.uniform(2, 20, len(xy))
    o = rng.poisson(e * rng.choice([0.5, 1.0, 2.0], len(xy))).astype(float)
    es = e * o.sum() / e.sum()
    members, centre, radius = adjacency_windows(xy, es, a, 0.25, max_size)
    ours = {}
    for row in members:
        s = frozenset(row[row >= 0].tolist())
        ours[s] = float(poisson_llr(o[list(s)].sum(), es[list(s)].sum(), o.sum(), direction))
    reference = {
        k: v
        for v, k in brute_force_adjacency_scan(
            o, e, xy, a, max_share=0.25, max_size=max_size, direction=direction
        )
    }
    assert len(ours) == len(members)  # no window twice
    assert set(ours) == set(reference)
    assert all(ours[k] == pytest.approx(reference[k], rel=1e-12, abs=1e-12) for k in reference)
    # Each window is connected and holds its centre; the radius is its farthest member.
    for row, c, r in zip(members, centre, radius, strict=True):
        s = row[row >= 0]
        assert s[0] == c and r == pytest.approx(np.hypot(*(xy[s] - xy[c]).T).max())
    # The scan's most likely cluster and LLR are the reference's best window.
    result = spatial_scan(
        o,
        e,
        xy,
        max_share=0.25,
        permutations=9,
        seed=1,
        direction=direction,
        window="adjacency",
        adjacency=a,
        max_size=max_size,
    )
    best_llr, best_set = max(((v, k) for k, v in reference.items()), key=lambda t: t[0])
    assert result.clusters[0].llr == pytest.approx(best_llr, rel=1e-12)
    assert frozenset(result.clusters[0].members.tolist()) == best_set
    # Secondary clusters never overlap one of their own kind.
    for kind in ("hot", "not"):
        seen: set[int] = set()
        for c in (c for c in result.clusters if c.kind == kind):
            assert not seen & set(c.members.tolist())
            seen |= set(c.members.tolist())


def test_an_l_shaped_cluster_is_found_whole_by_adjacency_windows_only():
    side = 10
    xy, a = _grid(side)
    rng = np.random.default_rng(3)
    e = np.full(len(xy), 20.0)
    # An L of four cells: one above the foot of a row of three. A window needs a centre whose
    # max_size nearest hold the whole shape: the middle of the row (its 7 nearest at <= 141 m).
    cells = [3 * side + 2, 4 * side + 2, 4 * side + 3, 4 * side + 4]
    risk = np.ones(len(xy))
    risk[cells] = 3.0
    o = rng.poisson(e * risk).astype(float)
    flexible = spatial_scan(
        o,
        e,
        xy,
        max_share=0.1,
        permutations=99,
        seed=2,
        direction="high",
        window="adjacency",
        adjacency=a,
        max_size=8,
    )
    circular = spatial_scan(o, e, xy, max_share=0.1, permutations=99, seed=2, direction="high")
    best = flexible.clusters[0]
    assert set(best.members.tolist()) == set(cells) and best.p_value <= 0.01
    assert set(circular.clusters[0].members.tolist()) != set(cells)
    assert best.llr > circular.clusters[0].llr


def test_adjacency_scan_arguments_name_the_field():
    xy, a = _grid(4)
    o = np.ones(16)
    with pytest.raises(InvalidRequest, match="adjacency"):
        spatial_scan(o, o, xy, window="adjacency")
    with pytest.raises(InvalidRequest, match="max_size"):
        spatial_scan(o, o, xy, window="adjacency", adjacency=a, max_size=40)
    with pytest.raises(InvalidRequest, match="window"):
        spatial_scan(o, o, xy, window="hexagonal")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="4 x 4|16 x 16"):
        spatial_scan(o, o, xy, window="adjacency", adjacency=sparse.eye(3))
