"""Fixtures for ingest tests: the demo's raw extracts, rendered once per session."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.conftest import TEST_HOUSEHOLDS, TEST_SEED


@pytest.fixture(scope="session")
def demo_extracts(database_url: str) -> dict[str, pd.DataFrame]:
    """The raw council/police/fire extracts of the test borough (the one loaded in the database)."""
    from geo.demo import generate_borough, raw_extracts

    borough = generate_borough(households=TEST_HOUSEHOLDS, seed=TEST_SEED)
    return raw_extracts(borough)


def count(conn: Any, sql: str, **params: Any) -> int:
    """One integer from a query."""
    from sqlalchemy import text

    return int(conn.execute(text(sql), params).scalar_one())
