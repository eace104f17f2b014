"""Rate-limit counters shared through PostgreSQL, so every app worker and instance counts together.

The ``limits`` library's memory storage lives in one process: with N uvicorn workers (or N
instances behind a balancer) a caller gets N times the limit (issue 15). Here the counters
are rows of ``rate_limit_window`` (bucket, fixed window start, hits), bumped by one atomic
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` per request, and the decision uses the
*sliding window counter* estimate (as Cloudflare's rate limiting does)::

    estimate = previous_hits * (1 - elapsed / period) + current_hits

where ``elapsed`` is the time since the current window began. The estimate smooths the
burst a plain fixed window allows at its boundary (2x the limit across two windows). Each
hit is counted, refused or not, so a caller that keeps hammering stays refused. Old windows
(older than their bucket's previous window) are forgotten by the first hit of a new window,
at most once a minute per process.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from geo.db import load_sql


@dataclass(frozen=True)
class Decision:
    """Whether a hit is allowed, and when to retry if not (whole seconds, >= 1)."""

    allowed: bool
    retry_after_s: int
    estimate: float


class SharedWindowCounter:
    """Sliding-window-counter rate limits over ``rate_limit_window`` on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._forgotten_at = 0.0
        self._lock = threading.Lock()

    def hit(self, bucket: str, amount: int, period_s: int, now: float | None = None) -> Decision:
        """Count one hit of ``bucket`` and decide against ``amount`` hits per ``period_s`` seconds."""
        if amount < 1 or period_s < 1:
            raise ValueError(f"a rate limit needs amount >= 1 and period >= 1 s (got {amount}/{period_s} s)")
        now = time.time() if now is None else now
        window = int(now // period_s) * period_s
        previous = window - period_s
        with self.engine.begin() as conn:
            current, before = conn.execute(
                load_sql("limits/hit"),
                {"bucket": bucket, "window": window, "previous": previous, "period": period_s},
            ).one()
            if current == 1:
                self._forget(conn, now)
        elapsed = now - window
        estimate = before * (1.0 - elapsed / period_s) + current
        if estimate <= amount:
            return Decision(True, 0, estimate)
        # the estimate falls as the previous window's weight does; at the latest the next window
        if before > 0:
            wait = (estimate - amount) / (before / period_s)
            wait = min(wait, period_s - elapsed)
        else:
            wait = period_s - elapsed
        return Decision(False, max(1, math.ceil(wait)), estimate)

    def _forget(self, conn: Connection, now: float) -> None:
        with self._lock:
            if now - self._forgotten_at < 60:
                return
            self._forgotten_at = now
        conn.execute(load_sql("limits/forget"), {"now": int(now)})
