"""Issue 16: LSCP, 2SFCA, walking catchments, isochrones and scenarios, checked independently."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from sqlalchemy import text

from geo.errors import Infeasible
from geo.planning.demand import demand_points
from geo.planning.network import build_graph, walk_distances
from geo.planning.plans import cost_matrix, plan_accessibility, plan_isochrones, plan_lscp
from geo.planning.sites import load_sites
from geo.planning.siting import solve_lscp, two_step_fca
from tests.geo.planning.test_plans import older_segments


def _fewest_by_enumeration(cover: np.ndarray, w: np.ndarray, fixed: list[int], need: float) -> int:
    free = [j for j in range(cover.shape[1]) if j not in fixed]
    for k in range(len(free) + 1):
        for combo in itertools.combinations(free, k):
            if w @ cover[:, fixed + list(combo)].any(axis=1) >= need - 1e-9:
                return k
    raise AssertionError("no cover")


@pytest.mark.parametrize("share", [0.8, 0.95, 1.0])
def test_lscp_matches_enumeration_on_small_instances(share: float) -> None:
    rng = np.random.default_rng(11)
    d, c = rng.uniform(0, 8_000, (40, 2)), rng.uniform(0, 8_000, (10, 2))
    cost = np.linalg.norm(d[:, None] - c[None], axis=2)
    w = rng.integers(1, 30, 40).astype(float)
    threshold = 3_500.0
    cover = cost <= threshold
    keep = cover.any(axis=1)
    cost, w, cover = cost[keep], w[keep], cover[keep]
    sol = solve_lscp(cost, w, threshold, share, fixed=[0])
    best = _fewest_by_enumeration(cover, w, [0], share * w.sum())
    assert sol.status == "optimal" and sol.open_sites.size - 1 == best
    assert 0 in sol.open_sites
    assert w @ cover[:, sol.open_sites].any(axis=1) >= share * w.sum() - 1e-9
    assert sol.greedy_sites >= best and sol.lower_bound == best


def test_lscp_says_when_no_set_of_sites_can_cover_the_share() -> None:
    cost = np.array([[1.0, 9.0], [9.0, 9.0]])
    with pytest.raises(Infeasible, match="less than the 100.0% asked for"):
        solve_lscp(cost, np.array([1.0, 1.0]), 2.0, 1.0)


def test_lscp_on_the_demo_against_enumeration_over_libraries(conn) -> None:
    segments = older_segments(conn)
    demand = demand_points(conn, segments=segments)
    sites = load_sites(conn, kinds=["library"])
    cost, _ = cost_matrix(conn, demand.xy, sites, "drive_time")
    cover = cost <= 8 * 60
    fixed = list(np.flatnonzero(sites.is_existing))
    w = demand.weights
    # Ask for a share a little under what all the libraries together can reach.
    reachable = float(w @ cover.any(axis=1) / w.sum())
    today = float(w @ cover[:, fixed].any(axis=1)) / w.sum()
    share = round(reachable - 0.02, 2)
    assert share > today
    plan = plan_lscp(conn, cover_within=8, share=share, candidate_kinds=["library"], segments=segments)
    best = _fewest_by_enumeration(cover, w, fixed, share * w.sum())
    s = plan["summary"]
    assert s["new_sites_needed"] == best and s["status"] == "optimal"
    chosen = list(np.flatnonzero(np.isin(sites.ids, s["site_ids"])))
    assert s["covered_demand"] == pytest.approx(float(w @ cover[:, chosen].any(axis=1)), abs=1e-3)
    assert s["coverage_share"] >= share - 1e-4
    assert s["coverage_share_today"] == pytest.approx(today, abs=1e-4)
    with pytest.raises(Infeasible, match="widen the standard"):
        plan_lscp(
            conn,
            cover_within=8,
            share=min(1.0, reachable + 0.01),
            candidate_kinds=["library"],
            segments=segments,
        )


def test_two_step_fca_by_hand() -> None:
    # Two sites, three areas; site 0 reaches areas 0 and 1, site 1 reaches areas 1 and 2.
    cost = np.array([[1.0, 9.0], [1.0, 1.0], [9.0, 1.0]])
    pop = np.array([100.0, 300.0, 600.0])
    access, ratio = two_step_fca(cost, pop, np.array([40.0, 90.0]), 5.0)
    assert ratio.tolist() == pytest.approx([40 / 400, 90 / 900])
    assert access.tolist() == pytest.approx([0.1, 0.2, 0.1])
    # Supply is conserved: sum_i P_i A_i = sum_j S_j when every site reaches some demand.
    assert pop @ access == pytest.approx(130.0)


def test_accessibility_on_the_demo_recomputed_with_loops(conn) -> None:
    plan = plan_accessibility(conn, within=10)
    demand = demand_points(conn)
    every = load_sites(conn)
    offices = every.subset(every.is_existing)
    cost, _ = cost_matrix(conn, demand.xy, offices, "drive_time")
    pop, supply = demand.weights, offices.capacity
    ratio = []
    for j in range(len(offices)):
        reach = sum(pop[i] for i in range(len(pop)) if cost[i, j] <= 600)
        ratio.append(supply[j] / reach if reach else 0.0)
    got = {f["id"]: f["properties"]["access_per_1000"] for f in plan["demand"]["features"]}
    for i, code in enumerate(demand.codes):
        expect = 1000 * sum(ratio[j] for j in range(len(offices)) if cost[i, j] <= 600)
        assert got[str(code)] == pytest.approx(expect, rel=1e-6, abs=1e-9)
    # Conservation: the capacity of offices that reach anyone is shared out in full.
    total = sum(supply[j] for j in range(len(offices)) if ratio[j] > 0)
    assert sum(pop[i] * got[str(c)] / 1000 for i, c in enumerate(demand.codes)) == pytest.approx(total)


def test_walking_distances_follow_the_streets_and_skip_motorways() -> None:
    # A street 0-1-2 along y=0 (100 m links) and a motorway 0-2 straight across... the
    # walking graph is built without it, so the walk from 0 to 2 is 200 m, not 50 m.
    ids = np.array([1, 2, 3])
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 50.0]])
    g = build_graph(
        ids,
        xy,
        np.array([1, 2]),
        np.array([2, 3]),
        np.array([75.0, 75.0]),
        np.array([100.0, 150.0]),
        np.array([10, 11]),
    )
    d = walk_distances(g, np.array([[0.0, 0.0]]), np.array([[0.0, 50.0], [100.0, 10.0], [0.0, 0.0]]), 1_000)
    assert d[:, 0].tolist() == pytest.approx([250.0, 110.0, 0.0])
    assert np.isinf(walk_distances(g, np.array([[0.0, 0.0]]), np.array([[0.0, 50.0]]), 200.0)[0, 0])


def test_walk_graph_drops_motorways(conn) -> None:
    from geo.planning.network import walk_graph

    g = walk_graph(conn)
    links = conn.execute(
        text("SELECT count(*) FROM road_link WHERE road_class NOT IN ('motorway', 'motorway_link')")
    ).scalar_one()
    assert set(g.edge_link.tolist()) <= set(conn.execute(text("SELECT id FROM road_link")).scalars())
    assert len(set(g.edge_link.tolist())) <= links


def test_isochrones_are_nested_polygons_that_hold_what_is_reachable(conn) -> None:
    office = conn.execute(text("SELECT id FROM site WHERE is_existing ORDER BY id LIMIT 1")).scalar_one()
    for mode in ("drive", "walk"):
        fc = plan_isochrones(conn, site_id=office, mode=mode, minutes=[5, 10])
        big, small = fc["features"]
        assert big["properties"]["minutes"] == 10 and small["properties"]["minutes"] == 5
        assert big["properties"]["area_km2"] > small["properties"]["area_km2"] > 0
        ok = conn.execute(
            text(
                """
                WITH b AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:b), 4326) AS g),
                     s AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:s), 4326) AS g),
                     o AS (SELECT ST_Transform(geom, 4326) AS g FROM site WHERE id = :id)
                SELECT ST_IsValid(b.g) AND ST_IsValid(s.g),
                       ST_Area(ST_Intersection(b.g, s.g)) / ST_Area(s.g),
                       ST_Contains(s.g, o.g)
                FROM b, s, o
                """
            ),
            {"b": json.dumps(big["geometry"]), "s": json.dumps(small["geometry"]), "id": office},
        ).one()
        assert ok[0] and ok[1] > 0.95 and ok[2]
    walk5 = plan_isochrones(conn, site_id=office, mode="walk", minutes=[5])["features"][0]
    drive5 = plan_isochrones(conn, site_id=office, mode="drive", minutes=[5])["features"][0]
    # 5 minutes on foot (400 m at 4.8 km/h) covers far less than 5 minutes by road.
    assert walk5["properties"]["area_km2"] < drive5["properties"]["area_km2"]


def test_huff_shares_by_hand() -> None:
    from geo.planning.siting import huff_shares

    # One area 120 s from site A (attractiveness 1) and 240 s from B (attractiveness 2), beta 2:
    # A: 1/120^2, B: 2/240^2 = 1/(2 x 120^2): shares 2/3 and 1/3. A doorstep site is floored.
    p = huff_shares(np.array([[120.0, 240.0], [0.0, 60.0]]), np.array([1.0, 2.0]), beta=2.0, floor=60.0)
    assert p[0].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert p[1].tolist() == pytest.approx([1 / 3, 2 / 3])


def test_huff_on_the_demo_recomputed_with_loops(conn) -> None:
    from geo.planning.plans import plan_huff

    surgeries = conn.execute(text("SELECT id FROM site WHERE kind = 'surgery' ORDER BY id")).scalars().all()
    plan = plan_huff(conn, competitor_site_ids=surgeries, beta=2.0)
    demand = demand_points(conn)
    every = load_sites(conn, ids=list(surgeries))
    cost, _ = cost_matrix(conn, demand.xy, every, "drive_time")
    ours = every.is_existing
    got = {f["id"]: f["properties"]["our_share"] for f in plan["demand"]["features"]}
    total = 0.0
    for i, code in enumerate(demand.codes):
        util = [max(cost[i, j], 60.0) ** -2 for j in range(len(every))]
        share = sum(u for u, o in zip(util, ours, strict=True) if o) / sum(util)
        assert got[str(code)] == pytest.approx(share, rel=1e-5, abs=1e-6)
        total += demand.weights[i] * share
    assert plan["summary"]["our_demand"] == pytest.approx(total, abs=1e-2)
    drawn = sum(f["properties"]["expected_demand"] for f in plan["sites"]["features"])
    assert drawn == pytest.approx(demand.weights.sum(), abs=0.1)
