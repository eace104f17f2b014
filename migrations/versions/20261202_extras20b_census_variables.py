"""census variables per area (area_variable), loaded by area-statistics files

Revision ID: extras20b_1
Revises: extras20_2
Create Date: 2026-12-02 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "extras20b_1"
down_revision: str | None = "extras20_2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "area_variable",
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("variable", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["area_code"], ["area.code"], name=op.f("fk_area_variable_area_code_area"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batch.id"],
            name=op.f("fk_area_variable_batch_id_ingest_batch"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("area_code", "variable", name=op.f("pk_area_variable")),
    )
    op.create_index(op.f("ix_area_variable_variable"), "area_variable", ["variable"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_area_variable_variable"), table_name="area_variable")
    op.drop_table("area_variable")
