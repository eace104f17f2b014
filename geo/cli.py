"""The ``wardwise`` command: database, demo borough, serving (and more as issues land)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from geo.db import cli_connection, database_url_from_env, safe_url
from geo.errors import IngestError, InvalidRequest, WardwiseError


def _progress_printer() -> Callable[[str], None]:
    """A progress callback: one line per step, with elapsed seconds."""
    import time

    start = time.perf_counter()

    def report(step: str) -> None:
        print(f"  [{time.perf_counter() - start:6.1f}s] {step}", file=sys.stderr, flush=True)

    return report


def cmd_db_migrate(args: argparse.Namespace) -> int:
    """Run Alembic migrations up to ``--revision`` (head)."""
    from geo.migrate import upgrade_database

    url = database_url_from_env()
    print(f"migrating {safe_url(url)} to {args.revision}", file=sys.stderr)
    upgrade_database(url, args.revision)
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    """Run Alembic migrations down to ``--revision``."""
    from geo.migrate import downgrade_database

    downgrade_database(database_url_from_env(), args.revision)
    return 0


def cmd_demo_load(args: argparse.Namespace) -> int:
    """Generate the demo borough and load it (idempotent), then refresh the profiling aggregates."""
    from geo.analysis.aggregates import refresh_aggregates
    from geo.demo import load_demo
    from geo.demo.generate import check_households

    try:
        check_households(args.households)
    except ValueError as exc:
        print(f"wardwise demo load: {exc}", file=sys.stderr)
        return 2
    print(
        f"loading the demo borough: {args.households:,} households, seed {args.seed}",
        file=sys.stderr,
    )
    progress = _progress_printer()
    with cli_connection(begin=True) as conn:
        counts = load_demo(conn, households=args.households, seed=args.seed, progress=progress)
        # Fresh per-OA aggregates make propensity tables and matrices fast (issue 4).
        refresh_aggregates(conn)
        progress("refreshed the profiling aggregates")
    for table, n in counts.items():
        print(f"  {table:<22} {n:>10,}", file=sys.stderr)
    return 0


def cmd_demo_truth(args: argparse.Namespace) -> int:
    """Print the demo's planted truth as JSON."""
    from geo.demo import demo_truth

    with cli_connection() as conn:
        truth = demo_truth(conn)
    json.dump(truth, sys.stdout, indent=2 if args.pretty else None)
    print()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the API and the map page with uvicorn."""
    import os

    import uvicorn

    if args.demo:
        # read by api.settings.Settings in the server process (the factory builds its own)
        os.environ["WARDWISE_DEMO"] = "1"
    print(f"serving Wardwise on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(
        "api.main:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        proxy_headers=False,
    )
    return 0


#: Modules that add their own subcommands: each has ``register(subparsers) -> None``.
COMMAND_MODULES: list[str] = [
    "geo.auth_cli",
    "geo.analysis.hotspot_cli",
    "geo.analysis.profiling_cli",
    "geo.analysis.insight_cli",
    "geo.planning.cli",
    "geo.ingest.cli",
    "geo.worker_cli",
    "geo.catalogue_cli",
    "geo.feeds_cli",
]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="wardwise", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("migrate", help="apply migrations (alembic upgrade)")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=cmd_db_migrate)
    p = db.add_parser("upgrade", help="same as migrate")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=cmd_db_migrate)
    p = db.add_parser("downgrade", help="revert migrations (alembic downgrade)")
    p.add_argument("--revision", default="base")
    p.set_defaults(func=cmd_db_downgrade)

    demo = sub.add_parser("demo", help="the generated demo borough").add_subparsers(
        dest="demo_command", required=True
    )
    p = demo.add_parser("load", help="generate and load the demo borough (idempotent)")
    p.add_argument("--households", type=int, default=120_000)
    p.add_argument("--seed", type=int, default=20261123)
    p.set_defaults(func=cmd_demo_load)
    p = demo.add_parser("truth", help="print the planted truth as JSON")
    p.add_argument("--pretty", action="store_true")
    p.set_defaults(func=cmd_demo_truth)

    p = sub.add_parser("serve", help="serve the API and map page")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--demo",
        action="store_true",
        help="demo mode: allow the built-in secret salt (refused otherwise)",
    )
    p.set_defaults(func=cmd_serve)

    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; domain errors print one clear line and exit 1 (2 for bad input)."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except WardwiseError as exc:
        print(f"wardwise: error: {exc}", file=sys.stderr)
        # bad input (a request or file that is not what was expected) exits 2, like argparse
        return 2 if isinstance(exc, (InvalidRequest, IngestError)) else 1
    return code


if __name__ == "__main__":
    sys.exit(main())
