"""Anonymise at the door: personal columns found by name and by content; identifiers hashed."""

from __future__ import annotations

import hashlib

import pandas as pd

from geo.ingest.anonymise import find_personal_columns, salted_hashes, scrub_free_text


def _frame() -> pd.DataFrame:
    n = 40
    return pd.DataFrame(
        {
            "Case Ref": [f"CRM-{i:07d}" for i in range(n)],
            "Caller": ["Jane Smith", "Tomasz Nowak", "Aisha Khan", "Peter Brown"] * 10,  # names, by content
            "Contact": ["07700 900123", "+44 7700 900456", "01632 960001", "07700900789"] * 10,  # phones
            "x1": ["jane.smith@example.com"] * n,  # e-mail, by content
            "ref2": ["QQ 12 34 56 C", "AB123456D"] * 20,  # NI numbers
            "DOB": ["01/02/1950"] * n,  # by name
            "Comments": ["Caller reports youths gathering and shouting late at night again"] * n,
            "Address": ["14 Coronation Street, Saltmouth"] * n,
            "Postcode": ["QW1 2AB"] * n,
        }
    )


def test_personal_columns_are_found_by_name_and_content() -> None:
    dropped = find_personal_columns(
        _frame(),
        mapped={"source_ref": "Case Ref", "address": "Address", "postcode": "Postcode"},
        explicit=[],
    )
    reasons = {d.column: d.reason for d in dropped}
    assert set(reasons) == {"Caller", "Contact", "x1", "ref2", "DOB", "Comments"}
    assert reasons["Caller"] == "personal names"
    assert reasons["Contact"] == "UK phone numbers"
    assert reasons["x1"] == "e-mail addresses"
    assert reasons["ref2"] == "National Insurance numbers"
    assert reasons["DOB"] == "date of birth column"
    assert reasons["Comments"] == "free-text notes column"


def test_mapped_address_is_kept_and_explicit_drops_are_honoured() -> None:
    dropped = find_personal_columns(
        _frame()[["Case Ref", "Address", "Postcode"]],
        mapped={"address": "Address", "postcode": "Postcode"},
        explicit=["case ref"],
    )
    assert [(d.column, d.reason) for d in dropped] == [("Case Ref", "listed in the mapping's `drop`")]


def test_salted_hashes_follow_the_stated_formula_and_depend_on_the_salt() -> None:
    refs = pd.Series(["CRM-1", "CRM-2", "CRM-1", "", None])
    hashed = salted_hashes(refs, "s3cret", "council_crm")
    assert hashed[0] == hashlib.sha256(b"s3cret:council_crm:CRM-1").hexdigest()
    assert hashed[0] == hashed[2] and hashed[0] != hashed[1]
    assert hashed[3] is None and hashed[4] is None
    assert salted_hashes(refs, "other", "council_crm")[0] != hashed[0]
    assert salted_hashes(refs, "s3cret", "police")[0] != hashed[0]


def test_phone_numbers_and_emails_inside_an_address_are_scrubbed() -> None:
    s = pd.Series(["14 Coronation St, call 07700 900123", "2 Mill Lane jo@example.com QW1 2AB"])
    out = scrub_free_text(s).tolist()
    assert "07700" not in out[0] and "14 Coronation St" in out[0]
    assert "@" not in out[1] and "QW1 2AB" in out[1]
