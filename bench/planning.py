"""Siting and routing at bench size: geo.planning against a plain spopt solve.

    .venv/bin/python bench/planning.py [--limit 120] [--route-limit 10] [--seed 7] [--only capacitated]

p-median: 1,000 demand areas, 100 candidates, p = 5. The instance is borough-like: demand
areas clustered around a coastal town, market towns and villages (household weights
30..400), candidates spread over the same settlements, travel time = straight line x 1.3
(detour) at 40 km/h, in seconds. Both sides get the same cost matrix and weights.

* ours: the numpy greedy + Teitz-Bart swap heuristic (upper bound), a Lagrangian
  subgradient bound (lower bound; it proves optimality when it meets the upper bound),
  then, if a gap is left, the Elloumi radius MILP in OR-Tools' SCIP, all inside a
  ``--limit`` second budget; prints time, objective, bound and gap (0 = proved optimal).
* spopt: ``PMedian.from_cost_matrix(...).solve(PULP_CBC_CMD(timeLimit=--limit))`` (spopt's
  classic ReVelle-Swain model through PuLP and CBC); prints time, its status, and objective.

Route: 60 stops, one van over Monday to Friday (09:00-17:00, 20 minutes a stop), the
same kind of travel times. OR-Tools' first solution (cheapest arc, no metaheuristic) is the
peer; guided local search is given ``--route-limit`` seconds (it uses all of it). There
is no proven optimum for a 60-stop VRPTW at this size: the figure is the improvement
over the first solution at the limit.

Capacitated p-median (issue 16): 600 demand areas x 60 candidates, p = 3 new sites plus 3
kept offices, capacities at 1.15 x the demand shared over six sites (they bind). The inline
answer (``solve_p_median`` with a 10 s limit: swap search with a transportation-LP
subproblem and a Lagrangian bound; at this size no MILP inline) against the same solve given
``--limit`` seconds (search, then HiGHS): prints both objectives, the inline answer's gap
against the proven optimum when the long run proves it (else against the best known, and
against the better of both runs' bounds) and the gap it reported (which must not be smaller).

LSCP: the p-median instance, fewest sites putting 95 % of the households within 8 minutes:
the greedy count against the MILP's proven minimum.

Covering tour: 30,000 households clustered like the borough, 100 candidate stops, an 800 m
walk (straight line), 12 stops over one van x 3 days (09:00-17:00, 45 minutes a stop):
households reached at least once by (a) the stops with the most households each (double
counting, the old pick), (b) a plain greedy pick, (c) our maximal-covering pick, each then
routed; and (d) OR-Tools' own prize-collecting solution given all 100 candidates with each
stop's household count as its prize, which it maximises stop by stop; then (e) our
maximal-covering pick of as many stops as OR-Tools fitted, routed the same way.

Facts measured before this bench (issue 7): spopt/CBC took 174 s for 2,000 x 100, p = 5;
a greedy+swap heuristic found the same optimum in 0.04 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def borough_instance(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clustered demand and candidate points (metres) and household weights."""
    rng = np.random.default_rng(seed)
    centres = np.array(
        [[12_000, 6_000], [4_000, 14_000], [20_000, 16_000]] + rng.uniform(0, 24_000, (9, 2)).tolist()
    )
    spread = np.array([2_500, 1_500, 1_500] + [600] * 9)
    share = np.array([0.45, 0.15, 0.15] + [0.25 / 9] * 9)
    which = rng.choice(len(centres), n, p=share)
    demand = centres[which] + rng.normal(0, 1, (n, 2)) * spread[which, None]
    rural = rng.random(n) < 0.08
    demand[rural] = rng.uniform(0, 24_000, (rural.sum(), 2))
    cand_which = rng.choice(len(centres), m, p=share)
    cand = centres[cand_which] + rng.normal(0, 1, (m, 2)) * spread[cand_which, None]
    weights = rng.integers(30, 400, n).astype(float)
    return demand, cand, weights


def travel_seconds(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Straight line x 1.3 detour at 40 km/h, in seconds."""
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    return d * 1.3 / (40 / 3.6)


def bench_p_median(args: argparse.Namespace) -> None:
    from geo.planning.siting import p_median_heuristic, p_median_lagrangian, solve_p_median

    demand, cand, weights = borough_instance(1000, 100, args.seed)
    cost = travel_seconds(demand, cand)
    print(f"p-median: {cost.shape[0]} demand areas x {cost.shape[1]} candidates, p = 5 (seed {args.seed})")

    t = time.perf_counter()
    _, h_val = p_median_heuristic(cost, weights, 5)
    h_secs = time.perf_counter() - t
    print(f"  ours  heuristic (greedy+swap)    {h_secs:8.3f} s   objective {h_val:,.0f}")

    t = time.perf_counter()
    lb, _, lag_val = p_median_lagrangian(cost, weights, 5, [], h_val, time_limit_s=args.limit / 4)
    lag_secs = time.perf_counter() - t
    print(
        f"  ours  Lagrangian bound           {lag_secs:8.3f} s   bound {lb:,.0f}   "
        f"best primal {lag_val:,.0f}   gap {100 * (lag_val - lb) / lag_val:.4f} %"
    )

    t = time.perf_counter()
    sol = solve_p_median(cost, weights, 5, time_limit_s=args.limit)
    ours = time.perf_counter() - t
    gap = "n/a" if np.isnan(sol.gap) else f"{100 * sol.gap:.4f} %"
    print(
        f"  ours  solve_p_median (all steps) {ours:8.2f} s   objective {sol.objective:,.0f}   "
        f"status {sol.status}   bound {sol.bound:,.0f}   gap {gap}"
    )

    import pulp
    from spopt.locate import PMedian

    t = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, weights, p_facilities=5, name="bench")
    try:
        model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=int(args.limit)))
    except RuntimeError as exc:  # spopt raises when CBC stops without a solution
        print(f"  spopt: {exc}")
    theirs = time.perf_counter() - t
    problem = model.problem
    status = pulp.LpStatus[problem.status]
    sol_status = pulp.constants.LpSolution.get(problem.sol_status, str(problem.sol_status))
    value = pulp.value(problem.objective) if problem.sol_status > 0 else None
    value_s = "none" if value is None else f"{value:,.0f}"
    print(
        f"  spopt PMedian + PuLP/CBC         {theirs:8.2f} s   objective {value_s}   "
        f"status {status} ({sol_status}), limit {args.limit:g} s"
    )
    if value is not None:
        print(f"  objective ratio spopt / ours: {value / sol.objective:.6f}")
    proved = problem.sol_status == pulp.LpSolutionOptimal
    qualifier = "" if proved else " (spopt stopped at its limit unproved: a lower bound on the ratio)"
    print(f"  time ratio spopt / ours: {theirs / ours:.1f}x{qualifier}")


def bench_route(args: argparse.Namespace) -> None:
    from geo.planning.routing import route_feasibility, solve_routes

    rng = np.random.default_rng(args.seed + 1)
    demand, _, _ = borough_instance(61, 1, args.seed + 1)
    pts = demand[rng.permutation(61)]
    travel = np.rint(travel_seconds(pts, pts))
    service = np.full(61, 20 * 60)
    service[0] = 0
    day = (9 * 3600, 17 * 3600)
    windows = np.tile(day, (61, 1))
    print("route: 60 stops, 1 van x 5 days, 09:00-17:00, 20 min a stop")
    penalty = np.full(61, 10**7)
    runs = (
        ("first solution, no metaheuristic", None),
        (f"guided local search {args.route_limit:g} s", args.route_limit),
    )
    for label, limit in runs:
        t = time.perf_counter()
        sol = solve_routes(
            travel,
            service,
            windows,
            n_routes=5,
            day=day,
            drop_penalty=penalty,
            time_limit_s=limit if limit is not None else 30.0,
            improve=limit is not None,
        )
        secs = time.perf_counter() - t
        problems = route_feasibility(sol, travel, service, windows, day)
        print(
            f"  {label:<32} {secs:8.2f} s   route time {sol.objective / 3600:7.2f} h   "
            f"dropped {len(sol.dropped)}   feasible {not problems}   solutions {sol.solutions_found}"
        )


def bench_capacitated(args: argparse.Namespace) -> None:
    import geo.planning.capacitated  # noqa: F401  (a server has it loaded: keep imports out of the time)
    from geo.planning.siting import solve_p_median

    demand, cand, weights = borough_instance(600, 60, args.seed)
    cost = travel_seconds(demand, cand)
    fixed = [0, 1, 2]
    caps = np.full(60, 1.15 * weights.sum() / 6)
    print(f"capacitated p-median: 600 x 60, p = 3 + 3 kept, capacities 1.15 x demand / 6 (seed {args.seed})")
    t = time.perf_counter()
    inline = solve_p_median(cost, weights, 3, fixed=fixed, capacities=caps, time_limit_s=10)
    t_in = time.perf_counter() - t
    t = time.perf_counter()
    proven = solve_p_median(cost, weights, 3, fixed=fixed, capacities=caps, time_limit_s=args.limit)
    t_pr = time.perf_counter() - t
    print(
        f"  inline (10 s)        {t_in:8.2f} s   objective {inline.objective:,.0f}   "
        f"status {inline.status}   "
        f"reported gap {100 * inline.gap:.4f} %   search alone {inline.heuristic_objective:,.0f}"
    )
    print(
        f"  long ({args.limit:g} s)       {t_pr:8.2f} s   objective {proven.objective:,.0f}   "
        f"status {proven.status}"
    )
    best = min(inline.objective, proven.objective)
    true_gap = (inline.objective - best) / inline.objective
    what = "proven optimum" if proven.status == "optimal" else "best known (the long run, not proven)"
    print(
        f"  inline vs {what}: {100 * true_gap:.4f} % (reported {100 * inline.gap:.4f} %, "
        f"truthful {true_gap <= inline.gap + 1e-9}); inline wall time {t_in:.2f} s for 10 s asked"
    )
    within = (inline.objective - max(proven.bound, inline.bound)) / inline.objective
    print(
        f"  long run's bound {proven.bound:,.0f}: inline within {100 * within:.4f} % of any optimum"
    )
    loads = weights @ inline.shares
    print(f"  largest load / capacity {float((loads / caps).max()):.6f}")


def bench_lscp(args: argparse.Namespace) -> None:
    from geo.planning.siting import solve_lscp

    demand, cand, weights = borough_instance(1000, 100, args.seed)
    cost = travel_seconds(demand, cand)
    cover = (cost <= 480).any(axis=1)
    share = min(0.95, float(weights @ cover / weights.sum()) - 0.005)
    t = time.perf_counter()
    sol = solve_lscp(cost, weights, 480.0, share, time_limit_s=args.limit)
    secs = time.perf_counter() - t
    print(f"LSCP: 1000 x 100, {100 * share:.1f} % of households within 8 minutes")
    print(
        f"  greedy {sol.greedy_sites} sites; MILP {sol.open_sites.size} sites ({sol.status}, lower bound "
        f"{sol.lower_bound})   {secs:.2f} s   covered {100 * sol.covered_weight / weights.sum():.2f} %"
    )


def bench_cover_tour(args: argparse.Namespace) -> None:
    from geo.planning.routing import solve_routes
    from geo.planning.stops import choose_stops, coverage, greedy_cover, unique_weight

    rng = np.random.default_rng(args.seed + 2)
    homes, stops, _ = borough_instance(30_000, 100, args.seed + 2)
    weight = np.ones(len(homes))
    cover = coverage(homes, stops, 800.0, "straight_line")
    reach = weight @ cover
    k = 12
    depot = np.array([[12_000.0, 6_000.0]])
    day = (9 * 3600, 17 * 3600)
    print("covering tour: 30,000 households, 100 candidate stops, 800 m walk, 12 stops, 1 van x 3 days")

    def routed(cols: np.ndarray) -> tuple[float, int, int]:
        pts = np.vstack([depot, stops[cols]])
        travel = np.rint(travel_seconds(pts, pts))
        service = np.full(len(pts), 45 * 60)
        service[0] = 0
        sol = solve_routes(
            travel,
            service,
            np.tile(day, (len(pts), 1)),
            n_routes=3,
            day=day,
            drop_penalty=np.full(len(pts), 10**6),
            time_limit_s=args.route_limit / 2,
        )
        visited = np.array([cols[n - 1] for seq in sol.routes for n in seq], dtype=int)
        hours_s = sum(b - a for a, b, seq in zip(sol.depart_s, sol.return_s, sol.routes, strict=True) if seq)
        return unique_weight(cover, weight, visited), len(visited), hours_s

    t = time.perf_counter()
    ours = choose_stops(cover, weight, k, time_limit_s=10).chosen
    t_ours = time.perf_counter() - t
    picks = {
        "by own reach (double counting)": np.argsort(-reach, kind="stable")[:k],
        "plain greedy": greedy_cover(cover, weight, k),
        "maximal covering (ours)": ours,
    }
    for label, cols in picks.items():
        uniq, n_visited, obj = routed(np.asarray(cols, dtype=int))
        counted = int(reach[np.asarray(cols, dtype=int)].sum())
        print(
            f"  {label:<32} reached once {uniq:8,.0f}   counted stop by stop {counted:8,d}   "
            f"visited {n_visited}   route time {obj / 3600:.2f} h"
        )
    print(f"  (our stop choice took {t_ours:.2f} s)")
    # OR-Tools' own answer: every candidate, each stop's own household count as its prize.
    pts = np.vstack([depot, stops])
    travel = np.rint(travel_seconds(pts, pts))
    service = np.full(len(pts), 45 * 60)
    service[0] = 0
    prize = np.concatenate([[0.0], reach]) * 10
    t = time.perf_counter()
    sol = solve_routes(
        travel,
        service,
        np.tile(day, (len(pts), 1)),
        n_routes=3,
        day=day,
        drop_penalty=prize,
        time_limit_s=args.route_limit,
    )
    visited = np.array([n - 1 for seq in sol.routes for n in seq], dtype=int)
    print(
        f"  {'OR-Tools prize-collecting (all 100)':<32} "
        f"reached once {unique_weight(cover, weight, visited):8,.0f}   "
        f"counted stop by stop {int(reach[visited].sum()):8,d}   visited {visited.size}   "
        f"{time.perf_counter() - t:.1f} s"
    )
    # The same number of stops as OR-Tools fitted, chosen for unique coverage, then routed.
    t = time.perf_counter()
    same = choose_stops(cover, weight, int(visited.size), time_limit_s=10).chosen
    uniq, n_vis, obj = routed(np.asarray(same, dtype=int))
    print(
        f"  {f'maximal covering, {visited.size} stops (ours)':<32} reached once {uniq:8,.0f}   "
        f"counted stop by stop {int(reach[same].sum()):8,d}   visited {n_vis}   "
        f"route time {obj / 3600:.2f} h   {time.perf_counter() - t:.1f} s"
    )
    del rng


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=120.0, help="MILP / CBC time limit, seconds")
    parser.add_argument("--route-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--only", choices=["p_median", "route", "capacitated", "lscp", "cover_tour"], default=None
    )
    args = parser.parse_args()
    parser_only = args.only
    if parser_only in (None, "p_median"):
        bench_p_median(args)
    if parser_only in (None, "route"):
        bench_route(args)
    if parser_only in (None, "capacitated"):
        bench_capacitated(args)
    if parser_only in (None, "lscp"):
        bench_lscp(args)
    if parser_only in (None, "cover_tour"):
        bench_cover_tour(args)


if __name__ == "__main__":
    main()
