"""Small data versions: a write bumps only the (district, service), geography or table it touched,
and a stale-while-revalidate cache serves the last committed answer for a bounded time (issue 17)."""

from __future__ import annotations

import time

from sqlalchemy import Connection, text

from geo.cache import ANSWER, Depends, VersionedCache, answer_headers, data_version, read_snapshot


def _scoped(conn: Connection) -> dict[tuple[str, str, str], int]:
    rows = conn.execute(text("SELECT scope, district_code, subject, version FROM data_version_scope"))
    return {(s, d, k): int(v) for s, d, k, v in rows}


def _changed(before: dict, after: dict) -> set:
    return {k for k in after if after[k] != before.get(k)} | {k for k in before if k not in after}


def test_writes_bump_only_the_keys_they_touch(conn) -> None:
    district, s1 = conn.execute(
        text("SELECT district_code, service_code FROM service_event WHERE district_code IS NOT NULL LIMIT 1")
    ).one()
    s2 = conn.execute(
        text("SELECT code FROM service WHERE code <> :s ORDER BY code LIMIT 1"), {"s": s1}
    ).scalar_one()
    event_id = conn.execute(
        text("SELECT min(id) FROM service_event WHERE district_code = :d AND service_code = :s"),
        {"d": district, "s": s1},
    ).scalar_one()

    before = _scoped(conn)
    v_s1 = data_version(conn, Depends(services=(s1,), districts=(district,), geographies=(), tables=False))[0]
    v_s2 = data_version(conn, Depends(services=(s2,), geographies=(), tables=False))[0]
    conn.execute(text("UPDATE service_event SET channel = channel WHERE id = :i"), {"i": event_id})
    after = _scoped(conn)
    assert _changed(before, after) == {("service", district, s1)}
    assert after[("service", district, s1)] == before[("service", district, s1)] + 1
    assert (
        data_version(conn, Depends(services=(s1,), districts=(district,), geographies=(), tables=False))[0]
        == v_s1 + 1
    )
    assert data_version(conn, Depends(services=(s2,), geographies=(), tables=False))[0] == v_s2
    # the other district's versions of s1 do not move either
    assert (
        data_version(conn, Depends(services=(s1,), districts=("no-such",), geographies=(), tables=False))[0]
        == (data_version(conn, Depends(services=(), geographies=(), tables=False))[0])
    )

    # moving an event to another service bumps both (old and new rows), in one statement
    before = after
    conn.execute(text("UPDATE service_event SET service_code = :s2 WHERE id = :i"), {"s2": s2, "i": event_id})
    after = _scoped(conn)
    assert _changed(before, after) == {("service", district, s1), ("service", district, s2)}

    # one statement over many rows bumps each key once
    before = after
    n = conn.execute(
        text("DELETE FROM service_event WHERE district_code = :d AND service_code = :s"),
        {"d": district, "s": s1},
    ).rowcount
    assert n > 1
    after = _scoped(conn)
    assert _changed(before, after) == {("service", district, s1)}
    assert after[("service", district, s1)] == before[("service", district, s1)] + 1

    # geographies: a ward's write moves level:ward only; a reference table its own row
    before = after
    conn.execute(
        text("UPDATE area SET name = name WHERE code = (SELECT min(code) FROM area WHERE level = 'ward')")
    )
    after = _scoped(conn)
    assert _changed(before, after) == {("geography", "", "level:ward")}
    before = after
    conn.execute(text("UPDATE address SET town = town WHERE uprn = (SELECT min(uprn) FROM address)"))
    after = _scoped(conn)
    assert _changed(before, after) == {("table", "", "address")}

    # the snapshot a watcher keeps gives the same sums as the database
    snapshot = read_snapshot(conn)
    for deps in (Depends(), Depends(services=(s2,)), Depends(services=(), geographies=("level:ward",))):
        assert snapshot.version(deps) == data_version(conn, deps)[0]


def _probe(engine, subject: str) -> None:
    """Commit a bump of a probe scope nothing else depends on."""
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO data_version_scope AS v (scope, district_code, subject, version) "
                "VALUES ('service', 'E_PROBE', :s, 1) "
                "ON CONFLICT (scope, district_code, subject) DO UPDATE SET version = v.version + 1"
            ),
            {"s": subject},
        )


def test_stale_while_revalidate_serves_the_last_answer_within_its_bound(engine) -> None:
    subject = f"swr_probe_{time.time_ns()}"
    deps = Depends(services=(subject,), districts=("E_PROBE",), geographies=(), tables=False)
    cache: VersionedCache[int] = VersionedCache(8, max_stale_s=2.0)

    def current(conn: Connection) -> int:
        """The answer is the probe's version itself, so a stale one is recognisable."""
        return int(
            conn.execute(
                text("SELECT coalesce(max(version), 0) FROM data_version_scope WHERE subject = :s"),
                {"s": subject},
            ).scalar_one()
        )

    _probe(engine, subject)
    with engine.connect() as conn:
        assert cache.get_or_compute(conn, "k", lambda: current(conn), deps=deps, recompute=current) == 1
    _probe(engine, subject)  # version 2 committed
    meta: dict = {}
    token = ANSWER.set(meta)
    try:
        with engine.connect() as conn:
            # the last committed answer at once, marked stale; the new one computes behind it
            assert cache.get_or_compute(conn, "k", lambda: current(conn), deps=deps, recompute=current) == 1
    finally:
        ANSWER.reset(token)
    assert meta["stale"] and 0 <= meta["age_s"] <= 2.0
    headers = answer_headers(meta)
    assert headers["Warning"].startswith("110") and int(headers["Age"]) <= 2
    cache.wait_idle()
    with engine.connect() as conn:
        assert cache.get_or_compute(conn, "k", lambda: current(conn), deps=deps, recompute=current) == 2

    # past the bound a reader waits for the new answer (here the background refresh fails,
    # so the stale entry would otherwise live on)
    def failing(conn: Connection) -> int:
        raise RuntimeError("refresh failed")

    cache.max_stale_s = 0.2
    _probe(engine, subject)  # version 3
    with engine.connect() as conn:
        assert cache.get_or_compute(conn, "k", lambda: current(conn), deps=deps, recompute=failing) == 2
    cache.wait_idle()
    time.sleep(0.3)
    with engine.connect() as conn:
        assert cache.get_or_compute(conn, "k", lambda: current(conn), deps=deps, recompute=failing) == 3
    # with staleness off a reader always gets the newest
    cache.max_stale_s = 0.0
    _probe(engine, subject)  # version 4
    with engine.connect() as conn:
        assert cache.get_or_compute(conn, "k", lambda: current(conn), deps=deps, recompute=current) == 4


def test_a_write_to_one_service_leaves_anothers_answer_cached(engine) -> None:
    a, b = f"probe_a_{time.time_ns()}", f"probe_b_{time.time_ns()}"
    _probe(engine, a)
    _probe(engine, b)
    cache: VersionedCache[str] = VersionedCache(8)
    calls: list[str] = []

    def answer(name: str) -> str:
        calls.append(name)
        return name

    def get(name: str) -> str:
        with engine.connect() as conn:
            deps = Depends(services=(name,), districts=("E_PROBE",), geographies=(), tables=False)
            return cache.get_or_compute(conn, name, lambda: answer(name), deps=deps)

    get(a), get(b)
    _probe(engine, a)
    get(a), get(b)
    assert calls == [a, b, a]  # b was not recomputed


def test_tiles_turn_over_only_for_their_own_data_and_may_be_served_stale(engine) -> None:
    from geo.tiles import TileCache, TileConfig, TileParams, fetch_tile

    with engine.connect() as conn:
        x, y = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p "
                "FROM area WHERE level = 'ward' ORDER BY code LIMIT 1) q"
            )
        ).one()
        service = conn.execute(text("SELECT min(service_code) FROM service_event")).scalar_one()
    import math

    z = 12
    tx = int((x + 180) / 360 * 2**z)
    ty = int((1 - math.asinh(math.tan(math.radians(y))) / math.pi) / 2 * 2**z)
    cache = TileCache(64, max_stale_s=5.0)
    params, config = TileParams(service=service), TileConfig()

    def tile():
        return fetch_tile(engine, cache, "wards", z, tx, ty, params, config)

    first = tile()
    assert first.body_gzip is not None and first.stale_age_s is None
    assert tile().etag == first.etag  # cached
    _probe(engine, f"other_{time.time_ns()}")  # another service's write: the same tile, same ETag
    assert tile().etag == first.etag
    with engine.begin() as c:  # a write to the wards' geography
        c.execute(
            text(
                "UPDATE data_version_scope SET version = version + 1 "
                "WHERE scope = 'geography' AND subject = 'level:ward'"
            )
        )
    stale = tile()
    assert stale.stale_age_s is not None and stale.etag == first.etag and stale.body_gzip == first.body_gzip
    cache.wait_idle()
    fresh = tile()
    assert fresh.stale_age_s is None and fresh.version > first.version and fresh.etag != first.etag
    assert fresh.body_gzip == first.body_gzip  # the data itself did not change
