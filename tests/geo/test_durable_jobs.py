"""Durable jobs: stored in PostgreSQL, seen and run by any worker, surviving a restart, cancellable (issue 17)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import text

from geo.analysis.jobs import JobQueueFull, JobRunner, UnknownJob, register_kind

RUNS: list[tuple[str, int]] = []
RUNS_LOCK = threading.Lock()


def _square(engine, payload, progress):
    """A job any worker can run: checks it has a database, reports progress, squares a number."""
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    progress(0.5)
    with RUNS_LOCK:
        RUNS.append((payload["tag"], payload["n"]))
    return {"square": payload["n"] ** 2}


GATES: dict[str, threading.Event] = {}


def _until_cancelled(engine, payload, progress):
    """Reports progress until the job is cancelled (progress raises) or 10 s pass."""
    GATES[payload["tag"]].set()
    deadline = time.monotonic() + 10
    fraction = 0.0
    while time.monotonic() < deadline:
        fraction = min(0.9, fraction + 0.01)
        progress(fraction)
        time.sleep(0.05)
    return "not cancelled"


register_kind("test.square", _square)
register_kind("test.until_cancelled", _until_cancelled)


def _runner(engine, queue: str, name: str, **kw) -> JobRunner:
    """A runner as another process would have it (its own worker name), not running jobs itself."""
    runner = JobRunner(max_workers=2, queue=queue, **kw).bind(engine, run_locally=False, lease_s=2.0)
    runner._worker = name
    return runner


def _nobody(progress):
    raise AssertionError("the closure of the submitting process must not run in another worker")


def test_a_job_is_seen_and_run_by_another_worker_after_a_restart(engine) -> None:
    queue, tag = f"test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    api = _runner(engine, queue, "api-1")
    job = api.submit("test.square", {"n": 7}, _nobody, payload={"tag": tag, "n": 7})
    assert job.status == "queued" and job.params == {"n": 7}
    api.unbind()  # the accepting process goes away before anyone runs the job

    worker = _runner(engine, queue, "worker-2")
    assert worker.get(job.id).status == "queued"  # visible from any process
    assert worker.drain() == 1
    done = _runner(engine, queue, "api-3").get(job.id)
    assert done.status == "done" and done.progress == 1.0 and done.result == {"square": 49}
    assert done.started_at is not None and done.finished_at >= done.started_at
    assert RUNS.count((tag, 7)) == 1
    assert worker.drain() == 0  # nothing left: a finished job is never run again
    with pytest.raises(UnknownJob):
        worker.get(uuid.uuid4().hex)
    with pytest.raises(UnknownJob):  # another queue's job is not this queue's
        _runner(engine, "other", "x").get(job.id)


def test_a_job_whose_worker_died_is_run_again(engine) -> None:
    queue, tag = f"test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    api = _runner(engine, queue, "api-1")
    job = api.submit("test.square", {}, _nobody, payload={"tag": tag, "n": 3})
    claimed = api.store.claim("dead-worker")  # claimed, then the worker vanished
    assert claimed is not None and claimed[0] == job.id
    survivor = _runner(engine, queue, "worker-2")
    assert survivor.drain() == 0  # its lease has not run out yet
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE job SET heartbeat_at = now() - interval '1 minute' WHERE id = :i"), {"i": job.id}
        )
    assert survivor.drain() == 1
    with engine.connect() as conn:
        attempts, worker = conn.execute(
            text("SELECT attempts, worker FROM job WHERE id = :i"), {"i": job.id}
        ).one()
    assert attempts == 2 and worker == "worker-2"
    assert survivor.get(job.id).result == {"square": 9}


def test_workers_share_a_queue_without_running_a_job_twice(engine) -> None:
    queue, tag = f"test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    api = _runner(engine, queue, "api-1", max_pending=20)
    ids = [api.submit("test.square", {}, _nobody, payload={"tag": tag, "n": n}).id for n in range(8)]
    workers = [_runner(engine, queue, f"worker-{i}") for i in range(3)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda w=w: counts.append(w.drain())) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(counts) == 8
    assert sorted(n for t, n in RUNS if t == tag) == list(range(8))  # each exactly once
    assert [api.get(i).result for i in ids] == [{"square": n * n} for n in range(8)]


def test_jobs_are_cancelled_queued_or_running_and_the_queue_is_bounded(engine) -> None:
    queue, tag = f"test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    api = _runner(engine, queue, "api-1", max_pending=2)
    queued = api.submit("test.square", {}, _nobody, payload={"tag": tag, "n": 1})
    assert api.cancel(queued.id).status == "cancelled"

    GATES[tag] = threading.Event()
    running = api.submit("test.until_cancelled", {}, _nobody, payload={"tag": tag})
    api.submit("test.square", {}, _nobody, payload={"tag": tag, "n": 2})
    with pytest.raises(JobQueueFull):
        api.submit("test.square", {}, _nobody, payload={"tag": tag, "n": 3})

    worker = _runner(engine, queue, "worker-2")
    thread = threading.Thread(target=worker.drain)
    thread.start()
    assert GATES[tag].wait(20)
    deadline = time.monotonic() + 10
    while api.get(running.id).progress == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 0 < api.get(running.id).progress < 1  # progress is stored as it runs
    started = time.monotonic()
    api.cancel(running.id)
    thread.join(30)
    assert time.monotonic() - started < 5  # stopped at its next progress report, not after 10 s
    assert api.get(running.id).status == "cancelled"
    assert api.get(queued.id).status == "cancelled"
    assert (tag, 1) not in RUNS and (tag, 2) in RUNS  # the cancelled queued job never ran


def test_the_worker_command_runs_what_is_queued(engine) -> None:
    from geo.analysis.jobs import default_runner
    from geo.worker_cli import run_worker

    tag = uuid.uuid4().hex
    before = default_runner().store
    api = _runner(engine, "analysis", "api-1")
    job = api.submit("test.square", {}, _nobody, payload={"tag": tag, "n": 12})
    assert run_worker(engine, once=True, refresh_every_s=-1) >= 1
    assert api.get(job.id).result == {"square": 144}
    assert default_runner().store is before  # the worker puts the process-wide runners back as it found them
