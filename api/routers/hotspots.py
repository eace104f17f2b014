"""Hot spots and not spots, spatial clusters, demand, targeting and evaluation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import DisclosureDep, OfficerDep, ViewerDep
from api.deps import ConnDep, EngineDep
from api.schemas.hotspots import (
    DemandCollection,
    EvaluationRequest,
    EvaluationResult,
    HotSpotCollection,
    HotspotJobRequest,
    HotspotRequest,
    JobInfo,
    PredictCollection,
    PredictRequest,
    ReachTable,
    TargetingList,
)
from geo.analysis.data import resolve_tier
from geo.analysis.hotspot_outputs import (
    HotspotParams,
    demand_output,
    evaluation_output,
    hotspot_job_output,
    hotspots_output,
    predict_output,
    reach_output,
    start_hotspot_job,
    targeting_output,
    trends_output,
)
from geo.analysis.jobs import Job, default_runner
from geo.areas import area_feature
from geo.auth import Role
from geo.errors import PermissionDenied

router = APIRouter(prefix="/api/v1", tags=["hotspots"])

GEOJSON = "application/geo+json"
CSV = "text/csv"
CODE = r"^[A-Za-z0-9_\-]+$"

ServiceCode = Annotated[str, Path(min_length=1, max_length=64, pattern=CODE, description="Service code")]
LevelQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=64,
        pattern=CODE,
        description="oa, lsoa, ward, district, h3 or a custom set",
    ),
]
ResolutionQuery = Annotated[int | None, Query(ge=5, le=12, description="H3 resolution (level=h3)")]
WithinQuery = Annotated[
    str | None, Query(max_length=32, pattern=CODE, description="Only output areas inside this area")
]
ClassificationQuery = Annotated[
    str | None, Query(max_length=64, pattern=CODE, description="Classification (default: the household one)")
]
TierQuery = Annotated[
    str | None,
    Query(max_length=32, pattern=CODE, description="A tier of the classification (OAC: supergroup, group)"),
]
UnitQuery = Annotated[
    Literal["events", "households"] | None,
    Query(description="events, or distinct households (default: the service's own unit)"),
]
PercentileQuery = Annotated[
    float, Query(gt=0, le=100, description="Benchmark: the take-up reached by this percentile of areas")
]
MapFormat = Annotated[Literal["geojson", "csv"], Query(description="geojson (WGS84) or csv")]


def _body(body: dict[str, Any] | str, fmt: str, filename: str) -> Response:
    if fmt == "csv":
        assert isinstance(body, str)
        headers = {"Content-Disposition": f'attachment; filename="{filename}.csv"'}
        return Response(body, media_type=CSV, headers=headers)
    return JSONResponse(body, media_type=GEOJSON)


def _check_public_source(conn: Any, code: str) -> None:
    """Public callers may learn rates only from a whole district (issue 8).

    Rates learnt in a small area, applied to many areas of known segment mix, let a reader
    solve for that area's counts per segment, which disclosure control hides.
    """
    if area_feature(conn, code)["properties"]["level"] != "district":
        raise PermissionDenied(
            "learning rates from a source area smaller than a district needs the officer role "
            "(it could reveal that area's small counts)"
        )


@dataclass
class HotspotQuery:
    """The query parameters of the hot-spot endpoint."""

    level: LevelQuery = "oa"
    resolution: ResolutionQuery = None
    method: Annotated[
        Literal["ratio", "gistar", "moran", "scan"],
        Query(
            description="ratio: O/E with per-area tests; gistar: Getis-Ord Gi*; moran: local Moran's I; "
            "scan: Kulldorff's spatial scan statistic (clusters in meta.clusters)"
        ),
    ] = "ratio"
    weights: Annotated[
        Literal["queen", "knn", "distance"], Query(description="spatial weights for gistar/moran")
    ] = "queen"
    k: Annotated[int, Query(ge=1, le=50, description="neighbours for knn weights")] = 8
    distance_m: Annotated[
        float | None, Query(gt=0, le=50_000, description="band for distance weights, metres")
    ] = None
    transform: Annotated[
        Literal["B", "R"] | None,
        Query(description="B binary, R row-standardised (default: B for gistar, R for moran)"),
    ] = None
    variable: Annotated[
        Literal["ratio", "rate", "eb_rate", "seb_rate"],
        Query(
            description="gistar/moran: O/E, use per 1000 households, or that rate empirical-Bayes "
            "smoothed globally (eb_rate) or towards each area's neighbours (seb_rate)"
        ),
    ] = "ratio"
    permutations: Annotated[
        int, Query(ge=0, le=9_999, description="conditional randomisation; 0 = analytical z-scores")
    ] = 0
    seed: Annotated[int | None, Query(ge=0, le=2**32 - 1, description="seed for permutations")] = None
    fdr: Annotated[float, Query(gt=0, lt=1, description="Benjamini-Hochberg false-discovery rate")] = 0.05
    reference: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="expected rates: 'district' (the study area), 'area:<code>' (learnt in another "
            "area) or 'rates:A=0.2,B=0.1,...' (a table of rates)",
        ),
    ] = None
    classification: ClassificationQuery = None
    tier: TierQuery = None
    within: WithinQuery = None
    unit: UnitQuery = None
    date_from: Annotated[dt.date | None, Query(description="First day counted (inclusive)")] = None
    date_to: Annotated[dt.date | None, Query(description="Last day counted (inclusive)")] = None
    percentile: PercentileQuery = 80.0
    dispersion: Annotated[
        Literal["auto", "none", "multiplicative", "additive", "negbin"],
        Query(
            description="area test's allowance for overdispersion (Spiegelhalter 2005): auto (negbin "
            "when the winsorised phi > 1 or its test rejects), none (exact Poisson), "
            "multiplicative (quasi-Poisson), additive, negbin; phi is in meta.dispersion"
        ),
    ] = "auto"
    max_share: Annotated[
        float, Query(gt=0, le=0.5, description="scan: largest window, share of the expected count")
    ] = 0.1
    direction: Annotated[
        Literal["both", "high", "low"], Query(description="scan: elevated and/or reduced clusters")
    ] = "both"
    members: Annotated[
        Literal["significant", "cluster", "window"],
        Query(
            description="scan: flag the areas of significant clusters whose own test (p <= fdr/2) points "
            "its way plus the areas flagged on their own (significant), the former only (cluster), or "
            "every area of the windows (window)"
        ),
    ] = "significant"

    def params(self, conn: Any, service: str) -> HotspotParams:
        """As the domain's parameter object (the classification at the tier asked for)."""
        fields = dict(self.__dict__)
        fields["classification"] = resolve_tier(conn, fields["classification"], fields.pop("tier"))
        return HotspotParams(service=service, **fields)


@router.get(
    "/services/{service}/hotspots",
    operation_id="get_service_hotspots",
    response_model=HotSpotCollection,
    responses={
        200: {"content": {GEOJSON: {}, CSV: {}}},
        404: {"description": "Unknown service, classification or area"},
    },
)
def get_service_hotspots(
    conn: ConnDep,
    disclosure: DisclosureDep,
    service: ServiceCode,
    query: Annotated[HotspotQuery, Depends()],
    format: MapFormat = "geojson",
) -> Any:
    """Where use differs from what the population predicts: O/E with per-area tests, Gi*, local Moran
    or Kulldorff's scan statistic."""
    if disclosure is not None and (query.reference or "").startswith("area:"):
        _check_public_source(conn, (query.reference or "")[len("area:") :])
    body = hotspots_output(conn, query.params(conn, service), disclosure, format)
    return _body(body, format, f"hotspots_{service}_{query.level}")


@router.post(
    "/services/{service}/hotspots",
    operation_id="compute_service_hotspots",
    response_model=HotSpotCollection,
    responses={200: {"content": {GEOJSON: {}, CSV: {}}}, 404: {"description": "Unknown service"}},
)
def compute_service_hotspots(
    conn: ConnDep, disclosure: DisclosureDep, service: ServiceCode, body: HotspotRequest
) -> Any:
    """Hot spots against an uploaded table of reference rates (a profile learnt elsewhere)."""
    fields = body.model_dump(exclude={"rates", "rates_csv", "format", "tier"})
    fields["classification"] = resolve_tier(conn, body.classification, body.tier)
    table = body.rates_csv if body.rates is None else [r.model_dump() for r in body.rates]
    body_out = hotspots_output(
        conn, HotspotParams(service=service, rates=table, **fields), disclosure, body.format
    )
    return _body(body_out, body.format, f"hotspots_{service}_{body.level}")


def _job_info(request: Request, job: Job) -> dict[str, Any]:
    info = job.summary()
    info["links"] = {
        "self": str(request.url_for("get_hotspot_job", job_id=job.id)),
        "result": str(request.url_for("get_hotspot_job_result", job_id=job.id)),
    }
    return info


@router.post(
    "/services/{service}/hotspots/jobs",
    operation_id="start_hotspot_job",
    response_model=JobInfo,
    status_code=202,
)
def start_service_hotspot_job(
    request: Request, engine: EngineDep, viewer: OfficerDep, service: ServiceCode, body: HotspotJobRequest
) -> Any:
    """Start a Gi*, local Moran or scan-statistic run in the background; poll it for progress."""
    fields = body.model_dump(exclude={"tier"})
    with engine.connect() as conn:
        fields["classification"] = resolve_tier(conn, body.classification, body.tier)
    params = HotspotParams(service=service, **fields)
    job = start_hotspot_job(engine, params)
    return JSONResponse(_job_info(request, job), status_code=202)


JobId = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]


@router.get("/hotspot-jobs/{job_id}", operation_id="get_hotspot_job", response_model=JobInfo)
def get_hotspot_job(request: Request, viewer: OfficerDep, job_id: JobId) -> Any:
    """A hot-spot job's status and progress (0 to 1)."""
    return _job_info(request, default_runner().get(job_id))


@router.get(
    "/hotspot-jobs/{job_id}/result",
    operation_id="get_hotspot_job_result",
    response_model=HotSpotCollection,
    responses={200: {"content": {GEOJSON: {}, CSV: {}}}},
)
def get_hotspot_job_result(
    conn: ConnDep, viewer: OfficerDep, job_id: JobId, format: MapFormat = "geojson"
) -> Any:
    """The result of a finished hot-spot job, as GeoJSON or CSV."""
    body = hotspot_job_output(conn, default_runner().get(job_id), None, format)
    return _body(body, format, f"hotspots_job_{job_id}")


@router.get(
    "/services/{service}/hotspots/trends",
    operation_id="get_service_hotspot_trends",
    responses={200: {"content": {GEOJSON: {}, CSV: {}}}, 404: {"description": "Unknown service"}},
)
def get_service_hotspot_trends(
    conn: ConnDep,
    viewer: ViewerDep,
    service: ServiceCode,
    level: LevelQuery = "oa",
    resolution: ResolutionQuery = None,
    slice: Annotated[Literal["month", "quarter"], Query(description="time slice")] = "quarter",
    date_from: Annotated[dt.date | None, Query(description="First day (default: the first event)")] = None,
    date_to: Annotated[dt.date | None, Query(description="Last day (default: the last event)")] = None,
    fdr: Annotated[float, Query(gt=0, lt=1, description="Benjamini-Hochberg level within each slice")] = 0.05,
    weights: Annotated[Literal["queen", "knn", "distance"], Query(description="spatial weights")] = "queen",
    k: Annotated[int, Query(ge=1, le=50, description="neighbours for knn weights")] = 8,
    distance_m: Annotated[float | None, Query(gt=0, le=50_000, description="band, metres")] = None,
    classification: ClassificationQuery = None,
    tier: TierQuery = None,
    unit: UnitQuery = None,
    within: WithinQuery = None,
    format: MapFormat = "geojson",
) -> Any:
    """Emerging hot spots: Gi* per month or quarter, a Mann-Kendall trend of each area's z, and
    Esri's categories (new, consecutive, intensifying, persistent, diminishing, sporadic,
    oscillating, historical; hot and cold)."""
    body = trends_output(
        conn,
        service,
        level,
        resolution=resolution,
        slice=slice,
        date_from=date_from,
        date_to=date_to,
        fdr=fdr,
        weights=weights,
        k=k,
        distance_m=distance_m,
        classification=resolve_tier(conn, classification, tier),
        unit=unit,
        within=within,
        fmt=format,
    )
    return _body(body, format, f"hotspot_trends_{service}_{level}")


@router.get(
    "/services/{service}/reach",
    operation_id="get_service_reach",
    response_model=ReachTable,
    responses={200: {"content": {"application/json": {}, CSV: {}}}, 404: {"description": "Unknown service"}},
)
def get_service_reach(
    conn: ConnDep,
    disclosure: DisclosureDep,
    service: ServiceCode,
    reference: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="reference rate per segment: 'district' (the study's overall rate), "
            "'area:<code>' (learnt in another area) or 'rates:A=0.2,B=0.1,...' (a published table)",
        ),
    ] = None,
    classification: ClassificationQuery = None,
    tier: TierQuery = None,
    unit: UnitQuery = None,
    within: WithinQuery = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    fdr: Annotated[float, Query(gt=0, lt=1, description="Benjamini-Hochberg level across segments")] = 0.05,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Any:
    """Reach per segment (users / eligible households, with intervals) against a reference rate:
    which segments are least reached, and whether a whole segment is under-served."""
    if disclosure is not None and (reference or "").startswith("area:"):
        _check_public_source(conn, (reference or "")[len("area:") :])
    body = reach_output(
        conn,
        service,
        reference=reference,
        classification=resolve_tier(conn, classification, tier),
        unit=unit,
        within=within,
        date_from=date_from,
        date_to=date_to,
        fdr=fdr,
        policy=disclosure,
        fmt=format,
    )
    if format == "csv":
        assert isinstance(body, str)
        headers = {"Content-Disposition": f'attachment; filename="reach_{service}.csv"'}
        return Response(body, media_type=CSV, headers=headers)
    return body


@router.get(
    "/services/{service}/demand",
    operation_id="get_service_demand",
    response_model=DemandCollection,
    responses={200: {"content": {GEOJSON: {}, CSV: {}}}},
)
def get_service_demand(
    conn: ConnDep,
    disclosure: DisclosureDep,
    service: ServiceCode,
    level: LevelQuery = "oa",
    resolution: ResolutionQuery = None,
    percentile: PercentileQuery = 80.0,
    min_households: Annotated[
        int,
        Query(ge=1, le=10_000, description="fewer of a segment's households: no vote on its benchmark"),
    ] = 20,
    classification: ClassificationQuery = None,
    tier: TierQuery = None,
    unit: UnitQuery = None,
    within: WithinQuery = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    format: MapFormat = "geojson",
) -> Any:
    """Potential and unmet demand per area if every segment reached the take-up of the best areas."""
    body = demand_output(
        conn,
        service,
        level,
        resolution=resolution,
        percentile=percentile,
        classification=resolve_tier(conn, classification, tier),
        unit=unit,
        min_households=min_households,
        within=within,
        date_from=date_from,
        date_to=date_to,
        policy=disclosure,
        fmt=format,
    )
    return _body(body, format, f"demand_{service}_{level}")


@router.post(
    "/demand/predict",
    operation_id="predict_demand",
    response_model=PredictCollection,
    responses={200: {"content": {GEOJSON: {}, CSV: {}}}},
)
def predict_demand(conn: ConnDep, viewer: ViewerDep, body: PredictRequest) -> Any:
    """Apply a propensity profile (uploaded, or learnt in another area) to the households of an area set."""
    if body.source_area is not None and not viewer.may(Role.officer):
        _check_public_source(conn, body.source_area)
    profile: Any = body.profile_csv if body.profile_csv is not None else None
    if body.profile is not None:
        profile = [r.model_dump() for r in body.profile]
    out = predict_output(
        conn,
        profile,
        body.level,
        resolution=body.resolution,
        classification=resolve_tier(conn, body.classification, body.tier),
        within=body.within,
        source_service=body.source_service,
        source_area=body.source_area,
        fmt=body.format,
    )
    return _body(out, body.format, f"predicted_demand_{body.level}")


@router.get(
    "/services/{service}/targeting",
    operation_id="get_service_targeting",
    response_model=TargetingList,
    responses={200: {"content": {CSV: {}}}},
)
def get_service_targeting(
    conn: ConnDep,
    viewer: OfficerDep,
    service: ServiceCode,
    segments: Annotated[
        str,
        Query(
            min_length=1,
            max_length=400,
            pattern=r"^[A-Za-z0-9_\-]+(,[A-Za-z0-9_\-]+)*$",
            description="target segment codes, comma-separated",
        ),
    ],
    level: LevelQuery = "oa",
    resolution: ResolutionQuery = None,
    percentile: PercentileQuery = 80.0,
    top: Annotated[int, Query(ge=1, le=10_000, description="how many areas to list")] = 50,
    classification: ClassificationQuery = None,
    tier: TierQuery = None,
    unit: UnitQuery = None,
    within: WithinQuery = None,
    format: Annotated[Literal["json", "csv"], Query(description="json, or csv for a team's list")] = "json",
) -> Any:
    """Areas ranked for a campaign to the target segments, with their preferred channels and media."""
    body = targeting_output(
        conn,
        service,
        segments.split(","),
        level,
        resolution=resolution,
        percentile=percentile,
        classification=resolve_tier(conn, classification, tier),
        unit=unit,
        top=top,
        within=within,
        fmt=format,
    )
    if format == "csv":
        return _body(body, "csv", f"targeting_{service}_{level}")
    return body


@router.post(
    "/services/{service}/evaluation",
    operation_id="evaluate_intervention",
    response_model=EvaluationResult,
)
def evaluate_service_intervention(
    conn: ConnDep, viewer: OfficerDep, service: ServiceCode, body: EvaluationRequest
) -> Any:
    """Difference in differences: change in take-up in treated areas against comparable control areas."""
    return evaluation_output(
        conn,
        service,
        body.level,
        body.treated,
        before=(body.before.start, body.before.end),
        after=(body.after.start, body.after.end),
        control=body.control,
        n_controls=body.n_controls,
        classification=resolve_tier(conn, body.classification, body.tier),
        unit=body.unit,
        alpha=body.alpha,
    )
