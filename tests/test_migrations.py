"""Alembic migrations run up and down cleanly on a fresh database."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from geo.migrate import downgrade_database, upgrade_database
from geo.models import Base
from tests.conftest import _ensure_database, _reset_schema


def test_migrations_upgrade_downgrade_and_match_models(database_url: str) -> None:
    url = make_url(database_url)
    scratch = url.set(database=f"{url.database}_migrations").render_as_string(hide_password=False)
    _ensure_database(scratch)
    _reset_schema(scratch)
    engine = create_engine(scratch)
    try:
        upgrade_database(scratch, "head")
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert set(Base.metadata.tables) <= tables
            # geometry columns carry their SRID in the type
            srid = conn.execute(
                text(
                    "SELECT srid FROM geometry_columns WHERE f_table_name='area' AND f_geometry_column='geom'"
                )
            ).scalar_one()
            assert srid == 27700
            gist = conn.execute(
                text("SELECT count(*) FROM pg_indexes WHERE tablename='area' AND indexdef ILIKE '%gist%'")
            ).scalar_one()
            assert gist == 2
            costs = dict(conn.execute(text("SELECT code, unit_cost_gbp FROM channel")).all())
            assert costs["phone"] / costs["web"] == 4 and costs["face_to_face"] / costs["web"] == 12

        downgrade_database(scratch, "base")
        with engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) & set(Base.metadata.tables)
            assert left == set()

        upgrade_database(scratch, "head")
        with engine.connect() as conn:
            assert set(Base.metadata.tables) <= set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate against the migrated test database finds nothing to add."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from geoalchemy2 import alembic_helpers

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"include_object": alembic_helpers.include_object})
            diff = [
                d
                for d in compare_metadata(ctx, Base.metadata)
                if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "spatial_ref_sys")
            ]
    finally:
        engine.dispose()
    assert diff == []
