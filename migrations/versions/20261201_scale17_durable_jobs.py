"""durable jobs

The ``job`` table: background jobs (hot-spot permutations, planning solves) stored in
PostgreSQL and claimed by any worker with ``FOR UPDATE SKIP LOCKED`` (issue 17). SQL in
``geo/sql/jobs/create.sql``.

Revision ID: scale17_3
Revises: scale17_2
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "scale17_3"
down_revision: str | None = "scale17_2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL = Path(__file__).resolve().parents[2] / "geo" / "sql" / "jobs" / "create.sql"


def upgrade() -> None:
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS job")
