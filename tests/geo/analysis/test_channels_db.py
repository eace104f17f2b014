"""Channel mix, unit costs, channel-shift scenarios, web-enable ranking, co-use and surveys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo.analysis.channels import channel_mix, channel_shift, service_years, unit_costs, web_enable_ranking
from geo.analysis.couse import services_used_together
from geo.analysis.survey import perception_gap, survey_results
from geo.disclosure import DisclosurePolicy
from geo.errors import InvalidRequest, NotFound
from tests.factories import AGREE_BY_SEGMENT, ASB_QUESTION, FEAR_QUESTION, SURVEY, synthetic_survey

CLASSIFICATION = "wardwise12"


def test_unit_costs_default_then_service_then_request(conn) -> None:
    defaults = unit_costs(conn)
    assert defaults["phone"] / defaults["web"] == 4 and defaults["face_to_face"] / defaults["web"] == 12
    assert defaults["post"] / defaults["web"] == 12
    assert defaults["direct_debit"] == 0.04 and defaults["post_office"] == 1.44
    conn.execute(
        text("""UPDATE service SET unit_costs = '{"face_to_face": 15.0}' WHERE code = 'housing_benefit'""")
    )
    service = unit_costs(conn, "housing_benefit")
    assert service["face_to_face"] == 15.0 and service["phone"] == defaults["phone"]
    request = unit_costs(
        conn,
        "housing_benefit",
        {"phone": 3.5, "housing_benefit": {"face_to_face": 20}, "bus_pass": {"web": 9}},
    )
    assert request["phone"] == 3.5 and request["face_to_face"] == 20 and request["web"] == defaults["web"]
    with pytest.raises(InvalidRequest, match="unit_costs.phone"):
        unit_costs(conn, None, {"phone": -1})


def test_channel_mix_by_segment_and_area(conn) -> None:
    by_segment = channel_mix(conn, "segment", CLASSIFICATION)
    events = conn.execute(
        text(
            "SELECT count(*) FROM service_event e JOIN household_segment hs ON hs.uprn = e.uprn WHERE e.is_primary AND e.oa_code IS NOT NULL"
        )
    ).scalar()
    assert by_segment["events"].sum() == events
    for _, group in by_segment.groupby("group"):
        assert abs(group["share_pct"].sum() - 100) <= 0.005 * len(group)
    assert np.allclose(by_segment["cost_gbp"], (by_segment["events"] * by_segment["unit_cost_gbp"]).round(2))
    # the planted preferences show: web-first segment H uses the web more than segment I
    contact = by_segment[by_segment.channel.isin(["web", "phone", "face_to_face", "post"])]
    web_share = contact.assign(share=contact.events / contact.groupby("group").events.transform("sum"))
    web_share = web_share[web_share.channel == "web"].set_index("group")["share"]
    assert web_share["H"] > 2 * web_share["I"]
    by_area = channel_mix(conn, "area", CLASSIFICATION, level="ward", service="asb_reports")
    assert set(by_area.channel) <= {"web", "phone", "face_to_face", "unknown"}
    wards = conn.execute(text("SELECT count(*) FROM area WHERE level = 'ward'")).scalar()
    assert by_area["group"].nunique() == wards


def test_public_channel_mix_protects_small_counts(conn) -> None:
    public = channel_mix(
        conn, "area", CLASSIFICATION, level="oa", service="fire_hsv", policy=DisclosurePolicy()
    )
    hidden = public["events"].map(lambda v: isinstance(v, str))
    assert hidden.any()
    assert public.loc[hidden, "share_pct"].isna().all() and public.loc[hidden, "cost_gbp"].isna().all()
    # An area with a single hidden channel count must have a total that is itself small
    # (and so never published): otherwise total minus the rest would reveal it.
    officer = channel_mix(conn, "area", CLASSIFICATION, level="oa", service="fire_hsv")
    totals = officer.groupby("group")["events"].sum()
    single = hidden.groupby(public["group"]).sum() == 1
    assert totals[single[single].index].between(1, 4).all()


def test_channel_shift_saving_and_where(conn) -> None:
    result = channel_shift(
        conn, "housing_benefit", "G", "face_to_face", "web", 50, classification=CLASSIFICATION
    )
    contacts = conn.execute(
        text(
            """
            SELECT count(*) FROM service_event e JOIN household_segment hs ON hs.uprn = e.uprn
            WHERE e.service_code = 'housing_benefit' AND e.is_primary AND e.oa_code IS NOT NULL
              AND e.channel = 'face_to_face' AND hs.segment_code = 'G'
            """
        )
    ).scalar()
    years = service_years(conn, "housing_benefit")
    costs = unit_costs(conn, "housing_benefit")
    assert result["contacts_in_period"] == contacts
    assert result["unit_cost_from_gbp"] == costs["face_to_face"]
    assert result["annual_saving_gbp"] == pytest.approx(
        contacts * 0.5 / years * (costs["face_to_face"] - costs["web"]), abs=0.01
    )
    by_area = result["by_area"]
    assert by_area["contacts_in_period"].sum() == contacts
    assert by_area["annual_saving_gbp"].sum() == pytest.approx(
        result["annual_saving_gbp"], abs=0.01 * len(by_area)
    )
    assert by_area["annual_saving_gbp"].is_monotonic_decreasing
    assert (by_area["segment_households"] > 0).all()
    # a request override changes the answer
    cheaper = channel_shift(
        conn,
        "housing_benefit",
        "G",
        "face_to_face",
        "web",
        50,
        classification=CLASSIFICATION,
        cost_overrides={"face_to_face": 5},
    )
    assert cheaper["annual_saving_gbp"] < result["annual_saving_gbp"]
    with pytest.raises(InvalidRequest, match="to_channel"):
        channel_shift(
            conn, "housing_benefit", "G", "face_to_face", "pigeon", 50, classification=CLASSIFICATION
        )
    with pytest.raises(InvalidRequest, match="segment"):
        channel_shift(conn, "housing_benefit", "Z", "face_to_face", "web", 50, classification=CLASSIFICATION)


def test_web_enable_ranking_scores(conn) -> None:
    ranking = web_enable_ranking(conn, CLASSIFICATION)
    services = set(conn.execute(text("SELECT code FROM service")).scalars())
    assert set(ranking["service"]) == services
    assert ranking["score_gbp"].is_monotonic_decreasing
    recomputed = (
        ranking["non_digital_per_year"]
        * ranking["saving_per_contact_gbp"]
        * ranking["web_ready_share_pct"]
        / 100
    )
    # inputs are rounded for display: allow 1% plus a pound
    assert np.allclose(ranking["score_gbp"], recomputed, rtol=0.01, atol=1.0)
    row = ranking.set_index("service").loc["council_tax_payment"]
    assert row["digital_channel"] == "online_payment"  # payments shift to the payment channel
    assert ranking.set_index("service").loc["asb_reports", "digital_channel"] == "web"


def test_services_used_together_lift(conn) -> None:
    result = services_used_together(conn, "housing_benefit")
    rows = result["rows"].set_index("service")
    users = {
        s: set(
            conn.execute(
                text(
                    "SELECT DISTINCT household_key FROM service_event WHERE service_code = :s AND is_primary AND household_key IS NOT NULL AND oa_code IS NOT NULL"
                ),
                {"s": s},
            ).scalars()
        )
        for s in ("housing_benefit", "free_school_meals", "bus_pass")
    }
    a = users["housing_benefit"]
    assert result["users"] == len(a)
    for b in ("free_school_meals", "bus_pass"):
        both = len(a & users[b])
        assert rows.loc[b, "also_using"] == both
        assert rows.loc[b, "share_pct"] == pytest.approx(100 * both / len(a), abs=0.005)
        assert rows.loc[b, "lift"] == pytest.approx(
            both / len(a) / (len(users[b]) / result["households"]), abs=0.005
        )
    # planted: both benefits concentrate in the same segments (F, G), bus passes elsewhere (B, I)
    assert rows.loc["free_school_meals", "lift"] > 1.5 > 1 > rows.loc["bus_pass", "lift"]
    assert (
        rows.loc["free_school_meals", "ci_low_pct"]
        < rows.loc["free_school_meals", "share_pct"]
        < rows.loc["free_school_meals", "ci_high_pct"]
    )
    assert "housing_benefit" not in rows.index


def test_survey_results_by_segment_recover_planted_agreement(conn) -> None:
    synthetic_survey(conn, crime_service="asb_reports")
    table = survey_results(
        conn, SURVEY, ASB_QUESTION, by="segment", classification=CLASSIFICATION, answers=["agree"]
    )
    rows = table.set_index("group")
    inside = [
        rows.loc[s, "ci_low_pct"] <= 100 * p <= rows.loc[s, "ci_high_pct"]
        for s, p in AGREE_BY_SEGMENT.items()
    ]
    # 12 Wilson 95% intervals: allow one miss by chance
    assert sum(inside) >= 11
    assert rows.loc["Total", "respondents"] == rows.drop("Total")["respondents"].sum()
    every_answer = survey_results(
        conn, SURVEY, ASB_QUESTION, by="area", classification=CLASSIFICATION, level="ward"
    )
    for _, group in every_answer.groupby("group"):
        assert abs(group["pct"].sum() - 100) <= 0.01
    with pytest.raises(NotFound, match="question"):
        survey_results(conn, SURVEY, "no such question", classification=CLASSIFICATION)
    with pytest.raises(NotFound, match="survey"):
        survey_results(conn, "no_such_survey", ASB_QUESTION, classification=CLASSIFICATION)


def test_perception_gap_finds_the_planted_wards(conn) -> None:
    planted = synthetic_survey(conn, crime_service="asb_reports")
    gap = perception_gap(
        conn,
        SURVEY,
        FEAR_QUESTION,
        ["very or fairly worried"],
        "asb_reports",
        level="ward",
        classification=CLASSIFICATION,
    ).set_index("area_code")
    # The planted wards are flagged (others may be too, against the district's average) and
    # they head and close the ranking by gap.
    assert set(planted["high_fear_wards"]) <= set(gap.index[gap.perception == "high fear, low crime"])
    assert set(planted["low_fear_wards"]) <= set(gap.index[gap.perception == "low fear, high crime"])
    assert gap["gap"].is_monotonic_decreasing
    assert set(gap.index[:3]) == set(planted["high_fear_wards"])
    assert set(gap.index[-3:]) == set(planted["low_fear_wards"])
    with pytest.raises(InvalidRequest, match="answer"):
        perception_gap(
            conn, SURVEY, FEAR_QUESTION, ["terrified"], "asb_reports", classification=CLASSIFICATION
        )


def test_public_survey_results_hide_small_groups(conn) -> None:
    synthetic_survey(conn, crime_service="asb_reports", sample=0.01)
    table = survey_results(
        conn,
        SURVEY,
        ASB_QUESTION,
        by="area",
        level="oa",
        classification=CLASSIFICATION,
        policy=DisclosurePolicy(),
    )
    hidden = table["responses"].map(lambda v: isinstance(v, str))
    assert hidden.any()
    assert table.loc[hidden, "pct"].isna().all()
    assert isinstance(pd.DataFrame(table).iloc[0]["group"], str)
