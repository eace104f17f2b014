"""Cross-system duplicates: the same incident recorded by several systems becomes one primary record.

The same-incident rule: two events are the same incident when they are for the same
service, at the same UPRN, recorded by *different* source systems, with event dates at
most ``days`` apart. Within such a pair the record from the higher-priority source is
the primary (``priority`` lists system-name prefixes, first is highest; unlisted
systems rank last), then the earlier date, then the lower id. A record that pairs with
several higher-ranked records points at the highest-ranked one.

Events placed only to a street, postcode or coordinates are never merged: without a
UPRN two reports from one street on one day may well be two incidents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def source_rank(systems: pd.Series, priority: list[str]) -> np.ndarray:
    """Rank of each source system: the index of the first priority prefix it starts with."""
    rank = np.full(len(systems), len(priority), dtype=np.int64)
    text = systems.astype(str)
    for i, prefix in reversed(list(enumerate(priority))):
        rank[text.str.startswith(prefix).to_numpy()] = i
    return rank


def duplicate_pairs(events: pd.DataFrame, priority: list[str], days: int) -> pd.DataFrame:
    """Return ``id, primary_id`` for every event that is a duplicate under the rule.

    ``events`` has id, service_code, uprn, event_date, source_system. Vectorised: one
    self-merge on (service, UPRN), restricted first to groups where more than one
    system recorded something, so the pairs stay few.
    """
    e = events.dropna(subset=["uprn"]).copy()
    if e.empty:
        return pd.DataFrame({"id": pd.Series(dtype=np.int64), "primary_id": pd.Series(dtype=np.int64)})
    systems = e.groupby(["service_code", "uprn"])["source_system"].transform("nunique")
    e = e[systems.to_numpy() > 1]
    e["rank"] = source_rank(e["source_system"], priority)
    e["day"] = pd.to_datetime(e["event_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    cols = ["id", "service_code", "uprn", "day", "source_system", "rank"]
    pairs = e[cols].merge(e[cols], on=["service_code", "uprn"], suffixes=("", "_p"))
    ahead = (pairs["rank_p"] < pairs["rank"]) | (
        (pairs["rank_p"] == pairs["rank"])
        & (
            (pairs["day_p"] < pairs["day"])
            | ((pairs["day_p"] == pairs["day"]) & (pairs["id_p"] < pairs["id"]))
        )
    )
    same = (
        (pairs["source_system"] != pairs["source_system_p"])
        & ((pairs["day"] - pairs["day_p"]).abs() <= days)
        & ahead
    )
    pairs = pairs[same.to_numpy()].sort_values(["id", "rank_p", "day_p", "id_p"])
    best = pairs.drop_duplicates("id")
    return pd.DataFrame({"id": best["id"].to_numpy(np.int64), "primary_id": best["id_p"].to_numpy(np.int64)})
