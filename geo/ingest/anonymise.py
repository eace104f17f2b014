"""Anonymise at the door: find personal columns by name and by content, hash identifiers.

Nothing personal is ever stored. Columns are judged twice: by name (``Surname``,
``Tel``, ``DOB``, ``Notes`` ...) and by content (most sampled values look like e-mail
addresses, UK phone numbers, National Insurance numbers, personal names, or long free
text). A personal column is dropped even when the mapping uses it; the report lists
every dropped column with the reason. Person and case identifiers are kept only as a
keyed SHA-256 (a salt per installation), so records of one person link without the
identifier itself being stored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.ingest.mapping import column_key

#: Column names (compared by column_key) that are personal whatever they hold.
_NAME_RULES: tuple[tuple[str, str], ...] = (
    (r"^(e?mail|emailaddress|contactemail|email\d*)$", "e-mail column"),
    (
        r"^(tel|telephone|phone|phoneno|phonenumber|mobile|mobileno|mobilenumber|contactnumber|landline)\d*$",
        "phone column",
    ),
    (r"^(dob|dateofbirth|birthdate|birthday|dateofbirthddmmyyyy)$", "date of birth column"),
    (
        r"^(ni|nino|ninumber|nationalinsurance|nationalinsurancenumber|nationalinsuranceno)$",
        "National Insurance number column",
    ),
    (
        r"^(name|names|firstname|forename|forenames|givenname|surname|lastname|familyname|fullname|"
        r"middlename|contactname|callername|clientname|customername|residentname|applicantname|"
        r"claimantname|personname|title|initials)$",
        "name column",
    ),
    (
        r"^(notes?|comments?|remarks|narrative|freetext|details|description|casenotes|"
        r"callnotes|officernotes|summary)$",
        "free-text notes column",
    ),
)

# Content patterns, anchored, applied to stripped upper-cased values.
_EMAIL = r"[A-Z0-9._%+\-]+@[A-Z0-9.\-]+\.[A-Z]{2,}"
_UK_PHONE = r"(\+44 ?\(?0?\)?|0)[1-9][0-9 \-]{8,12}"
_NI_NUMBER = r"[A-CEGHJ-PR-TW-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]"
# Two or three capitalised words, as "Jane Smith" or "Mary-Ann O'Neil" (checked before upper-casing).
_PERSON_NAME = (
    r"(MR|MRS|MS|MISS|DR)?\.? ?[A-Z][a-z]+(?:[\-'][A-Za-z]+)?(?: [A-Z][a-z]+(?:[\-'][A-Za-z]+)?){1,2}"
)

# Words that make a capitalised value a place or an organisation, not a person: "Bath
# Central Library", "Ashley Ward", "Avon and Somerset Constabulary", "City of Bristol (B)".
_PLACE_WORDS = (
    r"\b(?:LIBRARY|LIBRARIES|WARD|WARDS|CONSTABULARY|POLICE|FORCE|COUNCIL|AUTHORITY|BOROUGH|DISTRICT|"
    r"COUNTY|CITY|TOWN|VILLAGE|PARISH|DIVISION|REGION|CENTRE|CENTER|HALL|SCHOOL|COLLEGE|ACADEMY|"
    r"UNIVERSITY|HOSPITAL|SURGERY|PRACTICE|CLINIC|CHURCH|TRUST|SERVICE|SERVICES|MOBILE|FIRE|RESCUE|"
    r"STATION|STREET|ROAD|AVENUE|ESTATE|CENTRAL|HOUSING|ASSOCIATION|PARTNERSHIP|LTD|LIMITED|PLC|CIC)\b"
)
# ONS area names and codes: "Bristol 005C" (an LSOA), "Bristol 023" (an MSOA), "E01014485".
_AREA_NAME = r"(?:[A-Z][A-Za-z,'.\- ]+ \d{3}[A-Z]?|[EWSNK]\d{8})"

#: Share of sampled non-empty values that must match before a column is called personal.
CONTENT_SHARE = 0.5
SAMPLE_ROWS = 2_000


@dataclass(frozen=True)
class DroppedColumn:
    """A column removed before anything was stored, and why."""

    column: str
    reason: str


def personal_by_name(column: str) -> str | None:
    """The reason a column's name marks it personal, or None."""
    key = column_key(column)
    for pattern, reason in _NAME_RULES:
        if re.match(pattern, key):
            return reason
    return None


def personal_by_content(values: pd.Series, *, allow_names: bool = True) -> str | None:
    """The reason a column's sampled content marks it personal, or None.

    ``allow_names=False`` skips the personal-name test (for columns mapped to a field
    that legitimately holds capitalised words, such as an address or an area name).
    """
    sample = values.astype("string").str.strip()
    sample = sample[sample.fillna("") != ""].head(SAMPLE_ROWS)
    if sample.empty:
        return None
    upper = sample.str.upper()

    def share(pattern: str, s: pd.Series) -> float:
        return float(s.str.fullmatch(pattern).fillna(False).astype(bool).mean())

    if share(_EMAIL, upper) >= CONTENT_SHARE:
        return "e-mail addresses"
    if share(_UK_PHONE, upper) >= CONTENT_SHARE:
        return "UK phone numbers"
    if share(_NI_NUMBER, upper) >= CONTENT_SHARE:
        return "National Insurance numbers"
    # Any e-mail or phone number inside free text gives it away too.
    if upper.str.contains(_EMAIL, regex=True).fillna(False).astype(bool).mean() >= CONTENT_SHARE:
        return "text containing e-mail addresses"
    # Place and organisation names ("Bath Central Library") look like personal names;
    # free text is judged regardless.
    if allow_names and share(_PERSON_NAME, sample) >= CONTENT_SHARE and not looks_like_places(sample):
        return "personal names"
    words = sample.str.count(" ") + 1
    if allow_names and float(words.mean()) >= 6 and float(sample.str.len().mean()) >= 30:
        return "free text"
    return None


def looks_like_places(values: pd.Series) -> bool:
    """Whether most values are place, organisation or area names (never a person's name).

    Judged on the distinct values: a value is a place if it holds a place or organisation
    word (Library, Ward, Constabulary, Council, City ...) or is an ONS area name or code.
    """
    distinct = pd.Series(values.dropna().astype(str).str.strip().unique(), dtype="string")
    distinct = distinct[distinct != ""]
    if distinct.empty:
        return False
    upper = distinct.str.upper()
    placeish = upper.str.contains(_PLACE_WORDS, regex=True) | distinct.str.fullmatch(_AREA_NAME)
    return float(placeish.fillna(False).astype(bool).mean()) >= CONTENT_SHARE


def find_personal_columns(
    frame: pd.DataFrame,
    *,
    mapped: dict[str, str],
    explicit: list[str],
    check_names: bool = True,
    keep: list[str] | None = None,
) -> list[DroppedColumn]:
    """Return the columns of ``frame`` that hold personal data, with reasons.

    ``mapped`` is target field -> source column; mapped columns are tested by content
    only (a column mapped to ``address`` may look like free text, so names and free
    text are not tested there), unmapped ones by name and content. ``explicit`` lists
    columns the mapping says to drop; ``keep`` lists columns never to drop.
    """
    by_source = {source: target for target, source in mapped.items()}
    explicit_keys = {column_key(c) for c in explicit}
    keep_keys = {column_key(c) for c in keep or []}
    dropped: list[DroppedColumn] = []
    for column in frame.columns:
        if column == getattr(frame, "_geometry_column_name", None):
            continue
        target = by_source.get(column)
        if column_key(column) in explicit_keys:
            dropped.append(DroppedColumn(column, "listed in the mapping's `drop`"))
            continue
        if column_key(column) in keep_keys:
            continue
        reason = None
        if target is None and check_names:
            reason = personal_by_name(column)
        if reason is None:
            textual = target in (None,) and check_names
            reason = personal_by_content(frame[column], allow_names=textual)
        if reason is not None:
            dropped.append(DroppedColumn(column, reason))
    return dropped


def salted_hashes(values: pd.Series, salt: str, namespace: str | pd.Series) -> pd.Series:
    """Keyed SHA-256 hex of each non-empty value; empty values stay missing.

    ``hash = sha256(f"{salt}:{namespace}:{value}")``, the demo generator's formula for
    ``source_ref_hash`` (with the source system as namespace), so a case number and a
    person id with the same text never collide, nor do two systems' references. Each
    distinct value is hashed once: the cost scales with distinct identifiers, not rows.
    """
    text = values.astype("string").str.strip()
    present = (text.notna() & (text != "")).to_numpy()
    out = pd.Series(np.full(len(values), None, dtype=object), index=values.index)
    if not present.any():
        return out
    ns = namespace if isinstance(namespace, pd.Series) else pd.Series(namespace, index=values.index)
    composite = ns.astype("string") + ":" + text
    codes, uniques = pd.factorize(composite[present])
    hashed = np.array(
        [hashlib.sha256(f"{salt}:{v}".encode()).hexdigest() for v in uniques.tolist()], dtype=object
    )
    out[present] = hashed[codes]
    return out


def scrub_free_text(values: pd.Series) -> pd.Series:
    """Remove e-mail addresses and phone numbers embedded in an address field."""
    s = values.astype("string")
    s = s.str.replace(_EMAIL, " ", regex=True, case=False)
    s = s.str.replace(r"(?:\+44 ?|\b0)[1-9][0-9]{2,4}[ \-]?[0-9]{3}[ \-]?[0-9]{3,4}\b", " ", regex=True)
    return s.astype(object)
