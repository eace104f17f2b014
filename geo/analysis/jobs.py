"""Background jobs with progress, for analyses too heavy for one request (permutation runs).

Jobs run in one worker thread per process (permutation inference is numpy-bound and the
machine is shared: one at a time is the fair share) and are kept in memory, newest
``keep`` only. They do not survive a restart and are not shared between uvicorn worker
processes: a client polls the process that accepted the job, which is what the single
worker ``wardwise serve`` runs by default.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from geo.errors import InvalidRequest, NotFound, WardwiseError

log = logging.getLogger("wardwise.jobs")

Status = Literal["queued", "running", "done", "failed", "cancelled"]


class UnknownJob(NotFound):
    """No job has the given id (or it finished long enough ago to be forgotten)."""


class JobQueueFull(InvalidRequest):
    """Too many jobs are waiting; the caller should retry later."""


class JobQuotaExceeded(JobQueueFull):
    """This caller already has its quota of jobs queued or running (answered 429)."""


class JobCancelled(WardwiseError):
    """Raised inside a job's work (from its progress callback) once it has been cancelled."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Job:
    """One background job: what it is, how far it got, and its result or error."""

    id: str
    kind: str
    params: dict[str, Any]
    status: Status = "queued"
    progress: float = 0.0
    created_at: dt.datetime = field(default_factory=_now)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    error: str | None = None
    result: Any = None
    #: Who started it (an API key prefix; None from the CLI): quotas and cancelling use it.
    owner: str | None = None
    cancel_requested: bool = False

    def summary(self) -> dict[str, Any]:
        """The job as a client sees it (without the result itself)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": round(self.progress, 4),
            "params": self.params,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
        }


class JobRunner:
    """Runs jobs in a small thread pool and remembers the latest ``keep`` of them."""

    def __init__(
        self, max_workers: int = 1, keep: int = 200, max_pending: int = 8, max_per_owner: int = 2
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="wardwise-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep
        self._max_pending = max_pending
        self._max_per_owner = max_per_owner

    def submit(
        self,
        kind: str,
        params: dict[str, Any],
        work: Callable[[Callable[[float], None]], Any],
        *,
        owner: str | None = None,
    ) -> Job:
        """Queue ``work(progress)``; ``progress(fraction)`` updates the job as it runs.

        ``owner`` (an API key prefix) may have at most ``max_per_owner`` jobs queued or
        running (JobQuotaExceeded, a 429, beyond). ``progress`` raises JobCancelled once the
        job is cancelled, so work that reports progress stops at its next report.
        """
        job = Job(id=uuid.uuid4().hex, kind=kind, params=params, owner=owner)
        with self._lock:
            active = [j for j in self._jobs.values() if j.status in ("queued", "running")]
            mine = sum(j.owner == owner for j in active) if owner is not None else 0
            if mine >= self._max_per_owner:
                raise JobQuotaExceeded(
                    f"your key already has {mine} jobs queued or running (the quota is "
                    f"{self._max_per_owner}): wait for one to finish or cancel it (DELETE the job)"
                )
            pending = len(active)
            if pending >= self._max_pending:
                raise JobQueueFull(
                    f"{pending} jobs are already queued or running: try again when one finishes"
                )
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)

        def progress(fraction: float) -> None:
            if job.cancel_requested:
                raise JobCancelled(f"job {job.id} was cancelled")
            job.progress = max(job.progress, min(1.0, float(fraction)))

        def run() -> None:
            if job.cancel_requested:  # cancelled while queued: never starts
                return
            job.status = "running"
            job.started_at = _now()
            try:
                job.result = work(progress)
                job.progress = 1.0
                job.status = "cancelled" if job.cancel_requested else "done"
                if job.cancel_requested:
                    job.result = None
            except JobCancelled:
                job.status = "cancelled"
            except WardwiseError as exc:
                job.error = str(exc)
                job.status = "failed"
            except Exception:  # noqa: BLE001 - a job must record failure, never kill the worker
                log.exception("job %s (%s) failed", job.id, kind)
                job.error = "internal error"
                job.status = "failed"
            finally:
                job.finished_at = _now()

        self._pool.submit(run)
        return job

    def get(self, job_id: str) -> Job:
        """The job with this id, or UnknownJob."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no job has the id {job_id!r} (jobs are kept in memory, latest {self._keep})")
        return job

    def cancel(self, job_id: str, owner: str | None, *, any_owner: bool = False) -> Job:
        """Cancel a job: a queued one never starts; a running one stops at its next progress
        report (its result is dropped either way). Only its owner may, or ``any_owner``
        (admins); someone else's job is reported as unknown, so ids cannot be probed.
        """
        job = self.get(job_id)
        if not any_owner and job.owner != owner:
            raise UnknownJob(f"no job has the id {job_id!r} among yours")
        with self._lock:
            if job.status in ("queued", "running"):
                job.cancel_requested = True
                if job.status == "queued":
                    job.status = "cancelled"
                    job.finished_at = _now()
        return job

    def wait(self, job_id: str, timeout_s: float = 60.0) -> Job:
        """Block until the job finishes or ``timeout_s`` passes (for the CLI and tests)."""
        import time

        deadline = time.monotonic() + timeout_s
        job = self.get(job_id)
        while job.status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.02)
        return job


@functools.cache
def default_runner() -> JobRunner:
    """The process-wide job runner."""
    return JobRunner()
