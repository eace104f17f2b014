"""Potential, unmet and predicted demand, and campaign targeting: pure, vectorised functions.

* **Potential and unmet demand**: each segment's take-up in the best-performing areas
  (a percentile of the per-area rates of that segment) is a level the service has shown
  it can reach; an area's potential is what its households would use if every segment
  reached that level, and the unmet demand is the gap to what it uses now.
* **Demand elsewhere**: a propensity profile (rate per segment) learnt in one place, or
  uploaded as a table, applied to the households of another area set.
* **Targeting**: areas ranked by the unmet demand among the households of the campaign's
  target segments, with those segments' preferred channels and media.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from geo.analysis.hotspots import UNCLASSIFIED, check_rates, expected_counts
from geo.errors import InvalidRequest


def _matrix(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    long = frame.dropna(subset=["segment_code"])
    return long.pivot_table(
        index="area_code", columns="segment_code", values=value, aggfunc="sum", fill_value=0
    ).astype(float)


def _aligned(households: pd.DataFrame, counts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    h = _matrix(households, "households")
    o = _matrix(counts, "target") if len(counts) else pd.DataFrame(index=h.index, columns=h.columns)
    o = o.reindex(index=h.index, columns=h.columns, fill_value=0).fillna(0).astype(float)
    return h, o


def _check_percentile(percentile: float) -> float:
    if not 0 < percentile <= 100:
        raise InvalidRequest(f"`percentile` was {percentile!r} but is expected to be in (0, 100]")
    return float(percentile)


def segment_benchmarks(
    households: pd.DataFrame,
    counts: pd.DataFrame,
    percentile: float,
    *,
    min_households: int = 20,
) -> pd.Series:
    """Each segment's take-up in its best-performing areas: a percentile of per-area rates.

    Parameters
    ----------
    households, counts
        Long frames (``area_code, segment_code, households`` / ``target``).
    percentile
        Which percentile of the per-area rates is the benchmark (80 = the level the top
        fifth of areas reach).
    min_households
        Areas with fewer households of the segment do not vote: a rate from 3 households
        is mostly noise and would drag a high percentile up.

    Returns
    -------
    Series indexed by segment code: ``b_s = P_percentile{O[i, s] / H[i, s] : H[i, s] >=
    min_households}``; segments with no qualifying area fall back to their overall rate.
    """
    percentile = _check_percentile(percentile)
    h, o = _aligned(households, counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(h.to_numpy() >= min_households, o.to_numpy() / h.to_numpy(), np.nan)
    qualified = np.isfinite(rate).any(axis=0)
    bench = np.full(h.shape[1], np.nan)
    if qualified.any():
        bench[qualified] = np.nanpercentile(rate[:, qualified], percentile, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        overall = o.sum(axis=0).to_numpy() / h.sum(axis=0).to_numpy()
    bench = np.where(np.isfinite(bench), bench, overall)
    return pd.Series(bench, index=h.columns, name="benchmark_rate")


def unmet_demand(
    households: pd.DataFrame,
    counts: pd.DataFrame,
    percentile: float = 80.0,
    *,
    min_households: int = 20,
    segments: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Potential and unmet demand per area if every segment reached its benchmark take-up.

    Parameters
    ----------
    households, counts
        Long frames for the areas of one geography.
    percentile, min_households
        As for ``segment_benchmarks``.
    segments
        Only these segments (a campaign's targets); None for all classified segments.

    Returns
    -------
    DataFrame indexed by ``area_code`` with ``households`` (of the segments considered),
    ``observed`` (their current use), ``potential`` (``Σ_s max(O[i, s], b_s H[i, s])``),
    ``unmet`` (``potential − observed``) and ``unmet_per_1000`` households. Benchmarks
    are in ``.attrs['benchmarks']``.

    Notes
    -----
    A segment that already beats its benchmark in an area contributes nothing: unmet
    demand is never negative, and an area's surplus in one segment does not offset a
    shortfall in another. Unclassified households and events are left out.
    """
    bench = segment_benchmarks(households, counts, percentile, min_households=min_households)
    h, o = _aligned(households, counts)
    if segments is not None:
        unknown = sorted(set(segments) - set(h.columns))
        if unknown:
            raise InvalidRequest(
                f"`segments` has {unknown} but is expected to hold segment codes among {sorted(h.columns)}"
            )
        h, o, bench = h[list(segments)], o[list(segments)], bench[list(segments)]
    target = h.to_numpy() * bench.to_numpy()[None, :]
    gap = np.maximum(target - o.to_numpy(), 0.0)
    hh = h.sum(axis=1).to_numpy()
    observed = o.sum(axis=1).to_numpy()
    unmet = gap.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_1000 = np.where(hh > 0, 1000 * unmet / hh, 0.0)
    out = pd.DataFrame(
        {
            "households": hh.astype("int64"),
            "observed": observed,
            "potential": observed + unmet,
            "unmet": unmet,
            "unmet_per_1000": per_1000,
        },
        index=pd.Index(h.index, name="area_code"),
    )
    out.attrs["benchmarks"] = bench.to_dict()
    out.attrs["percentile"] = percentile
    out.attrs["gap_by_segment"] = pd.DataFrame(gap, index=h.index, columns=h.columns)
    return out


def parse_profile(table: Any) -> pd.Series:
    """A propensity profile (segment -> rate per household) from records, a mapping or CSV text.

    Accepted: ``{"A": 0.2, ...}``; ``[{"segment_code": "A", "rate": 0.2}, ...]``; or CSV
    text with a header naming ``segment_code`` (or ``segment``) and ``rate`` columns.
    """
    if isinstance(table, str):
        try:
            frame = pd.read_csv(io.StringIO(table), dtype={"segment_code": str, "segment": str})
        except (ValueError, pd.errors.ParserError) as exc:
            raise InvalidRequest(f"the profile table is not readable CSV: {exc}") from exc
        return _profile_from_frame(frame)
    if isinstance(table, Mapping):
        return check_rates(dict(table))
    if isinstance(table, Iterable):
        return _profile_from_frame(pd.DataFrame(list(table)))
    raise InvalidRequest("the profile is expected to be a mapping, a list of records or CSV text")


def _profile_from_frame(frame: pd.DataFrame) -> pd.Series:
    cols = {c.lower().strip(): c for c in frame.columns}
    seg = cols.get("segment_code") or cols.get("segment")
    rate = cols.get("rate")
    if seg is None or rate is None:
        raise InvalidRequest(
            f"the profile table has columns {list(frame.columns)} but is expected to have "
            "`segment_code` and `rate`"
        )
    if frame[seg].duplicated().any():
        dupes = sorted(frame.loc[frame[seg].duplicated(), seg].astype(str).unique())
        raise InvalidRequest(f"the profile table gives segments {dupes} more than once")
    values = pd.to_numeric(frame[rate], errors="coerce")
    if values.isna().any():
        bad = frame.loc[values.isna(), seg].astype(str).tolist()
        raise InvalidRequest(f"the profile table's `rate` is not a number for segments {bad}")
    return check_rates(pd.Series(values.to_numpy(), index=frame[seg].astype(str).to_numpy()))


def predicted_demand(households: pd.DataFrame, rates: Any, *, level: float = 0.95) -> pd.DataFrame:
    """Predicted use per area from a propensity profile: ``Σ_s H[i, s] × r_s``.

    Parameters
    ----------
    households
        Long frame ``area_code, segment_code, households`` of the target areas.
    rates
        Profile, segment -> rate (see ``parse_profile``).
    level
        Coverage of the Poisson prediction interval.

    Returns
    -------
    DataFrame indexed by ``area_code`` with ``households``, ``predicted``,
    ``predicted_low``, ``predicted_high`` (central Poisson prediction interval: the
    ``(1 ± level)/2`` quantiles of Poisson(predicted)), ``per_1000`` households and
    ``coverage`` (share of the area's households in segments the profile knows; the rest
    get the profile's household-weighted mean rate). The unknown segments are in
    ``.attrs['unknown_segments']``.

    Notes
    -----
    The interval reflects chance variation around the profile's rates only, not the
    uncertainty in the rates themselves nor differences between places.
    """
    profile = check_rates(rates)
    expected = expected_counts(households, profile)
    frame = households.assign(segment_code=households["segment_code"].fillna(UNCLASSIFIED).astype(str))
    hh = frame.groupby("area_code")["households"].sum().astype(float)
    known = frame[frame["segment_code"].isin(profile.index)].groupby("area_code")["households"].sum()
    known = known.reindex(hh.index, fill_value=0).astype(float)
    expected = expected.reindex(hh.index, fill_value=0.0)
    mu = expected.to_numpy()
    tail = (1 - level) / 2
    out = pd.DataFrame(
        {
            "households": hh.astype("int64").to_numpy(),
            "predicted": mu,
            "predicted_low": stats.poisson.ppf(tail, mu),
            "predicted_high": stats.poisson.ppf(1 - tail, mu),
            "per_1000": np.where(hh > 0, 1000 * mu / np.where(hh > 0, hh, 1), 0.0),
            "coverage": np.where(hh > 0, known / np.where(hh > 0, hh, 1), 0.0),
        },
        index=pd.Index(hh.index, name="area_code"),
    )
    unknown = sorted(set(frame["segment_code"]) - set(profile.index) - {UNCLASSIFIED})
    out.attrs["unknown_segments"] = unknown
    return out


def targeting_list(
    households: pd.DataFrame,
    counts: pd.DataFrame,
    target_segments: Sequence[str],
    portraits: pd.DataFrame,
    *,
    percentile: float = 80.0,
    min_households: int = 20,
    top: int | None = 50,
) -> pd.DataFrame:
    """Areas ranked for a campaign: unmet demand among the target segments' households.

    Parameters
    ----------
    households, counts
        Long frames for the areas of one geography.
    target_segments
        Segment codes the campaign is for.
    portraits
        Frame ``segment_code, name, preferred_channels, preferred_media`` (the segment
        table).
    percentile, min_households
        Benchmark definition (``segment_benchmarks``).
    top
        Keep the best ``top`` areas (None: all with unmet demand).

    Returns
    -------
    DataFrame with ``rank``, ``area_code``, ``target_households``, ``observed``,
    ``unmet`` (the score: Σ over target segments of households × benchmark gap),
    ``unmet_per_1000``, ``main_segment`` and its name, ``segments`` (target segments
    present, largest gap first), ``channels`` and ``media`` (the preferred channels and
    media of those segments, ordered by the unmet demand behind them).
    """
    if not target_segments:
        raise InvalidRequest("`segments` is empty but is expected to name at least one target segment")
    unmet = unmet_demand(
        households, counts, percentile, min_households=min_households, segments=list(target_segments)
    )
    gap: pd.DataFrame = unmet.attrs["gap_by_segment"]
    unmet = unmet[unmet["unmet"] > 0].sort_values(["unmet", "households"], ascending=False, kind="stable")
    if top is not None:
        unmet = unmet.head(top)
    gap = gap.loc[unmet.index]
    info = portraits.set_index("segment_code")
    channels = {
        s: list(info.at[s, "preferred_channels"] or []) if s in info.index else [] for s in gap.columns
    }
    media = {s: list(info.at[s, "preferred_media"] or []) if s in info.index else [] for s in gap.columns}
    names = {s: str(info.at[s, "name"]) if s in info.index else s for s in gap.columns}
    # Channel score = the unmet demand of every segment preferring it, so the channel
    # reaching most of the gap comes first (a small loop over segments, not areas).
    all_channels = sorted({c for cs in channels.values() for c in cs})
    all_media = sorted({m for ms in media.values() for m in ms})
    g = gap.to_numpy()

    def ranked(options: list[str], prefs: dict[str, list[str]]) -> list[list[str]]:
        if not options:
            return [[] for _ in range(len(gap))]
        member = np.array([[opt in prefs[s] for opt in options] for s in gap.columns], dtype=float)
        score = g @ member
        order = np.argsort(-score, axis=1, kind="stable")
        return [[options[j] for j in row if score[i, j] > 0] for i, row in enumerate(order)]

    seg_order = np.argsort(-g, axis=1, kind="stable")
    cols = np.asarray(gap.columns)
    segments = [[cols[j] for j in row if g[i, j] > 0] for i, row in enumerate(seg_order)]
    main = [s[0] if s else None for s in segments]
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(unmet) + 1),
            "area_code": unmet.index.to_numpy(),
            "target_households": unmet["households"].to_numpy(),
            "observed": unmet["observed"].to_numpy(),
            "unmet": unmet["unmet"].to_numpy(),
            "unmet_per_1000": unmet["unmet_per_1000"].to_numpy(),
            "main_segment": main,
            "main_segment_name": [names.get(m) if m else None for m in main],
            "segments": segments,
            "channels": ranked(all_channels, channels),
            "media": ranked(all_media, media),
        }
    )
    out.attrs["benchmarks"] = {s: unmet.attrs["benchmarks"][s] for s in gap.columns}
    return out
