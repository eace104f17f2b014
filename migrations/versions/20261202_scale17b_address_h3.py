"""each address's H3 cells stored (address.h3_cells, resolutions 5 to 12)

The H3 cells of every located address, filled here for the addresses already stored and
then at every load (``geo.analysis.h3cells``). Issue 17.

Revision ID: scale17b_3
Revises: scale17b_2
Create Date: 2026-12-02 01:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "scale17b_3"
down_revision: str | None = "scale17b_2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("address", sa.Column("h3_cells", postgresql.ARRAY(sa.BigInteger()), nullable=True))
    op.create_index(
        "ix_address_h3_missing",
        "address",
        ["uprn"],
        postgresql_where=sa.text("h3_cells IS NULL AND geom IS NOT NULL"),
    )
    from geo.analysis.h3cells import store_address_cells

    store_address_cells(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_address_h3_missing", table_name="address")
    op.drop_column("address", "h3_cells")
