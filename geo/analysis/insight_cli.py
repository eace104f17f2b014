"""``wardwise insight``: targets, similar areas, combined hot spots, exclusion and selector from the shell.

Tables go to stdout as CSV (``targets``, ``combined``) or JSON (the others), exactly as the
API returns them to an officer.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from geo.analysis.data import resolve_tier
from geo.db import cli_connection


def _print_json(body: Any) -> None:
    json.dump(body, sys.stdout, indent=2, default=str)
    print()


def _weights(pairs: list[str]) -> dict[str, float]:
    from geo.analysis.insight_outputs import parse_weights

    return parse_weights(",".join(pairs)) or {}


def cmd_targets(args: argparse.Namespace) -> int:
    """Print a service's propensity table with core and developmental targets (CSV)."""
    from geo.analysis.insight_outputs import targets_output
    from geo.analysis.targets import TargetThresholds

    with cli_connection() as conn:
        body = targets_output(
            conn,
            args.service,
            resolve_tier(conn, args.classification, args.tier),
            within=args.within,
            thresholds=TargetThresholds(args.min_index, args.min_share_pct, args.significant_only),
            fmt="csv",
        )
    sys.stdout.write(str(body))
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    """Print the k areas most similar to an area by segment mix (JSON)."""
    from geo.analysis.similar import similar_areas

    with cli_connection() as conn:
        body = similar_areas(
            conn,
            args.area,
            k=args.k,
            classification=resolve_tier(conn, args.classification, args.tier),
            distance=args.distance,
            within=args.within,
            by=args.by,
            variables=args.variable or None,
        )
    _print_json(body)
    return 0


def cmd_combined(args: argparse.Namespace) -> int:
    """Print combined hot spots of several services (CSV)."""
    from geo.analysis.combined import combined_output

    with cli_connection() as conn:
        body = combined_output(
            conn,
            args.services,
            policy=None,
            fmt="csv",
            weights=_weights(args.weight) or None,
            level=args.level,
            method=args.method,
            fdr=args.fdr,
            classification=resolve_tier(conn, args.classification, args.tier),
            within=args.within,
        )
    sys.stdout.write(str(body))
    return 0


def cmd_exclusion(args: argparse.Namespace) -> int:
    """Print a channel shift costed with and without assisted digital (JSON)."""
    from geo.analysis.insight_outputs import exclusion_output

    with cli_connection() as conn:
        body = exclusion_output(
            conn,
            args.service,
            share_pct=args.share_pct,
            from_channels=args.from_channel or ["face_to_face", "phone"],
            assisted_pct=args.assisted_pct,
            max_web_index=args.max_web_index,
            classification=resolve_tier(conn, args.classification, args.tier),
            level=args.level,
        )
    _print_json(body)
    return 0


def cmd_selector(args: argparse.Namespace) -> int:
    """Print where a group described by weighted segments is expected to live (JSON)."""
    from geo.analysis.insight_outputs import selector_output

    with cli_connection() as conn:
        body = selector_output(
            conn,
            _weights(args.weight),
            variables=_weights(args.variable) or None,
            size=args.size,
            level=args.level,
            classification=resolve_tier(conn, args.classification, args.tier),
            within=args.within,
            top=args.top,
        )
    _print_json(body)
    return 0


def register(sub: Any) -> None:
    """Add ``wardwise insight ...`` to the top-level parser."""
    insight = sub.add_parser(
        "insight", help="targets, similar areas, combined hot spots, exclusion, selector"
    )
    cmds = insight.add_subparsers(dest="insight_command", required=True)

    p = cmds.add_parser("targets", help="core and developmental target segments of a service (CSV)")
    p.add_argument("service")
    p.add_argument("--classification")
    p.add_argument("--tier", help="a tier of the classification (OAC: supergroup, group, subgroup)")
    p.add_argument("--within", help="only output areas inside this area")
    p.add_argument("--min-index", type=float, default=120.0)
    p.add_argument("--min-share-pct", type=float, default=5.0)
    p.add_argument("--significant-only", action="store_true")
    p.set_defaults(func=cmd_targets)

    p = cmds.add_parser("similar", help="the k areas most like an area by segment mix (JSON)")
    p.add_argument("area")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--distance", choices=["hellinger", "euclidean"], default="hellinger")
    p.add_argument("--classification")
    p.add_argument("--tier", help="a tier of the classification (OAC: supergroup, group, subgroup)")
    p.add_argument("--within", help="only compare with areas inside this area")
    p.add_argument("--by", choices=["segments", "census"], default="segments")
    p.add_argument("--variable", action="append", help="--by census: a variable or ratio a/b (repeat)")
    p.set_defaults(func=cmd_similar)

    p = cmds.add_parser("combined", help="combined hot spots of several services (CSV)")
    p.add_argument("services", nargs="+")
    p.add_argument("--weight", action="append", default=[], help="service:weight (repeat)")
    p.add_argument("--level", default="oa")
    p.add_argument("--method", choices=["ratio", "gistar"], default="ratio")
    p.add_argument("--fdr", type=float, default=0.05)
    p.add_argument("--classification")
    p.add_argument("--tier", help="a tier of the classification (OAC: supergroup, group, subgroup)")
    p.add_argument("--within")
    p.set_defaults(func=cmd_combined)

    p = cmds.add_parser("exclusion", help="channel shift with and without assisted digital (JSON)")
    p.add_argument("service")
    p.add_argument("--share-pct", type=float, required=True)
    p.add_argument("--from-channel", action="append", help="repeat; default face_to_face and phone")
    p.add_argument("--assisted-pct", type=float, default=100.0)
    p.add_argument("--max-web-index", type=float, default=80.0)
    p.add_argument("--classification")
    p.add_argument("--tier", help="a tier of the classification (OAC: supergroup, group, subgroup)")
    p.add_argument("--level", default="ward")
    p.set_defaults(func=cmd_exclusion)

    p = cmds.add_parser("selector", help="expected distribution of a group with no records (JSON)")
    p.add_argument("--weight", action="append", default=[], help="segment:weight (repeat)")
    p.add_argument("--variable", action="append", default=[], help="census variable:weight (repeat)")
    p.add_argument("--size", type=float)
    p.add_argument("--level", default="ward")
    p.add_argument("--classification")
    p.add_argument("--tier", help="a tier of the classification (OAC: supergroup, group, subgroup)")
    p.add_argument("--within")
    p.add_argument("--top", type=int)
    p.set_defaults(func=cmd_selector)
