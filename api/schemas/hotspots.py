"""Request and response models of the hot-spot, demand, targeting and evaluation API.

Counts are numbers for officers; for public callers an observed or expected count from 1
to the threshold is the string ``"<5"`` and the figures that would reveal it are null.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas import JobState

#: A count as shown: the number, or a suppression label for public callers.
Count = float | int | str

CODE = r"^[A-Za-z0-9_\-]+$"


class _AreaFeature(BaseModel):
    """An area (or H3 cell) as a GeoJSON Feature (WGS84); subclasses type ``properties``."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] | None


class _AreaFeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection with ``meta``; subclasses type ``features``."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Any] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class HotSpotProperties(BaseModel):
    """What every hot-spot feature carries."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(description="area code, or the H3 cell index")
    name: str | None
    households: int
    expected: Count | None = Field(description="Σ over segments of households × the segment's rate")
    observed: Count | None
    ratio: float | None = Field(description="observed / expected")
    ci_low: float | None = Field(description="Garwood exact 95% interval of the ratio")
    ci_high: float | None
    p_value: float | None = Field(description="two-sided p: exact Poisson (ratio) or the spatial statistic's")
    q_value: float | None = Field(description="Benjamini-Hochberg adjusted p-value")
    funnel_95_low: float | None = Field(description="funnel-plot control limits for the ratio (95%, 99.8%)")
    funnel_95_high: float | None
    funnel_998_low: float | None
    funnel_998_high: float | None
    class_: str = Field(
        alias="class",
        description="ratio and gistar: hot | not | as_expected; "
        "moran: high_high | low_low | high_low | low_high | as_expected",
    )
    potential: float | None = Field(None, description="use if every segment reached its benchmark take-up")
    unmet: float | None = Field(None, description="potential − observed")
    value: float | None = Field(None, description="gistar/moran: the value analysed (see meta.variable)")
    statistic: float | None = Field(None, description="gistar/moran: G*_i or I_i")
    z: float | None = Field(None, description="gistar/moran: analytical z-score (matches PySAL esda)")
    poisson_p_value: float | None = Field(
        None, description="exact Poisson p-value, whatever dispersion model p_value follows"
    )
    mdrr_high: float | None = Field(
        None, description="smallest ratio this area would be flagged at alone with 80% power"
    )
    mdrr_low: float | None = Field(
        None, description="largest ratio a not spot here would be flagged at (null: undetectable)"
    )
    cluster: int | None = Field(None, description="scan: the cluster (meta.clusters id) holding this area")
    cluster_relative_risk: float | None = Field(None, description="scan: the cluster's relative risk")
    cluster_llr: float | None = Field(None, description="scan: the cluster's log-likelihood ratio")


class HotSpotFeature(_AreaFeature):
    """One area's result as a GeoJSON Feature (WGS84)."""

    properties: HotSpotProperties


class HotSpotCollection(_AreaFeatureCollection):
    """Hot spots as a GeoJSON FeatureCollection with ``meta``: variable, weights, transform, reference."""

    features: list[HotSpotFeature] = Field(default_factory=list)


class DemandProperties(BaseModel):
    """Potential and unmet demand of one area."""

    code: str
    name: str | None
    households: int
    observed: Count | None
    potential: float | None
    unmet: float | None
    unmet_per_1000: float | None


class DemandFeature(_AreaFeature):
    """One area's demand as a GeoJSON Feature."""

    properties: DemandProperties


class DemandCollection(_AreaFeatureCollection):
    """Potential and unmet demand per area, with the segment benchmarks in ``meta``."""

    features: list[DemandFeature] = Field(default_factory=list)


class ProfileRate(BaseModel):
    """One row of a propensity profile: a segment's rate of use per household."""

    segment_code: str = Field(min_length=1, max_length=32)
    rate: float = Field(ge=0)


class PredictRequest(BaseModel):
    """A propensity profile (given, or learnt from a service in a source area) and target areas."""

    profile: list[ProfileRate] | None = Field(
        None, description="rates per segment; or leave out and give source_service and source_area"
    )
    profile_csv: str | None = Field(
        None, max_length=100_000, description="the profile as CSV text with segment_code,rate columns"
    )
    source_service: str | None = Field(None, max_length=64, pattern=CODE)
    source_area: str | None = Field(None, max_length=32, pattern=CODE, description="e.g. another district")
    level: str = Field("oa", max_length=64, pattern=CODE, description="target areas: a level or custom set")
    resolution: int | None = Field(None, ge=5, le=12, description="H3 resolution when level is h3")
    within: str | None = Field(None, max_length=32, pattern=CODE, description="only OAs inside this area")
    classification: str | None = Field(None, max_length=64, pattern=CODE)
    tier: str | None = Field(
        None, max_length=32, pattern=CODE, description="a tier of the classification (OAC: supergroup, group)"
    )
    format: Literal["geojson", "csv"] = "geojson"

    @model_validator(mode="after")
    def _one_profile(self) -> PredictRequest:
        given = sum(x is not None for x in (self.profile, self.profile_csv, self.source_service))
        if given != 1:
            raise ValueError("give exactly one of `profile`, `profile_csv` or `source_service`")
        if self.source_service and not self.source_area:
            raise ValueError("`source_area` is required with `source_service`")
        return self


class PredictProperties(BaseModel):
    """Predicted demand of one area."""

    code: str
    name: str | None
    households: int
    predicted: float
    predicted_low: float = Field(description="central 95% Poisson prediction interval")
    predicted_high: float
    per_1000: float
    coverage: float = Field(description="share of households in segments the profile knows")


class PredictFeature(_AreaFeature):
    """One area's predicted demand as a GeoJSON Feature."""

    properties: PredictProperties


class PredictCollection(_AreaFeatureCollection):
    """Predicted demand per area as GeoJSON, with the profile used in ``meta``."""

    features: list[PredictFeature] = Field(default_factory=list)


class TargetRow(BaseModel):
    """One area of a campaign list: where to leaflet, whom to visit."""

    rank: int
    area_code: str
    name: str | None
    target_households: int
    observed: float
    unmet: float = Field(description="households × benchmark gap, summed over the target segments")
    unmet_per_1000: float
    main_segment: str | None
    main_segment_name: str | None
    segments: list[str]
    channels: list[str] = Field(description="preferred channels of the segments, most unmet demand first")
    media: list[str]


class TargetingList(BaseModel):
    """Areas ranked for a campaign."""

    meta: dict[str, Any]
    rows: list[TargetRow]


class Period(BaseModel):
    """An inclusive date range."""

    start: dt.date
    end: dt.date


class EvaluationRequest(BaseModel):
    """An intervention to evaluate: treated areas, periods, and optionally the controls."""

    level: str = Field("oa", max_length=64, pattern=CODE)
    treated: list[str] = Field(min_length=2, max_length=5000)
    control: list[str] | None = Field(None, min_length=2, max_length=5000)
    n_controls: int | None = Field(None, ge=2, le=5000)
    before: Period
    after: Period
    unit: Literal["events", "households"] | None = None
    classification: str | None = Field(None, max_length=64, pattern=CODE)
    tier: str | None = Field(
        None, max_length=32, pattern=CODE, description="a tier of the classification (OAC: supergroup, group)"
    )
    alpha: float = Field(0.05, gt=0, lt=1)


class EvaluationResult(BaseModel):
    """Difference in differences with its interval."""

    model_config = ConfigDict(extra="allow")

    unit: str
    estimate: float = Field(description="(treated after − before) − (control after − before)")
    ci_low: float
    ci_high: float
    p_value: float
    std_error: float
    treated_before: float
    treated_after: float
    control_before: float
    control_after: float
    rate_ratio: float | None
    control: list[str]


class HotspotRequest(BaseModel):
    """Hot spots against an uploaded table of reference rates (the POST form of the GET)."""

    rates: list[ProfileRate] | None = Field(None, max_length=500, description="reference rate per segment")
    rates_csv: str | None = Field(None, max_length=100_000, description="the same as CSV: segment_code,rate")
    level: str = Field("oa", max_length=64, pattern=CODE)
    resolution: int | None = Field(None, ge=5, le=12)
    method: Literal["ratio", "gistar", "moran", "scan"] = "ratio"
    weights: Literal["queen", "knn", "distance"] = "queen"
    k: int = Field(8, ge=1, le=50)
    distance_m: float | None = Field(None, gt=0, le=50_000)
    transform: Literal["B", "R"] | None = None
    variable: Literal["ratio", "rate", "eb_rate", "seb_rate"] = "ratio"
    fdr: float = Field(0.05, gt=0, lt=1)
    dispersion: Literal["auto", "none", "multiplicative", "additive", "negbin"] = "auto"
    max_share: float = Field(0.1, gt=0, le=0.5)
    direction: Literal["both", "high", "low"] = "both"
    members: Literal["significant", "cluster", "window"] = "significant"
    classification: str | None = Field(None, max_length=64, pattern=CODE)
    tier: str | None = Field(
        None, max_length=32, pattern=CODE, description="a tier of the classification (OAC: supergroup, group)"
    )
    within: str | None = Field(None, max_length=32, pattern=CODE)
    unit: Literal["events", "households"] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    percentile: float = Field(80.0, gt=0, le=100)
    format: Literal["geojson", "csv"] = "geojson"

    @model_validator(mode="after")
    def _one_table(self) -> HotspotRequest:
        if (self.rates is None) == (self.rates_csv is None):
            raise ValueError("give exactly one of `rates` or `rates_csv`")
        return self


class HotspotJobRequest(BaseModel):
    """A permutation run of Gi*, local Moran's I or the scan statistic, as a background job."""

    level: str = Field("oa", max_length=64, pattern=CODE)
    resolution: int | None = Field(None, ge=5, le=12)
    method: Literal["gistar", "moran", "scan"] = "gistar"
    weights: Literal["queen", "knn", "distance"] = "queen"
    k: int = Field(8, ge=1, le=50)
    distance_m: float | None = Field(None, gt=0, le=50_000)
    transform: Literal["B", "R"] | None = None
    variable: Literal["ratio", "rate", "eb_rate", "seb_rate"] = "ratio"
    permutations: int = Field(999, ge=1, le=9_999)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    fdr: float = Field(0.05, gt=0, lt=1)
    dispersion: Literal["auto", "none", "multiplicative", "additive", "negbin"] = "auto"
    max_share: float = Field(0.1, gt=0, le=0.5)
    direction: Literal["both", "high", "low"] = "both"
    members: Literal["significant", "cluster", "window"] = "significant"
    reference: str | None = Field(None, max_length=2000)
    classification: str | None = Field(None, max_length=64, pattern=CODE)
    tier: str | None = Field(
        None, max_length=32, pattern=CODE, description="a tier of the classification (OAC: supergroup, group)"
    )
    within: str | None = Field(None, max_length=32, pattern=CODE)
    unit: Literal["events", "households"] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    percentile: float = Field(80.0, gt=0, le=100)


class JobInfo(JobState):
    """A background job's state."""

    links: dict[str, str] = Field(default_factory=dict)


class ReachRow(BaseModel):
    """One segment's reach against its reference rate."""

    model_config = ConfigDict(extra="allow")

    segment_code: str
    name: str | None = None
    eligible: float = Field(description="eligible households of the segment")
    observed: Count | None = Field(description="users (membership) or events")
    reach: float | None = Field(description="observed / eligible")
    reach_low: float | None
    reach_high: float | None
    reference_rate: float | None
    expected: Count | None = Field(description="eligible x reference rate")
    ratio: float | None = Field(description="observed / expected, least reached first")
    ratio_low: float | None
    ratio_high: float | None
    p_value: float | None
    q_value: float | None
    class_: str = Field(alias="class", description="under_served | over_served | as_expected")


class ReachTable(BaseModel):
    """Segments least reached first, with what was compared in ``meta``."""

    meta: dict[str, Any]
    rows: list[ReachRow]
