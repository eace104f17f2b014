"""SQLAlchemy 2 + GeoAlchemy2 tables: the whole Wardwise schema.

Storage SRID is 27700 (British National Grid, metres) for every geometry that analyses
measure; area polygons also keep a web-mercator copy (``geom_3857``) because tiles are
cut in 3857 and transforming per request costs up to 3.5x (measured, issue 6).

No table holds personal data: people and cases are known only by a salted hash
(``household_key``, ``source_ref_hash``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STORAGE_SRID = 27700
WEB_SRID = 3857

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONB, list[str]: ARRAY(Text)}


# --------------------------------------------------------------------------- areas


class AreaSet(Base):
    """A named set of areas: the standard hierarchy of one district, or a custom set."""

    __tablename__ = "area_set"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # 'standard' | 'custom'
    description: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id"))


class Area(Base):
    """One area: an output area, LSOA, ward, district or a member of a custom area set.

    Standard levels nest by ``parent_code`` (oa -> lsoa -> ward -> district).
    Custom areas have ``level='custom'`` and a ``set_code``.
    """

    __tablename__ = "area"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16), index=True)  # oa|lsoa|ward|district|custom
    set_code: Mapped[str] = mapped_column(ForeignKey("area_set.code"), index=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("area.code"), index=True)
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)
    households: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int | None] = mapped_column(Integer)
    area_km2: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True))
    geom_3857: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=WEB_SRID, spatial_index=True))


class AreaVariable(Base):
    """A census (or other) variable of an area: usual residents, residents in communal
    establishments ... loaded by ``wardwise ingest area-statistics`` with ``variables``."""

    __tablename__ = "area_variable"
    area_code: Mapped[str] = mapped_column(ForeignKey("area.code", ondelete="CASCADE"), primary_key=True)
    variable: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    value: Mapped[float] = mapped_column(Float)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id", ondelete="SET NULL"))


class AreaMembership(Base):
    """Which areas (at every level and in every set) each output area belongs to.

    One join turns OA-level counts into counts at any level or custom set; an OA is a
    member of itself. Custom areas get their OAs by representative point in polygon.
    """

    __tablename__ = "area_membership"
    oa_code: Mapped[str] = mapped_column(ForeignKey("area.code", ondelete="CASCADE"), primary_key=True)
    area_code: Mapped[str] = mapped_column(
        ForeignKey("area.code", ondelete="CASCADE"), primary_key=True, index=True
    )
    level: Mapped[str] = mapped_column(String(16))
    set_code: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_area_membership_level_area", "level", "area_code"),)


# --------------------------------------------------------------------------- gazetteer


class Postcode(Base):
    """A postcode unit with its centroid and output area."""

    __tablename__ = "postcode"
    postcode_norm: Mapped[str] = mapped_column(String(8), primary_key=True)  # no spaces, upper
    postcode: Mapped[str] = mapped_column(String(8))  # display form 'QW1 2AB'
    oa_code: Mapped[str | None] = mapped_column(ForeignKey("area.code"), index=True)
    district_code: Mapped[str | None] = mapped_column(String(32))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True))


class Address(Base):
    """A gazetteer address (an LLPG/AddressBase-like record keyed by UPRN)."""

    __tablename__ = "address"
    uprn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address_text: Mapped[str] = mapped_column(Text)
    address_norm: Mapped[str] = mapped_column(Text, index=True)
    saon: Mapped[str | None] = mapped_column(Text)  # secondary: 'Flat 2'
    paon: Mapped[str | None] = mapped_column(Text)  # primary: '14' or 'The Laurels'
    street: Mapped[str | None] = mapped_column(Text)
    street_norm: Mapped[str | None] = mapped_column(Text)
    locality: Mapped[str | None] = mapped_column(Text)
    town: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(8))
    postcode_norm: Mapped[str | None] = mapped_column(String(8), index=True)
    is_residential: Mapped[bool] = mapped_column(Boolean, default=True)
    oa_code: Mapped[str | None] = mapped_column(ForeignKey("area.code"), index=True)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True))
    # The address's H3 cells at resolutions 5..12 (element r - 4; geo.analysis.h3cells), stored at load
    h3_cells: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))

    __table_args__ = (
        Index(
            "ix_address_h3_missing", "uprn", postgresql_where=text("h3_cells IS NULL AND geom IS NOT NULL")
        ),
    )


class AddressAlias(Base):
    """An alternative name for an address ('The Laurels' for '12 Coronation Street')."""

    __tablename__ = "address_alias"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uprn: Mapped[int] = mapped_column(ForeignKey("address.uprn", ondelete="CASCADE"), index=True)
    alias_text: Mapped[str] = mapped_column(Text)
    alias_norm: Mapped[str] = mapped_column(Text, index=True)


# --------------------------------------------------------------------------- segments


class Classification(Base):
    """A geodemographic classification (bespoke household one, OAC at area level, ...)."""

    __tablename__ = "classification"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(16))  # 'household' | 'area'
    area_level: Mapped[str | None] = mapped_column(String(16))  # for unit='area': usually 'oa'
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    # Tiers (issue 12): one file loads every tier of a classification (OAC supergroup >
    # group > subgroup). The finest tier keeps the family's code; each coarser tier is its
    # own classification, ``<family>_<tier>``, rolled up at ingest, so every analysis reads
    # any tier the same way. ``tier_rank`` 0 is the coarsest.
    family: Mapped[str | None] = mapped_column(String(64), index=True)
    tier: Mapped[str | None] = mapped_column(String(32))
    tier_rank: Mapped[int | None] = mapped_column(Integer)


class Segment(Base):
    """One segment of a classification, with its pen portrait."""

    __tablename__ = "segment"
    classification_code: Mapped[str] = mapped_column(
        ForeignKey("classification.code", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    parent_code: Mapped[str | None] = mapped_column(String(32))  # e.g. OAC group -> supergroup
    description: Mapped[str | None] = mapped_column(Text)
    typical_households: Mapped[str | None] = mapped_column(Text)
    preferred_channels: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    preferred_media: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    key_issues: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    colour: Mapped[str | None] = mapped_column(String(7))  # '#rrggbb'
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class HouseholdSegment(Base):
    """A household's (address's) segment in a household-level classification."""

    __tablename__ = "household_segment"
    uprn: Mapped[int] = mapped_column(ForeignKey("address.uprn", ondelete="CASCADE"), primary_key=True)
    classification_code: Mapped[str] = mapped_column(
        ForeignKey("classification.code", ondelete="CASCADE"), primary_key=True
    )
    segment_code: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id"))

    __table_args__ = (Index("ix_household_segment_class_seg", "classification_code", "segment_code"),)


class AreaSegment(Base):
    """An area's segment in an area-level classification (OAC per output area)."""

    __tablename__ = "area_segment"
    area_code: Mapped[str] = mapped_column(ForeignKey("area.code", ondelete="CASCADE"), primary_key=True)
    classification_code: Mapped[str] = mapped_column(
        ForeignKey("classification.code", ondelete="CASCADE"), primary_key=True
    )
    segment_code: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id"))


# --------------------------------------------------------------------------- services


class Channel(Base):
    """A contact or payment channel with its default unit cost."""

    __tablename__ = "channel"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)  # web, phone, face_to_face ...
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # 'contact' | 'payment'
    unit_cost_gbp: Mapped[float] = mapped_column(Float)
    is_digital: Mapped[bool] = mapped_column(Boolean, default=False)


class Service(Base):
    """A service whose use is recorded as service events."""

    __tablename__ = "service"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(Text)  # council, police, fire, health
    # 'events' (every contact counts) or 'membership' (one per household matters)
    unit: Mapped[str] = mapped_column(String(16), default="events")
    channels: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # per-channel unit cost overrides, {"phone": 3.2}
    unit_costs: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # esd standards (issue 12): the LGSL service id and the LGChL channel ids where known
    lgsl_id: Mapped[int | None] = mapped_column(Integer)
    lgchl_ids: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    # Is a high figure good (library membership) or bad (fly-tipping reports)? The map's
    # palette is reversed for 'high_bad' so the "good" end keeps one colour (issue 14).
    polarity: Mapped[str] = mapped_column(String(16), server_default="high_good", default="high_good")


class ServiceDistrict(Base):
    """A district a service has data for, recorded per batch (issue 12: districts do not leak).

    Analyses of a service cover exactly these districts unless the caller says ``within``.
    Undoing a batch removes its rows.
    """

    __tablename__ = "service_district"
    service_code: Mapped[str] = mapped_column(
        ForeignKey("service.code", ondelete="CASCADE"), primary_key=True
    )
    district_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id", ondelete="CASCADE"), primary_key=True)


class AreaCount(Base):
    """A count of service use per area and period, as partners publish it (issue 12).

    ``count`` is null where the source suppressed a small count (``*``, ``c``, ``<5``,
    ``..``, blank): the true value is then between 1 and ``count_max``.
    """

    __tablename__ = "area_count"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("service.code", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(ForeignKey("area.code", ondelete="CASCADE"), index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    count: Mapped[int | None] = mapped_column(Integer)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    count_max: Mapped[int | None] = mapped_column(Integer)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id", ondelete="CASCADE"), index=True)

    __table_args__ = (Index("ix_area_count_service_period", "service_code", "period_start"),)


class ServiceEvent(Base):
    """One use of a service, matched to the gazetteer; no personal data."""

    __tablename__ = "service_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("service.code"))
    event_date: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(32))
    source_system: Mapped[str] = mapped_column(String(64))
    source_ref_hash: Mapped[str | None] = mapped_column(String(64))
    # uprn | address | fuzzy | street | postcode | coordinates | unmatched
    match_level: Mapped[str] = mapped_column(String(16))
    uprn: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # no index on household_key (a random hash) nor a GiST on geom: no plan used them
    # (docs/scaling.md, "Indexes"), and each cost every ingest a random-order insert
    household_key: Mapped[str | None] = mapped_column(String(64))
    oa_code: Mapped[str | None] = mapped_column(String(32))
    lsoa_code: Mapped[str | None] = mapped_column(String(32))
    ward_code: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(32))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=True)
    duplicate_of: Mapped[int | None] = mapped_column(BigInteger)
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("ingest_batch.id", ondelete="CASCADE"), index=True
    )
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=False), nullable=True
    )

    __table_args__ = (
        Index("ix_service_event_service_date", "service_code", "event_date"),
        Index("ix_service_event_service_oa", "service_code", "oa_code"),
    )


class SurveyResponse(Base):
    """One answer to one survey question, located to an output area."""

    __tablename__ = "survey_response"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    survey_code: Mapped[str] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    response_date: Mapped[dt.date | None] = mapped_column(Date)
    household_key: Mapped[str | None] = mapped_column(String(64))
    uprn: Mapped[int | None] = mapped_column(BigInteger)
    match_level: Mapped[str] = mapped_column(String(16))
    oa_code: Mapped[str | None] = mapped_column(String(32), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id", ondelete="CASCADE"))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True), nullable=True)


# --------------------------------------------------------------------------- ingest


class IngestBatch(Base):
    """One ingest of one file: what came in, how it matched, what was dropped."""

    __tablename__ = "ingest_batch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # 'loading' | 'loaded' | 'failed' | 'undone'
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rows_received: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(Text)

    # Only a loaded batch blocks loading the same file again; failed and undone ones never do.
    __table_args__ = (
        Index(
            "uq_ingest_batch_kind_sha256_loaded",
            "kind",
            "sha256",
            unique=True,
            postgresql_where=text("status IN ('loading', 'loaded')"),
        ),
    )


class IngestRejectedRow(Base):
    """A row an ingest refused, with its row number and reason (personal fields removed)."""

    __tablename__ = "ingest_rejected_row"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id", ondelete="CASCADE"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class IngestSuperseded(Base):
    """What a batch of a kind that writes in place replaced: one row per key it wrote.

    ``previous`` holds the values the key had before the batch (null: the key was new), so
    undoing the latest batch of a key puts the earlier batch's values back (issue 12).
    """

    __tablename__ = "ingest_superseded"
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id", ondelete="CASCADE"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (Index("ix_ingest_superseded_key", "table_name", "key"),)


class AreaVintageLookup(Base):
    """The ONS OA 2011 -> OA 2021 lookup: U unchanged, S split, M merged, X irregular."""

    __tablename__ = "area_vintage_lookup"
    oa11_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    oa21_code: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    change: Mapped[str] = mapped_column(String(1))
    district_code: Mapped[str | None] = mapped_column(String(32))
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id", ondelete="CASCADE"), index=True)


# --------------------------------------------------------------------------- planning


class Site(Base):
    """An existing office or a candidate venue for a one-stop shop or a mobile stop."""

    __tablename__ = "site"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))  # office|library|community_centre|surgery|school
    is_existing: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int | None] = mapped_column(Integer)
    address_text: Mapped[str | None] = mapped_column(Text)
    uprn: Mapped[int | None] = mapped_column(BigInteger)
    oa_code: Mapped[str | None] = mapped_column(String(32))
    road_node: Mapped[int | None] = mapped_column(BigInteger)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True))


class RoadNode(Base):
    """A junction or end of the road network."""

    __tablename__ = "road_node"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True))


class RoadLink(Base):
    """A road segment between two nodes (pgRouting's source/target/cost shape)."""

    __tablename__ = "road_link"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(Text)
    road_class: Mapped[str] = mapped_column(String(16))  # a_road|b_road|street|lane
    source: Mapped[int] = mapped_column(BigInteger, index=True)
    target: Mapped[int] = mapped_column(BigInteger, index=True)
    length_m: Mapped[float] = mapped_column(Float)
    speed_kph: Mapped[float] = mapped_column(Float)
    cost_s: Mapped[float] = mapped_column(Float)  # travel time both ways, seconds
    geom: Mapped[Any] = mapped_column(Geometry("LINESTRING", srid=STORAGE_SRID, spatial_index=True))
    geom_3857: Mapped[Any] = mapped_column(Geometry("LINESTRING", srid=WEB_SRID, spatial_index=True))


# --------------------------------------------------------------------------- demo, access


class DemoTruth(Base):
    """The demo generator's planted truth, saved beside the data it planted."""

    __tablename__ = "demo_truth"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    truth: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ApiKey(Base):
    """An API key: only its hash is stored; the key itself is shown once."""

    __tablename__ = "api_key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # public|officer|analyst|admin
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Row-level scope (geo.auth.KeyScope): NULL = unlimited; otherwise the areas (normally
    # districts) and services the key may see beyond what the public sees.
    scope_areas: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    scope_services: Mapped[list[str] | None] = mapped_column(ARRAY(Text))


class Feed(Base):
    """A folder Wardwise watches: files dropped in are ingested with the feed's stored mapping."""

    __tablename__ = "feed"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    directory: Mapped[str] = mapped_column(Text)
    pattern: Mapped[str] = mapped_column(Text, default="*")
    kind: Mapped[str] = mapped_column(String(32))
    preset: Mapped[str | None] = mapped_column(String(64))
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_scan_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class FeedFile(Base):
    """A file a feed has seen (by content hash): loaded, a duplicate, or failed (with why)."""

    __tablename__ = "feed_file"
    feed_id: Mapped[int] = mapped_column(ForeignKey("feed.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # loaded | duplicate | failed
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditLog(Base):
    """Who did what, when: ingests, exports, key use."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    actor: Mapped[str] = mapped_column(Text)  # key prefix or 'cli' or 'anonymous'
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class DataVersion(Base):
    """A counter bumped by every write that changes what tiles show (tile cache key)."""

    __tablename__ = "data_version"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlanningScenario(Base):
    """A saved siting or route answer, kept to compare with others and with today."""

    __tablename__ = "planning_scenario"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # sites|routes
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)


class DataVersionScope(Base):
    """A small data version: one per (district, service), geography or reference table (issue 17).

    Bumped by triggers (``geo/sql/versions/scoped_versions.sql``) only for the keys a write
    touched, so an ingest of one service in one district invalidates only what depends on it.
    """

    __tablename__ = "data_version_scope"
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # service|geography|table
    district_code: Mapped[str] = mapped_column(String(32), primary_key=True, server_default="")
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AggregateRefreshScope(Base):
    """The scoped versions the profiling aggregates were last refreshed from."""

    __tablename__ = "aggregate_refresh_scope"
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(32), primary_key=True, server_default="")
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class JobRecord(Base):
    """A durable background job (``geo.analysis.jobs``): claimed by any worker with SKIP LOCKED."""

    __tablename__ = "job"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    queue: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    progress: Mapped[float] = mapped_column(Float, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, server_default="false")
    worker: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Who queued it (``key:<prefix>`` / ``addr:<address>``), for the per-owner quota.
    owner: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_job_queue_status_created", "queue", "status", "created_at"),
        Index("ix_job_queue_owner_status", "queue", "owner", "status"),
    )


class RateLimitWindow(Base):
    """Hits per rate-limit bucket and fixed window, shared by every app worker (api/security.py)."""

    __tablename__ = "rate_limit_window"
    bucket: Mapped[str] = mapped_column(Text, primary_key=True)
    #: Start of the window, in whole seconds since the epoch.
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: Length of the window in seconds (rows older than two windows are forgotten).
    period_s: Mapped[int] = mapped_column(Integer)
    hits: Mapped[int] = mapped_column(Integer, server_default="0")


class AreaNeighbour(Base):
    """A stored queen-contiguity pair of one geography, both ways (``geo.analysis.contiguity``)."""

    __tablename__ = "area_neighbour"
    geography: Mapped[str] = mapped_column(String(80), primary_key=True)  # level:<level> | set:<code>
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    neighbour_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    touches: Mapped[bool] = mapped_column(Boolean)  # boundary shared, no interior (ST_Touches)


class AreaNeighbourState(Base):
    """The geography data version the stored pairs of a geography were computed from."""

    __tablename__ = "area_neighbour_state"
    geography: Mapped[str] = mapped_column(String(80), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    pairs: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
