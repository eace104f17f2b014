"""Results cached per data version: an answer is reused until the data under it changes.

Versions are small (issue 17). Besides the legacy ``data_version`` rows (bumped explicitly by
ingest batches and demo loads), ``data_version_scope`` holds one counter per

* ``('service', district, service)``: bumped by any write to ``service_event`` rows of that
  district and service;
* ``('geography', '', 'level:<level>' | 'set:<code>')``: writes to ``area``,
  ``area_membership`` or ``area_set`` of that level or custom set;
* ``('table', '', <table>)``: writes to a reference table (addresses, sites, roads,
  segments, classifications).

Triggers bump them inside the writing transaction (``geo/sql/versions/scoped_versions.sql``),
so a new version becomes visible exactly when the new data does. An answer declares what it
:class:`Depends` on; its version is the sum of the matching counters (every counter only
grows, so the sum changes exactly when one of them does) plus the legacy rows. An ingest of
one service in one district therefore leaves every other service's and district's answers
cached.

Stale-while-revalidate: a cache built with ``max_stale_s > 0`` that finds only an answer of
an older version returns it at once (marked stale, see :data:`ANSWER`) and recomputes in
the background on a connection of its own, for at most ``max_stale_s`` seconds after it
first saw the newer version; after that a reader waits for the new answer. A connection
whose own transaction has written (uncommitted data, e.g. a test inside a rolled-back
transaction) never reads from or fills the cache: its view is private.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, text

T = TypeVar("T")
log = logging.getLogger("wardwise.cache")

#: Scoped-version key: (scope, district_code, subject).
ScopeKey = tuple[str, str, str]


@dataclass(frozen=True)
class Depends:
    """What an answer depends on: services (and their districts), geographies, reference tables.

    ``None`` means every one; an empty tuple means none. ``districts`` narrows ``services``
    only (geographies and reference tables are shared by every district).
    """

    services: tuple[str, ...] | None = None
    districts: tuple[str, ...] | None = None
    geographies: tuple[str, ...] | None = None
    tables: bool = True

    def matches(self, key: ScopeKey) -> bool:
        """Whether a write to ``key`` can change an answer with these dependencies."""
        scope, district, subject = key
        if scope == "service":
            return (self.services is None or subject in self.services) and (
                self.districts is None or district in self.districts
            )
        if scope == "geography":
            return self.geographies is None or subject in self.geographies
        return self.tables

    def params(self) -> dict[str, Any]:
        """Bind parameters for the version query."""
        return {
            "all_services": self.services is None,
            "services": list(self.services or ()),
            "all_districts": self.districts is None,
            "districts": list(self.districts or ()),
            "all_geos": self.geographies is None,
            "geos": list(self.geographies or ()),
            "tables": self.tables,
        }


#: Depends on everything (the old single global version).
EVERYTHING = Depends()


def geography_subject(level: str | None, set_code: str | None = None) -> str:
    """The geography scope of a level (``level:ward``) or a custom set (``set:<code>``)."""
    return f"set:{set_code}" if level == "custom" or (level is None and set_code) else f"level:{level}"


_VERSION_SQL = text(
    """
    SELECT (SELECT coalesce(sum(version), 0) FROM data_version)
         + (SELECT coalesce(sum(version), 0) FROM data_version_scope
            WHERE (scope = 'service'
                   AND (CAST(:all_services AS boolean) OR subject = ANY(CAST(:services AS text[])))
                   AND (CAST(:all_districts AS boolean) OR district_code = ANY(CAST(:districts AS text[]))))
               OR (scope = 'geography'
                   AND (CAST(:all_geos AS boolean) OR subject = ANY(CAST(:geos AS text[]))))
               OR (scope = 'table' AND CAST(:tables AS boolean))),
           pg_current_xact_id_if_assigned() IS NOT NULL
    """
)

_SNAPSHOT_SQL = (
    "SELECT 'legacy', '', name, version FROM data_version "
    "UNION ALL SELECT scope, district_code, subject, version FROM data_version_scope"
)


def data_version(conn: Connection, deps: Depends = EVERYTHING) -> tuple[int, bool]:
    """The data version of what ``deps`` covers, and whether this connection's transaction has written."""
    version, dirty = conn.execute(_VERSION_SQL, deps.params()).one()
    return int(version), bool(dirty)


@dataclass(frozen=True)
class VersionSnapshot:
    """Every version counter at one moment (what a LISTENing watcher keeps in memory)."""

    legacy: int
    scoped: Mapping[ScopeKey, int]

    def version(self, deps: Depends = EVERYTHING) -> int:
        """The same sum :func:`data_version` computes, from memory."""
        return self.legacy + sum(v for k, v in self.scoped.items() if deps.matches(k))

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, int]]) -> VersionSnapshot:
        """From (scope, district, subject, version) rows; scope 'legacy' rows are summed."""
        legacy = 0
        scoped: dict[ScopeKey, int] = {}
        for scope, district, subject, version in rows:
            if scope == "legacy":
                legacy += int(version)
            else:
                scoped[(scope, district, subject)] = int(version)
        return cls(legacy, scoped)


def read_snapshot(cursor_or_conn: Any) -> VersionSnapshot:
    """Read every counter (psycopg connection or SQLAlchemy connection)."""
    if isinstance(cursor_or_conn, Connection):
        rows = cursor_or_conn.execute(text(_SNAPSHOT_SQL)).all()
    else:
        rows = cursor_or_conn.execute(_SNAPSHOT_SQL).fetchall()
    return VersionSnapshot.from_rows(rows)


def cache_key(*parts: Any) -> str:
    """A stable key from JSON-able parts (dicts sorted, dates and enums as strings)."""
    return json.dumps(parts, sort_keys=True, default=str)


# --------------------------------------------------------------------------- answer metadata

#: Per-request record of the answers served: the API sets a fresh dict per request and turns
#: it into ``X-Wardwise-Data-Version``, ``Age`` and ``Warning`` headers. Outside a request it
#: is None and nothing is recorded.
ANSWER: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "wardwise_answer", default=None
)


def note_answer(version: int, *, stale: bool, age_s: float) -> None:
    """Record that the current request was answered at ``version`` (stale or not)."""
    meta = ANSWER.get()
    if meta is None:
        return
    meta["version"] = version
    if stale:
        meta["stale"] = True
        meta["age_s"] = max(float(meta.get("age_s", 0.0)), age_s)


def answer_headers(meta: Mapping[str, Any]) -> dict[str, str]:
    """The response headers for a request's answer metadata."""
    headers: dict[str, str] = {}
    if "version" in meta:
        headers["X-Wardwise-Data-Version"] = str(meta["version"])
    if meta.get("stale"):
        headers["Age"] = str(int(meta.get("age_s", 0)))
        headers["Warning"] = '110 - "Response is Stale"'
    return headers


# --------------------------------------------------------------------------- the cache

_REVALIDATE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wardwise-revalidate")


@dataclass
class _Entry(Generic[T]):
    version: int
    value: T
    stale_since: float | None = None


class VersionedCache(Generic[T]):
    """A thread-safe LRU of results keyed by key, each tagged with its data version.

    ``max_stale_s > 0`` turns on stale-while-revalidate (see the module docstring).
    """

    def __init__(self, max_entries: int = 256, *, max_stale_s: float = 0.0) -> None:
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        self._refreshing: set[str] = set()
        self.max_stale_s = max_stale_s

    def get_or_compute(
        self,
        conn: Connection,
        key: str,
        compute: Callable[[], T],
        *,
        deps: Depends = EVERYTHING,
        recompute: Callable[[Connection], T] | None = None,
    ) -> T:
        """Return the cached result for ``key`` at the current version of ``deps``.

        The key includes the disclosure policy the connection carries
        (:func:`geo.disclosure.policy_of`): results computed from a public caller's
        protected counts are never served to an officer, nor true ones to the public.

        ``recompute(connection)`` lets a stale answer be refreshed in the background on a
        connection of its own; without it (or with ``max_stale_s == 0``) a reader waits.
        """
        from geo.disclosure import policy_of

        key = f"{key}|{policy_of(conn)!r}"
        version, dirty = data_version(conn, deps)
        if dirty:
            return compute()
        if recompute is not None and self.max_stale_s > 0:
            stale = self._stale(key, version)
            if stale is not None:
                self._revalidate(conn, key, deps, recompute)
                return stale
        return self.get_or_compute_at(version, key, compute)

    def get_or_compute_at(self, version: int, key: str, compute: Callable[[], T]) -> T:
        """As :meth:`get_or_compute`, at a data version the caller already knows."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                self._entries.move_to_end(key)
                note_answer(version, stale=False, age_s=0.0)
                return entry.value
        value = compute()  # outside the lock: two racing misses compute twice, harmlessly
        self._put(key, version, value)
        note_answer(version, stale=False, age_s=0.0)
        return value

    def _put(self, key: str, version: int, value: T) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version > version:
                return  # a newer answer got here first
            self._entries[key] = _Entry(version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def _stale(self, key: str, version: int) -> T | None:
        """An older answer still within the staleness bound, or None."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.version >= version:
                return None
            if entry.stale_since is None:
                entry.stale_since = now
            age = now - entry.stale_since
            if age > self.max_stale_s:
                return None
            note_answer(entry.version, stale=True, age_s=age)
            return entry.value

    def _revalidate(
        self, conn: Connection, key: str, deps: Depends, recompute: Callable[[Connection], T]
    ) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
        engine = conn.engine

        def run() -> None:
            try:
                with engine.connect() as own:
                    version, _ = data_version(own, deps)
                    self._put(key, version, recompute(own))
            except Exception:  # noqa: BLE001 - a failed refresh leaves the stale answer until its bound
                log.warning("background refresh of %s failed", key, exc_info=True)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        _REVALIDATE.submit(run)

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Block until no background refresh of this cache is running (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._refreshing and time.monotonic() < deadline:
            time.sleep(0.01)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


_STALENESS_CACHES: list[VersionedCache[Any]] = []


def register_for_staleness(cache: VersionedCache[Any]) -> VersionedCache[Any]:
    """Let :func:`configure_staleness` set this cache's bound (the API sets it from settings)."""
    _STALENESS_CACHES.append(cache)
    return cache


def configure_staleness(max_stale_s: float) -> None:
    """Set the stale-while-revalidate bound of every registered cache (0 turns it off)."""
    for cache in _STALENESS_CACHES:
        cache.max_stale_s = max_stale_s
