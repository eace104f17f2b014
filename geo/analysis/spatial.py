"""Local spatial statistics: Getis-Ord Gi* and local Moran's I, vectorised with scipy.sparse.

The formulas are PySAL esda's (``esda.G_Local(star=True)`` and ``esda.Moran_Local``) and
the analytical z-scores agree with esda's to floating-point noise on the same values and
weights (tests/geo/analysis/test_hotspots_spatial.py). The difference is speed: one
sparse matrix-vector product instead of esda's per-observation Python, and a chunked,
vectorised conditional randomisation instead of a numba loop.

Weights are built once as a binary, symmetric-or-not sparse adjacency with a zero
diagonal (``SpatialWeights``); each statistic applies its own transform:

* ``'B'`` (binary): every neighbour weighs 1;
* ``'R'`` (row-standardised): every row sums to 1.

Gi* adds the area itself as its own neighbour (self-weight 1 before the transform,
esda's convention for binary weights; for ``'R'`` the self-weight is the row maximum, 1
for binary input, as esda does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.spatial import cKDTree

from geo.analysis.hotspots import benjamini_hochberg
from geo.errors import InvalidRequest
from geo.limits import MAX_NEIGHBOUR_PAIRS, check_limit

Transform = Literal["B", "R"]
WeightsKind = Literal["queen", "knn", "distance"]
Progress = Callable[[float], None]

#: Rows handled per block in the permutation loop: memory is block × permutations × k_max.
_BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class SpatialWeights:
    """A binary spatial weights graph: ``matrix[i, j] = 1`` when j is a neighbour of i.

    Attributes
    ----------
    ids
        Area codes in row order.
    matrix
        ``n × n`` CSR matrix of 0/1, zero diagonal.
    kind
        How neighbours were defined (``queen``, ``knn``, ``distance``, ``h3`` ...).
    params
        The parameters of that definition (``k``, ``distance_m``).
    """

    ids: np.ndarray
    matrix: sparse.csr_matrix
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of areas."""
        return int(self.matrix.shape[0])

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of neighbours of each area."""
        return np.diff(self.matrix.indptr)

    @property
    def islands(self) -> np.ndarray:
        """Positions of areas with no neighbour."""
        return np.flatnonzero(self.cardinalities == 0)

    def describe(self) -> dict[str, Any]:
        """A summary for responses: kind, parameters, size and neighbour counts."""
        card = self.cardinalities
        return {
            "kind": self.kind,
            **self.params,
            "n": self.n,
            "mean_neighbours": float(card.mean()) if self.n else 0.0,
            "min_neighbours": int(card.min()) if self.n else 0,
            "max_neighbours": int(card.max()) if self.n else 0,
            "islands": int((card == 0).sum()),
        }

    def subset(self, keep: np.ndarray) -> SpatialWeights:
        """The graph restricted to the areas at boolean mask ``keep``."""
        idx = np.flatnonzero(keep)
        return SpatialWeights(self.ids[idx], self.matrix[idx][:, idx].tocsr(), self.kind, self.params)


def _binary(n: int, rows: np.ndarray, cols: np.ndarray) -> sparse.csr_matrix:
    off = rows != cols
    data = np.ones(int(off.sum()))
    m = sparse.csr_matrix((data, (rows[off], cols[off])), shape=(n, n))
    m.sum_duplicates()
    m.data[:] = 1.0
    m.sort_indices()
    return m


def weights_from_pairs(ids: Any, left: Any, right: Any, *, kind: str = "queen") -> SpatialWeights:
    """Weights from neighbour pairs given as area codes (symmetrised; self-pairs dropped).

    Parameters
    ----------
    ids
        Every area code, in the order results should come in.
    left, right
        Codes of neighbouring areas, one pair per element (e.g. from PostGIS
        ``ST_Intersects``, which is queen contiguity: sharing one point is enough).
    """
    ids = np.asarray(ids)
    pos = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
    li = pos.reindex(np.asarray(left)).to_numpy()
    ri = pos.reindex(np.asarray(right)).to_numpy()
    ok = ~(np.isnan(li) | np.isnan(ri))
    li = li[ok].astype(np.int64)
    ri = ri[ok].astype(np.int64)
    rows = np.concatenate([li, ri])
    cols = np.concatenate([ri, li])
    return SpatialWeights(ids, _binary(len(ids), rows, cols), kind)


def _check_xy(xy: Any) -> np.ndarray:
    pts = np.asarray(xy, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
        raise InvalidRequest("`xy` is expected to be an (n, 2) array of finite projected coordinates")
    return pts


def knn_weights(ids: Any, xy: Any, k: int) -> SpatialWeights:
    """k-nearest-neighbour weights on projected points (metres; not symmetric in general).

    Ties at the k-th distance are broken by the KD-tree's order, as in libpysal's ``KNN``.
    """
    pts = _check_xy(xy)
    n = len(pts)
    if not 1 <= k < n:
        raise InvalidRequest(f"`k` was {k!r} but is expected to be between 1 and {n - 1} (areas - 1)")
    _, nn = cKDTree(pts).query(pts, k=k + 1)
    rows = np.repeat(np.arange(n), k + 1)
    cols = nn.reshape(-1)
    # The point itself usually comes first, but duplicates may displace it: drop self
    # wherever it is, then keep the first k of the rest.
    keep = cols != rows
    order = np.cumsum(keep.reshape(n, k + 1), axis=1) <= k
    keep &= order.reshape(-1)
    return SpatialWeights(np.asarray(ids), _binary(n, rows[keep], cols[keep]), "knn", {"k": k})


def distance_band_weights(ids: Any, xy: Any, distance_m: float) -> SpatialWeights:
    """Binary distance-band weights: neighbours are the points within ``distance_m`` metres."""
    pts = _check_xy(xy)
    if not distance_m > 0:
        raise InvalidRequest(f"`distance_m` was {distance_m!r} but is expected to be > 0")
    tree = cKDTree(pts)
    # count first (no pair list in memory): one request may not build millions of pairs
    n_pairs = (int(tree.count_neighbors(tree, distance_m)) - len(pts)) // 2
    check_limit(
        "neighbour pairs",
        n_pairs,
        MAX_NEIGHBOUR_PAIRS,
        "use a smaller `distance_m`, knn weights or coarser areas",
    )
    pairs = tree.query_pairs(r=distance_m, output_type="ndarray")
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return SpatialWeights(
        np.asarray(ids), _binary(len(pts), rows, cols), "distance", {"distance_m": float(distance_m)}
    )


def _check_transform(transform: str) -> Transform:
    t = transform.upper()
    if t not in ("B", "R"):
        raise InvalidRequest(f"`transform` was {transform!r} but is expected to be 'B' or 'R'")
    return t  # type: ignore[return-value]


def _check_y(y: Any, w: SpatialWeights) -> np.ndarray:
    values = np.asarray(y, dtype=float).reshape(-1)
    if values.shape[0] != w.n:
        raise InvalidRequest(f"`y` has {values.shape[0]} values but the weights have {w.n} areas")
    if not np.isfinite(values).all():
        raise InvalidRequest("`y` is expected to hold finite numbers only")
    return values


def _row_standardise(m: sparse.csr_matrix) -> sparse.csr_matrix:
    sums = np.asarray(m.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sparse.diags(scale) @ m


def star_matrix(w: SpatialWeights, transform: str) -> sparse.csr_matrix:
    """The Gi* weights: binary adjacency plus self-weight 1, then ``transform``."""
    t = _check_transform(transform)
    m = (w.matrix + sparse.identity(w.n, format="csr")).tocsr()
    return _row_standardise(m).tocsr() if t == "R" else m


def lag_matrix(w: SpatialWeights, transform: str) -> sparse.csr_matrix:
    """The adjacency (zero diagonal) under ``transform``, as local Moran's I uses it."""
    t = _check_transform(transform)
    return _row_standardise(w.matrix).tocsr() if t == "R" else w.matrix


@dataclass(frozen=True)
class LocalResult:
    """A local statistic per area with its analytical moments and z-score.

    ``z = (value − expected) / sqrt(variance)``; ``p_norm`` is the two-sided normal
    p-value of ``z`` (NaN z, at islands, gives p = 1).
    """

    statistic: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    z: np.ndarray
    transform: Transform

    @property
    def p_norm(self) -> np.ndarray:
        """Two-sided p-value of the analytical z-score."""
        p = 2 * stats.norm.sf(np.abs(self.z))
        return np.where(np.isfinite(p), p, 1.0)


def gi_star(y: Any, w: SpatialWeights, transform: str = "B") -> LocalResult:
    """Getis-Ord local G* with its analytical z-score.

    Parameters
    ----------
    y
        One non-negative value per area (in ``w.ids`` order).
    w
        Binary weights; the area's own value is included (self-weight 1).
    transform
        ``'B'`` (binary, the default) or ``'R'`` (row-standardised).

    Returns
    -------
    LocalResult with ``statistic = G*_i``.

    Notes
    -----
    ``G*_i = Σ_j w_ij y_j / Σ_j y_j`` with ``w_ii`` included. Under the randomisation
    null (Getis & Ord 1992, Geogr Anal 24:189; Ord & Getis 1995, Geogr Anal 27:286),
    ``E[G*_i] = W_i / n`` and
    ``Var[G*_i] = W_i (n − W_i) / (n − 1) / n² × s² / ȳ²`` with ``W_i = Σ_j w_ij``,
    ``ȳ`` the mean and ``s²`` the (population) variance of y. This is esda's
    ``G_Local(star=True).Zs``, matched to 1e-9 in the tests.
    """
    t = _check_transform(transform)
    values = _check_y(y, w)
    m = star_matrix(w, t)
    n = w.n
    total = values.sum()
    mean = total / n
    variance_y = (values**2).sum() / n - mean**2
    if total <= 0 or variance_y <= 1e-15 * mean**2 or (values < 0).any():
        raise InvalidRequest("`y` is constant, negative or all zero: Getis-Ord G* is undefined")
    g = (m @ values) / total
    card = np.asarray(m.sum(axis=1)).ravel()
    eg = card / n
    vg = card * (n - card) / (n - 1) / n**2 * variance_y / mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (g - eg) / np.sqrt(vg)
    return LocalResult(g, eg, vg, z, t)


def local_moran(y: Any, w: SpatialWeights, transform: str = "R") -> LocalResult:
    """Local Moran's I (Anselin 1995) with its analytical z-score under total randomisation.

    Parameters
    ----------
    y
        One value per area.
    w
        Binary weights (zero diagonal).
    transform
        ``'R'`` (row-standardised, the default, as esda) or ``'B'``.

    Notes
    -----
    With ``z_i = (y_i − ȳ) / s`` (population s): ``I_i = (n − 1) z_i Σ_j w_ij z_j / Σ_k z_k²``.
    Moments under total randomisation (Sokal, Oden & Thomson 1998, Geogr Anal 30:331,
    eqs A3-A4): ``E[I_i] = −W_i / (n − 1)`` and
    ``Var[I_i] = W2_i (n − b2)/(n − 1) + (W_i² − W2_i)(2 b2 − n)/((n − 1)(n − 2)) − E[I_i]²``
    with ``W_i = Σ_j w_ij``, ``W2_i = Σ_j w_ij²`` and kurtosis ``b2 = m4 / m2²``. These are
    esda ``Moran_Local``'s ``EI`` and ``VI``; ``z`` equals ``(Is − EI) / sqrt(VI)``.
    """
    t = _check_transform(transform)
    values = _check_y(y, w)
    n = w.n
    sd = values.std()
    if sd == 0:
        raise InvalidRequest("`y` is constant: local Moran's I is undefined")
    z = (values - values.mean()) / sd
    m = lag_matrix(w, t)
    lag = m @ z
    i_stat = (n - 1) * z * lag / (z * z).sum()
    wi = np.asarray(m.sum(axis=1)).ravel()
    wi2 = np.asarray(m.multiply(m).sum(axis=1)).ravel()
    m2 = (z * z).sum() / n
    b2 = ((z**4).sum() / n) / m2**2
    ei = -wi / (n - 1)
    vi = wi2 * (n - b2) / (n - 1) + (wi**2 - wi2) * (2 * b2 - n) / ((n - 1) * (n - 2)) - ei**2
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = (i_stat - ei) / np.sqrt(vi)
    return LocalResult(i_stat, ei, vi, zs, t)


def moran_quadrant(y: Any, w: SpatialWeights, transform: str = "R") -> np.ndarray:
    """Moran scatterplot quadrant per area: ``high_high``, ``low_high``, ``low_low``, ``high_low``."""
    values = np.asarray(y, dtype=float)
    z = values - values.mean()
    lag = lag_matrix(w, transform) @ z
    hi, lag_hi = z > 0, lag > 0
    out = np.where(hi, np.where(lag_hi, "high_high", "high_low"), np.where(lag_hi, "low_high", "low_low"))
    return out.astype(object)


def _permuted_ids(n: int, k_max: int, permutations: int, rng: np.random.Generator) -> np.ndarray:
    # One draw of k_max distinct positions out of the n - 1 "other" areas per permutation,
    # shared by every area (esda's design): area i maps position p to p + (p >= i).
    return np.stack([rng.choice(n - 1, size=k_max, replace=False) for _ in range(permutations)])


def permutation_p_values(
    y: Any,
    w: SpatialWeights,
    statistic: Literal["gistar", "moran"],
    *,
    transform: str,
    permutations: int = 999,
    seed: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Two-sided pseudo p-values by conditional randomisation, vectorised in blocks.

    Parameters
    ----------
    y, w, transform
        As for ``gi_star`` / ``local_moran``.
    statistic
        ``'gistar'`` or ``'moran'``.
    permutations
        Number of random relabellings per area.
    seed
        Seed for reproducible draws.
    progress
        Called with the fraction done (0..1) after each block.

    Returns
    -------
    Array of p-values, ``min(1, 2 (min(#sim ≥ obs, #sim ≤ obs) + 1) / (P + 1))``.

    Notes
    -----
    Conditional randomisation (Anselin 1995): area i keeps its own value and its
    neighbours' values are replaced by a random draw, without replacement, from the
    other n − 1 areas; the statistic is recomputed with i's own weights. As in esda,
    one set of random positions per permutation is shared by all areas. Each block of
    areas is one gather and one ``einsum``: no per-area Python.
    """
    if permutations < 1:
        raise InvalidRequest(f"`permutations` was {permutations!r} but is expected to be >= 1")
    t = _check_transform(transform)
    values = _check_y(y, w)
    n = w.n
    rng = np.random.default_rng(seed)
    if statistic == "gistar":
        m = star_matrix(w, t)
        self_w = m.diagonal()
        off = (m - sparse.diags(self_w)).tocsr()
        off.eliminate_zeros()
        data = values
        observed = gi_star(values, w, t).statistic
        scaling = values.sum()
    elif statistic == "moran":
        off = lag_matrix(w, t).tocsr()
        data = (values - values.mean()) / values.std()
        observed = local_moran(values, w, t).statistic
        scaling = (n - 1) / (data * data).sum()
        self_w = np.zeros(n)
    else:
        raise InvalidRequest(f"`statistic` was {statistic!r} but is expected to be 'gistar' or 'moran'")
    card = np.diff(off.indptr)
    k_max = int(card.max()) if n else 0
    if k_max == 0:
        return np.ones(n)
    ids = _permuted_ids(n, k_max, permutations, rng)
    # Padded per-row weights: row i holds its k_i neighbour weights then zeros.
    slot = np.arange(off.nnz) - np.repeat(off.indptr[:-1], card)
    padded = np.zeros((n, k_max))
    padded[np.repeat(np.arange(n), card), slot] = off.data
    larger = np.zeros(n)
    smaller = np.zeros(n)
    block = max(1, _BLOCK_ELEMENTS // (permutations * k_max))
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        pos = ids[None, :, :] + (ids[None, :, :] >= rows[:, None, None])
        lagged = np.einsum("bpk,bk->bp", data[pos], padded[rows])
        if statistic == "gistar":
            sims = (lagged + (self_w[rows] * data[rows])[:, None]) / scaling
        else:
            sims = data[rows][:, None] * lagged * scaling
        obs = observed[rows][:, None]
        # A relative tolerance keeps exact ties (common with integer data) counted as ties.
        tol = 1e-12 * np.maximum(1.0, np.abs(obs))
        larger[rows] = (sims >= obs - tol).sum(axis=1)
        smaller[rows] = (sims <= obs + tol).sum(axis=1)
        if progress is not None:
            progress(min(1.0, (rows[-1] + 1) / n))
    p = 2 * (np.minimum(larger, smaller) + 1) / (permutations + 1)
    p = np.minimum(1.0, p)
    p[card == 0] = 1.0
    return p


def spatial_classes(
    method: Literal["gistar", "moran"],
    z: np.ndarray,
    p_values: np.ndarray,
    fdr: float,
    quadrant: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg q-values and classes for a local statistic.

    Gi*: ``hot`` (significant, z > 0), ``not`` (significant, z < 0), else ``as_expected``.
    Moran: the quadrant (``high_high``, ``low_low``, ``high_low``, ``low_high``) where
    significant, else ``as_expected``.
    """
    if not 0 < fdr < 1:
        raise InvalidRequest(f"`fdr` was {fdr!r} but is expected to be between 0 and 1 (exclusive)")
    q = benjamini_hochberg(p_values)
    sig = np.isfinite(q) & (q <= fdr) & np.isfinite(z)
    out = np.full(len(z), "as_expected", dtype=object)
    if method == "gistar":
        out[sig & (z > 0)] = "hot"
        out[sig & (z < 0)] = "not"
    else:
        if quadrant is None:
            raise InvalidRequest("local Moran classes need the quadrant of every area")
        out[sig] = quadrant[sig]
    return q, out


# ---------------------------------------------------------------------------- smoothed rates


def _check_rates_input(events: Any, base: Any) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(events, dtype=float).reshape(-1)
    b = np.asarray(base, dtype=float).reshape(-1)
    if e.shape != b.shape:
        raise InvalidRequest(f"`events` has {e.shape[0]} values but `base` has {b.shape[0]}")
    if not (np.isfinite(e).all() and np.isfinite(b).all()) or (e < 0).any() or (b <= 0).any():
        raise InvalidRequest("`events` must be finite and >= 0 and `base` finite and > 0 in every area")
    return e, b


def eb_global(events: Any, base: Any) -> np.ndarray:
    """Global empirical-Bayes smoothed rates (Marshall 1991), as GeoDa and PySAL esda.

    Parameters
    ----------
    events
        Count per area (service use).
    base
        Population at risk per area (households), all > 0.

    Returns
    -------
    Smoothed rate per area: ``w_i r_i + (1 − w_i) r̄`` with ``r_i = e_i / b_i``,
    ``r̄ = Σe / Σb``, ``w_i = s² / (s² + r̄ / b_i)`` and the method-of-moments prior variance
    ``s² = Σ b_i (r_i − r̄)² / Σ b − r̄ / b̄`` (``b̄`` the mean base), set to 0 when
    negative (then every area gets r̄). Small areas (small ``b_i``) are pulled hardest
    towards the mean. Equals ``esda.smoothing.Empirical_Bayes(e, b).r`` whenever
    ``s² >= 0`` (esda does not truncate).
    """
    e, b = _check_rates_input(events, base)
    mean = e.sum() / b.sum()
    rate = e / b
    s2 = (b * (rate - mean) ** 2).sum() / b.sum() - mean / b.mean()
    s2 = max(float(s2), 0.0)
    denom = s2 + mean / b
    weight = np.divide(s2, denom, out=np.zeros_like(b), where=denom > 0)
    return weight * rate + (1 - weight) * mean


def eb_spatial(events: Any, base: Any, w: SpatialWeights) -> np.ndarray:
    """Spatial empirical-Bayes smoothed rates: the prior of each area is its neighbourhood's.

    Notes
    -----
    With ``S = W + I`` (binary neighbours plus the area itself), the local prior mean is
    ``m_i = (S e)_i / (S b)_i``, the local prior variance
    ``s²_i = Σ_j S_ij b_j (r_j − m_i)² / (S b)_i − m_i / ((S b)_i / (S 1)_i)`` (0 if
    negative), and the smoothed rate ``m_i + (r_i − m_i) s²_i / (s²_i + m_i / b_i)``. This is
    ``esda.smoothing.Spatial_Empirical_Bayes`` (after GeoDa), computed with sparse
    products instead of a loop over areas: the squared deviations expand to
    ``S (b r²) − 2 m (S e) + m² (S b)``.
    """
    e, b = _check_rates_input(events, base)
    if len(e) != w.n:
        raise InvalidRequest(f"`events` has {len(e)} values but the weights have {w.n} areas")
    s = (w.matrix + sparse.identity(w.n, format="csr")).tocsr()
    s.data[:] = 1.0
    rate = e / b
    sb = s @ b
    se = s @ e
    m = se / sb
    count = s @ np.ones(w.n)
    v = s @ (b * rate**2) - 2 * m * se + m**2 * sb
    s2 = np.maximum(v / sb - m / (sb / count), 0.0)
    denom = s2 + m / b
    weight = np.divide(s2, denom, out=np.zeros_like(b), where=denom > 0)
    return m + (rate - m) * weight
