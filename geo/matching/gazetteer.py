"""The gazetteer as matching needs it: addresses, aliases, streets and postcodes in memory.

Loaded once per batch (a 120,000-address borough is ~30 MB of frames) and reused for
every chunk of the file, so the ladder is pandas merges and rapidfuzz matrix calls, not
database round trips. Point in polygon is the one step left to PostGIS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from geo.db import load_sql
from geo.matching.keys import (
    address_keys,
    match_key_series,
    numbers_key_series,
    place_pattern,
    sector_series,
)


@dataclass
class Gazetteer:
    """In-memory indexes of the address gazetteer for one matching run."""

    #: uprn, key, numbers, postcode_norm, street_key, sector, oa_code, x, y
    addresses: pd.DataFrame
    #: the fuzzy candidates: uprn, key, numbers, postcode_norm (addresses and aliases)
    candidates: pd.DataFrame
    #: postcode_norm -> oa_code, x, y (postcode table, else the mean of its addresses)
    postcodes: pd.DataFrame
    #: (sector, street_key) -> oa_code (modal), x, y (mean), for street-level matches
    streets: pd.DataFrame
    #: oa_code -> lsoa_code, ward_code, district_code
    oa_lookup: pd.DataFrame
    #: regex of town and locality names stripped from keys
    places: str | None
    #: known outward codes, to tell a foreign postcode from a typo
    outward_codes: frozenset[str]

    _blocks: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = field(default=None, repr=False)
    _street_blocks: dict[str, tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)
    _tree: Any = field(default=None, repr=False)

    @property
    def uprns(self) -> pd.Index:
        """Every UPRN the gazetteer holds."""
        return pd.Index(self.addresses["uprn"])

    def candidate_blocks(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """postcode -> (keys, uprns, numbers) of its fuzzy candidates (built once)."""
        if self._blocks is None:
            c = self.candidates
            self._blocks = {
                pc: (
                    c["key"].to_numpy()[pos],
                    c["uprn"].to_numpy(dtype=np.int64)[pos],
                    c["numbers"].to_numpy()[pos],
                )
                for pc, pos in c.groupby("postcode_norm", sort=False).indices.items()
            }
        return self._blocks

    def nearest_postcodes(self, x: np.ndarray, y: np.ndarray, max_m: float) -> np.ndarray:
        """The postcode of the nearest address within ``max_m`` metres of each point (else None)."""
        from scipy.spatial import cKDTree

        located = self.addresses.dropna(subset=["x", "y"])
        if self._tree is None:
            self._tree = (cKDTree(located[["x", "y"]].to_numpy()), located["postcode_norm"].to_numpy())
        tree, postcodes = self._tree
        out = np.full(len(x), None, dtype=object)
        ok = ~np.isnan(x)
        if ok.any() and len(postcodes):
            dist, idx = tree.query(np.column_stack([x[ok], y[ok]]), distance_upper_bound=max_m)
            hit = np.isfinite(dist)
            found = np.full(int(ok.sum()), None, dtype=object)
            found[hit] = postcodes[idx[hit]]
            out[ok] = found
        return out

    def street_blocks(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """postcode sector -> (street keys, row positions in ``streets``) (built once)."""
        if self._street_blocks is None:
            s = self.streets.reset_index(drop=True)
            self._street_blocks = {
                sector: (s["street_key"].to_numpy()[pos], pos.astype(np.int64))
                for sector, pos in s.groupby("sector", sort=False).indices.items()
            }
        return self._street_blocks


def build_gazetteer(
    addresses: pd.DataFrame,
    aliases: pd.DataFrame,
    postcodes: pd.DataFrame,
    oa_lookup: pd.DataFrame,
) -> Gazetteer:
    """Build the matching indexes from plain frames (as read by :func:`load_gazetteer`).

    ``addresses`` needs uprn, saon, paon, street, locality, town, postcode_norm,
    oa_code, x, y; ``aliases`` uprn, alias_text; ``postcodes`` postcode_norm, oa_code, x, y.
    """
    places = place_pattern(pd.concat([addresses["town"], addresses["locality"]], ignore_index=True))
    a = addresses.copy()
    body = (
        a["saon"].fillna("").astype(str)
        + " "
        + a["paon"].fillna("").astype(str)
        + " "
        + a["street"].fillna("")
    )
    # full_key keeps the places: for records that carry no postcode, the town disambiguates.
    full = body + " " + a["locality"].fillna("").astype(str) + " " + a["town"].fillna("").astype(str)
    keys = address_keys(full, places)
    a["key"] = keys["key"].to_numpy()
    a["full_key"] = keys["full_key"].to_numpy()
    a["numbers"] = keys["numbers"].to_numpy()
    a["street_key"] = match_key_series(a["street"].fillna(""), places)
    a["sector"] = sector_series(a["postcode_norm"])
    a = a[
        ["uprn", "key", "full_key", "numbers", "postcode_norm", "street_key", "sector", "oa_code", "x", "y"]
    ]

    al = aliases.merge(a[["uprn", "postcode_norm", "street_key"]], on="uprn", how="inner")
    # An alias is written alone ("The Laurels") or with its street ("The Laurels, Coronation St");
    # the stored alias text may carry the street, town and postcode after a comma.
    name_only = match_key_series(al["alias_text"].astype(str).str.split(",").str[0], places)
    with_street = (name_only + " " + al["street_key"]).str.strip()
    alias_rows = pd.concat(
        [
            pd.DataFrame({"uprn": al["uprn"], "key": name_only, "postcode_norm": al["postcode_norm"]}),
            pd.DataFrame({"uprn": al["uprn"], "key": with_street, "postcode_norm": al["postcode_norm"]}),
        ],
        ignore_index=True,
    )
    alias_rows["numbers"] = numbers_key_series(alias_rows["key"])
    candidates = pd.concat(
        [a[["uprn", "key", "numbers", "postcode_norm"]], alias_rows], ignore_index=True
    ).drop_duplicates(["uprn", "key", "postcode_norm"])
    candidates = candidates[candidates["key"] != ""]

    located = a.dropna(subset=["x", "y"])
    from_addresses = located.groupby("postcode_norm", as_index=False).agg(x=("x", "mean"), y=("y", "mean"))
    from_addresses = from_addresses.merge(
        _modal_oa(located, ["postcode_norm"]), on="postcode_norm", how="left"
    )
    pc = pd.concat([postcodes[["postcode_norm", "oa_code", "x", "y"]], from_addresses], ignore_index=True)
    pc = pc.dropna(subset=["postcode_norm"]).drop_duplicates("postcode_norm", keep="first")

    on_street = located[located["street_key"] != ""]
    streets = on_street.groupby(["sector", "street_key"], as_index=False).agg(
        x=("x", "mean"), y=("y", "mean")
    )
    streets = streets.merge(
        _modal_oa(on_street, ["sector", "street_key"]), on=["sector", "street_key"], how="left"
    )
    outward = pd.concat([pc["postcode_norm"], a["postcode_norm"]]).dropna().astype(str).str[:-3]
    return Gazetteer(
        addresses=a.reset_index(drop=True),
        candidates=candidates.reset_index(drop=True),
        postcodes=pc.reset_index(drop=True),
        streets=streets,
        oa_lookup=oa_lookup.drop_duplicates("oa_code").reset_index(drop=True),
        places=places,
        outward_codes=frozenset(outward.unique()),
    )


def _modal_oa(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The most common OA per group (ties to the lowest code), without a Python loop."""
    counts = frame.dropna(subset=["oa_code"]).groupby([*by, "oa_code"]).size().rename("n").reset_index()
    counts = counts.sort_values([*by, "n", "oa_code"], ascending=[True] * len(by) + [False, True])
    return counts.drop_duplicates(by)[[*by, "oa_code"]]


_CACHE: dict[str, tuple[tuple[object, ...], Gazetteer]] = {}


def load_gazetteer(conn: Connection) -> Gazetteer:
    """Read the gazetteer, aliases, postcodes and the OA lookup from the database.

    The last gazetteer built is kept per database with a fingerprint of its tables
    (counts and a checksum of keys), so batch after batch reuses it until any of them
    changes, including inside the transaction that changed it.
    """
    fingerprint = tuple(conn.execute(load_sql("ingest/gazetteer_fingerprint")).one())
    key = str(conn.engine.url)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    gz = _read_gazetteer(conn)
    _CACHE.clear()
    _CACHE[key] = (fingerprint, gz)
    return gz


def _read_gazetteer(conn: Connection) -> Gazetteer:
    addresses = pd.DataFrame(conn.execute(load_sql("ingest/gazetteer_addresses")).mappings().all())
    if addresses.empty:
        addresses = pd.DataFrame(
            columns=[
                "uprn",
                "saon",
                "paon",
                "street",
                "locality",
                "town",
                "postcode_norm",
                "oa_code",
                "x",
                "y",
            ]
        )
    aliases = pd.DataFrame(conn.execute(load_sql("ingest/gazetteer_aliases")).mappings().all())
    if aliases.empty:
        aliases = pd.DataFrame(columns=["uprn", "alias_text"])
    postcodes = pd.DataFrame(conn.execute(load_sql("ingest/gazetteer_postcodes")).mappings().all())
    if postcodes.empty:
        postcodes = pd.DataFrame(columns=["postcode_norm", "oa_code", "x", "y"])
    lookup = pd.DataFrame(conn.execute(load_sql("ingest/oa_lookup")).mappings().all())
    if lookup.empty:
        lookup = pd.DataFrame(columns=["oa_code", "lsoa_code", "ward_code", "district_code"])
    addresses["uprn"] = addresses["uprn"].astype(np.int64)
    aliases["uprn"] = aliases["uprn"].astype(np.int64)
    for frame in (addresses, postcodes):
        frame["x"] = pd.to_numeric(frame["x"]).astype(float)
        frame["y"] = pd.to_numeric(frame["y"]).astype(float)
    return build_gazetteer(addresses, aliases, postcodes, lookup)
