"""Rate limits shared through PostgreSQL (issue 15): two app instances (two workers) hold the
limit in total, where per-process memory counters allowed each its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo.ratelimit import SharedWindowCounter


def _instances(database_url: str, storage: str, limit: str, n: int = 2) -> Iterator[list[TestClient]]:
    from api.main import create_app
    from api.settings import Settings

    settings = Settings(
        DATABASE_URL=database_url,
        rate_limit_enabled=True,
        rate_limit_public=limit,
        rate_limit_key="1000/minute",
        rate_limit_storage=storage,
    )
    with ExitStack() as stack:
        yield [
            stack.enter_context(TestClient(create_app(settings), raise_server_exceptions=False))
            for _ in range(n)
        ]


@pytest.fixture
def shared_pair(database_url: str) -> Iterator[list[TestClient]]:
    # a limit of its own: the bucket (address + limit) is not shared with other tests' apps
    yield from _instances(database_url, "postgres", "7/minute")


@pytest.fixture
def memory_pair(database_url: str) -> Iterator[list[TestClient]]:
    yield from _instances(database_url, "memory", "7/minute")


def _alternate(pair: list[TestClient], requests: int) -> list[int]:
    return [pair[i % 2].get("/api/v1/services").status_code for i in range(requests)]


def test_two_instances_share_one_limit_through_postgres(shared_pair: list[TestClient], engine: Any) -> None:
    answers = _alternate(shared_pair, 10)
    assert answers.count(200) == 7 and answers[:7] == [200] * 7, answers
    assert answers[7:] == [429, 429, 429], answers
    refused = shared_pair[0].get("/api/v1/services")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "7 per 1 minute" in refused.json()["detail"]
    from sqlalchemy import text

    with engine.connect() as conn:
        hits = conn.execute(
            text("SELECT sum(hits) FROM rate_limit_window WHERE bucket LIKE 'addr:testclient|7/60s'")
        ).scalar_one()
    assert hits == 11  # every hit of both instances counted in one row set


def test_memory_counters_allow_each_instance_its_own_limit(memory_pair: list[TestClient]) -> None:
    """What the shared storage fixes: per-process counters let two workers serve twice the limit."""
    answers = _alternate(memory_pair, 16)
    assert answers.count(200) == 14, answers


def test_the_sliding_window_estimate_weights_the_previous_window(engine: Any) -> None:
    counter = SharedWindowCounter(engine)
    bucket = f"test:{uuid.uuid4().hex}"
    start = 1_800_000_000.0  # a window boundary for a 60 s period (divisible by 60)
    # 10 hits at the end of one window
    decisions = [counter.hit(bucket, 10, 60, now=start - 1) for _ in range(11)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    # just after the boundary the previous window still weighs ~11: refused, not a fresh burst
    early = counter.hit(bucket, 10, 60, now=start + 3)
    assert not early.allowed and early.estimate == pytest.approx(11 * (1 - 3 / 60) + 1)
    assert 1 <= early.retry_after_s <= 57
    # three quarters through, 11 x 0.25 + 2 = 4.75 hits: allowed
    late = counter.hit(bucket, 10, 60, now=start + 45)
    assert late.allowed and late.estimate == pytest.approx(11 * 0.25 + 2)
    # two windows on, the old rows are forgotten by the first hit of a window
    counter._forgotten_at = 0.0
    counter.hit(f"{bucket}:other", 10, 60, now=start + 180)
    from sqlalchemy import text

    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM rate_limit_window WHERE bucket = :b"), {"b": bucket}
        ).scalar_one()
    assert left == 0
