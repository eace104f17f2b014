"""Test session: a real PostGIS, migrated from scratch, with a small demo borough loaded.

The database is ``WARDWISE_TEST_DATABASE_URL`` when set, otherwise the database named
``<DATABASE_URL's database>_test`` on the same server (created when missing), so a test
run never touches the data behind DATABASE_URL itself. Without a reachable PostGIS the
suite fails, saying how to provide one: it never skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from geo.db import database_url_from_env, make_engine, normalise_database_url

# The suite runs on the test borough with the built-in salt: demo mode (api/security.py
# refuses a known salt otherwise; tests/api/test_security_gaps.py checks that refusal).
os.environ.setdefault("WARDWISE_DEMO", "1")
# One TestClient address makes every request: rate limits are off unless a test builds an
# app with them (tests/api/test_security_gaps.py).
os.environ.setdefault("WARDWISE_RATE_LIMIT_ENABLED", "false")

#: Households in the test borough: big enough for planted effects to be detectable,
#: small enough to generate and load in seconds.
TEST_HOUSEHOLDS = int(os.environ.get("WARDWISE_TEST_HOUSEHOLDS", "40000"))
TEST_SEED = 20261123

HOW_TO = (
    "Wardwise's tests need PostgreSQL with PostGIS. Run `make test` (it provisions a local "
    "server), or set WARDWISE_TEST_DATABASE_URL / DATABASE_URL to a PostGIS database whose "
    "role may create databases."
)


def _test_database_url() -> str:
    explicit = os.environ.get("WARDWISE_TEST_DATABASE_URL")
    if explicit:
        return normalise_database_url(explicit)
    url = make_url(database_url_from_env())
    name = url.database or "wardwise"
    if not name.endswith("_test"):
        name = f"{name}_test"
    return url.set(database=name).render_as_string(hide_password=False)


def _ensure_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": target.database}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    except OperationalError as exc:
        pytest.fail(f"cannot reach the test database server: {exc.orig}\n{HOW_TO}", pytrace=False)
    finally:
        admin.dispose()
    engine = create_engine(target, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            assert conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).scalar(), (
                "postgis extension missing"
            )
    except (ProgrammingError, OperationalError) as exc:
        pytest.fail(f"PostGIS is not available in {target.database}: {exc.orig}\n{HOW_TO}", pytrace=False)
    finally:
        engine.dispose()


def _reset_schema(url: str) -> None:
    """Bring the test database to an empty schema whatever an earlier run left."""
    from geo.migrate import downgrade_database
    from geo.models import Base

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            has_version = inspect(conn).has_table("alembic_version")
        if has_version:
            try:
                downgrade_database(url, "base")
            except Exception:  # noqa: BLE001 - a broken earlier run: drop by hand below
                pass
        with engine.begin() as conn:
            Base.metadata.drop_all(conn, checkfirst=True)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


#: Tables present after each migration step of the session set-up (read by test_migrations).
MIGRATION_LOG: dict[str, set[str]] = {}


def _our_tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - {"spatial_ref_sys"}
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def database_url() -> str:
    """A migrated test database holding the test demo borough."""
    from geo.demo import load_demo
    from geo.migrate import downgrade_database, upgrade_database

    url = _test_database_url()
    _ensure_database(url)
    _reset_schema(url)
    # Every run migrates up, all the way down and up again on the empty database, so the
    # downgrades are exercised too; tests/test_migrations.py checks what each step left.
    upgrade_database(url, "head")
    MIGRATION_LOG["after_upgrade"] = _our_tables(url)
    downgrade_database(url, "base")
    MIGRATION_LOG["after_downgrade"] = _our_tables(url)
    upgrade_database(url, "head")
    MIGRATION_LOG["after_second_upgrade"] = _our_tables(url)
    engine = make_engine(url, pool_size=1)
    with engine.begin() as conn:
        load_demo(conn, households=TEST_HOUSEHOLDS, seed=TEST_SEED)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The session's engine on the test database."""
    eng = make_engine(database_url, pool_size=4)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        trans = connection.begin()
        try:
            yield connection
        finally:
            trans.rollback()


@pytest.fixture(scope="session")
def truth(engine: Engine) -> dict[str, Any]:
    """The planted truth of the test borough."""
    from geo.demo import demo_truth

    with engine.connect() as c:
        return demo_truth(c)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Any:
    """App settings pointing at the test database."""
    from api.settings import Settings

    return Settings(DATABASE_URL=database_url)


@pytest.fixture(scope="session")
def client(settings: Any) -> Iterator[Any]:
    """A TestClient over the real app (lifespan run, real database)."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c
