"""profiling household aggregates: households per classification, OA and segment

A materialized view of households per (classification, output area, segment) beside the
service-use views of 0003_profiling, and version triggers on address and area so it is never read
stale (see geo/analysis/aggregates.py).

Revision ID: 0005_profiling_households
Revises: 0004_tiles_notify
Create Date: 2026-11-23 04:20:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0005_profiling_households"
down_revision: str | None = "0004_tiles_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = ("address", "area")
SQL = Path(__file__).resolve().parents[2] / "geo" / "sql" / "analysis" / "aggregates_households.sql"


def upgrade() -> None:
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    for table in SOURCES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_aggregates_version ON {table}")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS household_oa_segment")
