"""Planning requests and answers: siting one-stop shops, routing mobile services."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas import JobState

SiteKind = Literal["office", "library", "community_centre", "surgery", "school"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"
CODE = r"^[A-Za-z0-9_\-]+$"
SiteId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class DemandSpec(BaseModel):
    """Whose demand counts: households of some segments, or use of a service."""

    source: Literal["households", "service_use", "expected", "unmet"] = Field(
        "households",
        description=(
            "households: households of the segments; service_use: their observed use of `service`; "
            "expected: use expected from the segment mix; unmet: use missing against each "
            "segment's benchmark take-up (`percentile`)"
        ),
    )
    classification: str | None = Field(None, max_length=64, pattern=CODE)
    tier: str | None = Field(
        None, max_length=32, pattern=CODE, description="a tier of the classification (OAC: supergroup, group)"
    )
    segments: list[Annotated[str, Field(min_length=1, max_length=32, pattern=CODE)]] | None = Field(
        None, max_length=64, description="segment codes; omit for all"
    )
    service: str | None = Field(None, max_length=64, pattern=CODE)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    percentile: float = Field(80.0, ge=50, le=100)


class SitingRequest(BaseModel):
    """Where should the next p one-stop shops go?"""

    objective: Literal["p_median", "max_cover"] = Field(
        "p_median",
        description="p_median: least demand-weighted travel; max_cover: most demand within `cover_within`",
    )
    p: int = Field(2, ge=1, le=50, description="new sites to open")
    keep_existing: bool = Field(True, description="keep today's offices open")
    candidate_kinds: list[SiteKind] | None = Field(None, description="venue kinds that may be chosen")
    candidate_site_ids: list[SiteId] | None = Field(None, max_length=1000)
    demand: DemandSpec = Field(default_factory=DemandSpec)
    demand_unit: Literal["oa", "h3"] = "oa"
    h3_resolution: int = Field(8, ge=6, le=10)
    travel: Literal["drive_time", "drive_distance", "straight_line"] = "drive_time"
    cover_within: float | None = Field(
        None, gt=0, description="minutes for drive_time, metres for drive_distance and straight_line"
    )
    capacitated: bool = False
    capacity_scale: float | None = Field(
        None, gt=0, description="demand weight one unit of site.capacity serves (capacitated only)"
    )
    time_limit_s: float = Field(10.0, gt=0, le=600, description="MILP time limit (inline at most 30)")

    @model_validator(mode="after")
    def _cover_needs_threshold(self) -> SitingRequest:
        if self.objective == "max_cover" and self.cover_within is None:
            raise ValueError("cover_within is required when objective is max_cover")
        return self


class TimeWindow(BaseModel):
    """Hours a stop can be served (service must start inside them)."""

    stop_id: str = Field(max_length=32, pattern=CODE, description="a site id, or an H3 cell")
    open: str = Field(pattern=CLOCK)
    close: str = Field(pattern=CLOCK)


class RouteRequest(BaseModel):
    """Which route should the advice van take (on which days)?"""

    stop_source: Literal["venues", "h3"] = "venues"
    stop_site_ids: list[SiteId] | None = Field(None, max_length=200)
    candidate_kinds: list[SiteKind] | None = None
    max_stops: int = Field(8, ge=1, le=100)
    h3_resolution: int = Field(9, ge=7, le=10)
    depot_site_id: SiteId | None = Field(None, description="default: the first existing office")
    vehicles: int = Field(1, ge=1, le=10)
    days: list[Weekday] = Field(
        default_factory=lambda: list[Weekday](["tue"]),
        min_length=1,
        max_length=7,
        description="weekdays the vans work, each once (every week of the period)",
    )
    frequency: Literal["weekly", "fortnightly", "four_weekly"] = Field(
        "weekly", description="each stop is visited once per period of 1, 2 or 4 weeks"
    )
    weekly_stop_ids: list[Annotated[str, Field(max_length=32, pattern=CODE)]] | None = Field(
        None, max_length=100, description="stops visited every week of a longer period (same day and van)"
    )
    day_start: str = Field("09:00", pattern=CLOCK)
    day_end: str = Field("17:00", pattern=CLOCK)
    service_min: float = Field(45.0, ge=0, le=480, description="dwell at each stop, minutes")
    time_windows: list[TimeWindow] = Field(default_factory=list, max_length=200)
    allow_drop: bool = Field(True, description="leave out stops that do not fit (they are reported)")
    walk_m: float = Field(800.0, gt=0, le=5000)
    walk_basis: Literal["network", "straight_line"] = Field(
        "network", description="walk over the road network (no motorways) or the straight line"
    )
    stop_selection: Literal["unique_cover", "by_reach"] = Field(
        "unique_cover", description="unique_cover: each household counted once; by_reach: double counting"
    )
    break_min: float = Field(0.0, ge=0, le=120, description="driver's break each route, minutes (0 = none)")
    break_from: str = Field("12:00", pattern=CLOCK, description="earliest break start")
    break_to: str = Field("14:00", pattern=CLOCK, description="latest break start")
    demand: DemandSpec = Field(default_factory=DemandSpec)
    time_limit_s: float = Field(2.0, gt=0, le=600, description="search time (inline at most 10)")

    @model_validator(mode="after")
    def _days_once(self) -> RouteRequest:
        repeated = sorted({d for d in self.days if self.days.count(d) > 1})
        if repeated:
            raise ValueError(
                f"days has {repeated} more than once: list each weekday once "
                "(add vehicles for more vans a day, or frequency for alternate weeks)"
            )
        return self


class SiteFigures(BaseModel):
    """Travel and coverage for a set of open sites (travel in `summary.travel_unit`)."""

    site_ids: list[int]
    new_site_ids: list[int] | None = None
    objective_value: float = Field(description="in `summary.objective_unit`, for today's sites too")
    weighted_travel: float | None = Field(None, description="demand x travel (seconds or metres)")
    mean_travel: float
    worst_travel: float
    covered_demand: float | None = None
    coverage_share: float | None = None


class SitingSummary(BaseModel):
    """How the answer was found, and in what units."""

    objective: str
    objective_value: float
    objective_unit: str
    status: Literal["optimal", "time_limit", "heuristic"]
    gap: float | None
    bound: float | None
    heuristic_value: float | None
    solver: str
    heuristic_seconds: float
    milp_seconds: float
    time_limit_s: float
    p: int
    kept_existing: list[int]
    candidates: int
    travel: str
    travel_unit: str
    access_speed_kph: float | None
    cover_within: float | None
    capacity_scale: float | None
    demand: str
    demand_source: str
    demand_unit: str
    demand_points: int
    total_demand: float
    notes: list[str]


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection in WGS84."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[dict[str, Any]]


class SegmentTable(BaseModel):
    """Who is served how well, per segment: households, travel, and those left out.

    Sites: `{segment, name, households, proposed_mean_travel, proposed_worst_travel,
    proposed_left_out, current_..., left_out_change}` with left out = travel beyond
    `standard` (`cover_within`, else 15 min / 5,000 m). Routes: `{segment, name, households,
    reached, left_out, reached_share}` within the walk.
    """

    standard: float
    unit: str
    rows: list[dict[str, Any]]


class SitingPlan(BaseModel):
    """Chosen sites, their catchments, and the demand used, with today's figures beside them."""

    summary: SitingSummary
    proposed: SiteFigures
    current: SiteFigures | None
    sites: FeatureCollection
    catchments: FeatureCollection
    demand: FeatureCollection
    segments: SegmentTable | None = None


class RouteSummary(BaseModel):
    """Totals for the routes, and how they were found (households each counted once)."""

    vehicles: int
    days: list[str]
    frequency: str
    period_weeks: int
    route_days: int
    day_start: str
    day_end: str
    service_min: float
    break_min: float
    stop_source: str
    stop_selection: str
    candidates: int
    stops_considered: int
    stops_visited: int
    stops_dropped: int
    total_duration_min: float
    total_distance_km: float
    walk_m: float
    walk_basis: str
    walk_speed_kph: float | None
    households_within_walk: int
    target_households_within_walk: int
    demand_within_walk: float
    target_households_counted_by_stop: int
    greedy_demand_within_walk: float | None
    by_reach_demand_within_walk: float | None
    cover_status: str | None
    total_demand: float
    demand: str
    depot_site_id: int
    depot: str
    objective_s: int
    status: str
    solutions_found: int
    solve_seconds: float
    time_limit_s: float
    travel_basis: str


class RoutePlan(BaseModel):
    """Routes (LineStrings along the roads), stops in visiting order, and dropped stops."""

    summary: RouteSummary
    segments: SegmentTable | None = None
    routes: FeatureCollection
    stops: FeatureCollection
    timetable: list[dict[str, Any]] = Field(
        description="printable rows per route: depart, stops (arrive, start, depart, dwell), break, return"
    )
    dropped: list[dict[str, Any]]


class PlanningJob(JobState):
    """A background planning solve: poll `status_url` until status is done or failed."""

    result: dict[str, Any] | None = None
    status_url: str | None = None


class ScenarioRequest(BaseModel):
    """Solve a siting or a route request and keep its answer under a name."""

    name: str = Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f]+$")
    description: str | None = Field(None, max_length=2000)
    sites: SitingRequest | None = None
    routes: RouteRequest | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ScenarioRequest:
        if (self.sites is None) == (self.routes is None):
            raise ValueError("give exactly one of `sites` (a siting request) or `routes` (a route request)")
        return self


class Scenario(BaseModel):
    """A saved scenario: its request, comparable figures and (when asked) the whole answer."""

    id: int
    name: str
    kind: Literal["sites", "routes"]
    description: str | None
    created_at: str
    created_by: str | None
    request: dict[str, Any]
    figures: dict[str, Any]
    result: dict[str, Any] | None = None


class ScenarioComparison(BaseModel):
    """Scenarios side by side, and households left out per segment and scenario."""

    scenarios: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    notes: list[str]


class LscpRequest(BaseModel):
    """The fewest new sites that put a share of the demand within a standard."""

    cover_within: float = Field(gt=0, description="minutes for drive_time, metres otherwise")
    share: float = Field(1.0, gt=0, le=1, description="share of the demand to cover (1 = all)")
    keep_existing: bool = True
    candidate_kinds: list[SiteKind] | None = None
    candidate_site_ids: list[SiteId] | None = Field(None, max_length=1000)
    travel: Literal["drive_time", "drive_distance", "straight_line"] = "drive_time"
    demand: DemandSpec = Field(default_factory=DemandSpec)
    demand_unit: Literal["oa", "h3"] = "oa"
    h3_resolution: int = Field(8, ge=6, le=10)
    time_limit_s: float = Field(10.0, gt=0, le=30)


class AccessibilityRequest(BaseModel):
    """Two-step floating catchment accessibility to sites, per demand area."""

    within: float = Field(gt=0, description="catchment: minutes for drive_time, metres otherwise")
    supply: Literal["capacity", "equal"] = "capacity"
    site_ids: list[SiteId] | None = Field(None, max_length=1000, description="default: today's offices")
    travel: Literal["drive_time", "drive_distance", "straight_line"] = "drive_time"
    demand: DemandSpec = Field(default_factory=DemandSpec)
    demand_unit: Literal["oa", "h3"] = "oa"
    h3_resolution: int = Field(8, ge=6, le=10)


class HuffRequest(BaseModel):
    """What share of demand our sites draw when partner or competitor venues serve it too."""

    competitor_site_ids: list[SiteId] = Field(min_length=1, max_length=1000)
    site_ids: list[SiteId] | None = Field(None, max_length=1000, description="ours; default: today's offices")
    attractiveness: Literal["capacity", "equal"] = "equal"
    beta: float = Field(2.0, gt=0, le=5, description="distance decay exponent")
    travel: Literal["drive_time", "drive_distance", "straight_line"] = "drive_time"
    demand: DemandSpec = Field(default_factory=DemandSpec)
    demand_unit: Literal["oa", "h3"] = "oa"
    h3_resolution: int = Field(8, ge=6, le=10)


class PointsAnswer(BaseModel):
    """A summary with the sites and demand points it speaks of (GeoJSON, WGS84)."""

    summary: dict[str, Any]
    sites: FeatureCollection
    demand: FeatureCollection


# --------------------------------------------------------------------------- service zones


class ZonesRequest(BaseModel):
    """Balanced, contiguous service zones over output areas or LSOAs (max-p or SKATER)."""

    method: Literal["max_p", "skater"] = Field(
        "max_p",
        description="max_p: as many zones as possible, each with at least `floor` demand; "
        "skater: exactly `n_zones` zones cut from the contiguity tree",
    )
    level: Literal["oa", "lsoa"] = Field("oa", description="the areas zones are built from")
    floor: float | None = Field(None, gt=0, description="max_p: least demand per zone")
    n_zones: int | None = Field(None, ge=1, le=500, description="skater: the number of zones")
    min_areas: int | None = Field(None, ge=1, description="skater: least number of areas in a zone")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="max_p: random seed (same seed, same zones)")
    construction_iterations: int = Field(
        10, ge=1, le=99, description="max_p: random constructions tried (spopt's max_iterations_construction)"
    )
    annealing_runs: int = Field(
        1, ge=1, le=10, description="max_p: annealing runs per construction (spopt's max_iterations_sa)"
    )
    demand: DemandSpec = Field(default_factory=DemandSpec)

    @model_validator(mode="after")
    def _needs_size(self) -> ZonesRequest:
        if self.method == "max_p" and self.floor is None:
            raise ValueError("`floor` is required for max_p zones (the least demand per zone)")
        if self.method == "skater" and self.n_zones is None:
            raise ValueError("`n_zones` is required for skater zones")
        return self


class ZoneAssignment(BaseModel):
    """One area's zone (1-based) and the demand it brings."""

    code: str
    zone: int
    demand: float


class ZonesAnswer(BaseModel):
    """Service zones: a summary, one polygon per zone (WGS84) and each area's zone."""

    summary: dict[str, Any]
    zones: FeatureCollection
    assignment: list[ZoneAssignment]
