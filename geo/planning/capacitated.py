"""Capacitated siting: a transport subproblem, a Lagrangian bound and a swap search.

Pure numpy/scipy over a demand-by-candidate cost matrix; ``geo.planning.siting`` calls
these before (and instead of, when they prove optimality) the capacitated MILP.

For an open set :math:`S` the best capacitated assignment is a transportation problem

.. math::

    T(S) = \\min \\sum_i \\sum_{j \\in S} w_i c_{ij} x_{ij} + \\sum_i M w_i u_i
    \\quad\\text{s.t.}\\quad \\sum_{j \\in S} x_{ij} + u_i = 1, \\qquad
    \\sum_i w_i x_{ij} \\le \\mathrm{cap}_j, \\qquad x, u \\ge 0,

solved exactly as a linear programme (scipy's HiGHS). ``u`` is demand left unserved at a
penalty ``M`` larger than any travel cost, so a set short of capacity is merely bad, not
an error; a capacity-feasible set never leaves demand unserved. Maximal covering with
capacities is the same problem with :math:`c_{ij} = 0` where ``j`` covers ``i`` (``x`` is
absent elsewhere) and :math:`M = 1`: :math:`T(S)` is then the demand left uncovered.

The search (a capacitated Teitz-Bart, as in Ghiani, Guerriero and Musmanno, 2002) starts
from the uncapacitated heuristic's set and a capacity-aware greedy one, then makes
improving swaps, evaluating each with :math:`T`; swaps are tried in the order of their
uncapacitated value so that good ones come first.

The lower bound relaxes :math:`\\sum_j x_{ij} = 1` with multipliers :math:`\\lambda_i`
(Cornuejols, Sridharan and Thizy, 1991). Each site's subproblem
:math:`\\rho_j = \\min \\{\\sum_i (w_i c_{ij} - \\lambda_i) x_{ij} : \\sum_i w_i x_{ij} \\le
\\mathrm{cap}_j, 0 \\le x_{ij} \\le 1\\}` is a continuous knapsack (take demand in order of
:math:`c_{ij} - \\lambda_i / w_i` while it is negative and capacity lasts), and
:math:`L(\\lambda) = \\sum_i \\lambda_i + \\sum_{j \\in F} \\rho_j + \\min_{|S| = p} \\sum_{j
\\in S} \\rho_j`. Subgradient steps as in ``siting.p_median_lagrangian``.

References
----------
Cornuejols, G., Sridharan, R. and Thizy, J. M. (1991) A comparison of heuristics and
relaxations for the capacitated plant location problem. European Journal of Operational
Research 50, 280-297.
Ghiani, G., Guerriero, F. and Musmanno, R. (2002) The capacitated plant location problem
with multiple facilities in the same site. Computers and Operations Research 29, 1903-1912.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

_TOL = 1e-9


@dataclass(frozen=True)
class Transport:
    """The best assignment to an open set: value and shares (rows x open columns)."""

    value: float
    shares: np.ndarray
    unserved: np.ndarray
    #: Capacity duals :math:`\mu_j \ge 0` of the open sites (0 where a capacity is slack).
    duals: np.ndarray


@dataclass(frozen=True)
class CapacitatedSearch:
    """What the swap search found: the best set, its assignment, the bound and effort."""

    open_sites: np.ndarray
    value: float
    shares: np.ndarray
    lower_bound: float
    evaluations: int
    seconds: float


class CapacitatedInstance:
    """A capacitated siting instance with a cache of transport solutions per open set.

    Parameters
    ----------
    cost
        ``(n, m)`` travel cost; for covering, pass ``covers`` instead of using it as cost.
    weights, capacities
        ``(n,)`` demand and ``(m,)`` capacity (``inf`` = unlimited).
    covers
        ``(n, m)`` boolean for capacitated maximal covering: cost is then 0 where a site
        covers a row and the pair is not allowed elsewhere; unserved demand costs 1.
    """

    def __init__(
        self, cost: np.ndarray, weights: np.ndarray, capacities: np.ndarray, covers: np.ndarray | None = None
    ) -> None:
        self.weights = np.asarray(weights, dtype=float)
        self.caps = np.asarray(capacities, dtype=float)
        self.rows = np.flatnonzero(self.weights > 0)
        self.w = self.weights[self.rows]
        if covers is None:
            self.cost = np.asarray(cost, dtype=float)[self.rows]
            self.allowed = np.ones_like(self.cost, dtype=bool)
            self.penalty = 2.0 * float(self.cost.max()) + 1.0
            self.covering = False
        else:
            self.allowed = np.asarray(covers, dtype=bool)[self.rows]
            self.cost = np.where(self.allowed, 0.0, 1.0)
            self.penalty = 1.0
            self.covering = True
        self.cache: dict[tuple[int, ...], Transport] = {}
        self._lp_seconds = 0.0
        self._lp_count = 0

    def fits(self, deadline: float) -> bool:
        """Whether one more transport solve (at the mean time so far) ends before ``deadline``."""
        mean = self._lp_seconds / self._lp_count if self._lp_count else 0.0
        return time.perf_counter() + mean <= deadline

    @property
    def m(self) -> int:
        """Number of candidate columns."""
        return int(self.cost.shape[1])

    def uncapacitated_cost(self) -> np.ndarray:
        """Per-row cost with no capacities: travel, or 1 where a site does not cover."""
        return np.where(self.allowed, self.cost, self.penalty)

    def transport(self, open_idx: np.ndarray) -> Transport:
        """Solve :math:`T(S)` for an open set (cached)."""
        key = tuple(int(v) for v in np.sort(open_idx))
        hit = self.cache.get(key)
        if hit is None:
            t = time.perf_counter()
            hit = self._solve(np.array(key, dtype=int))
            self._lp_seconds += time.perf_counter() - t
            self._lp_count += 1
            self.cache[key] = hit
        return hit

    def _solve(self, open_idx: np.ndarray) -> Transport:
        n1, k = self.rows.size, open_idx.size
        cost = self.cost[:, open_idx]
        allowed = self.allowed[:, open_idx]
        caps = self.caps[open_idx]
        if not self.covering:
            # Nearest open site for everyone is optimal whenever it respects the capacities.
            near = cost.argmin(axis=1)
            loads = np.bincount(near, weights=self.w, minlength=k)
            if (loads <= caps * (1 + 1e-12) + _TOL).all():
                shares = np.zeros((n1, k))
                shares[np.arange(n1), near] = 1.0
                value = float(self.w @ cost[np.arange(n1), near])
                return Transport(value, shares, np.zeros(n1), np.zeros(k))
        ii, jj = np.nonzero(allowed)
        nx = ii.size
        c = np.concatenate([self.w[ii] * cost[ii, jj], self.penalty * self.w])
        eq = sparse.csr_matrix(
            (np.ones(nx + n1), (np.concatenate([ii, np.arange(n1)]), np.arange(nx + n1))), shape=(n1, nx + n1)
        )
        finite = np.flatnonzero(np.isfinite(caps))
        a_ub = b_ub = None
        if finite.size:
            pos = {int(j): r for r, j in enumerate(finite)}
            keep = np.isin(jj, finite)
            rows = np.array([pos[int(j)] for j in jj[keep]], dtype=int)
            a_ub = sparse.csr_matrix(
                (self.w[ii[keep]], (rows, np.flatnonzero(keep))), shape=(finite.size, nx + n1)
            )
            b_ub = caps[finite]
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=eq, b_eq=np.ones(n1), bounds=(0, None), method="highs-ds")
        if res.status != 0:  # pragma: no cover - the penalty column keeps it feasible
            raise RuntimeError(f"transport LP failed: {res.message}")
        shares = np.zeros((n1, k))
        shares[ii, jj] = np.clip(res.x[:nx], 0.0, 1.0)
        unserved = np.clip(res.x[nx:], 0.0, 1.0)
        duals = np.zeros(k)
        if finite.size:
            duals[finite] = np.maximum(0.0, -np.asarray(res.ineqlin.marginals, dtype=float))
        return Transport(float(res.fun), shares, unserved, duals)

    def full_shares(self, t: Transport, open_idx: np.ndarray, n: int) -> np.ndarray:
        """Shares as an ``(n, m)`` matrix over every row and candidate."""
        out = np.zeros((n, self.m))
        out[np.ix_(self.rows, np.sort(open_idx))] = t.shares
        return out

    # ------------------------------------------------------------------ search

    def swap_order(self, open_idx: np.ndarray, movable: np.ndarray) -> list[tuple[int, int, float]]:
        r"""Every swap (out, in) with a lower bound on its transport value, best first.

        With the capacity duals :math:`\mu` of the current set (0 for the site coming in),
        weak duality gives :math:`T(S') \ge \sum_i w_i \min(M, \min_{j \in S'} c_{ij} +
        \mu_j) - \sum_{j \in S'} \mathrm{cap}_j \mu_j` for :math:`S' = S - k + j`: a swap
        whose bound is no better than the current value cannot improve and is never solved.
        """
        open_idx = np.sort(open_idx)
        mu = self.transport(open_idx).duals
        unc = self.uncapacitated_cost()
        closed = np.setdiff1d(np.arange(self.m), open_idx)
        caps = np.where(np.isfinite(self.caps[open_idx]), self.caps[open_idx], 0.0)
        sub = unc[:, open_idx] + mu[None, :]
        cap_mu = caps * mu
        out: list[tuple[int, int, float]] = []
        for pos, k in enumerate(open_idx):
            if not movable[k]:
                continue
            rest = np.delete(sub, pos, axis=1)
            without = rest.min(axis=1) if rest.shape[1] else np.full(sub.shape[0], self.penalty)
            without = np.minimum(without, self.penalty)
            totals = self.w @ np.minimum(unc[:, closed], without[:, None]) - (cap_mu.sum() - cap_mu[pos])
            out.extend((int(k), int(j), float(v)) for j, v in zip(closed, totals, strict=True))
        out.sort(key=lambda t: t[2])
        return out

    def greedy(self, p: int, fixed: np.ndarray, deadline: float, shortlist: int = 12) -> np.ndarray:
        """Add sites one at a time, each the best addition by its transport value.

        The ``shortlist`` candidates best by their uncapacitated value are tried; one whose
        lower bound (the capacity duals of the current set, 0 for the newcomer, as in
        :meth:`swap_order`) cannot beat the best addition found is skipped unsolved. Past
        ``deadline`` only the first is solved.
        """
        unc = self.uncapacitated_cost()
        chosen = [int(v) for v in fixed]
        for _ in range(p):
            closed = np.setdiff1d(np.arange(self.m), chosen)
            if chosen:
                cur = np.sort(np.array(chosen, dtype=int))
                t = self.transport(cur)
                caps = np.where(np.isfinite(self.caps[cur]), self.caps[cur], 0.0)
                base = np.minimum((unc[:, cur] + t.duals[None, :]).min(axis=1), self.penalty)
                const = float(caps @ t.duals)
            else:
                base, const = np.full(self.rows.size, self.penalty), 0.0
            bounds = self.w @ np.minimum(unc[:, closed], base[:, None]) - const
            current = unc[:, chosen].min(axis=1) if chosen else np.full(self.rows.size, self.penalty)
            estimate = self.w @ np.minimum(unc[:, closed], current[:, None])
            order = np.argsort(estimate, kind="stable")[:shortlist]
            best_j, best_v = int(closed[order[0]]), np.inf
            for n_solved, pos in enumerate(order):
                if n_solved and not self.fits(deadline):
                    break
                if bounds[pos] >= best_v - _TOL * max(1.0, abs(best_v)):
                    continue  # cannot beat the best addition found
                j = int(closed[pos])
                v = self.transport(np.array([*chosen, j])).value
                if v < best_v:
                    best_j, best_v = j, v
            chosen.append(best_j)
        return np.sort(np.array(chosen, dtype=int))

    def local_search(
        self, start: np.ndarray, fixed: np.ndarray, deadline: float
    ) -> tuple[np.ndarray, float, bool]:
        """First-improvement swaps from ``start``; return (set, value, reached a local optimum)."""
        movable = np.ones(self.m, dtype=bool)
        movable[fixed] = False
        current = np.sort(np.asarray(start, dtype=int))
        value = self.transport(current).value
        while True:
            improved = False
            for k, j, bound in self.swap_order(current, movable):
                if bound >= value - _TOL * max(1.0, abs(value)):
                    break  # sorted: no later swap can improve either
                if not self.fits(deadline):
                    return current, value, False
                trial = np.sort(np.append(current[current != k], j))
                v = self.transport(trial).value
                if v < value - _TOL * max(1.0, abs(value)):
                    current, value, improved = trial, v, True
                    break
            if not improved:
                return current, value, True

    def lagrangian_bound(
        self, p: int, fixed: np.ndarray, upper: float, *, time_limit_s: float, max_iter: int = 400
    ) -> tuple[float, list[np.ndarray]]:
        """Lagrangian lower bound on the optimum; also the distinct open sets it met.

        Valid for any multipliers; the bound is in the units of :meth:`transport` (for
        covering: uncovered demand).
        """
        w = self.w
        per_unit = np.where(self.allowed, self.cost, np.inf)  # c_ij, inf where not allowed
        free = np.setdiff1d(np.arange(self.m), fixed)
        caps = self.caps
        # Start from each row's cheapest allowed weighted cost (or the penalty).
        lam = w * np.minimum(np.min(per_unit, axis=1), self.penalty)
        best_lb, theta, stall = -np.inf, 2.0, 0
        sets: list[np.ndarray] = []
        seen: set[tuple[int, ...]] = set()
        t0 = time.perf_counter()
        for _ in range(max_iter):
            # u_i (unserved) has its own reduced cost M w_i - lam_i: take it when negative.
            u_take = (self.penalty * w - lam) < 0
            lb_u = float(np.minimum(0.0, self.penalty * w - lam).sum())
            v = per_unit - (lam / w)[:, None]  # reduced cost per unit of weight
            order = np.argsort(v, axis=0, kind="stable")
            vs = np.take_along_axis(v, order, axis=0)
            ws = w[order]
            cum = np.cumsum(ws, axis=0)
            before = cum - ws
            frac = np.clip((caps[None, :] - before) / ws, 0.0, 1.0)
            frac = np.where(vs < 0, frac, 0.0)
            rho = (np.where(vs < 0, vs, 0.0) * ws * frac).sum(axis=0)
            chosen = free[np.argpartition(rho[free], p - 1)[:p]] if p > 0 else free[:0]
            open_idx = np.sort(np.concatenate([fixed, chosen]).astype(int))
            lb = float(lam.sum() + lb_u + rho[open_idx].sum())
            key = tuple(int(x) for x in open_idx)
            if key not in seen:
                seen.add(key)
                sets.append(open_idx)
            if not np.isfinite(best_lb) or lb > best_lb + 1e-12 * max(1.0, abs(best_lb)):
                best_lb, stall = lb, 0
            else:
                stall += 1
                if stall >= 15:
                    theta, stall = theta / 2, 0
            if upper - best_lb <= 1e-7 * max(abs(upper), 1.0) or theta < 1e-5:
                break
            if time.perf_counter() - t0 > time_limit_s:
                break
            # Subgradient of sum_j x_ij + u_i = 1 at the relaxed solution.
            x = np.zeros_like(v)
            taken = np.zeros_like(frac)
            taken[:, open_idx] = frac[:, open_idx]
            np.put_along_axis(x, order, taken, axis=0)
            g = 1.0 - x.sum(axis=1) - u_take
            norm = float(g @ g)
            if norm == 0:
                break
            lam = lam + theta * (upper - lb) / norm * g
        return best_lb, sets


def search(
    inst: CapacitatedInstance,
    p: int,
    fixed: np.ndarray,
    starts: list[np.ndarray],
    time_limit_s: float,
) -> CapacitatedSearch:
    """A Lagrangian bound, then swap search from the given starts and the bound's sets.

    The bound comes first, with up to 40 % of the time (it is numpy alone, stops early when
    it meets the given starts' best value, and its subproblems choose open sets that are
    often better starts than the uncapacitated answer when capacities bind hard). Swaps from
    the best start by transport value follow, then from the others, then the capacity-aware
    greedy if time is left. No transport solve is begun that, at the mean solve time so far,
    would end after the limit.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    fixed = np.asarray(fixed, dtype=int)
    candidates = [np.sort(np.asarray(s, dtype=int)) for s in starts]
    best_set = min(candidates, key=lambda s: inst.transport(s).value)
    best_val = inst.transport(best_set).value
    lb, sets = inst.lagrangian_bound(p, fixed, best_val, time_limit_s=0.4 * time_limit_s)
    unc = inst.uncapacitated_cost()
    pool = {tuple(int(v) for v in s) for s in [*candidates, *sets[-12:]]}
    # Rank starts by their uncapacitated value (no LP needed), the given ones first.
    ranked = sorted(pool, key=lambda k: float(inst.w @ unc[:, list(k)].min(axis=1)))
    given = [tuple(int(v) for v in s) for s in candidates]
    order = given + [k for k in ranked if k not in given]
    tried: set[tuple[int, ...]] = set()
    for key in order:
        if key in tried or not inst.fits(deadline):
            continue
        tried.add(key)
        found, value, _ = inst.local_search(np.array(key, dtype=int), fixed, deadline)
        if value < best_val:
            best_set, best_val = found, value
    if inst.fits(deadline - 0.25 * time_limit_s):
        found, value, _ = inst.local_search(inst.greedy(p, fixed, deadline), fixed, deadline)
        if value < best_val:
            best_set, best_val = found, value
    t = inst.transport(best_set)
    return CapacitatedSearch(
        open_sites=best_set,
        value=float(t.value),
        shares=t.shares,
        lower_bound=float(min(lb, t.value)),
        evaluations=len(inst.cache),
        seconds=time.perf_counter() - t0,
    )
