"""The matching ladder: each record climbs down until one rung places it.

    uprn -> address (exact normalised) -> fuzzy (within the postcode, aliases included)
         -> street (within the postcode sector) -> postcode (centroid)
         -> coordinates (point in OA polygon, in PostGIS) -> unmatched

Every rung is vectorised: exact matching is a pandas merge on normalised keys; fuzzy
matching scores each postcode's records against that postcode's addresses and aliases
with one ``rapidfuzz.process.cdist`` call (the only Python loop is over postcode
blocks); coordinates go to PostGIS as one temp table and one ST_Intersects join.

Fuzzy acceptance rule (the precision guard): the best candidate must score at least
``FUZZY_CUTOFF`` (token-sort ratio, 0-100), carry exactly the same house/flat numbers as
the record, and beat the best *other* UPRN by ``FUZZY_MARGIN`` points. A record that
fails drops to the street rung rather than guessing a neighbour's house.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import Transformer
from rapidfuzz import fuzz, process
from sqlalchemy import Connection

from geo.matching.gazetteer import Gazetteer
from geo.matching.keys import address_keys, outward_series, sector_series
from geo.matching.spatial import oas_for_points
from geo.text import normalise_postcode_series

LEVELS: tuple[str, ...] = ("uprn", "address", "fuzzy", "street", "postcode", "coordinates", "unmatched")
FUZZY_CUTOFF = 88
FUZZY_MARGIN = 6
STREET_CUTOFF = 90

_TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


def _text(records: pd.DataFrame, column: str) -> pd.Series:
    if column not in records:
        return pd.Series("", index=records.index, dtype=object)
    values = records[column].astype(object)
    return values.where(values.notna(), "").astype(str)


def _postcodes(values: pd.Series) -> pd.Series:
    """normalise_postcode_series on the distinct values only (extracts repeat postcodes)."""
    codes, uniques = pd.factorize(values, sort=False)
    norm = normalise_postcode_series(pd.Series(uniques, dtype=object)).to_numpy(dtype=object)
    out = norm[codes] if len(norm) else np.full(len(values), None, dtype=object)
    out[codes < 0] = None
    return pd.Series(out, index=values.index, dtype=object)


def _coordinates(records: pd.DataFrame, crs: int) -> tuple[np.ndarray, np.ndarray]:
    """Record coordinates in EPSG:27700 (NaN where absent or unparseable)."""
    n = len(records)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    if "x" in records and "y" in records:
        x = pd.to_numeric(records["x"], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(records["y"], errors="coerce").to_numpy(dtype=float)
        if crs != 27700:
            t = Transformer.from_crs(crs, 27700, always_xy=True)
            x, y = t.transform(x, y)
    if "longitude" in records and "latitude" in records:
        lon = pd.to_numeric(records["longitude"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(records["latitude"], errors="coerce").to_numpy(dtype=float)
        lx, ly = _TO_BNG.transform(lon, lat)
        use = np.isnan(x) & ~np.isnan(lx)
        x = np.where(use, lx, x)
        y = np.where(use, ly, y)
    x, y = np.array(x, dtype=float), np.array(y, dtype=float)
    bad = ~np.isfinite(x) | ~np.isfinite(y)
    x[bad] = np.nan
    y[bad] = np.nan
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


#: A record with coordinates but no postcode borrows the postcode of the nearest address
#: within this distance, to choose its fuzzy-matching block (never to place it).
INFER_POSTCODE_M = 60.0


def prepare_records(
    records: pd.DataFrame,
    gz: Gazetteer,
    *,
    address_prefix: str | None = None,
    xy: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Derive the matching inputs: uprn_in, postcode_norm (given or inferred), keys, numbers."""
    address = _text(records, "address")
    if address_prefix:
        address = address.str.replace(rf"(?i)^\s*{address_prefix}\s*", "", regex=True)
    composed = (
        _text(records, "saon") + " " + _text(records, "paon") + " " + _text(records, "street")
    ).str.strip()
    text = address.where(address != "", composed)
    with_places = text + " " + _text(records, "locality") + " " + _text(records, "town")
    keys = address_keys(with_places, gz.places)
    postcode = _postcodes(_text(records, "postcode"))
    postcode = postcode.where(postcode.notna(), keys["postcode"])
    given = postcode.notna().to_numpy()
    if xy is not None and (~given).any():
        inferred = gz.nearest_postcodes(xy[0], xy[1], INFER_POSTCODE_M)
        postcode = postcode.where(given, pd.Series(inferred, index=postcode.index))
    uprn_in = (
        pd.to_numeric(records["uprn"], errors="coerce")
        if "uprn" in records
        else pd.Series(np.nan, index=records.index)
    )
    prepared = pd.DataFrame(
        {
            "uprn_in": uprn_in.astype("Float64").round().astype("Int64"),
            "postcode_norm": postcode.astype(object),
            "postcode_given": given,
            "key": keys["key"],
            "full_key": keys["full_key"],
            "numbers": keys["numbers"],
            "street_part": keys["street_part"],
        },
        index=records.index,
    )
    return prepared


def _fuzzy(prepared: pd.DataFrame, todo: np.ndarray, gz: Gazetteer) -> tuple[np.ndarray, np.ndarray]:
    """Best UPRN per record by token-sort ratio within its postcode (-1 where none passes).

    Every record is paired with its own postcode's candidates by one merge, and all pairs
    are scored by one ``rapidfuzz.process.cpdist`` call; best and runner-up per record
    come from a sort. No Python loop at all: postcode blocks hold ~15 addresses, so a
    ``cdist`` call per block (:func:`_fuzzy_by_block`, kept as the bench's peer) spends
    more time in per-call overhead than in scoring.
    """
    n = len(prepared)
    uprn = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n, dtype=np.float64)
    rows = np.flatnonzero(todo)
    if len(rows) == 0:
        return uprn, score
    queries = pd.DataFrame(
        {
            "row": rows,
            "postcode_norm": prepared["postcode_norm"].to_numpy()[rows],
            "key": prepared["key"].to_numpy()[rows],
            "numbers": prepared["numbers"].to_numpy()[rows],
        }
    )
    cands = gz.candidates[["postcode_norm", "key", "numbers", "uprn"]]
    pairs = queries.merge(cands, on="postcode_norm", suffixes=("", "_c"))
    if pairs.empty:
        return uprn, score
    scores = process.cpdist(
        pairs["key"].tolist(),
        pairs["key_c"].tolist(),
        scorer=fuzz.token_sort_ratio,
        dtype=np.uint8,
        workers=1,
    ).astype(np.int64)
    scores[(pairs["numbers"].to_numpy() != pairs["numbers_c"].to_numpy())] = 0
    pairs = pd.DataFrame({"row": pairs["row"].to_numpy(), "uprn": pairs["uprn"].to_numpy(), "score": scores})
    per_uprn = pairs.groupby(["row", "uprn"], sort=False)["score"].max().reset_index()
    per_uprn = per_uprn.sort_values(["row", "score"], ascending=[True, False], kind="stable")
    rank = per_uprn.groupby("row", sort=False).cumcount().to_numpy()
    best = per_uprn[rank == 0].set_index("row")
    second = per_uprn[rank == 1].set_index("row")["score"].reindex(best.index, fill_value=0)
    ok = (best["score"] >= FUZZY_CUTOFF) & (best["score"] - second >= FUZZY_MARGIN)
    hit = best[ok.to_numpy()]
    uprn[hit.index.to_numpy()] = hit["uprn"].to_numpy(dtype=np.int64)
    score[hit.index.to_numpy()] = hit["score"].to_numpy(dtype=float)
    return uprn, score


def _fuzzy_by_block(prepared: pd.DataFrame, todo: np.ndarray, gz: Gazetteer) -> tuple[np.ndarray, np.ndarray]:
    """The same rule with one ``process.cdist`` call per postcode block (the bench's peer)."""
    n = len(prepared)
    uprn = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n, dtype=np.float64)
    rows = np.flatnonzero(todo)
    if len(rows) == 0:
        return uprn, score
    blocks = gz.candidate_blocks()
    postcodes = prepared["postcode_norm"].to_numpy()[rows]
    keys = prepared["key"].to_numpy()[rows]
    numbers = prepared["numbers"].to_numpy()[rows]
    groups = pd.Series(np.arange(len(rows))).groupby(postcodes, sort=False).indices
    for postcode, pos in groups.items():
        block = blocks.get(postcode)
        if block is None:
            continue
        c_keys, c_uprns, c_numbers = block
        scores = process.cdist(keys[pos], c_keys, scorer=fuzz.token_sort_ratio, dtype=np.uint8, workers=1)
        scores[numbers[pos][:, None] != c_numbers[None, :]] = 0
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(pos)), best]
        best_uprn = c_uprns[best]
        others = np.where(c_uprns[None, :] == best_uprn[:, None], 0, scores)
        second = others.max(axis=1) if others.shape[1] else np.zeros(len(pos))
        ok = (best_score >= FUZZY_CUTOFF) & (best_score.astype(int) - second.astype(int) >= FUZZY_MARGIN)
        uprn[rows[pos[ok]]] = best_uprn[ok]
        score[rows[pos[ok]]] = best_score[ok]
    return uprn, score


def _street(prepared: pd.DataFrame, todo: np.ndarray, gz: Gazetteer) -> np.ndarray:
    """Row position in ``gz.streets`` of each record's street within its postcode sector (-1 if none)."""
    n = len(prepared)
    out = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(todo & (prepared["street_part"].to_numpy() != ""))
    if len(rows) == 0:
        return out
    blocks = gz.street_blocks()
    sectors = sector_series(prepared["postcode_norm"].iloc[rows]).to_numpy()
    parts = prepared["street_part"].to_numpy()[rows]
    for sector, pos in pd.Series(np.arange(len(rows))).groupby(sectors, sort=False).indices.items():
        block = blocks.get(sector)
        if block is None:
            continue
        names, ids = block
        scores = process.cdist(parts[pos], names, scorer=fuzz.token_set_ratio, dtype=np.uint8, workers=1)
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(pos)), best]
        ties = (scores == best_score[:, None]).sum(axis=1)
        ok = (best_score >= STREET_CUTOFF) & (ties == 1)
        out[rows[pos[ok]]] = ids[best[ok]]
    return out


def match_records(
    conn: Connection | None,
    records: pd.DataFrame,
    gz: Gazetteer,
    *,
    crs: int = 27700,
    address_prefix: str | None = None,
    districts: list[str] | None = None,
) -> pd.DataFrame:
    """Place every record on the ladder; return match columns indexed like ``records``.

    Returns columns ``match_level``, ``match_score``, ``uprn`` (Int64), ``oa_code``,
    ``lsoa_code``, ``ward_code``, ``district_code``, ``x``, ``y`` (EPSG:27700, the point
    used: the address, street or postcode centroid, or the given coordinates) and
    ``out_of_area`` (located outside ``districts``, or to a place no loaded district
    holds: coordinates in no output area, or a postcode from an outward code the
    gazetteer does not know). ``conn`` may be None when no record has coordinates.
    """
    n = len(records)
    rx, ry = _coordinates(records, crs)
    has_xy = ~np.isnan(rx)
    prepared = prepare_records(records, gz, address_prefix=address_prefix, xy=(rx, ry))
    given = prepared["postcode_given"].to_numpy(dtype=bool)
    level = np.full(n, "unmatched", dtype=object)
    uprn = np.full(n, -1, dtype=np.int64)
    score = np.full(n, np.nan)
    oa = np.full(n, None, dtype=object)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)

    # 1. UPRN given and known
    known = prepared["uprn_in"].isin(gz.uprns).fillna(False).to_numpy(dtype=bool)
    uprn[known] = prepared["uprn_in"].to_numpy(dtype=np.int64, na_value=-1)[known]
    level[known] = "uprn"

    # 2. exact normalised address, within the postcode; without one, if the key is unique
    todo = level == "unmatched"
    addr = gz.addresses
    unique_pk = addr.drop_duplicates(["postcode_norm", "key"], keep=False)[["postcode_norm", "key", "uprn"]]
    left = prepared.loc[todo, ["postcode_norm", "key", "full_key"]].reset_index(names="_row")
    hit = left.drop(columns="full_key").merge(unique_pk, on=["postcode_norm", "key"], how="inner")
    hit = hit[hit["key"] != ""]
    no_pc = left[~left["_row"].isin(hit["_row"]) & ~prepared.loc[left["_row"], "postcode_given"].to_numpy()]
    unique_fk = addr.drop_duplicates("full_key", keep=False)[["full_key", "uprn"]]
    by_place = no_pc[["_row", "full_key"]].merge(unique_fk, on="full_key", how="inner")
    by_place = by_place[by_place["full_key"] != ""]
    hit = pd.concat([hit[["_row", "uprn"]], by_place[["_row", "uprn"]]], ignore_index=True)
    pos = prepared.index.get_indexer(hit["_row"])
    uprn[pos] = hit["uprn"].to_numpy(dtype=np.int64)
    level[pos] = "address"

    # 3. fuzzy within the postcode, against addresses and their aliases
    todo = (
        (level == "unmatched")
        & prepared["postcode_norm"].notna().to_numpy()
        & (prepared["key"] != "").to_numpy()
    )
    f_uprn, f_score = _fuzzy(prepared, todo, gz)
    got = f_uprn >= 0
    uprn[got] = f_uprn[got]
    score[got] = f_score[got]
    level[got] = "fuzzy"

    # Rungs 1-3 located a UPRN: take its OA and point.
    placed = uprn >= 0
    at = pd.Index(addr["uprn"]).get_indexer(uprn[placed])
    oa[placed] = addr["oa_code"].to_numpy()[at]
    x[placed] = addr["x"].to_numpy()[at]
    y[placed] = addr["y"].to_numpy()[at]

    # 4. street within the postcode sector (a postcode inferred from coordinates only
    #    chooses fuzzy candidates; such records fall through to their coordinates)
    todo = (level == "unmatched") & given
    s_id = _street(prepared, todo, gz)
    got = s_id >= 0
    level[got] = "street"
    oa[got] = gz.streets["oa_code"].to_numpy()[s_id[got]]
    x[got] = gz.streets["x"].to_numpy()[s_id[got]]
    y[got] = gz.streets["y"].to_numpy()[s_id[got]]

    # 5. postcode centroid
    todo = (level == "unmatched") & given
    pc_at = pd.Index(gz.postcodes["postcode_norm"]).get_indexer(prepared["postcode_norm"].to_numpy())
    got = todo & (pc_at >= 0)
    level[got] = "postcode"
    oa[got] = gz.postcodes["oa_code"].to_numpy()[pc_at[got]]
    x[got] = gz.postcodes["x"].to_numpy()[pc_at[got]]
    y[got] = gz.postcodes["y"].to_numpy()[pc_at[got]]

    # 6. given coordinates, point in polygon in PostGIS
    todo = (level == "unmatched") & has_xy
    outside = np.zeros(n, dtype=bool)
    if todo.any():
        if conn is None:
            raise ValueError("a connection is needed to place records by their coordinates")
        found = oas_for_points(conn, rx[todo], ry[todo])
        idx = np.flatnonzero(todo)
        got_oa = pd.notna(found)
        level[idx[got_oa]] = "coordinates"
        oa[idx[got_oa]] = found[got_oa]
        x[idx] = rx[idx]
        y[idx] = ry[idx]
        outside[idx[~got_oa]] = True

    # Where no rung located a point, keep the record's own coordinates for the map.
    keep_xy = np.isnan(x) & has_xy
    x[keep_xy] = rx[keep_xy]
    y[keep_xy] = ry[keep_xy]

    out = pd.DataFrame(
        {
            "match_level": level,
            "match_score": score,
            "uprn": pd.array(np.where(uprn >= 0, uprn, 0), dtype="Int64"),
            "oa_code": oa,
            "x": x,
            "y": y,
        },
        index=records.index,
    )
    out.loc[uprn < 0, "uprn"] = pd.NA
    lookup = gz.oa_lookup.set_index("oa_code")
    at = lookup.index.get_indexer(out["oa_code"])
    for column in ("lsoa_code", "ward_code", "district_code"):
        out[column] = np.where(at >= 0, lookup[column].to_numpy(dtype=object)[np.maximum(at, 0)], None)

    # Out of area: placed outside the wanted districts, or pointing somewhere we hold nothing.
    foreign_postcode = (
        (level == "unmatched")
        & given
        & ~outward_series(prepared["postcode_norm"]).isin(gz.outward_codes).to_numpy()
    )
    out_of_area = outside | foreign_postcode
    if districts:
        out_of_area |= (
            out["district_code"].notna().to_numpy() & ~out["district_code"].isin(districts).to_numpy()
        )
    out["out_of_area"] = out_of_area
    return out
