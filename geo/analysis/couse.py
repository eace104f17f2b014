"""Services used together ("circles of need"): for households using A, who also uses B.

A contact centre handling a household's request for service A can offer the services such
households are most likely to need next: those with the highest lift.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sqlalchemy import Connection, text

from geo.analysis.data import check_service, check_within
from geo.analysis.matrix import disclose_columns
from geo.analysis.propensity import round_half_away, round_ratio_half_away
from geo.db import load_sql
from geo.disclosure import DisclosurePolicy


def wilson_interval(
    successes: object, trials: object, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion, as proportions in [0, 1].

    Notes
    -----
    ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` (Wilson, 1927, "Probable
    inference, the law of succession, and statistical inference", *JASA* 22:209-212;
    recommended over the Wald interval by Brown, Cai and DasGupta, 2001, *Statistical
    Science* 16:101-133). NaN where ``n == 0``.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = float(norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def co_use_table(
    counts: pd.DataFrame, service: str, households: int, confidence: float = 0.95
) -> pd.DataFrame:
    """Share of service A's households also using each other service, with lift.

    Parameters
    ----------
    counts
        ``service_code, users, users_with_a, users_of_a`` (as from ``co_use.sql``): for
        each service B, its distinct household users, how many of them also used A, and
        A's user count.
    service
        Service A.
    households
        All households in the area analysed (the denominator of B's overall rate).

    Returns
    -------
    One row per other service: ``service, users, also_using, share_pct, ci_low_pct,
    ci_high_pct, overall_pct, lift``, highest lift first.

    Notes
    -----
    ``share = |A ∩ B| / |A|`` (with its Wilson interval), ``overall = |B| / households``
    and ``lift = share / overall = P(B | A) / P(B)``, the association-rule lift (Brin,
    Motwani, Ullman and Tsur, 1997, SIGMOD). A lift of 2 means A's households use B twice
    as often as households in general.
    """
    others = counts[counts["service_code"] != service].copy()
    users_a = int(counts["users_of_a"].max()) if len(counts) else 0
    both = others["users_with_a"].to_numpy(dtype=np.int64)
    low, high = wilson_interval(both, users_a, confidence)
    out = pd.DataFrame(
        {
            "service": others["service_code"].to_numpy(),
            "users": others["users"].to_numpy(dtype=np.int64),
            "also_using": both,
            "share_pct": round_ratio_half_away(100 * both.astype(object), users_a, 2),
            "ci_low_pct": round_half_away(100 * low, 2),
            "ci_high_pct": round_half_away(100 * high, 2),
            "overall_pct": round_ratio_half_away(100 * others["users"].to_numpy(dtype=object), households, 2),
            "lift": round_ratio_half_away(
                both.astype(object) * households, others["users"].to_numpy(dtype=object) * users_a, 2
            ),
        }
    )
    return out.sort_values(["lift", "service"], ascending=[False, True], ignore_index=True)


def services_used_together(
    conn: Connection,
    service: str,
    *,
    within: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    policy: DisclosurePolicy | None = None,
) -> dict[str, Any]:
    """Co-use of every other service by households using ``service`` (see :func:`co_use_table`).

    Returns ``{"service", "users": |A|, "households": all households, "rows": table}``; for
    a public caller (``policy``) every count (users of each service, users of both, users of
    ``service``, households) is cell-key perturbed first and the shares, intervals and lifts
    are computed from the perturbed counts; dates must be whole months and ``within`` must
    hold the household floor; then small counts are suppressed with what derives from them.
    """
    check_service(conn, service)
    check_within(conn, within)
    seed = policy.seed if policy is not None else None
    if policy is not None:
        from geo.analysis.data import check_public_dates, check_public_within

        check_public_dates(policy, date_from, date_to)
        check_public_within(conn, policy, "", within)
    rows = conn.execute(
        load_sql("analysis/co_use"),
        {"service": service, "within": within, "date_from": date_from, "date_to": date_to, "seed": seed},
    ).all()
    counts = pd.DataFrame(
        rows,
        columns=[
            "service_code",
            "users",
            "users_with_a",
            "users_of_a",
            "users_key",
            "with_a_key",
            "of_a_key",
        ],
    )
    households, households_key = conn.execute(
        text(
            """
            SELECT count(*),
                   CASE WHEN CAST(:seed AS bigint) IS NULL THEN 0
                        ELSE coalesce(sum(hashint8extended(ad.uprn, CAST(:seed AS bigint)) & 255), 0) END
            FROM address ad
            WHERE ad.is_residential AND ad.oa_code IS NOT NULL
              AND (CAST(:within AS text) IS NULL OR EXISTS (
                    SELECT 1 FROM area_membership w
                    WHERE w.oa_code = ad.oa_code AND w.area_code = CAST(:within AS text)))
            """
        ),
        {"within": within, "seed": seed},
    ).one()
    if policy is not None and seed is not None:
        for count, key in (
            ("users", "users_key"),
            ("users_with_a", "with_a_key"),
            ("users_of_a", "of_a_key"),
        ):
            counts[count] = policy.perturb(counts[count].to_numpy(), counts[key].to_numpy())
        households = int(policy.perturb([households], [households_key])[0])
        # noise must not make |A and B| exceed |A| or |B| (a share over 100 %)
        both_max = np.minimum(counts["users"].to_numpy(), counts["users_of_a"].to_numpy())
        counts["users_with_a"] = np.minimum(counts["users_with_a"].to_numpy(), both_max)
    counts = counts[["service_code", "users", "users_with_a", "users_of_a"]]
    table = co_use_table(counts, service, int(households))
    users = int(counts["users_of_a"].max()) if len(counts) else 0
    if policy is not None:
        derived = ["share_pct", "ci_low_pct", "ci_high_pct", "lift"]
        table = disclose_columns(table, policy, {"also_using": derived, "users": ["overall_pct", "lift"]})
    return {
        "service": service,
        "users": policy.value(users) if policy else users,
        "households": int(households),
        "rows": table,
    }
