"""Planning: siting one-stop shops, routing mobile services, and the sites they use."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import JobOwnerDep, OfficerDep, ViewerDep
from api.deps import ConnDep, EngineDep
from api.schemas.planning import (
    AccessibilityRequest,
    DemandSpec,
    FeatureCollection,
    HuffRequest,
    LscpRequest,
    PlanningJob,
    PointsAnswer,
    RoutePlan,
    RouteRequest,
    Scenario,
    ScenarioComparison,
    ScenarioRequest,
    SiteKind,
    SitingPlan,
    SitingRequest,
    ZonesAnswer,
    ZonesRequest,
)
from geo.analysis.data import resolve_tier
from geo.analysis.jobs import Job
from geo.errors import InvalidRequest
from geo.planning.export import RouteTable, SitingTable, routes_csv, rows_csv, siting_csv
from geo.planning.jobs import (
    planning_job,
    planning_runner,
    submit_routes_job,
    submit_sites_job,
    submit_zones_job,
)
from geo.planning.plans import (
    plan_accessibility,
    plan_huff,
    plan_isochrones,
    plan_lscp,
    plan_routes,
    plan_sites,
)
from geo.planning.scenarios import (
    compare_scenarios,
    delete_scenario,
    get_scenario,
    list_scenarios,
    plan_and_save,
)
from geo.planning.sites import site_features
from geo.planning.zone_plans import plan_zones

router = APIRouter(prefix="/api/v1", tags=["planning"])

GEOJSON = "application/geo+json"
CSV = "text/csv"
#: Longest solves answered inline; longer ones must be background jobs (async=true).
INLINE_SITES_S = 30.0
INLINE_ROUTES_S = 10.0
#: Inline zones: LSOAs only, and at most this many SKATER zones (each cut scans the tree).
INLINE_SKATER_ZONES = 20

Format = Annotated[Literal["json", "csv"], Query(description="json, or csv to download a table")]
Async = Annotated[bool, Query(alias="async", description="run as a background job; poll its status_url")]


def _demand_params(conn: Any, d: DemandSpec) -> dict[str, Any]:
    return {
        "demand_source": d.source,
        "classification": resolve_tier(conn, d.classification, d.tier),
        "segments": d.segments,
        "service": d.service,
        "date_from": d.date_from,
        "date_to": d.date_to,
        "percentile": d.percentile,
    }


def _siting_params(conn: Any, body: SitingRequest) -> dict[str, Any]:
    return {
        "objective": body.objective,
        "p": body.p,
        "keep_existing": body.keep_existing,
        "candidate_kinds": body.candidate_kinds,
        "candidate_site_ids": body.candidate_site_ids,
        **_demand_params(conn, body.demand),
        "demand_unit": body.demand_unit,
        "h3_resolution": body.h3_resolution,
        "travel": body.travel,
        "cover_within": body.cover_within,
        "capacitated": body.capacitated,
        "capacity_scale": body.capacity_scale,
        "time_limit_s": body.time_limit_s,
    }


def _route_params(conn: Any, body: RouteRequest) -> dict[str, Any]:
    return {
        "stop_source": body.stop_source,
        "stop_site_ids": body.stop_site_ids,
        "candidate_kinds": body.candidate_kinds,
        "max_stops": body.max_stops,
        "h3_resolution": body.h3_resolution,
        "depot_site_id": body.depot_site_id,
        "vehicles": body.vehicles,
        "days": body.days,
        "frequency": body.frequency,
        "weekly_stop_ids": body.weekly_stop_ids,
        "day_start": body.day_start,
        "day_end": body.day_end,
        "service_min": body.service_min,
        "time_windows": {w.stop_id: (w.open, w.close) for w in body.time_windows},
        "allow_drop": body.allow_drop,
        "walk_m": body.walk_m,
        "walk_basis": body.walk_basis,
        "stop_selection": body.stop_selection,
        "break_min": body.break_min,
        "break_from": body.break_from,
        "break_to": body.break_to,
        **_demand_params(conn, body.demand),
        "time_limit_s": body.time_limit_s,
    }


def _accepted(request: Request, job: Job) -> JSONResponse:
    body = job.summary()
    body["status_url"] = str(request.url_for("get_planning_job", job_id=job.id))
    return JSONResponse(body, status_code=202, headers={"Location": body["status_url"]})


def _csv(text: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}.csv"'}
    return Response(text, media_type=CSV, headers=headers)


@router.post(
    "/planning/sites",
    operation_id="plan_sites",
    response_model=SitingPlan,
    responses={202: {"model": PlanningJob}, 200: {"content": {CSV: {}}}},
)
def plan_sites_route(
    request: Request,
    conn: ConnDep,
    engine: EngineDep,
    viewer: OfficerDep,
    owner: JobOwnerDep,
    body: SitingRequest,
    format: Format = "json",
    table: Annotated[SitingTable, Query(description="which table the csv holds")] = "demand",
    run_async: Async = False,
) -> Any:
    """Choose new one-stop-shop sites (p-median or maximal covering) and compare with today's offices."""
    params = _siting_params(conn, body)
    if run_async:
        return _accepted(request, submit_sites_job(engine, params, owner))
    if body.time_limit_s > INLINE_SITES_S:
        raise InvalidRequest(
            f"`time_limit_s` was {body.time_limit_s:g} but inline solves allow at most "
            f"{INLINE_SITES_S:g} s: ask with async=true for a background job"
        )
    plan = plan_sites(conn, **params)
    if format == "csv":
        return _csv(siting_csv(plan, table), f"sites_{table}")
    return plan


@router.post(
    "/planning/routes",
    operation_id="plan_routes",
    response_model=RoutePlan,
    responses={202: {"model": PlanningJob}, 200: {"content": {CSV: {}}}},
)
def plan_routes_route(
    request: Request,
    conn: ConnDep,
    engine: EngineDep,
    viewer: OfficerDep,
    owner: JobOwnerDep,
    body: RouteRequest,
    format: Format = "json",
    table: Annotated[RouteTable, Query(description="which table the csv holds")] = "stops",
    run_async: Async = False,
) -> Any:
    """Plan a mobile-service route or weekly timetable with time windows and a working-day limit."""
    params = _route_params(conn, body)
    if run_async:
        return _accepted(request, submit_routes_job(engine, params, owner))
    if body.time_limit_s > INLINE_ROUTES_S:
        raise InvalidRequest(
            f"`time_limit_s` was {body.time_limit_s:g} but inline route searches allow at most "
            f"{INLINE_ROUTES_S:g} s (OR-Tools uses all of it): ask with async=true for a background job"
        )
    plan = plan_routes(conn, **params)
    if format == "csv":
        return _csv(routes_csv(plan, table), f"routes_{table}")
    return plan


def _inline_limit(seconds: float, cap: float, what: str) -> None:
    if seconds > cap:
        raise InvalidRequest(
            f"`time_limit_s` was {seconds:g} but inline {what} allow at most {cap:g} s: "
            "ask with async=true for a background job"
        )


@router.post(
    "/planning/scenarios", operation_id="save_planning_scenario", response_model=Scenario, status_code=201
)
def save_scenario_route(conn: ConnDep, viewer: OfficerDep, body: ScenarioRequest) -> Any:
    """Solve a siting or route request and save the answer as a named scenario to compare later."""
    if body.sites is not None:
        _inline_limit(body.sites.time_limit_s, INLINE_SITES_S, "solves")
        kind, params, req = "sites", _siting_params(conn, body.sites), body.sites.model_dump(mode="json")
    else:
        assert body.routes is not None
        _inline_limit(body.routes.time_limit_s, INLINE_ROUTES_S, "route searches")
        kind, params, req = "routes", _route_params(conn, body.routes), body.routes.model_dump(mode="json")
    return plan_and_save(
        conn,
        name=body.name,
        kind=kind,  # type: ignore[arg-type]
        params=params,
        request=req,
        description=body.description,
        created_by=viewer.actor,
    )


@router.get("/planning/scenarios", operation_id="list_planning_scenarios", response_model=list[Scenario])
def list_scenarios_route(
    conn: ConnDep,
    viewer: OfficerDep,
    kind: Annotated[Literal["sites", "routes"] | None, Query(description="only this kind")] = None,
) -> Any:
    """Saved planning scenarios, newest first, with their comparable figures."""
    return list_scenarios(conn, kind)


@router.get(
    "/planning/scenarios/compare",
    operation_id="compare_planning_scenarios",
    response_model=ScenarioComparison,
    responses={200: {"content": {CSV: {}}}},
)
def compare_scenarios_route(
    conn: ConnDep,
    viewer: OfficerDep,
    ids: Annotated[list[Annotated[int, Path(ge=1)]], Query(min_length=1, max_length=12)],
    format: Format = "json",
    table: Annotated[
        Literal["scenarios", "segments"], Query(description="which table the csv holds")
    ] = "scenarios",
) -> Any:
    """Scenarios side by side: travel, coverage, cost, change against today, who is left out by segment."""
    result = compare_scenarios(conn, ids)
    if format == "csv":
        return _csv(rows_csv(result[table]), f"scenarios_{table}")
    return result


@router.get(
    "/planning/scenarios/{scenario_id}", operation_id="get_planning_scenario", response_model=Scenario
)
def get_scenario_route(
    conn: ConnDep, viewer: OfficerDep, scenario_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Any:
    """One saved scenario with its whole answer (sites, catchments, routes and stops for the map)."""
    return get_scenario(conn, scenario_id)


@router.delete("/planning/scenarios/{scenario_id}", operation_id="delete_planning_scenario", status_code=204)
def delete_scenario_route(
    conn: ConnDep, viewer: OfficerDep, scenario_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """Remove a saved scenario."""
    delete_scenario(conn, scenario_id)
    return Response(status_code=204)


@router.post("/planning/lscp", operation_id="plan_lscp", response_model=PointsAnswer)
def plan_lscp_route(conn: ConnDep, viewer: OfficerDep, body: LscpRequest) -> Any:
    """The fewest new sites putting a share of the demand within a travel standard (set covering)."""
    d = _demand_params(conn, body.demand)
    return plan_lscp(
        conn,
        cover_within=body.cover_within,
        share=body.share,
        keep_existing=body.keep_existing,
        candidate_kinds=body.candidate_kinds,
        candidate_site_ids=body.candidate_site_ids,
        travel=body.travel,
        demand_unit=body.demand_unit,
        h3_resolution=body.h3_resolution,
        time_limit_s=body.time_limit_s,
        **d,
    )


@router.post("/planning/accessibility", operation_id="plan_accessibility", response_model=PointsAnswer)
def plan_accessibility_route(conn: ConnDep, viewer: OfficerDep, body: AccessibilityRequest) -> Any:
    """Accessibility index per area (two-step floating catchment): supply within reach per 1,000 demand."""
    return plan_accessibility(
        conn,
        within=body.within,
        supply=body.supply,
        site_ids=body.site_ids,
        travel=body.travel,
        demand_unit=body.demand_unit,
        h3_resolution=body.h3_resolution,
        **_demand_params(conn, body.demand),
    )


@router.post("/planning/huff", operation_id="plan_huff", response_model=PointsAnswer)
def plan_huff_route(conn: ConnDep, viewer: OfficerDep, body: HuffRequest) -> Any:
    """Huff-style share of demand drawn by our sites beside partner or competitor venues."""
    return plan_huff(
        conn,
        competitor_site_ids=body.competitor_site_ids,
        site_ids=body.site_ids,
        attractiveness=body.attractiveness,
        beta=body.beta,
        travel=body.travel,
        demand_unit=body.demand_unit,
        h3_resolution=body.h3_resolution,
        **_demand_params(conn, body.demand),
    )


@router.get(
    "/planning/isochrones",
    operation_id="planning_isochrones",
    response_model=FeatureCollection,
    responses={200: {"content": {GEOJSON: {}}}},
)
def isochrones_route(
    conn: ConnDep,
    viewer: ViewerDep,
    site_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
    mode: Annotated[Literal["drive", "walk"], Query()] = "drive",
    minutes: Annotated[list[Annotated[float, Query(gt=0, le=120)]] | None, Query(max_length=6)] = None,
) -> Any:
    """Areas reachable from a site by road or on foot within each number of minutes, as polygons."""
    body = plan_isochrones(conn, site_id=site_id, mode=mode, minutes=minutes or [5.0, 10.0, 15.0])
    return JSONResponse(body, media_type=GEOJSON)


def _zones_params(conn: Any, body: ZonesRequest) -> dict[str, Any]:
    d = _demand_params(conn, body.demand)
    d.pop("demand_source")
    return {
        "method": body.method,
        "level": body.level,
        "floor": body.floor,
        "n_zones": body.n_zones,
        "min_areas": body.min_areas,
        "seed": body.seed,
        "construction_iterations": body.construction_iterations,
        "annealing_runs": body.annealing_runs,
        "demand_source": body.demand.source,
        **d,
    }


@router.post(
    "/planning/zones",
    operation_id="plan_zones",
    response_model=ZonesAnswer,
    responses={202: {"model": PlanningJob}},
)
def plan_zones_route(
    request: Request,
    conn: ConnDep,
    engine: EngineDep,
    viewer: OfficerDep,
    body: ZonesRequest,
    run_async: Async = False,
) -> Any:
    """Balanced service zones: contiguous groups of areas with a demand floor (max-p) or a number (SKATER)."""
    params = _zones_params(conn, body)
    if run_async:
        return _accepted(request, submit_zones_job(engine, params))
    if body.level == "oa" or (body.n_zones or 0) > INLINE_SKATER_ZONES:
        raise InvalidRequest(
            "zones over output areas, or more than "
            f"{INLINE_SKATER_ZONES} SKATER zones, take minutes: ask with async=true for a background "
            "job, or use level lsoa"
        )
    return plan_zones(conn, **params)


@router.get("/planning/jobs/{job_id}", operation_id="get_planning_job", response_model=PlanningJob)
def get_planning_job(
    viewer: OfficerDep,
    job_id: Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")],
) -> Any:
    """Status, progress and (when done) the result of a background planning solve."""
    return planning_job(job_id)


@router.delete("/planning/jobs/{job_id}", operation_id="cancel_planning_job", response_model=PlanningJob)
def cancel_planning_job(
    viewer: OfficerDep,
    job_id: Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")],
) -> Any:
    """Cancel a background planning solve (a running one stops at its next progress report)."""
    job = planning_runner().cancel(job_id)
    return {**job.summary(), "result": None}


@router.get(
    "/sites",
    operation_id="list_sites",
    response_model=FeatureCollection,
    responses={200: {"content": {GEOJSON: {}}}},
)
def list_sites(
    conn: ConnDep,
    viewer: ViewerDep,
    kind: Annotated[list[SiteKind] | None, Query(description="only these kinds")] = None,
    existing: Annotated[bool | None, Query(description="true: today's offices; false: candidates")] = None,
) -> Any:
    """List existing offices and candidate venues as GeoJSON points (WGS84)."""
    return JSONResponse(site_features(conn, kinds=kind, existing=existing), media_type=GEOJSON)
