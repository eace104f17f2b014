"""Survey results by segment and area with confidence intervals, and the perception gap.

The perception gap sets what residents fear against what is recorded: areas where fear
of crime is significantly above the district's while recorded crime is significantly
below it (reassurance work is needed), and the reverse (under-reporting, or residents
who have stopped noticing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2
from sqlalchemy import Connection, text

from geo.analysis.couse import wilson_interval
from geo.analysis.data import (
    check_classification,
    check_public_within,
    households_by_area_segment,
    service_counts_by_area_segment,
)
from geo.analysis.matrix import area_names, disclose_columns
from geo.analysis.propensity import round_half_away, round_ratio_half_away
from geo.analysis.services import default_classification
from geo.areas import resolve_geography
from geo.db import load_sql
from geo.disclosure import DisclosurePolicy, perturbed_cells
from geo.errors import InvalidRequest, NotFound

SurveyBy = Literal["segment", "area"]


def check_survey(conn: Connection, survey: str, question: str) -> list[str]:
    """Return the answers given to the question, or raise NotFound naming what exists."""
    known = conn.execute(
        text("SELECT DISTINCT question FROM survey_response WHERE survey_code = :s ORDER BY question"),
        {"s": survey},
    ).scalars()
    questions = list(known)
    if not questions:
        raise NotFound(f"`survey` was {survey!r} but no responses to it are loaded")
    if question not in questions:
        raise NotFound(f"`question` was {question!r} but survey {survey!r} asks {questions}")
    return list(
        conn.execute(
            text(
                "SELECT DISTINCT answer FROM survey_response "
                "WHERE survey_code = :s AND question = :q ORDER BY answer"
            ),
            {"s": survey, "q": question},
        ).scalars()
    )


def survey_answers(
    conn: Connection,
    survey: str,
    question: str,
    classification: str,
    level: str,
    within: str | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Responses per ``area_code, segment_code, answer`` (column ``responses``); with ``seed``
    (a public policy's record-key seed) also ``key_sum``, the cell's sum of response keys."""
    check_classification(conn, classification)
    check_survey(conn, survey, question)
    geography = resolve_geography(conn, level)
    rows = conn.execute(
        load_sql("analysis/survey_answers"),
        {
            "survey": survey,
            "question": question,
            "classification": classification,
            "level": geography.level,
            "set_code": geography.set_code,
            "within": within,
            "seed": seed,
        },
    ).all()
    frame = pd.DataFrame(rows, columns=["area_code", "segment_code", "answer", "responses", "key_sum"])
    if seed is None:
        frame = frame.drop(columns="key_sum")
    return frame.astype({"responses": "int64"})


def answer_shares(
    answers: pd.DataFrame, by: str, positive: Sequence[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Share of respondents giving each answer (or any of ``positive``) per group, with Wilson CIs.

    Parameters
    ----------
    answers
        ``<by>, answer, responses``.
    by
        Grouping column (``segment_code`` or ``area_code``).
    positive
        If given, one row per group: the share giving any of these answers.

    Returns
    -------
    ``group, answer, responses, respondents, pct, ci_low_pct, ci_high_pct`` with a
    ``Total`` group over everyone; percentages to 2 decimals, half away from zero.

    Notes
    -----
    ``pct = 100 × responses / respondents``; the interval is Wilson's score interval (see
    :func:`geo.analysis.couse.wilson_interval`), which behaves at small samples and near
    0 or 100 % where the normal approximation does not.
    """
    frame = answers.dropna(subset=[by]).copy()
    frame = pd.concat([frame, answers.assign(**{by: "Total"})], ignore_index=True)
    if positive is not None:
        frame["answer"] = np.where(frame["answer"].isin(list(positive)), "+".join(positive), "other")
    counts = frame.groupby([by, "answer"])["responses"].sum().reset_index()
    counts["respondents"] = counts.groupby(by)["responses"].transform("sum")
    if positive is not None:
        label = "+".join(positive)
        per_group = counts.groupby(by)["respondents"].first()
        hits = counts[counts["answer"] == label].set_index(by)["responses"]
        counts = pd.DataFrame(
            {
                by: per_group.index,
                "answer": label,
                "responses": hits.reindex(per_group.index, fill_value=0).to_numpy(),
                "respondents": per_group.to_numpy(),
            }
        )
    low, high = wilson_interval(counts["responses"], counts["respondents"], confidence)
    counts["pct"] = round_ratio_half_away(
        100 * counts["responses"].to_numpy(dtype=object), counts["respondents"].to_numpy(dtype=object), 2
    )
    counts["ci_low_pct"] = round_half_away(100 * low, 2)
    counts["ci_high_pct"] = round_half_away(100 * high, 2)
    return counts.rename(columns={by: "group"}).astype({"responses": "int64", "respondents": "int64"})


def survey_results(
    conn: Connection,
    survey: str,
    question: str,
    *,
    by: SurveyBy = "segment",
    classification: str | None = None,
    level: str = "ward",
    within: str | None = None,
    answers: Sequence[str] | None = None,
    policy: DisclosurePolicy | None = None,
) -> pd.DataFrame:
    """Survey results for one question by segment or area, with Wilson intervals.

    For a public caller (``policy``) each group-by-answer count of responses is cell-key
    perturbed before respondents, percentages and intervals are computed from it (a
    ``within`` under the household floor is refused); then the table is protected as a
    two-way table, and small respondent counts are suppressed.
    """
    classification = classification or default_classification(conn)
    seed = policy.seed if policy is not None else None
    if policy is not None:
        check_public_within(conn, policy, classification, within)
    frame = survey_answers(conn, survey, question, classification, level, within, seed)
    column = "segment_code" if by == "segment" else "area_code"
    if policy is not None and seed is not None:
        frame = perturbed_cells(frame, [column, "answer"], "responses", policy)
    table = answer_shares(frame, column, answers)
    if policy is not None:
        derived = ["pct", "ci_low_pct", "ci_high_pct"]
        table = policy.long(table, "group", "answer", "responses", derived)
        table = disclose_columns(table, policy, {"respondents": derived})
    return table


def poisson_ratio_interval(
    observed: Any, expected: Any, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a ratio observed / expected of Poisson counts, × 100.

    Notes
    -----
    ``[χ²(α/2; 2O) / 2, χ²(1-α/2; 2O+2) / 2] / E × 100`` (Garwood, 1936, *Biometrika*
    28:437-442; the standardised-ratio interval of Breslow and Day, 1987, vol. II, §2.3).
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    alpha = 1 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(o > 0, chi2.ppf(alpha / 2, 2 * o) / 2, 0.0) / e * 100
        high = chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2 / e * 100
    return np.where(e > 0, low, np.nan), np.where(e > 0, high, np.nan)


def gap_table(
    fear: pd.DataFrame, crime: pd.DataFrame, households: pd.Series, confidence: float = 0.95
) -> pd.DataFrame:
    """Fear of crime against recorded crime per area, classified into perception gaps.

    Parameters
    ----------
    fear
        ``area_code, fearful, respondents``.
    crime
        ``area_code, events`` of the recorded-crime service.
    households
        Households per area (index ``area_code``).

    Returns
    -------
    Per area: respondents, fearful, ``fear_pct`` with its Wilson interval, ``fear_index``
    (100 × area share / overall share), crime ``events``, ``crime_per_1000`` households,
    ``crime_index`` (observed / expected × 100, expected = households × overall rate) with
    its exact Poisson interval, ``gap`` (log2 of fear_index / crime_index: positive where
    fear outruns crime) and ``perception``: ``"high fear, low crime"`` where the fear
    interval lies above the overall share and the crime interval below 100,
    ``"low fear, high crime"`` for the reverse, else ``"in line"``. Sorted by ``gap``.
    """
    frame = pd.DataFrame({"households": households}).rename_axis("area_code").reset_index()
    frame = frame.merge(fear, on="area_code", how="left").merge(crime, on="area_code", how="left")
    frame[["fearful", "respondents", "events"]] = frame[["fearful", "respondents", "events"]].fillna(0)
    frame = frame.astype(
        {"fearful": "int64", "respondents": "int64", "events": "int64", "households": "int64"}
    )
    overall_fear = frame["fearful"].sum() / frame["respondents"].sum()
    overall_rate = frame["events"].sum() / frame["households"].sum()
    low, high = wilson_interval(frame["fearful"], frame["respondents"], confidence)
    frame["fear_pct"] = round_ratio_half_away(
        100 * frame["fearful"].to_numpy(dtype=object), frame["respondents"].to_numpy(dtype=object), 2
    )
    frame["fear_ci_low_pct"] = round_half_away(100 * low, 2)
    frame["fear_ci_high_pct"] = round_half_away(100 * high, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        fear_index = 100 * (frame["fearful"] / frame["respondents"]) / overall_fear
    expected = frame["households"] * overall_rate
    c_low, c_high = poisson_ratio_interval(frame["events"], expected, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        crime_index = 100 * frame["events"] / expected
    frame["fear_index"] = round_half_away(fear_index, 0)
    frame["crime_per_1000"] = round_ratio_half_away(
        1000 * frame["events"].to_numpy(dtype=object), frame["households"].to_numpy(dtype=object), 2
    )
    frame["crime_index"] = round_half_away(crime_index, 0)
    frame["crime_ci_low"] = round_half_away(c_low, 0)
    frame["crime_ci_high"] = round_half_away(c_high, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.log2(fear_index.clip(lower=1) / crime_index.clip(lower=1))
    frame["gap"] = round_half_away(gap, 2)
    high_fear = low > overall_fear
    low_fear = high < overall_fear
    frame["perception"] = np.select(
        [high_fear & (c_high < 100), low_fear & (c_low > 100)],
        ["high fear, low crime", "low fear, high crime"],
        "in line",
    )
    frame.loc[frame["respondents"] == 0, "perception"] = "no responses"
    return frame.sort_values(["gap", "area_code"], ascending=[False, True], ignore_index=True)


def perception_gap(
    conn: Connection,
    survey: str,
    question: str,
    fearful_answers: Sequence[str],
    crime_service: str,
    *,
    level: str = "ward",
    classification: str | None = None,
    policy: DisclosurePolicy | None = None,
) -> pd.DataFrame:
    """Where fear of crime (a survey question) and recorded crime (a service) disagree, by area.

    See :func:`gap_table`; each area also carries its name. For a public caller
    (``policy``) the fearful and all responses per area are cell-key perturbed (recorded
    events and households are by their loaders) before any rate, index or gap is computed,
    and then small counts of respondents and of recorded events are suppressed.
    """
    classification = classification or default_classification(conn)
    known = check_survey(conn, survey, question)
    unknown = [a for a in fearful_answers if a not in known]
    if unknown or not fearful_answers:
        raise InvalidRequest(f"`answer` was {list(fearful_answers)!r} but is expected to be among {known}")
    seed = policy.seed if policy is not None else None
    answers = survey_answers(conn, survey, question, classification, level, seed=seed)
    fearful = answers["answer"].isin(list(fearful_answers))
    answers["fearful"] = np.where(fearful, answers["responses"], 0)
    fear = answers.groupby("area_code")[["fearful", "responses"]].sum().reset_index()
    fear = fear.rename(columns={"responses": "respondents"})
    if policy is not None and seed is not None:
        keys = answers.assign(fearful_key=np.where(fearful, answers["key_sum"], 0))
        keys = keys.groupby("area_code")[["fearful_key", "key_sum"]].sum()
        fear["fearful"] = policy.perturb(fear["fearful"], keys["fearful_key"].reindex(fear["area_code"]))
        fear["respondents"] = policy.perturb(fear["respondents"], keys["key_sum"].reindex(fear["area_code"]))
        fear["fearful"] = np.minimum(fear["fearful"], fear["respondents"])
    geography = resolve_geography(conn, level)
    crime = service_counts_by_area_segment(conn, crime_service, geography, classification, unit="events")
    crime = crime.groupby("area_code")["target"].sum().rename("events").reset_index()
    households = (
        households_by_area_segment(conn, geography, classification).groupby("area_code")["households"].sum()
    )
    table = gap_table(fear, crime, households)
    names = {a["code"]: a["name"] for a in area_names(conn, table["area_code"].tolist())}
    table.insert(1, "area_name", table["area_code"].map(names))
    if policy is not None:
        fear_cols = ["fear_pct", "fear_ci_low_pct", "fear_ci_high_pct", "fear_index", "gap"]
        table = disclose_columns(
            table,
            policy,
            {
                "fearful": fear_cols,
                "respondents": fear_cols,
                "events": ["crime_per_1000", "crime_index", "gap"],
            },
        )
    return table
