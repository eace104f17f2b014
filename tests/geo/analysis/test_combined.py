"""Combined hot spots: weighted Stouffer's z recomputed by hand from scipy's Poisson tails."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geo.analysis.combined import combine_hot_spots, combined_hot_spots, protect_combined
from geo.analysis.hotspot_outputs import HotspotParams, hotspot_table
from geo.disclosure import DisclosurePolicy
from geo.errors import InvalidRequest

CLASSIFICATION = "wardwise12"
SERVICES = ["asb_reports", "fire_hsv", "housing_benefit"]


def _z_by_hand(o: float, e: float) -> float:
    """Signed z of the two-sided exact Poisson test, written out with scipy's tails."""
    if e <= 0:
        return 0.0
    p = min(1.0, 2 * min(stats.poisson.cdf(o, e), stats.poisson.sf(o - 1, e)))
    p = max(p, 1e-300)
    return math.copysign(stats.norm.isf(p / 2), o - e) if o != e else 0.0


def _bh_by_hand(p: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values by the textbook step-up loop."""
    n = len(p)
    order = sorted(range(n), key=lambda i: p[i])
    q = [0.0] * n
    running = 1.0
    for rank in range(n, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * n / rank)
        q[i] = running
    return q


def test_stouffer_on_a_hand_example() -> None:
    # Two services, two areas; area X hot in both, area Y hot in one and cold in the other.
    def frame(obs: list[float], exp: list[float], p: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "area_code": ["X", "Y"],
                "name": ["X", "Y"],
                "households": [100, 100],
                "observed": obs,
                "expected": exp,
                "p_value": p,
            }
        )

    frames = {"a": frame([30, 20], [10, 10], [0.01, 0.05]), "b": frame([25, 5], [10, 10], [0.002, 0.2])}
    out = combine_hot_spots(frames, {"a": 2, "b": 1}).set_index("area_code")
    za = [stats.norm.isf(0.005), stats.norm.isf(0.025)]
    zb = [stats.norm.isf(0.001), -stats.norm.isf(0.1)]
    expected = [(2 * za[i] + zb[i]) / math.sqrt(5) for i in range(2)]
    assert out["z"].tolist() == pytest.approx(expected)
    assert out.at["X", "contributing"][0]["service"] == "a"  # 2 x 2.58 > 1 x 3.09
    assert [c["service"] for c in out.at["Y", "contributing"]] == ["a"]  # b pulls the other way
    terms = [c["contribution"] for c in out.at["X", "contributing"]]
    assert sum(terms) == pytest.approx(out.at["X", "z"])
    with pytest.raises(InvalidRequest, match="at least two"):
        combine_hot_spots({"a": frames["a"]})
    with pytest.raises(InvalidRequest, match="weights"):
        combine_hot_spots(frames, {"a": -1, "b": 1})
    with pytest.raises(InvalidRequest, match="weights"):
        combine_hot_spots(frames, {"c": 1})


def test_combined_hot_spots_recomputed_from_each_service(conn) -> None:
    weights = {"asb_reports": 2.0, "fire_hsv": 1.0, "housing_benefit": 0.5}
    # The recomputation below is the exact Poisson test: ask for it (dispersion="none").
    out = combined_hot_spots(
        conn, SERVICES, level="lsoa", weights=weights, classification=CLASSIFICATION, dispersion="none"
    ).set_index("area_code")
    # Each service's own answer, from the public hot-spot function.
    singles = {
        s: hotspot_table(
            conn, HotspotParams(service=s, level="lsoa", classification=CLASSIFICATION, dispersion="none")
        ).set_index("area_code")
        for s in SERVICES
    }
    norm = math.sqrt(sum(w * w for w in weights.values()))
    codes = sorted(out.index)
    combined = []
    for code in codes:
        z = sum(
            weights[s] * _z_by_hand(singles[s].at[code, "observed"], singles[s].at[code, "expected"])
            for s in SERVICES
        )
        combined.append(z / norm)
    assert out.loc[codes, "z"].to_numpy() == pytest.approx(np.array(combined), abs=1e-6)
    p = [2 * stats.norm.sf(abs(z)) for z in combined]
    q = _bh_by_hand(p)
    want = [
        "hot" if qi <= 0.05 and z > 0 else "not" if qi <= 0.05 and z < 0 else "as_expected"
        for qi, z in zip(q, combined, strict=True)
    ]
    assert out.loc[codes, "class"].tolist() == want
    assert {"hot", "not"} <= set(want)
    for code in codes:
        terms = {c["service"]: c["contribution"] for c in out.at[code, "contributing"]}
        assert all(np.sign(t) == np.sign(out.at[code, "z"]) for t in terms.values())


def test_combined_hot_spots_find_the_planted_clusters(conn, truth) -> None:
    """A combined-hot OA has a planted-hot service among its contributors (precision >= 0.8),
    and OAs planted hot for any service have a positive combined z."""
    out = combined_hot_spots(conn, SERVICES, level="oa", classification=CLASSIFICATION).set_index("area_code")
    planted: dict[str, set[str]] = {}
    for s in SERVICES:
        for cluster in truth["services"][s]["hot"]:
            for oa in cluster["oa_codes"]:
                planted.setdefault(oa, set()).add(s)
    hot = out.index[out["class"] == "hot"]
    assert len(hot) > 0
    right = [
        oa for oa in hot if oa in planted and planted[oa] & {c["service"] for c in out.at[oa, "contributing"]}
    ]
    assert len(right) / len(hot) >= 0.8
    # A planted OA is hot for one service and null for the others, so its combined z
    # leans positive (Stouffer dilutes a single-service effect by sqrt(3): recall is not
    # the point here, direction is).
    assert np.mean([out.at[oa, "z"] > 0 for oa in planted if oa in out.index]) >= 0.9


def test_public_callers_get_no_z_from_small_counts(conn) -> None:
    out = combined_hot_spots(conn, SERVICES, level="oa", classification=CLASSIFICATION)
    public = protect_combined(out, DisclosurePolicy())
    for s in SERVICES:
        small = (out[f"observed__{s}"] >= 1) & (out[f"observed__{s}"] <= 4)
        assert (public.loc[small, f"observed__{s}"] == "<5").all()
        assert public.loc[small, f"z__{s}"].isna().all()
        assert public.loc[small, "z"].isna().all() and public.loc[small, "class"].isna().all()
