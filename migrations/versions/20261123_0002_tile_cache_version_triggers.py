"""tile cache version triggers

Statement-level triggers bump data_version('tiles') on writes to the tables the vector
tiles read (issue 6), so the tile cache keyed by that version is invalidated by any change.

Revision ID: 0002_tiles
Revises: 0001
Create Date: 2026-11-23 04:00:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0002_tiles"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("area", "area_set", "area_membership", "address", "service_event", "site", "road_link")
SQL = Path(__file__).resolve().parents[2] / "geo" / "sql" / "tiles" / "data_version_triggers.sql"


def upgrade() -> None:
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_tiles_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS wardwise_bump_tiles_version()")
