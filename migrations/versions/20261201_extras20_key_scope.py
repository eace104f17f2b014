"""key scope: API keys limited to areas (districts) and services

Two nullable text arrays on api_key: NULL means unlimited (every existing key stays as it
was). See geo.auth.KeyScope and docs/security.md.

Revision ID: extras20_1
Revises: ingest12_1
Create Date: 2026-12-01 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "extras20_1"
down_revision: str | None = "ingest12_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_key", sa.Column("scope_areas", postgresql.ARRAY(sa.Text()), nullable=True))
    op.add_column("api_key", sa.Column("scope_services", postgresql.ARRAY(sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column("api_key", "scope_services")
    op.drop_column("api_key", "scope_areas")
