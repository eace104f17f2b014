"""``wardwise ingest KIND FILE [--mapping M] [--preset P]``: load a file as one batch, with a progress bar.

``wardwise ingest watch DIR`` ingests each new file dropped into a folder (a feed,
``geo.feeds``); ``wardwise ingest batches`` lists earlier batches; ``wardwise ingest undo BATCH`` removes a
batch's rows so its file can be loaded again. The report goes to stdout as JSON with
``--json``, otherwise as a few lines of text; the progress bar and errors go to stderr.
Identifiers are hashed with ``WARDWISE_SECRET_SALT`` (the salt the server uses).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from geo.db import cli_engine
from geo.ingest.mapping import KINDS, PRESETS


def _count_rows(path: Path) -> int | None:
    """Rows in a text file (for the progress bar's total), or None for other formats."""
    if path.suffix.lower() not in (".csv", ".txt", ".tsv"):
        return None
    with path.open("rb") as fh:
        return max(0, sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1)


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest one file and print its quality report."""
    from tqdm import tqdm

    from geo.auth_cli import secret_salt_from_env
    from geo.ingest.service import ingest_path

    path = Path(args.file)
    with (
        cli_engine() as engine,
        tqdm(total=_count_rows(path), unit="rows", unit_scale=True, file=sys.stderr, desc=path.name) as bar,
    ):
        report = ingest_path(
            engine,
            args.kind,
            path,
            salt=secret_salt_from_env(),
            actor="cli",
            mapping=args.mapping,
            preset=args.preset,
            chunk_rows=args.chunk_rows,
            progress=bar.update,
        )
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(report.summary_lines()) + "\n")
    return 0


def cmd_batches(args: argparse.Namespace) -> int:
    """List earlier batches, newest first."""
    from geo.db import cli_connection
    from geo.ingest.batch import list_batches

    with cli_connection() as conn:
        batches = list_batches(conn, limit=args.limit)
    if args.json:
        json.dump(batches, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
        return 0
    for b in batches:
        error = (b.get("report") or {}).get("error")
        sys.stdout.write(
            f"{b['id']:>5}  {b['status']:<7} {b['kind']:<20} "
            f"{b['rows_loaded']:>9,} of {b['rows_received']:>9,}"
            f"  {b['filename']}" + (f"\n       {error}" if error and b["status"] == "failed" else "") + "\n"
        )
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    """Undo a loaded batch: remove its rows so the file can be loaded again."""
    from geo.ingest.service import undo

    with cli_engine() as engine:
        result = undo(engine, args.batch, actor="cli")
    if args.json:
        json.dump(result, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        removed = ", ".join(f"{k} {v:,}" for k, v in result["removed"].items()) or "nothing"
        sys.stdout.write(f"batch {result['batch_id']} ({result['kind']}): undone; removed {removed}\n")
        sys.stdout.write(f"  note: {result['note']}\n")
    return 0


def cmd_vintage(args: argparse.Namespace) -> int:
    """Print a classification stored on 2011 OAs placed on 2021 OAs (CSV)."""
    from geo.db import cli_connection
    from geo.exports import csv_text
    from geo.ingest.vintage import BACK_RULE, classes_on_oa21

    with cli_connection() as conn:
        frame = classes_on_oa21(conn, args.classification)
    sys.stdout.write(csv_text(frame))
    sys.stderr.write(f"{len(frame):,} OA 2021 codes; rule: {BACK_RULE}\n")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``wardwise ingest KIND FILE``, ``... batches``, ``... undo`` and ``... watch DIR``."""
    ingest = subparsers.add_parser(
        "ingest",
        help="load a file (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile) as a batch; list, undo batches",
        description=__doc__,
    )
    sub = ingest.add_subparsers(
        dest="ingest_command", required=True, metavar="{KIND,batches,undo,vintage,watch}"
    )
    for kind in KINDS:
        p = sub.add_parser(kind, help=f"load a {kind} file as one batch")
        p.add_argument("file")
        p.add_argument("--mapping", default=None, help="a mapping: a .json/.toml file or inline JSON")
        p.add_argument("--preset", choices=sorted(PRESETS), default=None)
        p.add_argument("--chunk-rows", type=int, default=100_000, help="rows read per chunk (memory bound)")
        p.add_argument("--json", action="store_true", help="print the report as JSON")
        p.set_defaults(func=cmd_ingest, kind=kind)
    p = sub.add_parser("batches", help="list earlier batches, newest first")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_batches)
    p = sub.add_parser(
        "vintage", help="a classification on 2011 OAs placed on 2021 OAs through the loaded lookup (CSV)"
    )
    p.add_argument("classification")
    p.add_argument("--to", choices=["oa21"], default="oa21", help="the vintage to place it on")
    p.set_defaults(func=cmd_vintage)
    p = sub.add_parser("undo", help="remove a loaded batch's rows so its file can be loaded again")
    p.add_argument("batch", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_undo)
    from geo.feeds_cli import register_ingest_watch

    register_ingest_watch(sub)
