"""Emerging hot spots: Gi* per time slice, a Mann-Kendall trend, and Esri's categories.

For areas × time slices (months or quarters) of a value (the ratio O/E of each slice, say):

1. Getis-Ord Gi* of every slice (``spatial.gi_star``), two-sided normal p-values, and
   Benjamini-Hochberg at ``fdr`` within each slice: every (area, slice) is ``hot``, ``cold``
   or neither;
2. the Mann-Kendall trend test of each area's Gi* z-scores over time (Mann 1945; Kendall
   1975): ``S = Σ_{i<j} sign(z_j − z_i)``, ``Var S = n(n − 1)(2n + 5)/18`` less the ties
   term, ``Z = (S ∓ 1)/sqrt(Var S)`` (continuity-corrected), two-sided normal p-value;
3. a category, as Esri's *Emerging Hot Spot Analysis* defines them (ArcGIS Pro, "How
   Emerging Hot Spot Analysis works"), for hot spots (and their cold-spot twins):

   * ``new``: hot in the final slice only;
   * ``consecutive``: one uninterrupted run of at least two hot slices ending with the final
     one, never hot before it, hot in fewer than 90 % of slices;
   * ``intensifying`` / ``persistent`` / ``diminishing``: hot in at least 90 % of slices
     including the final one, with a significant upward / no / a significant downward trend of
     z (for cold spots "intensifying" means z falling);
   * ``sporadic``: hot in the final slice, on and off before, never cold, under 90 %;
   * ``oscillating``: hot in the final slice, cold in some earlier slice, under 90 %;
   * ``historical``: not hot in the final slice but hot in at least 90 % of the others;
   * else ``no_pattern``.

Everything is vectorised over areas (the slice loop is over a dozen slices at most).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from geo.analysis import spatial
from geo.analysis.hotspots import benjamini_hochberg
from geo.errors import InvalidRequest

CATEGORIES: tuple[str, ...] = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)


def mann_kendall(x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall trend test along the last axis: ``(S, Z, p)`` per row (ties corrected)."""
    values = np.asarray(x, dtype=float)
    n = values.shape[-1]
    if n < 3:
        raise InvalidRequest(f"a trend needs at least 3 time slices, got {n}")
    i, j = np.triu_indices(n, k=1)
    s = np.sign(values[..., j] - values[..., i]).sum(axis=-1)
    # Ties: Σ t(t − 1)(2t + 5) over groups of equal values in each row.
    ordered = np.sort(values, axis=-1)
    same = np.concatenate(
        [np.zeros(values.shape[:-1] + (1,), bool), ordered[..., 1:] == ordered[..., :-1]], axis=-1
    )
    # Group sizes from runs of "same as previous".
    ties = np.zeros(values.shape[:-1])
    run = np.ones(values.shape[:-1])
    for k in range(1, n):
        cont = same[..., k]
        ended = ~cont
        ties += np.where(ended & (run > 1), run * (run - 1) * (2 * run + 5), 0.0)
        run = np.where(cont, run + 1, 1.0)
    ties += np.where(run > 1, run * (run - 1) * (2 * run + 5), 0.0)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.where(var > 0, z, 0.0)
    p = 2 * stats.norm.sf(np.abs(z))
    return s, z, p


def slice_classes(values: np.ndarray, w: spatial.SpatialWeights, fdr: float) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z per (area, slice) and a class: +1 hot, −1 cold, 0 neither (BH within each slice)."""
    if values.ndim != 2 or values.shape[0] != w.n:
        raise InvalidRequest("`values` is expected to be areas x slices")
    z = np.zeros(values.shape)
    cls = np.zeros(values.shape, dtype=np.int8)
    for t in range(values.shape[1]):
        col = values[:, t]
        if np.ptp(col) == 0:
            continue  # nothing varies in this slice: no hot or cold spot
        result = spatial.gi_star(col, w, "B")
        zt = np.where(np.isfinite(result.z), result.z, 0.0)
        q = benjamini_hochberg(result.p_norm)
        z[:, t] = zt
        cls[:, t] = np.where(q <= fdr, np.sign(zt), 0).astype(np.int8)
    return z, cls


def categorise(cls: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Esri's emerging hot spot category per area from its slice classes and z trend."""
    n_areas, n = cls.shape
    out = np.full(n_areas, "no_pattern", dtype=object)
    for sign, suffix in ((1, "hot_spot"), (-1, "cold_spot")):
        on = cls == sign
        other = cls == -sign
        final = on[:, -1]
        share = on.mean(axis=1)
        before = on[:, :-1]
        # Length of the run of "on" slices ending at the final one.
        off_from_end = ~on[:, ::-1]
        run = np.where(off_from_end.any(axis=1), off_from_end.argmax(axis=1), n)
        # Hot before the slice that precedes the final run (that slice itself is off).
        earlier_on = (on & (np.arange(n)[None, :] < (n - 1 - run)[:, None])).any(axis=1)
        up = (trend_p < alpha) & (trend_z * sign > 0)
        down = (trend_p < alpha) & (trend_z * sign < 0)
        mostly = share >= 0.9
        labels = np.full(n_areas, "", dtype=object)
        labels[final & mostly & up] = "intensifying"
        labels[final & mostly & down] = "diminishing"
        labels[final & mostly & ~up & ~down] = "persistent"
        rest = final & ~mostly
        labels[rest & (run == 1) & ~before.any(axis=1)] = "new"
        labels[rest & (run >= 2) & ~earlier_on & (labels == "")] = "consecutive"
        labels[rest & (labels == "") & other.any(axis=1)] = "oscillating"
        labels[rest & (labels == "")] = "sporadic"
        labels[~final & (before.mean(axis=1) >= 0.9)] = "historical"
        chosen = (labels != "") & (out == "no_pattern")
        out[chosen] = [f"{lab}_{suffix}" for lab in labels[chosen]]
    return out


def emerging_hot_spots(
    values: Any, w: spatial.SpatialWeights, *, fdr: float = 0.05, alpha: float = 0.05
) -> dict[str, np.ndarray]:
    """Gi* per slice, Mann-Kendall of each area's z, and the category (see module notes)."""
    v = np.asarray(values, dtype=float)
    z, cls = slice_classes(v, w, fdr)
    s, trend_z, trend_p = mann_kendall(z)
    return {
        "z": z,
        "classes": cls,
        "trend_s": s,
        "trend_z": trend_z,
        "trend_p": trend_p,
        "category": categorise(cls, trend_z, trend_p, alpha),
    }
