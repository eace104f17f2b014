"""Planning answers from the database: where to put one-stop shops, which route a van takes.

Each function reads demand (``demand``), sites and the road graph (``sites``,
``network``), calls a pure solver (``siting``, ``routing``) and shapes a JSON-ready
answer whose geometries are GeoJSON in WGS84. Every answer carries the demand points,
weights and objective it used, so it can be audited and re-computed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from sqlalchemy import Connection, text

from geo.db import load_sql
from geo.errors import Infeasible, InvalidRequest
from geo.planning import network, routing, siting
from geo.planning import stops as stops_mod
from geo.planning.demand import DemandPoints, DemandSource, DemandUnit, demand_points
from geo.planning.sites import SiteTable, load_sites

Travel = Literal["drive_time", "drive_distance", "straight_line"]


def _round(values: np.ndarray, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]


def cost_matrix(
    conn: Connection, points_xy: np.ndarray, sites: SiteTable, travel: Travel
) -> tuple[np.ndarray, str]:
    """Travel cost from each demand point to each site, and its unit (``s`` or ``m``).

    Network costs snap points and sites to their nearest road node (KNN) and add the
    straight-line access legs at ``network.ACCESS_SPEED_KPH``; ``straight_line`` is the
    Euclidean distance in British National Grid metres.
    """
    if travel == "straight_line":
        return network.straight_line_matrix(points_xy, sites.xy), "m"
    graph = network.road_graph(conn)
    p_nodes, p_access = network.snap_to_nodes(conn, points_xy)
    s_nodes, s_access = network.snap_to_nodes(conn, sites.xy)
    metric: network.Metric = "time" if travel == "drive_time" else "distance"
    cost = network.network_cost_matrix(
        graph, p_nodes, s_nodes, metric=metric, origin_access_m=p_access, dest_access_m=s_access
    )
    return cost, ("s" if metric == "time" else "m")


def _display(cost: np.ndarray, unit: str) -> tuple[np.ndarray, str]:
    """Costs in the unit people read: minutes for time, metres for distance."""
    return (cost / 60.0, "min") if unit == "s" else (cost, "m")


def _figures(
    cost: np.ndarray,
    weights: np.ndarray,
    open_cols: siting.Indices,
    threshold: float | None,
    unit: str,
    objective: siting.Objective,
    shares: np.ndarray | None = None,
) -> dict[str, Any]:
    r"""Travel and coverage of an answer, from its own assignment.

    Without ``shares`` each demand point uses its nearest open site; with them (a
    capacitated answer) point ``i`` sends share :math:`s_{ij}` of its weight to ``j``:
    weighted travel :math:`\sum_{ij} w_i s_{ij} c_{ij}`, mean travel that over the demand
    served, worst travel the largest :math:`c_{ij}` with :math:`s_{ij} > 0`, and covered
    demand :math:`\sum_{ij} w_i s_{ij} [c_{ij} \le S]`. ``objective_value`` is in the
    objective's own unit: weighted travel for p-median, covered demand for max cover.
    """
    scale = 1 / 60.0 if unit == "s" else 1.0
    if shares is None:
        ev = siting.evaluate_sites(cost, weights, open_cols, threshold)
        travel_obj, mean, worst = ev["objective"], ev["mean_cost"], ev["worst_cost"]
        covered = ev.get("covered_weight")
    else:
        ev = siting.evaluate_assignment(cost, weights, shares, threshold)
        travel_obj, mean, worst = ev["objective"], ev["mean_cost"], ev["worst_cost"]
        covered = ev.get("covered_weight")
    total = float(weights.sum())
    out: dict[str, Any] = {
        "objective_value": round(travel_obj if objective == "p_median" else float(covered or 0.0), 3),
        "weighted_travel": round(travel_obj, 3),
        "mean_travel": round(mean * scale, 2),
        "worst_travel": round(worst * scale, 2),
    }
    if threshold is not None:
        out["covered_demand"] = round(float(covered or 0.0), 3)
        out["coverage_share"] = round(float(covered or 0.0) / total, 4) if total > 0 else None
    return out


#: Travel beyond which a household counts as left out when no `cover_within` is given
#: (minutes by road, or metres for distance travel).
DEFAULT_STANDARD = {"s": 15.0, "m": 5000.0}


def segment_figures(
    conn: Connection,
    demand: DemandPoints,
    travel: dict[str, np.ndarray],
    standard: float,
) -> list[dict[str, Any]]:
    """Who is served how well: per segment, households, mean and worst travel, and left out.

    ``travel`` maps a label (``proposed``, ``current``) to each demand unit's travel in
    display units. Households are those living in the demand units (every household of
    each segment there, whatever the demand source), :math:`H_{as}`; per segment ``s``:
    mean :math:`\\sum_a H_{as} t_a / \\sum_a H_{as}`, worst :math:`\\max_{a: H_{as} > 0} t_a`
    and left out :math:`\\sum_a H_{as} [t_a > \text{standard}]`.
    """
    frame = demand.households
    if frame is None or frame.empty:
        return []
    pos = {str(c): i for i, c in enumerate(demand.codes)}
    frame = frame[frame["area_code"].astype(str).isin(pos)]
    names: dict[str, str] = {r.code: r.name for r in conn.execute(text("SELECT code, name FROM segment"))}
    out: list[dict[str, Any]] = []
    for seg, part in frame.groupby(frame["segment_code"].fillna("unclassified"), sort=True):
        idx = np.array([pos[str(c)] for c in part["area_code"]], dtype=int)
        h = part["households"].to_numpy(dtype=float)
        total = float(h.sum())
        if total <= 0:
            continue
        row: dict[str, Any] = {
            "segment": str(seg),
            "name": names.get(seg, "unclassified"),
            "households": int(total),
        }
        for label, t in travel.items():
            tt = t[idx]
            row[f"{label}_mean_travel"] = round(float(h @ tt / total), 2)
            row[f"{label}_worst_travel"] = round(float(tt[h > 0].max()), 2)
            row[f"{label}_left_out"] = int(round(float(h @ (tt > standard + 1e-9))))
        if "current" in travel:
            row["left_out_change"] = row["proposed_left_out"] - row["current_left_out"]
        out.append(row)
    return out


def plan_sites(
    conn: Connection,
    *,
    objective: siting.Objective = "p_median",
    p: int = 2,
    keep_existing: bool = True,
    candidate_kinds: Sequence[str] | None = None,
    candidate_site_ids: Sequence[int] | None = None,
    demand_source: DemandSource = "households",
    classification: str | None = None,
    segments: Sequence[str] | None = None,
    service: str | None = None,
    demand_unit: DemandUnit = "oa",
    h3_resolution: int = 8,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    percentile: float = 80.0,
    travel: Travel = "drive_time",
    cover_within: float | None = None,
    capacitated: bool = False,
    capacity_scale: float | None = None,
    time_limit_s: float = 10.0,
) -> dict[str, Any]:
    """Choose ``p`` new sites for one-stop shops and compare the answer with today's offices.

    Parameters
    ----------
    conn
        Database connection.
    objective
        ``p_median`` (minimise demand-weighted travel) or ``max_cover`` (maximise the
        demand within ``cover_within``).
    p
        New sites to open.
    keep_existing
        Keep today's offices open (fixed); otherwise they compete as candidates.
    candidate_kinds, candidate_site_ids
        Which venues may be chosen (default: every non-office site).
    demand_source, classification, segments, service, demand_unit, h3_resolution,
    date_from, date_to, percentile
        The demand (``geo.planning.demand.demand_points``).
    travel
        ``drive_time`` (minutes over the roads), ``drive_distance`` (metres over the roads)
        or ``straight_line`` (metres).
    cover_within
        Coverage standard, minutes for ``drive_time`` and metres otherwise; required for
        ``max_cover``, and reported as coverage for ``p_median`` when given.
    capacitated, capacity_scale
        Limit each site to ``capacity x capacity_scale`` demand weight (``site.capacity``).
    time_limit_s
        MILP time limit; past it the best solution is returned with its gap.

    Returns
    -------
    dict
        ``summary``, ``proposed`` and ``current`` figures, and GeoJSON FeatureCollections
        ``sites``, ``catchments`` and ``demand`` (WGS84); see the API schema.
    """
    if objective == "max_cover" and cover_within is None:
        raise InvalidRequest("`cover_within` is required for objective 'max_cover'")
    if cover_within is not None and cover_within <= 0:
        raise InvalidRequest(f"`cover_within` was {cover_within} but is expected to be positive")
    if capacitated and not capacity_scale:
        raise InvalidRequest(
            "`capacity_scale` is required when `capacitated` is true: the demand weight one "
            "unit of site.capacity can serve"
        )
    demand = demand_points(
        conn,
        source=demand_source,
        classification=classification,
        segments=segments,
        service=service,
        unit=demand_unit,
        resolution=h3_resolution,
        date_from=date_from,
        date_to=date_to,
        percentile=percentile,
    )
    sites = load_sites(conn, kinds=candidate_kinds, ids=candidate_site_ids)
    # Without keep_existing, today's offices stay in the table as ordinary candidates.
    fixed = np.flatnonzero(sites.is_existing) if keep_existing else np.array([], dtype=int)
    candidates = len(sites) - fixed.size
    if p > candidates:
        raise Infeasible(f"`p` was {p} but there are only {candidates} candidate venue(s) to choose from")
    cost, unit = cost_matrix(conn, demand.xy, sites, travel)
    threshold = None
    if cover_within is not None:
        threshold = cover_within * 60.0 if unit == "s" else cover_within
    caps = sites.capacity * float(capacity_scale) if capacitated and capacity_scale else None
    if objective == "p_median":
        sol = siting.solve_p_median(
            cost, demand.weights, p, fixed=fixed, capacities=caps, time_limit_s=time_limit_s
        )
    else:
        assert threshold is not None
        sol = siting.solve_max_cover(
            cost, demand.weights, p, threshold, fixed=fixed, capacities=caps, time_limit_s=time_limit_s
        )
    open_cols = sol.open_sites
    existing_cols = np.flatnonzero(sites.is_existing)
    shown, shown_unit = _display(cost, unit)
    rows = np.arange(len(demand))
    shares = sol.shares
    if shares is None:
        travel_to = shown[rows, sol.assignment]
    else:
        # A split area travels, on average over its shares, to each site it is sent to.
        sent = shares.sum(axis=1)
        mixed = (shares * shown).sum(axis=1) / np.where(sent > 0, sent, 1.0)
        travel_to = np.where(sent > 0, mixed, shown[rows, sol.assignment])
    current_figures = None
    current_site = np.full(len(demand), -1)
    current_travel = np.full(len(demand), np.nan)
    if existing_cols.size:
        current_figures = _figures(cost, demand.weights, existing_cols, threshold, unit, objective)
        current_figures["site_ids"] = sites.ids[existing_cols].tolist()
        near = existing_cols[cost[:, existing_cols].argmin(axis=1)]
        current_site = sites.ids[near]
        current_travel = shown[rows, near]
    proposed = _figures(cost, demand.weights, open_cols, threshold, unit, objective, shares)
    proposed["site_ids"] = sites.ids[open_cols].tolist()
    proposed["new_site_ids"] = sites.ids[open_cols[~sites.is_existing[open_cols]]].tolist()
    if objective == "max_cover" and shares is not None:
        # Capacitated covering counts only the demand a site within the standard takes on.
        proposed["objective_value"] = round(sol.objective, 3)
        proposed["covered_demand"] = round(sol.objective, 3)
        proposed["coverage_share"] = round(sol.objective / float(demand.weights.sum()), 4)
    if shares is None:
        loads = np.bincount(sol.assignment, weights=demand.weights, minlength=len(sites))
    else:
        loads = demand.weights @ shares
    assigned_ids = sites.ids[sol.assignment]
    catchments = _catchments(conn, demand, sites, open_cols, sol, shown)
    standard = cover_within if cover_within is not None else DEFAULT_STANDARD[unit]
    by_travel = {"proposed": travel_to}
    if existing_cols.size:
        by_travel["current"] = current_travel
    by_segment = segment_figures(conn, demand, by_travel, standard)
    summary = {
        "objective": objective,
        "objective_value": round(sol.objective, 3),
        "objective_unit": (
            f"demand x {'seconds' if unit == 's' else 'metres'}"
            if objective == "p_median"
            else "demand covered"
        ),
        "status": sol.status,
        "gap": None if np.isnan(sol.gap) else round(sol.gap, 8),
        "bound": None if not np.isfinite(sol.bound) else round(sol.bound, 3),
        "heuristic_value": None if sol.heuristic_objective is None else round(sol.heuristic_objective, 3),
        "solver": sol.solver,
        "heuristic_seconds": round(sol.heuristic_seconds, 4),
        "milp_seconds": round(sol.milp_seconds, 3),
        "time_limit_s": time_limit_s,
        "p": p,
        "kept_existing": sites.ids[fixed].tolist(),
        "candidates": int(candidates),
        "travel": travel,
        "travel_unit": shown_unit,
        "access_speed_kph": network.ACCESS_SPEED_KPH if travel != "straight_line" else None,
        "cover_within": cover_within,
        "capacity_scale": capacity_scale if capacitated else None,
        "demand": demand.description,
        "demand_source": demand.source,
        "demand_unit": demand.unit,
        "demand_points": len(demand),
        "total_demand": round(float(demand.weights.sum()), 3),
        "notes": sol.notes,
    }
    site_feats = []
    for col in open_cols:
        if shares is None:
            part = (sol.assignment == col).astype(float)
        else:
            part = shares[:, col]
        served = part > 1e-9
        flow = demand.weights * part
        cap = None if caps is None or not np.isfinite(caps[col]) else round(float(caps[col]), 3)
        site_feats.append(
            {
                "type": "Feature",
                "id": int(sites.ids[col]),
                "geometry": {"type": "Point", "coordinates": _round(sites.lnglat[col], 6)},
                "properties": {
                    "site_id": int(sites.ids[col]),
                    "name": sites.names[col],
                    "kind": sites.kinds[col],
                    "is_existing": bool(sites.is_existing[col]),
                    "is_new": not bool(sites.is_existing[col]),
                    "capacity": None if np.isnan(sites.capacity[col]) else int(sites.capacity[col]),
                    "capacity_demand": cap,
                    "demand": round(float(loads[col]), 3),
                    "demand_points": int(served.sum()),
                    "mean_travel": (
                        round(float(flow @ shown[:, col] / flow.sum()), 2) if flow.sum() > 0 else None
                    ),
                    "worst_travel": round(float(shown[served, col].max()), 2) if served.any() else None,
                },
            }
        )
    demand_feats = _demand_features(
        demand, assigned_ids, travel_to, sol.covered, current_site, current_travel, shares, sites.ids
    )
    return {
        "summary": summary,
        "proposed": proposed,
        "current": current_figures,
        "sites": {"type": "FeatureCollection", "features": site_feats},
        "catchments": catchments,
        "demand": {"type": "FeatureCollection", "features": demand_feats},
        "segments": {"standard": standard, "unit": shown_unit, "rows": by_segment},
    }


def _demand_features(
    demand: DemandPoints,
    assigned_ids: np.ndarray,
    travel_to: np.ndarray,
    covered: np.ndarray,
    current_site: np.ndarray,
    current_travel: np.ndarray,
    shares: np.ndarray | None = None,
    site_ids: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    from pyproj import Transformer

    def split(i: int) -> str | None:
        if shares is None or site_ids is None:
            return None
        cols = np.flatnonzero(shares[i] > 1e-9)
        return ";".join(f"{int(site_ids[j])}:{shares[i, j]:.8f}" for j in cols)

    lng, lat = Transformer.from_crs(27700, 4326, always_xy=True).transform(demand.xy[:, 0], demand.xy[:, 1])
    return [
        {
            "type": "Feature",
            "id": str(code),
            "geometry": {"type": "Point", "coordinates": [round(float(x), 6), round(float(y), 6)]},
            "properties": {
                "code": str(code),
                "weight": round(float(w), 4),
                "site_id": int(s),
                "travel": round(float(t), 2),
                "covered": round(float(c), 4),
                "current_site_id": None if cs < 0 else int(cs),
                "current_travel": None if np.isnan(ct) else round(float(ct), 2),
                "site_shares": split(i),
            },
        }
        for i, (code, x, y, w, s, t, c, cs, ct) in enumerate(
            zip(
                demand.codes,
                lng,
                lat,
                demand.weights,
                assigned_ids,
                travel_to,
                covered,
                current_site,
                current_travel,
                strict=True,
            )
        )
    ]


def _catchments(
    conn: Connection,
    demand: DemandPoints,
    sites: SiteTable,
    open_cols: np.ndarray,
    sol: siting.SitingSolution,
    shown: np.ndarray,
) -> dict[str, Any]:
    """Catchment of each open site: its areas, and their union as a polygon (WGS84)."""
    assigned = sites.ids[sol.assignment]
    if demand.unit.startswith("h3"):
        import h3

        geoms: dict[int, tuple[Any, float | None]] = {}
        for col in open_cols:
            cells = [str(c) for c in demand.codes[sol.assignment == col]]
            geoms[int(sites.ids[col])] = (h3.cells_to_geo(cells) if cells else None, None)
    else:
        rows = conn.execute(
            load_sql("planning/catchments"),
            {"site_ids": [int(v) for v in assigned], "oa_codes": [str(c) for c in demand.codes]},
        ).all()
        geoms = {int(r.site_id): (json.loads(r.geojson), float(r.area_km2)) for r in rows}
    feats = []
    for col in open_cols:
        sid = int(sites.ids[col])
        served = sol.assignment == col
        geom, area_km2 = geoms.get(sid, (None, None))
        part = served.astype(float) if sol.shares is None else sol.shares[:, col]
        flow = demand.weights * part
        took = part > 1e-9
        feats.append(
            {
                "type": "Feature",
                "id": sid,
                "geometry": geom,
                "properties": {
                    "site_id": sid,
                    "name": sites.names[col],
                    "is_new": not bool(sites.is_existing[col]),
                    "area_codes": [str(c) for c in demand.codes[served]],
                    "area_km2": area_km2,
                    "demand": round(float(flow.sum()), 3),
                    "mean_travel": (
                        round(float(flow @ shown[:, col] / flow.sum()), 2) if flow.sum() > 0 else None
                    ),
                    "worst_travel": round(float(shown[took, col].max()), 2) if took.any() else None,
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats}


# --------------------------------------------------------------------------- routes


#: Weeks in the timetable's period for each visit frequency (each stop once a period).
FREQUENCY_WEEKS: dict[str, int] = {"weekly": 1, "fortnightly": 2, "four_weekly": 4}


def plan_routes(
    conn: Connection,
    *,
    stop_source: Literal["venues", "h3"] = "venues",
    stop_site_ids: Sequence[int] | None = None,
    candidate_kinds: Sequence[str] | None = None,
    max_stops: int = 8,
    h3_resolution: int = 9,
    depot_site_id: int | None = None,
    vehicles: int = 1,
    days: Sequence[str] = ("tue",),
    frequency: str = "weekly",
    weekly_stop_ids: Sequence[str] | None = None,
    day_start: str = "09:00",
    day_end: str = "17:00",
    service_min: float = 45.0,
    time_windows: dict[str, tuple[str, str]] | None = None,
    allow_drop: bool = True,
    walk_m: float = 800.0,
    walk_basis: stops_mod.WalkBasis = "network",
    stop_selection: Literal["unique_cover", "by_reach"] = "unique_cover",
    break_min: float = 0.0,
    break_from: str = "12:00",
    break_to: str = "14:00",
    demand_source: DemandSource = "households",
    classification: str | None = None,
    segments: Sequence[str] | None = None,
    service: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    percentile: float = 80.0,
    time_limit_s: float = 2.0,
    progress: routing.Progress | None = None,
) -> dict[str, Any]:
    """Plan a mobile-service timetable: stops chosen for unique coverage, routed over a period.

    Parameters
    ----------
    conn
        Database connection.
    stop_source
        ``venues`` (candidate venues, or ``stop_site_ids``) or ``h3`` (the H3 cells at
        ``h3_resolution`` with the most demand, three per stop asked for, the van parking at
        the road node nearest the cell centre).
    stop_site_ids
        Stops to use as given (no selection).
    max_stops
        How many stops to choose.
    depot_site_id
        Where routes start and end (default: the first existing office).
    vehicles, days, frequency
        The vans work ``days`` (distinct weekdays) every week; each stop is visited once
        per period of 1 (``weekly``), 2 (``fortnightly``) or 4 (``four_weekly``) weeks, so
        a fortnightly timetable has two weeks of route-days to share the stops between.
    weekly_stop_ids
        Stops (ids as strings) to visit every week of a longer period, on the same weekday
        by the same van (a busy town-centre stop in a fortnightly timetable).
    day_start, day_end
        The working day (``HH:MM``); each route leaves and returns inside it.
    service_min
        Dwell: minutes the van stays at each stop.
    time_windows
        ``{stop_id: (open, close)}`` for stops with their own hours (``HH:MM``).
    allow_drop
        Let stops that do not fit be left out (reported), those adding least coverage first.
    walk_m, walk_basis
        A household is served by a stop within ``walk_m`` metres on foot: over the walkable
        road network (``network``, motorways excluded) or the straight line.
    stop_selection
        ``unique_cover`` (maximal covering: each household counted once) or ``by_reach``
        (the stops with the most households each, the old double-counting pick).
    break_min, break_from, break_to
        A driver's break of ``break_min`` minutes starting between ``break_from`` and
        ``break_to`` on every route (0 = none).
    demand_source, classification, segments, service, date_from, date_to, percentile
        The target demand (``geo.planning.demand``).
    time_limit_s
        Guided local search time (OR-Tools uses all of it).
    progress
        Optional callback (fraction, message).

    Returns
    -------
    dict
        ``summary``, ``routes`` (FeatureCollection of LineStrings following the roads),
        ``stops`` (Points, in visiting order), ``timetable`` (printable rows), ``dropped``.
    """
    from geo.analysis.hotspot_queries import default_classification

    days = list(days)
    unknown_days = sorted(set(days) - set(routing.WEEKDAYS))
    if unknown_days or not days:
        raise InvalidRequest(f"`days` was {days} but is expected to hold days among {list(routing.WEEKDAYS)}")
    repeated = sorted({d for d in days if days.count(d) > 1}, key=routing.WEEKDAYS.index)
    if repeated:
        raise InvalidRequest(
            f"`days` has {repeated} more than once: list each weekday once (add `vehicles` for "
            "more vans a day, or `frequency` for visits in alternate weeks)"
        )
    days = sorted(days, key=routing.WEEKDAYS.index)
    if frequency not in FREQUENCY_WEEKS:
        raise InvalidRequest(
            f"`frequency` was {frequency!r} but is expected to be one of {list(FREQUENCY_WEEKS)}"
        )
    weeks = FREQUENCY_WEEKS[frequency]
    if max_stops < 1:
        raise InvalidRequest("`max_stops` must be at least 1")
    start = routing.parse_clock(day_start, "day_start")
    end = routing.parse_clock(day_end, "day_end")
    break_window = None
    if break_min and break_min > 0:
        break_window = (
            routing.parse_clock(break_from, "break_from"),
            routing.parse_clock(break_to, "break_to"),
            int(round(break_min * 60)),
        )
    demand = demand_points(
        conn,
        source=demand_source,
        classification=classification,
        segments=segments,
        service=service,
        unit="h3" if stop_source == "h3" else "oa",
        resolution=h3_resolution,
        date_from=date_from,
        date_to=date_to,
        percentile=percentile,
    )
    classification = classification or default_classification(conn)
    all_sites = load_sites(conn)
    if depot_site_id is None:
        offices = np.flatnonzero(all_sites.is_existing)
        if offices.size == 0:
            raise InvalidRequest("`depot_site_id` is required: there is no existing office to start from")
        depot_col = int(offices[0])
    else:
        found = np.flatnonzero(all_sites.ids == depot_site_id)
        if found.size == 0:
            raise InvalidRequest(f"`depot_site_id` was {depot_site_id}, which is not a site")
        depot_col = int(found[0])
    # Candidate stops.
    if stop_source == "venues":
        mask = ~all_sites.is_existing
        if stop_site_ids:
            missing = sorted(set(stop_site_ids) - set(all_sites.ids.tolist()))
            if missing:
                raise InvalidRequest(f"`stop_site_ids` has {missing}, which are not sites")
            mask = np.isin(all_sites.ids, list(stop_site_ids))
        elif candidate_kinds:
            mask &= np.isin(np.array(all_sites.kinds, dtype=object), list(candidate_kinds))
        mask[depot_col] = False
        venues = all_sites.subset(mask)
        c_ids = [str(int(v)) for v in venues.ids]
        c_names = list(venues.names)
        c_addr = [a or "" for a in (venues.addresses or [""] * len(venues))]
        c_xy = venues.xy
        c_nodes = venues.road_node.copy()
        c_lnglat: np.ndarray | None = venues.lnglat
    else:
        order = np.argsort(-demand.weights, kind="stable")[: 3 * max_stops]
        c_ids = [str(c) for c in demand.codes[order]]
        c_names = [f"H3 cell {c}" for c in c_ids]
        c_addr = [f"near the centre of H3 cell {c}" for c in c_ids]
        c_xy = demand.xy[order]
        c_nodes = np.full(len(c_ids), -1, dtype=np.int64)
        c_lnglat = None
    households = stops_mod.load_households(conn, demand, classification, segments)
    walk_graph = network.walk_graph(conn) if walk_basis == "network" else None
    cover = stops_mod.coverage(households.xy, c_xy, walk_m, walk_basis, walk_graph)
    hw = households.weight
    reach = hw @ cover
    choice = None
    if stop_site_ids:
        order_ix = np.array(
            [c_ids.index(str(int(v))) for v in dict.fromkeys(stop_site_ids) if str(int(v)) in c_ids]
        )
    elif stop_selection == "unique_cover":
        choice = stops_mod.choose_stops(cover, hw, max_stops, time_limit_s=min(2.0, time_limit_s))
        order_ix = choice.chosen
    else:
        order_ix = np.argsort(-reach, kind="stable")[:max_stops]
        order_ix = order_ix[reach[order_ix] > 0]
    if order_ix.size == 0:
        raise Infeasible(f"no candidate stop has any target demand within a {walk_m:g} m walk")
    stop_ids = [c_ids[i] for i in order_ix]
    stop_names = [c_names[i] for i in order_ix]
    stop_addr = [c_addr[i] for i in order_ix]
    stop_xy = c_xy[order_ix]
    stop_nodes = c_nodes[order_ix]
    if (stop_nodes < 0).any():
        stop_nodes, _ = network.snap_to_nodes(conn, stop_xy)
    stop_cover = cover[:, order_ix]
    only_here = stops_mod.marginal_weight(cover, hw, order_ix)
    graph = network.road_graph(conn)
    depot_node = all_sites.road_node[depot_col]
    if depot_node < 0:
        depot_node = int(network.snap_to_nodes(conn, all_sites.xy[[depot_col]])[0][0])
    # Nodes: the depot, each stop once, then a copy of each weekly stop for weeks 2.. of
    # the period (linked to the original: same weekday and van, a week later).
    per_week = vehicles * len(days)
    weekly = [str(v) for v in dict.fromkeys(weekly_stop_ids or [])]
    unknown = [v for v in weekly if v not in stop_ids]
    if unknown:
        raise InvalidRequest(f"`weekly_stop_ids` has {unknown}, which are not among the stops {stop_ids}")
    if weekly and weeks == 1:
        raise InvalidRequest(
            "`weekly_stop_ids` needs a longer period: ask for `frequency` fortnightly or four_weekly"
        )
    node_stop = [-1, *range(len(stop_ids))]
    linked: list[tuple[int, int, int]] = []
    first_routes: dict[int, int] = {}
    for sid in weekly:
        orig = 1 + stop_ids.index(sid)
        first_routes[orig] = per_week
        for w in range(1, weeks):
            node_stop.append(orig - 1)
            linked.append((orig, len(node_stop) - 1, w * per_week))
    node_stop_arr = np.array(node_stop)
    nodes = np.concatenate([[depot_node], stop_nodes[node_stop_arr[1:]]]).astype(np.int64)
    travel_s = network.network_cost_matrix(graph, nodes, nodes, metric="time")
    k1 = nodes.size
    service_s = np.full(k1, service_min * 60.0)
    service_s[0] = 0.0
    windows = np.tile([start, end], (k1, 1))
    for stop_id, (open_, close) in (time_windows or {}).items():
        if stop_id not in stop_ids:
            raise InvalidRequest(
                f"`time_windows` names stop {stop_id!r}, which is not among the stops {stop_ids}"
            )
        i = stop_ids.index(stop_id)
        windows[node_stop_arr == i] = [
            routing.parse_clock(open_, "time_windows.open"),
            routing.parse_clock(close, "time_windows.close"),
        ]
    names = ["depot", *[stop_names[i] for i in node_stop_arr[1:]]]
    n_routes = per_week * weeks
    # Dropping a stop costs a day's route time scaled by the demand only it reaches, so the
    # solver drops the stops adding least unique coverage first, and only when they do not fit.
    penalty = None
    if allow_drop:
        share = np.concatenate([[0.0], only_here[node_stop_arr[1:]] / max(float(only_here.sum()), 1e-9)])
        penalty = (end - start) * (1.0 + 10.0 * share) * n_routes
    sol = routing.solve_routes(
        travel_s,
        service_s,
        windows,
        n_routes=n_routes,
        day=(start, end),
        drop_penalty=penalty,
        time_limit_s=time_limit_s,
        names=names,
        progress=progress,
        break_window=break_window,
        linked_visits=linked,
        first_routes=first_routes,
    )
    from pyproj import Transformer

    to_wgs = Transformer.from_crs(27700, 4326, always_xy=True)
    if c_lnglat is None:
        lng, lat = to_wgs.transform(stop_xy[:, 0], stop_xy[:, 1])
        stop_lnglat = np.column_stack([lng, lat])
    else:
        stop_lnglat = c_lnglat[order_ix]
    route_feats: list[dict[str, Any]] = []
    stop_feats: list[dict[str, Any]] = []
    timetable: list[dict[str, Any]] = []
    total_time = 0
    total_m = 0.0
    per_day = vehicles * len(days)
    depot_name = all_sites.names[depot_col]
    for r, seq in enumerate(sol.routes):
        week = r // per_day + 1
        day = days[(r % per_day) // vehicles]
        vehicle = r % vehicles + 1
        if not seq:
            continue
        full = [0, *seq, 0]
        links, from_nodes = network.path_edges(graph, nodes, full)
        line = network.route_line(conn, links, from_nodes)
        length_m = _links_length(conn, links)
        duration = sol.return_s[r] - sol.depart_s[r]
        total_time += duration
        total_m += length_m
        route_id = f"{day}-{vehicle}" if weeks == 1 else f"w{week}-{day}-{vehicle}"
        brk = sol.break_starts[r] if sol.break_starts else None
        brk_len = break_window[2] if break_window else 0
        route_feats.append(
            {
                "type": "Feature",
                "id": route_id,
                "geometry": line,
                "properties": {
                    "route_id": route_id,
                    "week": week,
                    "vehicle": vehicle,
                    "day": day,
                    "depart": routing.format_clock(sol.depart_s[r]),
                    "return": routing.format_clock(sol.return_s[r]),
                    "duration_min": round(duration / 60.0, 1),
                    "drive_min": round(
                        float(sum(travel_s[a, b] for a, b in zip(full[:-1], full[1:], strict=True))) / 60.0, 1
                    ),
                    "distance_km": round(length_m / 1000.0, 2),
                    "stops": len(seq),
                    "break_start": None if brk is None else routing.format_clock(brk),
                    "break_end": None if brk is None else routing.format_clock(brk + brk_len),
                },
            }
        )
        base = {"route_id": route_id, "week": week, "day": day, "vehicle": vehicle}
        timetable.append(
            {
                **base,
                "sequence": 0,
                "kind": "depart",
                "stop_id": None,
                "name": depot_name,
                "address": (all_sites.addresses or [None] * len(all_sites))[depot_col],
                "arrive": None,
                "start": None,
                "depart": routing.format_clock(sol.depart_s[r]),
                "dwell_min": 0,
            }
        )
        prev, clock = 0, sol.depart_s[r]
        break_done = brk is None
        for order_no, (node, begin) in enumerate(zip(seq, sol.starts[r], strict=True), start=1):
            arrive = clock + int(round(travel_s[prev, node]))
            if not break_done and brk is not None and brk < begin:
                # The break falls on this leg (or while waiting): the van arrives after it.
                timetable.append(
                    {
                        **base,
                        "sequence": None,
                        "kind": "break",
                        "stop_id": None,
                        "name": "driver's break",
                        "address": None,
                        "arrive": None,
                        "start": routing.format_clock(brk),
                        "depart": routing.format_clock(brk + brk_len),
                        "dwell_min": round(brk_len / 60.0, 1),
                    }
                )
                if brk < arrive:
                    arrive += brk_len
                break_done = True
            arrive = min(arrive, begin)
            i = int(node_stop_arr[node])
            props = {
                "route_id": route_id,
                "week": week,
                "vehicle": vehicle,
                "day": day,
                "sequence": order_no,
                "stop_id": stop_ids[i],
                "name": stop_names[i],
                "address": stop_addr[i],
                "arrive": routing.format_clock(arrive),
                "start": routing.format_clock(begin),
                "depart": routing.format_clock(begin + service_s[node]),
                "dwell_min": round(float(service_s[node]) / 60.0, 1),
                "window_open": routing.format_clock(windows[node, 0]),
                "window_close": routing.format_clock(windows[node, 1]),
                "demand_within_walk": round(float(reach[order_ix[i]]), 3),
                "demand_only_here": round(float(only_here[i]), 3),
                "households_within_walk": int(stop_cover[:, i].sum()),
                "target_households_within_walk": int((stop_cover[:, i] & households.target).sum()),
            }
            stop_feats.append(
                {
                    "type": "Feature",
                    "id": f"{route_id}-{order_no}",
                    "geometry": {"type": "Point", "coordinates": _round(stop_lnglat[i], 6)},
                    "properties": props,
                }
            )
            timetable.append(
                {
                    **base,
                    "sequence": order_no,
                    "kind": "stop",
                    **{
                        k: props[k]
                        for k in ("stop_id", "name", "address", "arrive", "start", "depart", "dwell_min")
                    },
                }
            )
            prev, clock = node, begin + int(service_s[node])
        timetable.append(
            {
                **base,
                "sequence": len(seq) + 1,
                "kind": "return",
                "stop_id": None,
                "name": depot_name,
                "address": (all_sites.addresses or [None] * len(all_sites))[depot_col],
                "arrive": routing.format_clock(sol.return_s[r]),
                "start": None,
                "depart": None,
                "dwell_min": 0,
            }
        )
        if not break_done and brk is not None:  # taken back at the depot, after the last stop
            timetable.append(
                {
                    **base,
                    "sequence": None,
                    "kind": "break",
                    "stop_id": None,
                    "name": "driver's break",
                    "address": None,
                    "arrive": None,
                    "start": routing.format_clock(brk),
                    "depart": routing.format_clock(brk + brk_len),
                    "dwell_min": round(brk_len / 60.0, 1),
                }
            )
    dropped = [
        {
            "stop_id": stop_ids[n - 1],
            "name": stop_names[n - 1],
            "demand_within_walk": round(float(reach[order_ix[n - 1]]), 3),
            "demand_only_here": round(float(only_here[n - 1]), 3),
        }
        for n in sol.dropped
        if n <= len(stop_ids)
    ]
    visited_cols = np.array(sorted({int(node_stop_arr[n]) for seq in sol.routes for n in seq}), dtype=int)
    reached = stop_cover[:, visited_cols].any(axis=1) if visited_cols.size else np.zeros(len(hw), bool)
    summary = {
        "vehicles": vehicles,
        "days": days,
        "frequency": frequency,
        "period_weeks": weeks,
        "route_days": n_routes,
        "day_start": day_start,
        "day_end": day_end,
        "service_min": service_min,
        "break_min": break_min if break_window else 0,
        "stop_source": stop_source,
        "stop_selection": "as given" if stop_site_ids else stop_selection,
        "candidates": len(c_ids),
        "stops_considered": len(stop_ids),
        "stops_visited": int(visited_cols.size),
        "stops_dropped": len(dropped),
        "total_duration_min": round(total_time / 60.0, 1),
        "total_distance_km": round(total_m / 1000.0, 2),
        "walk_m": walk_m,
        "walk_basis": (
            f"on foot over the road network (no motorways) within {walk_m:g} m of the stop"
            if walk_basis == "network"
            else f"straight line within {walk_m:g} m of the stop"
        ),
        "walk_speed_kph": network.WALK_SPEED_KPH if walk_basis == "network" else None,
        "households_within_walk": int(reached.sum()),
        "target_households_within_walk": int((reached & households.target).sum()),
        "demand_within_walk": round(float(hw @ reached), 3),
        "target_households_counted_by_stop": int(
            sum((stop_cover[:, j] & households.target).sum() for j in visited_cols)
        ),
        "greedy_demand_within_walk": None if choice is None else round(choice.greedy_weight, 3),
        "by_reach_demand_within_walk": None if choice is None else round(choice.by_reach_weight, 3),
        "cover_status": None if choice is None else choice.status,
        "total_demand": round(float(demand.weights.sum()), 3),
        "demand": demand.description,
        "depot_site_id": int(all_sites.ids[depot_col]),
        "depot": depot_name,
        "objective_s": sol.objective,
        "status": sol.status,
        "solutions_found": sol.solutions_found,
        "solve_seconds": round(sol.seconds, 2),
        "time_limit_s": time_limit_s,
        "travel_basis": "drive time over road_link.cost_s; vans park at the road node nearest each stop",
    }
    seg_names: dict[str, str] = {r.code: r.name for r in conn.execute(text("SELECT code, name FROM segment"))}
    seg_rows = []
    for seg in sorted(set(households.segment.tolist())):
        mine = households.segment == seg
        n_seg, n_reached = int(mine.sum()), int((mine & reached).sum())
        seg_rows.append(
            {
                "segment": str(seg),
                "name": seg_names.get(seg, "unclassified"),
                "households": n_seg,
                "reached": n_reached,
                "left_out": n_seg - n_reached,
                "reached_share": round(n_reached / n_seg, 4) if n_seg else None,
            }
        )
    return {
        "summary": summary,
        "segments": {"standard": walk_m, "unit": "m walk", "rows": seg_rows},
        "routes": {"type": "FeatureCollection", "features": route_feats},
        "stops": {"type": "FeatureCollection", "features": stop_feats},
        "timetable": timetable,
        "dropped": dropped,
    }


def _links_length(conn: Connection, links: np.ndarray) -> float:
    rows = conn.execute(
        text("SELECT id, length_m FROM road_link WHERE id = ANY(:ids)"),
        {"ids": [int(v) for v in set(links.tolist())]},
    ).all()
    lengths = {int(r.id): float(r.length_m) for r in rows}
    return float(sum(lengths[int(v)] for v in links))


# --------------------------------------------------------------------------- LSCP, 2SFCA


def _demand_and_cost(
    conn: Connection,
    *,
    candidate_kinds: Sequence[str] | None,
    candidate_site_ids: Sequence[int] | None,
    demand_kw: dict[str, Any],
    travel: Travel,
) -> tuple[DemandPoints, SiteTable, np.ndarray, str]:
    demand = demand_points(conn, **demand_kw)
    sites = load_sites(conn, kinds=candidate_kinds, ids=candidate_site_ids)
    cost, unit = cost_matrix(conn, demand.xy, sites, travel)
    return demand, sites, cost, unit


def _demand_kw(
    demand_source: DemandSource,
    classification: str | None,
    segments: Sequence[str] | None,
    service: str | None,
    demand_unit: DemandUnit,
    h3_resolution: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    percentile: float,
) -> dict[str, Any]:
    return {
        "source": demand_source,
        "classification": classification,
        "segments": segments,
        "service": service,
        "unit": demand_unit,
        "resolution": h3_resolution,
        "date_from": date_from,
        "date_to": date_to,
        "percentile": percentile,
    }


def _site_points(
    sites: SiteTable, cols: np.ndarray, extra: dict[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
    feats = []
    for col in cols:
        props = {
            "site_id": int(sites.ids[col]),
            "name": sites.names[col],
            "kind": sites.kinds[col],
            "is_existing": bool(sites.is_existing[col]),
            "capacity": None if np.isnan(sites.capacity[col]) else int(sites.capacity[col]),
        }
        props.update((extra or {}).get(int(col), {}))
        feats.append(
            {
                "type": "Feature",
                "id": int(sites.ids[col]),
                "geometry": {"type": "Point", "coordinates": _round(sites.lnglat[col], 6)},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _demand_layer(demand: DemandPoints, props: dict[str, np.ndarray]) -> dict[str, Any]:
    from pyproj import Transformer

    lng, lat = Transformer.from_crs(27700, 4326, always_xy=True).transform(demand.xy[:, 0], demand.xy[:, 1])
    feats = []
    for i, code in enumerate(demand.codes):
        p: dict[str, Any] = {"code": str(code), "weight": round(float(demand.weights[i]), 4)}
        for k, v in props.items():
            val = v[i]
            p[k] = bool(val) if isinstance(val, np.bool_) else round(float(val), 6)
        feats.append(
            {
                "type": "Feature",
                "id": str(code),
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(float(lng[i]), 6), round(float(lat[i]), 6)],
                },
                "properties": p,
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def plan_lscp(
    conn: Connection,
    *,
    cover_within: float,
    share: float = 1.0,
    keep_existing: bool = True,
    candidate_kinds: Sequence[str] | None = None,
    candidate_site_ids: Sequence[int] | None = None,
    travel: Travel = "drive_time",
    demand_source: DemandSource = "households",
    classification: str | None = None,
    segments: Sequence[str] | None = None,
    service: str | None = None,
    demand_unit: DemandUnit = "oa",
    h3_resolution: int = 8,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    percentile: float = 80.0,
    time_limit_s: float = 10.0,
) -> dict[str, Any]:
    """The fewest new sites (besides today's offices) putting ``share`` of demand within ``cover_within``.

    ``cover_within`` is minutes for ``drive_time`` and metres otherwise; see
    ``siting.solve_lscp``. Returns ``summary`` (sites needed, covered share, status, the
    greedy count and a lower bound), ``sites`` (Points) and ``demand`` (Points with
    ``covered``).
    """
    if cover_within <= 0:
        raise InvalidRequest(f"`cover_within` was {cover_within} but is expected to be positive")
    kw = _demand_kw(
        demand_source,
        classification,
        segments,
        service,
        demand_unit,
        h3_resolution,
        date_from,
        date_to,
        percentile,
    )
    demand, sites, cost, unit = _demand_and_cost(
        conn,
        candidate_kinds=candidate_kinds,
        candidate_site_ids=candidate_site_ids,
        demand_kw=kw,
        travel=travel,
    )
    threshold = cover_within * 60.0 if unit == "s" else cover_within
    fixed = np.flatnonzero(sites.is_existing) if keep_existing else np.array([], dtype=int)
    sol = siting.solve_lscp(cost, demand.weights, threshold, share, fixed=fixed, time_limit_s=time_limit_s)
    total = float(demand.weights.sum())
    near = cost[:, sol.open_sites].min(axis=1)
    covered = near <= threshold
    today = float(demand.weights @ (cost[:, fixed].min(axis=1) <= threshold)) if fixed.size else 0.0
    shown, shown_unit = _display(cost, unit)
    summary = {
        "share_asked": share,
        "cover_within": cover_within,
        "travel": travel,
        "travel_unit": shown_unit,
        "new_sites_needed": int(sol.open_sites.size - fixed.size),
        "sites_open": int(sol.open_sites.size),
        "site_ids": sites.ids[sol.open_sites].tolist(),
        "new_site_ids": sites.ids[sol.open_sites[~np.isin(sol.open_sites, fixed)]].tolist(),
        "kept_existing": sites.ids[fixed].tolist(),
        "covered_demand": round(sol.covered_weight, 3),
        "coverage_share": round(sol.covered_weight / total, 4),
        "coverage_share_today": round(today / total, 4),
        "total_demand": round(total, 3),
        "status": sol.status,
        "lower_bound": sol.lower_bound,
        "greedy_new_sites": sol.greedy_sites,
        "solve_seconds": round(sol.seconds, 3),
        "demand": demand.description,
        "demand_points": len(demand),
        "solver": "location set covering MILP (HiGHS), greedy start",
    }
    return {
        "summary": summary,
        "sites": _site_points(sites, sol.open_sites),
        "demand": _demand_layer(
            demand,
            {
                "covered": covered,
                "travel": shown[
                    np.arange(len(demand)), sol.open_sites[cost[:, sol.open_sites].argmin(axis=1)]
                ],
            },
        ),
    }


def plan_accessibility(
    conn: Connection,
    *,
    within: float,
    supply: Literal["capacity", "equal"] = "capacity",
    site_ids: Sequence[int] | None = None,
    travel: Travel = "drive_time",
    demand_source: DemandSource = "households",
    classification: str | None = None,
    segments: Sequence[str] | None = None,
    service: str | None = None,
    demand_unit: DemandUnit = "oa",
    h3_resolution: int = 8,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    percentile: float = 80.0,
) -> dict[str, Any]:
    """Two-step floating catchment accessibility per demand area (``siting.two_step_fca``).

    Supply is each site's ``capacity`` (or 1 each, ``equal``); sites are today's offices,
    or ``site_ids``. The index is reported per 1,000 demand (e.g. capacity per 1,000
    households within ``within`` minutes, or metres for distance travel).
    """
    if within <= 0:
        raise InvalidRequest(f"`within` was {within} but is expected to be positive")
    kw = _demand_kw(
        demand_source,
        classification,
        segments,
        service,
        demand_unit,
        h3_resolution,
        date_from,
        date_to,
        percentile,
    )
    demand = demand_points(conn, **kw)
    every = load_sites(conn, ids=site_ids)
    if site_ids:
        mask = np.isin(every.ids, list(site_ids))
    else:
        mask = every.is_existing.copy()
    if not mask.any():
        raise InvalidRequest("no sites to measure access to: give `site_ids` or keep an existing office")
    sites = every.subset(mask)
    cost, unit = cost_matrix(conn, demand.xy, sites, travel)
    threshold = within * 60.0 if unit == "s" else within
    if supply == "capacity":
        if np.isnan(sites.capacity).any():
            bad = sites.ids[np.isnan(sites.capacity)].tolist()
            raise InvalidRequest(f"sites {bad} have no capacity: ask with supply 'equal'")
        s = sites.capacity
    else:
        s = np.ones(len(sites))
    access, ratio = siting.two_step_fca(cost, demand.weights, s, threshold)
    per_k = access * 1000.0
    w = demand.weights
    summary = {
        "within": within,
        "travel": travel,
        "supply": supply,
        "site_ids": sites.ids.tolist(),
        "demand": demand.description,
        "demand_points": len(demand),
        "mean_access_per_1000": round(float(w @ per_k / w.sum()), 4),
        "demand_without_access": round(float(w @ (access == 0)), 3),
        "share_without_access": round(float(w @ (access == 0) / w.sum()), 4),
        "method": "two-step floating catchment area (Luo and Wang, 2003)",
    }
    extra = {i: {"ratio_per_1000": round(float(ratio[i] * 1000), 6)} for i in range(len(sites))}
    return {
        "summary": summary,
        "sites": _site_points(sites, np.arange(len(sites)), extra),
        "demand": _demand_layer(demand, {"access_per_1000": per_k}),
    }


# --------------------------------------------------------------------------- isochrones


def plan_isochrones(
    conn: Connection,
    *,
    site_id: int,
    mode: Literal["drive", "walk"] = "drive",
    minutes: Sequence[float] = (5.0, 10.0, 15.0),
) -> dict[str, Any]:
    """Areas reachable from a site within each number of minutes, as polygons (WGS84).

    Drive: Dijkstra over the road graph's times (``road_link.cost_s``); walk: over the
    walkable graph (no motorways) at ``network.WALK_SPEED_KPH``. The site's own access leg
    to its road node is taken off each budget. Each band is the concave hull of the road
    nodes reached, buffered by 60 m (walk) or 150 m (drive) so the streets at its edge are
    inside; bands are nested (a 10-minute polygon contains the 5-minute one's nodes).
    """
    mins = sorted({float(m) for m in minutes})
    if not mins or mins[0] <= 0 or mins[-1] > 120:
        raise InvalidRequest(f"`minutes` was {list(minutes)} but is expected to hold values in (0, 120]")
    sites = load_sites(conn, ids=[site_id])
    hit = np.flatnonzero(sites.ids == site_id)
    if hit.size == 0:
        raise InvalidRequest(f"`site_id` was {site_id}, which is not a site")
    col = int(hit[0])
    if mode == "walk":
        graph = network.walk_graph(conn)
        [node], [leg] = network.snap_xy(graph, sites.xy[[col]])
        speed = network.WALK_SPEED_KPH
    else:
        graph = network.road_graph(conn)
        nodes, legs = network.snap_to_nodes(conn, sites.xy[[col]])
        node, leg = int(graph.index_of(nodes)[0]), float(legs[0])
        speed = network.ACCESS_SPEED_KPH
    from scipy.sparse.csgraph import dijkstra

    leg_s = leg * 3.6 / speed
    dist = dijkstra(graph.time, directed=False, indices=int(node), limit=mins[-1] * 60.0)
    feats = []
    for m in mins:
        budget = m * 60.0 - leg_s
        reached = np.flatnonzero(dist <= budget)
        if reached.size < 3:
            geom, area = None, 0.0
        else:
            row = conn.execute(
                load_sql("planning/isochrone"),
                {
                    "node_ids": [int(v) for v in graph.node_ids[reached]],
                    "concavity": 0.3,
                    "buffer_m": 60.0 if mode == "walk" else 150.0,
                },
            ).one()
            geom, area = json.loads(row.geojson), float(row.area_km2)
        feats.append(
            {
                "type": "Feature",
                "id": f"{site_id}-{mode}-{m:g}",
                "geometry": geom,
                "properties": {
                    "site_id": int(site_id),
                    "name": sites.names[col],
                    "mode": mode,
                    "minutes": m,
                    "road_nodes": int(reached.size),
                    "area_km2": round(area, 3),
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats[::-1]}


def plan_huff(
    conn: Connection,
    *,
    competitor_site_ids: Sequence[int],
    site_ids: Sequence[int] | None = None,
    attractiveness: Literal["capacity", "equal"] = "equal",
    beta: float = 2.0,
    travel: Travel = "drive_time",
    demand_source: DemandSource = "households",
    classification: str | None = None,
    segments: Sequence[str] | None = None,
    service: str | None = None,
    demand_unit: DemandUnit = "oa",
    h3_resolution: int = 8,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    percentile: float = 80.0,
) -> dict[str, Any]:
    """Huff-style share of demand our sites draw when partner or competitor venues also serve it.

    Our sites are ``site_ids`` (default: today's offices); the others are
    ``competitor_site_ids`` (venues that already serve the demand, e.g. surgeries giving
    advice). Each area's demand is shared by ``siting.huff_shares`` with attractiveness 1
    each (``equal``) or ``site.capacity``; travel floored at one minute (or 100 m).
    Returns ``summary`` (our share of all demand), ``sites`` (expected demand each draws) and
    ``demand`` (each area's share going to our sites).
    """
    if not competitor_site_ids:
        raise InvalidRequest("`competitor_site_ids` must name at least one venue")
    kw = _demand_kw(
        demand_source,
        classification,
        segments,
        service,
        demand_unit,
        h3_resolution,
        date_from,
        date_to,
        percentile,
    )
    demand = demand_points(conn, **kw)
    every = load_sites(conn, ids=list(site_ids or []) + list(competitor_site_ids))
    ours_mask = np.isin(every.ids, list(site_ids)) if site_ids else every.is_existing.copy()
    theirs_mask = np.isin(every.ids, list(competitor_site_ids))
    both = sorted(set(every.ids[ours_mask].tolist()) & set(every.ids[theirs_mask].tolist()))
    if both:
        raise InvalidRequest(f"sites {both} are both ours and competitors'")
    sites = every.subset(ours_mask | theirs_mask)
    ours = np.isin(sites.ids, every.ids[ours_mask])
    cost, unit = cost_matrix(conn, demand.xy, sites, travel)
    if attractiveness == "capacity":
        if np.isnan(sites.capacity).any():
            raise InvalidRequest(f"sites {sites.ids[np.isnan(sites.capacity)].tolist()} have no capacity")
        attr = sites.capacity
    else:
        attr = np.ones(len(sites))
    shares = siting.huff_shares(cost, attr, beta, floor=60.0 if unit == "s" else 100.0)
    w = demand.weights
    drawn = w @ shares
    our_share = shares[:, ours].sum(axis=1)
    summary = {
        "beta": beta,
        "attractiveness": attractiveness,
        "travel": travel,
        "our_site_ids": sites.ids[ours].tolist(),
        "competitor_site_ids": sites.ids[~ours].tolist(),
        "our_demand": round(float(w @ our_share), 3),
        "our_share": round(float(w @ our_share / w.sum()), 4),
        "total_demand": round(float(w.sum()), 3),
        "demand": demand.description,
        "method": "Huff (1963) gravity shares, travel floored at one minute (or 100 m)",
    }
    extra = {
        i: {"ours": bool(ours[i]), "expected_demand": round(float(drawn[i]), 3)} for i in range(len(sites))
    }
    return {
        "summary": summary,
        "sites": _site_points(sites, np.arange(len(sites)), extra),
        "demand": _demand_layer(demand, {"our_share": our_share}),
    }
