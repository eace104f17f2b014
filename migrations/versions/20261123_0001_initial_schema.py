"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 03:33:56.172562
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: Default unit costs (GBP per contact or transaction). Contact channels follow the
#: web 1 : phone 4 : face to face 12 : post 12 ratio used in council channel-shift
#: business cases; payment channels are per-transaction costs councils publish.
DEFAULT_CHANNELS = [
    ("web", "Web / online form", "contact", 1.00, True),
    ("phone", "Telephone", "contact", 4.00, False),
    ("face_to_face", "Face to face", "contact", 12.00, False),
    ("post", "Post", "contact", 12.00, False),
    ("email", "Email", "contact", 1.00, True),
    ("direct_debit", "Direct debit", "payment", 0.04, True),
    ("online_payment", "Online card payment", "payment", 0.09, True),
    ("bank", "Bank / BACS transfer", "payment", 0.09, True),
    ("council_cashier", "Council cashier", "payment", 0.73, False),
    ("post_office", "Post office", "payment", 1.44, False),
]


def _seed_reference_rows() -> None:
    channel = sa.table(
        "channel",
        sa.column("code", sa.String),
        sa.column("name", sa.Text),
        sa.column("kind", sa.String),
        sa.column("unit_cost_gbp", sa.Float),
        sa.column("is_digital", sa.Boolean),
    )
    op.bulk_insert(
        channel,
        [
            {"code": c, "name": n, "kind": k, "unit_cost_gbp": cost, "is_digital": d}
            for c, n, k, cost, d in DEFAULT_CHANNELS
        ],
    )
    op.execute("INSERT INTO data_version (name, version) VALUES ('tiles', 0), ('events', 0)")


def upgrade() -> None:
    # PostGIS must exist before any geometry column; creating it needs a superuser, so
    # provisioning creates it first and this is a no-op then.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_table(
        "channel",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit_cost_gbp", sa.Float(), nullable=False),
        sa.Column("is_digital", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_channel")),
    )
    op.create_table(
        "classification",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("area_level", sa.String(length=16), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_classification")),
    )
    op.create_table(
        "data_version",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_version")),
    )
    op.create_table(
        "demo_truth",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("truth", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_demo_truth")),
    )
    op.create_table(
        "ingest_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_received", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batch")),
        sa.UniqueConstraint("kind", "sha256", name="uq_ingest_batch_kind_sha256"),
    )
    op.create_geospatial_table(
        "road_link",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("road_class", sa.String(length=16), nullable=False),
        sa.Column("source", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("speed_kph", sa.Float(), nullable=False),
        sa.Column("cost_s", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=27700,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="LINESTRING",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_link")),
    )
    op.create_geospatial_index(
        "idx_road_link_geom",
        "road_link",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "idx_road_link_geom_3857",
        "road_link",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_road_link_source"), "road_link", ["source"], unique=False)
    op.create_index(op.f("ix_road_link_target"), "road_link", ["target"], unique=False)
    op.create_geospatial_table(
        "road_node",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=27700,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_node")),
    )
    op.create_geospatial_index(
        "idx_road_node_geom",
        "road_node",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "service",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("unit_costs", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_service")),
    )
    op.create_geospatial_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("is_existing", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("address_text", sa.Text(), nullable=True),
        sa.Column("uprn", sa.BigInteger(), nullable=True),
        sa.Column("oa_code", sa.String(length=32), nullable=True),
        sa.Column("road_node", sa.BigInteger(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=27700,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
    )
    op.create_geospatial_index(
        "idx_site_geom", "site", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_table(
        "area_set",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ingest_batch.id"], name=op.f("fk_area_set_batch_id_ingest_batch")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_area_set")),
    )
    op.create_table(
        "ingest_rejected_row",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batch.id"],
            name=op.f("fk_ingest_rejected_row_batch_id_ingest_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_rejected_row")),
    )
    op.create_index(
        op.f("ix_ingest_rejected_row_batch_id"), "ingest_rejected_row", ["batch_id"], unique=False
    )
    op.create_table(
        "segment",
        sa.Column("classification_code", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("typical_households", sa.Text(), nullable=True),
        sa.Column("preferred_channels", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("preferred_media", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("key_issues", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("colour", sa.String(length=7), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["classification_code"],
            ["classification.code"],
            name=op.f("fk_segment_classification_code_classification"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("classification_code", "code", name=op.f("pk_segment")),
    )
    op.create_geospatial_table(
        "service_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_ref_hash", sa.String(length=64), nullable=True),
        sa.Column("match_level", sa.String(length=16), nullable=False),
        sa.Column("uprn", sa.BigInteger(), nullable=True),
        sa.Column("household_key", sa.String(length=64), nullable=True),
        sa.Column("oa_code", sa.String(length=32), nullable=True),
        sa.Column("lsoa_code", sa.String(length=32), nullable=True),
        sa.Column("ward_code", sa.String(length=32), nullable=True),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("duplicate_of", sa.BigInteger(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=27700,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batch.id"],
            name=op.f("fk_service_event_batch_id_ingest_batch"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["service.code"], name=op.f("fk_service_event_service_code_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_event")),
    )
    op.create_geospatial_index(
        "idx_service_event_geom",
        "service_event",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_service_event_batch_id"), "service_event", ["batch_id"], unique=False)
    op.create_index(op.f("ix_service_event_household_key"), "service_event", ["household_key"], unique=False)
    op.create_index(
        "ix_service_event_service_date",
        "service_event",
        ["service_code", "event_date"],
        unique=False,
    )
    op.create_index("ix_service_event_service_oa", "service_event", ["service_code", "oa_code"], unique=False)
    op.create_index(op.f("ix_service_event_uprn"), "service_event", ["uprn"], unique=False)
    op.create_geospatial_table(
        "survey_response",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("survey_code", sa.String(length=64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("response_date", sa.Date(), nullable=True),
        sa.Column("household_key", sa.String(length=64), nullable=True),
        sa.Column("uprn", sa.BigInteger(), nullable=True),
        sa.Column("match_level", sa.String(length=16), nullable=False),
        sa.Column("oa_code", sa.String(length=32), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=27700,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batch.id"],
            name=op.f("fk_survey_response_batch_id_ingest_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response")),
    )
    op.create_geospatial_index(
        "idx_survey_response_geom",
        "survey_response",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_survey_response_oa_code"), "survey_response", ["oa_code"], unique=False)
    op.create_index(op.f("ix_survey_response_survey_code"), "survey_response", ["survey_code"], unique=False)
    op.create_geospatial_table(
        "area",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("set_code", sa.String(length=64), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("area_km2", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=27700,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["parent_code"], ["area.code"], name=op.f("fk_area_parent_code_area")),
        sa.ForeignKeyConstraint(["set_code"], ["area_set.code"], name=op.f("fk_area_set_code_area_set")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_area")),
    )
    op.create_geospatial_index(
        "idx_area_geom", "area", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_geospatial_index(
        "idx_area_geom_3857",
        "area",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_area_district_code"), "area", ["district_code"], unique=False)
    op.create_index(op.f("ix_area_level"), "area", ["level"], unique=False)
    op.create_index(op.f("ix_area_parent_code"), "area", ["parent_code"], unique=False)
    op.create_index(op.f("ix_area_set_code"), "area", ["set_code"], unique=False)
    op.create_geospatial_table(
        "address",
        sa.Column("uprn", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address_text", sa.Text(), nullable=False),
        sa.Column("address_norm", sa.Text(), nullable=False),
        sa.Column("saon", sa.Text(), nullable=True),
        sa.Column("paon", sa.Text(), nullable=True),
        sa.Column("street", sa.Text(), nullable=True),
        sa.Column("street_norm", sa.Text(), nullable=True),
        sa.Column("locality", sa.Text(), nullable=True),
        sa.Column("town", sa.Text(), nullable=True),
        sa.Column("postcode", sa.String(length=8), nullable=True),
        sa.Column("postcode_norm", sa.String(length=8), nullable=True),
        sa.Column("is_residential", sa.Boolean(), nullable=False),
        sa.Column("oa_code", sa.String(length=32), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=27700,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["oa_code"], ["area.code"], name=op.f("fk_address_oa_code_area")),
        sa.PrimaryKeyConstraint("uprn", name=op.f("pk_address")),
    )
    op.create_geospatial_index(
        "idx_address_geom",
        "address",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_address_address_norm"), "address", ["address_norm"], unique=False)
    op.create_index(op.f("ix_address_oa_code"), "address", ["oa_code"], unique=False)
    op.create_index(op.f("ix_address_postcode_norm"), "address", ["postcode_norm"], unique=False)
    op.create_table(
        "area_membership",
        sa.Column("oa_code", sa.String(length=32), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("set_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_code"],
            ["area.code"],
            name=op.f("fk_area_membership_area_code_area"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["oa_code"],
            ["area.code"],
            name=op.f("fk_area_membership_oa_code_area"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("oa_code", "area_code", name=op.f("pk_area_membership")),
    )
    op.create_index(op.f("ix_area_membership_area_code"), "area_membership", ["area_code"], unique=False)
    op.create_index("ix_area_membership_level_area", "area_membership", ["level", "area_code"], unique=False)
    op.create_table(
        "area_segment",
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("classification_code", sa.String(length=64), nullable=False),
        sa.Column("segment_code", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["area_code"],
            ["area.code"],
            name=op.f("fk_area_segment_area_code_area"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ingest_batch.id"], name=op.f("fk_area_segment_batch_id_ingest_batch")
        ),
        sa.ForeignKeyConstraint(
            ["classification_code"],
            ["classification.code"],
            name=op.f("fk_area_segment_classification_code_classification"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("area_code", "classification_code", name=op.f("pk_area_segment")),
    )
    op.create_geospatial_table(
        "postcode",
        sa.Column("postcode_norm", sa.String(length=8), nullable=False),
        sa.Column("postcode", sa.String(length=8), nullable=False),
        sa.Column("oa_code", sa.String(length=32), nullable=True),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=27700,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["oa_code"], ["area.code"], name=op.f("fk_postcode_oa_code_area")),
        sa.PrimaryKeyConstraint("postcode_norm", name=op.f("pk_postcode")),
    )
    op.create_geospatial_index(
        "idx_postcode_geom",
        "postcode",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_postcode_oa_code"), "postcode", ["oa_code"], unique=False)
    op.create_table(
        "address_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uprn", sa.BigInteger(), nullable=False),
        sa.Column("alias_text", sa.Text(), nullable=False),
        sa.Column("alias_norm", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uprn"],
            ["address.uprn"],
            name=op.f("fk_address_alias_uprn_address"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_alias")),
    )
    op.create_index(op.f("ix_address_alias_alias_norm"), "address_alias", ["alias_norm"], unique=False)
    op.create_index(op.f("ix_address_alias_uprn"), "address_alias", ["uprn"], unique=False)
    op.create_table(
        "household_segment",
        sa.Column("uprn", sa.BigInteger(), nullable=False),
        sa.Column("classification_code", sa.String(length=64), nullable=False),
        sa.Column("segment_code", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batch.id"],
            name=op.f("fk_household_segment_batch_id_ingest_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["classification_code"],
            ["classification.code"],
            name=op.f("fk_household_segment_classification_code_classification"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uprn"],
            ["address.uprn"],
            name=op.f("fk_household_segment_uprn_address"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uprn", "classification_code", name=op.f("pk_household_segment")),
    )
    op.create_index(
        "ix_household_segment_class_seg",
        "household_segment",
        ["classification_code", "segment_code"],
        unique=False,
    )
    _seed_reference_rows()

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index("ix_household_segment_class_seg", table_name="household_segment")
    op.drop_table("household_segment")
    op.drop_index(op.f("ix_address_alias_uprn"), table_name="address_alias")
    op.drop_index(op.f("ix_address_alias_alias_norm"), table_name="address_alias")
    op.drop_table("address_alias")
    op.drop_index(op.f("ix_postcode_oa_code"), table_name="postcode")
    op.drop_geospatial_index(
        "idx_postcode_geom", table_name="postcode", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("postcode")
    op.drop_table("area_segment")
    op.drop_index("ix_area_membership_level_area", table_name="area_membership")
    op.drop_index(op.f("ix_area_membership_area_code"), table_name="area_membership")
    op.drop_table("area_membership")
    op.drop_index(op.f("ix_address_postcode_norm"), table_name="address")
    op.drop_index(op.f("ix_address_oa_code"), table_name="address")
    op.drop_index(op.f("ix_address_address_norm"), table_name="address")
    op.drop_geospatial_index(
        "idx_address_geom", table_name="address", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("address")
    op.drop_index(op.f("ix_area_set_code"), table_name="area")
    op.drop_index(op.f("ix_area_parent_code"), table_name="area")
    op.drop_index(op.f("ix_area_level"), table_name="area")
    op.drop_index(op.f("ix_area_district_code"), table_name="area")
    op.drop_geospatial_index(
        "idx_area_geom_3857", table_name="area", postgresql_using="gist", column_name="geom_3857"
    )
    op.drop_geospatial_index("idx_area_geom", table_name="area", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("area")
    op.drop_index(op.f("ix_survey_response_survey_code"), table_name="survey_response")
    op.drop_index(op.f("ix_survey_response_oa_code"), table_name="survey_response")
    op.drop_geospatial_index(
        "idx_survey_response_geom",
        table_name="survey_response",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("survey_response")
    op.drop_index(op.f("ix_service_event_uprn"), table_name="service_event")
    op.drop_index("ix_service_event_service_oa", table_name="service_event")
    op.drop_index("ix_service_event_service_date", table_name="service_event")
    op.drop_index(op.f("ix_service_event_household_key"), table_name="service_event")
    op.drop_index(op.f("ix_service_event_batch_id"), table_name="service_event")
    op.drop_geospatial_index(
        "idx_service_event_geom",
        table_name="service_event",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("service_event")
    op.drop_table("segment")
    op.drop_index(op.f("ix_ingest_rejected_row_batch_id"), table_name="ingest_rejected_row")
    op.drop_table("ingest_rejected_row")
    op.drop_table("area_set")
    op.drop_geospatial_index("idx_site_geom", table_name="site", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("site")
    op.drop_table("service")
    op.drop_geospatial_index(
        "idx_road_node_geom", table_name="road_node", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("road_node")
    op.drop_index(op.f("ix_road_link_target"), table_name="road_link")
    op.drop_index(op.f("ix_road_link_source"), table_name="road_link")
    op.drop_geospatial_index(
        "idx_road_link_geom_3857",
        table_name="road_link",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_geospatial_index(
        "idx_road_link_geom", table_name="road_link", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("road_link")
    op.drop_table("ingest_batch")
    op.drop_table("demo_truth")
    op.drop_table("data_version")
    op.drop_table("classification")
    op.drop_table("channel")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_key")
    # ### end Alembic commands ###
