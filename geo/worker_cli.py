"""``wardwise worker``: a process that runs queued jobs and keeps the aggregates current.

Any number of workers (and API processes) share the ``job`` table: each claims the oldest
runnable job of a queue with ``FOR UPDATE SKIP LOCKED`` (``geo.analysis.jobs``), so a job
runs once however many there are. A worker wakes on ``NOTIFY wardwise_jobs`` (sent when a job
is queued) or every ``--poll`` seconds (to pick up jobs whose worker died). Between jobs it
refreshes the profiling aggregates ``CONCURRENTLY`` when a write has made them stale and
``--refresh-every`` seconds have passed since the last refresh (readers are never blocked;
they read the raw events meanwhile, see ``geo.analysis.aggregates``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

log = logging.getLogger("wardwise.worker")


def run_worker(
    engine: Engine,
    *,
    poll_s: float = 5.0,
    refresh_every_s: float = 30.0,
    stop: threading.Event | None = None,
    once: bool = False,
) -> int:
    """Run jobs until ``stop`` is set (or, with ``once``, until the queues are empty); return jobs run."""
    import psycopg

    import geo.analysis.hotspot_outputs  # noqa: F401 - registers the hot-spot job kind
    import geo.ingest.jobs  # noqa: F401 - registers the ingest job kind
    import geo.planning.jobs  # noqa: F401 - registers the planning job kinds
    from geo.analysis.jobs import bind_jobs, unbind_jobs

    stop = stop or threading.Event()
    previous = bind_jobs(engine, run_locally=False)
    runners = [runner for runner, _, _ in previous]
    url = make_url(engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
    try:
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as listener:
            listener.execute("LISTEN wardwise_jobs")
            ran = _loop(engine, runners, listener, poll_s, refresh_every_s, stop, once)
    finally:
        unbind_jobs(previous)
    return ran


def _loop(
    engine: Engine,
    runners: list[Any],
    listener: Any,
    poll_s: float,
    refresh_every_s: float,
    stop: threading.Event,
    once: bool,
) -> int:
    from geo.analysis.aggregates import refresh_if_stale

    ran = 0
    last_refresh = float("-inf")
    while not stop.is_set():
        for runner in runners:
            ran += runner.drain()
        if refresh_every_s >= 0 and time.monotonic() - last_refresh >= refresh_every_s:
            started = time.perf_counter()
            if refresh_if_stale(engine):
                log.info("refreshed the aggregates in %.1f s", time.perf_counter() - started)
            last_refresh = time.monotonic()
        if once:
            break
        for _ in listener.notifies(timeout=poll_s, stop_after=1):
            pass
    return ran


def cmd_worker(args: argparse.Namespace) -> int:
    """Run jobs until SIGTERM or SIGINT (or, with --once, until the queues are empty)."""
    from geo.db import database_url_from_env, make_engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = make_engine(args.database_url or database_url_from_env(), pool_size=2)
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        print("worker: stopping after the current job", file=sys.stderr)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print("worker: waiting for jobs", file=sys.stderr)
    try:
        n = run_worker(
            engine, poll_s=args.poll, refresh_every_s=args.refresh_every, stop=stop, once=args.once
        )
    finally:
        engine.dispose()
    print(f"worker: ran {n} jobs", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add ``wardwise worker``."""
    p = sub.add_parser("worker", help="run queued jobs (hot spots, planning) and refresh aggregates")
    p.add_argument("--poll", type=float, default=5.0, help="seconds between checks without a NOTIFY")
    p.add_argument(
        "--refresh-every",
        type=float,
        default=30.0,
        help="refresh stale aggregates at most this often, seconds (-1: never)",
    )
    p.add_argument("--once", action="store_true", help="run what is queued, then exit")
    p.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    p.set_defaults(func=cmd_worker)
