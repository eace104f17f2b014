"""Match keys: addresses reduced to the tokens that identify a property.

Built on :mod:`geo.text`'s normalisation, a match key also drops the postcode and the
town and locality names (a record may or may not carry them; the gazetteer's key never
does), and spells street-type abbreviations out (``ST`` -> ``STREET``). The same
function is applied to the gazetteer and to incoming records, so an abbreviation that is
ambiguous (``ST MARYS ROAD`` becomes ``STREET MARYS ROAD``) is ambiguous identically on
both sides and still compares equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from geo.text import normalise_address_series, normalise_postcode_series

#: Street-type and flat abbreviations a clerk types, spelt out.
ABBREVIATIONS: dict[str, str] = {
    "ST": "STREET",
    "RD": "ROAD",
    "LN": "LANE",
    "CL": "CLOSE",
    "AVE": "AVENUE",
    "AV": "AVENUE",
    "WY": "WAY",
    "DR": "DRIVE",
    "CRES": "CRESCENT",
    "CRESC": "CRESCENT",
    "GDNS": "GARDENS",
    "PL": "PLACE",
    "TER": "TERRACE",
    "TERR": "TERRACE",
    "WLK": "WALK",
    "SQ": "SQUARE",
    "CT": "COURT",
    "GRN": "GREEN",
    "FLT": "FLAT",
    "APT": "FLAT",
    "APARTMENT": "FLAT",
}
_ABBREV_RE = r"\b(" + "|".join(sorted(ABBREVIATIONS, key=len, reverse=True)) + r")\b"
# A compact postcode token anywhere in a normalised address.
_POSTCODE_TOKEN = r"\b[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}\b"
_NUMBER_TOKEN = r"\b[0-9]+[A-Z]?\b"


def place_pattern(places: Iterable[str | None]) -> str | None:
    """A regex matching any of the given town/locality names as whole words."""
    distinct = pd.Series(list(places), dtype=object).dropna().drop_duplicates()
    names = sorted(
        {p for p in normalise_address_series(distinct) if p},
        key=len,
        reverse=True,
    )
    if not names:
        return None
    return r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b"


def match_key_series(addresses: pd.Series, places: str | None = None) -> pd.Series:
    """Return each address's match key (normalised, no postcode or place names, abbreviations spelt out)."""
    return address_keys(addresses, places)["key"]


def _spell_out(s: pd.Series) -> pd.Series:
    s = s.str.replace(_ABBREV_RE, lambda m: ABBREVIATIONS[m.group(1)], regex=True)
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


def address_keys(texts: pd.Series, places: str | None) -> pd.DataFrame:
    """All matching keys of free-text addresses, computed once per distinct text.

    Returns ``key`` (no postcode, no place names), ``full_key`` (place names kept),
    ``postcode`` (the last postcode written in the text, compact, or None), ``numbers``
    and ``street_part``, indexed like ``texts``. Extracts repeat addresses many times,
    so normalising the distinct values and broadcasting back is where the speed is.
    """
    codes, uniques = pd.factorize(texts.astype("string").fillna(""), sort=False)
    norm = pd.Series(normalise_address_series(pd.Series(uniques, dtype=object)), dtype="string")
    found = norm.str.extract(r"(" + _POSTCODE_TOKEN + r")\s*$", expand=False)
    found = found.fillna(norm.str.extract(r"(" + _POSTCODE_TOKEN + r")", expand=False))
    bare = norm.str.replace(_POSTCODE_TOKEN, " ", regex=True)
    full_key = _spell_out(bare)
    key = _spell_out(full_key.str.replace(places, " ", regex=True)) if places else full_key
    key = key.fillna("").astype(object)
    table = pd.DataFrame(
        {
            "key": key,
            "full_key": full_key.fillna("").astype(object),
            "postcode": normalise_postcode_series(found),
            "numbers": numbers_key_series(key),
            "street_part": street_part_series(key),
        }
    )
    out = table.iloc[codes].reset_index(drop=True)
    out.index = texts.index
    return out


def numbers_key_series(keys: pd.Series) -> pd.Series:
    """The house and flat numbers in a match key, in order ('FLAT 2 14 X STREET' -> 'F2 14').

    Flat numbers are marked, so 'Flat 3, Coronation Street' never equals '3 Coronation Street'.
    """
    found = keys.astype("string").str.findall(r"\b(?:FLAT )?[0-9]+[A-Z]?\b").str.join(" ")
    return found.str.replace("FLAT ", "F", regex=False).fillna("").astype(object)


def street_part_series(keys: pd.Series) -> pd.Series:
    """A match key without its numbers and flat words: roughly the house name and street."""
    s = keys.astype("string").str.replace(_NUMBER_TOKEN, " ", regex=True)
    s = s.str.replace(r"\bFLAT\b", " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    return s.fillna("").astype(object)


def postcode_in_text_series(addresses: pd.Series) -> pd.Series:
    """The last postcode written inside free-text addresses (compact), or None."""
    norm = pd.Series(normalise_address_series(addresses), index=addresses.index, dtype="string")
    found = norm.str.extract(r"(" + _POSTCODE_TOKEN + r")\s*$", expand=False)
    found = found.fillna(norm.str.extract(r"(" + _POSTCODE_TOKEN + r")", expand=False))
    return normalise_postcode_series(found)


def sector_series(postcodes: pd.Series) -> pd.Series:
    """The postcode sector of compact postcodes ('QW12AB' -> 'QW1 2')."""
    s = postcodes.astype("string")
    return (s.str[:-3] + " " + s.str[-3]).astype(object)


def outward_series(postcodes: pd.Series) -> pd.Series:
    """The outward code of compact postcodes ('QW12AB' -> 'QW1')."""
    return postcodes.astype("string").str[:-3].astype(object)
