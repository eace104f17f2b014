"""What the hot-spot, demand and targeting endpoints return: GeoJSON, CSV and jobs.

One function per endpoint turns a request's parameters into the finished body (so the
routers stay thin), applying disclosure control for public callers: observed and
expected counts from 1 to the threshold are shown as ``"<5"``, and the figures that
would reveal them (ratio, interval, p-value, potential, unmet) become null.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from geo.analysis import hotspot_queries as q
from geo.analysis.data import check_service
from geo.analysis.demand import parse_profile
from geo.analysis.jobs import Job, JobOwner, JobRunner, default_runner, register_kind
from geo.areas import resolve_geography
from geo.cache import Depends, VersionedCache, cache_key, register_for_staleness
from geo.disclosure import DisclosurePolicy, check_public_profile, policy_of
from geo.errors import InvalidRequest
from geo.exports import csv_text

Format = Literal["geojson", "csv"]

#: Columns of a hot-spot feature, in order (spatial-method extras follow when present).
HOTSPOT_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "households",
    "expected",
    "observed",
    "ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "funnel_95_low",
    "funnel_95_high",
    "funnel_998_low",
    "funnel_998_high",
    "class",
    "potential",
    "unmet",
    "poisson_p_value",
    "mdrr_high",
    "mdrr_low",
)
SPATIAL_COLUMNS: tuple[str, ...] = (
    "value",
    "statistic",
    "z",
    "ratio_p_value",
    "ratio_q_value",
    "ratio_class",
    "cluster",
    "cluster_relative_risk",
    "cluster_llr",
)


@dataclass(frozen=True)
class HotspotParams:
    """Everything a hot-spot request can ask for (the GET query and the job body)."""

    service: str
    level: str = "oa"
    resolution: int | None = None
    method: q.Method = "ratio"
    weights: Literal["queen", "knn", "distance"] = "queen"
    k: int = 8
    distance_m: float | None = None
    transform: Literal["B", "R"] | None = None
    variable: q.Variable = "ratio"
    permutations: int = 0
    seed: int | None = None
    fdr: float = 0.05
    reference: str | None = None
    classification: str | None = None
    within: str | None = None
    unit: q.Unit | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    percentile: float = 80.0
    #: Area test's allowance for overdispersion (``overdispersion.DISPERSION_MODES``).
    dispersion: str = "auto"
    #: Scan statistic: largest window (share of the expected count) and direction.
    max_share: float = 0.1
    direction: Literal["both", "high", "low"] = "both"
    members: Literal["significant", "cluster", "window"] = "significant"
    window: Literal["circular", "adjacency"] = "circular"
    max_size: int = 10
    #: An uploaded table of reference rates (a mapping, records or CSV text, as
    #: ``demand.parse_profile`` reads them); overrides ``reference``.
    rates: Any = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (dates as ISO strings)."""
        out = asdict(self)
        for key in ("date_from", "date_to"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def _clean(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    data = frame[columns].to_dict(orient="list")
    n = len(frame)
    return [{c: _clean(data[c][i]) for c in columns} for i in range(n)]


def _round(frame: pd.DataFrame, columns: list[str], digits: int) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        if c in out and pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(digits)
    return out


def protect(frame: pd.DataFrame, policy: DisclosurePolicy | None, method: str = "ratio") -> pd.DataFrame:
    """Disclosure control for public callers (``policy`` None: officers see everything)."""
    if policy is None:
        return frame
    revealing = ["ratio", "ci_low", "ci_high", "potential", "unmet", "unmet_per_1000", "value"]
    revealing += ["poisson_p_value"]
    revealing += ["p_value", "q_value"] if method == "ratio" else ["ratio_p_value", "ratio_q_value"]
    present = [c for c in revealing if c in frame.columns]
    counts = [c for c in ("observed", "expected") if c in frame.columns]
    # A count the public sees is whole: round expected first, so "3.6" cannot slip through.
    out = frame.copy()
    if "expected" in out:
        out["expected"] = out["expected"].round(0)
    return policy.columns(out, counts, {"observed": present})


def hotspot_table(conn: Connection, params: HotspotParams, *, inline_only: bool = True) -> pd.DataFrame:
    """Run ``hotspot_frame`` for a request (refusing big permutation runs inline)."""
    geography = q.resolve_analysis_geography(conn, params.level, params.resolution)
    budget = q.INLINE_PERMUTATION_BUDGET if inline_only else None
    return _run(conn, params, geography, budget=budget)


def _run(
    conn: Connection,
    params: HotspotParams,
    geography: q.AnalysisGeography,
    *,
    budget: int | None,
    progress: Any = None,
) -> pd.DataFrame:
    options = q.SpatialOptions(
        weights=params.weights,
        k=params.k,
        distance_m=params.distance_m,
        transform=params.transform,
        variable=params.variable,
        permutations=params.permutations,
        seed=params.seed,
        max_share=params.max_share,
        direction=params.direction,
        members=params.members,
        window=params.window,
        max_size=params.max_size,
    )
    return q.hotspot_frame(
        conn,
        params.service,
        geography,
        method=params.method,
        classification=params.classification,
        reference=q.Reference("rates", rates=parse_profile(params.rates).to_dict())
        if params.rates is not None
        else params.reference,
        fdr=params.fdr,
        within=params.within,
        unit=params.unit,
        date_from=params.date_from,
        date_to=params.date_to,
        percentile=params.percentile,
        options=options,
        permutation_budget=budget,
        progress=progress,
        dispersion=params.dispersion,
    )


def _protect_clusters(meta: dict[str, Any], policy: DisclosurePolicy | None) -> None:
    """Cluster counts go through the same small-count rule as area counts."""
    if policy is None or "clusters" not in meta:
        return
    shown = []
    for c in meta["clusters"]:
        c = dict(c)
        expected = float(np.round(c["expected"]))
        c["observed"] = policy.value(c["observed"])
        c["expected"] = policy.value(expected)
        if isinstance(c["observed"], str) or isinstance(c["expected"], str):
            c.update(ratio=None, relative_risk=None, llr=None)
        shown.append(c)
    meta["clusters"] = shown


def render_hotspots(
    conn: Connection, frame: pd.DataFrame, policy: DisclosurePolicy | None, fmt: Format
) -> dict[str, Any] | str:
    """A hot-spot frame as a GeoJSON FeatureCollection (WGS84) with ``meta``, or CSV text."""
    meta = dict(frame.attrs.get("meta", {}))
    out = frame.rename(columns={"area_code": "code"})
    out = _round(out, ["expected", "potential", "unmet"], 2)
    out = _round(
        out, ["ratio", "ci_low", "ci_high", "value", "statistic"] + [c for c in out if "funnel" in c], 4
    )
    out = _round(out, ["z", "mdrr_high", "mdrr_low", "cluster_relative_risk", "cluster_llr"], 6)
    out = protect(out, policy, meta.get("method", "ratio"))
    _protect_clusters(meta, policy)
    columns = [c for c in HOTSPOT_COLUMNS + SPATIAL_COLUMNS if c in out.columns]
    if policy is not None:
        meta["disclosure"] = (
            f"counts 1 to {policy.threshold} shown as {policy.label!r}; figures revealing them null"
        )
    if fmt == "csv":
        return csv_text(out[columns])
    geography = q.resolve_analysis_geography(conn, *_level_of(meta))
    geoms = q.area_geometries(conn, geography, out["code"].tolist())
    features = [
        {"type": "Feature", "id": props["code"], "geometry": geoms.get(props["code"]), "properties": props}
        for props in _records(out, columns)
    ]
    return {"type": "FeatureCollection", "features": features, "meta": _clean_meta(meta)}


def _level_of(meta: dict[str, Any]) -> tuple[str, int | None]:
    label = str(meta.get("geography", "oa"))
    if label.startswith("h3:"):
        return "h3", int(label[3:])
    return label, None


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: (_clean_meta(v) if isinstance(v, dict) else _clean(v)) for k, v in meta.items()}


def hotspots_output(
    conn: Connection, params: HotspotParams, policy: DisclosurePolicy | None, fmt: Format = "geojson"
) -> dict[str, Any] | str:
    """The body of ``GET /services/{service}/hotspots``.

    The analysis is cached per data version (``geo.cache``); disclosure and rendering run
    on a copy for every caller.
    """
    table = _TABLES.get_or_compute(
        conn,
        cache_key("hotspots", params.as_dict()),
        lambda: hotspot_table(conn, params),
        deps=Depends(services=(params.service,)),
        recompute=lambda own: hotspot_table(own, params),
    )
    return render_hotspots(conn, table.copy(), policy, fmt)


_TABLES: VersionedCache[pd.DataFrame] = register_for_staleness(VersionedCache(128))


# ---------------------------------------------------------------------------- jobs


def start_hotspot_job(
    engine: Engine, params: HotspotParams, runner: JobRunner | None = None, owner: JobOwner | None = None
) -> Job:
    """Queue a hot-spot run (any permutation count) as a background job with progress
    (``owner``: who queues it, held to their quota of queued and running jobs)."""
    if params.method == "ratio" or (params.permutations < 1 and params.method != "scan"):
        raise InvalidRequest(
            "a job is for permutation inference: give `method` scan, or gistar or moran with "
            "`permutations` >= 1"
        )
    with engine.connect() as conn:
        # Validate before queueing, so a bad request fails now rather than in the job.
        q.resolve_analysis_geography(conn, params.level, params.resolution)
        check_service(conn, params.service)

    def work(progress: Any) -> pd.DataFrame:
        return _hotspot_job(engine, params, progress)

    return (runner or default_runner()).submit(
        "hotspots", params.as_dict(), work, payload=params, owner=owner
    )


def _hotspot_job(engine: Engine, params: HotspotParams, progress: Any) -> pd.DataFrame:
    """Run a hot-spot job (in whichever worker claimed it)."""
    with engine.connect() as conn:
        geography = q.resolve_analysis_geography(conn, params.level, params.resolution)
        return _run(conn, params, geography, budget=q.JOB_PERMUTATION_BUDGET, progress=progress)


register_kind("hotspots", _hotspot_job)


def hotspot_job_output(
    conn: Connection, job: Job, policy: DisclosurePolicy | None, fmt: Format = "geojson"
) -> dict[str, Any] | str:
    """The result of a finished hot-spot job, rendered like the GET response."""
    if job.status != "done":
        raise InvalidRequest(f"job {job.id} is {job.status}, not done: poll its status until it is")
    return render_hotspots(conn, job.result, policy, fmt)


# ---------------------------------------------------------------------------- trends

TREND_COLUMNS = [
    "code",
    "name",
    "category",
    "trend_z",
    "trend_p",
    "slices_hot",
    "slices_cold",
    "z_last",
    "classes",
]


def trends_output(
    conn: Connection,
    service: str,
    level: str,
    *,
    resolution: int | None = None,
    slice: Literal["month", "quarter"] = "quarter",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    fdr: float = 0.05,
    weights: Literal["queen", "knn", "distance"] = "queen",
    k: int = 8,
    distance_m: float | None = None,
    classification: str | None = None,
    unit: q.Unit | None = None,
    within: str | None = None,
    fmt: Format = "geojson",
) -> dict[str, Any] | str:
    """The body of ``GET /services/{service}/hotspots/trends``: emerging hot spot categories.

    Only categories, Gi* z-scores and their trend leave: no counts, so nothing to suppress.
    """
    geography = q.resolve_analysis_geography(conn, level, resolution)
    frame = q.trend_frame(
        conn,
        service,
        geography,
        slice=slice,
        date_from=date_from,
        date_to=date_to,
        fdr=fdr,
        classification=classification,
        unit=unit,
        within=within,
        options=q.SpatialOptions(weights=weights, k=k, distance_m=distance_m),
    )
    meta = dict(frame.attrs["meta"])
    out = _round(frame.rename(columns={"area_code": "code"}), ["trend_z", "trend_p", "z_last"], 6)
    if fmt == "csv":
        return out[TREND_COLUMNS].to_csv(index=False, lineterminator="\n") or ""
    return _features(conn, out, geography, TREND_COLUMNS, meta)


# ---------------------------------------------------------------------------- reach


def reach_output(
    conn: Connection,
    service: str,
    *,
    reference: str | None = None,
    classification: str | None = None,
    unit: q.Unit | None = None,
    within: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    fdr: float = 0.05,
    policy: DisclosurePolicy | None = None,
    fmt: Literal["json", "csv"] = "json",
    eligible: str = "households",
) -> dict[str, Any] | str:
    """The body of ``GET /services/{service}/reach``: segments least reached first."""
    frame = q.reach_frame(
        conn,
        service,
        classification=classification,
        reference=reference,
        unit=unit,
        within=within,
        date_from=date_from,
        date_to=date_to,
        fdr=fdr,
        eligible=eligible,
    )
    meta = dict(frame.attrs["meta"])
    out = _round(frame, ["expected", "eligible"], 2)
    out = _round(out, ["reach", "reach_low", "reach_high", "ratio", "ratio_low", "ratio_high"], 6)
    if policy is not None:
        revealing = [
            "reach",
            "reach_low",
            "reach_high",
            "ratio",
            "ratio_low",
            "ratio_high",
            "p_value",
            "q_value",
        ]
        out["expected"] = out["expected"].round(0)
        out = policy.columns(out, ["observed", "expected"], {"observed": revealing})
        meta["disclosure"] = (
            f"counts 1 to {policy.threshold} shown as {policy.label!r}; figures revealing them null"
        )
    if fmt == "csv":
        return out.to_csv(index=False, lineterminator="\n") or ""
    return {"meta": _clean_meta(meta), "rows": _records(out, list(out.columns))}


# ---------------------------------------------------------------------------- demand


def _features(
    conn: Connection,
    frame: pd.DataFrame,
    geography: q.AnalysisGeography,
    columns: list[str],
    meta: dict[str, Any],
) -> dict[str, Any]:
    geoms = q.area_geometries(conn, geography, frame["code"].tolist())
    features = [
        {"type": "Feature", "id": props["code"], "geometry": geoms.get(props["code"]), "properties": props}
        for props in _records(frame, columns)
    ]
    return {"type": "FeatureCollection", "features": features, "meta": _clean_meta(meta)}


def demand_output(
    conn: Connection,
    service: str,
    level: str,
    *,
    resolution: int | None = None,
    percentile: float = 80.0,
    classification: str | None = None,
    unit: q.Unit | None = None,
    min_households: int = 20,
    within: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    policy: DisclosurePolicy | None = None,
    fmt: Format = "geojson",
) -> dict[str, Any] | str:
    """The body of ``GET /services/{service}/demand``: potential and unmet demand per area."""
    geography = q.resolve_analysis_geography(conn, level, resolution)
    frame = q.demand_frame(
        conn,
        service,
        geography,
        percentile=percentile,
        classification=classification,
        unit=unit,
        min_households=min_households,
        within=within,
        date_from=date_from,
        date_to=date_to,
    )
    meta = dict(frame.attrs["meta"])
    out = _round(frame.rename(columns={"area_code": "code"}), ["potential", "unmet", "unmet_per_1000"], 2)
    out = protect(out, policy)
    columns = ["code", "name", "households", "observed", "potential", "unmet", "unmet_per_1000"]
    if fmt == "csv":
        return csv_text(out[columns])
    return _features(conn, out, geography, columns, meta)


def predict_output(
    conn: Connection,
    profile: Any,
    level: str,
    *,
    resolution: int | None = None,
    classification: str | None = None,
    within: str | None = None,
    source_service: str | None = None,
    source_area: str | None = None,
    fmt: Format = "geojson",
) -> dict[str, Any] | str:
    """The body of ``POST /demand/predict``: a profile applied to another area set's households.

    The profile is the caller's table, or (``source_service`` and ``source_area``) the
    one learnt from a service's use in another area, a district say.
    """
    classification = classification or q.default_classification(conn)
    if profile is not None:  # a caller's own profile may not single out a segment (public)
        check_public_profile(policy_of(conn), parse_profile(profile))
    if profile is None:
        if not (source_service and source_area):
            raise InvalidRequest("give a `profile` table, or `source_service` and `source_area` to learn one")
        unit = q.service_unit(conn, source_service)
        profile = q.profile_from_area(conn, source_service, source_area, classification, unit=unit).to_dict()
    geography = q.resolve_analysis_geography(conn, level, resolution)
    frame = q.predict_demand(conn, profile, geography, classification=classification, within=within)
    meta = dict(frame.attrs["meta"])
    if source_service:
        meta["learnt_from"] = {"service": source_service, "area_code": source_area}
    out = _round(frame.rename(columns={"area_code": "code"}), ["predicted", "per_1000", "coverage"], 3)
    columns = [
        "code",
        "name",
        "households",
        "predicted",
        "predicted_low",
        "predicted_high",
        "per_1000",
        "coverage",
    ]
    if fmt == "csv":
        return csv_text(out[columns])
    return _features(conn, out, geography, columns, meta)


def targeting_output(
    conn: Connection,
    service: str,
    segments: list[str],
    level: str,
    *,
    resolution: int | None = None,
    percentile: float = 80.0,
    classification: str | None = None,
    unit: q.Unit | None = None,
    top: int | None = 50,
    within: str | None = None,
    fmt: Literal["json", "csv"] = "json",
) -> dict[str, Any] | str:
    """The body of ``GET /services/{service}/targeting``: a ranked list a team can act on."""
    geography = q.resolve_analysis_geography(conn, level, resolution)
    frame = q.targeting(
        conn,
        service,
        geography,
        segments,
        percentile=percentile,
        classification=classification,
        unit=unit,
        top=top,
        within=within,
    )
    frame = _round(frame, ["observed", "unmet", "unmet_per_1000"], 2)
    if fmt == "csv":
        flat = frame.copy()
        for c in ("segments", "channels", "media"):
            flat[c] = flat[c].map(lambda v: "; ".join(v))
        return csv_text(flat)
    return {"meta": _clean_meta(frame.attrs["meta"]), "rows": _records(frame, list(frame.columns))}


def evaluation_output(
    conn: Connection,
    service: str,
    level: str,
    treated: list[str],
    *,
    before: tuple[dt.date, dt.date],
    after: tuple[dt.date, dt.date],
    control: list[str] | None = None,
    n_controls: int | None = None,
    classification: str | None = None,
    unit: q.Unit | None = None,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """The body of ``POST /services/{service}/evaluation``."""
    geography = resolve_geography(conn, level)
    result = q.evaluate_intervention(
        conn,
        service,
        geography,
        treated,
        before=before,
        after=after,
        control=control,
        n_controls=n_controls,
        classification=classification,
        unit=unit,
        alpha=alpha,
    )
    return _clean_meta(result)
