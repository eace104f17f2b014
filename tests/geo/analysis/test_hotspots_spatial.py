"""Gi* and local Moran's I match PySAL esda on the same values and weights."""

from __future__ import annotations

import warnings

import esda
import libpysal
import numpy as np
import pytest

from geo.analysis.spatial import (
    distance_band_weights,
    gi_star,
    knn_weights,
    local_moran,
    moran_quadrant,
    permutation_p_values,
    spatial_classes,
    weights_from_pairs,
)
from geo.errors import InvalidRequest

TOL = 1e-9  # the tolerance for z-scores against esda
SIDE = 25
_rows, _cols = np.divmod(np.arange(SIDE * SIDE), SIDE)
CLUSTER = np.flatnonzero((_rows >= 10) & (_rows < 16) & (_cols >= 10) & (_cols < 16))
CORE = np.flatnonzero((_rows >= 11) & (_rows < 15) & (_cols >= 11) & (_cols < 15))
FAR = np.flatnonzero((np.abs(_rows - 12.5) > 5) | (np.abs(_cols - 12.5) > 5))


def _lattice(side: int):
    w0 = libpysal.weights.lat2W(side, side, rook=False)
    left = [i for i, nb in w0.neighbors.items() for j in nb]
    right = [j for i, nb in w0.neighbors.items() for j in nb]
    return weights_from_pairs(np.arange(side * side), np.array(left), np.array(right))


def _as_pysal(w):
    return libpysal.weights.WSP(w.matrix.copy()).to_W(silence_warnings=True)


def _esda_g(y, w, transform):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # esda's "assuming self-weight" note for 'R'
        return esda.G_Local(y, _as_pysal(w), transform=transform, star=True, permutations=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    w = _lattice(SIDE)
    y = rng.gamma(20.0, 0.05, w.n)  # ratios around 1 with a CV of 0.22
    y[CLUSTER] *= 2  # a 6 x 6 block cluster in the middle
    return y, w


@pytest.mark.parametrize("transform", ["B", "R"])
def test_gi_star_z_matches_esda(data, transform):
    y, w = data
    ours = gi_star(y, w, transform)
    theirs = _esda_g(y, w, transform)
    assert np.max(np.abs(ours.z - theirs.Zs)) < TOL
    assert np.max(np.abs(ours.statistic - theirs.Gs)) < TOL
    assert ours.transform == transform


def test_binary_and_row_standardised_gi_star_differ(data):
    y, w = data
    assert np.max(np.abs(gi_star(y, w, "B").z - gi_star(y, w, "R").z)) > 1e-3


@pytest.mark.parametrize("transform", ["R", "B"])
def test_local_moran_z_matches_esda(data, transform):
    y, w = data
    ours = local_moran(y, w, transform)
    theirs = esda.Moran_Local(y, _as_pysal(w), transformation=transform.lower(), permutations=0)
    z_esda = (theirs.Is - theirs.EI) / np.sqrt(theirs.VI)
    assert np.max(np.abs(ours.statistic - theirs.Is)) < TOL
    assert np.max(np.abs(ours.z - z_esda)) < TOL
    # esda's quadrants 1..4 = HH, LH, LL, HL
    names = {1: "high_high", 2: "low_high", 3: "low_low", 4: "high_low"}
    assert list(moran_quadrant(y, w, transform)) == [names[q] for q in theirs.q]


def test_knn_and_distance_weights_match_libpysal():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 10_000, (400, 2))
    ids = np.arange(400)
    ours = knn_weights(ids, xy, 6)
    theirs = libpysal.weights.KNN(xy, k=6)
    assert (ours.matrix != theirs.sparse).nnz == 0
    y = rng.gamma(2.0, 2.0, 400)
    g = _esda_g(y, ours, "B")
    assert np.max(np.abs(gi_star(y, ours, "B").z - g.Zs)) < TOL
    band = distance_band_weights(ids, xy, 900.0)
    theirs_band = libpysal.weights.DistanceBand(xy, threshold=900.0, binary=True, silence_warnings=True)
    assert (band.matrix != theirs_band.sparse).nnz == 0


def test_permutation_p_values_agree_with_esda_in_distribution(data):
    y, w = data
    ours = permutation_p_values(y, w, "gistar", transform="B", permutations=999, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = esda.G_Local(y, _as_pysal(w), transform="B", star=True, permutations=999, seed=1)
    folded = np.minimum(1, 2 * theirs.p_sim)
    # Different random draws: agreement up to Monte Carlo error (sd of p ~ sqrt(p(1-p)/999)).
    assert np.corrcoef(ours, folded)[0, 1] > 0.97
    assert np.median(np.abs(ours - folded)) < 0.03
    # Progress is reported and reaches 1.
    seen: list[float] = []
    permutation_p_values(y, w, "moran", transform="R", permutations=99, seed=2, progress=seen.append)
    assert seen and seen[-1] == 1.0


def test_spatial_classes_find_the_planted_cluster(data):
    y, w = data
    result = gi_star(y, w, "B")
    _, classes = spatial_classes("gistar", result.z, result.p_norm, 0.05)
    # Every core cell (all neighbours in the cluster) is hot; almost nothing far away is.
    assert (classes[CORE] == "hot").all()
    assert (classes[FAR] == "hot").mean() < 0.02


def test_islands_are_never_significant():
    w = weights_from_pairs(np.array(["a", "b", "c", "d"]), np.array(["a", "b"]), np.array(["b", "c"]))
    assert list(w.islands) == [3]
    m = local_moran(np.array([1.0, 2.0, 3.0, 10.0]), w, "R")
    assert np.isnan(m.z[3]) and m.p_norm[3] == 1.0


def test_bad_inputs_name_the_field(data):
    y, w = data
    with pytest.raises(InvalidRequest, match="`transform`"):
        gi_star(y, w, "X")
    with pytest.raises(InvalidRequest, match="`y`"):
        gi_star(y[:-1], w)
    with pytest.raises(InvalidRequest, match="`k`"):
        knn_weights([0, 1], np.zeros((2, 2)), 5)


def test_degenerate_values_are_refused_not_divided_by_zero(data):
    _, w = data
    with pytest.raises(InvalidRequest, match="constant"):
        gi_star(np.ones(w.n), w)
    with pytest.raises(InvalidRequest, match="constant"):
        gi_star(np.zeros(w.n), w)
    with pytest.raises(InvalidRequest, match="constant"):
        local_moran(np.full(w.n, 2.0), w)
