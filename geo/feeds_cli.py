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
    return _watch(args.name or None, interval=args.interval, once=args.once)


def cmd_ingest_watch(args: argparse.Namespace) -> int:
    """``wardwise ingest watch DIR``: the feed of one folder (created with ``--kind``), watched."""
    from geo.feeds import feed_for_directory

    with cli_connection(begin=True) as conn:
        feed = feed_for_directory(
            conn,
            args.directory,
            kind=args.kind,
            preset=args.preset,
            mapping=args.mapping,
            pattern=args.pattern,
            name=args.name,
        )
    print(
        f"watching {feed['directory']} as feed {feed['name']!r} ({feed['kind']}, {feed['pattern']!r})",
        file=sys.stderr,
        flush=True,
    )
    return _watch([feed["name"]], interval=args.interval, once=args.once)


def _watch(names: list[str] | None, *, interval: float, once: bool) -> int:
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
            names=names,
            interval_s=interval,
            once=once,
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


def register_ingest_watch(sub: Any) -> None:
    """Add ``wardwise ingest watch DIR`` to the ``wardwise ingest`` subcommands (``geo.ingest.cli``)."""
    from geo.ingest.mapping import KINDS, PRESETS

    p = sub.add_parser(
        "watch",
        help="watch a folder: ingest each new file dropped into it as a batch (a feed; see `wardwise feeds`)",
        description="Watch DIR as a feed: every new file matching --pattern is ingested as one batch, "
        "files seen before (same content) are skipped, failures are recorded with the batch reports "
        "and make the command exit 1. The first call needs --kind (and --preset or --mapping); "
        "they are stored with the feed, so later calls need only DIR.",
    )
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--kind", choices=KINDS, help="ingest kind (creates or updates the folder's feed)")
    p.add_argument("--preset", choices=sorted(PRESETS))
    p.add_argument("--mapping", help="a .json/.toml mapping file or inline JSON")
    p.add_argument("--pattern", default=None, help="file name pattern, e.g. '*.csv' (default '*')")
    p.add_argument("--name", default=None, help="the feed's name (default: the folder's name)")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between scans")
    p.add_argument("--once", action="store_true", help="scan once and exit (for cron)")
    p.set_defaults(func=cmd_ingest_watch)
