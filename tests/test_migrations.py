"""Alembic migrations run up and down cleanly on a fresh database."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from geo.models import Base
from tests.conftest import MIGRATION_LOG


def test_migrations_upgrade_downgrade_and_match_models(database_url: str, conn) -> None:
    """The session set-up ran head -> base -> head on an empty database; check each step."""
    ours = set(Base.metadata.tables)
    assert ours <= MIGRATION_LOG["after_upgrade"]
    assert MIGRATION_LOG["after_downgrade"] & ours == set()
    assert MIGRATION_LOG["after_downgrade"] <= {"alembic_version"}
    assert MIGRATION_LOG["after_second_upgrade"] == MIGRATION_LOG["after_upgrade"]

    # geometry columns carry their SRID in the type, with GiST indexes
    srid = conn.execute(
        text(
            "SELECT srid FROM geometry_columns WHERE f_table_schema = current_schema() AND f_table_name='area' AND f_geometry_column='geom'"
        )
    ).scalar_one()
    assert srid == 27700
    gist = conn.execute(
        text(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename='area' "
            "AND indexdef ILIKE '%gist%'"
        )
    ).scalar_one()
    assert gist == 2
    costs = dict(conn.execute(text("SELECT code, unit_cost_gbp FROM channel")).all())
    assert costs["phone"] / costs["web"] == 4 and costs["face_to_face"] / costs["web"] == 12


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
