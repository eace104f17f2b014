"""Digital exclusion in channel shift: recomputed from a plain SQL recount of the contacts."""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import text

from geo.analysis.channels import service_years, unit_costs
from geo.analysis.exclusion import digital_exclusion
from geo.errors import InvalidRequest

CLASSIFICATION = "wardwise12"
SERVICE = "housing_benefit"


def _contacts(conn) -> list[tuple[str | None, str, str, int]]:
    """(segment, service, channel, contacts) for primary located events on contact channels."""
    return [
        (r[0], r[1], r[2], int(r[3]))
        for r in conn.execute(
            text(
                """
                SELECT hs.segment_code, e.service_code, e.channel, count(*)
                FROM service_event e
                JOIN channel c ON c.code = e.channel AND c.kind = 'contact'
                LEFT JOIN household_segment hs ON hs.uprn = e.uprn AND hs.classification_code = :c
                WHERE e.is_primary AND e.oa_code IS NOT NULL
                GROUP BY 1, 2, 3
                """
            ),
            {"c": CLASSIFICATION},
        ).all()
    ]


@pytest.mark.parametrize(("share", "assisted_pct", "max_index"), [(50, 100, 80), (30, 60, 90)])
def test_exclusion_matches_a_hand_recount(conn, share, assisted_pct, max_index) -> None:
    rows = _contacts(conn)
    total = defaultdict(int)
    web = defaultdict(int)
    for seg, _svc, channel, n in rows:
        if seg is None:
            continue
        total[seg] += n
        web[seg] += n if channel == "web" else 0
    overall = sum(web.values()) / sum(total.values())
    index = {s: 100 * web[s] / total[s] / overall for s in total}
    low = sorted(s for s, i in index.items() if round(i) < max_index)
    costs = unit_costs(conn, SERVICE)
    years = service_years(conn, SERVICE)
    gross = net = assisted = 0.0
    for seg, svc, channel, n in rows:
        if svc != SERVICE or channel not in ("face_to_face", "phone"):
            continue
        moved = n * share / 100 / years
        gross += moved * (costs[channel] - costs["web"])
        a = moved * assisted_pct / 100 if seg in low else 0.0
        assisted += a
        net += moved * (costs[channel] - costs["web"]) - a * (costs["face_to_face"] - costs["web"])

    result = digital_exclusion(
        conn,
        SERVICE,
        share_pct=share,
        assisted_pct=assisted_pct,
        max_web_index=max_index,
        classification=CLASSIFICATION,
    )
    assert result["low_web_segments"] == low
    assert low, "the demo plants segments that rarely use the web"
    assert result["annual_saving_without_exclusion_gbp"] == pytest.approx(gross, abs=0.01)
    assert result["annual_saving_with_exclusion_gbp"] == pytest.approx(net, abs=0.01)
    assert result["assisted_contacts_per_year"] == pytest.approx(assisted, abs=0.05)
    assert result["annual_saving_with_exclusion_gbp"] < result["annual_saving_without_exclusion_gbp"]
    segs = result["segments"].set_index("segment")
    for s in total:
        assert segs.at[s, "web_index"] == round(index[s])
        assert bool(segs.at[s, "low_web"]) == (s in low)
    # low-web segments lean on face to face and phone
    assert (
        segs.loc[low, "offline_share_pct"].min()
        > segs.loc[~segs.index.isin(low), "offline_share_pct"].median()
    )
    # the per-area table adds up to the totals
    areas = result["areas"]
    assert areas["saving_with_exclusion_gbp"].sum() == pytest.approx(net, abs=0.01 * len(areas))
    assert set(result["low_web_areas"]) == set(areas.loc[areas["low_web"], "area_code"])


def test_no_assistance_means_no_difference(conn) -> None:
    result = digital_exclusion(conn, SERVICE, share_pct=40, assisted_pct=0, classification=CLASSIFICATION)
    assert result["annual_saving_with_exclusion_gbp"] == result["annual_saving_without_exclusion_gbp"]
    assert result["assisted_contacts_per_year"] == 0


def test_bad_requests_name_the_field(conn) -> None:
    with pytest.raises(InvalidRequest, match="from_channels"):
        digital_exclusion(conn, SERVICE, share_pct=10, from_channels=["pigeon"])
    with pytest.raises(InvalidRequest, match="share_pct"):
        digital_exclusion(conn, SERVICE, share_pct=140)
    with pytest.raises(InvalidRequest, match="from_channels"):
        digital_exclusion(conn, SERVICE, share_pct=10, from_channels=["web"])
