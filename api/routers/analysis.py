"""Profiling: propensity tables, area-by-segment matrices, profiles, segments, channels, surveys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from api.auth import PUBLIC, DisclosureDep, OfficerDep, scoped
from api.deps import ConnDep
from api.schemas.analysis import (
    AreaProfile,
    ChannelMixRow,
    ChannelShiftRequest,
    ChannelShiftResult,
    ClassificationInfo,
    CoUseTable,
    Matrix,
    PerceptionGapRow,
    PropensityRequest,
    PropensityTable,
    SegmentEntry,
    ServiceInfo,
    SurveyResultRow,
    WebEnableRow,
)
from geo.analysis.channels import channel_mix, channel_shift, web_enable_ranking
from geo.analysis.couse import services_used_together
from geo.analysis.data import resolve_tier
from geo.analysis.matrix import matrix_xlsx, service_matrix
from geo.analysis.profile import area_profile
from geo.analysis.propensity import propensity_from_rows, table_csv, table_records
from geo.analysis.report import area_report
from geo.analysis.segments import list_classifications, segment_catalogue
from geo.analysis.services import ServiceFilter, list_services
from geo.analysis.survey import perception_gap, survey_results
from geo.analysis.targets import TargetThresholds, service_targets, with_target_classes
from geo.ingest.vintage import BACK_RULE, classes_on_oa21

router = APIRouter(prefix="/api/v1", tags=["profiling"])
pages = APIRouter(tags=["profiling"])

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CODE = r"^[A-Za-z0-9_\-]+$"

ServiceCode = Annotated[str, Path(min_length=1, max_length=64, pattern=CODE, description="Service code")]
AreaCode = Annotated[str, Path(min_length=1, max_length=32, pattern=CODE, description="Area code")]
ClassificationQuery = Annotated[
    str | None,
    Query(max_length=64, pattern=CODE, description="Classification code (default: the household one)"),
]
LevelQuery = Annotated[
    str,
    Query(min_length=1, max_length=64, pattern=CODE, description="oa, lsoa, ward, district or a custom set"),
]
AreaQuery = Annotated[
    str | None, Query(max_length=32, pattern=CODE, description="Only output areas inside this area count")
]
TableFormat = Annotated[Literal["json", "csv"], Query(description="json, or csv for a download")]
TierQuery = Annotated[
    str | None,
    Query(max_length=32, pattern=CODE, description="A tier of the classification (OAC: supergroup, group)"),
]


def _classification(
    conn: ConnDep, classification: ClassificationQuery = None, tier: TierQuery = None
) -> str | None:
    """The classification asked for, at the tier asked for (``oac2021`` + ``supergroup``)."""
    return resolve_tier(conn, classification, tier)


def _path_classification(
    conn: ConnDep,
    classification: Annotated[str, Path(min_length=1, max_length=64, pattern=CODE)],
    tier: TierQuery = None,
) -> str:
    """A classification named in the path, at the tier asked for."""
    return str(resolve_tier(conn, classification, tier))


ClassificationDep = Annotated[str | None, Depends(_classification)]
PathClassificationDep = Annotated[str, Depends(_path_classification)]


@dataclass
class UseFilters:
    """Which service use to count (shared by the propensity and matrix endpoints)."""

    classification: ClassificationQuery = None
    tier: Annotated[
        str | None,
        Query(
            max_length=32, pattern=CODE, description="A tier of the classification (OAC: supergroup, group)"
        ),
    ] = None
    date_from: Annotated[dt.date | None, Query(description="First day counted (inclusive)")] = None
    date_to: Annotated[dt.date | None, Query(description="Last day counted (inclusive)")] = None
    channel: Annotated[str | None, Query(max_length=32, pattern=CODE, description="Only this channel")] = None
    area: AreaQuery = None
    unit: Annotated[
        Literal["events", "households"] | None,
        Query(description="events, or distinct households (default: the service's own unit)"),
    ] = None


UseFiltersDep = Annotated[UseFilters, Depends()]


def _csv(body: str, filename: str) -> Response:
    return Response(
        body, media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/services", operation_id="list_services", response_model=list[ServiceInfo], openapi_extra=PUBLIC)
def get_services(conn: ConnDep) -> Any:
    """List the services whose use is recorded, with their units, channels and event counts."""
    return list_services(conn)


@router.get(
    "/services/{service}/propensity",
    operation_id="get_service_propensity",
    response_model=PropensityTable,
    responses={200: {"content": {CSV: {}}}, 404: {"description": "Unknown service or classification"}},
    openapi_extra=scoped(),
)
def get_service_propensity(
    conn: ConnDep,
    disclosure: DisclosureDep,
    service: ServiceCode,
    filters: UseFiltersDep,
    area_set: Annotated[
        str | None, Query(max_length=64, pattern=CODE, description="Only OAs inside this custom area set")
    ] = None,
    min_index: Annotated[
        float, Query(gt=100, le=10000, description="Targets: index at least this (core and developmental)")
    ] = 120,
    min_share_pct: Annotated[
        float, Query(ge=0, le=100, description="Core targets: share of the target at least this %")
    ] = 5,
    format: TableFormat = "json",
) -> Any:
    """The propensity table of a service: each segment's share of use against its share of households.

    Each row's ``target_class`` says whether the segment is a core target (index >= min_index
    and share >= min_share_pct) or a developmental one (over-represented but small).
    """
    result = service_targets(
        conn,
        service,
        filters.classification,
        ServiceFilter(
            unit=filters.unit,
            date_from=filters.date_from,
            date_to=filters.date_to,
            channel=filters.channel,
            within=filters.area,
            area_set=area_set,
            tier=filters.tier,
        ),
        thresholds=TargetThresholds(min_index, min_share_pct),
        policy=disclosure,
    )
    if format == "csv":
        return _csv(table_csv(result["rows"]), f"propensity_{service}.csv")
    return {**result, "rows": table_records(result["rows"])}


@router.post(
    "/propensity",
    operation_id="compute_propensity",
    response_model=PropensityTable,
    openapi_extra=PUBLIC,
)
def compute_propensity(body: PropensityRequest) -> Any:
    """Turn counts per segment computed elsewhere into a published-style propensity table."""
    table = with_target_classes(propensity_from_rows([r.model_dump() for r in body.rows]))
    return {"rows": table_records(table)}


@router.get(
    "/matrix",
    operation_id="get_matrix",
    response_model=Matrix,
    responses={200: {"content": {CSV: {}, XLSX: {}}}},
    openapi_extra=scoped(),
)
def get_matrix(
    conn: ConnDep,
    disclosure: DisclosureDep,
    filters: UseFiltersDep,
    level: LevelQuery = "ward",
    service: Annotated[
        str | None, Query(max_length=64, pattern=CODE, description="Service code (omit: households only)")
    ] = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx")] = "json",
) -> Any:
    """An area-by-segment matrix: households, service use and index per cell, with totals."""
    matrix = service_matrix(
        conn,
        level,
        filters.classification,
        service,
        unit=filters.unit,
        date_from=filters.date_from,
        date_to=filters.date_to,
        channel=filters.channel,
        within=filters.area,
        policy=disclosure,
        tier=filters.tier,
    )
    name = f"matrix_{matrix['level']}_{matrix['classification']}_{service or 'households'}"
    if format == "csv":
        return _csv(table_csv(matrix["cells"]), f"{name}.csv")
    if format == "xlsx":
        return Response(
            matrix_xlsx(matrix),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return {**matrix, "cells": table_records(matrix["cells"])}


@router.get(
    "/areas/{code}/profile",
    operation_id="get_area_profile",
    response_model=AreaProfile,
    responses={404: {"description": "Unknown area"}},
)
def get_area_profile(
    conn: ConnDep,
    viewer: OfficerDep,
    code: AreaCode,
    classification: ClassificationDep,
    comparator: Annotated[
        Literal["district", "parent", "similar"],
        Query(
            description="the spine chart's comparator: district, parent area, or the mean of k similar areas"
        ),
    ] = "district",
    k: Annotated[int, Query(ge=1, le=50, description="comparator=similar: how many similar areas")] = 5,
) -> Any:
    """The community profile of an area: mix, take-up against its mix, channels, issues, neighbours."""
    return area_profile(conn, code, classification, comparator=comparator, k=k)


@pages.get(
    "/areas/{code}/report",
    operation_id="get_area_report",
    response_class=HTMLResponse,
    responses={404: {"description": "Unknown area"}},
)
def get_area_report(
    conn: ConnDep, viewer: OfficerDep, code: AreaCode, classification: ClassificationDep
) -> Any:
    """A printable community report of an area (HTML with print CSS; print to PDF from the browser)."""
    return HTMLResponse(area_report(conn, code, classification))


@router.get(
    "/classifications",
    operation_id="list_classifications",
    response_model=list[ClassificationInfo],
    openapi_extra=PUBLIC,
)
def get_classifications(conn: ConnDep) -> Any:
    """List the classifications (household and area level) with their segment counts."""
    return list_classifications(conn)


@router.get(
    "/classifications/{classification}/oa21",
    operation_id="get_classification_on_oa21",
    responses={200: {"content": {CSV: {}}}, 404: {"description": "Unknown classification"}},
)
def get_classification_on_oa21(
    conn: ConnDep,
    viewer: OfficerDep,
    classification: Annotated[str, Path(min_length=1, max_length=64, pattern=CODE)],
    tier: TierQuery = None,
    format: TableFormat = "json",
) -> Any:
    """A classification stored on 2011 OAs, placed on 2021 OAs through the OA11->OA21 lookup."""
    frame = classes_on_oa21(conn, str(resolve_tier(conn, classification, tier)))
    if format == "csv":
        return _csv(table_csv(frame), f"{classification}_oa21.csv")
    return {"rule": BACK_RULE, "rows": table_records(frame)}


@router.get(
    "/classifications/{classification}/segments",
    operation_id="list_segments",
    response_model=list[SegmentEntry],
    responses={404: {"description": "Unknown classification"}},
)
def get_segments(
    conn: ConnDep,
    disclosure: DisclosureDep,
    classification: PathClassificationDep,
    level: LevelQuery = "ward",
    top: Annotated[int, Query(ge=1, le=50, description="Top areas per segment")] = 5,
) -> Any:
    """The segments catalogue: pen portraits, where each segment lives, what it uses, how to reach it."""
    return segment_catalogue(conn, classification, level=level, top=top, policy=disclosure)


@router.get(
    "/channels/mix",
    operation_id="get_channel_mix",
    response_model=list[ChannelMixRow],
    responses={200: {"content": {CSV: {}}}},
    openapi_extra=scoped(),
)
def get_channel_mix(
    conn: ConnDep,
    classification: ClassificationDep,
    disclosure: DisclosureDep,
    by: Annotated[
        Literal["segment", "area"], Query(description="Group contacts by segment or area")
    ] = "segment",
    level: LevelQuery = "ward",
    service: Annotated[str | None, Query(max_length=64, pattern=CODE)] = None,
    area: AreaQuery = None,
    format: TableFormat = "json",
) -> Any:
    """Channel mix by segment or by area, with the unit cost and cost of each channel's contacts."""
    table = channel_mix(
        conn, by, classification, level=level, service=service, within=area, policy=disclosure
    )
    if format == "csv":
        return _csv(table_csv(table), f"channel_mix_by_{by}.csv")
    return table_records(table)


@router.post(
    "/channels/shift",
    operation_id="model_channel_shift",
    response_model=ChannelShiftResult,
)
def post_channel_shift(conn: ConnDep, viewer: OfficerDep, body: ChannelShiftRequest) -> Any:
    """A channel-shift scenario: the annual saving of moving a segment's contacts, and where they live."""
    result = channel_shift(
        conn,
        body.service,
        body.segment,
        body.from_channel,
        body.to_channel,
        body.share_pct,
        classification=resolve_tier(conn, body.classification, body.tier),
        level=body.level,
        date_from=body.date_from,
        date_to=body.date_to,
        cost_overrides=body.unit_costs,
    )
    return {**result, "by_area": table_records(result["by_area"])}


@router.get(
    "/channels/web-enable-ranking",
    operation_id="rank_services_to_web_enable",
    response_model=list[WebEnableRow],
    responses={200: {"content": {CSV: {}}}},
    openapi_extra=PUBLIC,
)
def get_web_enable_ranking(
    conn: ConnDep, classification: ClassificationDep, format: TableFormat = "json"
) -> Any:
    """Rank services by what web-enabling them could save: volume × cost saving × web-ready share."""
    table = web_enable_ranking(conn, classification)
    if format == "csv":
        return _csv(table_csv(table), "web_enable_ranking.csv")
    return table_records(table)


@router.get(
    "/services/{service}/co-use",
    operation_id="get_service_co_use",
    response_model=CoUseTable,
    responses={200: {"content": {CSV: {}}}, 404: {"description": "Unknown service"}},
    openapi_extra=scoped(),
)
def get_service_co_use(
    conn: ConnDep,
    disclosure: DisclosureDep,
    service: ServiceCode,
    area: AreaQuery = None,
    format: TableFormat = "json",
) -> Any:
    """Services used together: of this service's households, the share also using each other, with lift."""
    result = services_used_together(conn, service, within=area, policy=disclosure)
    if format == "csv":
        return _csv(table_csv(result["rows"]), f"co_use_{service}.csv")
    return {**result, "rows": table_records(result["rows"])}


@router.get(
    "/surveys/{survey}/results",
    operation_id="get_survey_results",
    response_model=list[SurveyResultRow],
    responses={200: {"content": {CSV: {}}}, 404: {"description": "Unknown survey or question"}},
)
def get_survey_results(
    conn: ConnDep,
    classification: ClassificationDep,
    disclosure: DisclosureDep,
    survey: Annotated[str, Path(min_length=1, max_length=64, pattern=CODE)],
    question: Annotated[str, Query(min_length=1, max_length=200, description="Question asked")],
    by: Annotated[Literal["segment", "area"], Query(description="Group respondents by")] = "segment",
    answer: Annotated[
        list[str] | None,
        Query(max_length=20, description="Count these answers together (default: each answer)"),
    ] = None,
    level: LevelQuery = "ward",
    area: AreaQuery = None,
    format: TableFormat = "json",
) -> Any:
    """Survey results by segment or area, with Wilson 95% intervals."""
    table = survey_results(
        conn,
        survey,
        question,
        by=by,
        classification=classification,
        level=level,
        within=area,
        answers=answer,
        policy=disclosure,
    )
    if format == "csv":
        return _csv(table_csv(table), f"survey_{survey}_by_{by}.csv")
    return table_records(table)


@router.get(
    "/surveys/{survey}/perception-gap",
    operation_id="get_perception_gap",
    response_model=list[PerceptionGapRow],
    responses={200: {"content": {CSV: {}}}, 404: {"description": "Unknown survey or question"}},
)
def get_perception_gap(
    conn: ConnDep,
    classification: ClassificationDep,
    disclosure: DisclosureDep,
    survey: Annotated[str, Path(min_length=1, max_length=64, pattern=CODE)],
    question: Annotated[str, Query(min_length=1, max_length=200, description="The fear-of-crime question")],
    answer: Annotated[list[str], Query(min_length=1, max_length=20, description="Answers that mean fearful")],
    crime_service: Annotated[
        str, Query(min_length=1, max_length=64, pattern=CODE, description="Recorded crime")
    ],
    level: LevelQuery = "ward",
    format: TableFormat = "json",
) -> Any:
    """Where fear of crime is high but recorded crime low, and the reverse, by area."""
    table = perception_gap(
        conn,
        survey,
        question,
        answer,
        crime_service,
        level=level,
        classification=classification,
        policy=disclosure,
    )
    if format == "csv":
        return _csv(table_csv(table), f"perception_gap_{survey}.csv")
    return table_records(table)
