"""scoped data versions

One version per (district, service), per geography and per reference table
(``data_version_scope``) bumped by statement-level triggers with transition tables, in place of
the triggers that bumped the single ``data_version('tiles')`` and ``('aggregates')`` rows on
every write (issue 17). ``aggregate_refresh_scope`` records what the aggregates were refreshed
from. SQL in ``geo/sql/versions/scoped_versions.sql``.

Revision ID: scale17_1
Revises: planning16_1
Create Date: 2026-12-01 21:45:00
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "scale17_1"
down_revision: str | None = "planning16_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROOT = Path(__file__).resolve().parents[2] / "geo" / "sql"
SCOPED = ("service_event", "area", "area_membership", "area_set")
TABLES = ("address", "site", "road_link", "household_segment", "area_segment", "classification")


def upgrade() -> None:
    op.execute((ROOT / "versions" / "scoped_versions.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    for table in SCOPED:
        for suffix in ("ins", "upd", "del", "trunc"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_scope_{suffix} ON {table}")
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_scope ON {table}")
    op.execute("DROP TABLE IF EXISTS aggregate_refresh_scope")
    op.execute("DROP TABLE IF EXISTS data_version_scope")
    for fn in ("service_event", "area", "area_set", "table"):
        op.execute(f"DROP FUNCTION IF EXISTS wardwise_scope_{fn}()")
    # Put the one-row triggers back as they were.
    op.execute((ROOT / "tiles" / "data_version_triggers.sql").read_text(encoding="utf-8"))
    op.execute(
        """
        DO $$
        DECLARE t text;
        BEGIN
            FOREACH t IN ARRAY ARRAY['service_event', 'household_segment', 'area_segment', 'classification',
                                     'address', 'area']
            LOOP
                EXECUTE format('CREATE TRIGGER trg_%s_aggregates_version AFTER INSERT OR UPDATE OR DELETE '
                               'OR TRUNCATE ON %I FOR EACH STATEMENT '
                               'EXECUTE FUNCTION wardwise_bump_aggregates_version()', t, t);
            END LOOP;
        END
        $$
        """
    )
