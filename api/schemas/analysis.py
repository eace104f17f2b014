"""Response and request models of the profiling API: propensity, matrices, profiles, channels.

Counts are ``int`` for officers; for public callers a small count is the string ``"<5"``
and a count hidden to protect it (secondary suppression) is ``"[c]"``, with the figures
derived from it null. Percentages have 2 decimals and indices are whole numbers, rounded
half away from zero.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: A count as shown: the number, or a suppression label for public callers.
Count = int | str


CODE = r"^[A-Za-z0-9_\-]+$"


class ServiceInfo(BaseModel):
    """A service and how its use is counted."""

    code: str
    name: str
    category: str
    description: str | None = None
    owner: str | None = None
    unit: str = Field(
        description="'events' (every contact), 'households' (distinct households) or 'persons' (counts)"
    )
    channels: list[str] | None = None
    unit_costs: dict[str, float] | None = Field(None, description="per-channel unit cost overrides, GBP")
    lgsl_id: int | None = Field(None, description="LGSL service id (esd standards)")
    lgchl_ids: list[int] | None = Field(None, description="LGChL channel ids (esd standards)")
    polarity: Literal["high_good", "high_bad"] = Field(
        "high_good", description="is a high figure good or bad news (the map's palette follows)"
    )
    events: int = Field(description="primary events recorded")
    area_counts: int = Field(0, description="counts per area recorded (area-counts batches)")
    districts: list[str] = Field(
        default_factory=list, description="districts the service has data for; its analyses cover these"
    )


class ServiceCreate(BaseModel):
    """A new service for the catalogue."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    name: str = Field(min_length=1, max_length=200)
    unit: Literal["events", "households", "persons"] = "events"
    category: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=2000)
    owner: str | None = Field(None, max_length=100)
    lgsl_id: int | None = Field(None, ge=1, le=99999, description="LGSL service id")
    lgchl_ids: list[int] = Field(default_factory=list, max_length=50, description="LGChL channel ids")
    channels: list[str] = Field(default_factory=list, max_length=50)
    polarity: Literal["high_good", "high_bad"] = Field(
        "high_good", description="is a high figure good (library membership) or bad (fly-tipping reports)?"
    )


class ServiceUpdate(BaseModel):
    """Changes to a service (only the fields given change)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    unit: Literal["events", "households", "persons"] | None = None
    category: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=2000)
    owner: str | None = Field(None, max_length=100)
    lgsl_id: int | None = Field(None, ge=1, le=99999)
    lgchl_ids: list[int] | None = Field(None, max_length=50)
    channels: list[str] | None = Field(None, max_length=50)
    polarity: Literal["high_good", "high_bad"] | None = None


class PropensityRow(BaseModel):
    """One segment of a propensity table (or the ``Total`` row)."""

    segment: str
    target: Count = Field(description="events or distinct households using the service")
    target_pct: float | None = Field(description="100 × target / total target")
    base: Count = Field(description="households")
    base_pct: float | None = Field(description="100 × base / total base")
    penetration_pct: float | None = Field(description="100 × target / base")
    index: int | None = Field(description="100 × target_pct / base_pct; 100 = average")
    ci_low: int | None = Field(description="95% interval of the index (Katz log method)")
    ci_high: int | None
    significant: bool | None = Field(description="interval excludes 100")
    target_class: Literal["core", "developmental"] | None = Field(
        None,
        description="core: index >= min_index (120) and target_pct >= min_share_pct (5); "
        "developmental: index >= min_index but a smaller share",
    )


class PropensityTable(BaseModel):
    """A service propensity table: one row per segment plus the total row."""

    service: str | None = None
    classification: str | None = None
    unit: Literal["events", "households"] | None = None
    method: str = Field(
        description="how the index interval is computed",
        default=(
            "Katz log-ratio interval for a ratio of two proportions (Katz et al. 1978, Biometrics 34:469)"
        ),
    )
    unclassified_target: Count | None = Field(
        None, description="use by households with no segment (left out)"
    )
    unclassified_base: Count | None = Field(None, description="households with no segment (left out)")
    districts: list[str] | None = Field(
        None, description="the districts covered: the service's own (None: every loaded district)"
    )
    counts: dict[str, Any] | None = Field(
        None, description="for services loaded as counts per area: apportionment method and suppressed share"
    )
    thresholds: dict[str, Any] | None = Field(None, description="the rule for target_class")
    core: list[str] | None = Field(None, description="core target segments")
    developmental: list[str] | None = Field(None, description="developmental target segments")
    rows: list[PropensityRow]


class PropensityInputRow(BaseModel):
    """Counts for one segment, computed elsewhere."""

    model_config = ConfigDict(extra="forbid")
    segment: str = Field(min_length=1, max_length=64)
    target: int = Field(ge=0, le=10**15, description="events or households using the service")
    base: int = Field(ge=0, le=10**15, description="households in the segment")


class PropensityRequest(BaseModel):
    """Counts per segment to turn into a published-style propensity table."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "rows": [
                        {"segment": "A", "target": 5581, "base": 12749},
                        {"segment": "B", "target": 1020, "base": 9811},
                    ]
                }
            ]
        },
    )
    rows: list[PropensityInputRow] = Field(min_length=1, max_length=1000)


class SegmentRef(BaseModel):
    """A segment as matrix columns name it."""

    code: str
    name: str
    colour: str | None = None


class AreaRef(BaseModel):
    """An area as matrix rows name it."""

    code: str
    name: str


class MatrixCell(BaseModel):
    """One cell of an area-by-segment matrix; ``Total`` in area_code or segment marks totals."""

    area_code: str
    segment: str
    households: Count
    target: Count | None = Field(description="service use (null without a service)")
    penetration_pct: float | None = Field(description="100 × target / households")
    index: int | None = Field(description="100 × (target/households) / (all target / all households)")
    ci_low: int | None
    ci_high: int | None
    significant: bool | None
    households_pct: float | None = Field(description="segment's share of the area's households")
    households_index: int | None = Field(description="location quotient: over-representation of the segment")


class Matrix(BaseModel):
    """An area-by-segment matrix (long form: one cell per area and segment, with totals)."""

    level: str
    classification: str
    service: str | None
    unit: str | None
    districts: list[str] | None = Field(None, description="the districts covered (None: all loaded)")
    counts: dict[str, Any] | None = Field(
        None, description="for services loaded as counts per area: apportionment method and suppressed share"
    )
    segments: list[SegmentRef]
    areas: list[AreaRef]
    cells: list[MatrixCell]


class ProfileArea(BaseModel):
    """The area a profile describes."""

    code: str
    name: str
    level: str
    set_code: str
    parent_code: str | None
    district_code: str | None
    households: int


class ProfileSegment(BaseModel):
    """A segment's share of the area's households against the district's."""

    segment: str
    name: str
    colour: str | None
    households: int
    district_households: int
    pct: float | None
    district_pct: float | None
    index: int | None = Field(description="100 × pct / district_pct")
    key_issues: list[str]
    comparator_pct: float | None = Field(None, description="the comparator's share (%): see `comparator`")
    comparator_index: int | None = Field(None, description="100 × share here / comparator's share")


class ProfileService(BaseModel):
    """Take-up of a service in the area against what its mix of households predicts."""

    service: str
    name: str
    category: str
    unit: str
    observed: int | None
    expected: float | None = Field(description="Σ households(segment) × district rate(segment)")
    ratio: float | None = Field(description="100 × observed / expected")
    ci_low: float | None = Field(description="exact Poisson (Garwood) 95% interval of the ratio")
    ci_high: float | None
    significant: bool | None
    rate_per_1000: float | None
    district_rate_per_1000: float | None
    district_index: float | None = Field(description="100 × area rate / district rate")
    district_significant: bool | None


class ProfileChannel(BaseModel):
    """Share of the area's contacts through one channel against the district's."""

    channel: str
    events: int
    district_events: int
    share_pct: float | None
    district_share_pct: float | None
    index: int | None


class KeyIssue(BaseModel):
    """A service used significantly more than across the district."""

    service: str
    name: str
    category: str
    rate_per_1000: float | None
    district_rate_per_1000: float | None
    district_index: float | None


class SegmentIssue(BaseModel):
    """The key issues of one of the area's over-represented segments."""

    segment: str
    name: str
    index: int | None
    key_issues: list[str]


class TakeUpBrief(BaseModel):
    """A comparison area's take-up of one service."""

    observed: int
    expected: float
    ratio: float | None
    rate_per_1000: float | None


class ComparisonArea(BaseModel):
    """A neighbouring or parent area with its take-up of each service."""

    model_config = ConfigDict(extra="ignore")
    code: str
    name: str
    level: str
    households: int
    services: dict[str, TakeUpBrief]


class SimilarComparison(ComparisonArea):
    """A same-level area with a similar segment mix, and its take-up."""

    distance: float = Field(description="Hellinger distance between the segment mixes (0 = identical)")


class DistrictRef(BaseModel):
    """The district a profile compares with."""

    code: str | None
    households: int


class ProfileComparator(BaseModel):
    """What the spine chart compares the area's segment mix with."""

    kind: Literal["district", "parent", "similar"]
    label: str
    k: int | None = Field(None, description="similar: how many similar areas are averaged")
    areas: list[dict[str, str]] = Field(description="the comparator area, or the k similar areas")


class AreaProfile(BaseModel):
    """The community profile of an area."""

    area: ProfileArea
    classification: str
    district: DistrictRef
    segments: list[ProfileSegment]
    services: list[ProfileService]
    channels: list[ProfileChannel]
    key_issues: list[KeyIssue]
    segment_issues: list[SegmentIssue]
    neighbours: list[ComparisonArea] = Field(description="same-level areas sharing a boundary (ST_Touches)")
    parent: ComparisonArea | None
    similar: list[SimilarComparison] = Field(
        default_factory=list,
        description="the 5 same-level areas closest in segment mix (Hellinger distance), with their take-up",
    )
    pen_portrait: str
    comparator: ProfileComparator | None = None


class ClassificationInfo(BaseModel):
    """A classification."""

    code: str
    name: str
    unit: str
    area_level: str | None
    description: str | None
    source: str | None
    segments: int


class TopArea(BaseModel):
    """An area where a segment is over-represented."""

    area_code: str
    area_name: str | None
    households: Count
    households_pct: float | None
    households_index: int | None


class SegmentService(BaseModel):
    """A segment's propensity for one service."""

    service: str
    unit: str
    target: Count
    penetration_pct: float | None
    index: int | None
    ci_low: int | None
    ci_high: int | None
    significant: bool | None


class ChannelUse(BaseModel):
    """Share of a segment's contacts through one channel."""

    channel: str
    events: Count
    share_pct: float | None


class SegmentEntry(BaseModel):
    """A segments-catalogue entry: pen portrait, where it lives, what it uses, how to reach it."""

    code: str
    name: str
    parent_code: str | None
    description: str | None
    typical_households: str | None
    preferred_channels: list[str]
    preferred_media: list[str]
    key_issues: list[str]
    colour: str | None
    households: Count
    households_pct: float | None
    top_areas: list[TopArea]
    services: list[SegmentService]
    channel_use: list[ChannelUse]


class ChannelMixRow(BaseModel):
    """Contacts of one group (segment or area) through one channel, with their cost."""

    group: str | None = Field(description="segment code or area code")
    channel: str
    events: Count
    share_pct: float | None
    unit_cost_gbp: float | None
    cost_gbp: float | None


class ChannelShiftRequest(BaseModel):
    """Move ``share_pct`` % of a segment's contacts for a service from one channel to another."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "service": "housing_benefit",
                    "segment": "A",
                    "from_channel": "face_to_face",
                    "to_channel": "web",
                    "share_pct": 50,
                }
            ]
        },
    )
    service: str = Field(min_length=1, max_length=64)
    segment: str = Field(min_length=1, max_length=32)
    from_channel: str = Field(min_length=1, max_length=32)
    to_channel: str = Field(min_length=1, max_length=32)
    share_pct: float = Field(ge=0, le=100)
    classification: str | None = Field(None, max_length=64)
    tier: str | None = Field(
        None, max_length=32, pattern=CODE, description="a tier of the classification (OAC: supergroup, group)"
    )
    level: str = Field("ward", max_length=64)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    unit_costs: dict[str, float | dict[str, float]] | None = Field(
        None, description="{channel: GBP} for every service, or {service: {channel: GBP}}"
    )


class ShiftArea(BaseModel):
    """Where the shifted contacts come from."""

    area_code: str
    area_name: str | None
    contacts_in_period: int
    contacts_moved_per_year: float
    annual_saving_gbp: float
    segment_households: int


class ChannelShiftResult(BaseModel):
    """The annual saving of a channel shift and where those households live."""

    service: str
    classification: str
    level: str
    segment: str
    from_channel: str
    to_channel: str
    share_pct: float
    contacts_in_period: int
    period_years: float
    contacts_moved_per_year: float
    unit_cost_from_gbp: float
    unit_cost_to_gbp: float
    saving_per_contact_gbp: float
    annual_saving_gbp: float
    by_area: list[ShiftArea]


class WebEnableRow(BaseModel):
    """A service ranked by what web-enabling it could save."""

    service: str
    name: str
    digital_channel: str
    web_enabled: bool = Field(description="the service already offers its digital channel")
    annual_contacts: float
    non_digital_per_year: float
    digital_share_pct: float
    saving_per_contact_gbp: float
    web_ready_share_pct: float = Field(description="share of non-digital contacts from web-ready segments")
    score_gbp: float = Field(description="volume × cost saving × web-ready share, GBP a year")


class CoUseRow(BaseModel):
    """Of households using service A, the share also using this service."""

    service: str
    users: Count
    also_using: Count
    share_pct: float | None
    ci_low_pct: float | None = Field(description="Wilson 95% interval")
    ci_high_pct: float | None
    overall_pct: float | None = Field(description="share of all households using it")
    lift: float | None = Field(description="share_pct / overall_pct")


class CoUseTable(BaseModel):
    """Services used together with service A."""

    service: str
    users: Count
    households: int
    rows: list[CoUseRow]


class SurveyResultRow(BaseModel):
    """Share of a group's respondents giving an answer."""

    group: str
    answer: str
    responses: Count
    respondents: Count
    pct: float | None
    ci_low_pct: float | None = Field(description="Wilson 95% interval")
    ci_high_pct: float | None


class PerceptionGapRow(BaseModel):
    """Fear of crime against recorded crime in one area."""

    area_code: str
    area_name: str | None
    households: int
    respondents: Count
    fearful: Count
    fear_pct: float | None
    fear_ci_low_pct: float | None
    fear_ci_high_pct: float | None
    fear_index: float | None
    events: Count
    crime_per_1000: float | None
    crime_index: float | None
    crime_ci_low: float | None
    crime_ci_high: float | None
    gap: float | None = Field(description="log2(fear_index / crime_index)")
    perception: str
