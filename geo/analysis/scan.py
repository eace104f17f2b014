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

**Adjacency windows** (``window='adjacency'``): Tango and Takahashi's flexibly shaped scan
(2005, "A flexibly shaped spatial scan statistic for detecting clusters", Int J Health Geogr
4:11). For each area i, take i and its ``max_size − 1`` nearest areas (by representative
point, ties broken by position); every subset of them that contains i and is connected
under the areas' contiguity (queen: sharing at least a point) is a window, if its expected
count is within ``max_share``. Windows found from several centres are counted once. Irregular
clusters (a street, a river bank) fit such a window where no circle does. The windows are
enumerated as bit masks over the ``2^(max_size − 1)`` subsets of each centre's neighbours,
connectivity by a flood fill over all masks of all centres at once, and counted with one
sparse (windows × areas) incidence product per block of null replicates.
``brute_force_adjacency_scan`` is the plain reference (itertools combinations and a
breadth-first search per subset).

The scan is one gather and one cumulative sum over an (areas × window-size) matrix, for
the data and for each block of null replicates: no Python loop per window or per area.
``brute_force_scan`` is a deliberately plain reference (Python loops over centres and
radii) used to check this in tests and in ``bench/hotspots.py``.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree
from scipy.special import xlogy

from geo.errors import InvalidRequest

Direction = Literal["both", "high", "low"]
Window = Literal["circular", "adjacency"]

#: Largest adjacency window (areas), Tango and Takahashi's K; 2^(K-1) subsets per centre.
MAX_ADJACENCY_SIZE = 12
DEFAULT_ADJACENCY_SIZE = 10

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
        self._prepare(np.cumsum(e[nn], axis=1).reshape(-1)[self.cells], total, direction)

    def _prepare(self, cum_e: np.ndarray, total: float, direction: Direction) -> None:
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


class _SetWindows(_Windows):
    """Windows given as area sets (rows of ``members``, −1 padded): counted by a sparse product."""

    def __init__(self, members: np.ndarray, e: np.ndarray, total: float, direction: Direction):
        n = len(e)
        keep = members >= 0
        rows = np.repeat(np.arange(len(members)), keep.sum(axis=1))
        self.incidence = sparse.csr_matrix(
            (np.ones(int(keep.sum())), (rows, members[keep])), shape=(len(members), n)
        )
        self.n = n
        self._prepare(self.incidence @ e, total, direction)

    def counts(self, data: np.ndarray) -> np.ndarray:
        lead = data.shape[:-1]
        flat = np.asarray(data, dtype=float).reshape(-1, self.n)
        return np.asarray((self.incidence @ flat.T).T).reshape(*lead, -1)


def _nearest(pts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each area and its k − 1 nearest others, by (distance, position), the area itself first.

    Ties at the k-th distance are broken by position, never by the tree's search order: the
    tree is asked for more neighbours until the k-th is strictly nearer than the last returned.
    """
    n = len(pts)
    tree = cKDTree(pts)
    q = min(n, 2 * k + 8)
    while True:
        dist, nn = tree.query(pts, k=q)
        dist = dist.reshape(n, q)
        nn = nn.reshape(n, q)
        not_self = nn != np.arange(n)[:, None]
        order = np.lexsort((nn, dist, not_self), axis=1)
        dist = np.take_along_axis(dist, order, axis=1)
        nn = np.take_along_axis(nn, order, axis=1)
        if q == n or (dist[:, k - 1] < dist[:, -1]).all():
            return nn[:, :k], dist[:, :k]
        q = min(n, 2 * q)


def adjacency_windows(
    xy: Any, expected: Any, adjacency: Any, max_share: float, max_size: int = DEFAULT_ADJACENCY_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tango and Takahashi's flexible windows: connected subsets of each area's K nearest.

    Parameters
    ----------
    xy
        Representative points (projected metres).
    expected
        Expected counts (for the ``max_share`` limit).
    adjacency
        (n, n) matrix, non-zero where two areas are contiguous (symmetric).
    max_share
        Largest window as a share of the total expected count.
    max_size
        K: the largest window in areas (at most ``MAX_ADJACENCY_SIZE``).

    Returns
    -------
    ``(members, centre, radius)``: one row per distinct window, its areas nearest-to-centre
    first and −1 padded; the centre it was first found from; the distance from that centre
    to its farthest member.
    """
    pts = np.asarray(xy, dtype=float)
    e = np.asarray(expected, dtype=float)
    n = len(pts)
    if not 1 <= max_size <= MAX_ADJACENCY_SIZE:
        raise InvalidRequest(
            f"`max_size` was {max_size!r} but is expected to be between 1 and {MAX_ADJACENCY_SIZE} areas"
        )
    a = sparse.csr_matrix(adjacency, dtype=bool)
    if a.shape != (n, n):
        raise InvalidRequest(f"`adjacency` is expected to be {n} x {n}, one row and column per area")
    k = min(max_size, n)
    subsets = 1 << (k - 1)
    if n * subsets > 40_000_000:
        raise InvalidRequest(
            f"adjacency windows of up to {k} areas over {n} areas are {n * subsets:,} subsets to test: "
            "use a smaller `max_size` or fewer areas"
        )
    nn, dist = _nearest(pts, k)
    rows = np.repeat(nn, k, axis=1).reshape(-1)
    cols = np.tile(nn, (1, k)).reshape(-1)
    local = np.asarray(a[rows, cols]).reshape(n, k, k)
    bits = np.left_shift(1, np.arange(k, dtype=np.int64))
    near_mask = (local * bits[None, None, :]).sum(axis=2)  # (n, k): local neighbours of local j
    masks = (np.arange(subsets, dtype=np.int64) << 1) | 1  # every subset holding the centre (bit 0)
    reach = np.ones((n, subsets), dtype=np.int64)
    for _ in range(k):
        grown = reach.copy()
        for j in range(k):
            grown |= ((reach >> j) & 1) * near_mask[:, j][:, None]
        grown &= masks[None, :]
        if np.array_equal(grown, reach):
            break
        reach = grown
    member_bits = ((masks[:, None] >> np.arange(k)) & 1).astype(bool)  # (subsets, k)
    window_e = e[nn] @ member_bits.T.astype(float)
    valid = (reach == masks[None, :]) & (window_e <= max_share * e.sum() * (1 + 1e-12))
    ci, si = np.nonzero(valid)
    inside = member_bits[si]
    # Members nearest first, padding last (a stable sort of "outside" flags keeps the order).
    order = np.argsort(~inside, axis=1, kind="stable")
    members = np.where(
        np.take_along_axis(inside, order, axis=1), np.take_along_axis(nn[ci], order, axis=1), -1
    )
    radius = np.where(
        np.take_along_axis(inside, order, axis=1), np.take_along_axis(dist[ci], order, axis=1), 0
    )
    key = np.sort(np.where(members >= 0, members, n), axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    first = np.sort(first)
    return members[first], ci[first], radius[first].max(axis=1)


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
    window: Window = "circular",
    adjacency: Any = None,
    max_size: int = DEFAULT_ADJACENCY_SIZE,
) -> ScanResult:
    """Kulldorff's Poisson scan over circular or adjacency windows with Monte Carlo p-values.

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
    window
        ``circular`` (Kulldorff) or ``adjacency`` (Tango and Takahashi's flexible windows:
        connected subsets of each area's ``max_size`` nearest; needs ``adjacency``).
    adjacency
        (n, n) contiguity matrix, for ``window='adjacency'``.
    max_size
        Largest adjacency window in areas.

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
    if window == "adjacency":
        if adjacency is None:
            raise InvalidRequest("`window='adjacency'` needs the areas' contiguity (`adjacency`)")
        return _adjacency_scan(
            o, e, pts, adjacency, max_share, max_size, permutations, direction, alpha, max_clusters, seed
        )
    if window != "circular":
        raise InvalidRequest(f"`window` was {window!r} but is expected to be 'circular' or 'adjacency'")
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
        params={"permutations": permutations, "alpha": alpha, "seed": seed, "window": "circular"},
    )


def _adjacency_scan(
    o: np.ndarray,
    e: np.ndarray,
    pts: np.ndarray,
    adjacency: Any,
    max_share: float,
    max_size: int,
    permutations: int,
    direction: Direction,
    alpha: float,
    max_clusters: int,
    seed: int | None,
) -> ScanResult:
    """The scan over adjacency windows (see the module notes); same inference as the circular one."""
    total = float(o.sum())
    members, centre, radius = adjacency_windows(pts, e, adjacency, max_share, max_size)
    windows = _SetWindows(members, e, total, direction)
    counts = windows.counts(o)
    llr = windows.llr(counts)
    rng = np.random.default_rng(seed)
    probs = e / e.sum()
    block = max(1, _BLOCK_CELLS // max(1, len(members)))
    null_max = np.empty(permutations)
    for start in range(0, permutations, block):
        stop = min(permutations, start + block)
        sims = rng.multinomial(int(total), probs, size=stop - start)
        sim_llr = windows.llr(windows.counts(sims))
        null_max[start:stop] = sim_llr.max(axis=1) if sim_llr.shape[1] else 0.0
    ordered_null = np.sort(null_max)
    sides = {"high": [counts > windows.e], "low": [counts < windows.e]}
    sides["both"] = sides["high"] + sides["low"]
    padded = np.where(members >= 0, members, len(o))
    clusters: list[Cluster] = []
    for side in sides[direction]:
        current = np.where(side, llr, 0.0)
        used = np.zeros(len(o) + 1, dtype=bool)
        picked = 0
        while picked < max_clusters:
            w = int(np.argmax(current)) if len(current) else 0
            best = float(current[w]) if len(current) else 0.0
            if best <= 0:
                break
            p = (1 + permutations - np.searchsorted(ordered_null, best, side="left")) / (permutations + 1)
            if picked and p > alpha:
                break
            area_set = members[w][members[w] >= 0]
            clusters.append(
                Cluster(
                    members=area_set,
                    centre=int(centre[w]),
                    radius=float(radius[w]),
                    observed=float(o[area_set].sum()),
                    expected=float(e[area_set].sum()),
                    llr=best,
                    p_value=float(p),
                    total=total,
                )
            )
            picked += 1
            used[area_set] = True
            current[used[padded].any(axis=1)] = 0.0
    clusters.sort(key=lambda c: -c.llr)
    if clusters:
        clusters = [clusters[0]] + [c for c in clusters[1:] if c.p_value <= alpha]
    return ScanResult(
        clusters=clusters[:max_clusters],
        null_max=null_max,
        windows=len(members),
        max_share=max_share,
        direction=direction,
        params={
            "permutations": permutations,
            "alpha": alpha,
            "seed": seed,
            "window": "adjacency",
            "max_size": max_size,
        },
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


def brute_force_adjacency_scan(
    observed: Any,
    expected: Any,
    xy: Any,
    adjacency: Any,
    *,
    max_share: float = 0.1,
    max_size: int = DEFAULT_ADJACENCY_SIZE,
    direction: Direction = "both",
) -> list[tuple[float, frozenset[int]]]:
    """Every flexible window and its LLR by plain loops: the slow reference for tests and the bench.

    For each centre: its ``max_size − 1`` nearest others (distance, then position), every
    combination of them (itertools) joined with the centre, kept when a breadth-first search
    from the centre inside the set reaches all of it and its expected count is within
    ``max_share``. Returns ``(llr, area set)`` pairs, distinct sets only, largest LLR first.
    """
    o, e, pts = _check(observed, expected, xy, max_share)
    total = float(o.sum())
    limit = max_share * e.sum()
    n = len(o)
    a = sparse.csr_matrix(adjacency, dtype=bool)
    near = [set(a.indices[a.indptr[i] : a.indptr[i + 1]].tolist()) for i in range(n)]
    seen: dict[frozenset[int], float] = {}
    for i in range(n):
        ranked = sorted(
            range(n),
            key=lambda j: (
                j != i,
                float(np.sqrt((pts[j, 0] - pts[i, 0]) ** 2 + (pts[j, 1] - pts[i, 1]) ** 2)),
                j,
            ),
        )
        others = ranked[1:max_size]
        for r in range(len(others) + 1):
            for combo in itertools.combinations(others, r):
                area_set = {i, *combo}
                reached = {i}
                queue = deque([i])
                while queue:
                    for nb in near[queue.popleft()]:
                        if nb in area_set and nb not in reached:
                            reached.add(nb)
                            queue.append(nb)
                if reached != area_set:
                    continue
                ew = float(sum(e[j] for j in area_set))
                if ew > limit * (1 + 1e-12):
                    continue
                key = frozenset(area_set)
                seen[key] = float(poisson_llr(float(sum(o[j] for j in area_set)), ew, total, direction))
    return sorted(((v, k) for k, v in seen.items()), key=lambda t: -t[0])
