"""Kulldorff's spatial scan statistic (Poisson model), vectorised with numpy.

Testing area by area wastes the fact that real clusters are contiguous groups of areas. The
scan statistic (Kulldorff 1997, "A spatial scan statistic", Commun Stat Theory Methods
26:1481-1496; Kulldorff, Huang et al. 1998) looks at every circular window: centred on
each area's representative point, growing through its nearest neighbours until the window
holds ``max_share`` of the expected count. For a window with ``c`` observed and ``e``
expected (expected counts scaled so they add up to the total observed ``C``) the Poisson
log-likelihood ratio is

``LLR = c ln(c/e) + (C − c) ln((C − c)/(C − e))``

for an elevated window (``c > e``) or a reduced one (``c < e``), 0 otherwise. The most
likely cluster is the window with the largest LLR; its p-value is Monte Carlo: the
observed maximum against the maxima of ``permutations`` null data sets (the total ``C``
spread over areas as a multinomial with probabilities ``e_i / C``), ``p = (1 + #{null
max >= LLR}) / (P + 1)``. Secondary clusters are the next windows by LLR that do not
overlap any cluster already reported (SaTScan's default), each compared with the same
null distribution of the maximum (conservative, as in SaTScan). With ``direction='both'``
elevated and reduced clusters are picked separately (no overlap within each kind; an
area may sit in an elevated and a reduced window), while every p-value still compares
with the maximum over both directions. A window is a set of
areas: areas at the same distance from the centre as its farthest member are always
in it (ties are never split), so results do not depend on the order of tied neighbours.

The scan is one gather and one cumulative sum over an (areas × window-size) matrix, for
the data and for each block of null replicates: no Python loop per window or per area.
``brute_force_scan`` is a deliberately plain reference (Python loops over centres and
radii) used to check this in tests and in ``bench/hotspots.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import xlogy

from geo.errors import InvalidRequest

Direction = Literal["both", "high", "low"]

#: Cells of the replicate × centre × window block evaluated at once (memory bound).
_BLOCK_CELLS = 2_000_000


@dataclass(frozen=True)
class Cluster:
    """One reported cluster: an area set with its counts, relative risk, LLR and p-value."""

    members: np.ndarray  # positions of the areas, nearest to the centre first
    centre: int
    radius: float
    observed: float
    expected: float
    llr: float
    p_value: float
    total: float

    @property
    def kind(self) -> str:
        """``hot`` for an elevated cluster, ``not`` for a reduced one."""
        return "hot" if self.observed > self.expected else "not"

    @property
    def ratio(self) -> float:
        """Observed over expected inside the window."""
        return self.observed / self.expected if self.expected > 0 else float("nan")

    @property
    def relative_risk(self) -> float:
        """Kulldorff's relative risk: the rate inside over the rate outside, ``(c/e) / ((C − c)/(C − e))``."""
        outside_e = self.total - self.expected
        outside_o = self.total - self.observed
        if self.expected <= 0 or outside_e <= 0:
            return float("nan")
        inside = self.observed / self.expected
        outside = outside_o / outside_e
        return inside / outside if outside > 0 else float("inf")


@dataclass(frozen=True)
class ScanResult:
    """Clusters in descending LLR order and the null distribution of the maximum LLR."""

    clusters: list[Cluster]
    null_max: np.ndarray
    windows: int
    max_share: float
    direction: str
    params: dict[str, Any] = field(default_factory=dict)


def poisson_llr(c: Any, e: Any, total: float, direction: Direction = "both") -> np.ndarray:
    """Kulldorff's Poisson log-likelihood ratio of windows with ``c`` observed and ``e`` expected.

    ``total`` is C, the total observed (and, after scaling, expected) count. Windows that
    point the wrong way for ``direction`` (or hold no information: ``c == e``) score 0.
    """
    c = np.asarray(c, dtype=float)
    e = np.asarray(e, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = xlogy(c, c / e) + xlogy(total - c, (total - c) / (total - e))
    llr = np.where((e > 0) & (e < total) & np.isfinite(llr), llr, 0.0)
    if direction == "high":
        return np.where(c > e, llr, 0.0)
    if direction == "low":
        return np.where(c < e, llr, 0.0)
    return np.where(c != e, llr, 0.0)


def _check(
    observed: Any, expected: Any, xy: Any, max_share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o = np.asarray(observed, dtype=float).reshape(-1)
    e = np.asarray(expected, dtype=float).reshape(-1)
    pts = np.asarray(xy, dtype=float)
    if pts.ndim != 2 or pts.shape != (len(o), 2) or not np.isfinite(pts).all():
        raise InvalidRequest("`xy` is expected to be an (n, 2) array of finite projected coordinates")
    if len(e) != len(o):
        raise InvalidRequest(f"`expected` has {len(e)} values but `observed` has {len(o)}")
    if not (np.isfinite(o).all() and np.isfinite(e).all()) or (o < 0).any() or (e < 0).any():
        raise InvalidRequest("`observed` and `expected` are expected to be finite and >= 0")
    if not 0 < max_share <= 0.5:
        raise InvalidRequest(f"`max_share` was {max_share!r} but is expected to be in (0, 0.5]")
    if o.sum() <= 0 or e.sum() <= 0:
        raise InvalidRequest("nothing was observed or expected: the scan statistic is undefined")
    return o, e * (o.sum() / e.sum()), pts


def circular_windows(xy: Any, expected: Any, max_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every circular window as (centre, size) cells of a padded neighbour matrix.

    Returns
    -------
    ``(nn, dist, valid)``: ``nn[i, k]`` is the k-th nearest area to centre i (i itself
    first), ``dist`` its distance, and ``valid[i, k]`` says the first k + 1 areas form a
    window: their expected count is at most ``max_share`` of the total and the (k+1)-th
    area is strictly nearer than the (k+2)-th (ties are never split).
    """
    pts = np.asarray(xy, dtype=float)
    e = np.asarray(expected, dtype=float)
    n = len(pts)
    limit = max_share * e.sum()
    tree = cKDTree(pts)
    k = min(n, 16)
    while True:
        dist, nn = tree.query(pts, k=k)
        dist = dist.reshape(n, k)
        nn = nn.reshape(n, k)
        # Sort each row by (distance, index) so tied neighbours come in a fixed order.
        order = np.lexsort((nn, dist), axis=1)
        dist = np.take_along_axis(dist, order, axis=1)
        nn = np.take_along_axis(nn, order, axis=1)
        cum_e = np.cumsum(e[nn], axis=1)
        if k == n or (cum_e[:, -1] > limit).all():
            break
        k = min(n, 2 * k)
    # A window may end at k only if the next neighbour is farther (or there is none within k).
    tie_end = np.ones((n, k), dtype=bool)
    tie_end[:, :-1] = dist[:, 1:] > dist[:, :-1]
    if k < n:
        # The last column's successor is unknown; it is beyond the share limit anyway unless
        # that limit was never reached, which the loop above rules out.
        tie_end[:, -1] = False
    valid = (cum_e <= limit * (1 + 1e-12)) & tie_end
    return nn, dist, valid


class _Windows:
    """The valid windows as flat cells of the (centre × size) matrix, with their log terms.

    For integer counts the LLR of a window is ``T[c] + T[C − c] − c ln e − (C − c) ln(C − e)``
    with ``T[x] = x ln x`` tabulated once for x = 0..C, so each null replicate costs a
    gather, a cumulative sum and a few multiply-adds per valid window.
    """

    def __init__(self, nn: np.ndarray, valid: np.ndarray, e: np.ndarray, total: float, direction: Direction):
        self.nn = nn
        self.cells = np.flatnonzero(valid.reshape(-1))
        cum_e = np.cumsum(e[nn], axis=1).reshape(-1)[self.cells]
        self.e = cum_e
        with np.errstate(divide="ignore"):
            self.log_e = np.log(cum_e)
            self.log_rest = np.log(np.maximum(total - cum_e, 0.0))
        self.usable = (cum_e > 0) & (cum_e < total)
        with np.errstate(invalid="ignore"):
            self.slope = np.where(self.usable, self.log_e - self.log_rest, 0.0)
            self.offset = np.where(self.usable, total * self.log_rest, 0.0)
        self.total = total
        self.direction = direction
        whole = int(round(total))
        self.table = xlogy(np.arange(whole + 1, dtype=float), np.arange(whole + 1, dtype=float))

    def counts(self, data: np.ndarray) -> np.ndarray:
        """Observed count in every valid window, for data of shape (..., areas)."""
        lead = data.shape[:-1]
        cum = np.cumsum(data[..., self.nn], axis=-1)
        return cum.reshape(*lead, -1)[..., self.cells]

    def llr(self, c: np.ndarray) -> np.ndarray:
        """LLR of every valid window given its observed counts ``c`` (integers).

        ``T[c] + T[C − c] − c (ln e − ln(C − e)) − C ln(C − e)``: two table gathers and two
        multiply-adds per window; windows pointing the wrong way score 0.
        """
        ci = np.rint(c).astype(np.int64)
        whole = int(round(self.total))
        out = self.table[ci]
        out += self.table[whole - ci]
        out -= ci * self.slope
        out -= self.offset
        if self.direction == "high":
            keep = ci > self.e
        elif self.direction == "low":
            keep = ci < self.e
        else:
            keep = ci != self.e
        keep &= self.usable
        out[~np.broadcast_to(keep, out.shape)] = 0.0
        return out


def spatial_scan(
    observed: Any,
    expected: Any,
    xy: Any,
    *,
    max_share: float = 0.1,
    permutations: int = 999,
    direction: Direction = "both",
    alpha: float = 0.05,
    max_clusters: int = 100,
    seed: int | None = None,
) -> ScanResult:
    """Kulldorff's Poisson scan over circular windows with Monte Carlo p-values.

    Parameters
    ----------
    observed, expected
        Counts per area (expected counts are rescaled to add up to the observed total).
    xy
        Representative points of the areas in projected metres (British National Grid).
    max_share
        Largest window, as a share of the total expected count (SaTScan's "maximum
        spatial cluster size in % of the population at risk"; 0.5 at most).
    permutations
        Null replicates for the p-values (999 gives p down to 0.001).
    direction
        ``both`` (elevated and reduced clusters), ``high`` or ``low``.
    alpha
        Clusters are reported while their p-value is at most ``alpha`` (the most likely
        cluster is always reported).
    max_clusters
        At most this many clusters.
    seed
        Seed of the null replicates.

    Returns
    -------
    ScanResult with the clusters, most likely first.
    """
    if direction not in ("both", "high", "low"):
        raise InvalidRequest(f"`direction` was {direction!r} but is expected to be 'both', 'high' or 'low'")
    if permutations < 1:
        raise InvalidRequest(f"`permutations` was {permutations!r} but is expected to be >= 1")
    o, e, pts = _check(observed, expected, xy, max_share)
    if not np.allclose(o, np.rint(o)):
        raise InvalidRequest("`observed` is expected to hold whole counts for the scan statistic")
    o = np.rint(o)
    total = float(o.sum())
    nn, dist, valid = circular_windows(pts, e, max_share)
    windows = _Windows(nn, valid, e, total, direction)
    flat_llr = windows.llr(windows.counts(o))
    llr = np.zeros(nn.size)
    llr[windows.cells] = flat_llr
    llr = llr.reshape(nn.shape)

    rng = np.random.default_rng(seed)
    probs = e / e.sum()
    block = max(1, _BLOCK_CELLS // max(1, nn.size))
    null_max = np.empty(permutations)
    for start in range(0, permutations, block):
        stop = min(permutations, start + block)
        sims = rng.multinomial(int(total), probs, size=stop - start)
        sim_llr = windows.llr(windows.counts(sims))
        null_max[start:stop] = sim_llr.max(axis=1) if sim_llr.shape[1] else 0.0

    ordered_null = np.sort(null_max)
    counts = np.zeros(nn.size)
    counts[windows.cells] = windows.counts(o)
    counts = counts.reshape(nn.shape)
    cum_e = np.cumsum(e[nn], axis=1)
    # Elevated and reduced clusters are picked separately, each without overlap among its
    # own kind: otherwise a big elevated window could swallow a reduced cluster beside it.
    sides = {"high": [counts > cum_e], "low": [counts < cum_e], "both": [counts > cum_e, counts < cum_e]}
    clusters: list[Cluster] = []
    for side in sides[direction]:
        clusters += _pick(
            np.where(side, llr, 0.0), nn, dist, o, e, total, ordered_null, permutations, alpha, max_clusters
        )
    clusters.sort(key=lambda c: -c.llr)
    if clusters:
        # Secondary clusters beyond alpha are dropped; the most likely one is always kept.
        clusters = [clusters[0]] + [c for c in clusters[1:] if c.p_value <= alpha]
    clusters = clusters[:max_clusters]
    return ScanResult(
        clusters=clusters,
        null_max=null_max,
        windows=int(valid.sum()),
        max_share=max_share,
        direction=direction,
        params={"permutations": permutations, "alpha": alpha, "seed": seed},
    )


def _pick(
    llr: np.ndarray,
    nn: np.ndarray,
    dist: np.ndarray,
    o: np.ndarray,
    e: np.ndarray,
    total: float,
    ordered_null: np.ndarray,
    permutations: int,
    alpha: float,
    max_clusters: int,
) -> list[Cluster]:
    """Windows in descending LLR order, each overlapping none picked before (SaTScan's rule)."""
    clusters: list[Cluster] = []
    used = np.zeros(len(o), dtype=bool)
    current = llr.copy()
    columns = np.arange(nn.shape[1])[None, :]
    while len(clusters) < max_clusters:
        flat = int(np.argmax(current))
        best = float(current.flat[flat])
        if best <= 0:
            break
        i, k = divmod(flat, nn.shape[1])
        p = (1 + permutations - np.searchsorted(ordered_null, best, side="left")) / (permutations + 1)
        if clusters and p > alpha:
            break
        members = nn[i, : k + 1].copy()
        clusters.append(
            Cluster(
                members=members,
                centre=int(i),
                radius=float(dist[i, k]),
                observed=float(o[members].sum()),
                expected=float(e[members].sum()),
                llr=best,
                p_value=float(p),
                total=total,
            )
        )
        used[members] = True
        # No window overlapping a reported cluster: a window is cut at its first used area.
        hit = used[nn]
        first = np.where(hit.any(axis=1), hit.argmax(axis=1), nn.shape[1])
        current[columns >= first[:, None]] = 0.0
    return clusters


def brute_force_scan(
    observed: Any, expected: Any, xy: Any, *, max_share: float = 0.1, direction: Direction = "both"
) -> list[tuple[float, frozenset[int]]]:
    """Every circular window and its LLR by plain loops: the slow reference for tests and the bench.

    For each centre, for each distinct distance r to another area, the window is every
    area within r (ties included) if its expected count is within ``max_share`` of the
    total. Returns ``(llr, area set)`` pairs, distinct sets only, largest LLR first.
    """
    o, e, pts = _check(observed, expected, xy, max_share)
    total = float(o.sum())
    limit = max_share * e.sum()
    n = len(o)
    seen: dict[frozenset[int], float] = {}
    for i in range(n):
        d = np.hypot(pts[:, 0] - pts[i, 0], pts[:, 1] - pts[i, 1])
        for r in np.unique(d):
            inside = np.flatnonzero(d <= r)
            ew = float(e[inside].sum())
            if ew > limit * (1 + 1e-12):
                break
            members = frozenset(inside.tolist())
            seen[members] = float(poisson_llr(float(o[inside].sum()), ew, total, direction))
    return sorted(((v, k) for k, v in seen.items()), key=lambda t: -t[0])
