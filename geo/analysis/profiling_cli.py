"""``wardwise profiling``: refresh the per-OA aggregates; print propensity tables and matrices.

Tables go to stdout (or ``--output``) as CSV, exactly as the API returns them to an officer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from geo.db import cli_connection


def _write(body: str | bytes, output: str | None) -> None:
    if output:
        if isinstance(body, bytes):
            Path(output).write_bytes(body)
        else:
            Path(output).write_text(body, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    elif isinstance(body, bytes):
        sys.stdout.buffer.write(body)
    else:
        sys.stdout.write(body)


def _json(value: object) -> str:
    import json

    return json.dumps(value, indent=1, default=str) + "\n"


def cmd_refresh(args: argparse.Namespace) -> int:
    """Rebuild the per-OA service-use aggregates (after an ingest or a demo load)."""
    from geo.analysis.aggregates import refresh_aggregates

    with cli_connection(begin=True) as conn:
        version = refresh_aggregates(conn)
    print(f"aggregates refreshed (data version {version})", file=sys.stderr)
    return 0


def cmd_propensity(args: argparse.Namespace) -> int:
    """Print the propensity table of one service as CSV."""
    from geo.analysis.propensity import table_csv
    from geo.analysis.services import ServiceFilter, service_propensity

    with cli_connection() as conn:
        result = service_propensity(
            conn,
            args.service,
            args.classification,
            ServiceFilter(
                unit=args.unit,
                date_from=args.date_from,
                date_to=args.date_to,
                channel=args.channel,
                within=args.within,
                tier=args.tier,
            ),
        )
    if args.json:
        from geo.analysis.propensity import table_records

        _write(_json({**result, "rows": table_records(result["rows"])}), args.output)
        return 0
    _write(table_csv(result["rows"]), args.output)
    return 0


def cmd_matrix(args: argparse.Namespace) -> int:
    """Print an area-by-segment matrix as CSV (or write XLSX with ``--output x.xlsx``)."""
    from geo.analysis.matrix import matrix_xlsx, service_matrix
    from geo.analysis.propensity import table_csv

    with cli_connection() as conn:
        matrix = service_matrix(
            conn, args.level, args.classification, args.service, within=args.within, tier=args.tier
        )
    if args.json:
        from geo.analysis.propensity import table_records

        _write(_json({**matrix, "cells": table_records(matrix["cells"])}), args.output)
        return 0
    if args.output and args.output.endswith(".xlsx"):
        _write(matrix_xlsx(matrix), args.output)
    else:
        _write(table_csv(matrix["cells"]), args.output)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``wardwise profiling refresh|propensity|matrix``."""
    profiling = subparsers.add_parser("profiling", help="propensity tables, matrices, aggregates")
    sub = profiling.add_subparsers(dest="profiling_command", required=True)
    p = sub.add_parser("refresh", help="rebuild the per-OA aggregates (after ingest or demo load)")
    p.set_defaults(func=cmd_refresh)
    p = sub.add_parser("propensity", help="print a service's propensity table as CSV")
    p.add_argument("service")
    p.add_argument("--classification")
    p.add_argument("--unit", choices=["events", "households"])
    p.add_argument("--date-from", type=dt.date.fromisoformat)
    p.add_argument("--date-to", type=dt.date.fromisoformat)
    p.add_argument("--channel")
    p.add_argument("--within", help="only output areas inside this area")
    p.add_argument("--tier", help="a tier of the classification (OAC: supergroup, group, subgroup)")
    p.add_argument("--json", action="store_true", help="the table with its meta as JSON")
    p.add_argument("--output")
    p.set_defaults(func=cmd_propensity)
    p = sub.add_parser("matrix", help="print an area-by-segment matrix as CSV (or .xlsx)")
    p.add_argument("--level", default="ward")
    p.add_argument("--classification")
    p.add_argument("--service")
    p.add_argument("--within")
    p.add_argument("--tier", help="a tier of the classification (OAC: supergroup, group, subgroup)")
    p.add_argument("--json", action="store_true", help="the matrix with its meta as JSON")
    p.add_argument("--output")
    p.set_defaults(func=cmd_matrix)
