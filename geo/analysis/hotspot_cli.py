"""``wardwise hotspots|demand``: hot spots and unmet demand from the command line.

Output goes to stdout (or ``--output``) as CSV or GeoJSON, exactly as the API returns it
to an officer; permutation runs report progress on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from geo.db import cli_connection


def _write(body: object, output: str | None) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def cmd_hotspots(args: argparse.Namespace) -> int:
    """Run the hot-spot analysis of one service and print it."""
    from geo.analysis import hotspot_queries as q
    from geo.analysis.data import resolve_tier
    from geo.analysis.hotspot_outputs import HotspotParams, render_hotspots

    with cli_connection() as conn:
        classification = resolve_tier(conn, args.classification, args.tier)
    params = HotspotParams(
        service=args.service,
        level=args.level,
        resolution=args.resolution,
        method=args.method,
        weights=args.weights,
        k=args.k,
        distance_m=args.distance_m,
        transform=args.transform,
        variable=args.variable,
        permutations=args.permutations,
        seed=args.seed,
        fdr=args.fdr,
        reference=args.reference,
        classification=classification,
        within=args.within,
        date_from=args.date_from,
        date_to=args.date_to,
        dispersion=args.dispersion,
        max_share=args.max_share,
        direction=args.direction,
        members=args.members,
    )

    def progress(fraction: float) -> None:
        print(f"\r  permutations {fraction:6.1%}", end="", file=sys.stderr, flush=True)

    with cli_connection() as conn:
        geography = q.resolve_analysis_geography(conn, params.level, params.resolution)
        frame = q.hotspot_frame(
            conn,
            params.service,
            geography,
            method=params.method,
            classification=params.classification,
            reference=params.reference,
            fdr=params.fdr,
            within=params.within,
            date_from=params.date_from,
            date_to=params.date_to,
            dispersion=params.dispersion,
            options=q.SpatialOptions(
                weights=params.weights,
                k=params.k,
                distance_m=params.distance_m,
                transform=params.transform,
                variable=params.variable,
                permutations=params.permutations,
                seed=params.seed,
                max_share=params.max_share,
                direction=params.direction,
                members=params.members,
            ),
            progress=progress if params.permutations else None,
        )
        if params.permutations:
            print(file=sys.stderr)
        body = render_hotspots(conn, frame, None, args.format)
    counts = frame["class"].value_counts().to_dict()
    meta = frame.attrs.get("meta", {})
    d = meta.get("dispersion", {})
    print(
        f"{len(frame)} areas: {counts}; phi {d.get('phi', float('nan')):.3f} (winsorised), "
        f"test: {d.get('applied')}",
        file=sys.stderr,
    )
    for c in meta.get("clusters", []):
        print(
            f"  cluster {c['id']} {c['class']}: {len(c['areas'])} areas, O {c['observed']:.0f} "
            f"E {c['expected']:.1f} RR {c['relative_risk']:.2f} LLR {c['llr']:.1f} p {c['p_value']:.3g}",
            file=sys.stderr,
        )
    for w in meta.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    _write(body, args.output)
    return 0


def cmd_demand(args: argparse.Namespace) -> int:
    """Print potential and unmet demand per area."""
    from geo.analysis.data import resolve_tier
    from geo.analysis.hotspot_outputs import demand_output

    with cli_connection() as conn:
        body = demand_output(
            conn,
            args.service,
            args.level,
            resolution=args.resolution,
            classification=resolve_tier(conn, args.classification, args.tier),
            percentile=args.percentile,
            fmt=args.format,
        )
    _write(body, args.output)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``hotspots`` and ``demand`` to the ``wardwise`` command."""
    p = sub.add_parser("hotspots", help="hot spots and not spots of a service (CSV or GeoJSON)")
    p.add_argument("service")
    p.add_argument("--level", default="oa", help="oa, lsoa, msoa, ward, district, h3 or a custom set")
    p.add_argument("--resolution", type=int, help="H3 resolution (with --level h3)")
    p.add_argument("--method", choices=["ratio", "gistar", "moran", "scan"], default="ratio")
    p.add_argument(
        "--dispersion",
        choices=["auto", "none", "multiplicative", "additive", "negbin"],
        default="auto",
        help="area test's allowance for overdispersion (default auto: negbin when the winsorised phi > 1)",
    )
    p.add_argument("--max-share", type=float, default=0.1, help="scan: largest window, share of expected")
    p.add_argument("--direction", choices=["both", "high", "low"], default="both", help="scan clusters")
    p.add_argument(
        "--members",
        choices=["significant", "cluster", "window"],
        default="significant",
        help="scan: flag the cluster areas whose own test points its way, or the whole window",
    )
    p.add_argument("--weights", choices=["queen", "knn", "distance"], default="queen")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--distance-m", type=float)
    p.add_argument("--transform", choices=["B", "R"])
    p.add_argument("--variable", choices=["ratio", "rate", "eb_rate", "seb_rate"], default="ratio")
    p.add_argument("--permutations", type=int, default=0)
    p.add_argument("--seed", type=int)
    p.add_argument("--fdr", type=float, default=0.05)
    p.add_argument("--reference", help="district | area:<code> | rates:A=0.2,B=0.1")
    p.add_argument("--within", help="only output areas inside this area code")
    p.add_argument("--classification", help="default: the household one")
    p.add_argument("--tier", help="a tier of the classification (OAC: supergroup, group, subgroup)")
    p.add_argument("--date-from", type=dt.date.fromisoformat)
    p.add_argument("--date-to", type=dt.date.fromisoformat)
    p.add_argument("--format", choices=["csv", "geojson"], default="csv")
    p.add_argument("--output", "-o")
    p.set_defaults(func=cmd_hotspots)

    p = sub.add_parser("demand", help="potential and unmet demand of a service per area")
    p.add_argument("service")
    p.add_argument("--level", default="oa")
    p.add_argument("--resolution", type=int)
    p.add_argument("--percentile", type=float, default=80.0)
    p.add_argument("--classification", help="default: the household one")
    p.add_argument("--tier", help="a tier of the classification (OAC: supergroup, group, subgroup)")
    p.add_argument("--format", choices=["csv", "geojson"], default="csv")
    p.add_argument("--output", "-o")
    p.set_defaults(func=cmd_demand)
