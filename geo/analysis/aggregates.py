"""Pre-aggregated service use: refresh it after loading events, and know when it is fresh.

Two materialized views (migration ``0003_profiling``, SQL in
``geo/sql/analysis/aggregates_create.sql``) hold primary events per (service,
classification, output area, segment): ``service_use_oa_segment`` for the whole period
(events and distinct households) and ``service_use_oa_segment_month`` per month and
channel (events). A third, ``household_oa_segment`` (migration
``0005_profiling_households``), holds households per (classification, OA, segment).
:func:`geo.analysis.data.service_counts_by_area_segment` and
:func:`~geo.analysis.data.households_by_area_segment` read them instead of the raw tables
whenever they are fresh and can answer the question exactly.

Freshness is a version check, so a stale view is never read: the small versions of
``geo.cache`` (``data_version_scope``) are bumped by triggers on writes to ``service_event``
(per district and service), ``area`` (per level) and the reference tables, and
:func:`refresh_aggregates` records the versions it refreshed from in
``aggregate_refresh_scope``. :func:`aggregates_fresh` compares only what a question reads: an
ingest of one service leaves the others' aggregates (and every household count) fresh. The
legacy ``data_version('aggregates')`` / ``('aggregates_refreshed')`` pair still marks the
views stale when bumped by hand.

Refreshes run ``CONCURRENTLY`` (unique indexes from migration ``scale17_2``): readers keep
reading the previous rows while a refresh runs, never waiting on its lock. Call
:func:`refresh_aggregates` after an ingest or a demo load, or let ``wardwise worker`` do it
when the aggregates are stale (it is safe to call any time).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("wardwise.aggregates")

VIEWS = ("service_use_oa_segment", "service_use_oa_segment_month", "household_oa_segment")

#: The scoped versions the views read besides service events: OAs and reference tables.
_READS = """
    (v.scope = 'service' AND (CAST(:all_services AS boolean) OR v.subject = ANY(CAST(:services AS text[]))))
    OR (v.scope = 'geography' AND v.subject = 'level:oa')
    OR (v.scope = 'table' AND v.subject IN ('address', 'household_segment', 'area_segment', 'classification'))
"""


def refresh_aggregates(conn: Connection, *, concurrently: bool | None = None) -> int:
    """Rebuild the per-OA aggregates from ``service_event``; return the version now served.

    Runs in the caller's transaction. The versions are read *before* the refresh, so a write
    committed meanwhile leaves the views marked stale (readers fall back to the events)
    rather than marked fresh while missing it. ``concurrently`` (default: whenever the view
    is already populated) keeps readers reading while it runs.
    """
    version = conn.execute(text("SELECT version FROM data_version WHERE name = 'aggregates'")).scalar_one()
    conn.execute(text("DELETE FROM aggregate_refresh_scope"))
    conn.execute(
        text(
            "INSERT INTO aggregate_refresh_scope (scope, district_code, subject, version) "
            "SELECT scope, district_code, subject, version FROM data_version_scope"
        )
    )
    populated: dict[str, bool] = dict(
        conn.execute(
            text(
                "SELECT matviewname, ispopulated FROM pg_matviews "
                "WHERE schemaname = current_schema() AND matviewname = ANY(:v)"
            ),
            {"v": list(VIEWS)},
        ).all()
    )
    for view in VIEWS:
        mode = concurrently if concurrently is not None else populated.get(view, False)
        if mode and not populated.get(view, False):
            mode = False  # a never-populated view cannot be refreshed concurrently
        conn.execute(text(f"REFRESH MATERIALIZED VIEW {'CONCURRENTLY ' if mode else ''}{view}"))
    conn.execute(
        text("UPDATE data_version SET version = :v, changed_at = now() WHERE name = 'aggregates_refreshed'"),
        {"v": version},
    )
    return int(version)


def refresh_if_stale(engine: Engine) -> bool:
    """Refresh the aggregates (concurrently) if a write made them stale; return whether it did.

    Any number of processes may call this: a transaction-scoped advisory lock lets one
    refresh at a time, and the others return at once rather than queue behind it.
    """
    with engine.begin() as conn:
        locked = conn.execute(text("SELECT pg_try_advisory_xact_lock(hashtext('wardwise_aggregates'))"))
        if not locked.scalar():
            return False
        if aggregates_fresh(conn):
            return False
        refresh_aggregates(conn)
        return True


def keep_aggregates_current(engine: Engine, every_s: float, stop: threading.Event) -> threading.Thread:
    """Start a daemon thread calling :func:`refresh_if_stale` every ``every_s`` seconds until ``stop``."""

    def run() -> None:
        while not stop.wait(every_s):
            try:
                started = time.perf_counter()
                if refresh_if_stale(engine):
                    log.info("refreshed the aggregates in %.1f s", time.perf_counter() - started)
            except Exception:  # noqa: BLE001 - try again next time; readers use the events meanwhile
                log.warning("refreshing the aggregates failed", exc_info=True)

    thread = threading.Thread(target=run, name="wardwise-aggregates", daemon=True)
    thread.start()
    return thread


def aggregates_fresh(conn: Connection, services: Sequence[str] | None = None) -> bool:
    """Whether the aggregates reflect every write to what a question reads (False if never refreshed).

    ``services``: the services the question counts (None: every service; empty: none, e.g.
    household counts).
    """
    fresh = conn.execute(
        text(
            f"""
            SELECT a.version = r.version AND NOT EXISTS (
                SELECT 1 FROM data_version_scope v
                LEFT JOIN aggregate_refresh_scope s USING (scope, district_code, subject)
                WHERE v.version IS DISTINCT FROM s.version AND ({_READS}))
            FROM data_version a JOIN data_version r ON r.name = 'aggregates_refreshed'
            WHERE a.name = 'aggregates'
            """
        ),
        {"all_services": services is None, "services": list(services or ())},
    ).scalar_one_or_none()
    return bool(fresh)


def month_window(
    date_from: dt.date | None, date_to: dt.date | None
) -> tuple[dt.date | None, dt.date | None] | None:
    """The months a date range covers exactly, or None if it cuts a month.

    ``date_from`` must be a first and ``date_to`` a last day of a month for the monthly
    aggregate to give the same count as the events; returns the first days of the first
    and last months (either None when that end is open).
    """
    if date_from is not None and date_from.day != 1:
        return None
    if date_to is not None and (date_to + dt.timedelta(days=1)).day != 1:
        return None
    return date_from, (date_to.replace(day=1) if date_to is not None else None)
