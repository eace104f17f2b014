"""Siting and routing at bench size: geo.planning against a plain spopt solve.

    .venv/bin/python bench/planning.py [--limit 120] [--route-limit 10] [--seed 7]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=120.0, help="MILP / CBC time limit, seconds")
    parser.add_argument("--route-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bench_p_median(args)
    bench_route(args)


if __name__ == "__main__":
    main()
