"""Travel over the stored road network: a CSR graph, Dijkstra, snapping and route lines.

The graph is built once from ``road_link`` (pgRouting's source/target/cost shape) and
cached per road-network fingerprint (``data_version`` plus the link table's size), so a
reload of the network rebuilds it and nothing else does. Shortest paths use
``scipy.sparse.csgraph.dijkstra``; pgRouting is not needed. Points (demand, sites) are
snapped to their nearest road node in PostGIS with KNN (``<->``), and the walk from the
point to that node is added as an access leg at ``ACCESS_SPEED_KPH``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial.distance import cdist
from sqlalchemy import Connection

from geo.db import load_sql
from geo.errors import InvalidRequest

Metric = Literal["time", "distance"]

#: Speed of the leg between a point and its nearest road node (a street's 30 km/h).
ACCESS_SPEED_KPH = 30.0
#: Seconds per metre on the access leg.
_ACCESS_S_PER_M = 3.6 / ACCESS_SPEED_KPH
#: Walking speed for catchments and walking isochrones (4.8 km/h, a common planning figure;
#: slower walkers are modelled by asking for a shorter walk).
WALK_SPEED_KPH = 4.8


@dataclass(frozen=True)
class RoadGraph:
    """The road network as an undirected CSR graph (one edge per node pair, cheapest link).

    ``time`` (seconds) and ``length`` (metres) share one sparsity pattern; ``edge_link``
    holds, aligned with their ``data``, the id of the road link each edge stands for.
    """

    node_ids: np.ndarray
    xy: np.ndarray
    time: csr_matrix
    length: csr_matrix
    edge_link: np.ndarray
    fingerprint: str

    @property
    def n_nodes(self) -> int:
        """Number of road nodes."""
        return int(self.node_ids.size)

    def index_of(self, node_ids: Any) -> np.ndarray:
        """Graph indices of road node ids (raises if one is not in the graph)."""
        ids = np.asarray(node_ids, dtype=np.int64)
        idx = np.searchsorted(self.node_ids, ids)
        idx = np.clip(idx, 0, self.node_ids.size - 1)
        if ids.size and not np.array_equal(self.node_ids[idx], ids):
            raise InvalidRequest("a road node id is not in the stored road network")
        return idx

    def edge_links(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Road link id of the edge between each pair of graph indices ``a[k] -> b[k]``."""
        starts = self.time.indptr[a]
        ends = self.time.indptr[a + 1]
        out = np.empty(a.size, dtype=np.int64)
        # One searchsorted per edge within its row: rows are short (a junction's degree).
        for k in range(a.size):
            row = self.time.indices[starts[k] : ends[k]]
            pos = starts[k] + int(np.searchsorted(row, b[k]))
            out[k] = self.edge_link[pos]
        return out


_CACHE: dict[tuple[str, str], RoadGraph] = {}
_LOCK = threading.Lock()


def _graph_key(conn: Connection) -> tuple[str, str]:
    fingerprint = str(conn.execute(load_sql("planning/graph_version")).scalar_one())
    return conn.engine.url.render_as_string(hide_password=True), fingerprint


def build_graph(
    node_ids: np.ndarray,
    xy: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    cost_s: np.ndarray,
    length_m: np.ndarray,
    link_ids: np.ndarray,
    fingerprint: str = "",
) -> RoadGraph:
    """Build the undirected CSR graph from edge arrays (parallel links keep the cheapest).

    Parameters
    ----------
    node_ids, xy
        Road node ids and their (x, y) in metres.
    source, target, cost_s, length_m, link_ids
        One entry per road link; travel is allowed both ways (``cost_s`` is both ways).

    Returns
    -------
    RoadGraph
    """
    order = np.argsort(node_ids)
    node_ids = np.asarray(node_ids, dtype=np.int64)[order]
    xy = np.asarray(xy, dtype=float)[order]
    k = node_ids.size
    src = np.searchsorted(node_ids, source)
    tgt = np.searchsorted(node_ids, target)
    rows = np.concatenate([src, tgt])
    cols = np.concatenate([tgt, src])
    cost = np.concatenate([cost_s, cost_s]).astype(float)
    length = np.concatenate([length_m, length_m]).astype(float)
    link = np.concatenate([link_ids, link_ids]).astype(np.int64)
    keep = rows != cols  # a loop link never shortens a path
    rows, cols, cost, length, link = rows[keep], cols[keep], cost[keep], length[keep], link[keep]
    by = np.lexsort((cost, cols, rows))
    rows, cols, cost, length, link = rows[by], cols[by], cost[by], length[by], link[by]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, cost, length, link = rows[first], cols[first], cost[first], length[first], link[first]
    indptr = np.searchsorted(rows, np.arange(k + 1))
    # csgraph treats explicit zeros in sparse input as edges; a floor keeps costs positive.
    time_m = csr_matrix((np.maximum(cost, 1e-3), cols, indptr), shape=(k, k))
    len_m = csr_matrix((np.maximum(length, 1e-3), cols, indptr), shape=(k, k))
    return RoadGraph(node_ids, xy, time_m, len_m, link, fingerprint)


def road_graph(conn: Connection) -> RoadGraph:
    """The stored road network as a graph, built once per network version and cached."""
    key = _graph_key(conn)
    with _LOCK:
        graph = _CACHE.get(key)
    if graph is not None:
        return graph
    links = conn.execute(load_sql("planning/road_graph")).all()
    nodes = conn.execute(load_sql("planning/road_nodes")).all()
    if not links or not nodes:
        raise InvalidRequest("there is no road network loaded (road_link is empty)")
    lid, src, tgt, length, cost = (np.array(c) for c in zip(*links, strict=True))
    nid, x, y = (np.array(c) for c in zip(*nodes, strict=True))
    graph = build_graph(nid, np.column_stack([x, y]), src, tgt, cost, length, lid, key[1])
    with _LOCK:
        _CACHE.clear()  # one network per database is enough: drop superseded versions
        _CACHE[key] = graph
    return graph


def snap_to_nodes(conn: Connection, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest road node (id) and the straight-line distance to it (m) for each point.

    Points are British National Grid metres; the search is PostGIS KNN on ``road_node``.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if xy.shape[0] == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    rows = conn.execute(
        load_sql("planning/snap_to_nodes"), {"xs": xy[:, 0].tolist(), "ys": xy[:, 1].tolist()}
    ).all()
    return np.array([r.node_id for r in rows], dtype=np.int64), np.array([r.snap_m for r in rows], float)


def network_cost_matrix(
    graph: RoadGraph,
    origin_nodes: np.ndarray,
    dest_nodes: np.ndarray,
    *,
    metric: Metric = "time",
    origin_access_m: np.ndarray | None = None,
    dest_access_m: np.ndarray | None = None,
) -> np.ndarray:
    """Shortest travel cost from each origin to each destination over the road network.

    Parameters
    ----------
    graph
        From :func:`road_graph`.
    origin_nodes, dest_nodes
        Road node ids the points were snapped to.
    metric
        ``"time"`` (seconds, links' ``cost_s``) or ``"distance"`` (metres, ``length_m``).
    origin_access_m, dest_access_m
        Straight-line metres from each point to its node, added as an access leg
        (time at ``ACCESS_SPEED_KPH``).

    Returns
    -------
    ndarray ``(len(origin_nodes), len(dest_nodes))``; ``inf`` where unreachable.

    Notes
    -----
    Dijkstra (1959) is run once per distinct destination node (usually the fewer) over the
    undirected graph, and the result transposed: cost is symmetric.
    """
    o_idx = graph.index_of(origin_nodes)
    d_idx = graph.index_of(dest_nodes)
    weights = graph.time if metric == "time" else graph.length
    uniq, inverse = np.unique(d_idx, return_inverse=True)
    dist = dijkstra(weights, directed=False, indices=uniq)
    out: np.ndarray = np.array(dist[np.asarray(inverse).reshape(-1)][:, o_idx].T, dtype=float)
    scale = _ACCESS_S_PER_M if metric == "time" else 1.0
    if origin_access_m is not None:
        out += scale * np.asarray(origin_access_m, dtype=float)[:, None]
    if dest_access_m is not None:
        out += scale * np.asarray(dest_access_m, dtype=float)[None, :]
    return out


def straight_line_matrix(origin_xy: np.ndarray, dest_xy: np.ndarray) -> np.ndarray:
    """Euclidean distance in metres between British National Grid points (``cdist``)."""
    out: np.ndarray = cdist(
        np.asarray(origin_xy, float).reshape(-1, 2), np.asarray(dest_xy, float).reshape(-1, 2)
    )
    return out


def path_edges(graph: RoadGraph, stops: np.ndarray, sequence: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Road links, in driving order, of the time-shortest path through a stop sequence.

    Parameters
    ----------
    graph
        From :func:`road_graph`.
    stops
        Road node ids of the stops.
    sequence
        Visiting order as indices into ``stops`` (first and last may be the depot).

    Returns
    -------
    (link_ids, from_nodes)
        Each link and the node id it is entered from (to orient its geometry).
    """
    s_idx = graph.index_of(stops)
    uniq, inverse = np.unique(s_idx, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    _, pred = dijkstra(graph.time, directed=False, indices=uniq, return_predecessors=True)
    froms: list[int] = []
    tos: list[int] = []
    for a, b in zip(sequence[:-1], sequence[1:], strict=True):
        row = pred[inverse[a]]
        node = int(s_idx[b])
        leg_from: list[int] = []
        leg_to: list[int] = []
        # Walk the predecessor tree back from b to a, then reverse into driving order.
        while node != s_idx[a]:
            prev = int(row[node])
            if prev < 0:
                raise InvalidRequest("a stop is not reachable over the road network")
            leg_from.append(prev)
            leg_to.append(node)
            node = prev
        froms.extend(leg_from[::-1])
        tos.extend(leg_to[::-1])
    f, t = np.array(froms, dtype=np.int64), np.array(tos, dtype=np.int64)
    return graph.edge_links(f, t), graph.node_ids[f]


def route_line(conn: Connection, link_ids: np.ndarray, from_nodes: np.ndarray) -> dict[str, Any] | None:
    """The route as a GeoJSON LineString in WGS84 stitched from its road links in PostGIS."""
    if link_ids.size == 0:
        return None
    row = conn.execute(
        load_sql("planning/route_line"),
        {"link_ids": [int(v) for v in link_ids], "from_nodes": [int(v) for v in from_nodes]},
    ).one()
    geometry: dict[str, Any] = json.loads(row.geojson)
    return geometry


_WALK_CACHE: dict[tuple[str, str], RoadGraph] = {}


def walk_graph(conn: Connection) -> RoadGraph:
    """The walkable network (every road class but motorways), lengths in metres.

    ``time`` holds walking seconds at :data:`WALK_SPEED_KPH`; cached per network version
    like :func:`road_graph`.
    """
    key = _graph_key(conn)
    with _LOCK:
        graph = _WALK_CACHE.get(key)
    if graph is not None:
        return graph
    links = conn.execute(load_sql("planning/walk_graph")).all()
    nodes = conn.execute(load_sql("planning/road_nodes")).all()
    if not links or not nodes:
        raise InvalidRequest("there is no walkable road network loaded (road_link is empty)")
    lid, src, tgt, length = (np.array(c, dtype=float) for c in zip(*links, strict=True))
    nid, x, y = (np.array(c) for c in zip(*nodes, strict=True))
    seconds = length * 3.6 / WALK_SPEED_KPH
    graph = build_graph(
        nid,
        np.column_stack([x, y]),
        src.astype(np.int64),
        tgt.astype(np.int64),
        seconds,
        length,
        lid.astype(np.int64),
        key[1],
    )
    with _LOCK:
        _WALK_CACHE.clear()
        _WALK_CACHE[key] = graph
    return graph


def snap_xy(graph: RoadGraph, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest graph node (index) and straight distance to it for many points (KD-tree).

    Used for the walking graph, where every household is snapped at once; nodes with no
    walkable link are skipped so a point never snaps to an island of one.
    """
    from scipy.spatial import cKDTree

    degree = np.diff(graph.length.indptr)
    usable = np.flatnonzero(degree > 0)
    tree = cKDTree(graph.xy[usable])
    dist, pos = tree.query(np.asarray(xy, dtype=float).reshape(-1, 2))
    return usable[pos], np.asarray(dist, dtype=float)


def walk_distances(
    graph: RoadGraph, source_xy: np.ndarray, target_xy: np.ndarray, limit_m: float
) -> np.ndarray:
    """Walking distance (m) from each source point to each target point, ``inf`` beyond ``limit_m``.

    Both ends are snapped to their nearest walkable node and the straight legs to it are
    added; Dijkstra runs once per distinct source node with ``limit`` so only the
    neighbourhood is searched. Returns ``(len(target_xy), len(source_xy))``.
    """
    s_node, s_leg = snap_xy(graph, source_xy)
    t_node, t_leg = snap_xy(graph, target_xy)
    uniq, inverse = np.unique(s_node, return_inverse=True)
    dist = dijkstra(graph.length, directed=False, indices=uniq, limit=float(limit_m))
    out = dist[np.asarray(inverse).reshape(-1)][:, t_node].T
    out = out + t_leg[:, None] + s_leg[None, :]
    out[out > limit_m] = np.inf
    return np.asarray(out, dtype=float)
