"""Engine and session factory, the PostGIS version check, and named SQL loading."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

from sqlalchemy import Connection, Engine, TextClause, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from geo.errors import DatabaseUnavailable

#: The local database `make demo` provisions; DATABASE_URL overrides it everywhere.
DEFAULT_DATABASE_URL = "postgresql+psycopg://wardwise:wardwise@127.0.0.1:5432/wardwise"

#: ST_TileEnvelope(margin => ...) and ST_AsMVT's feature-id support need PostGIS 3.1.
MIN_POSTGIS = (3, 1)


def normalise_database_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver, whatever scheme the user wrote.

    ``postgres://`` (Heroku style), ``postgresql://`` and ``postgresql+psycopg2://`` all
    become ``postgresql+psycopg://``, the one driver Wardwise installs.
    """
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_url_from_env() -> str:
    """Return DATABASE_URL from the environment, or the local default."""
    return normalise_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create the sync engine; connections are checked before use so a DB restart heals."""
    return create_engine(
        normalise_database_url(url),
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine``."""
    return sessionmaker(engine, expire_on_commit=False)


def safe_url(url: str) -> str:
    """Return the URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def postgis_version(conn: Connection) -> tuple[int, int, int]:
    """Return the PostGIS library version as a tuple, or raise if PostGIS is missing."""
    try:
        raw = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no PostGIS"
        raise DatabaseUnavailable(
            "PostGIS is not installed in this database: run `CREATE EXTENSION postgis` "
            "as a superuser, or `make demo`, which provisions it"
        ) from exc
    parts = [int(p) for p in str(raw).split(".")[:3] if p.isdigit()]
    return (parts + [0, 0, 0])[0], (parts + [0, 0, 0])[1], (parts + [0, 0, 0])[2]


def check_database(engine: Engine) -> tuple[int, int, int]:
    """Connect once, check PostGIS is recent enough, and return its version.

    Fails with a plain sentence (as martin does) rather than a driver traceback.
    """
    try:
        with engine.connect() as conn:
            version = postgis_version(conn)
    except OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to the database at {safe_url(str(engine.url))}: "
            "is PostgreSQL running, and is DATABASE_URL right?"
        ) from exc
    if version[:2] < MIN_POSTGIS:
        raise DatabaseUnavailable(
            f"PostGIS {'.'.join(map(str, version))} is too old: Wardwise needs "
            f"{'.'.join(map(str, MIN_POSTGIS))} or newer"
        )
    return version


@contextmanager
def cli_engine() -> Iterator[Engine]:
    """Yield a one-connection engine for ``DATABASE_URL``, PostGIS checked; disposed on exit.

    For command-line commands, which each make a short run of queries.
    """
    engine = make_engine(database_url_from_env(), pool_size=1)
    try:
        check_database(engine)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def cli_connection(*, begin: bool = False) -> Iterator[Connection]:
    """Yield a connection from :func:`cli_engine`; in a transaction committed on exit if ``begin``."""
    with cli_engine() as engine, engine.begin() if begin else engine.connect() as conn:
        yield conn


@functools.cache
def load_sql(name: str) -> TextClause:
    """Return the named query from ``geo/sql/`` as a SQLAlchemy text clause."""
    return text((files("geo") / "sql" / f"{name}.sql").read_text(encoding="utf-8"))


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
