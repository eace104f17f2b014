"""Combined hot spots: one answer over several services, by weighted Stouffer's z per area.

Each service is first tested on its own with the existing hot-spot functions
(:func:`geo.analysis.hotspot_outputs.hotspot_table`): the exact Poisson test of observed
against mix-expected use (``method="ratio"``), or Getis-Ord Gi* (``method="gistar"``). Each
area's evidence for each service is turned into a signed z-score, and the z-scores are
combined with weights:

* ratio: ``z_i = sign(O_i − E_i) · Φ⁻¹(1 − p_i / 2)`` from the two-sided exact p-value;
* gistar: ``z_i`` is the Gi* z-score itself;
* combined: ``Z = Σ_i w_i z_i / sqrt(Σ_i w_i²)`` (Stouffer, 1949; the weighted form of
  Liptak, 1958, and Whitlock, 2005, *J. Evol. Biol.* 18:1368), which is standard normal when
  every service's z is, whatever the weights; ``p = 2(1 − Φ(|Z|))``; classes after
  Benjamini-Hochberg control of the false-discovery rate across areas, as for one service.

An area's **contributing services** are those whose term ``w_i z_i / sqrt(Σ w²)`` has the
sign of ``Z``, largest first, each flagged where it is significant on its own (``|z_i| >=
1.96``). The terms add up to ``Z``, so they say how much of the answer each service gave.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import norm
from sqlalchemy import Connection

from geo.analysis import hotspot_queries as q
from geo.analysis.hotspot_outputs import HotspotParams, hotspot_table
from geo.analysis.hotspots import benjamini_hochberg, classify
from geo.analysis.propensity import round_half_away
from geo.disclosure import DisclosurePolicy
from geo.errors import InvalidRequest

Method = Literal["ratio", "gistar"]
#: ``|z|`` at which one service's evidence is significant on its own (two-sided 5 %).
Z_SIGNIFICANT = float(norm.ppf(0.975))
MAX_SERVICES = 20


def signed_z(p_value: Any, direction: Any) -> np.ndarray:
    """A two-sided p-value and the sign of the effect as a z-score: ``sign · Φ⁻¹(1 − p/2)``.

    ``p`` is clipped to ``[1e-300, 1]`` so an extreme area gets a large finite z (about
    37), and an area with no difference (``direction == 0``) gets 0.
    """
    p = np.clip(np.asarray(p_value, dtype=float), 1e-300, 1.0)
    z = np.asarray(norm.isf(p / 2), dtype=float)
    return np.asarray(np.sign(np.asarray(direction, dtype=float)) * z, dtype=float)


def stouffer(z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted Stouffer combination of the columns of ``z`` (areas × services).

    ``Z = z @ w / sqrt(Σ w²)``; a NaN z (a service with nothing to say about an area)
    counts as 0 evidence, i.e. the area keeps the full denominator.
    """
    w = np.asarray(weights, dtype=float)
    return np.asarray(np.nan_to_num(np.asarray(z, dtype=float)) @ w / np.sqrt((w**2).sum()), dtype=float)


def _check_weights(services: Sequence[str], weights: Mapping[str, float] | None) -> np.ndarray:
    if len(services) < 2:
        raise InvalidRequest("`services` needs at least two services to combine")
    if len(services) > MAX_SERVICES:
        raise InvalidRequest(f"`services` has {len(services)} services; at most {MAX_SERVICES} are combined")
    if len(set(services)) != len(services):
        raise InvalidRequest("`services` names a service more than once")
    extra = sorted(set(weights or {}) - set(services))
    if extra:
        raise InvalidRequest(
            f"`weights` has {extra} but is expected to weight only services in {list(services)}"
        )
    w = np.array([float((weights or {}).get(s, 1.0)) for s in services])
    if not np.isfinite(w).all() or (w < 0).any() or not (w > 0).any():
        raise InvalidRequest("`weights` are expected to be finite, >= 0, and not all 0")
    return w


def combine_hot_spots(
    frames: Mapping[str, pd.DataFrame],
    weights: Mapping[str, float] | None = None,
    *,
    method: Method = "ratio",
    fdr: float = 0.05,
) -> pd.DataFrame:
    """Combine per-service hot-spot frames into one per-area answer.

    Parameters
    ----------
    frames
        Service code -> the ``hotspot_frame`` of that service over the same areas
        (``area_code``, ``observed``, ``expected``, ``p_value`` and, for Gi*, ``z``).
    weights
        Service code -> weight (default 1 each).
    method
        Which statistic the frames hold (module docstring).
    fdr
        False-discovery rate for ``class``.

    Returns
    -------
    One row per area (those present in every frame): ``area_code, name, households, z,
    p_value, q_value, class``, then ``z__<service>``, ``observed__<service>`` and
    ``expected__<service>`` per service, and ``contributing`` (list of dicts: service,
    z, contribution, significant).
    """
    services = list(frames)
    w = _check_weights(services, weights)
    if not 0 < fdr < 1:
        raise InvalidRequest(f"`fdr` was {fdr!r} but is expected to be between 0 and 1")
    codes: pd.Index | None = None
    for frame in frames.values():
        idx = pd.Index(frame["area_code"])
        codes = idx if codes is None else codes.intersection(idx, sort=False)
    assert codes is not None
    codes = codes.sort_values()
    first = frames[services[0]].set_index("area_code").loc[codes]
    out = pd.DataFrame(index=pd.Index(codes, name="area_code"))
    out["name"] = first["name"].to_numpy() if "name" in first else codes.to_numpy()
    out["households"] = first["households"].to_numpy()
    zs = np.empty((len(codes), len(services)))
    for j, service in enumerate(services):
        f = frames[service].set_index("area_code").loc[codes]
        o = f["observed"].to_numpy(dtype=float)
        e = f["expected"].to_numpy(dtype=float)
        if method == "ratio":
            zs[:, j] = signed_z(f["p_value"].to_numpy(dtype=float), o - e)
        else:
            zs[:, j] = f["z"].to_numpy(dtype=float)
        out[f"z__{service}"] = zs[:, j]
        out[f"observed__{service}"] = o
        out[f"expected__{service}"] = e
    total = stouffer(zs, w)
    p = 2 * norm.sf(np.abs(total))
    qv = benjamini_hochberg(p)
    out.insert(2, "z", total)
    out.insert(3, "p_value", p)
    out.insert(4, "q_value", qv)
    out.insert(5, "class", classify(total, qv, fdr))
    terms = np.nan_to_num(zs) * w / np.sqrt((w**2).sum())
    contributing: list[list[dict[str, Any]]] = []
    for i in range(len(codes)):
        sign = np.sign(total[i])
        picks = [
            j for j in np.argsort(-np.abs(terms[i]), kind="stable") if sign and np.sign(terms[i, j]) == sign
        ]
        contributing.append(
            [
                {
                    "service": services[j],
                    "z": float(zs[i, j]),
                    "contribution": float(terms[i, j]),
                    "significant": bool(abs(zs[i, j]) >= Z_SIGNIFICANT),
                }
                for j in picks
            ]
        )
    out["contributing"] = contributing
    out.attrs["services"] = services
    out.attrs["weights"] = dict(zip(services, w.tolist(), strict=True))
    return out.reset_index()


def combined_hot_spots(
    conn: Connection,
    services: Sequence[str],
    *,
    level: str = "oa",
    weights: Mapping[str, float] | None = None,
    method: Method = "ratio",
    fdr: float = 0.05,
    classification: str | None = None,
    within: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    dispersion: str = "auto",
) -> pd.DataFrame:
    """Combined hot spots of ``services`` over the areas of ``level`` (see the module docstring).

    ``dispersion`` is each service's area-test model (``overdispersion.DISPERSION_MODES``;
    ``auto``: negative binomial where that service's counts are overdispersed).

    Every service is tested with :func:`hotspot_outputs.hotspot_table` (same level,
    classification, area and period); the frame's ``attrs['meta']`` says what was used.
    """
    if method not in ("ratio", "gistar"):
        raise InvalidRequest(f"`method` was {method!r} but is expected to be 'ratio' or 'gistar'")
    services = list(services)
    _check_weights(services, weights)
    frames = {
        s: hotspot_table(
            conn,
            HotspotParams(
                service=s,
                level=level,
                method=method,
                fdr=fdr,
                classification=classification,
                within=within,
                date_from=date_from,
                date_to=date_to,
                dispersion=dispersion,
            ),
        )
        for s in services
    }
    out = combine_hot_spots(frames, weights, method=method, fdr=fdr)
    first_meta = frames[services[0]].attrs.get("meta", {})
    out.attrs["meta"] = {
        "services": services,
        "weights": out.attrs["weights"],
        "geography": first_meta.get("geography", level),
        "classification": first_meta.get("classification", classification),
        "method": method,
        "per_service_z": "sign(O - E) * Phi^-1(1 - p/2) from the exact Poisson test"
        if method == "ratio"
        else "Getis-Ord Gi* z-score",
        "combination": "weighted Stouffer: Z = sum(w_i z_i) / sqrt(sum(w_i^2)); p = 2(1 - Phi(|Z|))",
        "fdr": fdr,
        "contributing": "services whose term has the sign of Z, largest first; "
        f"significant: |z| >= {Z_SIGNIFICANT:.2f}",
        "units": {s: frames[s].attrs.get("meta", {}).get("unit") for s in services},
    }
    return out


def protect_combined(frame: pd.DataFrame, policy: DisclosurePolicy | None) -> pd.DataFrame:
    """Disclosure control: for a public caller, small observed counts become ``"<5"``.

    A service's z (which reveals its count) becomes null where its count is hidden, and the
    combined z, p, q, class and contributions become null wherever any service's is.
    """
    if policy is None:
        return frame
    services: list[str] = frame.attrs.get("services", [])
    out = frame.copy()
    for s in services:
        out[f"expected__{s}"] = out[f"expected__{s}"].round(0)
    counts = [f"observed__{s}" for s in services]
    deps = {f"observed__{s}": [f"z__{s}"] for s in services}
    out = policy.columns(out, counts, deps)
    hidden = np.zeros(len(out), dtype=bool)
    for s in services:
        hidden |= out[f"z__{s}"].isna().to_numpy() & frame[f"z__{s}"].notna().to_numpy()
    for col in ("z", "p_value", "q_value", "class"):
        column = out[col].astype(object)
        column[hidden] = None
        out[col] = column
    out["contributing"] = [None if h else c for h, c in zip(hidden, out["contributing"], strict=True)]
    out.attrs = dict(frame.attrs)
    return out


def combined_output(
    conn: Connection,
    services: Sequence[str],
    *,
    policy: DisclosurePolicy | None,
    fmt: Literal["geojson", "csv"] = "geojson",
    **options: Any,
) -> dict[str, Any] | str:
    """The body of ``GET /hotspots/combined``: GeoJSON (WGS84) with ``meta``, or CSV."""
    frame = combined_hot_spots(conn, services, **options)
    meta = dict(frame.attrs["meta"])
    for col in ("z", "p_value", "q_value"):
        frame[col] = round_half_away(frame[col].to_numpy(dtype=float), 6 if col == "z" else 8)
    frame = protect_combined(frame, policy)
    if policy is not None:
        meta["disclosure"] = (
            f"counts 1 to {policy.threshold} shown as {policy.label!r}; figures revealing them null"
        )
    services = list(frame.attrs["services"])
    columns = ["area_code", "name", "households", "z", "p_value", "q_value", "class"]
    columns += [f"{kind}__{s}" for s in services for kind in ("observed", "expected", "z")]
    if fmt == "csv":
        flat = frame[columns].copy()
        flat["contributing"] = [
            "; ".join(c["service"] for c in cs) if cs else "" for cs in frame["contributing"]
        ]
        return flat.rename(columns={"area_code": "code"}).to_csv(index=False, lineterminator="\n") or ""
    geography = q.resolve_analysis_geography(conn, str(meta["geography"]), None)
    geoms = q.area_geometries(conn, geography, frame["area_code"].tolist())
    records = (
        frame[[*columns, "contributing"]]
        .astype(object)
        .where(frame[[*columns, "contributing"]].notna(), None)
    )
    features = []
    for rec in records.to_dict(orient="records"):
        props = {("code" if k == "area_code" else k): _plain(v) for k, v in rec.items()}
        features.append(
            {
                "type": "Feature",
                "id": props["code"],
                "geometry": geoms.get(props["code"]),
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features, "meta": meta}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
