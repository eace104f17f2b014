"""Route solver on synthetic instances: feasibility replayed independently, and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from geo.errors import Infeasible, InvalidRequest
from geo.planning.routing import (
    format_clock,
    parse_clock,
    route_feasibility,
    solve_routes,
    stop_reach,
)

NINE, FIVE = 9 * 3600, 17 * 3600


def _instance(k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 15_000, (k + 1, 2))
    travel = np.linalg.norm(xy[:, None] - xy[None], axis=2) / (40 / 3.6)  # 40 km/h
    service = np.full(k + 1, 30 * 60)
    service[0] = 0
    windows = np.tile([NINE, FIVE], (k + 1, 1))
    return np.rint(travel), service, windows


def test_single_van_tour_is_optimal_on_a_small_instance() -> None:
    travel, service, windows = _instance(6)
    sol = solve_routes(travel, service, windows, n_routes=1, day=(NINE, FIVE), time_limit_s=1)
    assert sol.dropped == [] and sorted(sol.routes[0]) == [1, 2, 3, 4, 5, 6]
    best = min(
        sum(travel[a, b] for a, b in itertools.pairwise((0, *perm, 0)))
        for perm in itertools.permutations(range(1, 7))
    )
    driven = sum(travel[a, b] for a, b in itertools.pairwise((0, *sol.routes[0], 0)))
    assert driven == pytest.approx(best)  # the tour optimum, by enumeration of 720 orders
    assert route_feasibility(sol, travel, service, windows, (NINE, FIVE)) == []


def test_time_windows_and_day_limit_are_respected() -> None:
    travel, service, windows = _instance(12, seed=3)
    windows[3] = [parse_clock("14:00", "w"), parse_clock("15:00", "w")]
    windows[7] = [parse_clock("09:30", "w"), parse_clock("10:30", "w")]
    sol = solve_routes(
        travel,
        service,
        windows,
        n_routes=2,
        day=(NINE, FIVE),
        time_limit_s=1,
        drop_penalty=np.full(13, 10**6),
    )
    assert route_feasibility(sol, travel, service, windows, (NINE, FIVE)) == []
    for r, seq in enumerate(sol.routes):
        assert sol.depart_s[r] >= NINE and sol.return_s[r] <= FIVE
        for node, start in zip(seq, sol.starts[r], strict=True):
            assert windows[node, 0] <= start <= windows[node, 1]


def test_a_day_too_short_for_every_stop_drops_the_least_valuable() -> None:
    travel, service, windows = _instance(14, seed=5)
    penalty = np.arange(15) * 1000 + 10**5
    sol = solve_routes(
        travel,
        service,
        windows,
        n_routes=1,
        day=(NINE, NINE + 4 * 3600),
        time_limit_s=1,
        drop_penalty=penalty,
    )
    assert sol.dropped, "4 hours cannot hold 14 half-hour stops"
    assert route_feasibility(sol, travel, service, windows, (NINE, NINE + 4 * 3600)) == []
    with pytest.raises(Infeasible, match="no set of routes"):
        solve_routes(travel, service, windows, n_routes=1, day=(NINE, NINE + 4 * 3600), time_limit_s=0.5)


def test_a_window_no_van_can_meet_is_a_clear_error() -> None:
    travel, service, windows = _instance(4, seed=1)
    far = int(np.argmax(travel[0]))
    windows[far] = [NINE, NINE + int(travel[0, far]) - 60]
    with pytest.raises(Infeasible, match=f"stop '{far}'.*window closes"):
        solve_routes(travel, service, windows, n_routes=3, day=(NINE, FIVE), time_limit_s=0.5)
    windows[far] = [FIVE - 600, FIVE]
    with pytest.raises(Infeasible, match="within the working day"):
        solve_routes(travel, service, windows, n_routes=1, day=(NINE, FIVE), time_limit_s=0.5)
    windows[far] = [FIVE - 60, NINE + 600]
    with pytest.raises(InvalidRequest, match="opens at"):
        solve_routes(travel, service, windows, n_routes=1, day=(NINE, FIVE), time_limit_s=0.5)


def test_clock_parsing_and_reach() -> None:
    assert parse_clock("09:30", "day_start") == 34200 and format_clock(34200) == "09:30"
    with pytest.raises(InvalidRequest, match="`day_start`"):
        parse_clock("9.30", "day_start")
    reach = stop_reach(
        np.array([[0, 0], [500, 0], [2000, 0]]), np.array([1.0, 2.0, 4.0]), np.array([[0, 0], [1900, 0]]), 800
    )
    assert reach.tolist() == [3.0, 4.0]
