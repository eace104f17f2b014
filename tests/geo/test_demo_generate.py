"""Pure tests of the demo borough generator and its raw extracts (no database needed).

A 12,000-household borough keeps them fast; tolerances are stated per test.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo.demo import Borough, generate_borough, raw_extracts
from geo.demo.catalogue import SERVICES, TOUGH_SERVICES
from geo.demo.generate import DEMO_SALT, PERIOD_END, PERIOD_START, household_keys
from geo.text import (
    normalise_address,
    normalise_address_series,
    normalise_postcode,
    normalise_postcode_series,
)

HOUSEHOLDS = 12_000
ONS_LIKE = re.compile(r"^[EWSNK]\d{8}$")


@pytest.fixture(scope="module")
def borough() -> Borough:
    return generate_borough(households=HOUSEHOLDS)


@pytest.fixture(scope="module")
def extracts(borough: Borough) -> dict[str, pd.DataFrame]:
    return raw_extracts(borough)


def _frames(b: Borough) -> dict[str, pd.DataFrame]:
    return {k: v for k, v in vars(b).items() if isinstance(v, pd.DataFrame)}


def _geom(b: Borough) -> pd.Series:
    return b.areas.set_index("code").geometry


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_frames(borough: Borough) -> None:
    again = generate_borough(households=HOUSEHOLDS)
    for name, frame in _frames(borough).items():
        other = getattr(again, name)
        if hasattr(frame, "geometry") and "geom" in frame.columns:
            assert_geodataframe_equal(frame, other, check_less_precise=False)
        else:
            assert_frame_equal(frame, other)
    assert json.dumps(borough.truth, sort_keys=True) == json.dumps(again.truth, sort_keys=True)


def test_different_seed_gives_a_different_borough(borough: Borough) -> None:
    other = generate_borough(households=HOUSEHOLDS, seed=7)
    assert not borough.addresses["geom"].geom_equals(other.addresses["geom"]).all()
    assert borough.truth["services"] != other.truth["services"]


def test_households_parameter_sets_the_count(borough: Borough) -> None:
    assert int(borough.addresses["is_residential"].sum()) == HOUSEHOLDS
    assert borough.truth["households"] == HOUSEHOLDS


# ----------------------------------------------------------------------------- areas


def test_exactly_26_wards_in_one_district(borough: Borough) -> None:
    counts = borough.areas["level"].value_counts()
    assert counts["district"] == 1
    assert counts["ward"] == 26
    assert (borough.areas["set_code"] == "demo").all()
    assert (borough.areas["district_code"] == "ZD000001").all()
    assert set(borough.area_sets["code"]) == {"demo"}


def test_every_area_is_a_valid_multipolygon_with_households(borough: Borough) -> None:
    geoms = borough.areas.geometry
    assert (geoms.geom_type == "MultiPolygon").all()
    assert geoms.is_valid.all()
    assert borough.areas.crs.to_epsg() == 27700
    assert (borough.areas["households"] >= 1).all()
    oa = borough.areas[borough.areas["level"] == "oa"]
    assert oa["households"].between(40, 300).mean() > 0.95  # "ideally 40-300"
    np.testing.assert_allclose(borough.areas["area_km2"], geoms.area / 1e6, atol=1e-6)


@pytest.mark.parametrize("level", ["oa", "lsoa", "ward"])
def test_areas_nest_inside_their_parent(borough: Borough, level: str) -> None:
    geom = _geom(borough)
    children = borough.areas[borough.areas["level"] == level]
    parents = geom[children["parent_code"]].to_numpy()
    leftover = shapely.area(shapely.difference(children.geometry.to_numpy(), parents))
    assert leftover.max() < 1.0  # m2


def test_parent_levels_are_consistent(borough: Borough) -> None:
    a = borough.areas.set_index("code")
    expected_parent_level = {"oa": "lsoa", "lsoa": "ward", "ward": "district"}
    for level, parent_level in expected_parent_level.items():
        parents = a.loc[a["level"] == level, "parent_code"]
        assert (a.loc[parents, "level"] == parent_level).all()


def test_wards_tile_the_district(borough: Borough) -> None:
    wards = borough.areas[borough.areas["level"] == "ward"].geometry.to_numpy()
    district = borough.areas[borough.areas["level"] == "district"].geometry.iloc[0]
    union = shapely.union_all(wards)
    assert abs(union.area - district.area) / district.area < 1e-4
    assert shapely.symmetric_difference(union, district).area / district.area < 1e-4
    left, right = shapely.STRtree(wards).query(wards, predicate="intersects")
    pairs = left < right
    overlaps = shapely.area(shapely.intersection(wards[left[pairs]], wards[right[pairs]]))
    assert overlaps.max(initial=0.0) < 1.0  # m2


def test_households_add_up_through_the_hierarchy(borough: Borough) -> None:
    a = borough.areas
    for level, parent_level in (("oa", "lsoa"), ("lsoa", "ward"), ("ward", "district")):
        sums = a[a["level"] == level].groupby("parent_code")["households"].sum()
        parents = a[a["level"] == parent_level].set_index("code")["households"]
        assert_frame_equal(
            sums.sort_index().to_frame(), parents.sort_index().rename_axis("parent_code").to_frame()
        )
    residential = borough.addresses[borough.addresses["is_residential"]]
    per_oa = residential.groupby("oa_code").size()
    oa = a[a["level"] == "oa"].set_index("code")["households"]
    assert (per_oa.reindex(oa.index, fill_value=0) == oa).all()
    assert int(a.loc[a["level"] == "district", "households"].iloc[0]) == len(residential)
    population = a[a["level"] == "oa"]["population"]
    assert (population >= a[a["level"] == "oa"]["households"]).all()


def test_membership_lists_each_oa_at_every_level(borough: Borough) -> None:
    m = borough.area_membership
    oas = borough.areas[borough.areas["level"] == "oa"]
    assert len(m) == 4 * len(oas)
    assert set(m["level"]) == {"oa", "lsoa", "ward", "district"}
    assert (m[m["level"] == "oa"]["oa_code"] == m[m["level"] == "oa"]["area_code"]).all()
    lsoa = m[m["level"] == "lsoa"].set_index("oa_code")["area_code"]
    assert (lsoa[oas["code"]].to_numpy() == oas["parent_code"].to_numpy()).all()


def test_codes_do_not_look_like_ons_codes(borough: Borough) -> None:
    codes = pd.concat([borough.areas["code"], borough.area_membership["area_code"]])
    assert not codes.str.match(ONS_LIKE.pattern).any()
    assert codes.str.match(r"^Z[DWLO]\d{6}$").all()
    assert borough.postcodes["postcode_norm"].str.startswith("QW").all()


# ----------------------------------------------------------------------------- gazetteer


def test_every_address_lies_in_its_oa(borough: Borough) -> None:
    geom = _geom(borough)
    addr = borough.addresses
    assert shapely.intersects(geom[addr["oa_code"]].to_numpy(), addr.geometry.to_numpy()).all()


def test_about_15_addresses_per_postcode_each_in_one_oa(borough: Borough) -> None:
    addr = borough.addresses
    per_postcode = addr.groupby("postcode_norm").size()
    assert 12 <= per_postcode.mean() <= 18
    assert (addr.groupby("postcode_norm")["oa_code"].nunique() == 1).all()
    pc = borough.postcodes.set_index("postcode_norm")
    assert set(pc.index) == set(per_postcode.index)
    first_oa = addr.groupby("postcode_norm")["oa_code"].first()
    assert (pc.loc[first_oa.index, "oa_code"] == first_oa).all()
    assert (pc["postcode"].str.replace(" ", "") == pc.index).all()


def test_uprns_and_address_norms_are_unique_and_consistent(borough: Borough) -> None:
    addr = borough.addresses
    assert addr["uprn"].is_unique
    assert addr["uprn"].min() == 990_000_000_001
    assert addr["address_norm"].is_unique
    sample = addr.sample(500, random_state=0)
    joined = (
        sample["saon"].fillna("") + " " + sample["paon"] + " " + sample["street"] + " " + sample["postcode"]
    )
    assert (normalise_address_series(joined) == sample["address_norm"]).all()
    assert addr["saon"].dropna().str.match(r"^Flat \d+$").all()


def test_house_name_aliases_point_at_numbered_houses(borough: Borough) -> None:
    aliases = borough.address_aliases
    assert len(aliases) > 0
    addr = borough.addresses.set_index("uprn")
    target = addr.loc[aliases["uprn"]]
    assert target["paon"].str.fullmatch(r"\d+").all()
    assert (aliases["alias_norm"] == normalise_address_series(aliases["alias_norm"])).all()


# ----------------------------------------------------------------------------- segments


def test_twelve_segments_each_present_and_clustered(borough: Borough) -> None:
    hs = borough.household_segments
    assert set(hs["segment_code"]) == set("ABCDEFGHIJKL")
    assert len(borough.segments) == 12
    assert borough.segments["colour"].str.match(r"^#[0-9A-F]{6}$").all()
    assert borough.segments["colour"].is_unique
    addr = borough.addresses.set_index("uprn")
    mix = pd.crosstab(
        addr.loc[hs["uprn"], "oa_code"].to_numpy(), hs["segment_code"].to_numpy(), normalize="index"
    )
    # Clustered: the typical OA's top segment holds far more than the 1/12 a random mix gives.
    assert mix.max(axis=1).median() > 0.25


# ----------------------------------------------------------------------------- roads, sites


def test_road_network_is_one_connected_component_near_every_address(borough: Borough) -> None:
    links, nodes = borough.road_links, borough.road_nodes
    ids = nodes["id"].to_numpy()
    assert set(links["source"]) | set(links["target"]) <= set(ids)
    pos = {v: i for i, v in enumerate(ids.tolist())}
    src = np.array([pos[v] for v in links["source"].tolist()])
    dst = np.array([pos[v] for v in links["target"].tolist()])
    n, _ = connected_components(
        coo_matrix((np.ones(len(src)), (src, dst)), shape=(len(ids), len(ids))), directed=False
    )
    assert n == 1
    assert set(links["road_class"]) == {"a_road", "b_road", "street", "lane"}
    np.testing.assert_allclose(links["cost_s"], links["length_m"] / (links["speed_kph"] / 3.6), atol=0.01)
    tree = shapely.STRtree(links.geometry.to_numpy())
    _, dist = tree.query_nearest(borough.addresses.geometry.to_numpy(), return_distance=True)
    assert dist.max() < 60.0  # m


def test_three_existing_offices_and_about_sixty_venues(borough: Borough) -> None:
    sites = borough.sites
    offices = sites[sites["kind"] == "office"]
    assert len(offices) == 3 and offices["is_existing"].all()
    candidates = sites[~sites["is_existing"]]
    assert 50 <= len(candidates) <= 70
    assert set(candidates["kind"]) == {"library", "community_centre", "surgery", "school"}
    addr = borough.addresses.set_index("uprn")
    assert (~addr.loc[sites["uprn"], "is_residential"]).all()
    assert set(sites["road_node"]) <= set(borough.road_nodes["id"])


# ----------------------------------------------------------------------------- services


def test_at_least_six_services_with_their_channels(borough: Borough) -> None:
    assert len(borough.services) >= 6
    channels = set(borough.channels["code"])
    for row in borough.services.itertuples():
        assert set(row.channels) <= channels
    costs = borough.channels.set_index("code")["unit_cost_gbp"]
    assert costs["phone"] / costs["web"] == 4 and costs["face_to_face"] / costs["web"] == 12


def test_planted_clusters_exist_are_contiguous_and_separate(borough: Borough) -> None:
    oas = borough.areas[borough.areas["level"] == "oa"].set_index("code").geometry
    for code, truth in borough.truth["services"].items():
        assert len(truth["hot"]) >= 3 and len(truth["not"]) >= 3, code
        seen: set[str] = set()
        for kind, low, high in (("hot", 2.0, 3.0), ("not", 0.2, 0.4)):
            for cluster in truth[kind]:
                members = cluster["oa_codes"]
                assert 4 <= len(members) <= 8
                assert low <= cluster["multiple"] <= high
                assert set(members) <= set(oas.index)
                assert not seen & set(members), f"{code}: an OA is in two clusters"
                seen |= set(members)
                g = oas[members].buffer(0.05).to_numpy()
                a, b = shapely.STRtree(g).query(g, predicate="intersects")
                n, _ = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(len(g), len(g))))
                assert n == 1, f"{code}: cluster {members} is not contiguous"


def test_events_are_clean_truth_at_household_addresses(borough: Borough) -> None:
    ev = borough.service_events
    addr = borough.addresses.set_index("uprn")
    at = addr.loc[ev["uprn"]]
    assert at["is_residential"].all()
    assert (at["oa_code"].to_numpy() == ev["oa_code"].astype(str).to_numpy()).all()
    assert (ev["match_level"] == "uprn").all() and ev["is_primary"].all()
    dates = pd.to_datetime(ev["event_date"])
    assert dates.min() >= pd.Timestamp(PERIOD_START) and dates.max() <= pd.Timestamp(PERIOD_END)
    assert (household_keys(ev["uprn"].to_numpy()[:5], DEMO_SALT) == ev["household_key"].to_numpy()[:5]).all()
    allowed = {s.code: set(s.channels) for s in (*SERVICES, *TOUGH_SERVICES)}
    every = {**borough.truth["services"], **borough.truth["tough_services"]}
    for code, group in ev.groupby("service_code", observed=True):
        assert set(group["channel"].astype(str)) <= allowed[code]
        assert every[code]["events"] == len(group)
    membership = {s.code for s in SERVICES if s.unit == "membership"}
    members = ev[ev["service_code"].isin(membership)]
    assert not members.duplicated(["service_code", "uprn"]).any()


def test_truth_is_json_and_rates_match_the_catalogue(borough: Borough) -> None:
    truth = json.loads(json.dumps(borough.truth))
    for spec in SERVICES:
        rates = truth["services"][spec.code]["rates"]
        assert [rates[c] for c in "ABCDEFGHIJKL"] == list(spec.rates)
    assert abs(sum(truth["segments"].values()) - 1) < 1e-5
    assert len(truth["offices"]) == 3


def test_tough_services_leave_the_first_services_draws_alone(borough: Borough, monkeypatch) -> None:
    from geo.demo import generate

    monkeypatch.setattr(generate, "_tough_services", lambda *args: ([], {}))
    without = generate_borough(households=HOUSEHOLDS)
    tough = borough.service_events["service_code"].isin([s.code for s in TOUGH_SERVICES]).to_numpy()
    first = borough.service_events[~tough].reset_index(drop=True)
    assert len(first) == len(without.service_events)
    for column in ("uprn", "event_date", "channel", "source_system", "source_ref_hash", "oa_code"):
        assert (
            first[column].astype(str).to_numpy() == without.service_events[column].astype(str).to_numpy()
        ).all()
    assert_frame_equal(borough.extract_plan, without.extract_plan)
    assert borough.truth["services"] == without.truth["services"]
    assert borough.truth["extracts"] == without.truth["extracts"]


def test_tough_truth_is_planted_as_described(borough: Borough) -> None:
    tough = borough.truth["tough_services"]
    ev = borough.service_events
    oas = borough.areas[borough.areas["level"] == "oa"]["code"].tolist()
    # fly_tipping: OA counts vary far more than Poisson around their segment-rate expectation.
    hs = borough.household_segments.merge(borough.addresses[["uprn", "oa_code"]], on="uprn")
    rates = pd.Series(tough["fly_tipping"]["rates"])
    expected = hs.assign(r=hs["segment_code"].map(rates)).groupby("oa_code")["r"].sum().reindex(oas)
    observed = (
        ev[ev["service_code"] == "fly_tipping"]
        .groupby("oa_code", observed=True)
        .size()
        .reindex(oas, fill_value=0)
    )
    z2 = ((observed - expected) ** 2 / expected).mean()
    assert z2 > 1.5, z2  # Poisson gives about 1; the gamma multiple adds tau2 * E on average
    # social_care: rates are the need rates but for the under-served segment.
    care = tough["social_care"]
    seg = care["under_served"]["segment_code"]
    assert care["rates"][seg] == care["need_rates"][seg] * care["under_served"]["share_of_need"]
    assert all(care["rates"][k] == v for k, v in care["need_rates"].items() if k != seg)
    seen: set[str] = set()
    for kind in ("hot", "not"):
        for cluster in care[kind]:
            assert not seen & set(cluster["oa_codes"])
            seen |= set(cluster["oa_codes"])
            assert cluster["detectable"] == (cluster["strength"] == "strong")
    # pest_control: the planted monthly multiples are visible in the raw events.
    pest = ev[ev["service_code"] == "pest_control"]
    month = pd.to_datetime(pest["event_date"]).dt.to_period("M").astype(str)
    for k in ("emerging", "fading"):
        group = tough["pest_control"][k][0]
        m = pd.Series(group["multiple_by_month"])
        inside = pest["oa_code"].astype(str).isin(group["oa_codes"]).to_numpy()
        share = pd.Series(inside).groupby(month.to_numpy()).mean()
        assert share[m[m > 1].index].mean() > 2 * share[m[m == 1].index].mean(), k


# ----------------------------------------------------------------------------- extracts


def test_extracts_carry_personal_columns_to_drop(extracts: dict[str, pd.DataFrame]) -> None:
    assert {"council_crm", "police_incidents", "fire_hfsv", "council_revenues"} <= set(extracts)
    for name, frame in extracts.items():
        assert "Full Name" in frame.columns, name
        assert {"Telephone", "Email", "Date of Birth", "Notes"} & set(frame.columns), name
    assert extracts["council_crm"]["Telephone"].str.startswith("07700 900").all()


def test_planted_extract_rows_are_listed_in_truth(
    borough: Borough, extracts: dict[str, pd.DataFrame]
) -> None:
    truth = borough.truth["extracts"]
    refs: dict[str, str] = {}
    for system, frame in extracts.items():
        column = truth["systems"][system]["ref_column"]
        assert len(frame) == truth["systems"][system]["rows"]
        refs.update(dict.fromkeys(frame[column].tolist(), system))
    for kind in ("outside_district", "unparseable"):
        assert truth[kind] and set(truth[kind]) <= set(refs)
    assert truth["duplicates"] and truth["malformed"] and truth["postcode_only"]
    for item in truth["malformed"] + truth["postcode_only"]:
        assert item["ref"] in refs
    uprns = set(borough.addresses["uprn"])
    assert {m["uprn"] for m in truth["malformed"]} <= uprns
    assert {m["kind"] for m in truth["malformed"]} >= {
        "typo",
        "missing_number",
        "house_name",
        "case_punctuation",
    }
    gazetteer = set(borough.postcodes["postcode_norm"])
    crm = extracts["council_crm"].set_index("Case Ref")
    outside = [r for r in truth["outside_district"] if r in crm.index]
    assert not set(normalise_postcode_series(crm.loc[outside, "Postcode"]).dropna()) & gazetteer


def test_duplicates_share_address_and_date_within_a_day(
    borough: Borough, extracts: dict[str, pd.DataFrame]
) -> None:
    crm = extracts["council_crm"].set_index("Case Ref")
    police = extracts["police_incidents"].set_index("Incident No")
    by_system = defaultdict(list)
    for pair in borough.truth["extracts"]["duplicates"]:
        assert set(pair["systems"]) == {"council_crm", "police_incidents"}
        a, b = pair["refs"]
        c, p = (a, b) if pair["systems"][0] == "council_crm" else (b, a)
        by_system["pairs"].append((c, p))
    for c, p in by_system["pairs"][:50]:
        crm_date = pd.to_datetime(crm.loc[c, "Date Logged"], format="%d/%m/%Y", errors="coerce")
        police_date = pd.to_datetime(police.loc[p, "Reported"], format="%Y-%m-%d %H:%M", errors="coerce")
        if pd.notna(crm_date) and pd.notna(police_date):
            assert abs((crm_date - police_date.normalize()).days) <= 1


def test_extract_dates_use_each_systems_format(extracts: dict[str, pd.DataFrame]) -> None:
    crm = extracts["council_crm"]["Date Logged"]
    assert crm.str.fullmatch(r"\d{2}/\d{2}/\d{4}").mean() > 0.98
    fire = extracts["fire_hfsv"]["Visit Date"]
    assert fire.str.fullmatch(r"\d{4}-\d{2}-\d{2}").mean() > 0.98


# ----------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Flat 2, 14 Coronation St., Saltmouth  qw1 2ab", "FLAT 2 14 CORONATION ST SALTMOUTH QW12AB"),
        ("St Mary's Road", "ST MARYS ROAD"),
        ("Fish & Chip Shop", "FISH AND CHIP SHOP"),
        (None, ""),
    ],
)
def test_normalise_address(raw: str | None, expected: str) -> None:
    assert normalise_address(raw) == expected
    assert normalise_address_series(pd.Series([raw], dtype=object)).iloc[0] == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("qw1 2ab", "QW12AB"), (" QW12 3XY ", "QW123XY"), ("N/A", None), (None, None)]
)
def test_normalise_postcode(raw: str | None, expected: str | None) -> None:
    assert normalise_postcode(raw) == expected
    assert normalise_postcode_series(pd.Series([raw], dtype=object)).iloc[0] == expected


# ----------------------------------------------------------------------------- size floor


def test_too_small_a_borough_is_refused_up_front_naming_the_minimum() -> None:
    from geo.demo.generate import MIN_HOUSEHOLDS

    with pytest.raises(ValueError, match=f"at least {MIN_HOUSEHOLDS:,} households"):
        generate_borough(households=MIN_HOUSEHOLDS - 1)


@pytest.mark.slow
def test_the_smallest_accepted_borough_plants_every_cluster() -> None:
    from geo.demo.generate import MIN_HOUSEHOLDS

    small = generate_borough(households=MIN_HOUSEHOLDS)
    assert small.truth["households"] == MIN_HOUSEHOLDS
    for code, truth in small.truth["services"].items():
        assert len(truth["hot"]) >= 3 and len(truth["not"]) >= 3, code


def test_cli_refuses_a_small_borough_before_touching_the_database(capsys: pytest.CaptureFixture[str]) -> None:
    from geo.cli import main
    from geo.demo.generate import MIN_HOUSEHOLDS

    # No DATABASE_URL is needed: the size is checked before any connection is made.
    assert main(["demo", "load", "--households", "5000"]) == 2
    err = capsys.readouterr().err
    assert "5,000" in err and f"{MIN_HOUSEHOLDS:,}" in err
