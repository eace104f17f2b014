"""Results cached per data version are reused until a write changes the version."""

from __future__ import annotations

from sqlalchemy import text

from geo.cache import VersionedCache, cache_key, data_version


def test_cache_reuses_until_a_write_and_never_serves_a_private_view(engine) -> None:
    cache: VersionedCache[int] = VersionedCache(4)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    key = cache_key("x", {"b": 1, "a": [1, 2]})
    assert key == cache_key("x", {"a": [1, 2], "b": 1})
    with engine.connect() as conn:
        assert cache.get_or_compute(conn, key, compute) == 1
        assert cache.get_or_compute(conn, key, compute) == 1  # reused
        conn.rollback()

    # A transaction that has written sees its own data: neither read from nor stored.
    with engine.connect() as conn:
        before, dirty = data_version(conn)
        assert not dirty
        conn.execute(text("UPDATE data_version SET version = version + 1 WHERE name = 'tiles'"))
        after, dirty = data_version(conn)
        assert dirty and after == before + 1
        assert cache.get_or_compute(conn, key, compute) == 2
        conn.rollback()
    with engine.connect() as conn:
        assert cache.get_or_compute(conn, key, compute) == 1  # the committed view's entry
        conn.rollback()

    # A committed write moves the version on: the old entry is not served.
    with engine.begin() as conn:
        conn.execute(text("UPDATE data_version SET version = version + 1 WHERE name = 'tiles'"))
    with engine.connect() as conn:
        assert cache.get_or_compute(conn, key, compute) == 3
        conn.rollback()
