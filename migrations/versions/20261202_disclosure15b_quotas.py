"""job owners and shared rate-limit windows

``job.owner`` (who queued a job: ``key:<prefix>`` or ``addr:<address>``) so a per-owner quota
of queued and running jobs can be enforced in the enqueue transaction; and
``rate_limit_window``, the fixed-window hit counters every app worker shares (one atomic
upsert per request, api/security.py), so N workers do not multiply the rate limits by N
(issue 15).

Revision ID: disclosure15b_1
Revises: ingest12b_1
Create Date: 2026-12-02 01:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "disclosure15b_1"
down_revision: str | None = "ingest12b_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("job", sa.Column("owner", sa.Text(), nullable=True))
    op.create_index("ix_job_queue_owner_status", "job", ["queue", "owner", "status"])
    op.create_table(
        "rate_limit_window",
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("period_s", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("bucket", "window_start", name="pk_rate_limit_window"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_window")
    op.drop_index("ix_job_queue_owner_status", table_name="job")
    op.drop_column("job", "owner")
