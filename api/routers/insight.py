"""Insight: core and developmental targets, similar areas, combined hot spots, exclusion, selector."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import StringConstraints

from api.auth import DisclosureDep, OfficerDep, scoped
from api.deps import ConnDep
from api.schemas.insight import (
    CombinedHotSpots,
    ExclusionRequest,
    ExclusionResult,
    SelectorProfile,
    SelectorRequest,
    SimilarAreas,
    TargetAreaList,
    TargetTable,
)
from geo.analysis.combined import combined_output
from geo.analysis.data import resolve_tier
from geo.analysis.insight_outputs import (
    exclusion_output,
    parse_weights,
    selector_output,
    target_areas_output,
    targets_output,
)
from geo.analysis.similar import similar_areas
from geo.analysis.targets import TargetThresholds

router = APIRouter(prefix="/api/v1", tags=["insight"])

CSV = "text/csv"
GEOJSON = "application/geo+json"
CODE = r"^[A-Za-z0-9_\-]+$"

ServiceCode = Annotated[str, Path(min_length=1, max_length=64, pattern=CODE, description="Service code")]
AreaCode = Annotated[str, Path(min_length=1, max_length=32, pattern=CODE, description="Area code")]
ClassificationQuery = Annotated[
    str | None, Query(max_length=64, pattern=CODE, description="Classification (default: the household one)")
]
TierQuery = Annotated[
    str | None,
    Query(max_length=32, pattern=CODE, description="A tier of the classification (OAC: supergroup, group)"),
]
LevelQuery = Annotated[
    str,
    Query(min_length=1, max_length=64, pattern=CODE, description="oa, lsoa, ward, district or a custom set"),
]
WithinQuery = Annotated[
    str | None, Query(max_length=32, pattern=CODE, description="Only output areas inside this area")
]
MinIndex = Annotated[float, Query(gt=100, le=10000, description="A target's index is at least this")]
MinShare = Annotated[
    float, Query(ge=0, le=100, description="A core target's share of the target is at least this %")
]
SignificantOnly = Annotated[bool, Query(description="Only segments whose index is significantly above 100")]


def _csv(body: str, filename: str) -> Response:
    return Response(
        body, media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/services/{service}/targets",
    operation_id="get_service_targets",
    response_model=TargetTable,
    responses={200: {"content": {CSV: {}}}, 404: {"description": "Unknown service or classification"}},
    openapi_extra=scoped(),
)
def get_service_targets(
    conn: ConnDep,
    disclosure: DisclosureDep,
    service: ServiceCode,
    classification: ClassificationQuery = None,
    tier: TierQuery = None,
    area: WithinQuery = None,
    min_index: MinIndex = 120,
    min_share_pct: MinShare = 5,
    significant_only: SignificantOnly = False,
    format: Annotated[Literal["json", "csv"], Query(description="json, or csv")] = "json",
) -> Any:
    """Core and developmental target segments of a service, on its propensity table."""
    body = targets_output(
        conn,
        service,
        resolve_tier(conn, classification, tier),
        within=area,
        thresholds=TargetThresholds(min_index, min_share_pct, significant_only),
        policy=disclosure,
        fmt=format,
    )
    return _csv(body, f"targets_{service}.csv") if isinstance(body, str) else body


@router.get(
    "/services/{service}/targets/areas",
    operation_id="get_service_target_areas",
    response_model=TargetAreaList,
    responses={200: {"content": {CSV: {}}}, 404: {"description": "Unknown service or classification"}},
    openapi_extra=scoped(),
)
def get_service_target_areas(
    conn: ConnDep,
    viewer: OfficerDep,
    service: ServiceCode,
    level: LevelQuery = "oa",
    classes: Annotated[
        list[Literal["core", "developmental"]] | None, Query(description="Which targets (default both)")
    ] = None,
    classification: ClassificationQuery = None,
    tier: TierQuery = None,
    area: WithinQuery = None,
    min_index: MinIndex = 120,
    min_share_pct: MinShare = 5,
    significant_only: SignificantOnly = False,
    percentile: Annotated[float, Query(gt=0, le=100, description="Benchmark percentile")] = 80.0,
    top: Annotated[int, Query(ge=1, le=5000, description="How many areas")] = 50,
    format: Annotated[Literal["json", "csv"], Query(description="json, or csv")] = "json",
) -> Any:
    """A targeting list for the service's core (and developmental) segments, ranked by unmet demand."""
    body = target_areas_output(
        conn,
        service,
        level,
        classes=tuple(classes or ("core", "developmental")),
        thresholds=TargetThresholds(min_index, min_share_pct, significant_only),
        classification=resolve_tier(conn, classification, tier),
        percentile=percentile,
        top=top,
        within=area,
        fmt=format,
    )
    return _csv(body, f"target_areas_{service}.csv") if isinstance(body, str) else body


@router.get(
    "/areas/{code}/similar",
    operation_id="get_similar_areas",
    response_model=SimilarAreas,
    responses={404: {"description": "Unknown area"}},
)
def get_similar_areas(
    conn: ConnDep,
    viewer: OfficerDep,
    code: AreaCode,
    k: Annotated[int, Query(ge=1, le=100, description="How many similar areas")] = 5,
    distance: Annotated[
        Literal["hellinger", "euclidean"], Query(description="Distance between segment mixes")
    ] = "hellinger",
    classification: ClassificationQuery = None,
    tier: TierQuery = None,
    within: WithinQuery = None,
    by: Annotated[
        Literal["segments", "census"],
        Query(description="Compare segment mixes, or standardised census variables (when loaded)"),
    ] = "segments",
    variables: Annotated[
        list[
            Annotated[str, StringConstraints(max_length=130, pattern=r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)?$")]
        ]
        | None,
        Query(max_length=50, description="by=census: variables or ratios a/b (default: every loaded one)"),
    ] = None,
) -> Any:
    """The k areas of the same level most like this one (segment mix or census variables), distance stated."""
    return similar_areas(
        conn,
        code,
        k=k,
        classification=resolve_tier(conn, classification, tier),
        distance=distance,
        within=within,
        by=by,
        variables=variables,
    )


@router.get(
    "/hotspots/combined",
    operation_id="get_combined_hotspots",
    response_model=CombinedHotSpots,
    responses={200: {"content": {GEOJSON: {}, CSV: {}}}, 404: {"description": "Unknown service"}},
    openapi_extra=scoped(service=("services",), area=("within",)),
)
def get_combined_hotspots(
    conn: ConnDep,
    disclosure: DisclosureDep,
    services: Annotated[list[str], Query(min_length=2, max_length=20, description="Services to combine")],
    weights: Annotated[
        str | None, Query(max_length=2000, description="service:weight,... (default 1 each)")
    ] = None,
    level: LevelQuery = "oa",
    method: Annotated[Literal["ratio", "gistar"], Query(description="Per-service statistic")] = "ratio",
    fdr: Annotated[float, Query(gt=0, lt=1, description="False-discovery rate")] = 0.05,
    classification: ClassificationQuery = None,
    tier: TierQuery = None,
    within: WithinQuery = None,
    date_from: Annotated[dt.date | None, Query(description="First day counted")] = None,
    date_to: Annotated[dt.date | None, Query(description="Last day counted")] = None,
    format: Annotated[Literal["geojson", "csv"], Query(description="geojson or csv")] = "geojson",
) -> Any:
    """Hot spots over several services at once: weighted Stouffer's z per area, with contributing services."""
    body = combined_output(
        conn,
        services,
        policy=disclosure,
        fmt=format,
        weights=parse_weights(weights),
        level=level,
        method=method,
        fdr=fdr,
        classification=resolve_tier(conn, classification, tier),
        within=within,
        date_from=date_from,
        date_to=date_to,
    )
    return _csv(body, "combined_hotspots.csv") if isinstance(body, str) else body


@router.post("/channels/exclusion", operation_id="model_digital_exclusion", response_model=ExclusionResult)
def post_digital_exclusion(conn: ConnDep, viewer: OfficerDep, body: ExclusionRequest) -> Any:
    """Digital exclusion in a channel shift: low-web segments and areas, assisted contacts, net saving."""
    return exclusion_output(
        conn,
        body.service,
        share_pct=body.share_pct,
        from_channels=body.from_channels,
        to_channel=body.to_channel,
        assisted_pct=body.assisted_pct,
        max_web_index=body.max_web_index,
        classification=resolve_tier(conn, body.classification, body.tier),
        level=body.level,
        date_from=body.date_from,
        date_to=body.date_to,
        cost_overrides=body.unit_costs,
    )


@router.post("/selector", operation_id="profile_target_group", response_model=SelectorProfile)
def post_selector(conn: ConnDep, viewer: OfficerDep, body: SelectorRequest) -> Any:
    """A profile with no customer data: where a group of weighted segments or census variables lives."""
    return selector_output(
        conn,
        body.weights,
        variables=body.variables,
        size=body.size,
        level=body.level,
        classification=resolve_tier(conn, body.classification, body.tier),
        within=body.within,
        top=body.top,
    )
