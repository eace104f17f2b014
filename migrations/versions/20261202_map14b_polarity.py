"""service.polarity: is a high figure of the service good or bad (the map's palette follows)

Revision ID: map14b_1
Revises: disclosure15b_1
Create Date: 2026-12-02 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "map14b_1"
down_revision: str | None = "disclosure15b_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "service",
        sa.Column("polarity", sa.String(length=16), server_default="high_good", nullable=False),
    )
    op.create_check_constraint("ck_service_polarity", "service", "polarity IN ('high_good', 'high_bad')")


def downgrade() -> None:
    op.drop_constraint("ck_service_polarity", "service", type_="check")
    op.drop_column("service", "polarity")
