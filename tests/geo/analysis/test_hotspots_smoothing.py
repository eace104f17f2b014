"""Empirical-Bayes smoothed rates against PySAL esda, and as a variable for Gi*/Moran."""

from __future__ import annotations

import warnings

import esda
import libpysal
import numpy as np
import pytest

from geo.analysis.hotspot_queries import SpatialOptions, hotspot_frame
from geo.analysis.spatial import eb_global, eb_spatial, gi_star, weights_from_pairs
from geo.areas import Geography
from geo.errors import InvalidRequest


def _lattice(side: int):
    w = libpysal.weights.lat2W(side, side, rook=False)
    sp = w.sparse.tocoo()
    return weights_from_pairs(np.arange(side * side), sp.row, sp.col)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = rng.integers(20, 400, n).astype(float)  # households: small areas are noisy
    rate = rng.gamma(4.0, 0.05, n)  # real variation between areas: prior variance > 0
    return rng.poisson(b * rate).astype(float), b


def test_global_eb_matches_esda():
    e, b = _data(400, 1)
    ours = eb_global(e, b)
    theirs = esda.smoothing.Empirical_Bayes(e, b).r.ravel()
    assert np.max(np.abs(ours - theirs)) < 1e-12
    # Small areas are pulled towards the mean more than big ones.
    raw, mean = e / b, e.sum() / b.sum()
    pull = np.abs(ours - raw) / np.maximum(np.abs(raw - mean), 1e-12)
    assert pull[b < 60].mean() > pull[b > 300].mean()


def test_global_eb_without_extra_variation_is_the_mean():
    # Poisson counts around one rate: the method-of-moments prior variance is negative and
    # truncated at 0 (Marshall 1991), so every area gets the overall rate.
    rng = np.random.default_rng(2)
    b = rng.integers(50, 400, 300).astype(float)
    e = rng.poisson(0.1 * b).astype(float)
    raw = e / b
    mean = e.sum() / b.sum()
    s2 = (b * (raw - mean) ** 2).sum() / b.sum() - mean / b.mean()
    if s2 < 0:
        assert np.allclose(eb_global(e, b), mean)


def test_spatial_eb_matches_esda():
    side = 15
    w = _lattice(side)
    e, b = _data(w.n, 3)
    ours = eb_spatial(e, b, w)
    pw = libpysal.weights.WSP(w.matrix.copy()).to_W(silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = esda.smoothing.Spatial_Empirical_Bayes(e, b, pw).r.ravel()
    assert np.max(np.abs(ours - theirs)) < 1e-12


def test_bad_inputs_are_named():
    with pytest.raises(InvalidRequest, match="base"):
        eb_global([1.0, 2.0], [1.0, 0.0])


def test_eb_rate_is_a_variable_for_gistar(conn):
    oa = Geography("oa")
    frame = hotspot_frame(conn, "fire_hsv", oa, method="gistar", options=SpatialOptions(variable="eb_rate"))
    meta = frame.attrs["meta"]
    assert meta["variable"] == "eb_rate" and "empirical-Bayes" in meta["variable_description"]
    expected_value = 1000 * eb_global(frame["observed"], frame["households"])
    assert np.allclose(frame["value"], expected_value)
    moran = hotspot_frame(conn, "fire_hsv", oa, method="moran", options=SpatialOptions(variable="seb_rate"))
    assert moran.attrs["meta"]["variable"] == "seb_rate" and np.isfinite(moran["z"]).all()
    # The smoothed map is less extreme than the raw rate map.
    raw = hotspot_frame(conn, "fire_hsv", oa, method="gistar", options=SpatialOptions(variable="rate"))
    assert frame["value"].std() < raw["value"].std()
    assert np.allclose(frame["z"], gi_star(frame["value"], _weights_of(conn, frame), "B").z, equal_nan=True)


def _weights_of(conn, frame):
    from geo.analysis.hotspot_queries import area_weights

    return area_weights(conn, Geography("oa"), frame["area_code"].tolist())
