"""``wardwise ingest KIND FILE [--mapping M] [--preset P]``: load a file as one batch, with a progress bar.

The report goes to stdout as JSON with ``--json``, otherwise as a few lines of text;
the progress bar and errors go to stderr. Identifiers are hashed with
``WARDWISE_SECRET_SALT`` (the salt the server uses).
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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``wardwise ingest KIND FILE``."""
    p = subparsers.add_parser(
        "ingest",
        help="load a file (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile) as one batch",
        description=__doc__,
    )
    p.add_argument("kind", choices=KINDS)
    p.add_argument("file")
    p.add_argument("--mapping", default=None, help="a mapping: a .json/.toml file or inline JSON")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None)
    p.add_argument("--chunk-rows", type=int, default=100_000, help="rows read per chunk (memory bound)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest)
