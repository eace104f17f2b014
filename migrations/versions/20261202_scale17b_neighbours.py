"""stored contiguity: queen neighbour pairs per geography

``area_neighbour`` holds each geography's queen pairs (both ways), ``area_neighbour_state``
the geography data version they were computed from (issue 17; ``geo.analysis.contiguity``).
Computed here for the areas already stored, then by every areas load.

Revision ID: scale17b_1
Revises: extras20b_1
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scale17b_1"
down_revision: str | None = "extras20b_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "area_neighbour",
        sa.Column("geography", sa.String(length=80), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("neighbour_code", sa.String(length=32), nullable=False),
        sa.Column("touches", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("geography", "code", "neighbour_code", name=op.f("pk_area_neighbour")),
    )
    op.create_table(
        "area_neighbour_state",
        sa.Column("geography", sa.String(length=80), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("geography", name=op.f("pk_area_neighbour_state")),
    )
    from geo.analysis.contiguity import refresh_neighbours

    refresh_neighbours(op.get_bind())


def downgrade() -> None:
    op.drop_table("area_neighbour_state")
    op.drop_table("area_neighbour")
