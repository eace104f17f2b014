"""The matching ladder on a small hand-made gazetteer (no database: no record has coordinates)."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.matching.duplicates import duplicate_pairs
from geo.matching.gazetteer import build_gazetteer
from geo.matching.keys import address_keys, place_pattern
from geo.matching.ladder import match_records


@pytest.fixture(scope="module")
def gazetteer():
    rows = [
        # uprn, saon, paon, street, locality, town, postcode, oa
        (1, None, "12", "Coronation Street", None, "Saltmouth", "QW12AB", "OA1"),
        (2, None, "14", "Coronation Street", None, "Saltmouth", "QW12AB", "OA1"),
        (3, "Flat 3", "16", "Coronation Street", None, "Saltmouth", "QW12AB", "OA1"),
        (4, None, "3", "Coronation Street", None, "Saltmouth", "QW12AB", "OA1"),
        (5, None, "1", "Mill Lane", "Ashby Fen", "Brackenham", "QW31CD", "OA2"),
        (6, None, "14", "Coronation Street", None, "Brackenham", "QW39ZZ", "OA3"),
        (7, None, "St Mary's Hall", "Church Road", None, "Saltmouth", "QW12AD", "OA1"),
    ]
    addresses = pd.DataFrame(
        rows, columns=["uprn", "saon", "paon", "street", "locality", "town", "postcode_norm", "oa_code"]
    )
    addresses["x"] = [600_000.0 + 10 * i for i in range(len(rows))]
    addresses["y"] = 250_000.0
    aliases = pd.DataFrame(
        {"uprn": [1], "alias_text": ["The Laurels, Coronation Street, Saltmouth, QW1 2AB"]}
    )
    postcodes = pd.DataFrame(
        {
            "postcode_norm": ["QW12AB", "QW31CD", "QW12XX"],
            "oa_code": ["OA1", "OA2", "OA1"],
            "x": 1.0,
            "y": 2.0,
        }
    )
    lookup = pd.DataFrame(
        {
            "oa_code": ["OA1", "OA2", "OA3"],
            "lsoa_code": ["L1", "L2", "L3"],
            "ward_code": ["W1", "W1", "W2"],
            "district_code": ["D1", "D1", "D1"],
        }
    )
    return build_gazetteer(addresses, aliases, postcodes, lookup)


def _match(gz, records: list[dict]) -> pd.DataFrame:
    return match_records(None, pd.DataFrame(records), gz)


def test_each_rung_of_the_ladder_places_what_it_should(gazetteer) -> None:
    out = _match(
        gazetteer,
        [
            {"uprn": "5", "address": "", "postcode": ""},  # uprn
            {"address": "14 Coronation St., Saltmouth", "postcode": "qw1 2ab"},  # exact after normalising
            {"address": "The Laurels, Coronation Street", "postcode": "QW1 2AB"},  # alias, fuzzy
            {"address": "12 Coronaton Street", "postcode": "QW1 2AB"},  # typo, fuzzy
            {"address": "Coronation Street", "postcode": "QW1 2AB"},  # no number: street
            {"address": "", "postcode": "QW3 1CD"},  # postcode only
            {"address": "1 Nowhere Road", "postcode": "QW1 2XX"},  # postcode centroid
            {"address": "5 High Street", "postcode": "ZZ9 9ZZ"},  # a postcode we do not hold
            {"address": "see notes", "postcode": "TBC"},  # nothing to go on
        ],
    )
    assert out["match_level"].tolist() == [
        "uprn",
        "address",
        "fuzzy",
        "fuzzy",
        "street",
        "postcode",
        "postcode",
        "unmatched",
        "unmatched",
    ]
    assert out["uprn"].tolist()[:4] == [5, 2, 1, 1]
    assert out["oa_code"].tolist()[:7] == ["OA2", "OA1", "OA1", "OA1", "OA1", "OA2", "OA1"]
    assert out["ward_code"].tolist()[:2] == ["W1", "W1"]
    assert out["out_of_area"].tolist() == [False] * 7 + [True, False]


def test_flat_numbers_are_never_taken_for_house_numbers(gazetteer) -> None:
    out = _match(gazetteer, [{"address": "Flat 3, Coronation Street", "postcode": "QW1 2AB"}])
    # '3 Coronation Street' (uprn 4) scores high but is a different property
    assert out["uprn"].isna().all() and out["match_level"].iloc[0] == "street"


def test_without_a_postcode_the_town_disambiguates(gazetteer) -> None:
    out = _match(
        gazetteer,
        [{"address": "14 Coronation Street, Brackenham"}, {"address": "14 Coronation Street"}],
    )
    assert out["uprn"].iloc[0] == 6 and out["match_level"].iloc[0] == "address"
    assert out["match_level"].iloc[1] == "unmatched"  # two towns have one: no guess


def test_districts_filter_marks_other_districts_out_of_area(gazetteer) -> None:
    out = match_records(
        None,
        pd.DataFrame([{"address": "12 Coronation Street", "postcode": "QW1 2AB"}]),
        gazetteer,
        districts=["D9"],
    )
    assert out["out_of_area"].tolist() == [True]


def test_keys_strip_postcodes_and_places_and_spell_out_abbreviations() -> None:
    places = place_pattern(["Saltmouth", "Ashby Fen"])
    keys = address_keys(pd.Series(["Flat 2, 14 Coronation St., Ashby Fen, Saltmouth QW1 2AB"]), places)
    assert keys["key"].iloc[0] == "FLAT 2 14 CORONATION STREET"
    assert keys["postcode"].iloc[0] == "QW12AB"
    assert keys["numbers"].iloc[0] == "F2 14"
    assert keys["full_key"].iloc[0] == "FLAT 2 14 CORONATION STREET ASHBY FEN SALTMOUTH"


def test_same_incident_rule_and_source_priority() -> None:
    events = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "service_code": ["asb"] * 5 + ["bus"],
            "uprn": [10, 10, 10, 11, 10, 10],
            "event_date": [
                "2025-01-01",
                "2025-01-02",
                "2025-01-05",
                "2025-01-01",
                "2025-01-01",
                "2025-01-01",
            ],
            "source_system": [
                "council_crm",
                "police_incidents",
                "council_crm",
                "police",
                "council_crm",
                "police",
            ],
        }
    )
    pairs = duplicate_pairs(events, ["police", "council"], days=1)
    # 1 and 5 (council, same UPRN, within a day of police record 2) point at 2; 3 is four days
    # later (a new incident); 4 is another UPRN; 6 another service; 1 and 5 (same system) never pair.
    assert sorted(map(tuple, pairs.to_numpy().tolist())) == [(1, 2), (5, 2)]
    reversed_priority = duplicate_pairs(events, ["council", "police"], days=1)
    assert sorted(map(tuple, reversed_priority.to_numpy().tolist())) == [(2, 1)]
