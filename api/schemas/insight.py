"""Models of the insight API: targets, similar areas, combined hot spots, exclusion, selector."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.analysis import Count, PropensityRow

CODE = r"^[A-Za-z0-9_\-]+$"


#: A propensity row carries its ``target_class``.
TargetRow = PropensityRow


class TargetTable(BaseModel):
    """A propensity table with core and developmental targets."""

    service: str
    classification: str
    unit: Literal["events", "households"] | None = None
    unclassified_target: Count | None = None
    unclassified_base: Count | None = None
    thresholds: dict[str, Any]
    core: list[str]
    developmental: list[str]
    rows: list[TargetRow]


class TargetArea(BaseModel):
    """An area ranked for a campaign to the core (and developmental) segments."""

    model_config = ConfigDict(extra="allow")

    rank: int
    area_code: str
    name: str | None
    target_households: int
    observed: float
    unmet: float
    unmet_per_1000: float | None
    segments: list[str]
    core_segments: list[str]
    developmental_segments: list[str]
    channels: list[str]
    media: list[str]


class TargetAreaList(BaseModel):
    """A targeting list for a service's core and developmental segments."""

    meta: dict[str, Any]
    targets: list[TargetRow]
    rows: list[TargetArea]


class SegmentDifference(BaseModel):
    """How far a similar area's share of a segment is from the area's (percentage points), or
    (by census variables) how far its z-score of a variable is (standard deviations)."""

    segment: str | None = None
    difference_pp: float | None = None
    variable: str | None = None
    difference_sd: float | None = None


class SimilarArea(BaseModel):
    """One of the most similar areas."""

    code: str
    name: str
    households: int
    distance: float
    similarity: float = Field(description="1 - distance / largest possible distance")
    largest_differences: list[SegmentDifference]
    values: dict[str, float] | None = Field(None, description="by census: the area's census variables")


class SimilarAreas(BaseModel):
    """The k most similar areas of the same level by segment mix."""

    area: dict[str, Any]
    by: Literal["segments", "census"] = "segments"
    classification: str | None
    variables: list[str] | None = Field(None, description="by census: the variables (or ratios) compared")
    distance: Literal["hellinger", "euclidean"]
    distance_definition: str
    candidates: int = Field(description="areas compared with")
    mix: dict[str, float] = Field(description="the area's share of households per segment, %")
    values: dict[str, float] | None = Field(None, description="by census: the area's own census variables")
    similar: list[SimilarArea]


class CombinedFeature(BaseModel):
    """One area of a combined hot-spot answer (GeoJSON Feature, WGS84)."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class CombinedHotSpots(BaseModel):
    """Combined hot spots over several services: weighted Stouffer's z per area."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[CombinedFeature]
    meta: dict[str, Any]


class ExclusionRequest(BaseModel):
    """A channel shift to cost with and without assisted digital."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"service": "housing_benefit", "share_pct": 50, "from_channels": ["face_to_face", "phone"]}
            ]
        },
    )
    service: str = Field(min_length=1, max_length=64, pattern=CODE)
    share_pct: float = Field(ge=0, le=100, description="share of the from-channel contacts moved")
    from_channels: list[str] = Field(["face_to_face", "phone"], min_length=1, max_length=10)
    to_channel: str = Field("web", min_length=1, max_length=32)
    assisted_pct: float = Field(100, ge=0, le=100, description="share of low-web contacts needing assistance")
    max_web_index: float = Field(80, gt=0, le=1000, description="web index below which a group is low-web")
    classification: str | None = Field(None, max_length=64, pattern=CODE)
    tier: str | None = Field(
        None, max_length=32, pattern=CODE, description="a tier of the classification (OAC: supergroup, group)"
    )
    level: str = Field("ward", max_length=64, pattern=CODE)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    unit_costs: dict[str, Any] | None = Field(None, description="{channel: GBP} overrides")


class ExclusionGroup(BaseModel):
    """A segment or area: its web propensity and its part of the shift."""

    model_config = ConfigDict(extra="allow")

    name: str | None
    contacts: int
    web_contacts: int
    web_share_pct: float | None
    web_index: int | None
    offline_share_pct: float | None = Field(description="share of contacts face to face or by phone")
    low_web: bool
    moved_per_year: float
    assisted_per_year: float
    saving_without_exclusion_gbp: float
    saving_with_exclusion_gbp: float


class ExclusionResult(BaseModel):
    """Digital exclusion in a channel shift: low-web groups, assisted contacts, net saving."""

    service: str
    classification: str
    level: str
    share_pct: float
    from_channels: list[str]
    to_channel: str
    assisted_pct: float
    max_web_index: float
    web_propensity: str
    period_years: float
    contacts_moved_per_year: float
    assisted_contacts_per_year: float
    assisted_unit_cost_gbp: float
    to_channel_unit_cost_gbp: float
    annual_saving_without_exclusion_gbp: float
    annual_saving_with_exclusion_gbp: float
    assisted_digital_cost_gbp: float
    low_web_segments: list[str]
    low_web_areas: list[str]
    segments: list[ExclusionGroup]
    areas: list[ExclusionGroup]


class SelectorRequest(BaseModel):
    """A target group with no records, described by weighted segments and/or census variables."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"weights": {"B": 0.3, "I": 0.2}, "level": "ward"}]},
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        max_length=200,
        description="segment -> members per household (or relative, with size)",
    )
    variables: dict[str, float] | None = Field(
        None,
        max_length=50,
        description="census variable -> members per unit of the variable (when census variables are loaded)",
    )
    size: float | None = Field(None, gt=0, le=1e9, description="total group size (weights then relative)")
    level: str = Field("ward", max_length=64, pattern=CODE)
    classification: str | None = Field(None, max_length=64, pattern=CODE)
    tier: str | None = Field(
        None, max_length=32, pattern=CODE, description="a tier of the classification (OAC: supergroup, group)"
    )
    within: str | None = Field(None, max_length=32, pattern=CODE)
    top: int | None = Field(None, ge=1, le=100000)


class SelectorSegment(BaseModel):
    """The group's expected members in one segment."""

    segment: str
    households: int
    weight: float
    expected: float
    share_pct: float | None
    index: float | None = Field(description="100 x share of the group / share of households")


class SelectorArea(BaseModel):
    """The group's expected members in one area."""

    area_code: str
    name: str | None
    households: int
    expected: float
    share_pct: float | None
    per_1000: float | None
    index: float | None


class SelectorProfile(BaseModel):
    """Where a target group with no records is expected to live."""

    size: float
    scale: float
    households: int
    per_1000: float | None
    classification: str
    level: str
    within: str | None
    weights_as: str
    variables: dict[str, float] | None = Field(None, description="the census-variable weights used")
    unplaced: float | None = Field(
        None, description="members in output areas with census values but no classified households (left out)"
    )
    segments: list[SelectorSegment]
    areas: list[SelectorArea]
