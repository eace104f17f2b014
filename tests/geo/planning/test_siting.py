"""Siting solvers against optima found by enumeration on tiny instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from geo.errors import Infeasible
from geo.planning.siting import (
    evaluate_sites,
    max_cover_heuristic,
    p_median_heuristic,
    p_median_lagrangian,
    solve_max_cover,
    solve_p_median,
)


def _instance(seed: int, n: int = 24, m: int = 9) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Clustered demand so that greedy choices can be wrong and swaps matter.
    centres = rng.uniform(0, 10_000, (4, 2))
    demand = centres[rng.integers(0, 4, n)] + rng.normal(0, 1500, (n, 2))
    sites = rng.uniform(0, 10_000, (m, 2))
    cost = np.linalg.norm(demand[:, None, :] - sites[None, :, :], axis=2)
    weights = rng.integers(1, 100, n).astype(float)
    return cost, weights


def _enumerate(cost, weights, p, fixed=(), threshold=None):
    m = cost.shape[1]
    free = [j for j in range(m) if j not in set(fixed)]
    best = None
    for combo in itertools.combinations(free, p):
        open_ = list(fixed) + list(combo)
        near = cost[:, open_].min(axis=1)
        value = -(weights @ (near <= threshold)) if threshold is not None else weights @ near
        if best is None or value < best[0] - 1e-9:
            best = (value, sorted(open_))
    return abs(best[0]), best[1]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_p_median_milp_finds_the_enumerated_optimum(seed: int, p: int) -> None:
    cost, weights = _instance(seed)
    value, _ = _enumerate(cost, weights, p)
    sol = solve_p_median(cost, weights, p, time_limit_s=20)
    assert sol.status == "optimal" and sol.gap == 0.0
    # Relative tolerance 1e-9: the same optimum (ties may pick another equal-cost set).
    assert sol.objective == pytest.approx(value, rel=1e-9)
    assert evaluate_sites(cost, weights, sol.open_sites)["objective"] == pytest.approx(value, rel=1e-9)
    assert sol.bound <= sol.objective * (1 + 1e-9)
    assert len(sol.open_sites) == p


@pytest.mark.parametrize("seed", range(4))
def test_p_median_with_fixed_sites_keeps_them_and_is_optimal(seed: int) -> None:
    cost, weights = _instance(seed, n=30, m=10)
    fixed = [0, 4]
    value, _ = _enumerate(cost, weights, 2, fixed=fixed)
    sol = solve_p_median(cost, weights, 2, fixed=fixed, time_limit_s=20)
    assert set(fixed) <= set(sol.open_sites.tolist()) and len(sol.open_sites) == 4
    assert sol.objective == pytest.approx(value, rel=1e-9)
    # Every demand point is served by its nearest open site.
    near = sol.open_sites[cost[:, sol.open_sites].argmin(axis=1)]
    assert np.array_equal(cost[np.arange(len(near)), sol.assignment], cost[np.arange(len(near)), near])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_max_cover_milp_finds_the_enumerated_optimum(seed: int, p: int) -> None:
    cost, weights = _instance(seed)
    threshold = 2500.0
    value, _ = _enumerate(cost, weights, p, threshold=threshold)
    sol = solve_max_cover(cost, weights, p, threshold, time_limit_s=20)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(value, rel=1e-9)
    assert evaluate_sites(cost, weights, sol.open_sites, threshold)["covered_weight"] == pytest.approx(value)
    assert weights @ sol.covered == pytest.approx(value)


def test_heuristics_are_never_better_than_the_optimum_and_usually_equal() -> None:
    hits = 0
    for seed in range(10):
        cost, weights = _instance(seed)
        value, _ = _enumerate(cost, weights, 3)
        _, h = p_median_heuristic(cost, weights, 3)
        assert h >= value - 1e-6
        hits += np.isclose(h, value)
        cover_value, _ = _enumerate(cost, weights, 3, threshold=2500.0)
        _, hc = max_cover_heuristic(cost <= 2500.0, weights, 3)
        assert hc <= cover_value + 1e-6
    # Teitz-Bart swaps reach the optimum on most of these small instances (8 of 10 at least).
    assert hits >= 8


def test_capacitated_p_median_respects_capacities_and_matches_enumeration() -> None:
    cost, weights = _instance(3, n=16, m=6)
    caps = np.full(6, weights.sum() * 0.45)
    sol = solve_p_median(cost, weights, 3, capacities=caps, time_limit_s=30)
    assert sol.status == "optimal"
    # Enumerate open sets; the best split assignment for each is a transport LP, solved by
    # the same model with that set fixed open.
    best = min(
        solve_p_median(cost, weights, 0, fixed=list(c), capacities=caps, time_limit_s=30).objective
        for c in itertools.combinations(range(6), 3)
    )
    assert sol.objective == pytest.approx(best, rel=1e-6)
    uncapacitated = solve_p_median(cost, weights, 3, time_limit_s=30).objective
    assert sol.objective >= uncapacitated - 1e-6


def test_a_time_limit_returns_the_best_found_with_its_gap() -> None:
    rng = np.random.default_rng(7)
    demand, sites = rng.uniform(0, 1e4, (700, 2)), rng.uniform(0, 1e4, (80, 2))
    cost = np.linalg.norm(demand[:, None] - sites[None], axis=2)
    weights = rng.integers(1, 50, 700).astype(float)
    sol = solve_p_median(cost, weights, 6, time_limit_s=0.2)
    _, h = p_median_heuristic(cost, weights, 6)
    assert sol.objective <= h + 1e-6
    if sol.status == "time_limit":
        assert np.isnan(sol.gap) or sol.gap >= 0
        assert sol.notes
    else:  # solved inside the limit on a fast machine
        assert sol.gap == 0.0


@pytest.mark.parametrize(
    ("p", "fixed", "weights", "message"),
    [
        (10, (), None, "only 9 candidate"),
        (8, (0, 1), None, "only 7 candidate"),
        (2, (), np.zeros(24), "demand set is empty"),
        (0, (), None, "no site would be open"),
    ],
)
def test_bad_instances_say_why(p, fixed, weights, message) -> None:
    cost, w = _instance(0)
    with pytest.raises(Infeasible, match=message):
        solve_p_median(cost, w if weights is None else weights, p, fixed=fixed)


def test_capacities_too_small_for_the_demand_are_infeasible() -> None:
    cost, weights = _instance(1, n=10, m=5)
    with pytest.raises(Infeasible, match="capacity"):
        solve_p_median(cost, weights, 2, capacities=np.full(5, weights.sum() / 5))


@pytest.mark.parametrize("seed", range(5))
def test_lagrangian_bound_never_exceeds_the_enumerated_optimum(seed: int) -> None:
    cost, weights = _instance(seed, n=40, m=10)
    opt, _ = _enumerate(cost, weights, 3, fixed=(1,))
    _, h = p_median_heuristic(cost, weights, 3, fixed=[1])
    lb, open_sites, value = p_median_lagrangian(cost, weights, 3, [1], h, time_limit_s=2)
    assert lb <= opt * (1 + 1e-9)
    assert opt * (1 - 1e-9) <= value <= h
    if open_sites.size:  # an open set better than the heuristic's was met on the way
        assert 1 in open_sites and len(open_sites) == 4
    # The bound is strong on these instances: within 5 % of the optimum (usually exact).
    assert lb >= 0.95 * opt


def test_swaps_from_a_given_start_keep_fixed_sites_and_never_worsen() -> None:
    cost, weights = _instance(2, n=40, m=10)
    start = [0, 5, 9]
    before = evaluate_sites(cost, weights, start)["objective"]
    open_sites, value = p_median_heuristic(cost, weights, 2, fixed=[0], start=start)
    assert 0 in open_sites and len(open_sites) == 3 and value <= before + 1e-9
