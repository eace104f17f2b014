"""concurrent aggregates

Unique indexes on the three profiling aggregates so ``refresh_aggregates`` can use
``REFRESH MATERIALIZED VIEW CONCURRENTLY`` and never lock readers out (issue 17). SQL in
``geo/sql/analysis/aggregates_unique.sql``.

Revision ID: scale17_2
Revises: scale17_1
Create Date: 2026-12-01 21:50:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "scale17_2"
down_revision: str | None = "scale17_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL = Path(__file__).resolve().parents[2] / "geo" / "sql" / "analysis" / "aggregates_unique.sql"


def upgrade() -> None:
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    for name in ("ux_service_use_oa_segment", "ux_service_use_oa_segment_month", "ux_household_oa_segment"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
