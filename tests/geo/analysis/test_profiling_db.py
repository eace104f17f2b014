"""Propensity, matrices, aggregates, profiles and the segments catalogue on the demo borough."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from geo.analysis.aggregates import aggregates_fresh, refresh_aggregates
from geo.analysis.data import households_by_area_segment, service_counts_by_area_segment
from geo.analysis.matrix import service_matrix
from geo.analysis.profile import area_profile, take_up
from geo.analysis.propensity import TOTAL, propensity_table
from geo.analysis.report import area_report
from geo.analysis.segments import segment_catalogue
from geo.analysis.services import ServiceFilter, natural_unit, service_propensity
from geo.areas import Geography
from geo.disclosure import DisclosurePolicy
from geo.errors import InvalidRequest, UnknownArea, UnknownService

CLASSIFICATION = "wardwise12"


def _planted_oas(spec: dict) -> set[str]:
    return {oa for kind in ("hot", "not") for cluster in spec[kind] for oa in cluster["oa_codes"]}


def test_propensity_indices_recover_planted_segment_rates(conn, truth) -> None:
    """The true index 100 x rate_s / (household-weighted mean rate) lies in the interval.

    Planted hot and not spots multiply the rate in a few OAs, shifting observed indices of
    the segments living there; those OAs are left out. With 7 services x 12 segments at
    95%, about 4 misses are expected by chance: we require at least 90% coverage at 95%
    and every true index inside the 99.9% interval.
    """
    households = households_by_area_segment(conn, Geography("oa"), CLASSIFICATION)
    hits = wide_hits = n = 0
    for service, spec in truth["services"].items():
        planted = _planted_oas(spec)
        target = service_counts_by_area_segment(
            conn, service, Geography("oa"), CLASSIFICATION, unit=natural_unit(conn, service)
        )
        base = households[~households.area_code.isin(planted)].groupby("segment_code")["households"].sum()
        used = target[~target.area_code.isin(planted)].groupby("segment_code")["target"].sum()
        counts = pd.DataFrame(
            {
                "segment": base.index,
                "target": used.reindex(base.index, fill_value=0).values,
                "base": base.values,
            }
        )
        rates = pd.Series(spec["rates"]).reindex(base.index)
        true_index = 100 * rates / ((rates * base).sum() / base.sum())
        table = propensity_table(counts, total=False).set_index("segment")
        wide = propensity_table(counts, total=False, confidence=0.999).set_index("segment")
        hits += int(((table.ci_low <= true_index) & (true_index <= table.ci_high)).sum())
        wide_hits += int(((wide.ci_low <= true_index) & (true_index <= wide.ci_high)).sum())
        n += len(table)
    assert n == 12 * len(truth["services"])
    assert hits >= 0.9 * n
    assert wide_hits == n


def test_service_propensity_totals_match_the_borough(conn, truth) -> None:
    service = next(iter(truth["services"]))
    result = service_propensity(conn, service, CLASSIFICATION)
    rows = result["rows"].set_index("segment")
    households = conn.execute(
        text("SELECT count(*) FROM household_segment WHERE classification_code = :c"), {"c": CLASSIFICATION}
    ).scalar()
    assert rows.loc[TOTAL, "base"] == households
    assert rows.loc[TOTAL, "target"] == rows.drop(TOTAL)["target"].sum()
    assert result["unit"] == natural_unit(conn, service)
    # base shares of the segments add to 100 within rounding (12 rows x 0.005)
    assert abs(rows.drop(TOTAL)["base_pct"].sum() - 100) <= 0.06


def test_propensity_filters_narrow_the_count(conn) -> None:
    everything = service_propensity(conn, "asb_reports", CLASSIFICATION)["rows"]
    web = service_propensity(conn, "asb_reports", CLASSIFICATION, ServiceFilter(channel="web"))["rows"]
    year = service_propensity(
        conn,
        "asb_reports",
        CLASSIFICATION,
        ServiceFilter(date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 12, 31)),
    )["rows"]
    ward = conn.execute(text("SELECT code FROM area WHERE level = 'ward' ORDER BY code LIMIT 1")).scalar()
    local = service_propensity(conn, "asb_reports", CLASSIFICATION, ServiceFilter(within=ward))["rows"]
    total = everything.iloc[-1]["target"]
    assert 0 < web.iloc[-1]["target"] < total
    assert 0 < year.iloc[-1]["target"] < total
    assert (
        local.iloc[-1]["base"]
        == conn.execute(text("SELECT households FROM area WHERE code = :c"), {"c": ward}).scalar()
    )
    households = service_propensity(conn, "asb_reports", CLASSIFICATION, ServiceFilter(unit="households"))[
        "rows"
    ]
    assert households.iloc[-1]["target"] < total  # some households report more than once


def test_unknown_codes_are_named(conn) -> None:
    with pytest.raises(UnknownService, match="nope"):
        service_propensity(conn, "nope", CLASSIFICATION)
    with pytest.raises(UnknownArea, match="ZZ"):
        service_propensity(conn, "asb_reports", CLASSIFICATION, ServiceFilter(within="ZZ"))
    with pytest.raises(InvalidRequest, match="date_from"):
        service_propensity(
            conn,
            "asb_reports",
            CLASSIFICATION,
            ServiceFilter(date_from=dt.date(2026, 1, 2), date_to=dt.date(2026, 1, 1)),
        )


def test_public_propensity_hides_small_counts_in_a_small_area(conn) -> None:
    oa = conn.execute(text("SELECT code FROM area WHERE level = 'oa' ORDER BY code LIMIT 1")).scalar()
    officer = service_propensity(conn, "fire_hsv", CLASSIFICATION, ServiceFilter(within=oa))["rows"]
    public = service_propensity(
        conn, "fire_hsv", CLASSIFICATION, ServiceFilter(within=oa), policy=DisclosurePolicy()
    )["rows"]
    small = officer["target"].between(1, 4).to_numpy()
    assert small.any(), "the first OA should have some segment with 1-4 fire visits"
    assert (public.loc[small, "target"] == "<5").all()
    assert public.loc[small, "index"].isna().all()
    hidden = public["target"].map(lambda v: isinstance(v, str)).to_numpy()[:-1]
    assert hidden.sum() != 1  # never a single hidden segment next to a published total


def test_aggregates_give_the_same_answers_as_the_events(conn) -> None:
    cases = [
        {"unit": "events"},
        {"unit": "households"},
        {"unit": "events", "channel": "web"},
        {"unit": "events", "date_from": dt.date(2025, 1, 1), "date_to": dt.date(2025, 6, 30)},
        {"unit": "households", "date_from": dt.date(2025, 1, 1)},  # not summable: falls back
        {"unit": "events", "date_from": dt.date(2025, 1, 15)},  # cuts a month: falls back
    ]
    geographies = [Geography("ward"), Geography("oa")]

    def answers() -> list[pd.DataFrame]:
        households = [
            households_by_area_segment(conn, g, CLASSIFICATION, within=w)
            for g in geographies
            for w in (None, "ZD000001")
        ]
        return households + [
            service_counts_by_area_segment(conn, s, g, CLASSIFICATION, **case)
            .sort_values(["area_code", "segment_code"], na_position="first")
            .reset_index(drop=True)
            for s in ("asb_reports", "bus_pass")
            for case in cases
            for g in geographies
        ]

    if aggregates_fresh(conn):
        conn.execute(text("UPDATE data_version SET version = version + 1 WHERE name = 'aggregates'"))
    assert not aggregates_fresh(conn)
    from_events = answers()
    refresh_aggregates(conn)
    assert aggregates_fresh(conn)
    from_aggregates = answers()
    for raw, fast in zip(from_events, from_aggregates, strict=True):
        pd.testing.assert_frame_equal(raw, fast)
    # any write to the events makes them stale again: no stale answer is ever served
    conn.execute(
        text("UPDATE service_event SET channel = channel WHERE id = (SELECT min(id) FROM service_event)")
    )
    assert not aggregates_fresh(conn)


def test_ward_matrix_totals_match_the_borough_and_the_propensity_table(conn) -> None:
    matrix = service_matrix(conn, "ward", CLASSIFICATION, "asb_reports")
    cells = matrix["cells"]
    wards = conn.execute(text("SELECT count(*) FROM area WHERE level = 'ward'")).scalar()
    assert len(matrix["areas"]) == wards and len(matrix["segments"]) == 12
    assert len(cells) == (wards + 1) * 13
    grand = cells[(cells.area_code == TOTAL) & (cells.segment == TOTAL)].iloc[0]
    inner = cells[(cells.area_code != TOTAL) & (cells.segment != TOTAL)]
    assert grand.households == inner.households.sum()
    assert grand.target == inner.target.sum()
    table = service_propensity(conn, "asb_reports", CLASSIFICATION)["rows"].set_index("segment")
    cols = cells[cells.area_code == TOTAL].set_index("segment")
    assert (cols["target"] == table["target"]).all() and (cols["households"] == table["base"]).all()
    assert (cols.drop(TOTAL)["index"] == table.drop(TOTAL)["index"]).all()


def test_custom_set_and_households_only_matrix(conn) -> None:
    lsoa = service_matrix(conn, "lsoa", CLASSIFICATION)
    assert lsoa["service"] is None and lsoa["cells"]["index"].isna().all()
    grand = lsoa["cells"].iloc[-1]
    assert grand.households == conn.execute(text("SELECT count(*) FROM household_segment")).scalar()
    with pytest.raises(InvalidRequest, match="`level`"):
        service_matrix(conn, "county", CLASSIFICATION)


def test_profile_expectations_add_up_to_the_district(conn) -> None:
    """Σ over wards of expected = Σ_s H_s × r_s = the district's observed use, exactly."""
    hh = households_by_area_segment(conn, Geography("ward"), CLASSIFICATION)
    target = service_counts_by_area_segment(
        conn, "library_membership", Geography("ward"), CLASSIFICATION, unit="households"
    )
    h = hh.dropna(subset=["segment_code"]).groupby("segment_code").households.sum()
    t = target.dropna(subset=["segment_code"]).groupby("segment_code").target.sum()
    up = take_up(hh, target, t / h)
    assert up["expected"].sum() == pytest.approx(up["observed"].sum(), abs=0.05 * len(up))
    assert up["observed"].sum() == t.sum()


def test_profile_of_a_ward(conn) -> None:
    ward = conn.execute(
        text("SELECT code, name, households FROM area WHERE level = 'ward' ORDER BY households DESC LIMIT 1")
    ).one()
    profile = area_profile(conn, ward.code, CLASSIFICATION)
    assert profile["area"]["code"] == ward.code
    assert sum(s["households"] for s in profile["segments"]) == ward.households
    assert abs(sum(s["pct"] for s in profile["segments"]) - 100) <= 0.06
    services = {s["service"] for s in profile["services"]}
    assert services == set(conn.execute(text("SELECT code FROM service")).scalars())
    assert abs(sum(c["share_pct"] for c in profile["channels"]) - 100) <= 0.1
    # neighbours are wards that share a boundary, and the parent is the district
    assert profile["neighbours"], "a ward in a tiling of the district has neighbours"
    touching = set(
        conn.execute(
            text(
                "SELECT n.code FROM area a JOIN area n ON n.level = 'ward' AND n.code <> a.code AND ST_Touches(n.geom, a.geom) WHERE a.code = :c"
            ),
            {"c": ward.code},
        ).scalars()
    )
    assert {n["code"] for n in profile["neighbours"]} == touching
    assert profile["parent"]["level"] == "district"
    assert ward.name in profile["pen_portrait"] and f"{ward.households:,}" in profile["pen_portrait"]
    top = max(profile["segments"], key=lambda s: s["households"])
    assert top["name"] in profile["pen_portrait"]


def test_profile_flags_a_planted_hot_spot(conn, truth) -> None:
    """In the strongest planted hot spot, take-up is well above what the mix predicts."""
    spec = truth["services"]["asb_reports"]
    cluster = max(spec["hot"], key=lambda c: c["multiple"])
    hh = households_by_area_segment(conn, Geography("oa"), CLASSIFICATION)
    target = service_counts_by_area_segment(conn, "asb_reports", Geography("oa"), CLASSIFICATION)
    h = hh.dropna(subset=["segment_code"]).groupby("segment_code").households.sum()
    t = target.dropna(subset=["segment_code"]).groupby("segment_code").target.sum()
    up = take_up(hh, target, t / h).set_index("area_code").loc[cluster["oa_codes"]]
    # pooled observed / expected is near the planted multiple (tolerance 35%: the district
    # rates that set expectations include the hot spots themselves)
    assert up["observed"].sum() / up["expected"].sum() == pytest.approx(cluster["multiple"], rel=0.35)
    # and the profile of its largest OA reports it, as take-up and as a key issue
    largest = up["expected"].idxmax()
    profile = area_profile(conn, largest, CLASSIFICATION)
    asb = next(s for s in profile["services"] if s["service"] == "asb_reports")
    assert asb["observed"] == up.loc[largest, "observed"] and asb["ratio"] > 100
    assert any(k["service"] == "asb_reports" for k in profile["key_issues"])


def test_report_is_printable_html_with_escaped_names(conn) -> None:
    ward = conn.execute(text("SELECT code, name FROM area WHERE level = 'ward' ORDER BY code LIMIT 1")).one()
    conn.execute(text("UPDATE area SET name = '<b>Harbour & Quay</b>' WHERE code = :c"), {"c": ward.code})
    html = area_report(conn, ward.code, CLASSIFICATION)
    assert html.startswith("<!doctype html>")
    # styles come from the page's own stylesheet (A4 print set-up there), never inline: the
    # Content-Security-Policy (style-src 'self') would block them
    assert '<link rel="stylesheet" href="/report.css">' in html
    assert "<style" not in html and 'style="' not in html
    css = (Path(__file__).resolve().parents[3] / "frontend_static" / "report.css").read_text(encoding="utf-8")
    assert "@page { size: A4" in css
    assert "&lt;b&gt;Harbour &amp; Quay&lt;/b&gt;" in html and "<b>Harbour" not in html
    assert "Service take-up" in html


def test_segments_catalogue(conn) -> None:
    catalogue = segment_catalogue(conn, CLASSIFICATION)
    assert [s["code"] for s in catalogue] == list("ABCDEFGHIJKL")
    preferred = dict(
        conn.execute(
            text("SELECT code, preferred_channels FROM segment WHERE classification_code = :c"),
            {"c": CLASSIFICATION},
        ).all()
    )
    matrix = service_matrix(conn, "ward", CLASSIFICATION)["cells"]
    for entry in catalogue:
        assert entry["preferred_channels"] == preferred[entry["code"]]
        assert entry["description"] and entry["key_issues"]
        # the top area has the segment's highest location quotient among areas with >= 20 households
        cells = matrix[
            (matrix.segment == entry["code"]) & (matrix.area_code != TOTAL) & (matrix.households >= 20)
        ]
        assert entry["top_areas"][0]["households_index"] == cells["households_index"].max()
        services = {s["service"]: s for s in entry["services"]}
        table = service_propensity(conn, "asb_reports", CLASSIFICATION)["rows"].set_index("segment")
        assert services["asb_reports"]["index"] == table.loc[entry["code"], "index"]
        assert abs(sum(c["share_pct"] for c in entry["channel_use"]) - 100) <= 0.1


def test_area_level_classification_works_end_to_end(conn) -> None:
    """An OAC-style classification (one segment per output area) gives every OA's households its segment."""
    conn.execute(
        text(
            "INSERT INTO classification (code, name, unit, area_level) VALUES ('oac_test', 'OAC test', 'area', 'oa')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO segment (classification_code, code, name, sort_order) VALUES ('oac_test', '1', 'Odd', 0), ('oac_test', '2', 'Even', 1)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO area_segment (area_code, classification_code, segment_code) "
            "SELECT code, 'oac_test', CASE WHEN right(code, 1)::int % 2 = 1 THEN '1' ELSE '2' END FROM area WHERE level = 'oa'"
        )
    )
    rows = service_propensity(conn, "asb_reports", "oac_test")["rows"].set_index("segment")
    odd = conn.execute(
        text("SELECT sum(households) FROM area WHERE level = 'oa' AND right(code, 1)::int % 2 = 1")
    ).scalar()
    assert rows.loc["1", "base"] == odd
    assert (
        rows.loc[TOTAL, "base"]
        == conn.execute(text("SELECT sum(households) FROM area WHERE level = 'oa'")).scalar()
    )
    catalogue = segment_catalogue(conn, "oac_test")
    assert [s["code"] for s in catalogue] == ["1", "2"] and catalogue[0]["households"] == odd
    profile = area_profile(
        conn,
        conn.execute(text("SELECT code FROM area WHERE level = 'ward' ORDER BY code LIMIT 1")).scalar(),
        "oac_test",
    )
    assert {s["segment"] for s in profile["segments"]} == {"1", "2"}


def test_custom_area_set_propensity_matrix_and_profile(conn) -> None:
    """A custom area (here: a copy of one ward's OAs) works wherever a level does."""
    ward = conn.execute(
        text("SELECT code, households FROM area WHERE level = 'ward' ORDER BY code LIMIT 1")
    ).one()
    conn.execute(text("INSERT INTO area_set (code, name, kind) VALUES ('patch_test', 'Patches', 'custom')"))
    conn.execute(
        text(
            "INSERT INTO area (code, name, level, set_code, district_code, households, geom, geom_3857) "
            "SELECT 'ZC_PATCH1', 'Patch one', 'custom', 'patch_test', district_code, households, geom, geom_3857 "
            "FROM area WHERE code = :w"
        ),
        {"w": ward.code},
    )
    conn.execute(
        text(
            "INSERT INTO area_membership (oa_code, area_code, level, set_code) "
            "SELECT oa_code, 'ZC_PATCH1', 'custom', 'patch_test' FROM area_membership WHERE area_code = :w"
        ),
        {"w": ward.code},
    )
    rows = service_propensity(conn, "asb_reports", CLASSIFICATION, ServiceFilter(area_set="patch_test"))[
        "rows"
    ]
    assert rows.iloc[-1]["base"] == ward.households
    matrix = service_matrix(conn, "patch_test", CLASSIFICATION, "asb_reports")
    assert matrix["level"] == "patch_test" and [a["code"] for a in matrix["areas"]] == ["ZC_PATCH1"]
    ward_matrix = service_matrix(conn, "ward", CLASSIFICATION, "asb_reports")["cells"]
    ward_total = ward_matrix[(ward_matrix.area_code == ward.code) & (ward_matrix.segment == TOTAL)].iloc[0]
    patch_total = matrix["cells"][
        (matrix["cells"].area_code == "ZC_PATCH1") & (matrix["cells"].segment == TOTAL)
    ].iloc[0]
    assert patch_total.target == ward_total.target
    profile = area_profile(conn, "ZC_PATCH1", CLASSIFICATION)
    assert profile["area"]["level"] == "custom" and profile["parent"] is None
    assert sum(s["households"] for s in profile["segments"]) == ward.households
    assert "custom area" in profile["pen_portrait"]
    with pytest.raises(InvalidRequest, match="area_set"):
        service_propensity(conn, "asb_reports", CLASSIFICATION, ServiceFilter(area_set="ward"))
