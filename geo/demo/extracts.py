"""Raw source-system extracts of the demo events, with planted defects and fake personal data.

The council, police and fire systems each export their own view of the same events:
their own reference, service wording, date format, channel wording, free-text address,
sometimes a UPRN, sometimes coordinates, plus personal columns (``Full Name``,
``Telephone``, ``Email``, ``Date of Birth``, ``Notes``) that an ingest must drop. All
personal values are fake: names from a fixed list, numbers in Ofcom's drama range
(07700 900xxx) and e-mail at example.com.

Which rows carry which defect is decided in :func:`plan_extracts`, called by
``generate_borough`` so the plan and its truth (``truth['extracts']``) are part of the
borough. :func:`raw_extracts` only renders the plan; its ``seed`` drives cosmetic
choices (names, which letter a typo hits), never which rows are planted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from geo.demo import catalogue as cat

if TYPE_CHECKING:
    import geopandas as gpd

    from geo.demo.generate import Borough

__all__ = ["SYSTEMS", "plan_extracts", "raw_extracts"]

# system -> reference prefix, reference column, date format
SYSTEMS: dict[str, dict[str, str]] = {
    "council_crm": {"prefix": "CRM-", "ref_column": "Case Ref", "date_format": "%d/%m/%Y"},
    "police_incidents": {"prefix": "SC/", "ref_column": "Incident No", "date_format": "%Y-%m-%d %H:%M"},
    "fire_hfsv": {"prefix": "HFSV", "ref_column": "Visit ID", "date_format": "%Y-%m-%d"},
    "council_revenues": {"prefix": "REV", "ref_column": "Transaction Ref", "date_format": "%d/%m/%Y"},
    "council_libraries": {"prefix": "LIB", "ref_column": "Borrower No", "date_format": "%d-%b-%Y"},
    "council_education": {"prefix": "EDU", "ref_column": "Application Ref", "date_format": "%Y-%m-%d"},
}
_MALFORMED = ("typo", "missing_number", "case_punctuation", "abbreviation")
P_POSTCODE_ONLY = 0.02
P_MALFORMED = 0.05
P_HOUSE_NAME = 0.5  # of events at an address that has a house-name alias
P_DUPLICATE = 0.04  # of anti-social behaviour reports, also reported to the other body
P_OUTSIDE = 0.005
P_UNPARSEABLE = 0.0015

_CHANNEL_WORDS: dict[str, dict[str, str]] = {
    "council_crm": {"web": "Web form", "phone": "Telephone", "face_to_face": "Walk-in", "post": "Letter"},
    "police_incidents": {
        "web": "Online report",
        "phone": "101 call",
        "face_to_face": "Front counter",
        "post": "Letter",
    },
    "fire_hfsv": {
        "web": "Online referral",
        "phone": "Phone referral",
        "face_to_face": "Partner referral",
        "post": "Letter",
    },
    "council_revenues": {
        "direct_debit": "DD",
        "online_payment": "Web card payment",
        "bank": "BACS",
        "council_cashier": "Cashier",
        "post_office": "PayPoint/PO",
        "web": "Online claim",
        "phone": "Phone",
        "face_to_face": "Counter",
        "post": "Paper form",
    },
    "council_libraries": {"face_to_face": "In branch", "web": "Online"},
    "council_education": {"web": "Online", "phone": "Phone", "post": "Paper"},
}
_SERVICE_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "council_crm": {
        "asb_reports": ("Anti-social behaviour", "ASB report", "Anti Social Behaviour"),
        "bus_pass": ("Concessionary travel - older person", "Bus pass (older person)"),
    },
    "police_incidents": {"asb_reports": ("ASB - Personal", "ASB - Nuisance", "ASB - Environmental")},
    "fire_hfsv": {"fire_hsv": ("Home Fire Safety Visit", "HFSV", "Safe and Well visit")},
    "council_revenues": {
        "council_tax_payment": ("Council Tax Payment", "CTAX PAYMENT"),
        "housing_benefit": ("HB New Claim", "Housing Benefit - new claim"),
    },
    "council_libraries": {"library_membership": ("Adult", "Family", "Junior", "Concession")},
    "council_education": {"free_school_meals": ("Free School Meals", "FSM")},
}
_OUTSIDE_TOWNS = ("Kessingford", "Hallowmere", "Bramfield Cross", "Ipsley Market")
_BAD_DATES = ("31/02/2025", "unknown", "2025-13-45", "", "TBC", "00/00/0000")


# ============================================================================ plan


def plan_extracts(
    events: gpd.GeoDataFrame, addr: gpd.GeoDataFrame, aliases: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, Any], pd.Series]:
    """Decide every extract row: its system, reference and planted defect.

    Returns
    -------
    plan
        One row per extract row: ``source_system, source_ref, kind, event_row`` (-1 for
        rows that are not a clean event), ``service_code, day, channel, uprn``.
    truth
        ``truth['extracts']``: references of each planted kind, the true UPRN of
        malformed rows, and duplicate pairs.
    refs
        The source reference of each event, aligned to ``events``.
    """
    n = len(events)
    day = ((events["event_date"].to_numpy() - np.datetime64("2024-11-01")) // np.timedelta64(1, "D")).astype(
        np.int64
    )
    uprn = events["uprn"].to_numpy()
    kind = np.full(n, "clean", dtype=object)
    u = rng.random(n)
    kind[u < P_POSTCODE_ONLY] = "postcode_only"
    bad = (u >= P_POSTCODE_ONLY) & (u < P_POSTCODE_ONLY + P_MALFORMED)
    kind[bad] = np.array(_MALFORMED, dtype=object)[rng.integers(len(_MALFORMED), size=int(bad.sum()))]
    named = np.isin(uprn, aliases["uprn"].to_numpy()) & (kind == "clean") & (rng.random(n) < P_HOUSE_NAME)
    kind[named] = "house_name"
    rows = pd.DataFrame(
        {
            "source_system": events["source_system"].to_numpy().astype(object),
            "kind": kind,
            "event_row": np.arange(n),
            "service_code": events["service_code"].to_numpy().astype(object),
            "day": day,
            "channel": events["channel"].to_numpy().astype(object),
            "uprn": uprn,
            "dup_of": -1,
        }
    )
    asb = np.flatnonzero((rows["service_code"].to_numpy() == "asb_reports") & (rng.random(n) < P_DUPLICATE))
    other = {"police_incidents": "council_crm", "council_crm": "police_incidents"}
    dup_system = rows["source_system"].to_numpy()[asb]
    dups = pd.DataFrame(
        {
            "source_system": [other[s] for s in dup_system],
            "kind": "duplicate",
            "event_row": -1,
            "service_code": "asb_reports",
            "day": np.clip(day[asb] + rng.integers(-1, 2, len(asb)), 0, 729),
            "channel": np.array(["web", "phone", "face_to_face"], dtype=object)[
                rng.integers(3, size=len(asb))
            ],
            "uprn": uprn[asb],
            "dup_of": asb,
        }
    )
    extras = [rows, dups]
    per_system = rows["source_system"].value_counts()
    for system in SYSTEMS:
        n_sys = int(per_system.get(system, 0))
        services = [s.code for s in cat.SERVICES if system in s.systems]
        for extra_kind, p, floor in (("outside_district", P_OUTSIDE, 2), ("unparseable", P_UNPARSEABLE, 3)):
            m = max(floor, round(p * n_sys))
            svc = np.array(services, dtype=object)[rng.integers(len(services), size=m)]
            extras.append(
                pd.DataFrame(
                    {
                        "source_system": system,
                        "kind": extra_kind,
                        "event_row": -1,
                        "service_code": svc,
                        "day": rng.integers(0, 730, m),
                        "channel": [next(iter(_CHANNEL_WORDS[system])) for _ in range(m)],
                        "uprn": 0,
                        "dup_of": -1,
                    }
                )
            )
    plan = pd.concat(extras, ignore_index=True)
    system_code = pd.Categorical(plan["source_system"], categories=list(SYSTEMS)).codes
    order = np.lexsort((rng.random(len(plan)), plan["day"].to_numpy(), system_code))
    plan = plan.iloc[order].reset_index(drop=True)
    system_code = system_code[order]
    starts = np.searchsorted(system_code, np.arange(len(SYSTEMS)))
    number = np.arange(len(plan)) - starts[system_code] + 1
    prefixes = [c["prefix"] for c in SYSTEMS.values()]
    plan["source_ref"] = [
        f"{prefixes[c]}{k:07d}" for c, k in zip(system_code.tolist(), number.tolist(), strict=True)
    ]
    plan["source_system"] = pd.Categorical.from_codes(system_code, categories=list(SYSTEMS))
    plan["uprn"] = plan["uprn"].astype("Int64").mask(plan["uprn"] == 0)

    is_event = plan["event_row"].to_numpy() >= 0
    refs_arr = np.empty(n, dtype=object)
    refs_arr[plan["event_row"].to_numpy()[is_event]] = plan["source_ref"].to_numpy()[is_event]
    refs = pd.Series(refs_arr, index=events.index)

    def listed(k: str) -> pd.DataFrame:
        return plan[plan["kind"] == k]

    d = listed("duplicate")
    malformed = plan[plan["kind"].isin([*_MALFORMED, "house_name"])]
    pc_only = listed("postcode_only")
    truth: dict[str, Any] = {
        "systems": {
            s: {"rows": int((plan["source_system"] == s).sum()), "ref_column": c["ref_column"]}
            for s, c in SYSTEMS.items()
        },
        "duplicates": [
            {"refs": [a, b], "systems": [sa, sb], "service_code": "asb_reports"}
            for a, b, sa, sb in zip(
                refs_arr[d["dup_of"].to_numpy()].tolist(),
                d["source_ref"].tolist(),
                events["source_system"].to_numpy()[d["dup_of"].to_numpy()].astype(object).tolist(),
                d["source_system"].astype(object).tolist(),
                strict=True,
            )
        ],
        "postcode_only": [
            {"ref": r, "uprn": int(x)}
            for r, x in zip(pc_only["source_ref"].tolist(), pc_only["uprn"].tolist(), strict=True)
        ],
        "malformed": [
            {"ref": r, "kind": k, "uprn": int(x)}
            for r, k, x in zip(
                malformed["source_ref"].tolist(),
                malformed["kind"].tolist(),
                malformed["uprn"].tolist(),
                strict=True,
            )
        ],
        "outside_district": listed("outside_district")["source_ref"].tolist(),
        "unparseable": listed("unparseable")["source_ref"].tolist(),
    }
    return plan, truth, refs


# ============================================================================ render


def _typo(text: str, rng: np.random.Generator) -> str:
    """Return text with one random letter dropped, doubled or swapped with its neighbour."""
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(letters) < 4:
        return text
    i = letters[int(rng.integers(1, len(letters) - 1))]
    op = int(rng.integers(3))
    if op == 0:
        return text[:i] + text[i + 1 :]
    if op == 1:
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :] if i + 1 < len(text) else text


def _abbreviate(street: pd.Series) -> pd.Series:
    """Return street names with their suffix abbreviated ('Coronation Street' -> 'Coronation St')."""
    out = street.copy()
    for full, short in cat.SUFFIX_ABBREVIATIONS.items():
        out = out.str.replace(rf"\b{full}$", short, regex=True)
    return out


def raw_extracts(borough: Borough, seed: int = 20261123) -> dict[str, pd.DataFrame]:
    """Render what each source system would export for the borough's events.

    Returns one frame per system (``council_crm``, ``police_incidents``, ``fire_hfsv``,
    ``council_revenues``, ``council_libraries``, ``council_education``), in the order of
    the system's own references. Planted rows are listed in ``borough.truth['extracts']``.
    """
    rng = np.random.default_rng(seed)
    plan = borough.extract_plan
    n = len(plan)
    addr = borough.addresses
    pos = np.searchsorted(addr["uprn"].to_numpy(), plan["uprn"].fillna(addr["uprn"].iloc[0]).to_numpy())
    a = addr.iloc[pos].reset_index(drop=True)
    kind = plan["kind"].to_numpy()
    outside = kind == "outside_district"
    unparseable = kind == "unparseable"

    saon = a["saon"].fillna("").astype(str)
    paon = a["paon"].fillna("").astype(str)
    street = a["street"].fillna("").astype(str)
    locality = a["locality"].fillna("").astype(str)
    town = a["town"].fillna("").astype(str)
    postcode = a["postcode"].fillna("").astype(str)
    xy = np.column_stack([a.geometry.x.to_numpy(), a.geometry.y.to_numpy()])

    # Outside the district: invented addresses west of its boundary, postcodes not in it.
    m = int(outside.sum())
    stems = np.array(cat.STREET_STEMS, dtype=object)
    suffixes = np.array(cat.STREET_SUFFIXES, dtype=object)
    street[outside] = (
        stems[rng.integers(len(stems), size=m)] + " " + suffixes[rng.integers(len(suffixes), size=m)]
    )
    paon[outside] = rng.integers(1, 120, m).astype(str)
    saon[outside] = ""
    locality[outside] = ""
    town[outside] = np.array(_OUTSIDE_TOWNS, dtype=object)[rng.integers(len(_OUTSIDE_TOWNS), size=m)]
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    postcode[outside] = [
        f"QV{rng.integers(1, 20)} {rng.integers(0, 10)}{letters[rng.integers(20)]}{letters[rng.integers(20)]}"
        for _ in range(m)
    ]
    xy[outside] = np.column_stack([rng.uniform(585_000, 599_000, m), rng.uniform(238_000, 264_000, m)])

    # Address line per planted kind.
    number_street = np.where(paon.str.fullmatch(r"\d+"), paon + " " + street, paon + ", " + street)
    line = pd.Series(np.where(saon != "", saon + ", ", "") + number_street, dtype=object)
    k = kind == "missing_number"
    line[k] = np.where(saon[k] != "", saon[k] + ", ", "") + street[k]
    k = kind == "abbreviation"
    line[k] = (
        np.where(saon[k] != "", saon[k] + ", ", "") + paon[k] + " " + _abbreviate(street[k])
    ).to_numpy()
    k = kind == "house_name"
    if k.any():
        alias = borough.address_aliases.drop_duplicates("uprn").set_index("uprn")["alias_text"]
        house = alias.reindex(plan["uprn"][k].to_numpy()).str.split(",").str[0].to_numpy()
        line[k] = house + ", " + street[k].to_numpy()
    k = np.flatnonzero(kind == "typo")
    line.iloc[k] = [
        (s + ", " if s else "") + p + " " + _typo(t, rng)
        for s, p, t in zip(saon.iloc[k].tolist(), paon.iloc[k].tolist(), street.iloc[k].tolist(), strict=True)
    ]
    k = np.flatnonzero(kind == "case_punctuation")
    styles = rng.integers(3, size=len(k))
    raw = line.iloc[k].astype(str)
    line.iloc[k] = np.where(
        styles == 0,
        raw.str.lower(),
        np.where(
            styles == 1,
            raw.str.upper().str.replace(",", "", regex=False),
            raw.str.replace(" ", ",  ", n=1) + ".",
        ),
    )
    locality[unparseable] = ""
    town[unparseable] = ""
    pc_only = kind == "postcode_only"
    line[pc_only] = ""
    line[unparseable] = np.array(["???", "", "see notes", "N/K"], dtype=object)[
        rng.integers(4, size=int(unparseable.sum()))
    ]
    postcode[unparseable] = np.array(["N/A", "TBC", "", "XX"], dtype=object)[
        rng.integers(4, size=int(unparseable.sum()))
    ]
    clean_location = ~(pc_only | unparseable) & ~np.isin(kind, [*_MALFORMED, "house_name"])

    # Dates: a real timestamp, rendered per system; unparseable rows get junk.
    when = pd.Timestamp("2024-11-01") + pd.to_timedelta(plan["day"].to_numpy(), unit="D")
    when = when + pd.to_timedelta(rng.integers(8 * 60, 20 * 60, n), unit="min")
    dob = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 27_000, n), unit="D")

    first = np.array(cat.FIRST_NAMES, dtype=object)[rng.integers(len(cat.FIRST_NAMES), size=n)]
    last = np.array(cat.SURNAMES, dtype=object)[rng.integers(len(cat.SURNAMES), size=n)]
    full_name = pd.Series(first + " " + last)
    phone = pd.Series("07700 900" + pd.Series(rng.integers(0, 1000, n)).astype(str).str.zfill(3))
    email = (
        pd.Series(first).str.lower()
        + "."
        + pd.Series(last).str.lower()
        + pd.Series(rng.integers(1, 99, n)).astype(str)
    )
    email = email + np.where(rng.random(n) < 0.5, "@example.com", "@example.org")
    notes = pd.Series(
        [
            cat.NOTES[s][i % len(cat.NOTES[s])]
            for s, i in zip(plan["service_code"].tolist(), rng.integers(0, 60, n).tolist(), strict=True)
        ]
    )
    with_phone = rng.random(n) < 0.1  # personal data inside free text, as real notes have
    notes[with_phone] = notes[with_phone] + ". Call back on " + phone[with_phone]

    transformer = Transformer.from_crs(27700, 4326, always_xy=True)
    lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
    uprn_col = plan["uprn"].astype("Int64").astype("string").fillna("")

    frames: dict[str, pd.DataFrame] = {}
    for system, conf in SYSTEMS.items():
        idx = np.flatnonzero(plan["source_system"].to_numpy() == system)
        if not len(idx):
            continue
        sub = plan.iloc[idx]
        fmt = conf["date_format"]
        date = pd.Series(when[idx].strftime(fmt), dtype=object)
        bad = unparseable[idx]
        date[bad] = np.array(_BAD_DATES, dtype=object)[rng.integers(len(_BAD_DATES), size=int(bad.sum()))]
        words = _SERVICE_WORDS[system]
        service = pd.Series(
            [
                words[s][i % len(words[s])]
                for s, i in zip(
                    sub["service_code"].tolist(), rng.integers(0, 12, len(idx)).tolist(), strict=True
                )
            ],
            dtype=object,
        )
        service[bad & (rng.random(len(idx)) < 0.5)] = ""
        channel = sub["channel"].map(_CHANNEL_WORDS[system]).fillna("Other").reset_index(drop=True)
        ln = line.iloc[idx].reset_index(drop=True)
        pc = postcode.iloc[idx].reset_index(drop=True)
        tw = town.iloc[idx].reset_index(drop=True)
        loc_ = locality.iloc[idx].reset_index(drop=True)
        clean = clean_location[idx]
        fixed = clean | outside[idx]
        # UPRN only where the system records one, and never on planted bad addresses.
        uprn_p = {"council_crm": 0.4, "council_revenues": 0.9, "council_education": 0.3}.get(system, 0.0)
        uprn = uprn_col.iloc[idx].reset_index(drop=True).where(clean & (rng.random(len(idx)) < uprn_p), "")
        dob_s = pd.Series(dob[idx].strftime(fmt.split(" ")[0]), dtype=object)
        one_line = ln + np.where(loc_ != "", ", " + loc_, "") + np.where(tw != "", ", " + tw, "")
        one_line = one_line.where(ln != "", "")
        common_pii = {
            "Full Name": full_name.iloc[idx].to_numpy(),
            "Telephone": phone.iloc[idx].to_numpy(),
            "Email": email.iloc[idx].to_numpy(),
            "Date of Birth": dob_s.to_numpy(),
            "Notes": notes.iloc[idx].to_numpy(),
        }
        ref = sub["source_ref"].to_numpy()
        if system == "council_crm":
            df = pd.DataFrame(
                {
                    "Case Ref": ref,
                    "Service": service,
                    "Date Logged": date,
                    "Contact Method": channel,
                    "Address": one_line,
                    "Postcode": pc,
                    "UPRN": uprn,
                }
                | common_pii
            )
        elif system == "police_incidents":
            has_xy = fixed & (rng.random(len(idx)) < 0.95)
            e = (
                pd.Series(np.round(xy[idx, 0] + rng.normal(0, 5, len(idx))).astype(np.int64))
                .astype("string")
                .where(has_xy, "")
            )
            nn = (
                pd.Series(np.round(xy[idx, 1] + rng.normal(0, 5, len(idx))).astype(np.int64))
                .astype("string")
                .where(has_xy, "")
            )
            location = (one_line.str.upper() + np.where(rng.random(len(idx)) < 0.3, " " + pc, "")).where(
                ln != "", pc
            )
            df = pd.DataFrame(
                {
                    "Incident No": ref,
                    "Incident Type": service,
                    "Reported": date,
                    "Reporting Method": channel,
                    "Location": location,
                    "Easting": e,
                    "Northing": nn,
                }
                | {k: v for k, v in common_pii.items() if k != "Email"}
            )
        elif system == "fire_hfsv":
            has_ll = fixed & (rng.random(len(idx)) < 0.7)
            df = pd.DataFrame(
                {
                    "Visit ID": ref,
                    "Visit Type": service,
                    "Visit Date": date,
                    "Referral Route": channel,
                    "Address Line 1": ln,
                    "Address Line 2": loc_.where(ln != "", ""),
                    "Town": tw.where(ln != "", ""),
                    "Postcode": pc,
                    "Latitude": pd.Series(np.round(lat[idx], 6)).astype("string").where(has_ll, ""),
                    "Longitude": pd.Series(np.round(lon[idx], 6)).astype("string").where(has_ll, ""),
                }
                | {k: v for k, v in common_pii.items() if k != "Email"}
            )
        elif system == "council_revenues":
            df = pd.DataFrame(
                {
                    "Transaction Ref": ref,
                    "Transaction Type": service,
                    "Transaction Date": date,
                    "Payment Method": channel,
                    "Property Address": one_line.str.upper(),
                    "Postcode": pc,
                    "UPRN": uprn,
                }
                | {k: v for k, v in common_pii.items() if k != "Date of Birth"}
            )
        elif system == "council_libraries":
            df = pd.DataFrame(
                {
                    "Borrower No": ref,
                    "Membership Type": service,
                    "Joined": date,
                    "Joined Via": channel,
                    "Address": one_line,
                    "Postcode": pc,
                }
                | {k: v for k, v in common_pii.items() if k in ("Full Name", "Email", "Date of Birth")}
            )
        else:
            df = pd.DataFrame(
                {
                    "Application Ref": ref,
                    "Scheme": service,
                    "Date Received": date,
                    "Applied By": channel,
                    "Address": one_line,
                    "Postcode": pc,
                    "UPRN": uprn,
                }
                | common_pii
            )
        frames[system] = df.reset_index(drop=True)
    return frames
