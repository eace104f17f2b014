"""Bench: propensity table and ward-by-segment matrix over 10 million service events.

Builds a scratch database (``<DATABASE_URL's database>_bench_profiling`` on the same server,
or ``--scratch NAME``; pass ``--keep`` to reuse it), loads the demo borough, adds synthetic
primary events for the demo households until there are ``--events`` of them, refreshes the
per-OA aggregates, then times, in the same run:

* Wardwise: ``service_propensity`` and ``service_matrix`` (what the API calls), reading
  the aggregates; and once each from the raw events (aggregates marked stale) for context;
* the peer, twice: plain pandas with the events read into a DataFrame once (not timed),
  then ``merge`` + ``groupby`` to the same counts and the same table/matrix functions;
  and pandas on the *same aggregates* Wardwise reads (``service_use_oa_segment`` and
  ``household_oa_segment`` read into DataFrames once, not timed), so the comparison is
  like for like: pre-aggregated against pre-aggregated, raw against raw.

Target: under 500 ms each once loaded. Prints medians of ``--repeat`` runs and the ratio
pandas / Wardwise.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/profiling.py
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from geo.analysis.aggregates import refresh_aggregates
from geo.analysis.matrix import area_segment_matrix, service_matrix
from geo.analysis.propensity import propensity_table
from geo.analysis.services import service_propensity
from geo.db import database_url_from_env, make_engine
from geo.migrate import upgrade_database

SCRATCH = "wardwise_bench_profiling"
CLASSIFICATION = "wardwise12"

# Synthetic events: each event picks a household uniformly (by hashing its number), a
# service with fixed weights, a date in the demo's two years and one of the service's
# channels. The point is volume with the demo's real skew of households over OAs and
# segments; the planted propensities are in the demo's own events, which stay.
SYNTHETIC_EVENTS = """
WITH hh AS (
    SELECT row_number() OVER (ORDER BY ad.uprn) AS i, ad.uprn, ad.oa_code,
           m_l.area_code AS lsoa_code, m_w.area_code AS ward_code, m_d.area_code AS district_code
    FROM address ad
    JOIN area_membership m_l ON m_l.oa_code = ad.oa_code AND m_l.level = 'lsoa'
    JOIN area_membership m_w ON m_w.oa_code = ad.oa_code AND m_w.level = 'ward'
    JOIN area_membership m_d ON m_d.oa_code = ad.oa_code AND m_d.level = 'district'
    WHERE ad.is_residential
), n AS (SELECT count(*) AS n FROM hh),
sv AS (
    SELECT row_number() OVER (ORDER BY code) - 1 AS j, code, channels, count(*) OVER () AS k FROM service
)
INSERT INTO service_event (service_code, event_date, channel, source_system, match_level, uprn,
                           household_key, oa_code, lsoa_code, ward_code, district_code, is_primary)
SELECT sv.code,
       DATE '2024-11-01' + (g.x % 730)::int,
       sv.channels[1 + (g.x / 7 % coalesce(array_length(sv.channels, 1), 1))::int],
       'bench', 'uprn', hh.uprn, md5(hh.uprn::text), hh.oa_code, hh.lsoa_code, hh.ward_code,
       hh.district_code, true
FROM (SELECT s, (hashint8(s)::bigint & 2147483647) AS x FROM generate_series(1, :count) s) g
CROSS JOIN n
JOIN hh ON hh.i = 1 + (g.x % n.n)
JOIN sv ON sv.j = (g.x / 3 % sv.k)
"""


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def build(admin_url: str, households: int, events: int, keep: bool, scratch: str = SCRATCH) -> str:
    """Create (or reuse) the scratch database with the demo and ``events`` events; return its URL."""
    url = make_url(admin_url).set(database=scratch).render_as_string(hide_password=False)
    admin = create_engine(make_url(admin_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": scratch}).scalar()
        if exists and not keep:
            conn.execute(text(f'DROP DATABASE "{scratch}"'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    admin.dispose()
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except Exception as exc:  # noqa: BLE001 - say what to do instead of a traceback
        raise SystemExit(
            f"bench/profiling.py: cannot create PostGIS in {scratch!r} ({type(exc).__name__}); "
            "as a superuser run `CREATE EXTENSION postgis` in it, then run this again with --keep"
        ) from exc
    upgrade_database(url, "head")
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM service_event")).scalar_one()
    if have == 0:
        from geo.demo import load_demo

        start = time.perf_counter()
        with engine.begin() as conn:
            load_demo(conn, households=households, seed=20261123)
        print(f"demo borough loaded: {households:,} households in {time.perf_counter() - start:.1f} s")
        with engine.begin() as conn:
            have = conn.execute(text("SELECT count(*) FROM service_event")).scalar_one()
    if have < events:
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text(SYNTHETIC_EVENTS), {"count": events - have})
            conn.execute(text("ANALYZE service_event"))
        print(f"added {events - have:,} synthetic events in {time.perf_counter() - start:.1f} s")
    engine.dispose()
    return url


def read_events(engine: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The peer's inputs, read once: primary events, household segments, OA -> ward."""
    raw = engine.raw_connection()
    try:
        buffer = io.BytesIO()
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY (SELECT service_code, uprn, oa_code FROM service_event "
                "WHERE is_primary AND oa_code IS NOT NULL) TO STDOUT (FORMAT csv)"
            ) as copy,
        ):
            for chunk in copy:
                buffer.write(chunk)
    finally:
        raw.close()
    buffer.seek(0)
    events = pd.read_csv(
        buffer,
        names=["service_code", "uprn", "oa_code"],
        dtype={"service_code": "category", "oa_code": "category"},
    )
    with engine.connect() as conn:
        segments = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT ad.uprn, ad.oa_code, hs.segment_code FROM address ad "
                    "LEFT JOIN household_segment hs ON hs.uprn = ad.uprn AND hs.classification_code = :c "
                    "WHERE ad.is_residential AND ad.oa_code IS NOT NULL"
                ),
                {"c": CLASSIFICATION},
            ).all(),
            columns=["uprn", "oa_code", "segment_code"],
        )
        wards = pd.DataFrame(
            conn.execute(text("SELECT oa_code, area_code FROM area_membership WHERE level = 'ward'")).all(),
            columns=["oa_code", "area_code"],
        )
    return events, segments, wards


def pandas_propensity(events: pd.DataFrame, segments: pd.DataFrame, service: str) -> pd.DataFrame:
    """The peer's propensity table: filter, merge on UPRN, group by segment."""
    used = events[events["service_code"] == service].merge(
        segments[["uprn", "segment_code"]], on="uprn", how="left"
    )
    target = used.groupby("segment_code").size()
    base = segments.groupby("segment_code").size()
    frame = pd.DataFrame(
        {
            "segment": base.index,
            "target": target.reindex(base.index, fill_value=0).values,
            "base": base.values,
        }
    )
    return propensity_table(frame)


def pandas_matrix(
    events: pd.DataFrame, segments: pd.DataFrame, wards: pd.DataFrame, service: str
) -> pd.DataFrame:
    """The peer's ward-by-segment matrix: filter, merge segment and ward, group by both."""
    used = events[events["service_code"] == service].merge(
        segments[["uprn", "segment_code"]], on="uprn", how="left"
    )
    used = used.merge(wards, on="oa_code")
    target = used.groupby(["area_code", "segment_code"]).size().rename("target").reset_index()
    households = segments.merge(wards, on="oa_code").groupby(["area_code", "segment_code"]).size()
    households = households.rename("households").reset_index()
    return area_segment_matrix(households, target)


def read_aggregates(engine: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The peer's inputs for the like-for-like run: the per-OA aggregates Wardwise reads."""
    with engine.connect() as conn:
        use = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT service_code, oa_code, segment_code, events FROM service_use_oa_segment "
                    "WHERE classification_code = :c"
                ),
                {"c": CLASSIFICATION},
            ).all(),
            columns=["service_code", "oa_code", "segment_code", "events"],
        )
        households = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT oa_code, segment_code, households FROM household_oa_segment "
                    "WHERE classification_code = :c"
                ),
                {"c": CLASSIFICATION},
            ).all(),
            columns=["oa_code", "segment_code", "households"],
        )
    return use.astype({"events": "int64"}), households.astype({"households": "int64"})


def pandas_agg_propensity(use: pd.DataFrame, households: pd.DataFrame, service: str) -> pd.DataFrame:
    """The propensity table from the per-OA aggregates with pandas."""
    target = use[use["service_code"] == service].groupby("segment_code")["events"].sum()
    base = households.groupby("segment_code")["households"].sum()
    frame = pd.DataFrame(
        {
            "segment": base.index,
            "target": target.reindex(base.index, fill_value=0).values,
            "base": base.values,
        }
    )
    return propensity_table(frame)


def pandas_agg_matrix(
    use: pd.DataFrame, households: pd.DataFrame, wards: pd.DataFrame, service: str
) -> pd.DataFrame:
    """The ward-by-segment matrix from the per-OA aggregates with pandas."""
    used = use[use["service_code"] == service].merge(wards, on="oa_code")
    target = used.groupby(["area_code", "segment_code"])["events"].sum().rename("target").reset_index()
    base = households.merge(wards, on="oa_code").groupby(["area_code", "segment_code"])["households"].sum()
    return area_segment_matrix(base.rename("households").reset_index(), target)


def main() -> None:
    """Build, load, time, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--households", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="reuse the scratch database if it exists")
    parser.add_argument(
        "--scratch", default=None, help="scratch database name (default: <database>_bench_profiling)"
    )
    args = parser.parse_args()

    import os

    print(
        f"machine load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
        f"({os.cpu_count()} cores, shared with other sessions)"
    )
    admin_url = database_url_from_env()
    scratch = args.scratch or f"{make_url(admin_url).database}_bench_profiling"
    url = build(admin_url, args.households, args.events, args.keep, scratch)
    engine = make_engine(url, pool_size=2)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM service_event WHERE is_primary")).scalar_one()
        service = conn.execute(
            text("SELECT service_code FROM service_event GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        ).scalar_one()
        served = conn.execute(
            text("SELECT count(*) FROM service_event WHERE service_code = :s AND is_primary"), {"s": service}
        ).scalar_one()
    print(f"{total:,} primary events; timing service {service!r} ({served:,} events)")

    start = time.perf_counter()
    with engine.begin() as conn:
        refresh_aggregates(conn)
    print(f"refresh_aggregates: {time.perf_counter() - start:.1f} s (once per ingest or demo load)")

    with engine.connect() as conn:
        ours_prop = _median_ms(lambda: service_propensity(conn, service, CLASSIFICATION, None), args.repeat)
        ours_matrix = _median_ms(lambda: service_matrix(conn, "ward", CLASSIFICATION, service), args.repeat)
        prop_table = service_propensity(conn, service, CLASSIFICATION, None)["rows"]
        # The same queries straight from service_event (aggregates marked stale), for context.
        conn.rollback()
        conn.execute(text("UPDATE data_version SET version = version + 1 WHERE name = 'aggregates'"))
        raw_prop = _median_ms(lambda: service_propensity(conn, service, CLASSIFICATION, None), 1)
        raw_matrix = _median_ms(lambda: service_matrix(conn, "ward", CLASSIFICATION, service), 1)
        conn.rollback()

    start = time.perf_counter()
    events, segments, wards = read_events(engine)
    print(f"peer: read {len(events):,} events into pandas in {time.perf_counter() - start:.1f} s (not timed)")
    peer_prop = _median_ms(lambda: pandas_propensity(events, segments, service), args.repeat)
    peer_matrix = _median_ms(lambda: pandas_matrix(events, segments, wards, service), args.repeat)
    check = pandas_propensity(events, segments, service)
    same = check["target"].tolist() == prop_table["target"].tolist()
    use, hh_agg = read_aggregates(engine)
    agg_prop = _median_ms(lambda: pandas_agg_propensity(use, hh_agg, service), args.repeat)
    agg_matrix = _median_ms(lambda: pandas_agg_matrix(use, hh_agg, wards, service), args.repeat)
    same_agg = pandas_agg_propensity(use, hh_agg, service)["target"].tolist() == prop_table["target"].tolist()
    engine.dispose()

    print()
    print(
        f"{'':26}{'wardwise':>11}{'pandas raw':>12}{'ratio':>8}{'pandas agg':>12}{'ratio':>8}"
        f"{'wardwise raw SQL':>18}"
    )
    for name, ours, peer, agg, raw in (
        ("propensity table", ours_prop, peer_prop, agg_prop, raw_prop),
        ("ward-by-segment matrix", ours_matrix, peer_matrix, agg_matrix, raw_matrix),
    ):
        verdict = "ok" if ours < 500 else "OVER 500 ms"
        print(
            f"{name:26}{ours:>9.1f}ms{peer:>10.1f}ms{peer / ours:>7.1f}x{agg:>10.1f}ms{agg / ours:>7.1f}x"
            f"{raw:>16.0f}ms  {verdict}"
        )
    print(
        f"(medians of {args.repeat}; ratio = pandas / wardwise; like for like: wardwise (aggregates) vs "
        f"pandas agg, wardwise raw SQL vs pandas raw; same counts as pandas raw: {same}, agg: {same_agg})"
    )
    print(f"machine load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
