"""Background jobs with progress, for analyses too heavy for one request (permutation runs).

Durable (issue 17): once a runner is bound to an engine (:func:`bind_jobs`, which the API and
``wardwise worker`` call at start-up), every job is a row of ``job`` in PostgreSQL. Any
process sees it (a poll answered by another uvicorn worker finds it), it survives a restart
(a queued job waits for the next worker; a running job whose worker stopped heart-beating
for ``lease_s`` is claimed again, at most ``max_attempts`` times), it can be cancelled
(:meth:`JobRunner.cancel`: a queued job at once, a running one at its next progress report)
and its progress is stored as it runs. Workers claim the oldest queued job of their queue
with ``SELECT ... FOR UPDATE SKIP LOCKED``, so any number of them share one queue without
running a job twice and without a queue library (one table, three statements, all in
``geo/sql/jobs/``).

A job is run by a handler registered for its kind (:func:`register_kind`) from a pickled
payload, so any worker can run any job; the process that accepted a job runs the closure it
was given when it claims the job itself. Results are pickled too (a hot-spot result is a
DataFrame); only workers write them. A runner that was never bound keeps the old in-memory
behaviour (one process, results forgotten on restart): unit tests and scripts use that.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import pickle
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine

from geo.db import load_sql
from geo.errors import InvalidRequest, NotFound, WardwiseError

log = logging.getLogger("wardwise.jobs")

Status = Literal["queued", "running", "done", "failed", "cancelled"]

#: kind -> handler(engine, payload, progress) -> result; payload is what submit() pickled.
Handler = Callable[[Engine, Any, Callable[[float], None]], Any]
_HANDLERS: dict[str, Handler] = {}


class UnknownJob(NotFound):
    """No job has the given id (or it finished long enough ago to be forgotten)."""


class JobQueueFull(InvalidRequest):
    """Too many jobs are waiting; the caller should retry later."""


class JobCancelled(WardwiseError):
    """Raised inside a job's progress callback once the job has been cancelled."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def register_kind(kind: str, handler: Handler) -> None:
    """Let any worker run jobs of ``kind``: ``handler(engine, payload, progress)``."""
    _HANDLERS[kind] = handler


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


def worker_name() -> str:
    """This process, as recorded on the jobs it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobStore:
    """The ``job`` table of one queue: enqueue, claim (SKIP LOCKED), progress, finish, cancel."""

    def __init__(self, engine: Engine, queue: str, *, lease_s: float = 60.0, max_attempts: int = 3) -> None:
        self.engine = engine
        self.queue = queue
        self.lease_s = lease_s
        self.max_attempts = max_attempts

    def enqueue(
        self, job_id: str, kind: str, params: dict[str, Any], payload: Any, max_pending: int, keep: int
    ) -> None:
        """Store a queued job unless the queue already holds ``max_pending``; forget old ones."""
        with self.engine.begin() as conn:
            # one enqueue at a time per queue, so the pending count cannot be overtaken
            conn.execute(load_sql("jobs/lock_queue"), {"queue": self.queue})
            pending = conn.execute(load_sql("jobs/pending"), {"queue": self.queue}).scalar_one()
            if pending >= max_pending:
                raise JobQueueFull(
                    f"{pending} jobs are already queued or running: try again when one finishes"
                )
            conn.execute(
                load_sql("jobs/enqueue"),
                {
                    "id": job_id,
                    "queue": self.queue,
                    "kind": kind,
                    "params": json.dumps(params, default=str),
                    "payload": pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL),
                },
            )
            conn.execute(load_sql("jobs/forget_old"), {"queue": self.queue, "keep": keep})
            conn.exec_driver_sql("NOTIFY wardwise_jobs")

    def claim(self, worker: str) -> tuple[str, str, Any] | None:
        """Take the oldest runnable job of the queue: (id, kind, payload), or None."""
        with self.engine.begin() as conn:
            conn.execute(
                load_sql("jobs/fail_abandoned"),
                {"queue": self.queue, "lease_s": self.lease_s, "max_attempts": self.max_attempts},
            )
            row = conn.execute(
                load_sql("jobs/claim"), {"queue": self.queue, "worker": worker, "lease_s": self.lease_s}
            ).one_or_none()
        if row is None:
            return None
        return row.id, row.kind, pickle.loads(row.payload)

    def progress(self, job_id: str, worker: str, fraction: float) -> bool:
        """Store progress and heart-beat; return whether the job was cancelled meanwhile."""
        with self.engine.begin() as conn:
            cancelled = conn.execute(
                load_sql("jobs/progress"), {"id": job_id, "worker": worker, "progress": fraction}
            ).scalar_one_or_none()
        return bool(cancelled) or cancelled is None  # None: the job is no longer ours

    def heartbeat(self, job_ids: list[str], worker: str) -> None:
        """Renew the lease of the jobs ``worker`` is running."""
        if not job_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(load_sql("jobs/heartbeat"), {"ids": job_ids, "worker": worker})

    def finish(self, job_id: str, worker: str, status: Status, error: str | None, result: Any) -> None:
        """Record the end of a job this worker ran (the result pickled when done)."""
        blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL) if status == "done" else None
        with self.engine.begin() as conn:
            conn.execute(
                load_sql("jobs/finish"),
                {"id": job_id, "worker": worker, "status": status, "error": error, "result": blob},
            )

    def cancel(self, job_id: str) -> None:
        """Cancel a queued job now, or flag a running one to stop; UnknownJob if there is none."""
        with self.engine.begin() as conn:
            found = conn.execute(
                load_sql("jobs/cancel"), {"id": job_id, "queue": self.queue}
            ).scalar_one_or_none()
        if found is None:
            raise UnknownJob(f"no job has the id {job_id!r}")

    def get(self, job_id: str) -> Job:
        """The job with its result, or UnknownJob."""
        with self.engine.connect() as conn:
            row = conn.execute(load_sql("jobs/get"), {"id": job_id, "queue": self.queue}).one_or_none()
        if row is None:
            raise UnknownJob(f"no job has the id {job_id!r}")
        return Job(
            id=row.id,
            kind=row.kind,
            params=row.params,
            status=row.status,
            progress=float(row.progress),
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            error=row.error,
            result=pickle.loads(row.result) if row.result is not None else None,
        )


class JobRunner:
    """Runs jobs in a small thread pool: in memory, or durably once bound to an engine."""

    def __init__(
        self, max_workers: int = 1, keep: int = 200, max_pending: int = 8, *, queue: str = "analysis"
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="wardwise-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep
        self._max_pending = max_pending
        self.queue = queue
        self.store: JobStore | None = None
        self.run_locally = True
        self._local_work: dict[str, Callable[[Callable[[float], None]], Any]] = {}
        self._running: set[str] = set()
        self._worker = worker_name()
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ binding

    def bind(self, engine: Engine, *, run_locally: bool = True, lease_s: float = 60.0) -> JobRunner:
        """Keep jobs in PostgreSQL from now on; ``run_locally`` lets this process run them too."""
        return self.use_store(JobStore(engine, self.queue, lease_s=lease_s), run_locally=run_locally)

    def use_store(self, store: JobStore, *, run_locally: bool = True) -> JobRunner:
        """Keep jobs in ``store`` (as :meth:`bind`, with a store already made)."""
        self.store = store
        self.run_locally = run_locally
        self._stop.clear()
        if self._heartbeat is None or not self._heartbeat.is_alive():
            self._heartbeat = threading.Thread(target=self._beat, name=f"jobs-{self.queue}", daemon=True)
            self._heartbeat.start()
        if run_locally:
            self._pool.submit(self.drain)  # anything left queued from before a restart
        return self

    def unbind(self) -> None:
        """Back to in-memory jobs (stops the heart-beat; running jobs finish)."""
        self._stop.set()
        self.store = None

    def _beat(self) -> None:
        while not self._stop.wait(max(1.0, (self.store.lease_s if self.store else 60.0) / 4)):
            store = self.store
            if store is None:
                return
            try:
                store.heartbeat(sorted(self._running), self._worker)
            except Exception:  # noqa: BLE001 - a missed beat only risks a re-run after the lease
                log.warning("job heart-beat failed", exc_info=True)

    # ------------------------------------------------------------------ submit / run

    def submit(
        self,
        kind: str,
        params: dict[str, Any],
        work: Callable[[Callable[[float], None]], Any],
        *,
        payload: Any = None,
    ) -> Job:
        """Queue ``work(progress)``; ``progress(fraction)`` updates the job as it runs.

        Bound to an engine, the job is stored; ``payload`` (pickled) is what the handler
        registered for ``kind`` gets when another process runs it.
        """
        if self.store is None:
            return self._submit_in_memory(kind, params, work)
        job_id = uuid.uuid4().hex
        self.store.enqueue(job_id, kind, params, payload, self._max_pending, self._keep)
        self._local_work[job_id] = work
        if self.run_locally:
            self._pool.submit(self.drain)
        return self.store.get(job_id)

    def drain(self) -> int:
        """Claim and run queued jobs of this queue until none is left; return how many ran."""
        ran = 0
        while (store := self.store) is not None:
            claimed = store.claim(self._worker)
            if claimed is None:
                break
            self._run_claimed(store, *claimed)
            ran += 1
        return ran

    def _run_claimed(self, store: JobStore, job_id: str, kind: str, payload: Any) -> None:
        work = self._local_work.pop(job_id, None)
        if work is None:
            handler = _HANDLERS.get(kind)
            if handler is None:
                store.finish(
                    job_id, self._worker, "failed", f"no worker here can run jobs of kind {kind!r}", None
                )
                return
            engine = store.engine

            def work(progress: Callable[[float], None]) -> Any:
                return handler(engine, payload, progress)

        last = [0.0]

        def progress(fraction: float) -> None:
            now = time.monotonic()
            if now - last[0] < 0.2 and fraction < 1.0:
                return
            last[0] = now
            if store.progress(job_id, self._worker, max(0.0, min(1.0, float(fraction)))):
                raise JobCancelled(f"job {job_id} was cancelled")

        self._running.add(job_id)
        try:
            result = work(progress)
            store.finish(job_id, self._worker, "done", None, result)
        except JobCancelled:
            store.finish(job_id, self._worker, "cancelled", "cancelled", None)
        except WardwiseError as exc:
            store.finish(job_id, self._worker, "failed", str(exc), None)
        except Exception:  # noqa: BLE001 - a job must record failure, never kill the worker
            log.exception("job %s (%s) failed", job_id, kind)
            store.finish(job_id, self._worker, "failed", "internal error", None)
        finally:
            self._running.discard(job_id)

    def _submit_in_memory(
        self, kind: str, params: dict[str, Any], work: Callable[[Callable[[float], None]], Any]
    ) -> Job:
        job = Job(id=uuid.uuid4().hex, kind=kind, params=params)
        with self._lock:
            pending = sum(j.status in ("queued", "running") for j in self._jobs.values())
            if pending >= self._max_pending:
                raise JobQueueFull(
                    f"{pending} jobs are already queued or running: try again when one finishes"
                )
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)

        def progress(fraction: float) -> None:
            if job.status == "cancelled":
                raise JobCancelled(f"job {job.id} was cancelled")
            job.progress = max(job.progress, min(1.0, float(fraction)))

        def run() -> None:
            if job.status == "cancelled":
                return
            job.status = "running"
            job.started_at = _now()
            try:
                job.result = work(progress)
                job.progress = 1.0
                job.status = "done"
            except JobCancelled:
                job.error = "cancelled"
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

    # ------------------------------------------------------------------ reading

    def get(self, job_id: str) -> Job:
        """The job with this id, or UnknownJob."""
        if self.store is not None:
            return self.store.get(job_id)
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no job has the id {job_id!r} (jobs are kept in memory, latest {self._keep})")
        return job

    def cancel(self, job_id: str) -> Job:
        """Cancel a job: a queued one never runs; a running one stops at its next progress report."""
        if self.store is not None:
            self.store.cancel(job_id)
            return self.store.get(job_id)
        job = self.get(job_id)
        if job.status in ("queued", "running"):
            job.status = "cancelled"
            job.error = "cancelled"
            job.finished_at = _now()
        return job

    def wait(self, job_id: str, timeout_s: float = 60.0) -> Job:
        """Block until the job finishes or ``timeout_s`` passes (for the CLI and tests)."""
        deadline = time.monotonic() + timeout_s
        job = self.get(job_id)
        while job.status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.02 if self.store is None else 0.1)
            job = self.get(job_id)
        return job


@functools.cache
def default_runner() -> JobRunner:
    """The process-wide job runner."""
    return JobRunner()


#: What :func:`bind_jobs` replaced, so :func:`unbind_jobs` can put it back.
Binding = list[tuple[JobRunner, "JobStore | None", bool]]


def bind_jobs(engine: Engine, *, run_locally: bool = True) -> Binding:
    """Keep every queue's jobs in PostgreSQL (the API and ``wardwise worker`` call this).

    Returns what was bound before, for :func:`unbind_jobs` (two apps in one process, as in
    tests, each put back what they found).
    """
    from geo.ingest.jobs import ingest_runner
    from geo.planning.jobs import planning_runner

    previous: Binding = []
    for runner in (default_runner(), planning_runner(), ingest_runner()):
        previous.append((runner, runner.store, runner.run_locally))
        runner.bind(engine, run_locally=run_locally)
    return previous


def unbind_jobs(previous: Binding | None = None) -> None:
    """Undo :func:`bind_jobs`: back to what it replaced (default: in-memory jobs)."""
    from geo.ingest.jobs import ingest_runner
    from geo.planning.jobs import planning_runner

    if previous is None:
        previous = [(runner, None, True) for runner in (default_runner(), planning_runner(), ingest_runner())]
    for runner, store, run_locally in previous:
        if store is None:
            runner.unbind()
        else:
            runner.use_store(store, run_locally=run_locally)
