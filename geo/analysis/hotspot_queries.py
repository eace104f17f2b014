"""Hot spots, demand, targeting and evaluation from the database: the thin query layer.

Each function takes a ``Connection`` first, reads its inputs through
``geo.analysis.data`` (or, for H3 cells, the point queries in ``geo/sql/analysis``), and
hands them to the pure functions of ``hotspots``, ``spatial``, ``demand`` and
``evaluation``. ``hotspot_frame`` is the one the map's vector tiles join on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis import contiguity, h3grid, spatial
from geo.analysis import demand as demand_mod
from geo.analysis import evaluation as evaluation_mod
from geo.analysis import reach as reach_mod
from geo.analysis import scan as scan_mod
from geo.analysis import trends as trends_mod
from geo.analysis.data import (
    check_classification,
    check_service,
    households_by_area_segment,
    service_counts_by_area_segment,
    service_districts,
)
from geo.analysis.h3cells import cells_of
from geo.analysis.hotspots import check_rates, hot_spots, segment_rates
from geo.analysis.overdispersion import check_dispersion
from geo.analysis.protected_inputs import protected_h3_inputs
from geo.areas import Geography, area_features, resolve_geography
from geo.db import load_sql
from geo.disclosure import policy_of
from geo.errors import InvalidRequest, UnknownArea
from geo.limits import MAX_AREAS, check_limit

Method = Literal["ratio", "gistar", "moran", "scan"]
Variable = Literal["ratio", "rate", "eb_rate", "seb_rate"]
Unit = Literal["events", "households"]

#: Permutation draws (areas × permutations) a request may run inline; more needs a job.
INLINE_PERMUTATION_BUDGET = 2_000_000
#: Draws one job may run: 50,000 areas × 999 permutations is 5e7 draws, ~4 s here.
JOB_PERMUTATION_BUDGET = 100_000_000
#: Scan statistic work (window evaluations: windows × null replicates) per permutation
#: draw of the budgets above: one evaluation is a cumulative sum and a log, ~150 times
#: cheaper than a Gi* draw. 932 OAs, windows up to 10 % of the expected count, 999
#: replicates: ~9e7 evaluations, ~3 s here (inline allows 3e8).
SCAN_EVALUATIONS_PER_DRAW = 150
#: Null replicates of the scan statistic when the request gives none.
SCAN_DEFAULT_PERMUTATIONS = 999


@dataclass(frozen=True)
class H3Grid:
    """H3 hexagons at one resolution as the analysis geography."""

    resolution: int

    @property
    def label(self) -> str:
        """The name responses use: ``h3:8``."""
        return f"h3:{self.resolution}"


AnalysisGeography = Geography | H3Grid


def resolve_analysis_geography(
    conn: Connection, level: str, resolution: int | None = None
) -> AnalysisGeography:
    """``level=h3`` with a resolution, or any level / custom set ``resolve_geography`` knows."""
    if level == "h3":
        return H3Grid(h3grid.check_resolution(resolution))
    return resolve_geography(conn, level)


def default_classification(conn: Connection) -> str:
    """The classification used when a caller names none: the first household-level one."""
    code = conn.execute(
        text("SELECT code FROM classification ORDER BY (unit = 'household') DESC, code LIMIT 1")
    ).scalar_one_or_none()
    if code is None:
        raise InvalidRequest("no classification is loaded: load segments before analysing")
    return str(code)


def service_unit(conn: Connection, service: str) -> Unit:
    """What a service counts by default: households for memberships, events otherwise."""
    check_service(conn, service)
    unit = conn.execute(text("SELECT unit FROM service WHERE code = :s"), {"s": service}).scalar_one()
    return "households" if unit == "membership" else "events"


# ---------------------------------------------------------------------------- reference


@dataclass(frozen=True)
class Reference:
    """Where expected rates come from.

    ``study``: the study area itself (internal standardisation); ``area``: learnt in
    another area (a district, say) from its own households and service use; ``rates``:
    a table of rates given by the caller.
    """

    kind: Literal["study", "area", "rates"] = "study"
    area_code: str | None = None
    rates: dict[str, float] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """A summary for responses."""
        if self.kind == "area":
            return {"kind": "area", "area_code": self.area_code}
        if self.kind == "rates":
            return {"kind": "rates", "rates": self.rates}
        return {"kind": "study"}


_RATE_ITEM = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*[:=]\s*([0-9.eE+\-]+)\s*$")


def parse_reference(value: str | None) -> Reference:
    """Parse ``reference``: ``district`` (default), ``area:<code>`` or ``rates:A=0.2,B=0.1``."""
    if value is None or value in ("district", "study", ""):
        return Reference()
    if value.startswith("area:") and len(value) > 5:
        return Reference("area", area_code=value[5:])
    if value.startswith("rates:"):
        items = [p for p in value[6:].split(",") if p.strip()]
        parsed = [_RATE_ITEM.match(p) for p in items]
        if not items or not all(parsed):
            raise InvalidRequest(f"`reference` was {value!r} but rates are expected as `rates:A=0.2,B=0.1`")
        try:
            rates = {m.group(1): float(m.group(2)) for m in parsed if m}
        except ValueError as exc:
            raise InvalidRequest(f"`reference` has a rate that is not a number: {exc}") from exc
        return Reference("rates", rates=check_rates(rates).to_dict())
    raise InvalidRequest(
        f"`reference` was {value!r} but is expected to be 'district', 'area:<area code>' or "
        "'rates:<segment>=<rate>,...'"
    )


def _check_area(conn: Connection, code: str) -> None:
    found = conn.execute(text("SELECT 1 FROM area WHERE code = :c"), {"c": code}).scalar()
    if found is None:
        raise UnknownArea(f"no area has the code {code!r}")


def profile_from_area(
    conn: Connection,
    service: str,
    area_code: str,
    classification: str,
    *,
    unit: Unit = "events",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> pd.Series:
    """The propensity profile (rate per household per segment) learnt in one area."""
    _check_area(conn, area_code)
    geography = Geography("oa")
    h = households_by_area_segment(conn, geography, classification, within=area_code)
    o = service_counts_by_area_segment(
        conn,
        service,
        geography,
        classification,
        unit=unit,
        date_from=date_from,
        date_to=date_to,
        within=area_code,
    )
    if h.empty:
        raise InvalidRequest(f"area {area_code!r} has no households to learn a profile from")
    return segment_rates(h, o).dropna()


def _reference_rates(
    conn: Connection,
    service: str,
    reference: Reference,
    classification: str,
    unit: Unit,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> pd.Series | None:
    if reference.kind == "rates":
        return check_rates(reference.rates)
    if reference.kind == "area" and reference.area_code:
        return profile_from_area(
            conn,
            service,
            reference.area_code,
            classification,
            unit=unit,
            date_from=date_from,
            date_to=date_to,
        )
    return None


# ---------------------------------------------------------------------------- inputs


def _frame(rows: Sequence[Any], columns: list[str]) -> pd.DataFrame:
    # Column-wise construction: pandas' row-wise path costs ~0.5 s per 40,000 rows.
    if not rows:
        return pd.DataFrame({c: [] for c in columns})
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)))


def _h3_inputs(
    conn: Connection,
    service: str | None,
    grid: H3Grid,
    classification: str,
    *,
    unit: Unit,
    date_from: dt.date | None,
    date_to: dt.date | None,
    within: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    pts = _frame(
        conn.execute(
            load_sql("analysis/household_points_by_segment"),
            {"classification": classification, "within": within, "resolution": grid.resolution},
        ).all(),
        ["lng", "lat", "cell", "segment_code", "households"],
    )
    households = h3grid.aggregate_to_cells(pts, grid.resolution, "households")
    households["households"] = households["households"].astype("int64")
    if service is None:
        return households, pd.DataFrame(columns=["area_code", "segment_code", "target"])
    ev = _frame(
        conn.execute(
            load_sql("analysis/service_points_by_segment"),
            {
                "service": service,
                "classification": classification,
                "within": within,
                "date_from": date_from,
                "date_to": date_to,
                "channel": None,
                "resolution": grid.resolution,
            },
        ).all(),
        ["lng", "lat", "cell", "segment_code", "household_key", "events"],
    )
    if unit == "households":
        # Distinct households per cell and segment, as the area queries count them.
        ev = ev.dropna(subset=["household_key"])
        ev["area_code"] = cells_of(ev, grid.resolution)
        ev = ev.drop_duplicates(["area_code", "segment_code", "household_key"])
        counts = ev.groupby(["area_code", "segment_code"], dropna=False, as_index=False).size()
        counts = counts.rename(columns={"size": "target"})
    else:
        counts = h3grid.aggregate_to_cells(ev.rename(columns={"events": "target"}), grid.resolution, "target")
    counts["target"] = counts["target"].astype("int64")
    return households, counts


def study_inputs(
    conn: Connection,
    service: str | None,
    geography: AnalysisGeography,
    classification: str,
    *,
    unit: Unit = "events",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    within: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households and service use per (area, segment) for areas or H3 cells."""
    # These queries touch tens of thousands of rows: PostgreSQL's JIT compiler costs
    # ~3 s per query here against ~0.1 s of execution (measured), so it is off for them
    # (SET LOCAL lasts to the end of the current transaction only).
    conn.execute(text("SET LOCAL jit = off"))
    check_classification(conn, classification)
    if service is not None:
        check_service(conn, service)
    if within is not None:
        _check_area(conn, within)
    policy = policy_of(conn)
    if isinstance(geography, H3Grid) and policy is not None:  # public caller: geo/disclosure.py
        return protected_h3_inputs(
            conn,
            policy,
            service,
            geography.resolution,
            classification,
            unit=unit,
            date_from=date_from,
            date_to=date_to,
            within=within,
        )
    if isinstance(geography, H3Grid):
        return _h3_inputs(
            conn,
            service,
            geography,
            classification,
            unit=unit,
            date_from=date_from,
            date_to=date_to,
            within=within,
        )
    # A service's study covers its own districts unless `within` says where (issue 12).
    districts = service_districts(conn, service, within) if service is not None else None
    households = households_by_area_segment(
        conn, geography, classification, within=within, districts=districts
    )
    if service is None:
        return households, pd.DataFrame(columns=["area_code", "segment_code", "target"])
    counts = service_counts_by_area_segment(
        conn,
        service,
        geography,
        classification,
        unit=unit,
        date_from=date_from,
        date_to=date_to,
        within=within,
    )
    return households, counts


def area_names(conn: Connection, geography: AnalysisGeography, codes: Sequence[str]) -> pd.Series:
    """Display names of the areas (an H3 cell is named by its index)."""
    if isinstance(geography, H3Grid):
        return pd.Series(list(codes), index=list(codes), dtype=object)
    rows = conn.execute(load_sql("analysis/area_points"), {"codes": list(codes)}).all()
    return pd.Series({r.code: r.name for r in rows}, dtype=object).reindex(list(codes))


def area_weights(
    conn: Connection,
    geography: AnalysisGeography,
    codes: Sequence[str],
    kind: Literal["queen", "knn", "distance"] = "queen",
    *,
    k: int = 8,
    distance_m: float | None = None,
    tolerance_m: float = 0.0,
) -> spatial.SpatialWeights:
    """Spatial weights among ``codes``: queen contiguity from PostGIS, or k-nearest / distance
    band on representative points (27700 metres). H3 cells use the hexagon ring for queen.
    """
    ids = np.asarray(list(codes), dtype=object)
    check_limit("areas", len(ids), MAX_AREAS, "choose a coarser level or H3 resolution, or a `within` area")
    if kind == "queen":
        if isinstance(geography, H3Grid):
            left, right = h3grid.cell_neighbour_pairs(ids)
            w = spatial.weights_from_pairs(ids, left, right, kind="queen")
            return spatial.SpatialWeights(w.ids, w.matrix, "queen", {"source": "h3 grid ring"})
        left, right, source = contiguity.neighbour_pairs(conn, list(ids), tolerance_m)
        w = spatial.weights_from_pairs(ids, left, right)
        return spatial.SpatialWeights(
            w.ids, w.matrix, "queen", {"source": source, "tolerance_m": tolerance_m}
        )
    if isinstance(geography, H3Grid):
        xy = h3grid.cell_centres_bng(ids)
    else:
        rows = conn.execute(load_sql("analysis/area_points"), {"codes": list(ids)}).all()
        pts = pd.DataFrame(rows, columns=["code", "name", "x", "y"]).set_index("code").reindex(ids)
        xy = pts[["x", "y"]].to_numpy(dtype=float)
    if kind == "knn":
        return spatial.knn_weights(ids, xy, k)
    if kind == "distance":
        if distance_m is None:
            raise InvalidRequest("`distance_m` is required when `weights` is 'distance'")
        return spatial.distance_band_weights(ids, xy, distance_m)
    raise InvalidRequest(f"`weights` was {kind!r} but is expected to be 'queen', 'knn' or 'distance'")


# ---------------------------------------------------------------------------- hot spots


@dataclass(frozen=True)
class SpatialOptions:
    """How a spatial method (Gi*, local Moran) is run."""

    weights: Literal["queen", "knn", "distance"] = "queen"
    k: int = 8
    distance_m: float | None = None
    transform: Literal["B", "R"] | None = None
    variable: Variable = "ratio"
    permutations: int = 0
    seed: int | None = None
    #: Scan statistic: largest window as a share of the expected count, and direction.
    max_share: float = 0.1
    direction: Literal["both", "high", "low"] = "both"
    #: Scan statistic: which areas are flagged: ``significant`` (the areas of significant
    #: clusters whose own test, two-sided p <= fdr / 2, points the cluster's way, plus the
    #: areas the area test flags after FDR control), ``cluster`` (the former only) or
    #: ``window`` (every area of a significant cluster's circle).
    members: Literal["significant", "cluster", "window"] = "significant"

    def resolved_transform(self, method: Method) -> Literal["B", "R"]:
        """Gi* defaults to binary weights, local Moran to row-standardised (esda's defaults)."""
        if self.transform is not None:
            return self.transform
        return "B" if method == "gistar" else "R"


def hotspot_frame(
    conn: Connection,
    service: str,
    geography: AnalysisGeography,
    *,
    method: Method = "ratio",
    classification: str | None = None,
    reference: Reference | str | None = None,
    fdr: float = 0.05,
    within: str | None = None,
    unit: Unit | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    percentile: float = 80.0,
    options: SpatialOptions | None = None,
    permutation_budget: int | None = None,
    progress: Callable[[float], None] | None = None,
    dispersion: str = "auto",
) -> pd.DataFrame:
    """Per-area hot-spot results: the frame REST responses and vector tiles are built from.

    Parameters
    ----------
    conn
        Database connection.
    service
        Service code.
    geography
        A ``Geography`` (oa, lsoa, ward, district or a custom set) or ``H3Grid``.
    method
        ``ratio`` (exact Poisson test of O/E per area), ``gistar`` or ``moran`` (local
        spatial statistics of ``options.variable``).
    classification
        Segment classification for the expected counts (default: the first
        household-level one).
    reference
        Where rates come from (``parse_reference``): the study area by default.
    fdr
        Benjamini-Hochberg false-discovery rate for ``class``.
    within
        Restrict the study to the output areas inside this area code.
    unit
        ``events`` or ``households``; default from the service (memberships count
        households).
    date_from, date_to
        Inclusive period of service use.
    percentile
        Benchmark percentile for the ``unmet`` and ``potential`` columns.
    options
        Weights, transform, variable and permutations for spatial methods.
    permutation_budget
        Refuse (InvalidRequest) a permutation run of more than this many draws (areas ×
        permutations): requests pass ``INLINE_PERMUTATION_BUDGET``, jobs None.
    progress
        Called with the fraction of permutation work done.
    dispersion
        The area test's model for overdispersion (``overdispersion.DISPERSION_MODES``):
        ``auto`` (negative binomial when the winsorised phi exceeds 1 or its test rejects), ``none``
        (exact Poisson), ``multiplicative`` (quasi-Poisson), ``additive`` or ``negbin``.
        phi and the model applied are in ``meta['dispersion']`` whatever the method.

    Returns
    -------
    DataFrame, one row per area, with ``area_code``, ``name``, ``households``,
    ``expected``, ``observed``, ``ratio``, ``ci_low``, ``ci_high``, ``funnel_95_low``,
    ``funnel_95_high``, ``funnel_998_low``, ``funnel_998_high``, ``potential``,
    ``unmet``, and ``p_value``, ``q_value``, ``class``. For ``ratio`` the last three are
    the exact Poisson test's; for ``gistar``/``moran`` they are the spatial statistic's
    and the frame adds ``value`` (the variable analysed), ``statistic``, ``z``, and the
    Poisson test as ``ratio_p_value``, ``ratio_q_value``, ``ratio_class``. What was used
    (variable, weights, transform, reference, unit, scale) is in ``.attrs['meta']``.
    """
    if method not in ("ratio", "gistar", "moran", "scan"):
        raise InvalidRequest(
            f"`method` was {method!r} but is expected to be 'ratio', 'gistar', 'moran' or 'scan'"
        )
    classification = classification or default_classification(conn)
    unit = unit or service_unit(conn, service)
    ref = reference if isinstance(reference, Reference) else parse_reference(reference)
    households, counts = study_inputs(
        conn,
        service,
        geography,
        classification,
        unit=unit,
        date_from=date_from,
        date_to=date_to,
        within=within,
    )
    if households.empty:
        raise InvalidRequest("the study area has no households: check `within` and `level`")
    rates = _reference_rates(conn, service, ref, classification, unit, date_from, date_to)
    check_dispersion(dispersion)
    frame = hot_spots(households, counts, rates=rates, fdr=fdr, dispersion=dispersion)
    frame = frame[frame["households"] > 0]
    dispersion_meta = dict(frame.attrs["dispersion"])
    meta: dict[str, Any] = {
        "service": service,
        "geography": geography.label,
        "method": method,
        "classification": classification,
        "unit": unit,
        "districts": service_districts(conn, service, within),
        "reference": ref.describe(),
        "rates": {k: float(v) for k, v in frame.attrs["rates"].items() if np.isfinite(v)},
        "scale": frame.attrs["scale"],
        "fdr": fdr,
        "test": f"{dispersion_meta['test']}; Garwood intervals; Benjamini-Hochberg",
        "dispersion": dispersion_meta,
        "warnings": dispersion_warnings(dispersion_meta),
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "percentile": percentile,
    }
    unmet = demand_mod.unmet_demand(households, counts, percentile).reindex(frame.index)
    frame["potential"] = unmet["potential"].fillna(frame["observed"]).to_numpy()
    frame["unmet"] = unmet["unmet"].fillna(0.0).to_numpy()
    if method == "scan":
        frame = _scan_frame(
            conn, frame, geography, meta, options or SpatialOptions(), fdr, budget=permutation_budget
        )
    elif method != "ratio":
        opts = options or SpatialOptions()
        draws = permutation_draws(len(frame), opts.permutations)
        if permutation_budget is not None and draws > permutation_budget:
            raise InvalidRequest(
                f"`permutations` {opts.permutations} x {len(frame)} areas is {draws:,} draws, more than "
                f"{permutation_budget:,} allowed here: use a hot-spot job, fewer permutations or "
                "fewer areas"
            )
        transform = opts.resolved_transform(method)
        w = area_weights(
            conn, geography, frame.index.tolist(), opts.weights, k=opts.k, distance_m=opts.distance_m
        )
        o = frame["observed"].to_numpy()
        e = frame["expected"].to_numpy()
        hh = frame["households"].to_numpy(dtype=float)
        if opts.variable == "ratio":
            value = np.divide(o, e, out=np.ones_like(o), where=e > 0)
            described = "ratio of observed to expected use (O/E); 1 where nothing is expected"
        elif opts.variable == "rate":
            value = 1000 * np.divide(o, hh, out=np.zeros_like(o), where=hh > 0)
            described = f"{unit} per 1000 households"
        elif opts.variable == "eb_rate":
            value = 1000 * spatial.eb_global(o, hh)
            described = f"{unit} per 1000 households, global empirical-Bayes smoothed (Marshall 1991)"
        elif opts.variable == "seb_rate":
            value = 1000 * spatial.eb_spatial(o, hh, w)
            described = (
                f"{unit} per 1000 households, spatial empirical-Bayes smoothed (prior from each "
                "area and its neighbours)"
            )
        else:
            raise InvalidRequest(
                f"`variable` was {opts.variable!r} but is expected to be 'ratio', 'rate', 'eb_rate' or "
                "'seb_rate'"
            )
        if method == "gistar":
            result = spatial.gi_star(value, w, transform)
            quadrant = None
        else:
            result = spatial.local_moran(value, w, transform)
            quadrant = spatial.moran_quadrant(value, w, transform)
        if opts.permutations > 0:
            p = spatial.permutation_p_values(
                value,
                w,
                method,
                transform=transform,
                permutations=opts.permutations,
                seed=opts.seed,
                progress=progress,
            )
            inference = f"conditional randomisation, {opts.permutations} permutations, two-sided"
            meta["warnings"].extend(permutation_warnings(len(frame), opts.permutations, fdr))
        else:
            p = result.p_norm
            inference = "analytical z-score, two-sided normal p-value"
        q, classes = spatial.spatial_classes(method, result.z, p, fdr, quadrant)
        frame = frame.rename(
            columns={"p_value": "ratio_p_value", "q_value": "ratio_q_value", "class": "ratio_class"}
        )
        frame["value"] = value
        frame["statistic"] = result.statistic
        frame["z"] = result.z
        frame["p_value"] = p
        frame["q_value"] = q
        frame["class"] = classes
        meta.update(
            {
                "variable": opts.variable,
                "variable_description": described,
                "statistic": "Getis-Ord Gi* (self included)" if method == "gistar" else "local Moran's I",
                "weights": w.describe(),
                "transform": transform,
                "transform_description": "binary" if transform == "B" else "row-standardised",
                "inference": inference,
                "moments": "randomisation (Getis & Ord 1992)"
                if method == "gistar"
                else "total randomisation (Sokal et al. 1998, A3-A4)",
            }
        )
    else:
        meta["variable"] = "ratio"
    frame.insert(0, "name", area_names(conn, geography, frame.index.tolist()).to_numpy())
    frame = frame.reset_index()
    frame.attrs["meta"] = meta
    return frame


def area_points(conn: Connection, geography: AnalysisGeography, codes: Sequence[str]) -> np.ndarray:
    """Representative points of areas (or H3 cell centres) in British National Grid metres."""
    ids = np.asarray(list(codes), dtype=object)
    if isinstance(geography, H3Grid):
        return np.asarray(h3grid.cell_centres_bng(ids), dtype=float)
    rows = conn.execute(load_sql("analysis/area_points"), {"codes": list(ids)}).all()
    pts = pd.DataFrame(rows, columns=["code", "name", "x", "y"]).set_index("code").reindex(ids)
    return pts[["x", "y"]].to_numpy(dtype=float)


def _scan_frame(
    conn: Connection,
    frame: pd.DataFrame,
    geography: AnalysisGeography,
    meta: dict[str, Any],
    opts: SpatialOptions,
    fdr: float,
    *,
    budget: int | None,
) -> pd.DataFrame:
    """Kulldorff's scan on the frame's observed and expected counts; clusters into columns and meta.

    A cluster is significant when its Monte Carlo p-value is at most ``fdr``; the p-value
    of the maximum statistic controls the family-wise error over all windows, so no
    further adjustment is made (``q_value = p_value``). Circular windows are blunt: a
    strong cluster drags in the null areas that share its circle (on the test borough,
    half the areas flagged), and misses the members of irregular clusters that no circle
    fits. So by default (``members='significant'``) an area is flagged ``hot`` (``not``)
    when it is in a significant cluster and its own area test (the dispersion model's,
    two-sided ``p <= fdr / 2``, not adjusted across areas because the cluster is already
    established) points the same way, or when the area test flags it on its own after
    false-discovery control. ``members='cluster'`` keeps the first rule only and
    ``members='window'`` flags whole circles. The member level ``fdr / 2`` was chosen on
    the demo boroughs (docs/hotspots.md gives the figures for the neighbouring levels).
    """
    permutations = opts.permutations or SCAN_DEFAULT_PERMUTATIONS
    n = len(frame)
    work = n * max(1, int(np.ceil(opts.max_share * n))) * permutations
    limit = (budget if budget is not None else JOB_PERMUTATION_BUDGET) * SCAN_EVALUATIONS_PER_DRAW
    if work > limit:
        raise InvalidRequest(
            f"the scan of {n} areas with `max_share` {opts.max_share} and {permutations} replicates is "
            f"about {work:,} window evaluations, more than {limit:,} allowed here: use a hot-spot job, "
            "a smaller `max_share`, fewer `permutations` or fewer areas"
        )
    xy = area_points(conn, geography, frame.index.tolist())
    o = frame["observed"].to_numpy()
    e = frame["expected"].to_numpy()
    result = scan_mod.spatial_scan(
        o,
        e,
        xy,
        max_share=opts.max_share,
        permutations=permutations,
        direction=opts.direction,
        alpha=fdr,
        seed=opts.seed,
    )
    codes = frame.index.to_numpy()
    area_p = frame["p_value"].to_numpy()
    area_class = frame["class"].to_numpy()
    cluster = np.full(n, np.nan)
    cluster_p = np.ones(n)
    cluster_rr = np.full(n, np.nan)
    cluster_llr = np.full(n, np.nan)
    classes = np.full(n, "as_expected", dtype=object)
    described = []
    for number, c in enumerate(result.clusters, start=1):
        # An area in an elevated and a reduced window keeps the stronger (first) one.
        own = c.members[np.isnan(cluster[c.members])]
        cluster[own] = number
        cluster_p[own] = c.p_value
        cluster_rr[own] = c.relative_risk
        cluster_llr[own] = c.llr
        flagged = c.members
        if opts.members != "window":
            side = np.sign(o[c.members] - e[c.members]) == (1 if c.kind == "hot" else -1)
            flagged = c.members[side & (area_p[c.members] <= fdr / 2)]
        if c.p_value <= fdr:
            flagged = flagged[classes[flagged] == "as_expected"]
            classes[flagged] = c.kind
        described.append(
            {
                "id": number,
                "class": c.kind if c.p_value <= fdr else "as_expected",
                "direction": "elevated" if c.kind == "hot" else "reduced",
                "areas": codes[c.members].tolist(),
                "flagged_areas": codes[flagged].tolist() if c.p_value <= fdr else [],
                "centre": str(codes[c.centre]),
                "radius_m": round(c.radius, 1),
                "observed": c.observed,
                "expected": c.expected,
                "ratio": c.ratio,
                "relative_risk": c.relative_risk,
                "llr": c.llr,
                "p_value": c.p_value,
            }
        )
    if opts.members == "significant":
        alone = (classes == "as_expected") & np.isin(area_class, ["hot", "not"])
        classes[alone] = area_class[alone]
    frame = frame.rename(
        columns={"p_value": "ratio_p_value", "q_value": "ratio_q_value", "class": "ratio_class"}
    )
    frame["cluster"] = cluster
    frame["cluster_relative_risk"] = cluster_rr
    frame["cluster_llr"] = cluster_llr
    frame["p_value"] = cluster_p
    frame["q_value"] = cluster_p
    frame["class"] = classes
    meta.update(
        {
            "variable": "counts",
            "statistic": "Kulldorff's spatial scan statistic, Poisson model, circular windows",
            "inference": f"Monte Carlo, {permutations} null replicates (multinomial given the total); "
            "secondary clusters: no geographical overlap, compared with the maximum's null distribution",
            "max_share": opts.max_share,
            "direction": opts.direction,
            "members": opts.members,
            "windows": result.windows,
            "permutations": permutations,
            "seed": opts.seed,
            "clusters": described,
        }
    )
    if permutations < int(np.ceil(1 / fdr - 1)):
        meta["warnings"].append(
            f"with {permutations} replicates the smallest p-value is {1 / (permutations + 1):.3g}, above "
            f"the level {fdr}: no cluster can be significant"
        )
    return frame


def permutation_warnings(n_areas: int, permutations: int, fdr: float) -> list[str]:
    """Say when permutation p-values are too coarse for the false-discovery control.

    With P permutations the smallest two-sided pseudo p-value is ``2 / (P + 1)``. Under
    Benjamini-Hochberg over m areas, a lone area needs ``p <= fdr / m``; k areas flagged
    together need ``p <= k fdr / m``. So with ``2 / (P + 1) > fdr`` nothing can ever be
    flagged, and with ``2 / (P + 1) > fdr / m`` an area is flagged only when at least
    ``ceil(m × 2 / (P + 1) / fdr)`` areas all reach the minimum.
    """
    if permutations < 1 or n_areas < 1:
        return []
    p_min = min(1.0, 2 / (permutations + 1))
    needed = int(np.ceil(2 * n_areas / fdr - 1))
    if p_min > fdr:
        return [
            f"with {permutations} permutations the smallest p-value is {p_min:.3g}, above the "
            f"false-discovery rate {fdr}: no area can be flagged; {needed:,} permutations would let "
            "a single area be flagged"
        ]
    if p_min > fdr / n_areas:
        together = int(np.ceil(n_areas * p_min / fdr))
        return [
            f"with {permutations} permutations the smallest p-value is {p_min:.3g}: under the "
            f"false-discovery control over {n_areas} areas an area can be flagged only if at least "
            f"{together} areas all reach that minimum; {needed:,} permutations would let a single "
            "area be flagged (or use the analytical z-scores, permutations=0)"
        ]
    return []


def dispersion_warnings(dispersion_meta: dict[str, Any]) -> list[str]:
    """Warn when a plain Poisson test was asked for on overdispersed counts."""
    phi = dispersion_meta.get("phi")
    test_p = dispersion_meta.get("test_p_value")
    overdispersed = phi is not None and (phi > 1 or (test_p is not None and test_p < 0.05))
    if dispersion_meta.get("applied") == "none" and overdispersed:
        return [
            f"counts are overdispersed (phi = {phi:.2f}, winsorised): the exact Poisson test flags too "
            "many areas; use dispersion=auto, additive, multiplicative or negbin"
        ]
    return []


def trend_frame(
    conn: Connection,
    service: str,
    geography: AnalysisGeography,
    *,
    slice: Literal["month", "quarter"] = "quarter",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    fdr: float = 0.05,
    classification: str | None = None,
    unit: Unit | None = None,
    within: str | None = None,
    options: SpatialOptions | None = None,
) -> pd.DataFrame:
    """Emerging hot spots (``trends.emerging_hot_spots``) of the O/E ratio over time slices.

    Each slice's expected counts come from that slice's own segment rates (internal
    standardisation per slice), so a borough-wide rise or a season moves no area; the
    value analysed is each slice's ratio (1 where nothing is expected). The period
    defaults to the service's first and last event; slices are calendar months or quarters
    (at least 3).
    """
    if slice not in ("month", "quarter"):
        raise InvalidRequest(f"`slice` was {slice!r} but is expected to be 'month' or 'quarter'")
    classification = classification or default_classification(conn)
    unit = unit or service_unit(conn, service)
    opts = options or SpatialOptions()
    period = conn.execute(load_sql("analysis/service_period"), {"service": service}).one()
    start = date_from or period.first_day
    end = date_to or period.last_day
    if start is None or end is None or start > end:
        raise InvalidRequest("the service has no events in the period: nothing to trend")
    periods = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M" if slice == "month" else "Q")
    if len(periods) < 3:
        raise InvalidRequest(f"the period {start} to {end} holds {len(periods)} {slice}s; a trend needs 3")
    codes: list[str] | None = None
    columns = []
    labels = []
    for p in periods:
        lo = max(p.start_time.date(), start)
        hi = min(p.end_time.date(), end)
        households, counts = study_inputs(
            conn, service, geography, classification, unit=unit, date_from=lo, date_to=hi, within=within
        )
        table = hot_spots(households, counts, dispersion="none")
        table = table[table["households"] > 0]
        if codes is None:
            codes = table.index.tolist()
        table = table.reindex(codes)
        o = table["observed"].fillna(0.0).to_numpy()
        e = table["expected"].fillna(0.0).to_numpy()
        columns.append(np.divide(o, e, out=np.ones_like(o), where=e > 0))
        labels.append(str(p))
    assert codes is not None
    values = np.column_stack(columns)
    w = area_weights(conn, geography, codes, opts.weights, k=opts.k, distance_m=opts.distance_m)
    result = trends_mod.emerging_hot_spots(values, w, fdr=fdr)
    cls = result["classes"]
    frame = pd.DataFrame(
        {
            "area_code": codes,
            "name": area_names(conn, geography, codes).to_numpy(),
            "category": result["category"],
            "trend_z": result["trend_z"],
            "trend_p": result["trend_p"],
            "slices_hot": (cls == 1).sum(axis=1),
            "slices_cold": (cls == -1).sum(axis=1),
            "z_last": result["z"][:, -1],
            "classes": [",".join({1: "hot", -1: "cold", 0: "-"}[int(c)] for c in row) for row in cls],
        }
    )
    frame.attrs["meta"] = {
        "service": service,
        "geography": geography.label,
        "method": "emerging hot spots",
        "classification": classification,
        "unit": unit,
        "slice": slice,
        "slices": labels,
        "fdr": fdr,
        "weights": w.describe(),
        "variable": "ratio of each slice (expected from that slice's segment rates)",
        "statistic": "Getis-Ord Gi* per slice (binary weights, Benjamini-Hochberg within the slice); "
        "Mann-Kendall trend of each area's z",
        "categories": "Esri Emerging Hot Spot Analysis: new, consecutive, intensifying, persistent, "
        "diminishing, sporadic, oscillating, historical (hot_spot / cold_spot), else no_pattern",
    }
    return frame


def reach_frame(
    conn: Connection,
    service: str,
    *,
    classification: str | None = None,
    reference: Reference | str | None = None,
    unit: Unit | None = None,
    within: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    fdr: float = 0.05,
) -> pd.DataFrame:
    """Reach of every segment against a reference (``reach.segment_reach``), least reached first.

    ``reference``: ``district`` (the study's overall rate per household), ``area:<code>``
    (each segment's rate learnt in another area) or ``rates:A=0.2,...`` (a published table).
    """
    classification = classification or default_classification(conn)
    unit = unit or service_unit(conn, service)
    ref = reference if isinstance(reference, Reference) else parse_reference(reference)
    households, counts = study_inputs(
        conn,
        service,
        Geography("oa"),
        classification,
        unit=unit,
        date_from=date_from,
        date_to=date_to,
        within=within,
    )
    if households.empty:
        raise InvalidRequest("the study area has no households: check `within`")
    rates = _reference_rates(conn, service, ref, classification, unit, date_from, date_to)
    out = reach_mod.segment_reach(households, counts, reference=rates, unit=unit, fdr=fdr)
    names = segment_portraits(conn, classification).set_index("segment_code")["name"]
    out.insert(1, "name", names.reindex(out["segment_code"]).to_numpy())
    out.attrs["meta"] = {
        "service": service,
        "classification": classification,
        "unit": unit,
        "reference": ref.describe(),
        "reference_rate": out.attrs["reference"],
        "within": within,
        "fdr": fdr,
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "reach": "households using / eligible households (Wilson interval)"
        if unit == "households"
        else "events per eligible household (Garwood interval)",
        "test": "exact Poisson of observed against eligible x reference rate; "
        "Benjamini-Hochberg across segments",
    }
    return out


def permutation_draws(n_areas: int, permutations: int) -> int:
    """How much permutation work a request asks for (areas × permutations)."""
    return int(n_areas) * int(permutations)


def area_geometries(conn: Connection, geography: AnalysisGeography, codes: Sequence[str]) -> dict[str, Any]:
    """GeoJSON geometry (WGS84) of each area or H3 cell, by code."""
    if isinstance(geography, H3Grid):
        return dict(zip(codes, h3grid.cell_polygons(codes), strict=True))
    collection = area_features(conn, geography)
    wanted = set(codes)
    return {f["id"]: f["geometry"] for f in collection["features"] if f["id"] in wanted}


def demand_frame(
    conn: Connection,
    service: str,
    geography: AnalysisGeography,
    *,
    percentile: float = 80.0,
    classification: str | None = None,
    unit: Unit | None = None,
    min_households: int = 20,
    within: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> pd.DataFrame:
    """Potential and unmet demand per area (``demand.unmet_demand``) with names and meta."""
    classification = classification or default_classification(conn)
    unit = unit or service_unit(conn, service)
    households, counts = study_inputs(
        conn,
        service,
        geography,
        classification,
        unit=unit,
        date_from=date_from,
        date_to=date_to,
        within=within,
    )
    out = demand_mod.unmet_demand(households, counts, percentile, min_households=min_households)
    benchmarks = out.attrs["benchmarks"]
    out.insert(0, "name", area_names(conn, geography, out.index.tolist()).to_numpy())
    out = out.reset_index()
    out.attrs["meta"] = {
        "service": service,
        "geography": geography.label,
        "classification": classification,
        "unit": unit,
        "percentile": percentile,
        "min_households": min_households,
        "benchmarks": {k: float(v) for k, v in benchmarks.items()},
    }
    return out


def predict_demand(
    conn: Connection,
    profile: Any,
    geography: AnalysisGeography,
    *,
    classification: str | None = None,
    within: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Demand predicted from a propensity profile for the households of another area set."""
    classification = classification or default_classification(conn)
    rates = demand_mod.parse_profile(profile)
    households, _ = study_inputs(conn, None, geography, classification, within=within)
    if households.empty:
        raise InvalidRequest("the target areas have no households: check `level` and `within`")
    out = demand_mod.predicted_demand(households, rates, level=level)
    unknown = out.attrs["unknown_segments"]
    out.insert(0, "name", area_names(conn, geography, out.index.tolist()).to_numpy())
    out = out.reset_index()
    out.attrs["meta"] = {
        "geography": geography.label,
        "classification": classification,
        "rates": {k: float(v) for k, v in rates.items()},
        "unknown_segments": unknown,
        "interval": f"central Poisson prediction interval, {level:.0%}",
    }
    return out


def segment_portraits(conn: Connection, classification: str) -> pd.DataFrame:
    """Segment codes, names, preferred channels and media of a classification."""
    rows = conn.execute(load_sql("analysis/segment_portraits"), {"classification": classification}).all()
    return pd.DataFrame(
        rows, columns=["segment_code", "name", "preferred_channels", "preferred_media", "key_issues"]
    )


def targeting(
    conn: Connection,
    service: str,
    geography: AnalysisGeography,
    segments: Sequence[str],
    *,
    percentile: float = 80.0,
    classification: str | None = None,
    unit: Unit | None = None,
    top: int | None = 50,
    within: str | None = None,
) -> pd.DataFrame:
    """Areas ranked for a campaign to the target segments (``demand.targeting_list``)."""
    classification = classification or default_classification(conn)
    unit = unit or service_unit(conn, service)
    segments = list(dict.fromkeys(segments))
    portraits = segment_portraits(conn, classification)
    unknown = sorted(set(segments) - set(portraits["segment_code"]))
    if unknown:
        raise InvalidRequest(
            f"`segments` has {unknown} but is expected to hold codes of {classification!r}: "
            f"{portraits['segment_code'].tolist()}"
        )
    households, counts = study_inputs(conn, service, geography, classification, unit=unit, within=within)
    out = demand_mod.targeting_list(households, counts, segments, portraits, percentile=percentile, top=top)
    bench = out.attrs["benchmarks"]
    out.insert(2, "name", area_names(conn, geography, out["area_code"].tolist()).to_numpy())
    out.attrs["meta"] = {
        "service": service,
        "geography": geography.label,
        "classification": classification,
        "unit": unit,
        "segments": list(segments),
        "percentile": percentile,
        "benchmarks": {k: float(v) for k, v in bench.items()},
        "score": "unmet demand among the target segments' households (households x benchmark gap)",
    }
    return out


def evaluate_intervention(
    conn: Connection,
    service: str,
    geography: Geography,
    treated: Sequence[str],
    *,
    before: tuple[dt.date, dt.date],
    after: tuple[dt.date, dt.date],
    control: Sequence[str] | None = None,
    n_controls: int | None = None,
    classification: str | None = None,
    unit: Unit | None = None,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Difference in differences for an intervention in ``treated`` areas over two periods.

    Controls are the caller's, or the ``n_controls`` (default 3 per treated area)
    untreated areas most like the treated ones in segment mix and pre-period rate
    (``evaluation.comparable_controls``), leaving out areas that touch a treated one.
    """
    for name, (start, end) in (("before", before), ("after", after)):
        if start > end:
            raise InvalidRequest(f"`{name}` starts ({start}) after it ends ({end})")
    if before[1] >= after[0]:
        raise InvalidRequest("the `before` period is expected to end before the `after` period starts")
    if not treated:
        raise InvalidRequest("`treated` is empty but is expected to list at least two area codes")
    classification = classification or default_classification(conn)
    unit = unit or service_unit(conn, service)
    households, before_counts = study_inputs(
        conn, service, geography, classification, unit=unit, date_from=before[0], date_to=before[1]
    )
    _, after_counts = study_inputs(
        conn, service, geography, classification, unit=unit, date_from=after[0], date_to=after[1]
    )
    hh = households.groupby("area_code")["households"].sum()
    areas = pd.DataFrame(
        {
            "households": hh,
            "before": before_counts.groupby("area_code")["target"].sum().reindex(hh.index, fill_value=0),
            "after": after_counts.groupby("area_code")["target"].sum().reindex(hh.index, fill_value=0),
        }
    )
    areas = areas[areas["households"] > 0]
    unknown = sorted(set(treated) - set(areas.index))
    if unknown:
        raise InvalidRequest(
            f"`treated` has {unknown}, which are not {geography.label} areas with households"
        )
    before_days = (before[1] - before[0]).days + 1
    after_days = (after[1] - after[0]).days + 1
    chosen = "caller"
    if control is None:
        shares = households.dropna(subset=["segment_code"]).pivot_table(
            index="area_code", columns="segment_code", values="households", aggfunc="sum", fill_value=0
        )
        shares = shares.reindex(areas.index, fill_value=0).astype(float)
        shares = shares.div(shares.sum(axis=1).replace(0, 1), axis=0)
        w = area_weights(conn, geography, areas.index.tolist(), "queen")
        pos = np.flatnonzero(areas.index.isin(list(treated)))
        touching = np.unique(w.matrix[pos].indices)
        exclude = [c for c in areas.index[touching] if c not in set(treated)]
        before_rate = areas["before"] / areas["households"]
        control = evaluation_mod.comparable_controls(
            shares, before_rate, treated, n_controls or 3 * len(treated), exclude=exclude
        )
        chosen = "matched on segment mix and pre-period rate, excluding neighbours of treated areas"
    result = evaluation_mod.difference_in_differences(
        areas, treated, control, before_days=before_days, after_days=after_days, alpha=alpha
    )
    result.update(
        {
            "service": service,
            "geography": geography.label,
            "unit_counted": unit,
            "treated": list(treated),
            "control": list(control),
            "control_selection": chosen,
            "before": [before[0].isoformat(), before[1].isoformat()],
            "after": [after[0].isoformat(), after[1].isoformat()],
            "method": "difference in differences of area rates, Welch t interval",
        }
    )
    return result
