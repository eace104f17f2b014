"""Results cached per data version: an answer is reused until the data under it changes.

``data_version`` rows are bumped by statement-level triggers on every write to the tables
the analyses read (areas, memberships, addresses, segments, events, sites, roads), inside
the writing transaction, so a new version becomes visible exactly when the new data does.
A connection whose own transaction has written (uncommitted data, e.g. a test inside a
rolled-back transaction) never reads from or fills the cache: its view is private.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, text

T = TypeVar("T")

_VERSION_SQL = text(
    "SELECT coalesce(sum(version), 0), pg_current_xact_id_if_assigned() IS NOT NULL FROM data_version"
)


def data_version(conn: Connection) -> tuple[int, bool]:
    """The database's data version, and whether this connection's transaction has written."""
    version, dirty = conn.execute(_VERSION_SQL).one()
    return int(version), bool(dirty)


def cache_key(*parts: Any) -> str:
    """A stable key from JSON-able parts (dicts sorted, dates and enums as strings)."""
    return json.dumps(parts, sort_keys=True, default=str)


class VersionedCache(Generic[T]):
    """A thread-safe LRU of results keyed by (data version, key)."""

    def __init__(self, max_entries: int = 256) -> None:
        self._entries: OrderedDict[tuple[int, str], T] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get_or_compute(self, conn: Connection, key: str, compute: Callable[[], T]) -> T:
        """Return the cached result for ``key`` at the current data version, computing it once.

        The key includes the disclosure policy the connection carries
        (:func:`geo.disclosure.policy_of`): results computed from a public caller's
        protected counts are never served to an officer, nor true ones to the public.
        """
        from geo.disclosure import policy_of

        version, dirty = data_version(conn)
        if dirty:
            return compute()
        return self.get_or_compute_at(version, f"{key}|{policy_of(conn)!r}", compute)

    def get_or_compute_at(self, version: int, key: str, compute: Callable[[], T]) -> T:
        """As :meth:`get_or_compute`, at a data version the caller already knows."""
        full = (version, key)
        with self._lock:
            if full in self._entries:
                self._entries.move_to_end(full)
                return self._entries[full]
        value = compute()  # outside the lock: two racing misses compute twice, harmlessly
        with self._lock:
            self._entries[full] = value
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
