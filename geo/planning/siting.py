"""Facility siting: p-median and maximal covering, heuristic warm start then an exact MILP.

Pure functions over a demand-by-candidate cost matrix (no database here). The recipe is the
one measured in issue 7: a vectorised greedy-plus-swap heuristic (Teitz and Bart, 1968)
finds the optimum or comes close in milliseconds and gives the upper bound; a MILP solved
by OR-Tools' bundled SCIP proves optimality, or bounds the gap when its time limit stops
it. (OR-Tools and ``highspy`` cannot be imported in one process, so HiGHS is not used.)

Formulations
------------
p-median (uncapacitated) uses the radius formulation of Elloumi (2010), which has the
same LP bound as the classic ReVelle and Swain (1970) model but far fewer nonzeros, and
is tight enough that SCIP usually closes the gap at the root. For demand ``i`` with
sorted distinct costs :math:`D_i^1 < \\dots < D_i^{K_i}` to the candidates,

.. math::

    \\min \\sum_i w_i \\Big(D_i^1 + \\sum_{k=1}^{K_i-1} (D_i^{k+1} - D_i^k)\\, z_i^k\\Big)

    z_i^1 + \\sum_{j: c_{ij} = D_i^1} y_j \\ge 1, \\qquad
    z_i^k + \\sum_{j: c_{ij} = D_i^k} y_j \\ge z_i^{k-1} \\; (k \\ge 2), \\qquad
    \\sum_j y_j = p + |F|, \\; y_j = 1 \\; (j \\in F), \\; y \\in \\{0, 1\\}, \\; z \\ge 0,

where :math:`z_i^k = 1` means every candidate within :math:`D_i^k` of ``i`` is closed.
Levels beyond the cost of the nearest fixed site (or beyond rank :math:`m - p - |F| + 1`,
which an open site always beats) are dropped: they can never be binding.

Capacitated p-median and capacitated covering use the classic assignment formulation
with continuous shares :math:`x_{ij}` (an area's households may be split between sites)
and :math:`\\sum_i w_i x_{ij} \\le \\mathrm{cap}_j y_j`.

Maximal covering (Church and ReVelle, 1974):
:math:`\\max \\sum_i w_i u_i` s.t. :math:`u_i \\le \\sum_{j \\in N_i} y_j`, with
:math:`N_i = \\{j : c_{ij} \\le S\\}`.

References
----------
Teitz, M. B. and Bart, P. (1968) Heuristic methods for estimating the generalized vertex
median of a weighted graph. Operations Research 16(5), 955-961.
ReVelle, C. S. and Swain, R. W. (1970) Central facilities location. Geographical Analysis 2, 30-42.
Church, R. and ReVelle, C. (1974) The maximal covering location problem. Papers of the
Regional Science Association 32, 101-118.
Elloumi, S. (2010) A tighter formulation of the p-median problem. Journal of Combinatorial
Optimization 19, 69-83.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from geo.errors import Infeasible, InvalidRequest

Objective = Literal["p_median", "max_cover"]
Status = Literal["optimal", "time_limit", "heuristic"]
#: Column indices of the cost matrix, as a list or an integer array.
Indices = Sequence[int] | np.ndarray

#: Relative MIP gap at which SCIP may stop; tiny, so "optimal" means optimal.
MIP_REL_GAP = 1e-7
#: Capacitated instances with more demand x candidate cells than this skip the MILP when
#: asked for less than ``MILP_MIN_S``: HiGHS spends such short limits building and presolving
#: (overrunning them) without bettering the swap search or the Lagrangian bound, which are
#: given the whole time instead (bench/planning.py, 600 x 60).
MILP_INLINE_CELLS = 20_000
MILP_MIN_S = 60.0
_TOL = 1e-9


@dataclass(frozen=True)
class SitingSolution:
    """What a siting solve chose and how sure it is.

    ``open_sites`` are column indices of the cost matrix (fixed sites included);
    ``assignment`` gives, per demand row, the column serving it (the nearest open site, or
    the one taking the largest share when capacities split an area); ``covered`` is the
    share of each row's weight that is covered (max cover) or served (p-median: all ones).
    ``objective`` is the weighted travel (p-median, minimised) or covered weight (max
    cover, maximised); ``bound`` is the solver's proven bound on the optimum and ``gap`` the
    relative distance between them.
    """

    objective_kind: Objective
    open_sites: np.ndarray
    assignment: np.ndarray
    covered: np.ndarray
    objective: float
    bound: float
    gap: float
    status: Status
    heuristic_objective: float | None
    heuristic_seconds: float
    milp_seconds: float
    solver: str
    notes: list[str] = field(default_factory=list)
    #: ``(n, m)`` share of each row's weight served by each column (capacitated only; an
    #: area may be split); None when every row uses its nearest open site.
    shares: np.ndarray | None = None


# --------------------------------------------------------------------------- checks


def _check_instance(
    cost: np.ndarray, weights: np.ndarray, p: int, fixed: Indices
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and normalise an instance; return (cost, weights, fixed) as arrays."""
    cost = np.asarray(cost, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if cost.ndim != 2:
        raise InvalidRequest(f"`cost` must be a 2-d demand x candidate matrix, got shape {cost.shape}")
    n, m = cost.shape
    if weights.shape != (n,):
        raise InvalidRequest(f"`weights` has shape {weights.shape} but the cost matrix has {n} demand rows")
    if n == 0 or not np.isfinite(weights).all() or weights.sum() <= 0:
        raise Infeasible("the demand set is empty: no demand point has a positive weight")
    if (weights < 0).any():
        raise InvalidRequest("`weights` must be non-negative")
    if not np.isfinite(cost).all() or (cost < 0).any():
        raise InvalidRequest("`cost` must be finite and non-negative (is a demand point unreachable?)")
    fixed_arr = np.unique(np.asarray(list(fixed), dtype=int))
    if fixed_arr.size and (fixed_arr.min() < 0 or fixed_arr.max() >= m):
        raise InvalidRequest(f"fixed site index out of range 0..{m - 1}")
    if p < 0:
        raise InvalidRequest(f"`p` was {p} but is expected to be 0 or more")
    free = m - fixed_arr.size
    if p > free:
        raise Infeasible(
            f"`p` was {p} but only {free} candidate site(s) are available besides the "
            f"{fixed_arr.size} kept open"
        )
    if p + fixed_arr.size == 0:
        raise Infeasible("no site would be open: ask for p >= 1 or keep existing sites")
    return cost, weights, fixed_arr


def _nearest(cost: np.ndarray, open_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (column index, cost) of the nearest open site for every demand row."""
    sub = cost[:, open_idx]
    arg = sub.argmin(axis=1)
    return open_idx[arg], sub[np.arange(cost.shape[0]), arg]


# --------------------------------------------------------------------------- heuristics


def p_median_heuristic(
    cost: np.ndarray, weights: np.ndarray, p: int, fixed: Indices = (), *, start: Indices | None = None
) -> tuple[np.ndarray, float]:
    """Greedy add then Teitz-Bart swaps for the p-median problem.

    Parameters
    ----------
    cost
        ``(n, m)`` travel cost from each demand point to each candidate.
    weights
        ``(n,)`` demand weights.
    p
        Number of sites to open besides ``fixed``.
    fixed
        Candidate columns that are open whatever happens (today's offices).
    start
        Optional open set (``fixed`` plus ``p`` others) to start the swaps from instead
        of the greedy one (used to polish a solution met by the Lagrangian bound).

    Returns
    -------
    (open_sites, objective)
        Sorted open column indices (fixed included) and :math:`\\sum_i w_i \\min_{j \\in S} c_{ij}`.

    Notes
    -----
    Greedy: repeatedly open the candidate minimising :math:`\\sum_i w_i \\min(d_i, c_{ij})`
    where :math:`d_i` is the current nearest cost. Swap (Teitz and Bart, 1968): for each
    movable open site ``k`` let :math:`d^{-k}_i` be the nearest cost without ``k`` (the
    second-nearest where ``k`` is nearest); the swap ``k -> j`` costs
    :math:`\\sum_i w_i \\min(d^{-k}_i, c_{ij})`, evaluated for every closed ``j`` at once.
    The best improving swap is made until none improves. Each pass is
    :math:`O(n m p)` vectorised work.
    """
    cost, weights, fixed_arr = _check_instance(cost, weights, p, fixed)
    n, m = cost.shape
    is_open = np.zeros(m, dtype=bool)
    is_open[fixed_arr] = True
    current = cost[:, fixed_arr].min(axis=1) if fixed_arr.size else np.full(n, np.inf)
    if start is not None:
        is_open[np.asarray(start, dtype=int)] = True
        if is_open.sum() != p + fixed_arr.size:
            raise InvalidRequest("`start` must hold the fixed sites and p others")
    for _ in range(p if start is None else 0):
        closed = np.flatnonzero(~is_open)
        totals = weights @ np.minimum(cost[:, closed], current[:, None])
        pick = closed[int(np.argmin(totals))]
        is_open[pick] = True
        current = np.minimum(current, cost[:, pick])
    movable = np.ones(m, dtype=bool)
    movable[fixed_arr] = False
    rows = np.arange(n)
    while p > 0:
        open_idx = np.flatnonzero(is_open)
        closed = np.flatnonzero(~is_open)
        if closed.size == 0:
            break
        sub = cost[:, open_idx]
        if open_idx.size > 1:
            two = np.argpartition(sub, 1, axis=1)[:, :2]
            a, b = sub[rows, two[:, 0]], sub[rows, two[:, 1]]
            first = np.where(a <= b, two[:, 0], two[:, 1])
            d1, d2 = np.minimum(a, b), np.maximum(a, b)
        else:
            first = np.zeros(n, dtype=int)
            d1, d2 = sub[:, 0], np.full(n, np.inf)
        nearest = open_idx[first]
        base = float(weights @ d1)
        best_val, best_swap = base, None
        c_closed = cost[:, closed]
        for k in open_idx[movable[open_idx]]:
            without_k = np.where(nearest == k, d2, d1)
            totals = weights @ np.minimum(c_closed, without_k[:, None])
            j = int(np.argmin(totals))
            if totals[j] < best_val - _TOL * max(1.0, abs(best_val)):
                best_val, best_swap = float(totals[j]), (int(k), int(closed[j]))
        if best_swap is None:
            break
        is_open[best_swap[0]] = False
        is_open[best_swap[1]] = True
    open_idx = np.flatnonzero(is_open)
    return open_idx, float(weights @ cost[:, open_idx].min(axis=1))


def max_cover_heuristic(
    cover: np.ndarray, weights: np.ndarray, p: int, fixed: Indices = ()
) -> tuple[np.ndarray, float]:
    """Greedy add then swaps for maximal covering.

    Parameters
    ----------
    cover
        ``(n, m)`` boolean: candidate ``j`` covers demand ``i`` (travel within the threshold).
    weights, p, fixed
        As in :func:`p_median_heuristic`.

    Returns
    -------
    (open_sites, covered_weight)
        Sorted open columns and :math:`\\sum_i w_i [\\exists j \\in S: a_{ij}]`.

    Notes
    -----
    Greedy adds the site covering the most still-uncovered weight; a swap ``k -> j`` is
    valued as :math:`\\sum_i w_i [c^{-k}_i > 0 \\lor a_{ij}]` with :math:`c^{-k}_i` the
    number of open sites other than ``k`` covering ``i``.
    """
    cover = np.asarray(cover, dtype=bool)
    _, weights, fixed_arr = _check_instance(cover.astype(float), weights, p, fixed)
    m = cover.shape[1]
    a = cover.astype(float)
    is_open = np.zeros(m, dtype=bool)
    is_open[fixed_arr] = True
    count = a[:, is_open].sum(axis=1)
    for _ in range(p):
        closed = np.flatnonzero(~is_open)
        gains = (weights * (count == 0)) @ a[:, closed]
        pick = closed[int(np.argmax(gains))]
        is_open[pick] = True
        count += a[:, pick]
    movable = np.ones(m, dtype=bool)
    movable[fixed_arr] = False
    while p > 0:
        open_idx = np.flatnonzero(is_open)
        closed = np.flatnonzero(~is_open)
        if closed.size == 0:
            break
        base = float(weights @ (count > 0))
        best_val, best_swap = base, None
        a_closed = a[:, closed]
        for k in open_idx[movable[open_idx]]:
            still = (count - a[:, k]) > 0
            totals = float(weights @ still) + (weights * ~still) @ a_closed
            j = int(np.argmax(totals))
            if totals[j] > best_val + _TOL * max(1.0, abs(best_val)):
                best_val, best_swap = float(totals[j]), (int(k), int(closed[j]))
        if best_swap is None:
            break
        is_open[best_swap[0]] = False
        is_open[best_swap[1]] = True
        count += a[:, best_swap[1]] - a[:, best_swap[0]]
    open_idx = np.flatnonzero(is_open)
    return open_idx, float(weights @ (a[:, open_idx].sum(axis=1) > 0))


def p_median_lagrangian(
    cost: np.ndarray,
    weights: np.ndarray,
    p: int,
    fixed: Indices,
    upper: float,
    *,
    max_iter: int = 3000,
    time_limit_s: float = 5.0,
    tol: float = MIP_REL_GAP,
) -> tuple[float, np.ndarray, float]:
    r"""Lagrangian lower bound for the p-median, by subgradient optimisation.

    Parameters
    ----------
    cost, weights, p, fixed
        As in :func:`p_median_heuristic`.
    upper
        A known objective value (the heuristic's), used in the step size.
    max_iter, time_limit_s, tol
        Stop after this many iterations or seconds, or once the bound is within ``tol``
        (relative) of the best primal value.

    Returns
    -------
    (bound, open_sites, value)
        The best lower bound, and the best open set met on the way with its objective
        (every iteration's open set is a feasible solution); the set is empty, and the
        value ``upper``, when no iteration beat ``upper``.

    Notes
    -----
    Relaxing the assignment constraints :math:`\sum_j x_{ij} = 1` with multipliers
    :math:`\lambda_i` (Cornuejols, Fisher and Nemhauser, 1977) gives

    .. math::

        L(\lambda) = \sum_i \lambda_i + \sum_{j \in F} \rho_j + \min_{|S| = p} \sum_{j \in S} \rho_j,
        \qquad \rho_j = \sum_i \min(0, w_i c_{ij} - \lambda_i),

    a lower bound for any :math:`\lambda`. The subgradient is
    :math:`g_i = 1 - \sum_{j \in S \cup F} [w_i c_{ij} < \lambda_i]` and the step
    :math:`\theta (U - L) / \lVert g \rVert^2` (Held, Wolfe and Crowder, 1974), with
    :math:`\theta` halved after 20 iterations without improvement. Each iteration is a
    few vectorised passes over the ``n x m`` matrix.
    """
    cost = np.asarray(cost, dtype=float)
    weights = np.asarray(weights, dtype=float)
    fixed_arr = np.asarray(fixed, dtype=int)
    m = cost.shape[1]
    free = np.setdiff1d(np.arange(m), fixed_arr)
    wc = weights[:, None] * cost
    # Start from each point's weighted cost to its second-nearest candidate: a multiplier
    # at least the nearest cost keeps the first iterations informative.
    lam = np.partition(wc, 1, axis=1)[:, 1] if m > 1 else wc[:, 0].copy()
    best_lb, best_open, best_val = -np.inf, np.empty(0, dtype=int), float(upper)
    theta, stall = 2.0, 0
    t0 = time.perf_counter()
    for _ in range(max_iter):
        reduced = np.minimum(0.0, wc - lam[:, None])
        rho = reduced.sum(axis=0)
        chosen = free[np.argpartition(rho[free], p - 1)[:p]] if p > 0 else free[:0]
        open_idx = np.sort(np.concatenate([fixed_arr, chosen]))
        lb = float(lam.sum() + rho[open_idx].sum())
        value = float(weights @ cost[:, open_idx].min(axis=1))
        if value < best_val:
            best_val, best_open = value, open_idx
        if not np.isfinite(best_lb) or lb > best_lb + 1e-12 * max(1.0, abs(best_lb)):
            best_lb, stall = lb, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        if best_val - best_lb <= tol * max(abs(best_val), _TOL) or theta < 1e-6:
            break
        if time.perf_counter() - t0 > time_limit_s:
            break
        g = 1.0 - (reduced[:, open_idx] < 0).sum(axis=1)
        norm = float(g @ g)
        if norm == 0:  # the relaxed solution is feasible: the bound is tight
            best_lb = max(best_lb, value)
            break
        lam = lam + theta * (best_val - lb) / norm * g
    return best_lb, best_open, best_val


# --------------------------------------------------------------------------- MILP


def _new_solver(time_limit_s: float) -> Any:
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:  # pragma: no cover - the wheel always bundles SCIP
        raise RuntimeError("OR-Tools was built without SCIP")
    solver.SetTimeLimit(max(1, int(time_limit_s * 1000)))
    solver.SetNumThreads(1)
    return solver


def _site_vars(solver: Any, m: int, p: int, fixed: np.ndarray) -> list[Any]:
    """One open/closed binary per candidate: ``p`` new sites open, plus the ``fixed`` ones."""
    y = [solver.BoolVar(f"y{j}") for j in range(m)]
    solver.Add(solver.Sum(y) == p + fixed.size)
    for j in fixed:
        y[int(j)].SetLb(1)
    return y


def _run(solver: Any) -> tuple[int, Any]:
    from ortools.linear_solver import pywraplp

    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, MIP_REL_GAP)
    return solver.Solve(params), pywraplp


def _gap(best: float, bound: float, minimise: bool) -> float:
    diff = (best - bound) if minimise else (bound - best)
    return max(0.0, diff) / max(abs(best), _TOL)


def _p_median_milp(
    cost: np.ndarray,
    weights: np.ndarray,
    p: int,
    fixed: np.ndarray,
    hint: np.ndarray | None,
    time_limit_s: float,
) -> tuple[np.ndarray | None, float, float, bool]:
    """Elloumi's radius formulation; return (open sites or None, value, bound, optimal)."""
    n, m = cost.shape
    solver = _new_solver(time_limit_s)
    y = _site_vars(solver, m, p, fixed)
    objective = solver.Objective()
    constant = 0.0
    # The nearest open site is never further than the nearest fixed site, nor beyond the
    # (m - p - |F| + 1)-th nearest candidate: levels past that cap are never binding.
    rank_cap = m - (p + fixed.size)
    order = np.argsort(cost, axis=1, kind="stable")
    sorted_cost = np.take_along_axis(cost, order, axis=1)
    fixed_cap = cost[:, fixed].min(axis=1) if fixed.size else np.full(n, np.inf)
    # A complete hint (y and z) is needed: SCIP ignores a partial one that fixes few variables.
    hint_cost = cost[:, hint].min(axis=1) if hint is not None else np.full(n, np.inf)
    z_vars: list[Any] = []
    z_hint: list[float] = []
    for i in range(n):
        if weights[i] <= 0:
            continue
        levels, starts = np.unique(sorted_cost[i], return_index=True)
        cap = min(float(fixed_cap[i]), float(sorted_cost[i, rank_cap]))
        keep = levels <= cap
        levels, starts = levels[keep], starts[keep]
        constant += weights[i] * levels[0]
        prev = None
        bounds = list(starts[1:]) + [None]
        for k in range(len(levels) - 1):
            z = solver.NumVar(0.0, 1.0, "")
            cols = order[i, starts[k] : bounds[k]]
            rhs = 1 if prev is None else prev
            solver.Add(z + solver.Sum([y[int(j)] for j in cols]) >= rhs)
            objective.SetCoefficient(z, float(weights[i] * (levels[k + 1] - levels[k])))
            z_vars.append(z)
            z_hint.append(1.0 if hint_cost[i] > levels[k] else 0.0)
            prev = z
    objective.SetOffset(constant)
    objective.SetMinimization()
    if hint is not None:
        solver.SetHint(y + z_vars, np.isin(np.arange(m), hint).astype(float).tolist() + z_hint)
    status, pywraplp = _run(solver)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        bound = objective.BestBound() if status == pywraplp.Solver.NOT_SOLVED else -np.inf
        return None, np.inf, float(bound), False
    chosen = np.flatnonzero(np.array([v.solution_value() for v in y]) > 0.5)
    return chosen, float(objective.Value()), float(objective.BestBound()), status == pywraplp.Solver.OPTIMAL


def _capacitated_milp(
    kind: Objective,
    cost: np.ndarray,
    weights: np.ndarray,
    p: int,
    fixed: np.ndarray,
    capacities: np.ndarray,
    threshold: float | None,
    hint: np.ndarray | None,
    time_limit_s: float,
) -> tuple[np.ndarray | None, np.ndarray | None, float, float, bool]:
    """Assignment formulation with capacities, in HiGHS (``scipy.optimize.milp``).

    Variables ``y`` (m, binary) then ``x`` (one per allowed pair, continuous): ``x_ij <=
    y_j``; ``sum_j x_ij = 1`` (p-median) or ``<= 1`` (max cover, pairs within the
    threshold only); ``sum_i w_i x_ij <= cap_j y_j``; ``sum_j y_j = p + |F|``, ``y_F = 1``;
    and the valid aggregate ``sum_j cap_j y_j >= W`` (p-median). The matrices are built
    vectorised, so a 500 x 60 instance is ready in milliseconds (the OR-Tools model was
    built constraint by constraint in Python and overran short time limits). ``hint`` is
    unused by HiGHS here: the caller keeps the better of its own set and the MILP's.

    Returns (open or None, None, value, bound, optimal); the caller re-solves the
    assignment for the chosen set exactly.
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    n, m = cost.shape
    allowed = np.ones((n, m), dtype=bool) if kind == "p_median" else cost <= float(threshold or 0.0)
    allowed &= (weights > 0)[:, None]
    ii, jj = np.nonzero(allowed)
    nx = ii.size
    nv = m + nx
    xcol = m + np.arange(nx)
    c = np.zeros(nv)
    c[xcol] = weights[ii] * (cost[ii, jj] if kind == "p_median" else -1.0)
    rows: list[Any] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    # x_ij - y_j <= 0
    link = sparse.csr_matrix(
        (
            np.concatenate([np.ones(nx), -np.ones(nx)]),
            (np.tile(np.arange(nx), 2), np.concatenate([xcol, jj])),
        ),
        shape=(nx, nv),
    )
    rows.append(link)
    lo.append(np.full(nx, -np.inf))
    hi.append(np.zeros(nx))
    # one assignment per demand row
    users = np.flatnonzero(weights > 0)
    pos = np.full(n, -1)
    pos[users] = np.arange(users.size)
    assign = sparse.csr_matrix((np.ones(nx), (pos[ii], xcol)), shape=(users.size, nv))
    rows.append(assign)
    lo.append(np.ones(users.size) if kind == "p_median" else np.full(users.size, -np.inf))
    hi.append(np.ones(users.size))
    # capacities: sum_i w_i x_ij - cap_j y_j <= 0, for finite caps
    finite = np.flatnonzero(np.isfinite(capacities))
    if finite.size:
        fpos = np.full(m, -1)
        fpos[finite] = np.arange(finite.size)
        keep = fpos[jj] >= 0
        cap_rows = sparse.csr_matrix(
            (
                np.concatenate([weights[ii[keep]], -capacities[finite]]),
                (
                    np.concatenate([fpos[jj[keep]], np.arange(finite.size)]),
                    np.concatenate([xcol[keep], finite]),
                ),
            ),
            shape=(finite.size, nv),
        )
        rows.append(cap_rows)
        lo.append(np.full(finite.size, -np.inf))
        hi.append(np.zeros(finite.size))
    card = sparse.csr_matrix((np.ones(m), (np.zeros(m, dtype=int), np.arange(m))), shape=(1, nv))
    rows.append(card)
    lo.append(np.array([p + fixed.size]))
    hi.append(np.array([p + fixed.size]))
    if kind == "p_median" and finite.size == m:
        agg = sparse.csr_matrix((capacities, (np.zeros(m, dtype=int), np.arange(m))), shape=(1, nv))
        rows.append(agg)
        lo.append(np.array([float(weights.sum())]))
        hi.append(np.array([np.inf]))
    lower = np.zeros(nv)
    lower[fixed] = 1.0
    upper = np.ones(nv)
    integrality = np.zeros(nv)
    integrality[:m] = 1
    res = milp(
        c,
        constraints=LinearConstraint(sparse.vstack(rows).tocsr(), np.concatenate(lo), np.concatenate(hi)),
        integrality=integrality,
        bounds=Bounds(lower, upper),
        options={"time_limit": max(0.5, time_limit_s), "mip_rel_gap": MIP_REL_GAP, "disp": False},
    )
    bound = getattr(res, "mip_dual_bound", None)
    bound = float(bound) if bound is not None and np.isfinite(bound) else np.nan
    if res.status == 2:  # infeasible
        raise Infeasible(
            "no choice of sites can serve all the demand within the site capacities: "
            f"total demand is {weights.sum():.0f} but the capacities are too small"
        )
    if res.x is None:
        return None, None, np.nan, (bound if kind == "p_median" else -bound), False
    chosen = np.flatnonzero(res.x[:m] > 0.5)
    value = float(res.fun) if kind == "p_median" else -float(res.fun)
    return chosen, None, value, (bound if kind == "p_median" else -bound), res.status == 0


# --------------------------------------------------------------------------- entry points


def _finish(
    kind: Objective,
    cost: np.ndarray,
    open_sites: np.ndarray,
    shares: np.ndarray | None,
    threshold: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Assignment and covered share per demand row for an open set (or capacitated shares)."""
    if shares is not None:
        assigned = shares.argmax(axis=1)
        served = shares.sum(axis=1)
        assigned = np.where(served > _TOL, assigned, _nearest(cost, open_sites)[0])
        return assigned, np.clip(served, 0.0, 1.0)
    assigned, near = _nearest(cost, open_sites)
    if kind == "max_cover":
        return assigned, (near <= float(threshold or 0.0)).astype(float)
    return assigned, np.ones(cost.shape[0])


def _capacitated_solution(
    kind: Objective,
    cost: np.ndarray,
    weights: np.ndarray,
    p: int,
    fixed: np.ndarray,
    capacities: np.ndarray,
    threshold: float | None,
    heuristic: tuple[np.ndarray, float, float],
    time_limit_s: float,
) -> SitingSolution:
    """Swap search with a transport subproblem and a Lagrangian bound, then the MILP.

    The search (``geo.planning.capacitated``) takes up to 40 % of the time limit and
    usually ends at a local optimum well before; the MILP, hinted with its set, gets the
    rest. Large instances asked for a short limit skip the MILP (``MILP_INLINE_CELLS``) and
    give the search 90 %. Whatever set wins, its assignment is re-solved exactly as a transportation
    problem, so the objective, the shares and the loads always agree; the bound is the
    better of the Lagrangian and MILP bounds, so the gap reported is never smaller than
    the true one.
    """
    t_enter = time.perf_counter()
    from geo.planning.capacitated import CapacitatedInstance, search

    h_open, _, h_secs = heuristic
    n = cost.shape[0]
    total = float(weights.sum())
    covers = cost <= float(threshold or 0.0) if kind == "max_cover" else None
    inst = CapacitatedInstance(cost, weights, capacities, covers)
    t1 = time.perf_counter()
    skip_milp = cost.size > MILP_INLINE_CELLS and time_limit_s < MILP_MIN_S
    # The uncapacitated heuristic that gave the first start (and a first import of scipy's
    # LP code, seconds on a busy machine) have used part of the limit.
    left = max(0.1 * time_limit_s, time_limit_s - h_secs - (time.perf_counter() - t_enter))
    found = search(inst, p, fixed, [h_open], (0.9 if skip_milp else 0.4) * left)
    best_open, best_t = found.open_sites, inst.transport(found.open_sites)
    search_val = best_t.value
    lower = found.lower_bound
    notes = [
        "capacities bind: an area's demand may be split between sites",
        f"swap search with a transport subproblem: {found.evaluations} open sets assessed "
        f"in {found.seconds:.2f} s",
    ]
    remaining = time_limit_s - (time.perf_counter() - t1)
    optimal = best_t.value - lower <= MIP_REL_GAP * max(abs(best_t.value), 1.0)
    solver = "swap search + transport LP (HiGHS), Lagrangian bound"
    if optimal:
        notes.append("optimality proved by the Lagrangian bound")
    elif skip_milp:
        notes.append(
            f"no MILP: {cost.shape[0]} x {cost.shape[1]} is too large to gain from one within "
            f"{time_limit_s:g} s (ask {MILP_MIN_S:g} s or more, as a job); the gap is against the "
            "Lagrangian bound"
        )
    elif remaining > 1.5:
        # HiGHS reads its clock after building and presolving the model: leave it room.
        c_open, _, _, m_bound, m_optimal = _capacitated_milp(
            kind, cost, weights, p, fixed, capacities, threshold, best_open, 0.7 * remaining
        )
        solver += ", MILP (HiGHS)"
        if c_open is not None:
            t = inst.transport(c_open)
            if t.value < best_t.value - _TOL * max(1.0, abs(best_t.value)):
                best_open, best_t = np.sort(c_open), t
        if np.isfinite(m_bound):
            # SCIP's bound is on the travel (p-median) or on the covered demand (max cover).
            milp_lower = m_bound if kind == "p_median" else total - m_bound
            lower = max(lower, milp_lower)
        if m_optimal:
            optimal, lower = True, min(best_t.value, max(lower, best_t.value))
        else:
            notes.append(f"the MILP stopped at its {time_limit_s:g} s limit; best found is reported")
    secs = time.perf_counter() - t1
    unserved = float(inst.w @ best_t.unserved)
    if kind == "p_median" and unserved > 1e-6 * max(total, 1.0):
        raise Infeasible(
            f"no capacity-feasible choice of sites was found within {time_limit_s:g} s "
            f"({unserved:.1f} of {total:.1f} demand left unserved); allow more time or relax the capacities"
        )
    shares = inst.full_shares(best_t, best_open, n)
    if kind == "p_median":
        value, bound = best_t.value, lower
        gap = 0.0 if optimal else _gap(value, bound, True)
    else:
        value, bound = total - best_t.value, total - lower
        gap = 0.0 if optimal else _gap(value, bound, False)
    assigned, served = _finish(kind, cost, best_open, shares, threshold)
    search_obj = search_val if kind == "p_median" else total - search_val
    notes.append(f"the swap search alone reached {search_obj:,.3f}")
    return SitingSolution(
        kind,
        best_open,
        assigned,
        served,
        float(value),
        float(bound),
        float(gap),
        "optimal" if optimal else "time_limit",
        float(search_obj),
        h_secs + found.seconds,
        secs,
        solver,
        notes,
        shares,
    )


def solve_p_median(
    cost: np.ndarray,
    weights: np.ndarray,
    p: int,
    *,
    fixed: Indices = (),
    capacities: np.ndarray | None = None,
    time_limit_s: float = 10.0,
    exact: bool = True,
) -> SitingSolution:
    """Open ``p`` sites (plus ``fixed``) minimising demand-weighted travel.

    Parameters
    ----------
    cost
        ``(n, m)`` travel cost (seconds or metres) from demand point to candidate.
    weights
        ``(n,)`` demand weights (households, expected or unmet use).
    p
        Number of new sites.
    fixed
        Columns kept open (today's offices).
    capacities
        Optional ``(m,)`` maximum weight a site may serve (``inf`` = no limit).
    time_limit_s
        Wall-clock limit for the MILP; when it stops the solve the best solution found
        (heuristic or MILP) is returned with its gap to the proven bound.
    exact
        False to return the heuristic alone (status ``"heuristic"``, bound unknown).

    Returns
    -------
    SitingSolution

    Notes
    -----
    Objective :math:`\\sum_i w_i \\sum_j c_{ij} x_{ij}`; uncapacitated, :math:`x` is the
    nearest open site. Gap :math:`= (\\text{best} - \\text{bound}) / \\text{best}`.
    """
    cost, weights, fixed_arr = _check_instance(cost, weights, p, fixed)
    t0 = time.perf_counter()
    h_open, h_val = p_median_heuristic(cost, weights, p, fixed_arr)
    h_secs = time.perf_counter() - t0
    notes: list[str] = []
    if capacities is not None:
        caps = _check_capacities(capacities, cost.shape[1])
        open_caps = np.sort(caps[~np.isin(np.arange(caps.size), fixed_arr)])[::-1][:p]
        if caps[fixed_arr].sum() + open_caps.sum() < weights.sum() - _TOL:
            raise Infeasible(
                f"the demand ({weights.sum():.0f}) exceeds the combined capacity of any "
                f"{p} new site(s) plus the kept ones"
            )
        if not exact:
            raise InvalidRequest("capacitated siting needs the exact solver (`exact` true)")
        return _capacitated_solution(
            "p_median", cost, weights, p, fixed_arr, caps, None, (h_open, h_val, h_secs), time_limit_s
        )
    best_open, best_val, bound, status, secs = h_open, h_val, -np.inf, "heuristic", 0.0
    solver = "greedy+swap"
    if exact:
        t1 = time.perf_counter()
        # A Lagrangian bound first (a fraction of the time): it often proves the heuristic
        # optimal in well under a second, where the MILP's root LP alone takes minutes.
        lag_lb, lag_open, lag_val = p_median_lagrangian(
            cost, weights, p, fixed_arr, h_val, time_limit_s=max(0.05, 0.25 * time_limit_s)
        )
        if lag_val < best_val - _TOL * max(1.0, best_val):
            # Greedy+swap stopped at a local optimum: polish the better set with swaps too.
            best_open, best_val = p_median_heuristic(cost, weights, p, fixed_arr, start=lag_open)
        bound = lag_lb
        solver = "greedy+swap, Lagrangian bound"
        if best_val - bound <= MIP_REL_GAP * max(abs(best_val), _TOL):
            status = "optimal"
            notes.append("optimality proved by the Lagrangian bound")
        else:
            remaining = max(0.5, time_limit_s - (time.perf_counter() - t1))
            m_open, m_val, m_bound, optimal = _p_median_milp(
                cost, weights, p, fixed_arr, best_open, remaining
            )
            solver = "greedy+swap, Lagrangian bound, SCIP (OR-Tools)"
            if m_open is not None and m_val < best_val - _TOL * max(1.0, best_val):
                best_open = m_open
                best_val = float(weights @ cost[:, m_open].min(axis=1))
            if optimal:
                status, bound = "optimal", min(m_bound, best_val)
            else:
                status, bound = "time_limit", max(bound, m_bound)
                notes.append(f"the MILP stopped at its {time_limit_s:g} s limit; best found is reported")
        secs = time.perf_counter() - t1
    gap = 0.0 if status == "optimal" else (_gap(best_val, bound, True) if np.isfinite(bound) else np.nan)
    assigned, served = _finish("p_median", cost, best_open, None, None)
    return SitingSolution(
        "p_median",
        best_open,
        assigned,
        served,
        best_val,
        float(bound),
        float(gap),
        status,  # type: ignore[arg-type]
        h_val,
        h_secs,
        secs,
        solver,
        notes,
    )


def solve_max_cover(
    cost: np.ndarray,
    weights: np.ndarray,
    p: int,
    threshold: float,
    *,
    fixed: Indices = (),
    capacities: np.ndarray | None = None,
    time_limit_s: float = 10.0,
    exact: bool = True,
) -> SitingSolution:
    """Open ``p`` sites (plus ``fixed``) maximising the demand within ``threshold`` of a site.

    Parameters
    ----------
    cost, weights, p, fixed, capacities, time_limit_s, exact
        As in :func:`solve_p_median`.
    threshold
        Coverage standard :math:`S` in the units of ``cost``: demand ``i`` is covered by
        ``j`` when :math:`c_{ij} \\le S`.

    Returns
    -------
    SitingSolution
        ``objective`` is the covered weight; ``bound`` an upper bound on it.

    Notes
    -----
    Church and ReVelle (1974). Gap :math:`= (\\text{bound} - \\text{best}) / \\text{best}`.
    """
    cost, weights, fixed_arr = _check_instance(cost, weights, p, fixed)
    if not threshold > 0:
        raise InvalidRequest(f"`threshold` was {threshold} but is expected to be positive")
    cover = cost <= threshold
    t0 = time.perf_counter()
    h_open, h_val = max_cover_heuristic(cover, weights, p, fixed_arr)
    h_secs = time.perf_counter() - t0
    notes: list[str] = []
    if capacities is not None:
        if not exact:
            raise InvalidRequest("capacitated siting needs the exact solver (`exact` true)")
        caps = _check_capacities(capacities, cost.shape[1])
        return _capacitated_solution(
            "max_cover", cost, weights, p, fixed_arr, caps, threshold, (h_open, h_val, h_secs), time_limit_s
        )
    best_open, best_val, bound, status, secs = h_open, h_val, np.inf, "heuristic", 0.0
    if exact:
        t1 = time.perf_counter()
        m_open, m_val, bound, optimal = _max_cover_milp(cover, weights, p, fixed_arr, h_open, time_limit_s)
        secs = time.perf_counter() - t1
        if m_open is not None and m_val > best_val + _TOL * max(1.0, best_val):
            best_open = m_open
            best_val = float(weights @ (cover[:, m_open].any(axis=1)))
        if optimal:
            status, bound = "optimal", max(bound, best_val)
        else:
            status = "time_limit"
            notes.append(f"the MILP stopped at its {time_limit_s:g} s limit; best found is reported")
    gap = 0.0 if status == "optimal" else (_gap(best_val, bound, False) if np.isfinite(bound) else np.nan)
    assigned, served = _finish("max_cover", cost, best_open, None, threshold)
    return SitingSolution(
        "max_cover",
        best_open,
        assigned,
        served,
        best_val,
        float(bound),
        float(gap),
        status,  # type: ignore[arg-type]
        h_val,
        h_secs,
        secs,
        "greedy+swap, then SCIP (OR-Tools)" if exact else "greedy+swap",
        notes,
    )


def _max_cover_milp(
    cover: np.ndarray,
    weights: np.ndarray,
    p: int,
    fixed: np.ndarray,
    hint: np.ndarray | None,
    time_limit_s: float,
) -> tuple[np.ndarray | None, float, float, bool]:
    """Church-ReVelle model; return (open sites or None, value, bound, optimal)."""
    n, m = cover.shape
    solver = _new_solver(time_limit_s)
    y = _site_vars(solver, m, p, fixed)
    objective = solver.Objective()
    for i in range(n):
        cols = np.flatnonzero(cover[i])
        if weights[i] <= 0 or cols.size == 0:
            continue
        u = solver.NumVar(0.0, 1.0, "")
        solver.Add(u <= solver.Sum([y[int(j)] for j in cols]))
        objective.SetCoefficient(u, float(weights[i]))
    objective.SetMaximization()
    if hint is not None:
        solver.SetHint(y, np.isin(np.arange(m), hint).astype(float).tolist())
    status, pywraplp = _run(solver)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None, -np.inf, float(objective.BestBound()), False
    chosen = np.flatnonzero(np.array([v.solution_value() for v in y]) > 0.5)
    return chosen, float(objective.Value()), float(objective.BestBound()), status == pywraplp.Solver.OPTIMAL


def _check_capacities(capacities: np.ndarray, m: int) -> np.ndarray:
    caps = np.asarray(capacities, dtype=float)
    if caps.shape != (m,):
        raise InvalidRequest(f"`capacities` has shape {caps.shape} but there are {m} candidates")
    caps = np.where(np.isnan(caps), np.inf, caps)
    if (caps < 0).any():
        raise InvalidRequest("`capacities` must be non-negative")
    return caps


def evaluate_sites(
    cost: np.ndarray, weights: np.ndarray, open_sites: Indices, threshold: float | None = None
) -> dict[str, float]:
    """Figures for a given set of open sites, each demand point using its nearest.

    Returns
    -------
    dict
        ``objective`` (:math:`\\sum_i w_i \\min_j c_{ij}`), ``mean_cost`` (weighted mean),
        ``worst_cost`` (max over points with positive weight), ``covered_weight`` and
        ``coverage_share`` (weight within ``threshold``; None when no threshold).
    """
    cost = np.asarray(cost, dtype=float)
    weights = np.asarray(weights, dtype=float)
    idx = np.asarray(list(open_sites), dtype=int)
    if idx.size == 0:
        raise InvalidRequest("no open sites to evaluate")
    near = cost[:, idx].min(axis=1)
    total = float(weights.sum())
    positive = weights > 0
    out: dict[str, float] = {
        "objective": float(weights @ near),
        "mean_cost": float(weights @ near / total) if total > 0 else float("nan"),
        "worst_cost": float(near[positive].max()) if positive.any() else float("nan"),
    }
    if threshold is not None:
        covered = float(weights @ (near <= threshold))
        out["covered_weight"] = covered
        out["coverage_share"] = covered / total if total > 0 else float("nan")
    return out


def evaluate_assignment(
    cost: np.ndarray, weights: np.ndarray, shares: np.ndarray, threshold: float | None = None
) -> dict[str, Any]:
    """Figures for a split assignment: row ``i`` sends share ``shares[i, j]`` to column ``j``.

    Returns
    -------
    dict
        ``objective`` (:math:`\\sum_{ij} w_i s_{ij} c_{ij}`), ``served_weight``
        (:math:`\\sum_{ij} w_i s_{ij}`), ``mean_cost`` (objective / served weight),
        ``worst_cost`` (max :math:`c_{ij}` over :math:`s_{ij} > 10^{-9}`, :math:`w_i > 0`),
        ``loads`` (``(m,)`` :math:`\\sum_i w_i s_{ij}`) and, with a threshold,
        ``covered_weight`` (:math:`\\sum_{ij} w_i s_{ij} [c_{ij} \\le S]`) and ``coverage_share``.
    """
    cost = np.asarray(cost, dtype=float)
    weights = np.asarray(weights, dtype=float)
    shares = np.asarray(shares, dtype=float)
    if shares.shape != cost.shape:
        raise InvalidRequest(f"`shares` has shape {shares.shape} but the cost matrix has {cost.shape}")
    flow = weights[:, None] * shares
    served = float(flow.sum())
    used = (shares > 1e-9) & (weights > 0)[:, None]
    out: dict[str, Any] = {
        "objective": float((flow * np.where(used, cost, 0.0)).sum()),
        "served_weight": served,
        "worst_cost": float(cost[used].max()) if used.any() else float("nan"),
        "loads": flow.sum(axis=0),
    }
    out["mean_cost"] = out["objective"] / served if served > 0 else float("nan")
    if threshold is not None:
        covered = float((flow * (cost <= threshold)).sum())
        total = float(weights.sum())
        out["covered_weight"] = covered
        out["coverage_share"] = covered / total if total > 0 else float("nan")
    return out


# --------------------------------------------------------------------------- LSCP


@dataclass(frozen=True)
class SetCoverSolution:
    """Fewest sites covering a share of the demand (location set covering)."""

    open_sites: np.ndarray
    covered_weight: float
    required_weight: float
    status: Status
    greedy_sites: int
    lower_bound: int
    seconds: float


def solve_lscp(
    cost: np.ndarray,
    weights: np.ndarray,
    threshold: float,
    share: float = 1.0,
    *,
    fixed: Indices = (),
    time_limit_s: float = 10.0,
) -> SetCoverSolution:
    """Fewest new sites so that at least ``share`` of the demand is within ``threshold``.

    The location set covering problem (Toregas, Swain, ReVelle and Bergman, 1971) in its
    partial form: :math:`\\min \\sum_{j \\notin F} y_j` s.t.
    :math:`\\sum_i w_i u_i \\ge \\alpha W`, :math:`u_i \\le \\sum_{j \\in N_i} y_j`,
    :math:`y_F = 1`, :math:`y \\in \\{0,1\\}`, :math:`0 \\le u \\le 1`, solved by HiGHS
    (``scipy.optimize.milp``); a greedy cover gives the starting count. ``share`` 1 is the
    classic LSCP (every demand point covered).

    Raises
    ------
    Infeasible
        When even every candidate together covers less than the share asked for.

    References
    ----------
    Toregas, C., Swain, R., ReVelle, C. and Bergman, L. (1971) The location of emergency
    service facilities. Operations Research 19(6), 1363-1373.
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    cost = np.asarray(cost, dtype=float)
    weights = np.asarray(weights, dtype=float)
    n, m = cost.shape
    if not 0 < share <= 1:
        raise InvalidRequest(f"`share` was {share} but is expected to be in (0, 1]")
    if not threshold > 0:
        raise InvalidRequest(f"`threshold` was {threshold} but is expected to be positive")
    fixed_arr = np.unique(np.asarray(list(fixed), dtype=int))
    cover = cost <= threshold
    total = float(weights.sum())
    need = share * total
    best_possible = float(weights @ cover.any(axis=1))
    if best_possible < need - 1e-9 * max(total, 1.0):
        raise Infeasible(
            f"even every candidate site together covers {best_possible:,.1f} of {total:,.1f} demand "
            f"({best_possible / total:.1%}), less than the {share:.1%} asked for: widen the standard"
        )
    t0 = time.perf_counter()
    # Greedy: add the site covering most uncovered weight until the share is met.
    is_open = np.zeros(m, dtype=bool)
    is_open[fixed_arr] = True
    reached = cover[:, is_open].any(axis=1)
    while float(weights @ reached) < need - 1e-9 * max(total, 1.0):
        gains = (weights * ~reached) @ cover
        gains[is_open] = -1
        j = int(np.argmax(gains))
        is_open[j] = True
        reached |= cover[:, j]
    greedy_open = np.flatnonzero(is_open)
    greedy_new = int(greedy_open.size - fixed_arr.size)
    # MILP: y (m) then u (n).
    rows = np.flatnonzero(weights > 0)
    k = rows.size
    ii, jj = np.nonzero(cover[rows])
    c = np.concatenate([np.ones(m), np.zeros(k)])
    c[fixed_arr] = 0.0
    link = sparse.csr_matrix(
        (
            np.concatenate([np.ones(k), -np.ones(ii.size)]),
            (np.concatenate([np.arange(k), ii]), np.concatenate([m + np.arange(k), jj])),
        ),
        shape=(k, m + k),
    )
    demand_row = sparse.csr_matrix(
        (weights[rows], (np.zeros(k, dtype=int), m + np.arange(k))), shape=(1, m + k)
    )
    lower = np.zeros(m + k)
    lower[fixed_arr] = 1
    integrality = np.concatenate([np.ones(m), np.zeros(k)])
    res = milp(
        c,
        constraints=[
            LinearConstraint(link, -np.inf, 0.0),
            LinearConstraint(demand_row, need - 1e-9 * max(total, 1.0), np.inf),
        ],
        integrality=integrality,
        bounds=Bounds(lower, np.ones(m + k)),
        options={"time_limit": max(0.5, time_limit_s), "disp": False},
    )
    chosen, status, lb = greedy_open, "heuristic", 0
    if res.x is not None:
        cand = np.flatnonzero(res.x[:m] > 0.5)
        if cand.size - fixed_arr.size <= greedy_new:
            chosen = cand
        status = "optimal" if res.status == 0 else "time_limit"
        bound = getattr(res, "mip_dual_bound", None)
        if bound is not None and np.isfinite(bound):
            lb = int(np.ceil(bound - 1e-6))
    if status == "optimal":
        lb = int(chosen.size - fixed_arr.size)
    covered = float(weights @ cover[:, chosen].any(axis=1))
    return SetCoverSolution(
        open_sites=np.sort(chosen),
        covered_weight=covered,
        required_weight=need,
        status=status,  # type: ignore[arg-type]
        greedy_sites=greedy_new,
        lower_bound=lb,
        seconds=time.perf_counter() - t0,
    )


def two_step_fca(
    cost: np.ndarray, population: np.ndarray, supply: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Two-step floating catchment area accessibility (Luo and Wang, 2003).

    Step 1, each site's supply-to-demand ratio over the demand within reach:
    :math:`R_j = S_j / \\sum_{i: c_{ij} \\le d_0} P_i`. Step 2, each area's index sums the
    ratios of the sites it can reach: :math:`A_i = \\sum_{j: c_{ij} \\le d_0} R_j`.

    Returns
    -------
    (A, R)
        Accessibility per demand row (supply per unit of demand; 0 where nothing is in
        reach) and the ratio per site (0 where no demand is in reach).

    Reference: Luo, W. and Wang, F. (2003) Measures of spatial accessibility to health care
    in a GIS environment. Environment and Planning B 30(6), 865-884.
    """
    cost = np.asarray(cost, dtype=float)
    within = cost <= threshold
    pop = np.asarray(population, dtype=float)
    reach_demand = pop @ within
    ratio = np.where(
        reach_demand > 0, np.asarray(supply, dtype=float) / np.where(reach_demand > 0, reach_demand, 1), 0.0
    )
    access: np.ndarray = within.astype(float) @ ratio
    return access, ratio


def huff_shares(
    cost: np.ndarray, attractiveness: np.ndarray, beta: float = 2.0, floor: float = 60.0
) -> np.ndarray:
    """Huff (1963) probabilities that demand row ``i`` uses site ``j``.

    :math:`P_{ij} = A_j d_{ij}^{-\\beta} / \\sum_k A_k d_{ik}^{-\\beta}`, with travel floored
    at ``floor`` (a minute, or 100 m for distances) so a site on the doorstep is not
    infinitely attractive; unreachable sites (``inf``) get 0. Rows sum to 1.

    Reference: Huff, D. L. (1963) A probabilistic analysis of shopping center trade areas.
    Land Economics 39(1), 81-90.
    """
    if beta <= 0:
        raise InvalidRequest(f"`beta` was {beta} but is expected to be positive")
    a = np.asarray(attractiveness, dtype=float)
    if (a < 0).any() or not np.isfinite(a).all():
        raise InvalidRequest("attractiveness must be finite and non-negative")
    d = np.maximum(np.asarray(cost, dtype=float), floor)
    util = np.where(np.isfinite(d), a[None, :] * d ** (-beta), 0.0)
    total = util.sum(axis=1, keepdims=True)
    if (total <= 0).any():
        raise Infeasible("a demand point can reach no site with positive attractiveness")
    shares: np.ndarray = util / total
    return shares
