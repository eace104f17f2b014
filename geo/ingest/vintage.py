"""Geography vintages: values keyed by OA 2021 placed on 2011 OAs, and back (issue 12).

The ONS OA11 -> OA21 lookup (kind ``area-lookup``) links each 2011 output area to the
2021 output areas it became: ``U`` unchanged (1:1), ``S`` split (one 2011 OA -> several
2021 OAs), ``M`` merged (several 2011 OAs -> one 2021 OA) and ``X`` irregular (many to
many). The rules, stated in every report that uses them (:data:`COUNT_RULE`,
:data:`CLASS_RULE`):

* **counts** (households, usual residents) of a 2021 OA are shared among its linked 2011
  OAs in proportion to the households already stored for those 2011 OAs (equally when
  none has any), in whole numbers by largest remainder, so each 2021 OA's total is kept
  exactly; a 2011 OA's count is the sum of its shares. For ``U`` and ``S`` this is exact.
* **a categorical classification** (OAC 2021): each 2011 OA takes the class of the linked
  2021 OA that gives it the most households (ties: the lowest 2021 code). ``U`` and ``M``
  are exact; a split 2011 OA takes the class of its largest 2021 part.
* **back to 2021** (:func:`classes_on_oa21`): each 2021 OA takes the class of the linked
  2011 OA with the most stored households (ties: the lowest 2011 code). ``U`` and ``S`` are
  exact; a merged 2021 OA takes the class of its largest 2011 part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.errors import InvalidRequest, NotFound
from geo.ingest.copy import copy_frame

#: How counts keyed by OA 2021 are placed on 2011 OAs (stated in the batch report).
COUNT_RULE = (
    "counts of a 2021 OA are shared among its linked 2011 OAs in proportion to the households "
    "stored for those 2011 OAs (equally when none has any), in whole numbers by largest remainder"
)
#: How a class keyed by OA 2021 is placed on 2011 OAs.
CLASS_RULE = (
    "each 2011 OA takes the class of the linked 2021 OA that gives it the most households "
    "(ties: the lowest 2021 code)"
)
#: How a class on 2011 OAs is placed on 2021 OAs.
BACK_RULE = (
    "each 2021 OA takes the class of the linked 2011 OA with the most households (ties: the lowest 2011 code)"
)


def links(conn: Connection, oa21_codes: list[str]) -> pd.DataFrame:
    """The lookup's links of these 2021 OAs to loaded 2011 OAs, with each link's share.

    Columns ``oa21_code, oa11_code, change, share``; the shares of one 2021 OA sum to 1.
    """
    rows = conn.execute(
        text(
            "SELECT l.oa21_code, l.oa11_code, l.change, a.households "
            "FROM area_vintage_lookup l JOIN area a ON a.code = l.oa11_code "
            "WHERE l.oa21_code = ANY(:codes)"
        ),
        {"codes": oa21_codes},
    ).all()
    frame = pd.DataFrame(rows, columns=["oa21_code", "oa11_code", "change", "households"])
    weight = frame["households"].fillna(0).clip(lower=0).astype(float)
    total = weight.groupby(frame["oa21_code"]).transform("sum")
    n = frame.groupby("oa21_code")["oa11_code"].transform("size").astype(float)
    frame["share"] = np.where(total > 0, weight / total.where(total > 0, 1.0), 1.0 / n)
    return frame.drop(columns="households").sort_values(["oa21_code", "oa11_code"], ignore_index=True)


def apportion(values: pd.Series, link: pd.DataFrame) -> pd.Series:
    """Share whole-number ``values`` (indexed by 2021 OA) over ``link`` by largest remainder.

    Returns one whole number per link row (aligned with ``link``); null where the 2021
    value is null. Each 2021 OA's parts sum to its value exactly.
    """
    total = link["oa21_code"].map(values).astype("Float64")
    raw = (total * link["share"]).astype(float)
    floor = np.floor(raw + 1e-9)
    remainder = raw - floor
    short = (total.astype(float) - floor.groupby(link["oa21_code"]).transform("sum")).round()
    order = (
        pd.DataFrame({"g": link["oa21_code"], "r": -remainder, "c": link["oa11_code"]})
        .sort_values(["g", "r", "c"])
        .groupby("g")
        .cumcount()
    )
    extra = (order.reindex(link.index) < short).astype(float)
    out = pd.Series(floor + extra, index=link.index).where(total.notna().to_numpy())
    return out.round().astype("Int64")


def place_on_2011(conn: Connection, staged: set[str]) -> list[str]:
    """Rewrite the staged OA21-keyed rows of a batch onto 2011 OAs; return the report notes."""
    codes: set[str] = set()
    classes = bases = None
    if "area_classification" in staged:
        classes = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT area_code, classification_code, segment_code "
                    "FROM ingest_stage_area_classification"
                )
            ).all(),
            columns=["oa21_code", "classification_code", "segment_code"],
        )
        codes |= set(classes["oa21_code"])
    if "area_bases" in staged:
        bases = pd.DataFrame(
            conn.execute(text("SELECT area_code, households, population FROM ingest_stage_area_bases")).all(),
            columns=["oa21_code", "households", "population"],
        ).drop_duplicates("oa21_code", keep="last")
        codes |= set(bases["oa21_code"])
    link = links(conn, sorted(codes))
    households21 = (
        bases.set_index("oa21_code")["households"].astype("Int64")
        if bases is not None
        else pd.Series(dtype="Int64")
    )
    parts = apportion(households21, link) if bases is not None else pd.Series(pd.NA, index=link.index)
    if bases is not None:
        population = apportion(bases.set_index("oa21_code")["population"].astype("Int64"), link)
        placed = (
            pd.DataFrame({"area_code": link["oa11_code"], "households": parts, "population": population})
            .groupby("area_code", sort=True)
            .sum(min_count=1)
            .reset_index()
        )
        conn.execute(text("TRUNCATE ingest_stage_area_bases"))
        copy_frame(conn, "ingest_stage_area_bases", placed)
    n_classes = 0
    if classes is not None:
        # the 2021 OA giving a 2011 OA the most households (or, without households, the
        # largest share of the 2021 OA), ties to the lowest 2021 code
        if bases is not None:
            given = link["oa21_code"].map(households21).astype("Float64").fillna(0).astype(float)
            weight = given * link["share"] + link["share"] * 1e-9
        else:
            weight = link["share"].astype(float)
        scored = link.assign(weight=weight.to_numpy()).merge(classes, on="oa21_code")
        scored = scored.sort_values(
            ["oa11_code", "classification_code", "weight", "oa21_code"], ascending=[True, True, False, True]
        )
        chosen = scored.drop_duplicates(["oa11_code", "classification_code"], keep="first")
        out = pd.DataFrame(
            {
                "area_code": chosen["oa11_code"].to_numpy(),
                "classification_code": chosen["classification_code"].to_numpy(),
                "segment_code": chosen["segment_code"].to_numpy(),
            }
        )
        n_classes = out["area_code"].nunique()
        conn.execute(text("TRUNCATE ingest_stage_area_classification"))
        copy_frame(conn, "ingest_stage_area_classification", out)
    changes = link.drop_duplicates(["oa21_code", "oa11_code"])["change"].value_counts().to_dict()
    notes = [
        f"placed {len(codes):,} OA 2021 codes on {link['oa11_code'].nunique():,} 2011 OAs through the "
        f"OA11->OA21 lookup (links by change: {dict(sorted(changes.items()))})"
    ]
    if bases is not None:
        notes.append(f"vintage rule for counts: {COUNT_RULE}")
    if n_classes:
        notes.append(f"vintage rule for classes: {CLASS_RULE}")
    unlinked = len(codes - set(link["oa21_code"]))
    if unlinked:
        notes.append(f"{unlinked:,} OA 2021 codes have no link to a loaded 2011 OA and were left out")
    return notes


def known_oa21(conn: Connection, codes: pd.Series) -> np.ndarray:
    """Which of these OA 2021 codes link to a loaded 2011 OA through the lookup."""
    known = set(
        conn.execute(
            text(
                "SELECT DISTINCT l.oa21_code FROM area_vintage_lookup l JOIN area a ON a.code = l.oa11_code "
                "WHERE l.oa21_code = ANY(:codes)"
            ),
            {"codes": list(codes.unique())},
        ).scalars()
    )
    out: np.ndarray = codes.isin(known).to_numpy()
    return out


def classes_on_oa21(conn: Connection, classification: str) -> pd.DataFrame:
    """A classification stored on 2011 OAs, placed on 2021 OAs through the lookup.

    Returns ``oa21_code, segment_code, change, oa11_code`` (the 2011 OA whose class was
    taken: the linked one with the most households, ties to the lowest code).
    """
    found = conn.execute(
        text("SELECT 1 FROM classification WHERE code = :c"), {"c": classification}
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"`classification` was {classification!r} but no such classification is loaded")
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (l.oa21_code) l.oa21_code, s.segment_code, l.change, l.oa11_code "
            "FROM area_vintage_lookup l "
            "JOIN area_segment s ON s.area_code = l.oa11_code AND s.classification_code = :c "
            "JOIN area a ON a.code = l.oa11_code "
            "ORDER BY l.oa21_code, a.households DESC NULLS LAST, l.oa11_code"
        ),
        {"c": classification},
    ).all()
    if not rows and not conn.execute(text("SELECT EXISTS (SELECT 1 FROM area_vintage_lookup)")).scalar():
        raise InvalidRequest(
            "no OA11->OA21 lookup is loaded; load the ONS lookup first "
            "(`wardwise ingest area-lookup FILE --preset ons-oa-lookup`)"
        )
    return pd.DataFrame(rows, columns=["oa21_code", "segment_code", "change", "oa11_code"])
