"""service_event: drop the two indexes no plan uses

``ix_service_event_household_key`` (a random hash: every insert lands on a random leaf page)
and ``idx_service_event_geom`` (GiST: no query filters events by their own point; events are
placed by OA code, and H3 cells read the point only as output). EXPLAIN evidence for every
query over ``service_event`` is in docs/scaling.md ("Indexes"). Issue 17.

Revision ID: scale17b_2
Revises: scale17b_1
Create Date: 2026-12-02 01:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "scale17b_2"
down_revision: str | None = "scale17b_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_service_event_household_key")
    op.execute("DROP INDEX IF EXISTS idx_service_event_geom")


def downgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS idx_service_event_geom ON service_event USING gist (geom)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_service_event_household_key ON service_event (household_key)")
