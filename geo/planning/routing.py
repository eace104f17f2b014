"""Mobile-service routes: choose stops, order them for one or more vans over the week.

The vehicle-routing problem with time windows is solved by OR-Tools' routing library
(``pywrapcp``): a first solution by cheapest arc, improved by guided local search until the
time limit (the library uses its whole limit, so keep it small inline and run long solves
as a background job, ``geo.planning.jobs``). Travel times come from the road graph
(``geo.planning.network``); each van parks at the road node nearest its stop, so routes
have no access legs and their lines follow the road links exactly.

Model
-----
Nodes are the depot (0) and the stops. The time along an arc :math:`i \\to j` is the
service time at ``i`` plus the drive :math:`t_{ij}`. A time dimension with waiting slack
carries the clock: service at stop ``i`` starts inside its window :math:`[a_i, b_i]`, and
each route (one per van per day) leaves the depot no earlier than the day's start and is
back by its end (the working-day limit). The objective is total driving plus service time,
plus, when stops may be left out, a penalty per dropped stop proportional to its demand
(so the van drops the stops that matter least).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from geo.errors import Infeasible, InvalidRequest

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class RouteSolution:
    """Routes found: per route, the stop indices in order and service start times (s)."""

    routes: list[list[int]]
    starts: list[list[int]]
    depart_s: list[int]
    return_s: list[int]
    dropped: list[int]
    objective: int
    status: str
    solutions_found: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    #: Per route, the start of the driver's break (seconds after midnight), when asked for.
    break_starts: list[int | None] = field(default_factory=list)


def parse_clock(value: str, name: str) -> int:
    """Seconds after midnight of an ``HH:MM`` clock time (naming the field when it is bad)."""
    try:
        hh, mm = value.split(":")
        h, m = int(hh), int(mm)
    except (ValueError, AttributeError):
        raise InvalidRequest(f"`{name}` was {value!r} but is expected to be a time like '09:30'") from None
    if not (0 <= h <= 24 and 0 <= m < 60) or h * 60 + m > 24 * 60:
        raise InvalidRequest(f"`{name}` was {value!r} but is expected to be a time from 00:00 to 24:00")
    return h * 3600 + m * 60


def format_clock(seconds: float) -> str:
    """``HH:MM`` for seconds after midnight (rounded to the minute)."""
    minutes = int(round(seconds / 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def check_windows(
    travel_s: np.ndarray,
    service_s: np.ndarray,
    windows: np.ndarray,
    day: tuple[int, int],
    names: Sequence[str],
) -> None:
    """Raise Infeasible, naming the stop, if no van could serve a stop inside its window.

    A stop ``i`` is servable only if :math:`\\max(a_i, d_0 + t_{0i}) \\le b_i` and
    :math:`\\max(a_i, d_0 + t_{0i}) + s_i + t_{i0} \\le d_1` for the working day
    :math:`[d_0, d_1]`.
    """
    start, end = day
    for i in range(1, travel_s.shape[0]):
        open_, close = int(windows[i, 0]), int(windows[i, 1])
        if open_ > close:
            raise InvalidRequest(
                f"the time window of stop {names[i]!r} opens at {format_clock(open_)} "
                f"after it closes at {format_clock(close)}"
            )
        earliest = max(open_, start + int(travel_s[0, i]))
        if earliest > close:
            raise Infeasible(
                f"no van can reach stop {names[i]!r} inside its time window: the earliest "
                f"arrival is {format_clock(earliest)} but the window closes at {format_clock(close)}"
            )
        back = earliest + int(service_s[i]) + int(travel_s[i, 0])
        if back > end:
            raise Infeasible(
                f"stop {names[i]!r} cannot be served within the working day: serving it from "
                f"{format_clock(earliest)} brings the van back at {format_clock(back)}, after "
                f"the day ends at {format_clock(end)}"
            )


def solve_routes(
    travel_s: np.ndarray,
    service_s: np.ndarray,
    windows: np.ndarray,
    *,
    n_routes: int,
    day: tuple[int, int],
    drop_penalty: np.ndarray | None = None,
    time_limit_s: float = 2.0,
    names: Sequence[str] | None = None,
    progress: Progress | None = None,
    improve: bool = True,
    break_window: tuple[int, int, int] | None = None,
    linked_visits: Sequence[tuple[int, int, int]] = (),
    first_routes: dict[int, int] | None = None,
) -> RouteSolution:
    """Solve the vehicle-routing problem with time windows and a working-day limit.

    Parameters
    ----------
    travel_s
        ``(k+1, k+1)`` drive times in seconds; row and column 0 are the depot.
    service_s
        ``(k+1,)`` time spent at each stop (0 at the depot).
    windows
        ``(k+1, 2)`` earliest and latest service start, seconds after midnight.
    n_routes
        Routes to plan (vans x days); each starts and ends at the depot.
    day
        ``(start, end)`` of the working day, seconds after midnight.
    drop_penalty
        Penalty (in seconds of route time) for leaving each stop out; None means every
        stop must be visited (Infeasible if that cannot be done).
    time_limit_s
        Guided local search runs for this long.
    names
        Stop names for messages.
    progress
        Called with (fraction of the time limit used, message) at each improving solution.
    improve
        False stops at the first solution (cheapest arc, then plain local search), as a
        baseline for the bench.
    break_window
        ``(earliest start, latest start, duration)`` in seconds of a break each route
        must take (OR-Tools break intervals: the break falls between visits, never during
        one; the van waits while the driver rests).
    linked_visits
        ``(a, b, offset)``: node ``b`` is served by route ``route(a) + offset`` (the same
        weekday and van ``offset`` routes later, i.e. a week later) and is left out exactly
        when ``a`` is; used to visit a stop every week of a longer period.
    first_routes
        ``{node: n}``: the node may only be on routes ``0 .. n-1`` (the first week).

    Returns
    -------
    RouteSolution
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    k1 = travel_s.shape[0]
    if k1 < 2:
        raise Infeasible("there are no stops to route")
    if n_routes < 1:
        raise InvalidRequest("`vehicles` x `days` must give at least one route")
    names = list(names) if names is not None else [str(i) for i in range(k1)]
    start, end = day
    if end <= start:
        raise InvalidRequest(
            f"the working day ends at {format_clock(end)}, not after it starts at {format_clock(start)}"
        )
    travel = np.rint(np.asarray(travel_s, dtype=float)).astype(np.int64)
    service = np.rint(np.asarray(service_s, dtype=float)).astype(np.int64)
    win = np.asarray(windows, dtype=np.int64).copy()
    win[:, 0] = np.maximum(win[:, 0], start)
    win[:, 1] = np.minimum(win[:, 1], end)
    check_windows(travel, service, win, day, names)

    manager = pywrapcp.RoutingIndexManager(k1, n_routes, 0)
    routing = pywrapcp.RoutingModel(manager)
    # Arc i->j costs the service at i plus the drive; registered as a matrix so the solver
    # never calls back into Python for a transit.
    transit = travel + service[:, None]
    transit_cb = routing.RegisterTransitMatrix(transit.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(transit_cb)
    routing.AddDimension(transit_cb, end - start, end, False, "time")
    clock = routing.GetDimensionOrDie("time")
    for node in range(1, k1):
        clock.CumulVar(manager.NodeToIndex(node)).SetRange(int(win[node, 0]), int(win[node, 1]))
    for v in range(n_routes):
        clock.CumulVar(routing.Start(v)).SetRange(start, end)
        clock.CumulVar(routing.End(v)).SetRange(start, end)
        routing.AddVariableMinimizedByFinalizer(clock.CumulVar(routing.Start(v)))
        routing.AddVariableMinimizedByFinalizer(clock.CumulVar(routing.End(v)))
    if drop_penalty is not None:
        for node in range(1, k1):
            routing.AddDisjunction([manager.NodeToIndex(node)], int(max(1, drop_penalty[node])))
    cp = routing.solver()
    for node, n_first in (first_routes or {}).items():
        routing.VehicleVar(manager.NodeToIndex(node)).SetValues([-1, *range(int(n_first))])
    for a, b, offset in linked_visits:
        ia, ib = manager.NodeToIndex(a), manager.NodeToIndex(b)
        cp.Add(routing.ActiveVar(ia) == routing.ActiveVar(ib))
        cp.Add(routing.VehicleVar(ib) == routing.VehicleVar(ia) + int(offset) * routing.ActiveVar(ia))
    breaks: list[object] = []
    if break_window is not None:
        b_from, b_to, b_len = (int(v) for v in break_window)
        if b_to < b_from or b_len <= 0:
            raise InvalidRequest("the break window must open before it closes and the break last > 0 minutes")
        if b_from < start or b_to + b_len > end:
            raise InvalidRequest(
                f"the break ({format_clock(b_from)}-{format_clock(b_to + b_len)}) must fall inside "
                f"the working day {format_clock(start)}-{format_clock(end)}"
            )
        visit = [int(service[manager.IndexToNode(i)]) for i in range(routing.Size())]
        for v in range(n_routes):
            brk = routing.solver().FixedDurationIntervalVar(b_from, b_to, b_len, False, f"break {v}")
            clock.SetBreakIntervalsOfVehicle([brk], v, visit)
            breaks.append(brk)

    t0 = time.perf_counter()
    found = [0]

    def on_solution() -> None:
        found[0] += 1
        if progress is not None:
            elapsed = time.perf_counter() - t0
            progress(
                min(0.99, elapsed / max(time_limit_s, 1e-9)),
                f"{found[0]} improving solutions; best cost {routing.CostVar().Value()} s",
            )

    routing.AddAtSolutionCallback(on_solution)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    if improve:
        params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(100, int(time_limit_s * 1000)))
    solution = routing.SolveWithParameters(params)
    seconds = time.perf_counter() - t0
    if solution is None:
        raise Infeasible(
            "no set of routes visits every stop inside its time window and the working day: "
            "add a van or a day, shorten the service time, or allow stops to be dropped"
        )
    routes: list[list[int]] = []
    starts: list[list[int]] = []
    depart: list[int] = []
    back: list[int] = []
    visited: set[int] = set()
    for v in range(n_routes):
        index = routing.Start(v)
        depart.append(int(solution.Min(clock.CumulVar(index))))
        seq: list[int] = []
        times: list[int] = []
        index = solution.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            seq.append(node)
            times.append(int(solution.Min(clock.CumulVar(index))))
            index = solution.Value(routing.NextVar(index))
        back.append(int(solution.Min(clock.CumulVar(index))))
        routes.append(seq)
        starts.append(times)
        visited.update(seq)
    dropped = [i for i in range(1, k1) if i not in visited]
    break_starts: list[int | None] = [None] * n_routes
    if breaks:
        intervals = solution.IntervalVarContainer()
        by_name = {}
        for i in range(intervals.Size()):
            el = intervals.Element(i)
            by_name[el.Var().Name()] = int(el.StartValue()) if el.PerformedValue() else None
        break_starts = [by_name.get(f"break {v}") for v in range(n_routes)]
    return RouteSolution(
        routes=routes,
        starts=starts,
        depart_s=depart,
        return_s=back,
        dropped=dropped,
        objective=int(solution.ObjectiveValue()),
        status="time_limit" if seconds >= time_limit_s * 0.95 else "local_optimum",
        solutions_found=found[0],
        seconds=seconds,
        break_starts=break_starts,
    )


def route_feasibility(
    solution: RouteSolution,
    travel_s: np.ndarray,
    service_s: np.ndarray,
    windows: np.ndarray,
    day: tuple[int, int],
) -> list[str]:
    """Check a solution independently of the solver; return the violations found (none is good).

    Replays each route: the van leaves the depot at its departure time, drives
    :math:`t_{ij}`, waits for the window to open if early, serves for :math:`s_i`.
    """
    problems: list[str] = []
    for r, (seq, starts) in enumerate(zip(solution.routes, solution.starts, strict=True)):
        clock = solution.depart_s[r]
        here = 0
        if clock < day[0]:
            problems.append(f"route {r} leaves before the day starts")
        for node, reported in zip(seq, starts, strict=True):
            arrive = clock + int(round(travel_s[here, node]))
            begin = max(arrive, int(windows[node, 0]))
            if begin > windows[node, 1]:
                problems.append(f"route {r} serves stop {node} at {begin} after its window closes")
            if reported < begin:
                problems.append(f"route {r} reports service at {node} before it can start")
            clock = max(begin, reported) + int(round(service_s[node]))
            here = node
        clock += int(round(travel_s[here, 0]))
        if clock > day[1]:
            problems.append(f"route {r} returns at {clock}, after the day ends at {day[1]}")
    return problems


def stop_reach(demand_xy: np.ndarray, demand_w: np.ndarray, stop_xy: np.ndarray, walk_m: float) -> np.ndarray:
    """Demand weight within ``walk_m`` (straight line) of each candidate stop.

    :math:`R_j = \\sum_i w_i [\\lVert x_i - s_j \\rVert \\le \\text{walk}]`, vectorised.
    """
    from geo.planning.network import straight_line_matrix

    near = straight_line_matrix(demand_xy, stop_xy) <= walk_m
    result: np.ndarray = np.asarray(demand_w, dtype=float) @ near
    return result
