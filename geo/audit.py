"""The audit log: who did what, when (ingests, exports, key management and key use).

Call :func:`record` in the same transaction as the change it describes, so the entry and
the change commit or roll back together. ``detail`` is for counts, codes and parameters:
never personal data, never a key's secret.

Action names are ``<noun>.<verb>``: ``ingest.load``, ``ingest.reject``, ``export.csv``,
``key.create``, ``key.revoke``, ``key.use``, ``key.reject``.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from geo.errors import InvalidRequest

if TYPE_CHECKING:
    from geo.auth import Viewer

_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
MAX_TARGET_LENGTH = 500


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: dt.datetime
    actor: str
    role: str | None
    action: str
    target: str | None
    detail: dict[str, Any] | None


_INSERT = text(
    "INSERT INTO audit_log (actor, role, action, target, detail) "
    "VALUES (:actor, :role, :action, :target, :detail) RETURNING id"
).bindparams(bindparam("detail", type_=JSONB))


def record(
    conn: Connection,
    viewer: Viewer | str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Write one audit entry in ``conn``'s transaction; return its id.

    Parameters
    ----------
    conn
        The connection doing the audited change (the entry commits with it).
    viewer
        Who: the request's Viewer, or an actor name such as ``"cli"``.
    action
        What, as ``noun.verb`` in lower case (``"ingest.load"``, ``"export.csv"``).
    target
        What it was done to: a batch id, a file name, a service code, a key prefix.
    detail
        JSON-serialisable extras (row counts, parameters); no personal data.
    """
    if not _ACTION.match(action) or len(action) > 64:
        raise InvalidRequest(f"audit action {action!r} is expected to look like 'noun.verb'")
    if isinstance(viewer, str):
        actor, role = viewer, None
    else:
        actor, role = viewer.actor, viewer.role.name
    params = {
        "actor": actor,
        "role": role,
        "action": action,
        "target": None if target is None else str(target)[:MAX_TARGET_LENGTH],
        "detail": detail,
    }
    return int(conn.execute(_INSERT, params).scalar_one())


def list_entries(
    conn: Connection,
    *,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: dt.datetime | None = None,
) -> list[AuditEntry]:
    """Audit entries, newest first, optionally filtered; page with ``before_id``.

    ``action`` matches exactly or as a prefix ending at a dot (``"key"`` matches
    ``"key.create"``).
    """
    rows = conn.execute(
        text(
            "SELECT id, at, actor, role, action, target, detail FROM audit_log "
            "WHERE (CAST(:before AS bigint) IS NULL OR id < :before) "
            "AND (CAST(:action AS text) IS NULL OR action = :action OR action LIKE :action_prefix) "
            "AND (CAST(:actor AS text) IS NULL OR actor = :actor) "
            "AND (CAST(:since AS timestamptz) IS NULL OR at >= :since) "
            "ORDER BY id DESC LIMIT :limit"
        ),
        {
            "before": before_id,
            "action": action,
            "action_prefix": None if action is None else action.replace("%", "").replace("_", r"\_") + ".%",
            "actor": actor,
            "since": since,
            "limit": limit,
        },
    )
    return [AuditEntry(**r._mapping) for r in rows]


class UsageMeter:
    """Counts uses of each key in memory and says when to flush a ``key.use`` entry.

    Writing an audit row on every authenticated request would double the writes of a
    busy read API, so use is recorded at most once per key per ``interval_s``, with the
    number of requests since the last entry. Thread-safe (FastAPI runs sync deps in a pool).
    """

    def __init__(self, interval_s: float = 60.0) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[float, int]] = {}

    def hit(self, prefix: str) -> int | None:
        """Count one use; return the count to record now, or None to wait."""
        now = time.monotonic()
        with self._lock:
            last, count = self._pending.get(prefix, (float("-inf"), 0))
            count += 1
            if now - last >= self.interval_s:
                self._pending[prefix] = (now, 0)
                return count
            self._pending[prefix] = (last, count)
            return None
