"""The travel graph over the stored road network: costs, snapping and route lines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra
from sqlalchemy import text

from geo.planning.network import (
    build_graph,
    network_cost_matrix,
    path_edges,
    road_graph,
    route_line,
    snap_to_nodes,
    straight_line_matrix,
)


def _square_graph():
    # 4 nodes on a 100 m square; a slow direct link 0-2 (diagonal) and a parallel fast 0-1.
    ids = np.array([10, 11, 12, 13])
    xy = np.array([[0, 0], [100, 0], [100, 100], [0, 100]], float)
    src = np.array([10, 11, 12, 13, 10, 10])
    tgt = np.array([11, 12, 13, 10, 12, 11])
    cost = np.array([10, 10, 10, 10, 50, 5], float)
    length = np.array([100, 100, 100, 100, 141, 100], float)
    links = np.array([1, 2, 3, 4, 5, 6])
    return build_graph(ids, xy, src, tgt, cost, length, links)


def test_graph_keeps_the_cheapest_parallel_link_and_is_undirected() -> None:
    g = _square_graph()
    t = network_cost_matrix(g, np.array([10, 12]), np.array([10, 11, 12, 13]))
    assert t.tolist() == [[0, 5, 15, 10], [15, 10, 0, 10]]
    assert g.edge_links(np.array([0, 1]), np.array([1, 0])).tolist() == [6, 6]
    d = network_cost_matrix(g, np.array([10]), np.array([12]), metric="distance")
    assert d[0, 0] == pytest.approx(141)


def test_path_edges_follow_the_shortest_path_in_driving_order() -> None:
    g = _square_graph()
    links, from_nodes = path_edges(g, np.array([10, 12]), [0, 1, 0])
    assert links.tolist() == [6, 2, 2, 6]
    assert from_nodes.tolist() == [10, 11, 12, 11]


def test_access_legs_are_added_at_street_speed() -> None:
    g = _square_graph()
    t = network_cost_matrix(g, np.array([10]), np.array([11]), origin_access_m=np.array([250.0]))
    assert t[0, 0] == pytest.approx(5 + 250 * 3.6 / 30)
    assert straight_line_matrix(np.array([[0, 0]]), np.array([[3, 4]]))[0, 0] == 5


def test_stored_network_graph_matches_road_links(conn) -> None:
    g = road_graph(conn)
    n_links = conn.execute(text("SELECT count(*) FROM road_link")).scalar_one()
    assert g.n_nodes == conn.execute(text("SELECT count(*) FROM road_node")).scalar_one()
    assert g.time.nnz <= 2 * n_links
    assert road_graph(conn) is g  # cached for the same network version
    # The demo network is one connected component: every node reaches every other.
    far = dijkstra(g.time, directed=False, indices=[0])
    assert np.isfinite(far).all()


def test_snapping_finds_the_nearest_node_and_travel_is_consistent(conn) -> None:
    sites = conn.execute(
        text("SELECT id, road_node, ST_X(geom) x, ST_Y(geom) y FROM site ORDER BY id LIMIT 6")
    ).all()
    xy = np.array([[s.x, s.y] for s in sites])
    nodes, snap_m = snap_to_nodes(conn, xy)
    # The demo generator stored each site's nearest node: KNN agrees.
    assert nodes.tolist() == [s.road_node for s in sites]
    assert (snap_m >= 0).all() and (snap_m < 2000).all()
    g = road_graph(conn)
    t = network_cost_matrix(g, nodes, nodes)
    assert np.allclose(t, t.T) and np.allclose(np.diag(t), 0)
    # Travel time is at least the straight line at the fastest speed (80 km/h).
    gx = g.xy[g.index_of(nodes)]
    assert (t + 1e-6 >= straight_line_matrix(gx, gx) / (80 / 3.6)).all()


def test_route_line_follows_the_road_links(conn) -> None:
    g = road_graph(conn)
    stops = np.array(
        conn.execute(text("SELECT road_node FROM site WHERE road_node IS NOT NULL ORDER BY id LIMIT 3"))
        .scalars()
        .all()
    )
    links, from_nodes = path_edges(g, stops, [0, 1, 2, 0])
    line = route_line(conn, links, from_nodes)
    assert line["type"] == "LineString" and len(line["coordinates"]) >= len(links)
    # Every vertex is on a road link (within 1 m), and the whole line is within 1 m of them.
    off = conn.execute(
        text(
            """
            WITH r AS (SELECT ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326), 27700) AS g)
            SELECT max((SELECT min(ST_Distance(d.geom, l.geom)) FROM road_link l
                        WHERE l.id = ANY(:links) AND ST_DWithin(l.geom, d.geom, 50))) AS worst_vertex_m,
                   ST_Length((SELECT g FROM r)) AS length_m,
                   (SELECT sum(length_m) FROM road_link WHERE id = ANY(:links)) AS links_m
            FROM ST_DumpPoints((SELECT g FROM r)) d
            """
        ),
        {"g": json.dumps(line), "links": [int(v) for v in links]},
    ).one()
    assert off.worst_vertex_m is not None and off.worst_vertex_m < 1.0
    # Route length equals the sum of the links driven (links driven twice count twice).
    lengths = dict(
        conn.execute(
            text("SELECT id, length_m FROM road_link WHERE id = ANY(:l)"), {"l": [int(v) for v in links]}
        ).all()
    )
    assert off.length_m == pytest.approx(sum(lengths[int(v)] for v in links), rel=0.02)
