"""profiling aggregates: per-OA service use views and their freshness version

Materialized views of primary service events per (service, classification, OA, segment),
whole-period and per month x channel, for fast propensity tables and matrices (issue 4),
plus triggers that bump data_version('aggregates') on writes to their sources so a stale
view is never read (see geo/analysis/aggregates.py).

Revision ID: 0003_profiling
Revises: 0002_tiles
Create Date: 2026-11-23 04:00:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0003_profiling"
down_revision: str | None = "0002_tiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = ("service_event", "household_segment", "area_segment", "classification")
SQL = Path(__file__).resolve().parents[2] / "geo" / "sql" / "analysis" / "aggregates_create.sql"


def upgrade() -> None:
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    for table in SOURCES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_aggregates_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS wardwise_bump_aggregates_version()")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS service_use_oa_segment_month")
    op.execute("DROP MATERIALIZED VIEW IF EXISTS service_use_oa_segment")
    op.execute("DELETE FROM data_version WHERE name IN ('aggregates', 'aggregates_refreshed')")
