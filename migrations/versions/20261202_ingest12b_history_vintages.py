"""undo that restores, and the OA 2011 -> 2021 lookup (issue 12, remainder)

ingest_superseded keeps, per batch of a kind that writes in place, the values each key had
before the batch, so undoing the latest batch restores the earlier one; area_vintage_lookup
holds the ONS OA11 -> OA21 lookup (U unchanged, S split, M merged, X irregular).

Revision ID: ingest12b_1
Revises: scale17b_3
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ingest12b_1"
down_revision: str | None = "scale17b_3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_superseded",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("previous", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batch.id"],
            name="fk_ingest_superseded_batch_id_ingest_batch",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "table_name", "key", name="pk_ingest_superseded"),
    )
    op.create_index("ix_ingest_superseded_key", "ingest_superseded", ["table_name", "key"])
    op.create_table(
        "area_vintage_lookup",
        sa.Column("oa11_code", sa.String(length=32), nullable=False),
        sa.Column("oa21_code", sa.String(length=32), nullable=False),
        sa.Column("change", sa.String(length=1), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batch.id"],
            name="fk_area_vintage_lookup_batch_id_ingest_batch",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("oa11_code", "oa21_code", name="pk_area_vintage_lookup"),
    )
    op.create_index("ix_area_vintage_lookup_oa21_code", "area_vintage_lookup", ["oa21_code"])
    op.create_index("ix_area_vintage_lookup_batch_id", "area_vintage_lookup", ["batch_id"])


def downgrade() -> None:
    op.drop_table("area_vintage_lookup")
    op.drop_table("ingest_superseded")
