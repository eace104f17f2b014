"""Balanced service zones: contiguous groups of output areas or LSOAs (PySAL spopt).

Two regionalisations, both from ``spopt.region`` over Queen contiguity (``libpysal``):

* **max-p** (Duque, Anselin and Rey, 2012; the heuristic of Wei, Rey and Knaap, 2021): as
  many zones as possible such that every zone's demand is at least a floor,
  :math:`\\sum_{i \\in Z_k} w_i \\ge F` for every zone :math:`k`, zones contiguous and
  compact (within-zone dissimilarity minimised by simulated annealing);
* **SKATER** (Assuncao, Neves, Camara and da Costa Freitas, 2006): exactly ``n_zones``
  contiguous zones cut from the minimum spanning tree of the contiguity graph, optionally
  with at least ``min_areas`` areas in each.

Dissimilarity is on the areas' representative points (British National Grid km), so zones
are compact: a zone a van or an outreach worker can cover. Max-p's construction and
annealing draw from numpy's global random generator; the solve seeds it (and restores the
caller's state afterwards) so an answer is reproducible from its ``seed``.

References
----------
Assuncao, R. M., Neves, M. C., Camara, G. and da Costa Freitas, C. (2006) Efficient
regionalization techniques for socio-economic geographical units using minimum spanning
trees. International Journal of Geographical Information Science 20, 797-811.
Duque, J. C., Anselin, L. and Rey, S. J. (2012) The max-p-regions problem. Journal of
Regional Science 52, 397-419.
Wei, R., Rey, S. and Knaap, E. (2021) Efficient regionalization for spatially explicit
neighborhood delineation. International Journal of Geographical Information Science 35,
135-151.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
from scipy.sparse.csgraph import connected_components

from geo.errors import Infeasible, InvalidRequest

ZoneMethod = Literal["max_p", "skater"]
#: Attribute columns the zones are made compact on (area representative points, km).
ATTRS = ["x_km", "y_km"]


@dataclass(frozen=True)
class Zoning:
    """Zone labels per area (0..k-1, ordered by each zone's first area code) and the method."""

    labels: np.ndarray
    method: ZoneMethod
    seed: int | None


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed numpy's global generator for a library that draws from it, then restore it.

    Also quietens spopt's pandas deprecation warnings (``drop(inplace=True)`` in max-p's
    component check): they are the library's to fix and say nothing about the answer.
    """
    saved = np.random.get_state()
    if seed is not None:
        np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        if seed is not None:
            np.random.set_state(saved)


def contiguity(areas: gpd.GeoDataFrame) -> object:
    """Queen contiguity weights over the areas (libpysal), islands allowed."""
    from libpysal.weights import Queen

    with warnings.catch_warnings():
        # islands and disconnected parts are reported by zone_areas' own check
        warnings.simplefilter("ignore", UserWarning)
        return Queen.from_dataframe(areas, use_index=False, silence_warnings=True)


def _check(areas: gpd.GeoDataFrame) -> None:
    if areas.crs is None:
        raise InvalidRequest("the areas have no CRS: zones need projected (metre) coordinates")
    for col in ("demand", *ATTRS):
        if col not in areas:
            raise InvalidRequest(f"the areas frame has no `{col}` column")
    if (areas["demand"] < 0).any() or not np.isfinite(areas["demand"]).all():
        raise InvalidRequest("`demand` must be finite and non-negative for every area")


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Zones numbered 0..k-1 in order of their first area (the frame's order)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(int)


def service_zones(
    areas: gpd.GeoDataFrame,
    *,
    method: ZoneMethod = "max_p",
    floor: float | None = None,
    n_zones: int | None = None,
    min_areas: int | None = None,
    seed: int | None = 0,
    max_iterations_construction: int = 10,
    max_iterations_sa: int = 1,
) -> Zoning:
    """Partition areas into contiguous service zones.

    Parameters
    ----------
    areas
        One row per area in a projected CRS, with ``demand`` (non-negative) and the
        compactness attributes ``x_km``, ``y_km``; rows in a fixed order (by code).
    method
        ``max_p`` (needs ``floor``) or ``skater`` (needs ``n_zones``).
    floor
        Max-p: the least demand a zone may hold, :math:`\\sum_{i \\in Z} w_i \\ge F`.
    n_zones
        SKATER: the number of zones.
    min_areas
        SKATER: the least number of areas in a zone (spopt's ``floor``).
    seed
        Max-p: seed for spopt's random construction and annealing.
    max_iterations_construction, max_iterations_sa
        Max-p effort (spopt's arguments of the same names).

    Returns
    -------
    Zoning
        Labels 0..k-1 per row of ``areas``.

    Raises
    ------
    InvalidRequest
        For a missing parameter, or areas that are not all connected.
    Infeasible
        When no zoning meets the floor (total demand below it).
    """
    _check(areas)
    n = len(areas)
    if n == 0:
        raise Infeasible("there are no areas to group into zones")
    w = contiguity(areas)
    n_parts, _ = connected_components(w.sparse, directed=False)  # type: ignore[attr-defined]
    if n_parts > 1:
        raise InvalidRequest(
            f"the areas fall in {n_parts} separate groups that touch no other (islands): "
            "zones must be contiguous, so ask within one connected district"
        )
    if method == "max_p":
        from spopt.region import MaxPHeuristic

        if floor is None or floor <= 0:
            raise InvalidRequest(f"`floor` was {floor} but max-p zones need a positive demand floor")
        total = float(areas["demand"].sum())
        if total < floor:
            raise Infeasible(
                f"`floor` was {floor:g} but the whole study holds only {total:g} demand: no zone can reach it"
            )
        model = MaxPHeuristic(
            areas,
            w,
            ATTRS,
            "demand",
            float(floor),
            top_n=2,
            max_iterations_construction=max_iterations_construction,
            max_iterations_sa=max_iterations_sa,
            verbose=False,
        )
        with _seeded(seed):
            model.solve()
        labels = np.asarray(model.labels_)
        if (labels <= 0).any():
            # spopt leaves an area unassigned (label 0 or below) only if no zone could take it
            raise Infeasible(f"max-p could not place every area in a zone reaching {floor:g}")
    else:
        from spopt.region import Skater

        if n_zones is None or not 1 <= n_zones <= n:
            raise InvalidRequest(f"`n_zones` was {n_zones} but SKATER needs 1 to {n} zones (the areas)")
        if min_areas is not None and min_areas * n_zones > n:
            raise Infeasible(f"`min_areas` {min_areas} x `n_zones` {n_zones} is more than the {n} areas")
        model = Skater(
            areas,
            w,
            ATTRS,
            n_clusters=n_zones,
            floor=-np.inf if min_areas is None else min_areas,
            islands="increase",
        )
        with _seeded(seed):
            model.solve()
        labels = np.asarray(model.labels_)
    return Zoning(labels=_relabel(labels), method=method, seed=seed)
