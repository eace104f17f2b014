"""Test data factories: deterministic synthetic data the demo borough does not have."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

SURVEY = "residents_survey_test"
ASB_QUESTION = "police and council deal successfully with anti-social behaviour"
FEAR_QUESTION = "how worried are you about crime in your area"

#: P(agree) with the ASB question per segment (A..L): the planted truth of the survey.
AGREE_BY_SEGMENT = dict(
    zip("ABCDEFGHIJKL", (0.35, 0.62, 0.50, 0.66, 0.55, 0.30, 0.22, 0.58, 0.48, 0.28, 0.64, 0.45), strict=True)
)
#: Fear of crime: P(worried) in ordinary wards, in the planted "high fear, low crime" wards
#: and in the planted "low fear, high crime" wards.
FEAR_BASE, FEAR_HIGH, FEAR_LOW = 0.30, 0.75, 0.05


def synthetic_survey(
    conn: Connection, *, sample: float = 0.25, seed: int = 7, crime_service: str
) -> dict[str, Any]:
    """Insert a deterministic residents' survey into ``survey_response`` (in the caller's transaction).

    A ``sample`` share of the demo's classified households answer two questions:
    agreement that anti-social behaviour is dealt with (probability by segment,
    ``AGREE_BY_SEGMENT``) and worry about crime, planted against recorded crime: the three
    wards with the lowest ``crime_service`` rate per household worry a lot (``FEAR_HIGH``),
    the three with the highest hardly at all (``FEAR_LOW``), the rest at ``FEAR_BASE``.

    Returns the planted truth: ``{"high_fear_wards", "low_fear_wards", "respondents"}``.
    """
    households = pd.DataFrame(
        conn.execute(
            text(
                """
                SELECT ad.uprn, ad.oa_code, hs.segment_code, m.area_code AS ward_code
                FROM address ad
                JOIN household_segment hs ON hs.uprn = ad.uprn
                JOIN area_membership m ON m.oa_code = ad.oa_code AND m.level = 'ward'
                WHERE ad.is_residential
                ORDER BY ad.uprn
                """
            )
        ).all(),
        columns=["uprn", "oa_code", "segment_code", "ward_code"],
    )
    rates = pd.DataFrame(
        conn.execute(
            text(
                """
                SELECT m.area_code AS ward_code, count(e.id)::float / max(a.households) AS rate
                FROM area a
                JOIN area_membership m ON m.area_code = a.code
                LEFT JOIN service_event e ON e.oa_code = m.oa_code AND e.service_code = :s AND e.is_primary
                WHERE a.level = 'ward' AND a.households > 0
                GROUP BY m.area_code
                ORDER BY rate, m.area_code
                """
            ),
            {"s": crime_service},
        ).all(),
        columns=["ward_code", "rate"],
    )
    high_fear = list(rates["ward_code"].head(3))
    low_fear = list(rates["ward_code"].tail(3))
    rng = np.random.default_rng(seed)
    chosen = households[rng.random(len(households)) < sample].reset_index(drop=True)
    agree_p = chosen["segment_code"].map(AGREE_BY_SEGMENT).to_numpy()
    fear_p = np.where(
        chosen["ward_code"].isin(high_fear),
        FEAR_HIGH,
        np.where(chosen["ward_code"].isin(low_fear), FEAR_LOW, FEAR_BASE),
    )
    agree = np.where(rng.random(len(chosen)) < agree_p, "agree", "disagree")
    worried = np.where(rng.random(len(chosen)) < fear_p, "very or fairly worried", "not worried")
    rows = [
        {"q": question, "a": answer, "uprn": int(u), "oa": oa}
        for question, answers in ((ASB_QUESTION, agree), (FEAR_QUESTION, worried))
        for answer, u, oa in zip(answers, chosen["uprn"], chosen["oa_code"], strict=True)
    ]
    conn.execute(
        text(
            "INSERT INTO survey_response (survey_code, question, answer, uprn, match_level, oa_code) "
            "VALUES (:survey, :q, :a, :uprn, 'uprn', :oa)"
        ),
        [{**r, "survey": SURVEY} for r in rows],
    )
    return {"high_fear_wards": high_fear, "low_fear_wards": low_fear, "respondents": len(chosen)}
