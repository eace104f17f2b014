"""Per-caller job quota on the PostgreSQL job store (issue 15): N queued or running jobs per key
(or per address without one), 429 naming the quota with Retry-After, freed by DELETE."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from geo.analysis.jobs import JobOwner, JobQuotaExceeded, JobRunner, register_kind
from geo.auth import Role

GATE = threading.Event()  # never opened: quota jobs wait until cancelled


def _wait_for_gate(engine: Any, payload: Any, progress: Any) -> str:
    """Holds its place (running) until the test opens the gate or cancels it."""
    while not GATE.wait(0.05):
        progress(0.1)
    return "done"


register_kind("test.quota_wait", _wait_for_gate)


def _nobody(progress: Any) -> None:
    raise AssertionError("never run by the submitting runner")


def test_the_quota_is_per_owner_and_held_across_runners(engine: Any) -> None:
    """Two runners (two app workers) on one queue: the quota counts the owner's rows in the
    table, so a second worker cannot be used to double it; other owners are not affected."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    first = JobRunner(queue=queue, max_pending=50).bind(engine, run_locally=False)
    second = JobRunner(queue=queue, max_pending=50).bind(engine, run_locally=False)
    alice = JobOwner("addr:192.0.2.1", quota=2, retry_after_s=7)
    jobs = [
        first.submit("test.quota_wait", {}, _nobody, payload=None, owner=alice),
        second.submit("test.quota_wait", {}, _nobody, payload=None, owner=alice),
    ]
    for runner in (first, second):
        with pytest.raises(JobQuotaExceeded) as refused:
            runner.submit("test.quota_wait", {}, _nobody, payload=None, owner=alice)
        assert "quota of 2" in str(refused.value) and "per address" in str(refused.value)
        assert refused.value.retry_after_s == 7
    bob = JobOwner("addr:192.0.2.2", quota=2)
    other = second.submit("test.quota_wait", {}, _nobody, payload=None, owner=bob)
    # cancelling one frees a place
    first.cancel(jobs[0].id)
    again = second.submit("test.quota_wait", {}, _nobody, payload=None, owner=alice)
    for job in (jobs[1], other, again):
        first.cancel(job.id)
    assert {first.get(j.id).status for j in (*jobs, other, again)} == {"cancelled"}
    for runner in (first, second):
        runner.unbind()


def test_in_memory_runners_hold_the_quota_too() -> None:
    runner = JobRunner(max_pending=10)
    owner = JobOwner("key:abc", quota=1)
    release = threading.Event()
    runner.submit("test", {}, lambda progress: release.wait(10), owner=owner)
    with pytest.raises(JobQuotaExceeded, match="quota of 1 queued or running jobs per key"):
        runner.submit("test", {}, lambda progress: None, owner=owner)
    release.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            runner.submit("test", {}, lambda progress: None, owner=owner)
            break
        except JobQuotaExceeded:
            time.sleep(0.05)
    else:
        pytest.fail("the quota was not freed when the job finished")


def test_a_key_over_its_job_quota_gets_429_with_retry_after(
    settings: Any, auth_headers: dict[Role, dict[str, str]]
) -> None:
    """Background route searches (20 s each, one runs at a time): the third one a key queues
    is refused with 429 naming the quota and Retry-After; cancelling (DELETE) frees a place."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    quota = settings.model_copy(update={"job_quota_key": 2, "job_quota_retry_after_s": 11})
    h, other = auth_headers[Role.analyst], auth_headers[Role.officer]
    url = "/api/v1/planning/routes"
    body = {"days": ["tue"], "max_stops": 8, "time_limit_s": 20}
    held: list[str] = []
    with TestClient(create_app(quota), raise_server_exceptions=False) as client:
        try:
            for _ in range(2):
                r = client.post(url, params={"async": "true"}, json=body, headers=h)
                assert r.status_code == 202, r.text
                held.append(r.json()["id"])
            r = client.post(url, params={"async": "true"}, json=body, headers=h)
            assert r.status_code == 429, r.text
            assert r.headers["retry-after"] == "11"
            detail = r.json()["detail"]
            assert "job quota of 2" in detail and "per key" in detail and "DELETE" in detail
            # another key is not held to this key's quota
            r = client.post(url, params={"async": "true"}, json=body, headers=other)
            assert r.status_code == 202, r.text
            held.append(r.json()["id"])
            # cancelling one of the key's jobs frees its place at once
            assert client.delete(f"/api/v1/planning/jobs/{held[0]}", headers=h).status_code == 200
            r = client.post(url, params={"async": "true"}, json=body, headers=h)
            assert r.status_code == 202, r.text
            held.append(r.json()["id"])
        finally:
            for job_id in held:
                client.delete(f"/api/v1/planning/jobs/{job_id}", headers=h)
