"""Gi* (and local Moran's I) for 50,000 areas: geo.analysis.spatial against PySAL esda.

    .venv/bin/python bench/hotspots.py [--side 224] [--repeat 5] [--perm-areas 2500 --permutations 99]

Both sides get the same values and the same binary weights, built once outside the
timings: a ``side × side`` lattice (queen contiguity, 50,176 cells by default) and the
same number of random points with k = 8 nearest neighbours. Our time is the best of
``--repeat`` runs of ``gi_star`` / ``local_moran`` (sparse matrix-vector products);
esda's is the best of the same number of ``G_Local(star=True, permutations=0)`` /
``Moran_Local(permutations=0)`` runs on a ``libpysal`` ``W``. The script prints both
times, the ratio, and the largest absolute difference between the z-scores (esda
``Zs`` for Gi*, ``(Is - EI) / sqrt(VI)`` for local Moran), with binary weights (``B``)
for Gi* and row-standardised (``R``) for Moran, each as esda computes it.

Permutation inference is compared on a smaller set (``--perm-areas``), because esda
without numba (not installed here) runs its conditional randomisation in pure Python.

Target (issue 5): analytical Gi* at least 10x faster than esda, z identical to 1e-9.

``--planted`` (issue 13) instead measures every method against the planted truth of the
demo borough loaded in ``DATABASE_URL`` (``wardwise demo load``: 120,000 households by
default), pooled over all services at output-area level: precision and recall of the
planted OAs (hot and not spots), side by side, for ``ratio`` (exact Poisson and ``auto``
dispersion), ``gistar``, ``moran`` (high-high / low-low as hot / not) and ``scan`` (its
three membership rules, circular and adjacency windows). The pool holds the first seven
services and ``social_care`` (the tougher truth): precision counts every planted OA
(strong, weak x1.3-1.5 and small 1-2 OA clusters) as true, recall counts the clusters
designed to be detectable (strong ones); weak and small recall are printed on their own.
Then ``fly_tipping`` (a negative-binomial null: every flag is false) gives each dispersion
model's false-alarm rate. Then the scan statistic against the brute-force references
(``brute_force_scan``: Python loops over centres and radii; ``brute_force_adjacency_scan``:
itertools subsets and a breadth-first search) on the same data (one service, the OAs of the
demo; the adjacency reference on the OAs of one ward-sized corner, it is exponential):
identical most likely cluster and LLR, and both times.

    DATABASE_URL=... .venv/bin/python bench/hotspots.py --planted [--permutations 999]
"""

from __future__ import annotations

import argparse
import time
import warnings

import esda
import libpysal
import numpy as np

from geo.analysis.spatial import (
    SpatialWeights,
    gi_star,
    knn_weights,
    local_moran,
    permutation_p_values,
    weights_from_pairs,
)


def best_of(repeat: int, fn):  # type: ignore[no-untyped-def]
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def lattice(side: int) -> SpatialWeights:
    w = libpysal.weights.lat2W(side, side, rook=False)
    sp = w.sparse.tocoo()
    ids = np.arange(side * side)
    return weights_from_pairs(ids, sp.row, sp.col)


def to_pysal(w: SpatialWeights) -> libpysal.weights.W:
    return libpysal.weights.WSP(w.matrix.copy()).to_W(silence_warnings=True)


def compare(label: str, w: SpatialWeights, y: np.ndarray, repeat: int) -> None:
    pw = to_pysal(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours_t, ours = best_of(repeat, lambda: gi_star(y, w, "B"))
        esda_t, theirs = best_of(
            repeat, lambda: esda.G_Local(y, pw, transform="B", star=True, permutations=0)
        )
    diff = float(np.max(np.abs(ours.z - theirs.Zs)))
    print(
        f"Gi*  {label:<22} n={w.n:>6}  ours {ours_t * 1000:8.1f} ms   esda {esda_t * 1000:8.1f} ms   "
        f"ratio {esda_t / ours_t:6.1f}x   max|dz| {diff:.1e}   transform B"
    )
    pw = to_pysal(w)
    m_ours_t, m_ours = best_of(repeat, lambda: local_moran(y, w, "R"))
    m_esda_t, m = best_of(repeat, lambda: esda.Moran_Local(y, pw, transformation="r", permutations=0))
    m_diff = float(np.max(np.abs(m_ours.z - (m.Is - m.EI) / np.sqrt(m.VI))))
    print(
        f"LISA {label:<22} n={w.n:>6}  ours {m_ours_t * 1000:8.1f} ms   esda {m_esda_t * 1000:8.1f} ms   "
        f"ratio {m_esda_t / m_ours_t:6.1f}x   max|dz| {m_diff:.1e}   transform R"
    )


def planted(args: argparse.Namespace) -> None:
    from geo.analysis.hotspot_queries import SpatialOptions, area_points, area_weights, hotspot_frame
    from geo.analysis.scan import brute_force_adjacency_scan, brute_force_scan, spatial_scan
    from geo.areas import Geography
    from geo.db import cli_connection
    from geo.demo import demo_truth

    oa = Geography("oa")
    methods: list[tuple[str, dict[str, object]]] = [
        ("ratio, dispersion=none", {"method": "ratio", "dispersion": "none"}),
        ("ratio, dispersion=auto", {"method": "ratio"}),
        ("gistar, queen, analytical", {"method": "gistar"}),
        ("moran, queen, analytical", {"method": "moran"}),
        (f"scan, window, {args.permutations} reps", {"method": "scan", "members": "window"}),
        (f"scan, cluster, {args.permutations} reps", {"method": "scan", "members": "cluster"}),
        (f"scan, significant, {args.permutations} reps", {"method": "scan", "members": "significant"}),
        (
            f"scan adjacency, significant, {args.permutations}",
            {"method": "scan", "members": "significant", "window": "adjacency"},
        ),
        (
            f"scan adjacency, window, {args.permutations}",
            {"method": "scan", "members": "window", "window": "adjacency"},
        ),
    ]
    with cli_connection() as conn:
        truth = demo_truth(conn)
        every = {**truth["services"], **truth.get("tough_services", {})}
        services = list(truth["services"]) + [s for s in ("social_care",) if s in every]

        def planted_oas(service: str, kind: str, which: str) -> set[str]:
            return {
                c
                for cl in every[service][kind]
                if which == "all"
                or (which == "detectable" and cl.get("detectable", True))
                or cl.get("strength", "strong") == which
                for c in cl["oa_codes"]
            }

        print(f"demo borough: {truth['counts']['oa']} OAs, {len(services)} services, pooled at OA level")
        print(
            f"{'method':<34} {'precision':>9} {'recall':>7} {'flagged':>8} {'planted':>8} "
            f"{'weak':>6} {'small':>6} {'seconds':>8}"
        )
        for label, spec in methods:
            tp = flagged = n_planted = found_planted = 0
            weak = [0, 0]
            small = [0, 0]
            t0 = time.perf_counter()
            for service in services:
                opts = SpatialOptions(
                    permutations=args.permutations if spec["method"] == "scan" else 0,
                    seed=1,
                    members=spec.get("members", "significant"),  # type: ignore[arg-type]
                    window=spec.get("window", "circular"),  # type: ignore[arg-type]
                )
                frame = hotspot_frame(
                    conn,
                    service,
                    oa,
                    method=spec["method"],  # type: ignore[arg-type]
                    dispersion=str(spec.get("dispersion", "auto")),
                    options=opts,
                )
                cls = frame["class"].replace({"high_high": "hot", "low_low": "not"})
                for kind in ("hot", "not"):
                    found = set(frame.loc[cls == kind, "area_code"])
                    sure = planted_oas(service, kind, "detectable")
                    tp += len(planted_oas(service, kind, "all") & found)
                    flagged += len(found)
                    found_planted += len(sure & found)
                    n_planted += len(sure)
                    for tally, which in ((weak, "weak"), (small, "small")):
                        got = (
                            planted_oas(service, kind, which)
                            if service in truth.get("tough_services", {})
                            else set()
                        )
                        tally[0] += len(got & found)
                        tally[1] += len(got)
            seconds = time.perf_counter() - t0
            print(
                f"{label:<34} {tp / max(flagged, 1):>9.3f} {found_planted / n_planted:>7.3f} {flagged:>8} "
                f"{n_planted:>8} {weak[0] / max(weak[1], 1):>6.2f} {small[0] / max(small[1], 1):>6.2f} "
                f"{seconds:>8.1f}"
            )
        if "fly_tipping" in every:
            rates = []
            for mode in ("none", "multiplicative", "additive", "negbin", "auto"):
                f = hotspot_frame(conn, "fly_tipping", oa, dispersion=mode)
                f = f[f["expected"] > 0]
                alarms = float((f["p_value"] < 0.05).mean())
                flagged_share = float((f["class"] != "as_expected").mean())
                rates.append(f"{mode} {alarms:.3f}/{flagged_share:.3f}")
            print(
                "fly_tipping (negative-binomial null), share of OAs with p < 0.05 / flagged after FDR: "
                + ", ".join(rates)
            )
        service = args.scan_service
        frame = hotspot_frame(conn, service, oa, dispersion="none")
        xy = area_points(conn, oa, frame["area_code"].tolist())
        adjacency = area_weights(conn, oa, frame["area_code"].tolist(), "queen").matrix
    o = frame["observed"].to_numpy()
    e = frame["expected"].to_numpy()
    t0 = time.perf_counter()
    ours = spatial_scan(o, e, xy, max_share=args.max_share, permutations=1, seed=1)
    ours_t = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference = brute_force_scan(o, e, xy, max_share=args.max_share)
    ref_t = time.perf_counter() - t0
    best = ours.clusters[0]
    same = frozenset(best.members.tolist()) == reference[0][1]
    print(
        f"scan vs brute force, {service}, {len(o)} OAs, max_share {args.max_share}: "
        f"ours {ours_t * 1000:.0f} ms "
        f"({ours.windows:,} windows), reference {ref_t:.1f} s ({len(reference):,} distinct windows), "
        f"{ref_t / ours_t:.0f}x; most likely cluster identical: {same}, "
        f"LLR {best.llr:.6f} vs {reference[0][0]:.6f}"
    )
    t0 = time.perf_counter()
    spatial_scan(o, e, xy, max_share=args.max_share, permutations=args.permutations, seed=1)
    print(f"scan with {args.permutations} Monte Carlo replicates: {time.perf_counter() - t0:.2f} s")
    # Adjacency windows: the whole demo with our scan, and a corner against the brute force.
    t0 = time.perf_counter()
    adj = spatial_scan(
        o,
        e,
        xy,
        max_share=args.max_share,
        permutations=args.permutations,
        seed=1,
        window="adjacency",
        adjacency=adjacency,
        max_size=args.max_size,
    )
    print(
        f"adjacency scan, {len(o)} OAs, max_size {args.max_size}, {adj.windows:,} windows, "
        f"{args.permutations} replicates: {time.perf_counter() - t0:.2f} s"
    )
    corner = np.argsort(np.hypot(*(xy - xy.min(axis=0)).T))[: args.corner]
    sub_o, sub_e, sub_xy = o[corner], e[corner], xy[corner]
    sub_adj = adjacency[corner][:, corner]
    t0 = time.perf_counter()
    ours = spatial_scan(
        sub_o,
        sub_e,
        sub_xy,
        max_share=0.2,
        permutations=1,
        seed=1,
        window="adjacency",
        adjacency=sub_adj,
        max_size=args.corner_size,
    )
    ours_t = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference = brute_force_adjacency_scan(
        sub_o, sub_e, sub_xy, sub_adj, max_share=0.2, max_size=args.corner_size
    )
    ref_t = time.perf_counter() - t0
    best = ours.clusters[0]
    print(
        f"adjacency scan vs brute force, {len(corner)} OAs, max_size {args.corner_size}: "
        f"ours {ours_t * 1000:.0f} ms "
        f"({ours.windows:,} windows), reference {ref_t:.1f} s ({len(reference):,} distinct windows), "
        f"{ref_t / ours_t:.0f}x; most likely cluster identical: "
        f"{frozenset(best.members.tolist()) == reference[0][1]}, LLR {best.llr:.6f} vs {reference[0][0]:.6f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=224, help="lattice side (224 -> 50,176 areas)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--perm-areas", type=int, default=2500)
    parser.add_argument("--permutations", type=int, default=99)
    parser.add_argument("--planted", action="store_true", help="methods against the demo's planted truth")
    parser.add_argument("--scan-service", default="asb_reports")
    parser.add_argument("--max-share", type=float, default=0.1)
    parser.add_argument("--max-size", type=int, default=10, help="adjacency scan: largest window (areas)")
    parser.add_argument("--corner", type=int, default=40, help="OAs in the brute-force adjacency comparison")
    parser.add_argument("--corner-size", type=int, default=7, help="max_size there")
    args = parser.parse_args()
    if args.planted:
        planted(args)
        return

    rng = np.random.default_rng(20261123)
    n = args.side * args.side
    y = rng.gamma(20.0, 0.05, n)  # ratios around 1

    w_queen = lattice(args.side)
    compare("lattice, queen", w_queen, y, args.repeat)
    xy = rng.uniform(0, 50_000, (n, 2))
    w_knn = knn_weights(np.arange(n), xy, 8)
    compare("random points, knn k=8", w_knn, y, args.repeat)

    side = int(np.sqrt(args.perm_areas))
    w_small = lattice(side)
    y_small = y[: w_small.n]
    pw = to_pysal(w_small)
    t0 = time.perf_counter()
    ours_p = permutation_p_values(
        y_small, w_small, "gistar", transform="B", permutations=args.permutations, seed=1
    )
    ours_t = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        g = esda.G_Local(y_small, pw, transform="B", star=True, permutations=args.permutations, seed=1)
        esda_t = time.perf_counter() - t0
    agree = np.corrcoef(ours_p, np.minimum(1, 2 * g.p_sim))[0, 1]
    print(
        f"Gi*  permutations={args.permutations:<5}     n={w_small.n:>6}  ours {ours_t * 1000:8.1f} ms   "
        f"esda {esda_t * 1000:8.1f} ms   ratio {esda_t / ours_t:6.1f}x   corr(p) {agree:.3f}"
    )
    big_t0 = time.perf_counter()
    permutation_p_values(y, w_queen, "gistar", transform="B", permutations=999, seed=1)
    print(f"Gi*  999 permutations, ours only     n={n:>6}  {time.perf_counter() - big_t0:8.2f} s")


if __name__ == "__main__":
    main()
