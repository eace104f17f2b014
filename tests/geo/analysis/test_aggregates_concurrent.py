"""The profiling aggregates refresh without locking readers out, and go stale per service (issue 17)."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from geo.analysis.aggregates import VIEWS, aggregates_fresh, refresh_aggregates


@pytest.fixture(scope="module")
def populated(engine) -> None:
    """The views populated (a plain refresh, committed, as after a demo load)."""
    with engine.begin() as conn:
        refresh_aggregates(conn)


def _read_all_views(engine) -> dict[str, int]:
    """Count every view on a connection that gives up on any lock after 1 s."""
    with engine.connect() as reader:
        reader.execute(text("SET lock_timeout = '1s'"))
        counts = {v: reader.execute(text(f"SELECT count(*) FROM {v}")).scalar_one() for v in VIEWS}
        reader.rollback()
    return counts


def test_readers_are_not_blocked_while_a_refresh_runs(engine, populated) -> None:
    before = _read_all_views(engine)
    with engine.connect() as writer:
        tx = writer.begin()
        refresh_aggregates(writer)  # concurrently: the view is populated; its locks held until commit
        locks = dict(
            writer.execute(
                text(
                    "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE l.pid = pg_backend_pid() AND c.relname = ANY(:v) AND l.granted"
                ),
                {"v": list(VIEWS)},
            ).all()
        )
        assert set(locks) == set(VIEWS)  # the refresh really holds its locks while we read
        assert "AccessExclusiveLock" not in locks.values()
        assert _read_all_views(engine) == before  # the reader got the committed rows at once
        tx.rollback()

    # the control: a plain REFRESH does lock readers out, so the check above has teeth
    with engine.connect() as writer:
        tx = writer.begin()
        writer.execute(text("REFRESH MATERIALIZED VIEW service_use_oa_segment"))
        with pytest.raises(OperationalError, match="lock timeout"):
            _read_all_views(engine)
        tx.rollback()


def test_a_concurrent_refresh_matches_the_events_and_staleness_is_per_service(conn, populated) -> None:
    services = [
        r[0] for r in conn.execute(text("SELECT DISTINCT service_code FROM service_event ORDER BY 1"))
    ]
    assert len(services) >= 2
    s1, s2 = services[:2]
    refresh_aggregates(conn, concurrently=True)
    assert aggregates_fresh(conn) and aggregates_fresh(conn, [s1]) and aggregates_fresh(conn, ())

    # every (service, OA) total in the view equals the raw primary events, counted in pandas
    events = pd.DataFrame(
        conn.execute(text("SELECT service_code, oa_code, is_primary FROM service_event")).all(),
        columns=["service_code", "oa_code", "is_primary"],
    )
    raw = events[events.is_primary & events.oa_code.notna()].groupby(["service_code", "oa_code"]).size()
    view = pd.DataFrame(
        conn.execute(
            text(
                "SELECT service_code, oa_code, sum(events) FROM service_use_oa_segment "
                "WHERE classification_code = (SELECT min(code) FROM classification) GROUP BY 1, 2"
            )
        ).all(),
        columns=["service_code", "oa_code", "events"],
    ).set_index(["service_code", "oa_code"])["events"]
    pd.testing.assert_series_equal(
        raw.sort_index().astype("int64"), view.sort_index().astype("int64"), check_names=False
    )

    # a write to s1's events: s1 reads go back to the events, s2 and household counts stay fast
    conn.execute(
        text(
            "UPDATE service_event SET channel = channel WHERE id = (SELECT min(id) FROM service_event WHERE service_code = :s)"
        ),
        {"s": s1},
    )
    assert not aggregates_fresh(conn, [s1])
    assert not aggregates_fresh(conn)
    assert aggregates_fresh(conn, [s2])
    assert aggregates_fresh(conn, ())
    # a write to what every view reads (a household's segment) makes them all stale
    conn.execute(
        text(
            "UPDATE household_segment SET segment_code = segment_code WHERE uprn = (SELECT min(uprn) FROM household_segment)"
        )
    )
    assert not aggregates_fresh(conn, [s2]) and not aggregates_fresh(conn, ())


def test_stale_aggregates_are_refreshed_by_one_process_at_a_time(engine, populated) -> None:
    from geo.analysis.aggregates import refresh_if_stale

    with engine.begin() as conn:  # a committed write the views do not have yet
        conn.execute(text("UPDATE data_version SET version = version + 1 WHERE name = 'aggregates'"))
    with engine.connect() as other:  # another process is refreshing: this one does not queue
        other.begin()
        assert other.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtext('wardwise_aggregates'))")
        ).scalar()
        started = time.monotonic()
        assert refresh_if_stale(engine) is False
        assert time.monotonic() - started < 5
        other.rollback()
    with engine.connect() as conn:
        assert not aggregates_fresh(conn)
    assert refresh_if_stale(engine) is True
    with engine.connect() as conn:
        assert aggregates_fresh(conn)
    assert refresh_if_stale(engine) is False  # fresh: nothing to do
