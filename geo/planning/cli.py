"""``wardwise planning``: site one-stop shops and route a mobile service from the terminal.

Answers go to stdout as JSON (GeoJSON inside, WGS84), or as CSV with ``--csv TABLE``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from geo.db import cli_connection


def _emit(plan: dict[str, Any], csv_text: str | None) -> None:
    if csv_text is not None:
        sys.stdout.write(csv_text)
    else:
        json.dump(plan, sys.stdout, indent=1)
        sys.stdout.write("\n")


def cmd_sites(args: argparse.Namespace) -> int:
    """Choose new sites (p-median or maximal covering) and print the plan."""
    from geo.planning.export import siting_csv
    from geo.planning.plans import plan_sites

    with cli_connection() as conn:
        plan = plan_sites(
            conn,
            objective=args.objective,
            p=args.p,
            keep_existing=not args.replace_existing,
            segments=args.segments,
            demand_source=args.source,
            service=args.service,
            travel=args.travel,
            cover_within=args.cover_within,
            time_limit_s=args.time_limit,
        )
    s, proposed = plan["summary"], plan["proposed"]
    sys.stderr.write(f"{s['status']} (gap {s['gap']}): new sites {proposed['new_site_ids']}\n")
    _emit(plan, siting_csv(plan, args.csv) if args.csv else None)
    return 0


def cmd_routes(args: argparse.Namespace) -> int:
    """Plan van routes for the given days and print them."""
    from geo.planning.export import routes_csv
    from geo.planning.plans import plan_routes

    with cli_connection() as conn:
        plan = plan_routes(
            conn,
            stop_source=args.stops,
            max_stops=args.max_stops,
            vehicles=args.vehicles,
            days=args.days,
            frequency=args.frequency,
            break_min=args.break_min,
            day_start=args.day_start,
            day_end=args.day_end,
            service_min=args.service_min,
            segments=args.segments,
            time_limit_s=args.time_limit,
        )
    _emit(plan, routes_csv(plan, args.csv) if args.csv else None)
    return 0


def cmd_zones(args: argparse.Namespace) -> int:
    """Group areas into balanced, contiguous service zones and print them."""
    from geo.planning.zone_plans import plan_zones

    missing = {"max_p": ("floor", "--floor (the least demand per zone)"), "skater": ("n_zones", "--n-zones")}
    field, flag = missing[args.method]
    if getattr(args, field) is None:
        sys.stderr.write(f"wardwise planning zones: error: {flag} is required for {args.method} zones\n")
        return 2
    with cli_connection() as conn:
        plan = plan_zones(
            conn,
            method=args.method,
            level=args.level,
            floor=args.floor,
            n_zones=args.n_zones,
            min_areas=args.min_areas,
            seed=args.seed,
            construction_iterations=args.construction_iterations,
            annealing_runs=args.annealing_runs,
            demand_source=args.source,
            service=args.service,
            segments=args.segments,
        )
    s = plan["summary"]
    sys.stderr.write(
        f"{s['zones']} zones over {s['areas']} {s['level'].upper()}s; demand per zone "
        f"{s['smallest_zone_demand']:g} to {s['largest_zone_demand']:g} (total {s['total_demand']:g})\n"
    )
    if args.csv:
        from geo.planning.export import rows_csv

        _emit(plan, rows_csv(plan["assignment"]))
    else:
        _emit(plan, None)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``wardwise planning sites|routes|zones``."""
    planning = subparsers.add_parser("planning", help="site one-stop shops, route mobile services")
    sub = planning.add_subparsers(dest="planning_command", required=True)
    p = sub.add_parser("sites", help="choose p new sites")
    p.add_argument("--p", type=int, default=2)
    p.add_argument("--objective", choices=["p_median", "max_cover"], default="p_median")
    p.add_argument("--segments", nargs="*", default=None)
    p.add_argument(
        "--source", choices=["households", "service_use", "expected", "unmet"], default="households"
    )
    p.add_argument("--service", default=None)
    p.add_argument(
        "--travel", choices=["drive_time", "drive_distance", "straight_line"], default="drive_time"
    )
    p.add_argument("--cover-within", type=float, default=None, help="minutes (drive_time) or metres")
    p.add_argument("--replace-existing", action="store_true", help="let today's offices close")
    p.add_argument("--time-limit", type=float, default=30.0)
    p.add_argument("--csv", choices=["demand", "sites", "catchments"], default=None)
    p.set_defaults(func=cmd_sites)
    r = sub.add_parser("routes", help="plan van routes")
    r.add_argument("--stops", choices=["venues", "h3"], default="venues")
    r.add_argument("--max-stops", type=int, default=8)
    r.add_argument("--vehicles", type=int, default=1)
    r.add_argument("--days", nargs="+", default=["tue"])
    r.add_argument("--frequency", choices=["weekly", "fortnightly", "four_weekly"], default="weekly")
    r.add_argument("--break-min", type=float, default=0.0, help="driver's break, minutes (12:00-14:00)")
    r.add_argument("--day-start", default="09:00")
    r.add_argument("--day-end", default="17:00")
    r.add_argument("--service-min", type=float, default=45.0)
    r.add_argument("--segments", nargs="*", default=None)
    r.add_argument("--time-limit", type=float, default=5.0)
    r.add_argument("--csv", choices=["stops", "routes", "timetable"], default=None)
    r.set_defaults(func=cmd_routes)
    z = sub.add_parser("zones", help="balanced service zones (max-p or SKATER)")
    z.add_argument("--method", choices=["max_p", "skater"], default="max_p")
    z.add_argument("--level", choices=["oa", "lsoa"], default="oa")
    z.add_argument("--floor", type=float, default=None, help="max_p: least demand per zone")
    z.add_argument("--n-zones", type=int, default=None, help="skater: number of zones")
    z.add_argument("--min-areas", type=int, default=None, help="skater: least areas per zone")
    z.add_argument("--seed", type=int, default=0)
    z.add_argument("--construction-iterations", type=int, default=10, help="max_p: constructions tried")
    z.add_argument("--annealing-runs", type=int, default=1, help="max_p: annealing runs per construction")
    z.add_argument(
        "--source", choices=["households", "service_use", "expected", "unmet"], default="households"
    )
    z.add_argument("--service", default=None)
    z.add_argument("--segments", nargs="*", default=None)
    z.add_argument("--csv", action="store_true", help="print each area's zone as CSV")
    z.set_defaults(func=cmd_zones)
