"""Time generating and loading the demo borough at the default size and at ten times it.

Usage: ``DATABASE_URL=postgresql+psycopg://... python bench/demo_load.py [households ...]``
(default database: the scratch ``wardwise_demo_dev``; default sizes: 120,000 and 1,200,000).
The database must already have the schema (``wardwise db upgrade``). Each size is loaded in
its own transaction and committed, so the last size stays loaded.
"""

from __future__ import annotations

import os
import sys
import time

from sqlalchemy import create_engine, text

from geo.demo import generate_borough, load_borough

SCRATCH_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/wardwise_demo_dev"


def _url() -> str:
    """Return DATABASE_URL with the psycopg 3 driver, or the scratch database."""
    url = os.environ.get("DATABASE_URL", SCRATCH_URL)
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def main(argv: list[str]) -> None:
    """Run the bench and print one table row per size."""
    sizes = [int(a) for a in argv] or [120_000, 1_200_000]
    engine = create_engine(_url())
    rows = []
    for households in sizes:
        t0 = time.perf_counter()
        borough = generate_borough(households=households)
        t1 = time.perf_counter()
        with engine.begin() as conn:
            counts = load_borough(conn, borough)
        t2 = time.perf_counter()
        rows.append((households, len(borough.addresses), counts["service_event"], t1 - t0, t2 - t1, t2 - t0))
    with engine.connect() as conn:
        load = conn.execute(text("SELECT 1")).scalar()
    engine.dispose()
    header = (
        f"{'households':>11} {'addresses':>10} {'events':>10} {'generate_s':>11} {'load_s':>8} {'total_s':>8}"
    )
    print(header)  # noqa: T201 - a bench prints its table
    print("-" * len(header))  # noqa: T201
    for h, a, e, g, lo, tot in rows:
        print(f"{h:>11,} {a:>10,} {e:>10,} {g:>11.1f} {lo:>8.1f} {tot:>8.1f}")  # noqa: T201
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (db ok: {load == 1})")  # noqa: T201


if __name__ == "__main__":
    main(sys.argv[1:])
