"""Deterministic demo borough: geography, gazetteer, segments and service use with planted truth.

The borough is fictional: a coastal district on the British National Grid east of
x = 600 km (East-Anglia-like, but no real place). Every random draw comes from
``numpy.random.default_rng`` streams spawned from one seed, one stream per stage, so the
same ``(households, seed)`` always gives identical frames and a change to one stage
does not reshuffle the others. Geography (coast, settlements, roads) does not depend on
``households``: a bigger borough is a denser one.

Stages
------
1. land polygon with a wiggly coast on the east; settlements (one coastal town, three
   market towns, about thirty villages);
2. roads: jittered street grids per settlement, A/B roads and lanes linking settlements
   (a minimum spanning tree plus extra links), farm tracks; noded so links meet at
   junctions, largest connected component kept;
3. buildings along streets (houses, blocks of flats, shops, venues), numbered odd/even
   along each street;
4. areas top-down from the household points (k-means seeds, Voronoi cells clipped to the
   parent), so OA < LSOA < ward < district nest exactly by construction;
5. postcodes (about 15 addresses each, never crossing an OA), UPRNs, house-name aliases;
6. segments: smooth random fields plus place-type priors give each OA a mix; households
   are drawn from it;
7. services: per-segment rates times planted hot/not-spot multiples, drawn as Poisson
   counts (events) or Bernoulli membership, with dates, channels and source systems.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

from geo.demo import catalogue as cat
from geo.text import normalise_address_series

__all__ = [
    "CLASSIFICATION_CODE",
    "DEFAULT_HOUSEHOLDS",
    "DEFAULT_SEED",
    "DEMO_SALT",
    "DISTRICT_CODE",
    "ROAD_ID_BASE",
    "SET_CODE",
    "UPRN_BASE",
    "Borough",
    "generate_borough",
    "household_keys",
]

DEFAULT_HOUSEHOLDS = 120_000
DEFAULT_SEED = 20261123
CRS = "EPSG:27700"
SET_CODE = "demo"
DISTRICT_CODE = "ZD000001"
CLASSIFICATION_CODE = cat.CLASSIFICATION["code"]
# Demo UPRNs and road ids live in a block no real UPRN uses (real ones stop near 1e11
# only in a few authorities' ranges we do not load), so the loader can find its own rows.
UPRN_BASE = 990_000_000_000
ROAD_ID_BASE = 990_000_000_000
ID_BLOCK = 1_000_000_000
DEMO_SALT = "wardwise-demo-salt-v1"
PERIOD_START = dt.date(2024, 11, 1)
PERIOD_END = dt.date(2026, 10, 31)
PERIOD_DAYS = (PERIOD_END - PERIOD_START).days + 1  # 730
BOX = (600_000.0, 238_000.0, 632_000.0, 264_000.0)
N_WARDS = 26
HH_PER_LSOA = 630
HH_PER_OA = 126
MIN_OA_HOUSEHOLDS = 40
#: The smallest borough the generator accepts: below about 6,000 households some seeds leave
#: too few OAs with enough expected events to plant every service's hot and not-spot
#: clusters (5,200 and 5,600 fail for the default seed); 8,000 worked for every seed tried.
#: tests/geo/test_demo_generate.py generates a borough of exactly this size.
MIN_HOUSEHOLDS = 8_000
GRID_M = 0.01  # precision of area geometries, metres
MAX_OA_HOUSEHOLDS = 300
ADDRESSES_PER_POSTCODE = 15
MIN_CLUSTER_EXPECTED = 15.0
#: Spawn index of the stream the tougher services (``cat.TOUGH_SERVICES``) draw from: a stream
#: of their own, so the first services' draws do not move when these change.
TOUGH_STREAM = 10
#: Variance of the gamma multiple per OA of ``fly_tipping`` (its OA counts are negative
#: binomial with size 1 / FLY_TIPPING_TAU2).
FLY_TIPPING_TAU2 = 0.25
#: ``social_care``: the segment drawn at a share of its need rate (under-served).
UNDER_SERVED_SEGMENT = "I"
UNDER_SERVED_SHARE = 0.5
#: Trend clusters, each TREND_LSOAS adjacent LSOAs (every one with at least the median LSOA's
#: expected count): the emerging one is x TREND_MULTIPLE from month EMERGING_FROM_MONTH on
#: (0 = Nov 2024; 17 = Apr 2026), the fading one is x TREND_MULTIPLE until month
#: FADING_UNTIL_MONTH (19 = Jun 2026) and ordinary after it. By calendar quarter from 2025 Q1
#: to 2026 Q3, Esri's categories are "consecutive hot spot" (hot in the last two quarters
#: only) and "historical hot spot" (hot in every quarter but the last).
EMERGING_FROM_MONTH = 17
FADING_UNTIL_MONTH = 19
TREND_MULTIPLE = 5.0
TREND_LSOAS = 4
ROAD_SPEED_KPH = {"a_road": 80.0, "b_road": 60.0, "street": 30.0, "lane": 50.0}
_CLASS_RANK = {"a_road": 0, "b_road": 1, "street": 2, "lane": 3}
_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the 20 letters used in inward codes


@dataclass(frozen=True)
class Borough:
    """One generated borough: a frame per table it fills, with the table's column names.

    Geometry columns are named ``geom`` and are in EPSG:27700. Columns the database
    derives or assigns are left out: ``area.geom_3857`` and ``road_link.geom_3857``
    (ST_Transform after loading) and the serial ids of ``address_alias``, ``site`` and
    ``service_event``. ``extract_plan`` is not a table: it says how :func:`raw_extracts`
    renders each event (source system, reference, planted defect).
    """

    area_sets: pd.DataFrame
    areas: gpd.GeoDataFrame
    area_membership: pd.DataFrame
    postcodes: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame
    address_aliases: pd.DataFrame
    classifications: pd.DataFrame
    segments: pd.DataFrame
    household_segments: pd.DataFrame
    channels: pd.DataFrame
    services: pd.DataFrame
    service_events: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    road_nodes: gpd.GeoDataFrame
    road_links: gpd.GeoDataFrame
    truth: dict[str, Any]
    extract_plan: pd.DataFrame


# ============================================================================ public


def check_households(households: int) -> None:
    """Refuse, before any work, a borough too small to carry its planted clusters."""
    if households < MIN_HOUSEHOLDS:
        raise ValueError(
            f"`households` was {households:,} but the demo needs at least {MIN_HOUSEHOLDS:,} "
            "households to plant every service's hot and not-spot clusters"
        )


def generate_borough(households: int = DEFAULT_HOUSEHOLDS, seed: int = DEFAULT_SEED) -> Borough:
    """Generate the demo borough: pure, no I/O, identical output for identical arguments.

    Parameters
    ----------
    households
        Number of households (residential addresses); the land and road network stay
        the same, so more households means a denser borough. At least ``MIN_HOUSEHOLDS``.
    seed
        Seed of every random draw.

    Returns
    -------
    Borough
        Frames for every demo table plus the planted ``truth``.
    """
    check_households(households)
    # Children of a SeedSequence depend only on their index: spawning 11 leaves the first 10 as
    # they were before the tough services' stream (index TOUGH_STREAM) was added.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(11)]
    land = _land(streams[0])
    inner = land.buffer(-40.0)
    settlements = _settlements(land, inner, streams[1])
    net = _road_network(inner, settlements, streams[2])
    bld = _buildings(net, settlements, land, households, streams[3])
    hier = _areas(bld, land, settlements, streams[4])
    bld = _postcodes(_localities(bld, settlements), hier)
    addr, aliases, bld = _addresses(bld, settlements, hier, streams[5])
    addr_oa = np.repeat(bld["oa"].to_numpy(), bld["units"].to_numpy())
    seg_of_hh = _household_segments(addr, addr_oa, bld, hier, streams[6])
    _fill_population(
        hier["areas"],
        addr_oa[addr["is_residential"].to_numpy()],
        seg_of_hh,
        len(hier["oa_codes"]),
        streams[6],
    )
    events, service_truth, tough_truth = _service_events(
        addr, addr_oa, seg_of_hh, hier, streams[7], streams[TOUGH_STREAM]
    )
    sites = _sites(bld, addr, net)

    from geo.demo.extracts import plan_extracts  # local: extracts imports this module

    # The source-system extracts cover the first services only (the tough services' events come
    # last and are loaded directly), so the extract plan and its defects are as before.
    tough = events["service_code"].isin([s.code for s in cat.TOUGH_SERVICES]).to_numpy()
    n_plain = int((~tough).sum())
    plan, extract_truth, plain_refs = plan_extracts(events.iloc[:n_plain], addr, aliases, streams[8])
    refs = pd.concat([plain_refs, _tough_refs(events.iloc[n_plain:])])
    events["source_ref_hash"] = _hashes(
        DEMO_SALT, _join(events["source_system"].to_numpy().astype(object), ":", refs.to_numpy())
    )

    residential = addr["is_residential"].to_numpy()
    seg_codes = np.array([s.code for s in cat.SEGMENTS])
    hh_uprn = addr["uprn"].to_numpy()[residential]
    household_segments = pd.DataFrame(
        {
            "uprn": hh_uprn,
            "classification_code": CLASSIFICATION_CODE,
            "segment_code": seg_codes[seg_of_hh],
            "batch_id": pd.array([None] * len(hh_uprn), dtype="Int64"),
        }
    )
    shares = np.bincount(seg_of_hh, minlength=len(seg_codes)) / len(seg_of_hh)
    offices = sites[sites["kind"] == "office"]
    truth: dict[str, Any] = {
        "seed": int(seed),
        "households": int(residential.sum()),
        "district_code": DISTRICT_CODE,
        "set_code": SET_CODE,
        "classification_code": CLASSIFICATION_CODE,
        "period": {"start": PERIOD_START.isoformat(), "end": PERIOD_END.isoformat()},
        "household_key": {"salt": DEMO_SALT, "formula": "sha256(salt + ':' + str(uprn))[:32]"},
        "counts": {
            "oa": int((hier["areas"]["level"] == "oa").sum()),
            "lsoa": int((hier["areas"]["level"] == "lsoa").sum()),
            "ward": int((hier["areas"]["level"] == "ward").sum()),
            "addresses": len(addr),
            "postcodes": int(addr["postcode_norm"].nunique()),
        },
        "segments": {c: round(float(s), 6) for c, s in zip(seg_codes, shares, strict=True)},
        "services": service_truth,
        "tough_services": tough_truth,
        "offices": [
            {
                "name": r.name,
                "uprn": int(r.uprn),
                "oa_code": r.oa_code,
                "x": round(float(r.geom.x), 2),
                "y": round(float(r.geom.y), 2),
            }
            for r in offices.itertuples()
        ],
        "candidate_sites": int((~sites["is_existing"]).sum()),
        "extracts": extract_truth,
    }
    return Borough(
        area_sets=pd.DataFrame(
            [
                {
                    "code": SET_CODE,
                    "name": f"{cat.DISTRICT_NAME} (demo)",
                    "kind": "standard",
                    "description": "Fictional demo district generated by geo.demo "
                    f"(households={int(residential.sum())}, seed={seed}).",
                    "batch_id": None,
                }
            ]
        ),
        areas=hier["areas"],
        area_membership=hier["membership"],
        postcodes=_postcode_frame(bld, hier),
        addresses=addr,
        address_aliases=aliases,
        classifications=pd.DataFrame([cat.CLASSIFICATION]),
        segments=_segment_frame(),
        household_segments=household_segments,
        channels=pd.DataFrame(cat.CHANNELS, columns=["code", "name", "kind", "unit_cost_gbp", "is_digital"]),
        services=pd.DataFrame(
            [
                {
                    "code": s.code,
                    "name": s.name,
                    "category": s.category,
                    "description": s.description,
                    "owner": s.owner,
                    "unit": s.unit,
                    "channels": list(s.channels),
                    "unit_costs": s.unit_costs,
                }
                for s in (*cat.SERVICES, *cat.TOUGH_SERVICES)
            ]
        ),
        service_events=events,
        sites=sites,
        road_nodes=net["nodes"],
        road_links=net["links"],
        truth=truth,
        extract_plan=plan,
    )


def household_keys(uprns: np.ndarray | pd.Series, salt: str = DEMO_SALT) -> np.ndarray:
    """Return the salted household key of each UPRN: ``sha256(f"{salt}:{uprn}")`` hex[:32].

    Hashes each distinct UPRN once (hashlib has no vectorised form) and broadcasts back.
    """
    values = np.asarray(uprns, dtype=np.int64)
    uniq, inverse = np.unique(values, return_inverse=True)
    keys = np.array([hashlib.sha256(f"{salt}:{u}".encode()).hexdigest()[:32] for u in uniq.tolist()])
    return keys[inverse] if len(uniq) else np.array([], dtype=object)


def _hashes(salt: str, values: np.ndarray) -> np.ndarray:
    """Return ``sha256(f"{salt}:{value}")`` hex digests of an array of strings."""
    return np.array(
        [hashlib.sha256(f"{salt}:{v}".encode()).hexdigest() for v in values.tolist()], dtype=object
    )


# ============================================================================ land


def _wiggle(t: np.ndarray, rng: np.random.Generator, amplitude: float, terms: int = 3) -> np.ndarray:
    """Return a smooth random offset along t in [0, 1]: a few sines of rising frequency."""
    out = np.zeros_like(t)
    for k in range(terms):
        freq = rng.uniform(1.0, 2.5) * (k + 1)
        out += amplitude / (k + 1) * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    return out


def _land(rng: np.random.Generator) -> shapely.Polygon:
    """Return the district: the land between three inland boundaries and a wiggly east coast."""
    x0, y0, y1 = BOX[0] + 400, BOX[1] + 400, BOX[3] - 400
    t = np.linspace(0.0, 1.0, 241)
    ys = y1 - t * (y1 - y0)  # coast runs north to south
    coast = 625_800 + _wiggle(t, rng, 1_700.0, terms=4) + rng.normal(0, 25, t.size).cumsum() * 0.3
    coast = np.clip(coast, 619_000, BOX[2] - 300)
    envelope = np.sin(np.pi * t)
    west_y = y0 + t * (y1 - y0)
    west_x = x0 + np.abs(_wiggle(t, rng, 350.0)) * envelope
    north_x = x0 + t * (coast[0] - x0)
    north_y = y1 - np.abs(_wiggle(t, rng, 300.0)) * envelope
    south_x = coast[-1] - t * (coast[-1] - x0)
    south_y = y0 + np.abs(_wiggle(t, rng, 300.0)) * envelope
    ring = np.concatenate(
        [
            np.column_stack([west_x, west_y])[:-1],
            np.column_stack([north_x, north_y])[:-1],
            np.column_stack([coast, ys])[:-1],
            np.column_stack([south_x, south_y]),
        ]
    )
    land = shapely.make_valid(shapely.Polygon(ring))
    if land.geom_type != "Polygon":
        land = max(shapely.get_parts(land), key=lambda g: g.area)
    return land


# ============================================================================ settlements


def _settlements(land: shapely.Polygon, inner: shapely.Geometry, rng: np.random.Generator) -> pd.DataFrame:
    """Return settlements: name, kind, centre, radius, household share, post town, region."""
    rows: list[dict[str, Any]] = []
    yc = 251_000 + rng.uniform(-1_500, 1_500)
    strip = shapely.intersection(shapely.LineString([(BOX[0], yc), (BOX[2], yc)]), land)
    xc = shapely.bounds(strip)[2] - 350
    rows.append({"name": cat.COASTAL_TOWN, "kind": "coastal", "x": xc, "y": yc, "r": 4_200.0})
    for name in cat.MARKET_TOWNS:
        for _ in range(10_000):
            x, y = rng.uniform(602_500, 619_000), rng.uniform(240_500, 261_500)
            if not shapely.contains_xy(inner, x, y):
                continue
            if all(
                np.hypot(x - s["x"], y - s["y"]) > (9_500 if s["kind"] == "coastal" else 7_500) for s in rows
            ):
                break
        rows.append({"name": name, "kind": "market", "x": x, "y": y, "r": rng.uniform(1_400, 1_900)})
    villages = list(cat.VILLAGES)
    placed = 0
    for _ in range(20_000):
        if placed == len(villages):
            break
        x, y = rng.uniform(BOX[0] + 900, BOX[2]), rng.uniform(BOX[1] + 900, BOX[3] - 900)
        r = rng.uniform(300, 650)
        if (
            not shapely.contains_xy(inner, x, y)
            or shapely.distance(shapely.Point(x, y), land.exterior) < r + 300
        ):
            continue
        ok = True
        for s in rows:
            d = np.hypot(x - s["x"], y - s["y"])
            if (s["kind"] != "village" and d < s["r"] + r + 1_300) or (s["kind"] == "village" and d < 2_100):
                ok = False
                break
        if ok:
            rows.append({"name": villages[placed], "kind": "village", "x": x, "y": y, "r": r})
            placed += 1
    st = pd.DataFrame(rows)
    area = st["r"] ** 2
    share = np.where(st["kind"] == "coastal", 0.46, 0.0)
    for kind, total in (("market", 0.28), ("village", 0.20)):
        mask = st["kind"] == kind
        share = np.where(mask, total * area / area[mask].sum(), share)
    st["share"] = share  # the remaining 6 % live in open country
    towns = st[st["kind"] != "village"]
    tree = cKDTree(towns[["x", "y"]].to_numpy())
    st["post_town"] = towns["name"].to_numpy()[tree.query(st[["x", "y"]].to_numpy())[1]]
    st["region"] = shapely.intersection(shapely.buffer(shapely.points(st["x"], st["y"]), st["r"]), inner)
    return st


# ============================================================================ roads


def _midpoint_wiggle(
    p: np.ndarray, q: np.ndarray, rng: np.random.Generator, rough: float = 0.09
) -> np.ndarray:
    """Return a polyline from p to q bent by random midpoint displacement (a natural road)."""
    pts = np.array([p, q], dtype=float)
    for _ in range(5):
        d = pts[1:] - pts[:-1]
        length = np.hypot(d[:, 0], d[:, 1])
        normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.maximum(length, 1e-9)[:, None]
        mids = (pts[1:] + pts[:-1]) / 2 + normal * (rng.normal(0, rough, len(d)) * length)[:, None]
        out = np.empty((len(pts) + len(mids), 2))
        out[0::2] = pts
        out[1::2] = mids
        pts = out
    return pts


def _grid_streets(
    s: pd.Series, index: int, rng: np.random.Generator
) -> list[tuple[shapely.Geometry, str, str, str, int]]:
    """Return the streets of one settlement: a jittered, rotated grid cut into named runs."""
    spacing = {"coastal": 175.0, "market": 160.0, "village": 140.0}[s["kind"]]
    n = int(np.ceil(s["r"] / spacing)) + 1
    theta = rng.uniform(0, np.pi / 2)
    idx = np.arange(-n, n + 1, dtype=float)
    gx, gy = np.meshgrid(idx, idx, indexing="ij")
    lx = gx * spacing + rng.normal(0, 0.16 * spacing, gx.shape)
    ly = gy * spacing + rng.normal(0, 0.16 * spacing, gy.shape)
    X = s["x"] + lx * np.cos(theta) - ly * np.sin(theta)
    Y = s["y"] + lx * np.sin(theta) + ly * np.cos(theta)
    runs: list[np.ndarray] = []
    for family in (0, 1):
        for i in range(2 * n + 1):
            xs, ys = (X[i, :], Y[i, :]) if family == 0 else (X[:, i], Y[:, i])
            j = 0
            while j < 2 * n:
                k = min(2 * n, j + int(rng.integers(2, 7)))
                runs.append(np.column_stack([xs[j : k + 1], ys[j : k + 1]]))
                j = k
    lines = np.array([shapely.LineString(r) for r in runs], dtype=object)
    clipped = shapely.intersection(lines, s["region"])
    keep = ~shapely.is_empty(clipped) & (shapely.length(clipped) > 40)
    # Irregularity: drop some runs outside the core (cul-de-sacs, parks, gaps).
    dist = np.hypot(
        shapely.get_x(shapely.centroid(lines)) - s["x"], shapely.get_y(shapely.centroid(lines)) - s["y"]
    )
    keep &= ~((rng.random(len(lines)) < 0.10) & (dist > 0.3 * s["r"]))
    clipped = clipped[keep]
    combos = [f"{a} {b}" for a in cat.STREET_STEMS for b in cat.STREET_SUFFIXES]
    order = rng.permutation(len(combos))
    if len(clipped) > len(combos):
        clipped = clipped[: len(combos)]
    return [(g, combos[order[i]], combos[order[i]], "street", index) for i, g in enumerate(clipped)]


def _road_network(inner: shapely.Geometry, st: pd.DataFrame, rng: np.random.Generator) -> dict[str, Any]:
    """Return the noded road network (largest component) with per-link attributes."""
    lines: list[tuple[shapely.Geometry, str, str, str, int]] = []  # geom, name, street, class, settlement
    for i, s in st.iterrows():
        lines.extend(_grid_streets(s, int(i), rng))
    xy = st[["x", "y"]].to_numpy()
    is_town = (st["kind"] != "village").to_numpy()
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    mst = minimum_spanning_tree(dist).tocoo()
    edges = {(min(a, b), max(a, b)) for a, b in zip(mst.row.tolist(), mst.col.tolist(), strict=True)}
    edges |= {(0, m) for m in np.flatnonzero(st["kind"] == "market").tolist()}
    for v in np.flatnonzero(~is_town).tolist():
        second = int(np.argsort(dist[v])[2])
        if rng.random() < 0.6:
            edges.add((min(v, second), max(v, second)))
    a_no, b_no = 1100, 1120
    for a, b in sorted(edges):
        towns = int(is_town[a]) + int(is_town[b])
        road_class = ("lane", "b_road", "a_road")[towns]
        if road_class == "a_road":
            a_no += 7
            name = f"A{a_no}"
        elif road_class == "b_road":
            b_no += 3
            name = f"B{b_no}"
        else:
            name = f"{st['name'][b]} Road"
        geom = shapely.intersection(shapely.LineString(_midpoint_wiggle(xy[a], xy[b], rng)), inner)
        if not geom.is_empty:
            lines.append((geom, name, f"{st['name'][b]} Road", road_class, -1))
    # Farm tracks: dead-end lanes from farms in open country to the nearest road.
    main = shapely.union_all([g for g, _, _, c, _ in lines if c != "street"])
    fx, fy = rng.uniform(BOX[0] + 600, BOX[2], 600), rng.uniform(BOX[1] + 600, BOX[3] - 600, 600)
    inside = shapely.contains_xy(inner, fx, fy)
    far = (
        np.min(
            np.hypot(fx[:, None] - xy[None, :, 0], fy[:, None] - xy[None, :, 1])
            - st["r"].to_numpy()[None, :],
            axis=1,
        )
        > 400
    )
    farms = shapely.points(fx[inside & far][:220], fy[inside & far][:220])
    tracks = shapely.shortest_line(farms, main)
    for tr in tracks:
        (ax, ay), (bx, by) = shapely.get_coordinates(tr)
        length = np.hypot(bx - ax, by - ay)
        if length < 80 or length > 2_500:
            continue
        # Overshoot the road by 3 m so noding sees a crossing, not a near miss.
        ex, ey = bx + (bx - ax) / length * 3, by + (by - ay) / length * 3
        name = f"{cat.FARM_LANE_STEMS[int(rng.integers(len(cat.FARM_LANE_STEMS)))]} Lane"
        lines.append((shapely.LineString([(ax, ay), (ex, ey)]), name, name, "lane", -1))

    geoms = np.array([g for g, *_ in lines], dtype=object)
    names = np.array([n for _, n, *_ in lines], dtype=object)
    streets = np.array([s for _, _, s, *_ in lines], dtype=object)
    classes = np.array([c for *_, c, _ in lines], dtype=object)
    settle = np.array([k for *_, k in lines], dtype=np.int64)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    is_line = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0)
    parts, part_of = parts[is_line], part_of[is_line]
    pieces = shapely.get_parts(shapely.node(shapely.multilinestrings(parts)))
    pieces = pieces[shapely.length(pieces) > 0.5]
    mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    piece_idx, part_idx = shapely.STRtree(parts).query(mids, predicate="dwithin", distance=0.01)
    line_idx = part_of[part_idx]
    rank = np.array([_CLASS_RANK[c] for c in classes])[line_idx]
    order = np.lexsort((line_idx, rank, piece_idx))
    first_piece, first = np.unique(piece_idx[order], return_index=True)
    pieces, line_of = pieces[first_piece], line_idx[order][first]
    start = np.round(shapely.get_coordinates(shapely.get_point(pieces, 0)), 2)
    end = np.round(shapely.get_coordinates(shapely.get_point(pieces, -1)), 2)
    uniq, inv = np.unique(np.vstack([start, end]), axis=0, return_inverse=True)
    inv = inv.ravel()
    src, dst = inv[: len(pieces)], inv[len(pieces) :]
    ok = src != dst
    pieces, line_of, src, dst = pieces[ok], line_of[ok], src[ok], dst[ok]
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(len(uniq), len(uniq)))
    _, comp = connected_components(graph, directed=False)
    biggest = np.bincount(comp[src]).argmax()
    keep = comp[src] == biggest
    pieces, line_of, src, dst = pieces[keep], line_of[keep], src[keep], dst[keep]
    used, node_inv = np.unique(np.concatenate([src, dst]), return_inverse=True)
    node_ids = ROAD_ID_BASE + 1 + np.arange(len(used))
    src_id, dst_id = node_ids[node_inv[: len(src)]], node_ids[node_inv[len(src) :]]
    road_class = classes[line_of]
    speed = np.array([ROAD_SPEED_KPH[c] for c in road_class])
    length = shapely.length(pieces)
    links = gpd.GeoDataFrame(
        {
            "id": ROAD_ID_BASE + 1 + np.arange(len(pieces)),
            "name": names[line_of],
            "road_class": road_class,
            "source": src_id,
            "target": dst_id,
            "length_m": np.round(length, 2),
            "speed_kph": speed,
            "cost_s": np.round(length / (speed / 3.6), 2),
            "geom": pieces,
        },
        geometry="geom",
        crs=CRS,
    )
    nodes = gpd.GeoDataFrame({"id": node_ids, "geom": shapely.points(uniq[used])}, geometry="geom", crs=CRS)
    return {
        "links": links,
        "nodes": nodes,
        "street": streets[line_of],
        "settlement": settle[line_of],
        "line_of": line_of,
        "line_geoms": geoms,
    }


# ============================================================================ buildings


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to shares, summing exactly to total."""
    raw = total * shares / shares.sum()
    out = np.floor(raw).astype(np.int64)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return np.asarray(out)


def _venue_plan(st: pd.DataFrame) -> list[tuple[str, str, int, bool, int]]:
    """Return (name, kind, settlement index, is_existing, capacity) for offices and ~60 venues."""
    coastal = int(np.flatnonzero(st["kind"] == "coastal")[0])
    markets = np.flatnonzero(st["kind"] == "market").tolist()
    villages = st.index[st["kind"] == "village"].to_numpy()
    big_villages = villages[np.argsort(-st["r"].to_numpy()[villages], kind="stable")].tolist()
    town = st["name"].tolist()
    hoods = cat.NEIGHBOURHOODS
    plan: list[tuple[str, str, int, bool, int]] = [
        (f"{town[coastal]} Town Hall", "office", coastal, True, 400),
        (f"{town[markets[0]]} Council Offices", "office", markets[0], True, 250),
        (f"{town[markets[1]]} Area Office", "office", markets[1], True, 200),
    ]
    for t in [coastal, *markets, *big_villages[:4]]:
        plan.append((f"{town[t]} Library", "library", t, False, 150))
    plan += [(f"{hoods[i]} Community Centre", "community_centre", coastal, False, 120) for i in range(8)]
    for m in markets:
        plan += [
            (f"{town[m]} Community Centre", "community_centre", m, False, 120),
            (f"{town[m]} Methodist Hall", "community_centre", m, False, 80),
        ]
    plan += [(f"{town[v]} Village Hall", "community_centre", v, False, 60) for v in big_villages[4:10]]
    plan += [(f"{hoods[8 + i]} Surgery", "surgery", coastal, False, 90) for i in range(6)]
    for m in markets:
        plan += [
            (f"{town[m]} Medical Practice", "surgery", m, False, 90),
            (f"{town[m]} Health Centre", "surgery", m, False, 70),
        ]
    plan += [(f"{town[v]} Surgery", "surgery", v, False, 50) for v in big_villages[:2]]
    plan += [(f"{hoods[i + 2]} Primary School", "school", coastal, False, 100) for i in range(6)]
    plan.append((f"{town[coastal]} High School", "school", coastal, False, 200))
    for m in markets:
        plan += [
            (f"{town[m]} Primary School", "school", m, False, 100),
            (f"{town[m]} Academy", "school", m, False, 150),
        ]
    plan += [(f"{town[v]} CE Primary School", "school", v, False, 60) for v in big_villages[1:6]]
    return plan


def _buildings(
    net: dict[str, Any], st: pd.DataFrame, land: shapely.Polygon, households: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Return buildings (houses, blocks of flats, shops, venues) placed along the streets."""
    links = net["links"]
    geoms = links["geom"].to_numpy()
    length = links["length_m"].to_numpy()
    settle = net["settlement"]
    cls = links["road_class"].to_numpy()
    mids = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    mx, my = shapely.get_x(mids), shapely.get_y(mids)
    sx, sy, sr = (st[c].to_numpy() for c in ("x", "y", "r"))
    rel = np.hypot(mx[:, None] - sx[None, :], my[:, None] - sy[None, :]) / sr[None, :]
    rel_own = np.where(settle >= 0, rel[np.arange(len(settle)), np.maximum(settle, 0)], rel.min(axis=1))
    country = (settle < 0) & np.isin(cls, ["lane", "b_road"]) & (rel.min(axis=1) > 1.05)
    n_groups = len(st) + 1  # last group: open country
    group = np.where(settle >= 0, settle, np.where(country, len(st), -1))
    weight = np.where(
        settle >= 0, length * np.maximum(0.25, 1.5 - rel_own), np.where(cls == "b_road", 0.5, 1.0) * length
    )
    weight = np.where(group >= 0, weight, 0.0)
    target = _largest_remainder(households, np.append(st["share"].to_numpy(), 0.06))
    kinds = st["kind"].to_numpy()
    frames: list[pd.DataFrame] = []
    for g in range(n_groups):
        cand = np.flatnonzero(group == g)
        if target[g] == 0 or len(cand) == 0:
            continue
        p = weight[cand] / weight[cand].sum()
        n = int(target[g])
        link = cand[rng.choice(len(cand), size=n, p=p)]
        kind = kinds[g] if g < len(st) else "country"
        core = rel_own[link] < 0.4
        p_flat = {"coastal": 0.22, "market": 0.10}.get(kind, 0.0) * np.where(core, 1.0, 0.25)
        units = np.where(rng.random(n) < p_flat, 2 + np.minimum(rng.poisson(4.0, n), 22), 1)
        cum = np.cumsum(units)
        last = int(np.searchsorted(cum, n))
        units = units[: last + 1].copy()
        units[-1] -= cum[last] - n
        link = link[: last + 1]
        frames.append(
            pd.DataFrame(
                {"link": link, "units": units, "kind": np.where(units > 1, "flats", "house"), "group": g}
            )
        )
        if kind in ("coastal", "market"):
            shop_w = weight[cand] * (rel_own[cand] < 0.35)
            if shop_w.sum() > 0:
                n_shop = max(1, round(0.012 * n))
                shop_link = cand[rng.choice(len(cand), size=n_shop, p=shop_w / shop_w.sum())]
                frames.append(pd.DataFrame({"link": shop_link, "units": 1, "kind": "shop", "group": g}))
    venues = _venue_plan(st)
    v_link = np.empty(len(venues), dtype=np.int64)
    for i, (_, _, g, _, _) in enumerate(venues):
        cand = np.flatnonzero(group == g)
        w = weight[cand] * np.maximum(0.05, 1.2 - rel_own[cand]) ** 2
        v_link[i] = cand[rng.choice(len(cand), p=w / w.sum())]
    frames.append(
        pd.DataFrame(
            {
                "link": v_link,
                "units": 1,
                "kind": "venue",
                "group": [v[2] for v in venues],
                "venue_name": [v[0] for v in venues],
                "venue_kind": [v[1] for v in venues],
                "venue_existing": [v[3] for v in venues],
                "venue_capacity": [v[4] for v in venues],
            }
        )
    )
    b = pd.concat(frames, ignore_index=True)
    n = len(b)
    link = b["link"].to_numpy()
    t = rng.random(n)
    side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    along = t * length[link]
    lg = geoms[link]
    centre = shapely.line_interpolate_point(lg, along)
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(lg, np.minimum(along + 1.0, length[link])))
    behind = shapely.get_coordinates(shapely.line_interpolate_point(lg, np.maximum(along - 1.0, 0.0)))
    tangent = ahead - behind
    tangent /= np.maximum(np.hypot(tangent[:, 0], tangent[:, 1]), 1e-9)[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    is_country = (b["group"] == len(st)).to_numpy()
    offset = np.where(is_country, rng.uniform(12, 40, n), rng.uniform(8, 14, n)) * side
    c = shapely.get_coordinates(centre)
    xy = c + normal * offset[:, None]
    outside = ~shapely.contains_xy(land, xy[:, 0], xy[:, 1])
    xy[outside] = c[outside] - normal[outside] * offset[outside, None]
    outside = ~shapely.contains_xy(land, xy[:, 0], xy[:, 1])
    xy[outside] = c[outside]
    b["x"], b["y"] = xy[:, 0], xy[:, 1]
    b["side"] = side
    b["line"] = net["line_of"][link]
    b["street"] = net["street"][link]
    b["position"] = shapely.line_locate_point(net["line_geoms"][b["line"].to_numpy()], centre)
    b["rel"] = (
        np.hypot(
            xy[:, 0] - sx[np.minimum(b["group"], len(st) - 1)],
            xy[:, 1] - sy[np.minimum(b["group"], len(st) - 1)],
        )
        / sr[np.minimum(b["group"], len(st) - 1)]
    )
    place = np.full(n, 5)
    gk = np.where(is_country, "country", kinds[np.minimum(b["group"].to_numpy(), len(st) - 1)])
    core = b["rel"].to_numpy() < 0.45
    place[(gk == "coastal") & core] = 0
    place[(gk == "coastal") & ~core] = 1
    place[(gk == "market") & core] = 2
    place[(gk == "market") & ~core] = 3
    place[gk == "village"] = 4
    b["place"] = place
    b["residential"] = b["kind"].isin(["house", "flats"]).to_numpy()
    return b


# ============================================================================ areas


def _kmeans(pts: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator, iters: int = 15) -> np.ndarray:
    """Return k weighted k-means centres (k-means++ start, Lloyd iterations)."""
    n = len(pts)
    k = min(k, n)
    centres = np.empty((k, 2))
    centres[0] = pts[rng.choice(n, p=w / w.sum())]
    d2 = ((pts - centres[0]) ** 2).sum(axis=1)
    for c in range(1, k):
        p = w * d2
        total = p.sum()
        centres[c] = pts[rng.choice(n, p=p / total)] if total > 0 else pts[rng.integers(n)]
        d2 = np.minimum(d2, ((pts - centres[c]) ** 2).sum(axis=1))
    return _lloyd(pts, w, centres, iters)


def _lloyd(pts: np.ndarray, w: np.ndarray, centres: np.ndarray, iters: int) -> np.ndarray:
    """Run Lloyd iterations from the given centres, dropping centres that lose all points."""
    for _ in range(iters):
        lab = cKDTree(centres).query(pts)[1]
        k = len(centres)
        sw = np.bincount(lab, w, k)
        new = np.column_stack([np.bincount(lab, w * pts[:, 0], k), np.bincount(lab, w * pts[:, 1], k)])
        keep = sw > 0
        new = np.asarray(new[keep] / sw[keep, None], dtype=centres.dtype)
        if len(new) == len(centres) and np.allclose(new, centres, atol=5.0):
            return new
        centres = new
    return centres


def _split(
    pts: np.ndarray,
    units: np.ndarray,
    density: np.ndarray,
    k: int,
    min_size: float,
    max_size: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (seeds, labels): k-means seeds giving clusters of roughly equal household counts.

    Plain k-means places centres at a density proportional to sqrt(point density) in 2-D,
    so dense town centres would get far bigger areas (by households) than the country.
    Weighting each point by its local density makes centre density proportional to
    household density, i.e. roughly equal counts (Gersho's asymptotic quantisation
    result). Clusters below min_size are merged away and clusters above max_size split
    in two. Labels are nearest-seed, so every point lies in its seed's Voronoi cell.
    """
    w = units * density
    seeds = _kmeans(pts, w, max(1, k), rng)
    for _ in range(4 * max(1, k)):
        lab = cKDTree(seeds).query(pts)[1]
        size = np.bincount(lab, units, len(seeds))
        if len(seeds) > 1 and size.min() < min_size:
            seeds = _lloyd(pts, w, np.delete(seeds, int(size.argmin()), axis=0), 3)
        elif size.max() > max_size and len(seeds) < len(pts):
            big = int(size.argmax())
            members = lab == big
            halves = _kmeans(pts[members], w[members], 2, rng, iters=8)
            if len(halves) < 2:
                break
            seeds = _lloyd(pts, w, np.vstack([np.delete(seeds, big, axis=0), halves]), 3)
        else:
            break
    lab = cKDTree(seeds).query(pts)[1]
    present = np.bincount(lab, minlength=len(seeds)) > 0
    if not present.all():
        seeds = seeds[present]
        lab = cKDTree(seeds).query(pts)[1]
    return seeds, lab


def _rebalance(
    pts: np.ndarray,
    units: np.ndarray,
    w: np.ndarray,
    seeds: np.ndarray,
    rng: np.random.Generator,
    rounds: int = 40,
) -> np.ndarray:
    """Return seeds with more even household counts: merge the smallest, split the largest.

    Keeps the number of seeds; stops when the largest cluster is under 3x the smallest
    and returns the most even set seen.
    """
    best, best_spread = seeds, np.inf
    for _ in range(rounds):
        size = np.bincount(cKDTree(seeds).query(pts)[1], units, len(seeds))
        spread = size.max() / max(size.min(), 1.0)
        if spread < best_spread and len(seeds) == len(best):
            best, best_spread = seeds, spread
        if spread < 3.0:
            break
        small, big = int(size.argmin()), int(size.argmax())
        members = cKDTree(seeds).query(pts)[1] == big
        halves = _kmeans(pts[members], w[members], 2, rng, iters=15)
        seeds = _lloyd(pts, w, np.vstack([np.delete(seeds, [small, big], axis=0), halves]), 5)
        if len(seeds) != len(best):
            break
    return best


def _density(
    pts: np.ndarray, units: np.ndarray, cell_m: float = 250.0, sigma_cells: float = 2.0
) -> np.ndarray:
    """Return households per km2 around each point (grid histogram, Gaussian smoothed)."""
    from scipy.ndimage import gaussian_filter

    nx, ny = int((BOX[2] - BOX[0]) / cell_m), int((BOX[3] - BOX[1]) / cell_m)
    hist, _, _ = np.histogram2d(
        pts[:, 0], pts[:, 1], bins=(nx, ny), range=((BOX[0], BOX[2]), (BOX[1], BOX[3])), weights=units
    )
    smooth = gaussian_filter(hist, sigma_cells, mode="constant") / (cell_m / 1_000) ** 2
    ix = np.clip(((pts[:, 0] - BOX[0]) / cell_m).astype(np.int64), 0, nx - 1)
    iy = np.clip(((pts[:, 1] - BOX[1]) / cell_m).astype(np.int64), 0, ny - 1)
    return np.asarray(np.maximum(smooth[ix, iy], 1.0))


def _cells(seeds: np.ndarray, parent: shapely.Geometry) -> np.ndarray:
    """Return each seed's Voronoi cell clipped to the parent, in seed order."""
    if len(seeds) == 1:
        return np.array([parent], dtype=object)
    vor = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=parent, ordered=True)
    return np.asarray(shapely.intersection(shapely.get_parts(vor), parent))


def _multipolygon(g: shapely.Geometry) -> shapely.MultiPolygon:
    """Return the polygonal part of g as a valid MultiPolygon."""
    g = shapely.make_valid(g)
    polys = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]
    if not polys:  # a GeometryCollection nesting its polygons
        polys = [
            p for p in shapely.get_parts(shapely.get_parts(g)) if p.geom_type == "Polygon" and p.area > 0
        ]
    return shapely.MultiPolygon(polys)


def _exact_coverage(geoms: np.ndarray) -> np.ndarray:
    """Rebuild polygons that tile an area as an exact coverage on the GRID_M grid.

    Each Voronoi cell is clipped to its own parent, so neighbours in different parents
    get their shared edge from different overlay operations and differ by float noise;
    snapping each polygon on its own then leaves millimetre slivers along long
    boundaries (tens of m2), and GEOS 3.14 was seen returning an empty intersection
    for a ward wholly inside its float-precision district. Instead the boundaries of all
    polygons are noded once on a fixed grid and polygonised into faces; each face goes
    to the polygon holding its interior point. Shared edges are then identical.
    """
    lines = shapely.union_all(shapely.boundary(geoms), grid_size=GRID_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    faces = faces[shapely.area(faces) > 0]
    inner = shapely.point_on_surface(faces)
    tree = shapely.STRtree(geoms)
    face_idx, geom_idx = tree.query(inner, predicate="within")
    owner = np.full(len(faces), -1, dtype=np.int64)
    first = np.unique(face_idx, return_index=True)[1]
    owner[face_idx[first]] = geom_idx[first]
    orphan = np.flatnonzero(owner < 0)
    if len(orphan):
        owner[orphan] = tree.query_nearest(inner[orphan], all_matches=False)[1]
    return np.array(_union_groups(faces, owner, len(geoms)), dtype=object)


def _union_groups(parts: np.ndarray, group: np.ndarray, n: int) -> list[shapely.MultiPolygon]:
    """Return the fixed-precision union of parts per group 0..n-1 as MultiPolygons."""
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n + 1))
    return [
        _multipolygon(shapely.union_all(parts[order[bounds[i] : bounds[i + 1]]], grid_size=GRID_M))
        for i in range(n)
    ]


def _letters(i: int) -> str:
    """Return A, B, ..., Z, AA, AB, ... for 0, 1, ..."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _ward_names(seeds: np.ndarray, st: pd.DataFrame) -> list[str]:
    """Name wards after their nearest settlement; a town with several gets neighbourhood names."""
    tree = cKDTree(st[["x", "y"]].to_numpy())
    nearest = tree.query(seeds)[1]
    names = [""] * len(seeds)
    hoods = iter(cat.NEIGHBOURHOODS)
    for s in np.unique(nearest):
        members = np.flatnonzero(nearest == s)
        base = st["name"][s]
        if len(members) == 1:
            names[members[0]] = base if st["kind"][s] != "village" else f"{base} and District"
            continue
        d = np.hypot(seeds[members, 0] - st["x"][s], seeds[members, 1] - st["y"][s])
        for rank, m in enumerate(members[np.argsort(d)]):
            if st["kind"][s] == "village":
                names[m] = (
                    f"{base} {'North' if seeds[m, 1] > st['y'][s] else 'South'}"
                    if rank < 2
                    else f"{base} {rank + 1}"
                )
            elif rank == 0:
                names[m] = f"{base} Central"
            else:
                names[m] = f"{base} {next(hoods, f'Ward {rank}')}"
    seen: dict[str, int] = {}
    for i, n in enumerate(names):  # guard against any accidental repeat
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n} {seen[n]}"
    return names


def _areas(
    b: pd.DataFrame, land: shapely.Polygon, st: pd.DataFrame, rng: np.random.Generator
) -> dict[str, Any]:
    """Build OAs, LSOAs and wards top-down from the household points; assign every building."""
    res = b["residential"].to_numpy()
    pts_all = b[["x", "y"]].to_numpy()
    w_all = b["units"].to_numpy().astype(float)
    density_all = _density(pts_all, w_all * res)
    pts, w, dens = pts_all[res], w_all[res], density_all[res]
    fit = np.arange(len(pts))
    if len(fit) > 150_000:  # ward seeds do not need every point
        fit = np.sort(rng.choice(len(pts), 150_000, replace=False))
    ward_seeds = _kmeans(pts[fit], w[fit] * dens[fit], N_WARDS, rng, iters=60)
    ward_seeds = _rebalance(pts[fit], w[fit], w[fit] * dens[fit], ward_seeds, rng)
    ward_seeds = ward_seeds[np.lexsort((ward_seeds[:, 0], -np.round(ward_seeds[:, 1] / 4_000)))]
    ward_of = cKDTree(ward_seeds).query(pts_all)[1]
    if np.bincount(ward_of[res], minlength=N_WARDS).min() == 0:
        raise RuntimeError("a ward seed has no households; choose another seed")
    ward_cells = [_multipolygon(g) for g in _cells(ward_seeds, land)]
    ward_names = _ward_names(ward_seeds, st)
    lsoa_of = np.empty(len(b), dtype=np.int64)
    oa_of = np.empty(len(b), dtype=np.int64)
    oa_geoms: list[shapely.Geometry] = []
    oa_parent: list[int] = []
    lsoa_parent: list[int] = []
    lsoa_names: list[str] = []
    for wi in range(N_WARDS):
        in_w = np.flatnonzero(ward_of == wi)
        rw = in_w[res[in_w]]
        hh = w_all[rw].sum()
        l_seeds, _ = _split(pts_all[rw], w_all[rw], density_all[rw], round(hh / HH_PER_LSOA), 250, 1_300, rng)
        l_seeds = l_seeds[np.lexsort((l_seeds[:, 0], -np.round(l_seeds[:, 1] / 1_000)))]
        l_lab = cKDTree(l_seeds).query(pts_all[in_w])[1]
        l_cells = [_multipolygon(g) for g in _cells(l_seeds, ward_cells[wi])]
        for li in range(len(l_seeds)):
            lsoa_index = len(lsoa_parent)
            lsoa_parent.append(wi)
            lsoa_names.append(f"{ward_names[wi]} {wi + 1:03d}{_letters(li)}")
            in_l = in_w[l_lab == li]
            lsoa_of[in_l] = lsoa_index
            rl = in_l[res[in_l]]
            hh_l = w_all[rl].sum()
            o_seeds, _ = _split(
                pts_all[rl],
                w_all[rl],
                density_all[rl],
                round(hh_l / HH_PER_OA),
                MIN_OA_HOUSEHOLDS,
                MAX_OA_HOUSEHOLDS,
                rng,
            )
            o_seeds = o_seeds[np.lexsort((o_seeds[:, 0], -np.round(o_seeds[:, 1] / 300)))]
            o_lab = cKDTree(o_seeds).query(pts_all[in_l])[1]
            oa_of[in_l] = len(oa_geoms) + o_lab
            oa_geoms.extend(_multipolygon(g) for g in _cells(o_seeds, l_cells[li]))
            oa_parent.extend([lsoa_index] * len(o_seeds))
    n_oa, n_lsoa = len(oa_geoms), len(lsoa_parent)
    oa_parent_a = np.array(oa_parent)
    oa_geoms = list(_exact_coverage(np.array(oa_geoms, dtype=object)))
    # The grid can move an edge a few millimetres across a point: give such points the
    # OA that really holds them.
    oa_arr = np.array(oa_geoms, dtype=object)
    pts_geom = shapely.points(pts_all)
    stray = np.flatnonzero(~shapely.intersects(oa_arr[oa_of], pts_geom))
    if len(stray):
        hit_pt, hit_oa = shapely.STRtree(oa_arr).query(pts_geom[stray], predicate="intersects")
        first = np.unique(hit_pt, return_index=True)[1]
        oa_of[stray[hit_pt[first]]] = hit_oa[first]
        lsoa_of[stray[hit_pt[first]]] = oa_parent_a[hit_oa[first]]
    lsoa_parent_a = np.array(lsoa_parent)
    lsoa_geoms = _union_groups(np.array(oa_geoms, dtype=object), oa_parent_a, n_lsoa)
    ward_geoms = _union_groups(np.array(lsoa_geoms, dtype=object), lsoa_parent_a, N_WARDS)
    district_geom = _union_groups(np.array(ward_geoms, dtype=object), np.zeros(N_WARDS, dtype=np.int64), 1)[0]

    oa_codes = np.array([f"ZO{i + 1:06d}" for i in range(n_oa)])
    lsoa_codes = np.array([f"ZL{i + 1:06d}" for i in range(n_lsoa)])
    ward_codes = np.array([f"ZW{i + 1:06d}" for i in range(N_WARDS)])
    hh_oa = np.bincount(oa_of[res], w_all[res], n_oa).astype(np.int64)
    hh_lsoa = np.bincount(oa_parent_a, hh_oa, n_lsoa).astype(np.int64)
    hh_ward = np.bincount(lsoa_parent_a, hh_lsoa, N_WARDS).astype(np.int64)
    geoms = [district_geom, *ward_geoms, *lsoa_geoms, *oa_geoms]
    areas = gpd.GeoDataFrame(
        {
            "code": [DISTRICT_CODE, *ward_codes, *lsoa_codes, *oa_codes],
            "name": [cat.DISTRICT_NAME, *ward_names, *lsoa_names, *oa_codes],
            "level": ["district"] + ["ward"] * N_WARDS + ["lsoa"] * n_lsoa + ["oa"] * n_oa,
            "set_code": SET_CODE,
            "parent_code": [
                None,
                *[DISTRICT_CODE] * N_WARDS,
                *ward_codes[lsoa_parent_a],
                *lsoa_codes[oa_parent_a],
            ],
            "district_code": DISTRICT_CODE,
            "households": np.concatenate([[hh_ward.sum()], hh_ward, hh_lsoa, hh_oa]).astype(np.int64),
            "population": pd.array([None] * (1 + N_WARDS + n_lsoa + n_oa), dtype="Int64"),
            "area_km2": np.round(shapely.area(np.array(geoms, dtype=object)) / 1e6, 6),
            "geom": geoms,
        },
        geometry="geom",
        crs=CRS,
    )
    membership = pd.DataFrame(
        {
            "oa_code": np.tile(oa_codes, 4),
            "area_code": np.concatenate(
                [
                    oa_codes,
                    lsoa_codes[oa_parent_a],
                    ward_codes[lsoa_parent_a[oa_parent_a]],
                    np.full(n_oa, DISTRICT_CODE),
                ]
            ),
            "level": np.repeat(["oa", "lsoa", "ward", "district"], n_oa),
            "set_code": SET_CODE,
        }
    )
    return {
        "areas": areas,
        "membership": membership,
        "oa_of": oa_of,
        "oa_codes": oa_codes,
        "oa_lsoa": oa_parent_a,
        "lsoa_codes": lsoa_codes,
        "lsoa_ward": lsoa_parent_a,
        "ward_codes": ward_codes,
        "oa_geoms": np.array(oa_geoms, dtype=object),
    }


# ============================================================================ postcodes + addresses


def _postcodes(b: pd.DataFrame, hier: dict[str, Any]) -> pd.DataFrame:
    """Give every building a postcode: runs of ~15 addresses along the streets of one OA."""
    b = b.copy()
    b["oa"] = hier["oa_of"]
    street_code = pd.factorize(b["street"], sort=True)[0]
    order = np.lexsort(
        (
            b["side"].to_numpy(),
            b["position"].to_numpy(),
            b["line"].to_numpy(),
            street_code,
            b["place_id"].to_numpy(),
            b["oa"].to_numpy(),
        )
    )
    b = b.iloc[order].reset_index(drop=True)
    units = b["units"].to_numpy()
    oa = b["oa"].to_numpy()
    # Postcodes never cross an OA or a place (post town + village), as real units rarely do.
    cell = np.unique(np.column_stack([oa, b["place_id"].to_numpy()]), axis=0, return_inverse=True)[1].ravel()
    n_cell = int(cell.max()) + 1
    per_cell = np.bincount(cell, units, n_cell)
    n_pc = np.maximum(1, np.round(per_cell / ADDRESSES_PER_POSTCODE)).astype(np.int64)
    before = np.cumsum(units) - units - (np.cumsum(per_cell) - per_cell)[cell]
    chunk = np.floor(before * n_pc[cell] / per_cell[cell]).astype(np.int64)
    pc_key = np.cumsum(n_pc)[cell] - n_pc[cell] + chunk  # global postcode index, OA order
    ward = hier["lsoa_ward"][hier["oa_lsoa"][oa]]
    uniq_pc, first = np.unique(pc_key, return_index=True)
    pc_ward = ward[first]
    rank_in_ward = pd.Series(pc_ward).groupby(pc_ward).cumcount().to_numpy()
    outward = pc_ward + 1 + N_WARDS * (rank_in_ward // 4_000)
    r = rank_in_ward % 4_000
    sector = (r // 400 + 1) % 10
    letters = _POSTCODE_LETTERS
    display = np.array(
        [
            f"QW{o} {s}{letters[(x % 400) // 20]}{letters[x % 20]}"
            for o, s, x in zip(outward.tolist(), sector.tolist(), r.tolist(), strict=True)
        ],
        dtype=object,
    )
    pos = np.searchsorted(uniq_pc, pc_key)
    b["pc_index"] = pos
    b["postcode"] = display[pos]
    b["postcode_norm"] = np.array([d.replace(" ", "") for d in display], dtype=object)[pos]
    return b


def _localities(b: pd.DataFrame, st: pd.DataFrame) -> pd.DataFrame:
    """Add locality, post town, a place code and a street key (numbering unit) to buildings.

    Numbers run per street name within a village, or within the post town for town
    streets and country lanes (lanes of one name may pass several villages' localities).
    The place (post town plus village) keeps postcodes from mixing places.
    """
    n_st = len(st)
    is_country = (b["group"] == n_st).to_numpy()
    group = np.minimum(b["group"].to_numpy(), n_st - 1)
    kinds = st["kind"].to_numpy()[group]
    village_centres = st[st["kind"] == "village"]
    vtree = cKDTree(village_centres[["x", "y"]].to_numpy())
    # One locality per lane (from the mean position of its buildings), so numbering along
    # a country lane does not restart where another village becomes nearer.
    line_xy = b.groupby("line")[["x", "y"]].transform("mean").to_numpy()
    nearest_village = vtree.query(line_xy)[1]
    settlement_name = st["name"].to_numpy()[group]
    locality = np.where(
        is_country,
        village_centres["name"].to_numpy()[nearest_village],
        np.where(kinds == "village", settlement_name, None),
    )
    town = np.where(
        is_country,
        village_centres["post_town"].to_numpy()[nearest_village],
        st["post_town"].to_numpy()[group],
    )
    village = np.where((kinds == "village") & ~is_country, locality, "")
    place = _join(town, "|", village)
    key = pd.factorize(pd.Series(_join(place, "|", b["street"].to_numpy()), dtype=object), sort=True)[0]
    return b.assign(
        locality=locality,
        town=town,
        place_id=pd.factorize(pd.Series(place, dtype=object), sort=True)[0],
        key=key,
    )


def _addresses(
    b: pd.DataFrame, st: pd.DataFrame, hier: dict[str, Any], rng: np.random.Generator
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (addresses, aliases, buildings with numbers): one address per unit, UPRNs in order."""
    n_st = len(st)
    is_country = (b["group"] == n_st).to_numpy()
    kinds = st["kind"].to_numpy()[np.minimum(b["group"].to_numpy(), n_st - 1)]
    key = b["key"].to_numpy()
    numbered = (b["kind"] != "venue").to_numpy()
    order = np.lexsort((b["position"].to_numpy(), b["line"].to_numpy(), key))
    order = order[numbered[order]]
    side = b["side"].to_numpy()[order]
    k = (
        pd.DataFrame({"key": key[order], "side": side})
        .groupby(["key", "side"], sort=False)
        .cumcount()
        .to_numpy()
    )
    number = np.zeros(len(b), dtype=np.int64)
    number[order] = np.where(side > 0, 2 * k + 1, 2 * k + 2)
    b["number"] = number
    paon = np.where(numbered, number.astype(str).astype(object), b["venue_name"].to_numpy())
    b["paon"] = paon
    # House names (with an alias in the gazetteer) for some single houses, mostly rural.
    p_name = np.where((kinds == "village") | is_country, 0.06, 0.015)
    named = (b["kind"] == "house").to_numpy() & (rng.random(len(b)) < p_name)
    names = np.array(cat.HOUSE_NAMES, dtype=object)[rng.integers(len(cat.HOUSE_NAMES), size=len(b))]
    named_idx = np.flatnonzero(named)
    dup = (
        pd.DataFrame({"k": key[named_idx], "p": b["pc_index"].to_numpy()[named_idx], "n": names[named_idx]})
        .duplicated()
        .to_numpy()
    )
    named[named_idx[dup]] = False
    b["house_name"] = np.where(named, names, np.array(None))
    kind_rank = b["kind"].map({"house": 0, "flats": 0, "shop": 1, "venue": 2}).to_numpy()
    b = b.iloc[np.lexsort((kind_rank, number, key, b["pc_index"].to_numpy()))].reset_index(drop=True)

    units = b["units"].to_numpy()
    rep = np.repeat(np.arange(len(b)), units)
    n = len(rep)
    first_of = np.cumsum(units) - units
    flat_no = np.arange(n) - first_of[rep] + 1
    kind = b["kind"].to_numpy()[rep]
    is_flat = kind == "flats"
    is_venue = kind == "venue"
    saon = np.full(n, None, dtype=object)
    saon[is_flat] = _join("Flat ", flat_no[is_flat].astype(str).astype(object))
    paon = b["paon"].to_numpy()[rep]
    street = b["street"].to_numpy()[rep]
    loc = b["locality"].to_numpy()[rep]
    town_a = b["town"].to_numpy()[rep]
    pc = b["postcode"].to_numpy()[rep]
    pc_norm = b["postcode_norm"].to_numpy()[rep]
    saon_text = np.where(is_flat, saon, "")
    head = _join(saon_text, np.where(is_flat, ", ", ""), paon, np.where(is_venue, ", ", " "), street)
    loc_text = np.where(pd.isna(loc), "", loc)
    address_text = _join(head, np.where(loc_text != "", ", ", ""), loc_text, ", ", town_a, ", ", pc)
    # Normalise each component once per distinct value (a few thousand streets), then join:
    # the same result as normalising the joined text, two orders of magnitude faster.
    street_n = _norm_values(street)
    address_norm = _join(
        _norm_values(saon), np.where(is_flat, " ", ""), _norm_values(paon), " ", street_n, " ", pc_norm
    )
    uprn = UPRN_BASE + 1 + np.arange(n, dtype=np.int64)
    xs, ys = b["x"].to_numpy()[rep], b["y"].to_numpy()[rep]
    addr = gpd.GeoDataFrame(
        {
            "uprn": uprn,
            "address_text": address_text,
            "address_norm": address_norm,
            "saon": saon,
            "paon": paon,
            "street": street,
            "street_norm": street_n,
            "locality": np.where(loc_text != "", loc_text, np.array(None)),
            "town": town_a,
            "postcode": pc,
            "postcode_norm": pc_norm,
            "is_residential": b["residential"].to_numpy()[rep],
            "oa_code": hier["oa_codes"][b["oa"].to_numpy()[rep]],
            "geom": shapely.points(xs, ys),
        },
        geometry="geom",
        crs=CRS,
    )
    b["first_uprn"] = UPRN_BASE + 1 + first_of
    ab = b[b["house_name"].notna().to_numpy()]
    ab_loc = np.where(pd.isna(ab["locality"].to_numpy()), "", ab["locality"].to_numpy())
    alias_text = _join(
        ab["house_name"].to_numpy(),
        ", ",
        ab["street"].to_numpy(),
        np.where(ab_loc != "", ", ", ""),
        ab_loc,
        ", ",
        ab["town"].to_numpy(),
        ", ",
        ab["postcode"].to_numpy(),
    )
    alias_norm = _join(
        _norm_values(ab["house_name"].to_numpy()),
        " ",
        _norm_values(ab["street"].to_numpy()),
        " ",
        ab["postcode_norm"].to_numpy(),
    )
    aliases = pd.DataFrame(
        {"uprn": ab["first_uprn"].to_numpy(), "alias_text": alias_text, "alias_norm": alias_norm}
    )
    return addr, aliases, b


def _join(*parts: Any) -> np.ndarray:
    """Concatenate strings and string arrays elementwise (numpy object add, no pandas overhead)."""
    out = np.asarray(parts[0], dtype=object)
    for p in parts[1:]:
        out = out + (np.asarray(p, dtype=object) if not isinstance(p, str) else p)
    return out


def _norm_values(values: np.ndarray) -> np.ndarray:
    """Apply normalise_address to each distinct value once and broadcast back (None -> '')."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object).fillna(""))
    normed = normalise_address_series(pd.Series(uniques, dtype=object)).to_numpy()
    return np.asarray(normed[codes])


def _postcode_frame(b: pd.DataFrame, hier: dict[str, Any]) -> gpd.GeoDataFrame:
    """Return postcode units: the address nearest the mean of each postcode's addresses."""
    w = b["units"].to_numpy().astype(float)
    df = pd.DataFrame({"pc": b["postcode_norm"], "x": b["x"] * w, "y": b["y"] * w, "w": w})
    sums = df.groupby("pc", sort=True)[["x", "y", "w"]].sum()
    mean = sums[["x", "y"]].to_numpy() / sums[["w"]].to_numpy()
    pos = np.searchsorted(sums.index.to_numpy(), b["postcode_norm"].to_numpy())
    d = np.hypot(b["x"].to_numpy() - mean[pos, 0], b["y"].to_numpy() - mean[pos, 1])
    pick = pd.DataFrame({"pos": pos, "d": d}).sort_values(["pos", "d"], kind="stable").drop_duplicates("pos")
    chosen = b.iloc[pick.index.to_numpy()]
    return gpd.GeoDataFrame(
        {
            "postcode_norm": chosen["postcode_norm"].to_numpy(),
            "postcode": chosen["postcode"].to_numpy(),
            "oa_code": hier["oa_codes"][chosen["oa"].to_numpy()],
            "district_code": DISTRICT_CODE,
            "geom": shapely.points(chosen["x"].to_numpy(), chosen["y"].to_numpy()),
        },
        geometry="geom",
        crs=CRS,
    ).reset_index(drop=True)


def _segment_frame() -> pd.DataFrame:
    """Return the segment table rows (pen portraits) of the demo classification."""
    return pd.DataFrame(
        [
            {
                "classification_code": CLASSIFICATION_CODE,
                "code": s.code,
                "name": s.name,
                "parent_code": None,
                "description": s.description,
                "typical_households": s.typical_households,
                "preferred_channels": list(s.preferred_channels),
                "preferred_media": list(s.preferred_media),
                "key_issues": list(s.key_issues),
                "colour": s.colour,
                "sort_order": i + 1,
            }
            for i, s in enumerate(cat.SEGMENTS)
        ]
    )


# ============================================================================ segments


def _household_segments(
    addr: gpd.GeoDataFrame,
    oa_idx: np.ndarray,
    b: pd.DataFrame,
    hier: dict[str, Any],
    rng: np.random.Generator,
) -> np.ndarray:
    """Return each household's segment index (0..11), drawn from its OA and place-type mix.

    Each OA's mix is ``softmax(prior[place] + 1.1 * field(OA centroid) + 0.35 * noise)``:
    smooth random fields (sums of random plane waves, wavelengths 2.5-9 km) give the
    spatial clustering real segmentations show; place-type priors tie segments to the
    coastal town, market towns, villages or open country.
    """
    n_oa = len(hier["oa_codes"])
    residential = addr["is_residential"].to_numpy()
    place = np.repeat(b["place"].to_numpy(), b["units"].to_numpy())
    xy = shapely.get_coordinates(addr["geom"].to_numpy())
    cnt = np.maximum(np.bincount(oa_idx, minlength=n_oa), 1)
    cx = np.bincount(oa_idx, xy[:, 0], n_oa) / cnt
    cy = np.bincount(oa_idx, xy[:, 1], n_oa) / cnt
    n_seg = len(cat.SEGMENTS)
    terms = 14
    wavelength = rng.uniform(2_500, 9_000, (n_seg, terms))
    angle = rng.uniform(0, 2 * np.pi, (n_seg, terms))
    phase = rng.uniform(0, 2 * np.pi, (n_seg, terms))
    kx, ky = 2 * np.pi / wavelength * np.cos(angle), 2 * np.pi / wavelength * np.sin(angle)
    field = np.cos(cx[:, None, None] * kx[None] + cy[:, None, None] * ky[None] + phase[None]).sum(axis=2)
    field /= np.sqrt(terms / 2)
    prior = cat.segment_matrix("place_prior")  # (12, 6)
    logits = prior.T[None, :, :] + 1.1 * field[:, None, :] + 0.35 * rng.normal(size=(n_oa, 1, n_seg))
    logits -= logits.max(axis=2, keepdims=True)
    mix = np.exp(logits)
    mix /= mix.sum(axis=2, keepdims=True)
    cum = np.cumsum(mix, axis=2).astype(np.float32)  # (oa, place, segment)
    hh_oa, hh_place = oa_idx[residential], place[residential]
    u = rng.random(len(hh_oa), dtype=np.float32)
    seg = (u[:, None] > cum[hh_oa, hh_place]).sum(axis=1)
    return np.asarray(np.minimum(seg, n_seg - 1))


def _fill_population(
    areas: gpd.GeoDataFrame, hh_oa: np.ndarray, seg: np.ndarray, n_oa: int, rng: np.random.Generator
) -> None:
    """Fill ``areas.population``: household sizes 1 + Poisson(segment mean - 1), summed up."""
    mean = cat.segment_matrix("household_size")[seg]
    size = 1 + rng.poisson(mean - 1)
    pop_oa = np.bincount(hh_oa, size, n_oa)
    level = areas["level"].to_numpy()
    codes = areas["code"].to_numpy()
    parent = dict(zip(codes, areas["parent_code"].to_numpy(), strict=True))
    pop = dict(zip(codes[level == "oa"], pop_oa, strict=True))
    for lvl in ("lsoa", "ward", "district"):
        for code in codes[level == lvl]:
            pop[code] = 0.0
        for child in codes[level == {"lsoa": "oa", "ward": "lsoa", "district": "ward"}[lvl]]:
            pop[parent[child]] += pop[child]
    areas["population"] = pd.array([int(pop[c]) for c in codes], dtype="Int64")


# ============================================================================ services


def _oa_adjacency(oa_geoms: np.ndarray) -> list[np.ndarray]:
    """Return each OA's queen neighbours (sharing at least a point)."""
    tree = shapely.STRtree(oa_geoms)
    a, b = tree.query(oa_geoms, predicate="intersects")
    keep = a != b
    a, b = a[keep], b[keep]
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    bounds = np.searchsorted(a, np.arange(len(oa_geoms) + 1))
    return [b[bounds[i] : bounds[i + 1]] for i in range(len(oa_geoms))]


def _plant_clusters(
    expected: np.ndarray, adjacency: list[np.ndarray], n_each: int, rng: np.random.Generator
) -> tuple[list[list[int]], list[list[int]], float, bool]:
    """Return (hot clusters, not clusters, threshold, separated): contiguous groups of 4-8 OAs.

    Cluster OAs have an expected count >= threshold (15, lowered step by step only for
    services too rare to reach it), no OA is in two clusters and, unless the borough is
    too small to allow it, no two clusters touch.
    """
    median = float(np.quantile(expected, 0.5))
    floors = [MIN_CLUSTER_EXPECTED, 12.0, 10.0, min(median, 10.0), 0.0]
    for floor, separated in [(f, True) for f in floors] + [(f, False) for f in floors]:
        planted = _try_clusters(expected >= floor, adjacency, n_each, separated, rng)
        if planted is not None:
            return planted[0], planted[1], floor, separated
    raise RuntimeError("could not plant hot/not-spot clusters; the borough is too small")  # pragma: no cover


def _try_clusters(
    eligible: np.ndarray, adjacency: list[np.ndarray], n_each: int, separated: bool, rng: np.random.Generator
) -> tuple[list[list[int]], list[list[int]]] | None:
    """Grow n_each hot and n_each not clusters by random contiguous growth, or None."""
    blocked = np.zeros(len(eligible), dtype=bool)
    hot: list[list[int]] = []
    cold: list[list[int]] = []
    for kind in ["hot", "not"] * n_each:
        size = int(rng.integers(4, 9))
        found: list[int] | None = None
        for seed in rng.permutation(np.flatnonzero(eligible & ~blocked)).tolist():
            cluster = [seed]
            inside = {seed}
            while len(cluster) < size:
                frontier = sorted(
                    {
                        int(n)
                        for c in cluster
                        for n in adjacency[c]
                        if eligible[n] and not blocked[n] and n not in inside
                    }
                )
                if not frontier:
                    break
                nxt = frontier[int(rng.integers(len(frontier)))]
                cluster.append(nxt)
                inside.add(nxt)
            if len(cluster) >= 4:
                found = cluster
                break
        if found is None:
            return None
        (hot if kind == "hot" else cold).append(sorted(found))
        blocked[found] = True
        if separated:
            for c in found:
                blocked[adjacency[c]] = True
    return hot, cold


def _day_weights(season: str) -> np.ndarray:
    """Return the relative chance of each day of the period for a seasonal pattern."""
    days = pd.date_range(PERIOD_START, PERIOD_END, freq="D")
    doy = days.day_of_year.to_numpy().astype(float)
    weekend = days.day_of_week.to_numpy() >= 5
    w = np.ones(len(days))
    if season == "summer":
        w = 1 + 0.4 * np.cos(2 * np.pi * (doy - 196) / 365.25)
    elif season == "winter":
        w = (1 + 0.35 * np.cos(2 * np.pi * (doy - 15) / 365.25)) * np.where(weekend, 0.3, 1.0)
    elif season == "september":
        w = (1 + 2.0 * np.exp(-(((doy - 250) / 14) ** 2))) * np.where(weekend, 0.2, 1.0)
    elif season == "weekday":
        w = np.where(weekend, 0.15, 1.0)
    return np.asarray(w / w.sum())


def _categorical(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per row, row i from probs[rows[i]] (vectorised inverse CDF)."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(rows))
    return np.asarray(np.minimum((u[:, None] > cum[rows]).sum(axis=1), probs.shape[1] - 1))


def _service_events(
    addr: gpd.GeoDataFrame,
    addr_oa: np.ndarray,
    seg: np.ndarray,
    hier: dict[str, Any],
    rng: np.random.Generator,
    tough_rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, dict[str, Any], dict[str, Any]]:
    """Draw every service's events; return them with the truth per service (first and tough).

    For household h in segment k and OA o, the expected number of events over the period
    is ``rate[k] * multiple[o]`` (Poisson for 'events' services) or the probability of
    membership (Bernoulli for 'membership' services). ``multiple`` is 1 except in the
    planted hot spots (2-3) and not spots (0.2-0.4).
    """
    residential = addr["is_residential"].to_numpy()
    hh = addr[residential]
    hh_oa = addr_oa[residential]
    hh_uprn = hh["uprn"].to_numpy()
    hh_xy = shapely.get_coordinates(hh["geom"].to_numpy())
    n_oa = len(hier["oa_codes"])
    adjacency = _oa_adjacency(hier["oa_geoms"])
    n_each = max(3, round(n_oa / 320))
    contact = cat.segment_matrix("contact_pref")
    payment = cat.segment_matrix("payment_pref")
    frames: list[pd.DataFrame] = []
    truth: dict[str, Any] = {}
    for spec in cat.SERVICES:
        rates = np.array(spec.rates)
        base = rates[seg]
        expected = np.bincount(hh_oa, base, n_oa)
        hot, cold, threshold, separated = _plant_clusters(expected, adjacency, n_each, rng)
        multiple = np.ones(n_oa)
        # Membership is a probability: keep rate x multiple <= 0.98 so the cap never binds.
        hot_hi = 3.0 if spec.unit == "events" else min(3.0, 0.98 / rates.max())
        hot_m = np.round(rng.uniform(2.0, hot_hi, len(hot)), 2)
        cold_m = np.round(rng.uniform(0.2, 0.4, len(cold)), 2)
        for c, m in zip(hot, hot_m, strict=True):
            multiple[c] = m
        for c, m in zip(cold, cold_m, strict=True):
            multiple[c] = m
        lam = base * multiple[hh_oa]
        if spec.unit == "events":
            who = np.repeat(np.arange(len(lam)), rng.poisson(lam))
        else:
            who = np.flatnonzero(rng.random(len(lam)) < np.minimum(lam, 1.0))
        n = len(who)
        day = rng.choice(PERIOD_DAYS, size=n, p=_day_weights(spec.season))
        if spec.channels == cat.PAYMENT_CHANNELS:
            channel = np.array(cat.PAYMENT_CHANNELS)[_categorical(rng, payment, seg[who])]
        else:
            cols = [cat.CONTACT_CHANNELS.index(c) for c in spec.channels]
            channel = np.array(spec.channels)[_categorical(rng, contact[:, cols], seg[who])]
        systems = list(spec.systems)
        shares = np.array([spec.systems[s] for s in systems])
        system = np.array(systems)[_categorical(rng, shares[None, :], np.zeros(n, dtype=np.int64))]
        frames.append(
            pd.DataFrame(
                {
                    "service_code": spec.code,
                    "day": day,
                    "channel": channel,
                    "source_system": system,
                    "hh": who,
                }
            )
        )
        truth[spec.code] = {
            "unit": spec.unit,
            "rate_meaning": "expected events per household over the period"
            if spec.unit == "events"
            else "probability a household is a member over the period",
            "rates": {s.code: float(r) for s, r in zip(cat.SEGMENTS, rates, strict=True)},
            "min_expected": round(threshold, 3),
            "clusters_separated": separated,
            "hot": [
                {
                    "oa_codes": hier["oa_codes"][c].tolist(),
                    "multiple": float(m),
                    "expected_base": round(float(expected[c].sum()), 2),
                }
                for c, m in zip(hot, hot_m, strict=True)
            ],
            "not": [
                {
                    "oa_codes": hier["oa_codes"][c].tolist(),
                    "multiple": float(m),
                    "expected_base": round(float(expected[c].sum()), 2),
                }
                for c, m in zip(cold, cold_m, strict=True)
            ],
            "events": n,
        }
    tough_frames, tough_truth = _tough_services(hh_oa, seg, hier, adjacency, tough_rng)
    ev = pd.concat(frames + tough_frames, ignore_index=True)
    all_services = (*cat.SERVICES, *cat.TOUGH_SERVICES)
    service_order = {s.code: i for i, s in enumerate(all_services)}
    ev["_s"] = ev["service_code"].map(service_order)
    ev = ev.sort_values(["_s", "day", "hh"], kind="stable").reset_index(drop=True)
    who = ev["hh"].to_numpy()
    oa = hh_oa[who]
    lsoa = hier["oa_lsoa"][oa]
    events = gpd.GeoDataFrame(
        {
            "service_code": pd.Categorical(
                ev["service_code"].to_numpy(), categories=[s.code for s in all_services]
            ),
            "event_date": (
                np.datetime64(PERIOD_START, "D") + ev["day"].to_numpy().astype("timedelta64[D]")
            ).astype("datetime64[s]"),  # a date at midnight: datetime64 keeps millions of rows cheap
            # Categoricals: a few distinct values over millions of rows.
            "channel": pd.Categorical(ev["channel"].to_numpy()),
            "source_system": pd.Categorical(ev["source_system"].to_numpy()),
            "source_ref_hash": None,
            "match_level": pd.Categorical(np.full(len(ev), "uprn", dtype=object)),
            "uprn": hh_uprn[who],
            "household_key": household_keys(hh_uprn[who]),
            "oa_code": pd.Categorical.from_codes(oa, categories=hier["oa_codes"]),
            "lsoa_code": pd.Categorical.from_codes(lsoa, categories=hier["lsoa_codes"]),
            "ward_code": pd.Categorical.from_codes(hier["lsoa_ward"][lsoa], categories=hier["ward_codes"]),
            "district_code": pd.Categorical(np.full(len(ev), DISTRICT_CODE, dtype=object)),
            "is_primary": True,
            "duplicate_of": pd.array([None] * len(ev), dtype="Int64"),
            "batch_id": pd.array([None] * len(ev), dtype="Int64"),
            "geom": shapely.points(hh_xy[who]),
        },
        geometry="geom",
        crs=CRS,
    )
    return events, truth, tough_truth


# ============================================================================ tough services


def _tough_refs(events: pd.DataFrame) -> pd.Series:
    """Source references of the tough services' events: a prefix per system, numbered by date."""
    system = events["source_system"].to_numpy().astype(object)
    order = pd.Series(np.arange(len(events))).groupby(system).cumcount().to_numpy() + 1
    refs = [
        f"{str(s).removeprefix('council_').upper()}-{k:07d}"
        for s, k in zip(system.tolist(), order.tolist(), strict=True)
    ]
    return pd.Series(refs, index=events.index, dtype=object)


def _event_rows(
    spec: cat.ServiceSpec, who: np.ndarray, day: np.ndarray, seg: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """One frame row per event of a contact service: channel by segment, system by share."""
    contact = cat.segment_matrix("contact_pref")
    cols = [cat.CONTACT_CHANNELS.index(c) for c in spec.channels]
    channel = np.array(spec.channels)[_categorical(rng, contact[:, cols], seg[who])]
    systems = list(spec.systems)
    shares = np.array([spec.systems[s] for s in systems])
    system = np.array(systems)[_categorical(rng, shares[None, :], np.zeros(len(who), dtype=np.int64))]
    return pd.DataFrame(
        {"service_code": spec.code, "day": day, "channel": channel, "source_system": system, "hh": who}
    )


def _lsoa_adjacency(adjacency: list[np.ndarray], oa_lsoa: np.ndarray, n_lsoa: int) -> list[np.ndarray]:
    """Return each LSOA's neighbours: LSOAs holding a queen neighbour of one of its OAs."""
    a = np.repeat(np.arange(len(adjacency)), [len(n) for n in adjacency])
    b = np.concatenate(adjacency) if adjacency else np.array([], dtype=np.int64)
    la, lb = oa_lsoa[a], oa_lsoa[b]
    pairs = np.unique(np.column_stack([la, lb])[la != lb], axis=0)
    bounds = np.searchsorted(pairs[:, 0], np.arange(n_lsoa + 1))
    return [pairs[bounds[i] : bounds[i + 1], 1] for i in range(n_lsoa)]


def _grow(
    eligible: np.ndarray,
    adjacency: list[np.ndarray],
    size: int,
    min_size: int,
    rng: np.random.Generator,
) -> list[int] | None:
    """Grow one contiguous group of ``size`` eligible units from a random seed, or None."""
    for seed in rng.permutation(np.flatnonzero(eligible)).tolist():
        group = [seed]
        inside = {seed}
        while len(group) < size:
            frontier = sorted(
                {int(n) for c in group for n in adjacency[c] if eligible[n] and n not in inside}
            )
            if not frontier:
                break
            nxt = frontier[int(rng.integers(len(frontier)))]
            group.append(nxt)
            inside.add(nxt)
        if len(group) >= min_size:
            return sorted(group)
    return None


#: social_care's OA clusters: (kind, strength, how many, sizes lo-hi, multiple lo-hi).
#: Only "strong" ones (4-8 OAs of >= 15 expected each, x2-3 or x0.2-0.4) are designed to be
#: detectable; weak (x1.3-1.5 or x0.65-0.77) and small (1-2 OAs) ones test honesty.
_CARE_CLUSTERS: tuple[tuple[str, str, int, tuple[int, int], tuple[float, float]], ...] = (
    ("hot", "strong", 3, (4, 8), (2.0, 3.0)),
    ("not", "strong", 3, (4, 8), (0.2, 0.4)),
    ("hot", "weak", 2, (4, 8), (1.3, 1.5)),
    ("not", "weak", 1, (4, 8), (0.65, 0.77)),
    ("hot", "small", 2, (1, 2), (2.0, 3.0)),
)


def _tough_services(
    hh_oa: np.ndarray,
    seg: np.ndarray,
    hier: dict[str, Any],
    adjacency: list[np.ndarray],
    rng: np.random.Generator,
) -> tuple[list[pd.DataFrame], dict[str, Any]]:
    """Draw ``cat.TOUGH_SERVICES``: an overdispersed null, mixed clusters and trends.

    ``fly_tipping``: each OA has a gamma multiple (mean 1, variance ``FLY_TIPPING_TAU2``), so
    its count is negative binomial; nothing else is planted (every flag is a false alarm).

    ``social_care``: segment rates are the need rates of ``spec.rates`` except segment
    ``UNDER_SERVED_SEGMENT``, drawn at ``UNDER_SERVED_SHARE`` of its need; OA clusters of
    ``_CARE_CLUSTERS``, no two touching.

    ``pest_control``: two groups of ``TREND_LSOAS`` adjacent LSOAs (not touching) whose
    multiple changes by month: one emerging, one fading; nothing else is planted.
    """
    n_oa = len(hier["oa_codes"])
    codes = [s.code for s in cat.SEGMENTS]
    frames: list[pd.DataFrame] = []
    truth: dict[str, Any] = {}

    spec = cat.TOUGH_SERVICES[0]
    rates = np.array(spec.rates)
    base = rates[seg]
    shape = 1.0 / FLY_TIPPING_TAU2
    multiple = rng.gamma(shape, 1.0 / shape, n_oa)
    who = np.repeat(np.arange(len(base)), rng.poisson(base * multiple[hh_oa]))
    day = rng.choice(PERIOD_DAYS, size=len(who), p=_day_weights(spec.season))
    frames.append(_event_rows(spec, who, day, seg, rng))
    truth[spec.code] = {
        "unit": spec.unit,
        "rate_meaning": "expected events per household over the period (before the area multiple)",
        "rates": {c: float(r) for c, r in zip(codes, rates, strict=True)},
        "overdispersion": {
            "model": "negative binomial: Poisson given a gamma(mean 1) multiple per OA",
            "tau2": FLY_TIPPING_TAU2,
            "size": shape,
        },
        "hot": [],
        "not": [],
        "events": len(who),
    }

    spec = cat.TOUGH_SERVICES[1]
    need = np.array(spec.rates)
    rates = need.copy()
    rates[codes.index(UNDER_SERVED_SEGMENT)] *= UNDER_SERVED_SHARE
    base = rates[seg]
    expected = np.bincount(hh_oa, base, n_oa)
    blocked = np.zeros(n_oa, dtype=bool)  # planted OAs and their neighbours
    taken = np.zeros(n_oa, dtype=bool)  # planted OAs
    multiple = np.ones(n_oa)
    planted: dict[str, list[dict[str, Any]]] = {"hot": [], "not": []}
    floors = [MIN_CLUSTER_EXPECTED, 12.0, 10.0, 0.0]
    used_floor = MIN_CLUSTER_EXPECTED
    for kind, strength, count, (lo, hi), (m_lo, m_hi) in _CARE_CLUSTERS:
        for _ in range(count):
            size = int(rng.integers(lo, hi + 1))
            group = None
            # Apart from every other cluster if there is room, else only not overlapping; a
            # borough too small for even that (near MIN_HOUSEHOLDS) plants fewer clusters.
            for free, floor in itertools.product((~blocked, ~taken), floors):
                group = _grow((expected >= floor) & free, adjacency, size, lo, rng)
                if group is not None:
                    used_floor = min(used_floor, floor)
                    break
            if group is None:
                continue
            m = round(float(rng.uniform(m_lo, m_hi)), 2)
            multiple[group] = m
            taken[group] = True
            blocked[group] = True
            for o in group:
                blocked[adjacency[o]] = True
            planted[kind].append(
                {
                    "oa_codes": hier["oa_codes"][group].tolist(),
                    "multiple": m,
                    "expected_base": round(float(expected[group].sum()), 2),
                    "strength": strength,
                    "detectable": strength == "strong",
                }
            )
    who = np.repeat(np.arange(len(base)), rng.poisson(base * multiple[hh_oa]))
    day = rng.choice(PERIOD_DAYS, size=len(who), p=_day_weights(spec.season))
    frames.append(_event_rows(spec, who, day, seg, rng))
    truth[spec.code] = {
        "unit": spec.unit,
        "rate_meaning": "expected events per household over the period",
        "rates": {c: float(r) for c, r in zip(codes, rates, strict=True)},
        "need_rates": {c: float(r) for c, r in zip(codes, need, strict=True)},
        "under_served": {"segment_code": UNDER_SERVED_SEGMENT, "share_of_need": UNDER_SERVED_SHARE},
        "min_expected": round(used_floor, 3),
        "hot": planted["hot"],
        "not": planted["not"],
        "events": len(who),
    }

    spec = cat.TOUGH_SERVICES[2]
    rates = np.array(spec.rates)
    base = rates[seg]
    expected = np.bincount(hh_oa, base, n_oa)
    oa_lsoa = hier["oa_lsoa"]
    n_lsoa = len(hier["lsoa_codes"])
    lsoa_adj = _lsoa_adjacency(adjacency, oa_lsoa, n_lsoa)
    lsoa_expected = np.bincount(oa_lsoa, expected, n_lsoa)
    busy = lsoa_expected >= np.median(lsoa_expected)
    apart = np.ones(n_lsoa, dtype=bool)  # not in or next to a group
    unused = np.ones(n_lsoa, dtype=bool)
    trend_groups: list[list[int]] = []
    for _ in range(2):
        # Busy LSOAs apart from the other group if there is room; smaller boroughs (near
        # MIN_HOUSEHOLDS) take any LSOAs, then fewer of them.
        for size, free in itertools.product((TREND_LSOAS, 2, 1), (busy & apart, apart, unused)):
            group = _grow(free, lsoa_adj, size, size, rng)
            if group is not None:
                break
        if group is None:  # pragma: no cover - two LSOAs always exist
            raise RuntimeError("could not plant the trend clusters; the borough is too small")
        trend_groups.append(group)
        unused[group] = False
        apart[group] = False
        for g in group:
            apart[lsoa_adj[g]] = False
    trend_oa = [np.flatnonzero(np.isin(oa_lsoa, g)) for g in trend_groups]
    # Outside the trend groups: ordinary Poisson draws over the whole period.
    in_trend = np.isin(hh_oa, np.concatenate(trend_oa))
    lam = np.where(in_trend, 0.0, base)
    who_static = np.repeat(np.arange(len(lam)), rng.poisson(lam))
    day_static = rng.choice(PERIOD_DAYS, size=len(who_static), p=_day_weights(spec.season))
    # Trend groups: a multiple per month, counts drawn month by month.
    days = pd.date_range(PERIOD_START, PERIOD_END, freq="D")
    month_codes, month_labels = pd.factorize(days.to_period("M"))
    month_start = np.searchsorted(month_codes, np.arange(len(month_labels)))
    month_days = np.bincount(month_codes)
    t = np.arange(len(month_labels))
    month_multiples = [
        np.where(t >= EMERGING_FROM_MONTH, TREND_MULTIPLE, 1.0),
        np.where(t <= FADING_UNTIL_MONTH, TREND_MULTIPLE, 1.0),
    ]
    who_parts, day_parts = [who_static], [day_static]
    for oas, m_t in zip(trend_oa, month_multiples, strict=True):
        hh = np.flatnonzero(np.isin(hh_oa, oas))
        n_ht = rng.poisson(base[hh][:, None] * (m_t * month_days / PERIOD_DAYS)[None, :])
        hh_idx, t_idx = np.nonzero(n_ht)
        reps = n_ht[hh_idx, t_idx]
        ev_t = np.repeat(t_idx, reps)
        who_parts.append(np.repeat(hh[hh_idx], reps))
        day_parts.append(
            month_start[ev_t] + np.floor(rng.random(len(ev_t)) * month_days[ev_t]).astype(np.int64)
        )
    who = np.concatenate(who_parts)
    day = np.concatenate(day_parts)
    frames.append(_event_rows(spec, who, day, seg, rng))

    def trend_entry(i: int, category: str) -> dict[str, Any]:
        return {
            "lsoa_codes": hier["lsoa_codes"][trend_groups[i]].tolist(),
            "oa_codes": hier["oa_codes"][trend_oa[i]].tolist(),
            "expected_base": round(float(expected[trend_oa[i]].sum()), 2),
            "multiple_by_month": dict(zip(map(str, month_labels), month_multiples[i].tolist(), strict=True)),
            "quarters": "2025Q1-2026Q3",
            "expected_category": category,
        }

    truth[spec.code] = {
        "unit": spec.unit,
        "rate_meaning": "expected events per household over the period outside the trend groups",
        "rates": {c: float(r) for c, r in zip(codes, rates, strict=True)},
        "hot": [],
        "not": [],
        "emerging": [trend_entry(0, "consecutive_hot_spot")],
        "fading": [trend_entry(1, "historical_hot_spot")],
        "events": len(who),
    }
    return frames, truth


# ============================================================================ sites


def _sites(b: pd.DataFrame, addr: gpd.GeoDataFrame, net: dict[str, Any]) -> gpd.GeoDataFrame:
    """Return offices and candidate venues, each at its own non-residential address."""
    v = b[b["kind"] == "venue"].sort_values(
        ["venue_existing", "venue_kind", "venue_name"], ascending=[False, True, True]
    )
    uprn = v["first_uprn"].to_numpy()
    pos = uprn - UPRN_BASE - 1
    nodes = net["nodes"]
    tree = cKDTree(shapely.get_coordinates(nodes["geom"].to_numpy()))
    nearest = tree.query(v[["x", "y"]].to_numpy())[1]
    return gpd.GeoDataFrame(
        {
            "name": v["venue_name"].to_numpy(),
            "kind": v["venue_kind"].to_numpy(),
            "is_existing": v["venue_existing"].to_numpy().astype(bool),
            "capacity": v["venue_capacity"].to_numpy().astype(np.int64),
            "address_text": addr["address_text"].to_numpy()[pos],
            "uprn": uprn,
            "oa_code": addr["oa_code"].to_numpy()[pos],
            "road_node": nodes["id"].to_numpy()[nearest],
            "geom": shapely.points(v[["x", "y"]].to_numpy()),
        },
        geometry="geom",
        crs=CRS,
    ).reset_index(drop=True)
