"""catalogue, batches, tiers and counts (issue 12)

Services gain their LGSL id and LGChL channel ids; service_district records the districts
each service has data for, per batch; area_count holds counts per area with suppression;
classifications gain tiers (family, tier, tier_rank); only a loaded batch blocks loading
the same file again (failed and undone batches never do).

Revision ID: ingest12_1
Revises: scale17_3
Create Date: 2026-12-01 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ingest12_1"
down_revision: str | None = "scale17_3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("service", sa.Column("lgsl_id", sa.Integer(), nullable=True))
    op.add_column("service", sa.Column("lgchl_ids", postgresql.ARRAY(sa.Integer()), nullable=True))
    op.add_column("classification", sa.Column("family", sa.String(length=64), nullable=True))
    op.add_column("classification", sa.Column("tier", sa.String(length=32), nullable=True))
    op.add_column("classification", sa.Column("tier_rank", sa.Integer(), nullable=True))
    op.create_index("ix_classification_family", "classification", ["family"])
    op.drop_constraint("uq_ingest_batch_kind_sha256", "ingest_batch", type_="unique")
    op.create_index(
        "uq_ingest_batch_kind_sha256_loaded",
        "ingest_batch",
        ["kind", "sha256"],
        unique=True,
        postgresql_where=sa.text("status IN ('loading', 'loaded')"),
    )
    op.create_table(
        "service_district",
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_code"],
            ["service.code"],
            name="fk_service_district_service_code_service",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batch.id"],
            name="fk_service_district_batch_id_ingest_batch",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_code", "district_code", "batch_id", name="pk_service_district"),
    )
    op.create_table(
        "area_count",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("count_max", sa.Integer(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_code"], ["service.code"], name="fk_area_count_service_code_service", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["area_code"], ["area.code"], name="fk_area_count_area_code_area", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ingest_batch.id"], name="fk_area_count_batch_id_ingest_batch", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_area_count"),
    )
    op.create_index("ix_area_count_area_code", "area_count", ["area_code"])
    op.create_index("ix_area_count_batch_id", "area_count", ["batch_id"])
    op.create_index("ix_area_count_service_period", "area_count", ["service_code", "period_start"])


def downgrade() -> None:
    op.drop_table("area_count")
    op.drop_table("service_district")
    op.execute(
        "UPDATE area_set SET batch_id = NULL WHERE batch_id IN "
        "(SELECT id FROM ingest_batch WHERE status NOT IN ('loading', 'loaded', 'failed'))"
    )
    op.execute("DELETE FROM ingest_batch WHERE status NOT IN ('loading', 'loaded', 'failed')")
    op.drop_index("uq_ingest_batch_kind_sha256_loaded", table_name="ingest_batch")
    # Keep one row per (kind, sha256) so the old constraint can come back.
    op.execute(
        "DELETE FROM ingest_batch b USING ingest_batch o WHERE b.kind = o.kind AND b.sha256 = o.sha256 "
        "AND b.status = 'failed' AND b.id <> o.id AND (o.status <> 'failed' OR o.id > b.id)"
    )
    op.create_unique_constraint("uq_ingest_batch_kind_sha256", "ingest_batch", ["kind", "sha256"])
    op.drop_index("ix_classification_family", table_name="classification")
    op.drop_column("classification", "tier_rank")
    op.drop_column("classification", "tier")
    op.drop_column("classification", "family")
    op.drop_column("service", "lgchl_ids")
    op.drop_column("service", "lgsl_id")
