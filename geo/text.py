"""Address and postcode normalisation shared by the gazetteer, the demo and the ingest matcher.

One rule everywhere: an address is compared by its *normalised* form, upper case, with
punctuation turned into spaces and runs of spaces collapsed, and with any postcode in it
written without its space (``'QW1 2AB'`` -> ``'QW12AB'``). The gazetteer's
``address.address_norm`` is ``normalise_address(f"{saon} {paon} {street} {postcode}")``;
a matcher that normalises raw free text the same way can compare token sets directly.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = [
    "POSTCODE_RE",
    "normalise_address",
    "normalise_address_series",
    "normalise_postcode",
    "normalise_postcode_series",
]

# A UK postcode in compact form (no space): outward 2-4 chars, inward digit + 2 letters.
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
# A postcode inside free text, with or without its space, so it can be compacted.
_POSTCODE_IN_TEXT = r"\b([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})\b"
# Apostrophes vanish ("St Mary's" -> "ST MARYS") rather than split a word in two.
_APOSTROPHE = r"[\u2019']"
_NON_ALNUM = r"[^A-Z0-9 ]+"
_SPACES = r"\s+"


def normalise_postcode(text: str | None) -> str | None:
    """Return a postcode upper case without spaces ('qw1 2ab' -> 'QW12AB'), or None if invalid."""
    if text is None:
        return None
    compact = re.sub(r"[^A-Z0-9]", "", str(text).upper())
    return compact if POSTCODE_RE.match(compact) else None


def normalise_postcode_series(values: pd.Series) -> pd.Series:
    """Vectorised :func:`normalise_postcode`; invalid or missing postcodes become None."""
    compact = values.astype("string").str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    valid = compact.str.fullmatch(POSTCODE_RE.pattern).fillna(False).astype(bool)
    out = compact.astype(object)
    out[~valid.to_numpy()] = None
    return out


def normalise_address(text: str | None) -> str:
    """Return an address upper case, punctuation removed, single-spaced, postcode compacted.

    ``'Flat 2, 14 Coronation St., Saltmouth  QW1 2AB'`` -> ``'FLAT 2 14 CORONATION ST SALTMOUTH QW12AB'``.
    Missing input gives ``''``.
    """
    if text is None:
        return ""
    s = str(text).upper().replace("&", " AND ")
    s = re.sub(_APOSTROPHE, "", s)
    s = re.sub(_NON_ALNUM, " ", s)
    s = re.sub(_SPACES, " ", s).strip()
    return re.sub(_POSTCODE_IN_TEXT, r"\1\2", s)


def normalise_address_series(values: pd.Series) -> pd.Series:
    """Vectorised :func:`normalise_address` over a pandas Series (missing values give '')."""
    s = values.astype("string").fillna("").str.upper().str.replace("&", " AND ", regex=False)
    s = s.str.replace(_APOSTROPHE, "", regex=True)
    s = s.str.replace(_NON_ALNUM, " ", regex=True)
    s = s.str.replace(_SPACES, " ", regex=True).str.strip()
    s = s.str.replace(_POSTCODE_IN_TEXT, r"\1\2", regex=True)
    return s.astype(object)
