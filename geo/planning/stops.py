"""Van stops chosen for unique coverage: each household within a walk is counted once.

The first step of the covering tour (Gendreau, Laporte and Semet, 1997): pick ``k`` stops
among the candidates so that the target households within a walk of *some* stop are as
many as possible (a maximal covering problem over households), then the routing step
(``geo.planning.routing``) schedules them. Counting households stop by stop double-counts
a street between two stops; here a household near two stops counts once.

Households are the residential address points; their weight is 1 for a household of the
target segments when the demand is households, and otherwise an area's demand spread
evenly over its target households (``household_weights``). Walking distance is over the
walkable network (``geo.planning.network.walk_graph``) or, on request, the straight line.
Households with the same set of reachable stops are merged into one weighted row before
the solve, which keeps the covering MILP to a few hundred rows.

Reference: Gendreau, M., Laporte, G. and Semet, F. (1997) The covering tour problem.
Operations Research 45(4), 568-576.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy import Connection

from geo.db import load_sql
from geo.planning import network, siting
from geo.planning.demand import DemandPoints

WalkBasis = Literal["network", "straight_line"]


@dataclass(frozen=True)
class Households:
    """Residential address points with the target flag and a demand weight each."""

    uprn: np.ndarray
    oa_code: np.ndarray
    xy: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    segment: np.ndarray


@dataclass(frozen=True)
class StopChoice:
    """Chosen stop columns, and the coverage they give (weights and household counts)."""

    chosen: np.ndarray
    covered_weight: float
    greedy_weight: float
    by_reach_weight: float
    status: str
    gap: float


def load_households(
    conn: Connection, demand: DemandPoints, classification: str, segments: Sequence[str] | None
) -> Households:
    """Every household, flagged target or not, weighted by :func:`household_weights`."""
    rows = conn.execute(
        load_sql("planning/walk_households"),
        {"classification": classification, "segments": list(segments) if segments else None},
    ).all()
    uprn = np.array([r.uprn for r in rows], dtype=np.int64)
    oa = np.array([r.oa_code for r in rows], dtype=object)
    xy = np.array([[r.x, r.y] for r in rows], dtype=float).reshape(-1, 2)
    target = np.array([bool(r.target) for r in rows], dtype=bool)
    weight = household_weights(oa, target, demand)
    segment = np.array([r.segment_code or "unclassified" for r in rows], dtype=object)
    return Households(uprn, oa, xy, target, weight, segment)


def household_weights(oa_code: np.ndarray, target: np.ndarray, demand: DemandPoints) -> np.ndarray:
    """Spread each area's demand evenly over its target households.

    :math:`w_h = W_a / T_a` for a target household ``h`` of area ``a`` with :math:`T_a`
    target households (over all its households when it has none); so the weights of an
    area's households add up to its demand, and for household demand each target
    household weighs exactly 1.
    """
    if demand.unit.startswith("h3"):
        # H3 demand: weight households by their own flag (the cell demand is their count).
        return target.astype(float)
    weight = np.zeros(oa_code.size)
    by_area = dict(zip(demand.codes.tolist(), demand.weights.tolist(), strict=True))
    codes = np.asarray(oa_code, dtype=object)
    uniq, inverse = np.unique(codes.astype(str), return_inverse=True)
    tgt_count = np.bincount(inverse, weights=target.astype(float), minlength=uniq.size)
    all_count = np.bincount(inverse, minlength=uniq.size).astype(float)
    area_w = np.array([by_area.get(c, 0.0) for c in uniq])
    per_target = np.where(tgt_count > 0, area_w / np.maximum(tgt_count, 1.0), 0.0)
    per_any = np.where(tgt_count > 0, 0.0, area_w / np.maximum(all_count, 1.0))
    weight = np.where(target, per_target[inverse], 0.0) + per_any[inverse]
    return weight


def coverage(
    households_xy: np.ndarray,
    stop_xy: np.ndarray,
    walk_m: float,
    basis: WalkBasis,
    graph: network.RoadGraph | None = None,
) -> np.ndarray:
    """Boolean ``(households, stops)``: the stop is within ``walk_m`` on foot."""
    if basis == "straight_line":
        from scipy.spatial import cKDTree

        tree = cKDTree(households_xy)
        out = np.zeros((households_xy.shape[0], stop_xy.shape[0]), dtype=bool)
        for j, near in enumerate(tree.query_ball_point(stop_xy, r=walk_m)):
            out[np.asarray(near, dtype=int), j] = True
        return out
    assert graph is not None
    dist = network.walk_distances(graph, stop_xy, households_xy, walk_m)
    return np.asarray(np.isfinite(dist) & (dist <= walk_m))


def compress(cover: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge rows with the same coverage pattern (summing weights); drop uncovered rows."""
    keep = cover.any(axis=1) & (weight > 0)
    if not keep.any():
        return np.zeros((0, cover.shape[1]), dtype=bool), np.zeros(0)
    packed = np.packbits(cover[keep], axis=1)
    uniq, inverse = np.unique(packed, axis=0, return_inverse=True)
    w = np.bincount(np.asarray(inverse).reshape(-1), weights=weight[keep], minlength=uniq.shape[0])
    rows = np.unpackbits(uniq, axis=1, count=cover.shape[1]).astype(bool)
    return rows, w


def greedy_cover(cover: np.ndarray, weight: np.ndarray, k: int) -> np.ndarray:
    """Plain greedy: repeatedly add the stop reaching the most not-yet-reached weight."""
    reached = np.zeros(cover.shape[0], dtype=bool)
    chosen: list[int] = []
    for _ in range(min(k, cover.shape[1])):
        gains = (weight * ~reached) @ cover
        gains[chosen] = -1.0
        j = int(np.argmax(gains))
        if gains[j] <= 0:
            break
        chosen.append(j)
        reached |= cover[:, j]
    return np.array(chosen, dtype=int)


def unique_weight(cover: np.ndarray, weight: np.ndarray, cols: np.ndarray) -> float:
    """Weight of rows reached by at least one of ``cols`` (each row once)."""
    if len(cols) == 0:
        return 0.0
    return float(weight @ cover[:, np.asarray(cols, dtype=int)].any(axis=1))


def choose_stops(cover: np.ndarray, weight: np.ndarray, k: int, *, time_limit_s: float = 2.0) -> StopChoice:
    """Pick ``k`` stops maximising the weight reached at least once (maximal covering).

    Greedy + swaps then the Church-ReVelle MILP (``siting.solve_max_cover``) on the
    compressed rows; also reports what a plain greedy pick and the old pick by each stop's
    own reach (double counting) would have reached, as baselines.
    """
    rows, w = compress(cover, weight)
    m = cover.shape[1]
    k = min(k, m)
    reach = weight @ cover
    by_reach = np.argsort(-reach, kind="stable")[:k]
    by_reach = by_reach[reach[by_reach] > 0]
    if rows.shape[0] == 0:
        return StopChoice(np.array([], dtype=int), 0.0, 0.0, 0.0, "optimal", 0.0)
    greedy = greedy_cover(rows, w, k)
    cost = np.where(rows, 0.0, 1.0)
    sol = siting.solve_max_cover(cost, w, k, 0.5, time_limit_s=time_limit_s)
    chosen = np.asarray(sol.open_sites, dtype=int)
    # Stops that add nothing (every household they reach is reached already) are dropped.
    useful = [
        j for j in chosen if unique_weight(rows, w, chosen) > unique_weight(rows, w, chosen[chosen != j])
    ]
    chosen = np.array(sorted(useful, key=lambda j: -reach[j]), dtype=int)
    return StopChoice(
        chosen=chosen,
        covered_weight=unique_weight(rows, w, chosen),
        greedy_weight=unique_weight(rows, w, greedy),
        by_reach_weight=unique_weight(cover, weight, by_reach),
        status=sol.status,
        gap=float(sol.gap) if np.isfinite(sol.gap) else float("nan"),
    )


def marginal_weight(cover: np.ndarray, weight: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """For each chosen column, the weight only it reaches (lost if that stop is dropped)."""
    sub = cover[:, cols]
    count = sub.sum(axis=1)
    only = (count == 1)[:, None] & sub
    result: np.ndarray = weight @ only
    return result
