"""data version notify

A statement-level trigger on data_version sends NOTIFY wardwise_data_version at commit,
so tile servers keep the data version in memory (issue 6) instead of reading it per tile.

Revision ID: 0004_tiles_notify
Revises: 0003_profiling
Create Date: 2026-11-23 04:30:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0004_tiles_notify"
down_revision: str | None = "0003_profiling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL = Path(__file__).resolve().parents[2] / "geo" / "sql" / "tiles" / "data_version_notify.sql"


def upgrade() -> None:
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_data_version_notify ON data_version")
    op.execute("DROP FUNCTION IF EXISTS wardwise_notify_data_version()")
