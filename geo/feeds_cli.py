"""``wardwise feeds``: watch folders and ingest the files dropped into them.

``wardwise feeds add NAME DIR --kind events --preset police-uk`` stores a feed with its
mapping; ``wardwise feeds watch`` scans every feed now and then every ``--interval``
seconds (``--once`` for cron); ``wardwise feeds list`` shows each feed's files.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from geo.db import cli_connection, cli_engine


def cmd_add(args: argparse.Namespace) -> int:
    """Create or update a feed."""
    from geo.feeds import add_feed

    with cli_connection(begin=True) as conn:
        feed = add_feed(
            conn,
            args.name,
            args.directory,
            args.kind,
            preset=args.preset,
            mapping=args.mapping,
            pattern=args.pattern,
        )
    print(f"feed {feed['name']!r}: {feed['kind']} files matching {feed['pattern']!r} in {feed['directory']}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print every feed with its files (JSON)."""
    from geo.feeds import list_feeds

    with cli_connection() as conn:
        json.dump(list_feeds(conn), sys.stdout, indent=2, default=str)
    print()
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Scan the feeds once (``--once``) or every ``--interval`` seconds; exit 1 if a file failed."""
    from geo.auth_cli import secret_salt_from_env
    from geo.feeds import FeedResult, watch_feeds

    def report(r: FeedResult) -> None:
        extra = f" (batch {r.batch_id})" if r.batch_id else ""
        why = f": {r.error}" if r.error and r.status == "failed" else ""
        print(f"{r.feed}: {r.filename} {r.status}{extra}{why}", file=sys.stderr, flush=True)

    with cli_engine() as engine:
        done = watch_feeds(
            engine,
            salt=secret_salt_from_env(),
            names=args.name or None,
            interval_s=args.interval,
            once=args.once,
            report=report,
        )
    return 1 if any(r.status == "failed" for r in done) else 0


def register(sub: Any) -> None:
    """Add ``wardwise feeds ...``."""
    from geo.ingest.mapping import KINDS, PRESETS

    feeds = sub.add_parser(
        "feeds", help="watched folders: files dropped in are ingested", description=__doc__
    )
    cmds = feeds.add_subparsers(dest="feeds_command", required=True)
    p = cmds.add_parser("add", help="create or update a feed (its mapping is stored with it)")
    p.add_argument("name")
    p.add_argument("directory")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--preset", choices=sorted(PRESETS))
    p.add_argument("--mapping", help="a .json/.toml mapping file or inline JSON")
    p.add_argument("--pattern", default="*", help="file name pattern, e.g. '*.csv'")
    p.set_defaults(func=cmd_add)
    p = cmds.add_parser("list", help="feeds and the files they have seen (JSON)")
    p.set_defaults(func=cmd_list)
    p = cmds.add_parser("watch", help="ingest new files of every feed, now and every --interval seconds")
    p.add_argument("--name", action="append", help="only this feed (repeat)")
    p.add_argument("--interval", type=float, default=60.0)
    p.add_argument("--once", action="store_true", help="scan once and exit (for cron)")
    p.set_defaults(func=cmd_watch)
