"""The batch runner: one file (or frame) in, one all-or-nothing batch out, with its report.

Flow for every kind: hash the input and refuse a file already loaded (same kind and
SHA-256) -> open a savepoint -> create the ``ingest_batch`` row -> read in chunks ->
map columns, drop personal columns, hash identifiers -> parse and reject bad rows ->
match (address-bearing kinds) -> remove out-of-area rows -> COPY into the target table
-> resolve duplicates (events) -> bump ``data_version`` -> store the report. Any error
rolls the savepoint back, so a failed batch leaves no rows behind and touches nothing
stored before; the caller's transaction decides when the batch becomes visible.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.contiguity import refresh_neighbours
from geo.analysis.h3cells import store_address_cells
from geo.db import load_sql
from geo.errors import DuplicateBatch, IngestError, IngestRowError, InvalidRequest, NotFound
from geo.exports import csv_text
from geo.ingest.anonymise import DroppedColumn, find_personal_columns, salted_hashes, scrub_free_text
from geo.ingest.copy import copy_frame, point_ewkt
from geo.ingest.fields import (
    Rejections,
    apply_value_maps,
    mapped_frame,
    numeric_problems,
    on_distinct,
    parse_dates,
    plan_columns,
    whole_numbers,
)
from geo.ingest.mapping import (
    BASE_FIELDS,
    FIELDS,
    HASHED_FIELDS,
    KINDS,
    Mapping,
    check_targets,
    resolve_mapping,
)
from geo.ingest.readers import CHUNK_ROWS, FileInfo, inspect_file, read_chunks
from geo.ingest.report import BatchReport
from geo.matching.duplicates import duplicate_pairs
from geo.matching.gazetteer import Gazetteer, load_gazetteer
from geo.matching.ladder import LEVELS, match_records

Progress = Callable[[int], None]

#: What a UPRN is (AddressBase UPRNs have at most 12 digits).
UPRN_EXPECTED = "a UPRN (a positive whole number of at most 12 digits)"
UPRN_MAX = 999_999_999_999

#: If more than this share of a file's rows is refused, the batch fails as a whole: the
#: mapping (a date format, a delimiter) is far more likely wrong than the data.
MAX_REJECTED_SHARE = 0.5

SAME_INCIDENT_RULE = (
    "Two events are the same incident when they are for the same service, at the same UPRN, "
    "recorded by different source systems, with event dates at most {days} day(s) apart. "
    "The record from the highest-priority source ({priority}; a system matches a priority "
    "entry by prefix) stays primary; ties go to the earlier date, then the earlier record. "
    "The others keep is_primary = false and duplicate_of = the primary's id."
)


@dataclass
class _Run:
    """State carried through one batch."""

    conn: Connection
    kind: str
    mapping: Mapping
    salt: str
    report: BatchReport
    batch_id: int = 0
    mapped: dict[str, str] = field(default_factory=dict)
    dropped: list[DroppedColumn] = field(default_factory=list)
    gazetteer: Gazetteer | None = None
    services: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)
    segments: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    #: classification code -> (family, tier, rank) for classifications loaded with tiers
    tier_classes: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    #: staging tables this batch has written (emptied on first use: one transaction may
    #: run several batches, and temp tables last until it commits)
    staged: set[str] = field(default_factory=set)
    spatial: list[pd.DataFrame] = field(default_factory=list)


# ----------------------------------------------------------------------------- entry points


def ingest_file(
    conn: Connection,
    kind: str,
    path: str | Path,
    *,
    salt: str,
    mapping: str | Path | dict[str, Any] | Mapping | None = None,
    preset: str | None = None,
    filename: str | None = None,
    created_by: str | None = None,
    max_bytes: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> BatchReport:
    """Ingest one file as one batch inside the caller's transaction; return its report.

    Raises
    ------
    DuplicateBatch
        The same file (kind and SHA-256) was loaded before; nothing changed.
    IngestRowError
        The file, or too many of its rows, is not what was expected; nothing was stored.
    """
    _check_kind(kind)
    resolved = resolve_mapping(mapping, preset)
    info = inspect_file(Path(path), filename, max_bytes=max_bytes)
    return _run(
        conn,
        kind,
        resolved,
        salt,
        info.filename,
        info.sha256,
        created_by,
        read_chunks(info, resolved, chunk_rows=chunk_rows),
        progress,
    )


def ingest_frame(
    conn: Connection,
    kind: str,
    frame: pd.DataFrame,
    mapping: str | Path | dict[str, Any] | Mapping | None = None,
    *,
    salt: str,
    preset: str | None = None,
    filename: str | None = None,
    created_by: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> BatchReport:
    """Ingest an in-memory frame (all values read as text) exactly as a file would be.

    The batch's SHA-256 is of the frame's CSV rendering, so the same frame twice is a
    duplicate batch. Rows are numbered from 2, as if row 1 held the header.
    """
    _check_kind(kind)
    resolved = resolve_mapping(mapping, preset)
    from geo.ingest.readers import frame_sha256

    text_frame = frame.astype("string").fillna("").astype(object)
    text_frame.columns = [str(c) for c in text_frame.columns]
    digest = frame_sha256(text_frame)

    def chunks() -> Iterator[pd.DataFrame]:
        for start in range(0, max(len(text_frame), 1), chunk_rows):
            part = text_frame.iloc[start : start + chunk_rows].copy()
            part.index = pd.RangeIndex(start + 2, start + 2 + len(part))
            yield part

    return _run(conn, kind, resolved, salt, filename, digest, created_by, chunks(), progress)


def record_failed_batch(
    conn: Connection, kind: str, filename: str | None, sha256: str, error: str, created_by: str | None
) -> int | None:
    """Record a failed attempt (no rows) so the batch list shows it; return its id.

    Earlier failed attempts of the same file are replaced; a loaded batch of the same
    file is untouched (a failed attempt never blocks nor replaces a load).
    """
    conn.execute(
        text("DELETE FROM ingest_batch WHERE kind = :k AND sha256 = :s AND status = 'failed'"),
        {"k": kind, "s": sha256},
    )
    report = {"kind": kind, "filename": filename, "sha256": sha256, "status": "failed", "error": error}
    found = conn.execute(
        text(
            "INSERT INTO ingest_batch (kind, filename, sha256, status, finished_at, rows_received, "
            "rows_loaded, report, created_by) VALUES (:k, :f, :s, 'failed', now(), 0, 0, "
            "CAST(:r AS jsonb), :c) RETURNING id"
        ),
        {"k": kind, "f": filename, "s": sha256, "r": _json(report), "c": created_by},
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise IngestError(f"`kind` was {kind!r} but is expected to be one of {list(KINDS)}")


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


# ----------------------------------------------------------------------------- the run


def _run(
    conn: Connection,
    kind: str,
    mapping: Mapping,
    salt: str,
    filename: str | None,
    sha256: str,
    created_by: str | None,
    chunks: Iterator[pd.DataFrame],
    progress: Progress | None,
) -> BatchReport:
    started = time.perf_counter()
    # A mapping naming fields the kind lacks is refused before anything else is looked at.
    check_targets(kind, mapping)
    existing = conn.execute(
        text(
            "SELECT id, status FROM ingest_batch WHERE kind = :k AND sha256 = :s "
            "AND status IN ('loading', 'loaded')"
        ),
        {"k": kind, "s": sha256},
    ).one_or_none()
    if existing is not None:
        raise DuplicateBatch(
            f"this file was already ingested as {kind} batch {existing.id}; nothing changed "
            f"(undo it first with `wardwise ingest undo {existing.id}` to load it again)",
            existing.id,
        )
    report = BatchReport(kind=kind, filename=filename, sha256=sha256)
    with conn.begin_nested():
        batch_id = int(
            conn.execute(
                text(
                    "INSERT INTO ingest_batch (kind, filename, sha256, status, rows_received, rows_loaded, "
                    "created_by) VALUES (:k, :f, :s, 'loading', 0, 0, :c) RETURNING id"
                ),
                {"k": kind, "f": filename, "s": sha256, "c": created_by},
            ).scalar_one()
        )
        report.batch_id = batch_id
        run = _Run(conn, kind, mapping, salt, report, batch_id)
        _prepare_reference(run)
        first = True
        clock = time.perf_counter()
        for chunk in chunks:
            report.add_time("read", time.perf_counter() - clock)
            if first:
                _plan(run, chunk)
                first = False
            if chunk.empty:
                continue
            report.rows_received += len(chunk)
            _chunk(run, chunk)
            if progress is not None:
                progress(len(chunk))
            clock = time.perf_counter()
        if first or report.rows_received == 0:
            raise IngestRowError(2, None, "at least one data row", "none")
        if report.rows_loaded == 0:
            # A batch that loads nothing is a failure, with its reasons; it never blocks a retry.
            raise IngestRowError(*_nothing_loaded(report))
        refused = report.rows_rejected / report.rows_received
        if refused > MAX_REJECTED_SHARE:
            first_bad = report.rejected_sample[0] if report.rejected_sample else {}
            raise IngestRowError(
                first_bad.get("row"),
                first_bad.get("field"),
                f"mostly valid rows (at most {MAX_REJECTED_SHARE:.0%} refused; check the mapping's "
                f"date_format, delimiter and columns): {first_bad.get('reason')}",
                f"{report.rows_rejected:,} of {report.rows_received:,} rows refused",
            )
        clock = time.perf_counter()
        _finish(run)
        report.add_time("finish", time.perf_counter() - clock)
        report.status = "loaded"
        report.elapsed_s = round(time.perf_counter() - started, 3)
        conn.execute(
            text(
                "UPDATE ingest_batch SET status = 'loaded', finished_at = now(), rows_received = :rr, "
                "rows_loaded = :rl, report = CAST(:rep AS jsonb) WHERE id = :id"
            ),
            {
                "rr": report.rows_received,
                "rl": report.rows_loaded,
                "rep": _json(report.to_dict()),
                "id": batch_id,
            },
        )
    return report


def _nothing_loaded(report: BatchReport) -> tuple[int | None, str | None, str, str]:
    """(row, field, expected, got) for a batch that loaded no rows: why each row went."""
    first = report.rejected_sample[0] if report.rejected_sample else {}
    reasons = [f"{n:,} rejected ({reason})" for reason, n in report.rejected_by_reason.items()]
    if report.out_of_scope:
        reasons.append(f"{report.out_of_scope:,} out of scope (no translation in the mapping's `values`)")
    if report.out_of_area:
        reasons.append(f"{report.out_of_area:,} out of area (outside the loaded areas or `districts`)")
    refused = f"{report.rows_rejected:,} of {report.rows_received:,} rows refused"
    expected = "at least one row loaded"
    if first:
        expected += f" (the first refused row's `{first.get('field')}` {first.get('reason')})"
    return (
        first.get("row"),
        first.get("field"),
        expected,
        f"none of {report.rows_received:,} rows loaded ({refused}): "
        + "; ".join(reasons or ["no usable rows"]),
    )


def _prepare_reference(run: _Run) -> None:
    conn = run.conn
    if run.mapping.services and run.kind in ("events", "area-counts"):
        from geo.catalogue import ensure_services

        run.report.notes.extend(ensure_services(conn, run.mapping.services))
    if run.kind == "area-counts":
        run.services = set(conn.execute(text("SELECT code FROM service")).scalars())
    if run.kind in ("events", "households", "survey"):
        clock = time.perf_counter()
        run.gazetteer = load_gazetteer(conn)
        run.report.add_time("gazetteer", time.perf_counter() - clock)
    if run.kind == "events":
        run.services = set(conn.execute(text("SELECT code FROM service")).scalars())
        run.channels = set(conn.execute(text("SELECT code FROM channel")).scalars())
        prio = ", ".join(run.mapping.source_priority) or "alphabetical"
        run.report.same_incident_rule = SAME_INCIDENT_RULE.format(
            days=run.mapping.same_incident_days, priority=prio
        )


def _plan(run: _Run, chunk: pd.DataFrame) -> None:
    """Map columns and judge personal columns once, on the first chunk."""
    columns = [c for c in chunk.columns if c != getattr(chunk, "_geometry_column_name", None)]
    run.mapped = plan_columns(run.kind, run.mapping, columns)
    if run.kind == "area-statistics":
        run.mapped.update(_variable_columns(run.mapping, columns))
        if not any(f in run.mapped for f in BASE_FIELDS) and not run.mapping.variables:
            raise IngestRowError(
                1,
                ", ".join(BASE_FIELDS),
                f"a column for at least one base {list(BASE_FIELDS)} or mapped `variables`",
                columns,
            )
    person_kind = run.kind in ("events", "households", "survey")
    run.dropped = find_personal_columns(
        chunk[columns],
        mapped=run.mapped,
        explicit=run.mapping.drop,
        check_names=person_kind,
        keep=run.mapping.keep,
    )
    from geo.ingest.mapping import column_key

    kept = [c for c in columns if column_key(c) in {column_key(k) for k in run.mapping.keep}]
    if kept:
        run.report.notes.append(f"kept at the mapping's request (never checked as personal): {kept}")
    dropped_names = {d.column for d in run.dropped}
    for target, source in list(run.mapped.items()):
        if source in dropped_names and target not in HASHED_FIELDS:
            del run.mapped[target]
    run.report.personal_columns_dropped = [{"column": d.column, "reason": d.reason} for d in run.dropped]
    used = set(run.mapped.values()) | dropped_names
    run.report.columns_ignored = [c for c in columns if c not in used]
    run.report.columns_used = dict(run.mapped)
    run.report.hashed_fields = [f for f in HASHED_FIELDS if f in run.mapped]
    spec = FIELDS[run.kind]
    missing = [f for f in spec["required"] if f not in run.mapped and f not in run.mapping.constants]
    if missing:
        raise IngestRowError(
            1, ", ".join(missing), "a non-personal column for each required field", "only personal columns"
        )


def _reject(run: _Run, rejections: Rejections) -> None:
    if not len(rejections):
        return
    rows = sorted(rejections.rows, key=lambda r: int(r["row_number"]))
    run.report.add_rejections(rows)
    frame = pd.DataFrame(
        {
            "batch_id": run.batch_id,
            "row_number": [r["row_number"] for r in rows],
            "field": [r["field"] for r in rows],
            "reason": [r["reason"] for r in rows],
            "values": [_json(_scrubbed(r["values"])) for r in rows],
        }
    )
    copy_frame(run.conn, "ingest_rejected_row", frame)


def _scrubbed(values: Any) -> Any:
    """A rejected row's values with e-mail addresses and phone numbers removed from every text
    value, as stored rows' addresses are (issue 15: rejected rows kept them verbatim)."""
    if not isinstance(values, dict) or not values:
        return values
    keys = [k for k, v in values.items() if isinstance(v, str)]
    if not keys:
        return values
    clean = scrub_free_text(pd.Series([values[k] for k in keys], dtype=object))
    return {
        **values,
        **{k: (None if pd.isna(v) else str(v).strip()) for k, v in zip(keys, clean, strict=True)},
    }


def _chunk(run: _Run, chunk: pd.DataFrame) -> None:
    clock = time.perf_counter()
    frame = mapped_frame(chunk, run.mapped, run.mapping)
    if "address" in frame:
        frame["address"] = on_distinct(frame["address"], scrub_free_text)
    # Hash identifiers before anything else touches them; the clear values go no further.
    for name in HASHED_FIELDS:
        if name in frame:
            namespace = (
                frame["source_system"].astype(str)
                if name == "source_ref" and "source_system" in frame
                else name
            )
            frame[name] = salted_hashes(frame[name], run.salt, namespace)
    # Value maps; an empty value is a rejection, an unknown one is out of scope.
    rejections = Rejections()
    required = FIELDS[run.kind]["required"]
    for target in run.mapping.values:
        if target in frame and target in required:
            empty = _is_empty(frame[target])
            rejections.add(frame, empty, target, "is empty; expected a value")
            frame = frame.loc[~empty.to_numpy()]
    frame, out_of_scope = apply_value_maps(frame, run.mapping, required)
    run.report.out_of_scope += out_of_scope
    if run.kind == "areas":
        frame["__geometry"] = (
            chunk.loc[frame.index, chunk.geometry.name] if hasattr(chunk, "geometry") else None
        )
    run.report.add_time("prepare", time.perf_counter() - clock)
    handler = _HANDLERS[run.kind]
    handler(run, frame, rejections)


# ----------------------------------------------------------------------------- shared steps


def _is_empty(values: pd.Series) -> pd.Series:
    """True where a value is missing or blank (judged once per distinct value)."""
    blank = on_distinct(values, lambda u: u.astype("string").fillna("").str.strip() == "")
    return blank.where(blank.notna(), True).astype(bool)


def _required_present(frame: pd.DataFrame, names: tuple[str, ...], rejections: Rejections) -> pd.DataFrame:
    for name in names:
        if name not in frame:
            continue
        empty = _is_empty(frame[name])
        rejections.add(frame, empty, name, "is empty; expected a value")
        frame = frame.loc[~empty.to_numpy()]
    return frame


def _coordinates_ok(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> pd.DataFrame:
    if "uprn" in frame and run.kind != "gazetteer":
        frame, _ = whole_numbers(
            frame, "uprn", rejections, required=False, what=UPRN_EXPECTED, minimum=1, maximum=UPRN_MAX
        )
    bad_any = np.zeros(len(frame), dtype=bool)
    for name, bad, expected in numeric_problems(frame, run.mapping.crs):
        rejections.add(frame.loc[~bad_any], bad[~bad_any], name, f"expected {expected}")
        bad_any |= bad
    return frame.loc[~bad_any]


def _match(run: _Run, frame: pd.DataFrame) -> pd.DataFrame:
    assert run.gazetteer is not None
    clock = time.perf_counter()
    result = match_records(
        run.conn,
        frame,
        run.gazetteer,
        crs=run.mapping.crs,
        address_prefix=run.mapping.address_prefix,
        districts=run.mapping.districts or None,
    )
    run.report.add_time("match", time.perf_counter() - clock)
    out = result["out_of_area"].to_numpy(dtype=bool)
    run.report.out_of_area += int(out.sum())
    kept = result.loc[~out]
    run.report.add_levels(kept["match_level"].value_counts().to_dict())
    return kept


def _household_keys(run: _Run, frame: pd.DataFrame, matched: pd.DataFrame) -> pd.Series:
    """A household's key: the hashed household id if given, else sha256(salt:uprn)[:32]."""
    if "household_id" in frame:
        given = frame["household_id"].astype(object)
    elif "person_id" in frame:
        given = frame["person_id"].astype(object)
    else:
        given = pd.Series(None, index=frame.index, dtype=object)
    uprn = matched["uprn"]
    keys = pd.Series(None, index=frame.index, dtype=object)
    has = uprn.notna().to_numpy()
    if has.any():
        uniq, inverse = np.unique(uprn[has].astype(np.int64).to_numpy(), return_inverse=True)
        hashed = np.array(
            [hashlib.sha256(f"{run.salt}:{u}".encode()).hexdigest()[:32] for u in uniq.tolist()]
        )
        keys[has] = hashed[inverse]
    return given.where(given.notna(), keys)


# ----------------------------------------------------------------------------- events


def _events(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    frame = _required_present(frame, ("service_code", "event_date", "source_system"), rejections)
    unknown = ~frame["service_code"].isin(run.services)
    rejections.add(
        frame, unknown, "service_code", f"is not a known service; expected one of {sorted(run.services)}"
    )
    frame = frame.loc[~unknown.to_numpy()]
    dates, failed = parse_dates(frame["event_date"], run.mapping.date_format, run.mapping.dayfirst)
    fmt = run.mapping.date_format or "an ISO 8601 date (YYYY-MM-DD)"
    rejections.add(frame, failed, "event_date", f"is not a date; expected {fmt}")
    frame = frame.loc[~failed]
    dates = dates.loc[frame.index]
    frame = _coordinates_ok(run, frame, rejections)
    dates = dates.loc[frame.index]
    _reject(run, rejections)
    if frame.empty:
        return
    matched = _match(run, frame)
    frame = frame.loc[matched.index]
    channel = (
        on_distinct(
            frame["channel"],
            lambda u: u.astype("string").str.strip().str.lower().str.replace(r"[^a-z0-9]+", "_", regex=True),
        )
        if "channel" in frame
        else pd.Series(None, index=frame.index, dtype=object)
    )
    channel = channel.where(channel.isin(run.channels), None)
    rows = pd.DataFrame(
        {
            "service_code": frame["service_code"].to_numpy(),
            "event_date": dates.loc[frame.index].dt.strftime("%Y-%m-%d").to_numpy(),
            "channel": channel.astype(object).to_numpy(),
            "source_system": frame["source_system"].astype(str).to_numpy(),
            "source_ref_hash": frame["source_ref"].to_numpy() if "source_ref" in frame else None,
            "match_level": matched["match_level"].to_numpy(),
            "uprn": matched["uprn"].array,
            "household_key": _household_keys(run, frame, matched).to_numpy(),
            "oa_code": matched["oa_code"].to_numpy(),
            "lsoa_code": matched["lsoa_code"].to_numpy(),
            "ward_code": matched["ward_code"].to_numpy(),
            "district_code": matched["district_code"].to_numpy(),
            "is_primary": True,
            "batch_id": run.batch_id,
            "geom": point_ewkt(matched["x"].to_numpy(), matched["y"].to_numpy()),
        }
    )
    clock = time.perf_counter()
    run.report.rows_loaded += copy_frame(run.conn, "service_event", rows)
    run.report.add_time("store", time.perf_counter() - clock)


def _finish_events(run: _Run) -> None:
    conn = run.conn
    services = list(
        conn.execute(load_sql("ingest/services_shared_across_systems"), {"batch_id": run.batch_id}).scalars()
    )
    if not services:
        return
    result = conn.execute(
        load_sql("ingest/events_at_batch_uprns"), {"batch_id": run.batch_id, "services": services}
    )
    events = pd.DataFrame(result.all(), columns=list(result.keys()))
    if events.empty:
        return
    pairs = duplicate_pairs(events, list(run.mapping.source_priority), run.mapping.same_incident_days)
    current = events.set_index("id")
    changed = pairs[
        current.loc[pairs["id"], "is_primary"].to_numpy(dtype=bool)
        | (current.loc[pairs["id"], "duplicate_of"].to_numpy() != pairs["primary_id"].to_numpy())
    ]
    conn.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS ingest_duplicate_pairs "
            "(id bigint, primary_id bigint) ON COMMIT DROP"
        )
    )
    conn.execute(text("TRUNCATE ingest_duplicate_pairs"))
    copy_frame(conn, "ingest_duplicate_pairs", changed)
    conn.execute(load_sql("ingest/mark_duplicates"))
    run.report.duplicates_resolved = len(changed)


# ----------------------------------------------------------------------------- households, survey


def _households(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    frame = _required_present(frame, ("classification", "segment_code"), rejections)
    frame = _coordinates_ok(run, frame, rejections)
    matched = _match(run, frame) if not frame.empty else frame
    if not frame.empty:
        frame = frame.loc[matched.index]
        no_uprn = matched["uprn"].isna().to_numpy()
        rejections.add(
            frame,
            no_uprn,
            "address",
            "matched no single address; expected a UPRN or an address in the gazetteer",
        )
        frame, matched = frame.loc[~no_uprn], matched.loc[~no_uprn]
    _reject(run, rejections)
    if frame.empty:
        return
    rows = pd.DataFrame(
        {
            "uprn": matched["uprn"].array,
            "classification_code": frame["classification"].astype(str).to_numpy(),
            "segment_code": frame["segment_code"].astype(str).str.strip().to_numpy(),
        }
    ).drop_duplicates(["uprn", "classification_code"], keep="last")
    for cls, seg in rows[["classification_code", "segment_code"]].drop_duplicates().itertuples(index=False):
        run.segments.setdefault(f"{cls}\x1f{seg}", (None, None, None))
    _stage(run, rows, "households")
    run.report.rows_loaded += len(rows)


def _survey(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    frame = _required_present(frame, ("survey_code", "question", "answer"), rejections)
    dates = None
    if "response_date" in frame:
        dates, failed = parse_dates(frame["response_date"], run.mapping.date_format, run.mapping.dayfirst)
        failed &= True
        rejections.add(
            frame,
            failed,
            "response_date",
            f"is not a date; expected {run.mapping.date_format or 'YYYY-MM-DD'}",
        )
        frame = frame.loc[~failed]
    frame = _coordinates_ok(run, frame, rejections)
    _reject(run, rejections)
    if frame.empty:
        return
    matched = _match(run, frame)
    frame = frame.loc[matched.index]
    rows = pd.DataFrame(
        {
            "survey_code": frame["survey_code"].astype(str).to_numpy(),
            "question": frame["question"].astype(str).to_numpy(),
            "answer": frame["answer"].astype(str).to_numpy(),
            "response_date": dates.loc[frame.index].dt.strftime("%Y-%m-%d").to_numpy()
            if dates is not None
            else None,
            "household_key": _household_keys(run, frame, matched).to_numpy(),
            "uprn": matched["uprn"].array,
            "match_level": matched["match_level"].to_numpy(),
            "oa_code": matched["oa_code"].to_numpy(),
            "batch_id": run.batch_id,
            "geom": point_ewkt(matched["x"].to_numpy(), matched["y"].to_numpy()),
        }
    )
    run.report.rows_loaded += copy_frame(run.conn, "survey_response", rows)


# ----------------------------------------------------------------------------- postcodes, gazetteer


def _points(run: _Run, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    from geo.matching.ladder import _coordinates

    return _coordinates(frame, run.mapping.crs)


def _postcodes(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    from geo.matching.spatial import oas_for_points
    from geo.text import normalise_postcode_series

    norm = normalise_postcode_series(frame["postcode"])
    bad = norm.isna().to_numpy()
    rejections.add(frame, bad, "postcode", "is not a UK postcode; expected e.g. 'BS1 1AD'")
    frame, norm = frame.loc[~bad], norm.loc[~bad]
    frame = _coordinates_ok(run, frame, rejections)
    norm = norm.loc[frame.index]
    x, y = _points(run, frame)
    no_xy = np.isnan(x)
    rejections.add(
        frame, no_xy, "x, y", "has no coordinates; expected an easting/northing or longitude/latitude"
    )
    keep = ~no_xy
    frame, norm, x, y = frame.loc[keep], norm.loc[keep], x[keep], y[keep]
    _reject(run, rejections)
    if frame.empty:
        return
    if "oa_code" in frame:
        oa = frame["oa_code"].astype("string").replace("", pd.NA).astype(object).to_numpy()
        known = set(run.conn.execute(text("SELECT code FROM area WHERE level = 'oa'")).scalars())
        oa = np.where(pd.Series(oa).isin(known).to_numpy(), oa, None)
    else:
        oa = oas_for_points(run.conn, x, y)
    outside = pd.isna(oa)
    run.report.out_of_area += int(outside.sum())
    run.report.add_levels({"coordinates": int((~outside).sum())})
    compact = norm.astype(str)
    rows = pd.DataFrame(
        {
            "postcode_norm": compact.to_numpy(),
            "postcode": (compact.str[:-3] + " " + compact.str[-3:]).to_numpy(),
            "oa_code": oa,
            "district_code": frame["district_code"].to_numpy() if "district_code" in frame else None,
            "x": x,
            "y": y,
        }
    )[~outside].drop_duplicates("postcode_norm", keep="last")
    _stage(run, rows, "postcodes")
    run.report.rows_loaded += len(rows)


def _gazetteer(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    from geo.matching.spatial import oas_for_points
    from geo.text import normalise_address_series, normalise_postcode_series

    frame, parsed = whole_numbers(
        frame, "uprn", rejections, required=True, what=UPRN_EXPECTED, minimum=1, maximum=UPRN_MAX
    )
    uprn = parsed.astype(np.int64)
    frame = _coordinates_ok(run, frame, rejections)
    uprn = uprn.loc[frame.index]
    x, y = _points(run, frame)
    no_xy = np.isnan(x)
    rejections.add(
        frame, no_xy, "x, y", "has no coordinates; expected an easting/northing or longitude/latitude"
    )
    keep = ~no_xy
    frame, uprn, x, y = frame.loc[keep], uprn.loc[keep], x[keep], y[keep]
    _reject(run, rejections)
    if frame.empty:
        return

    def col(name: str) -> pd.Series:
        return (
            frame[name].astype("string").fillna("").str.strip()
            if name in frame
            else pd.Series("", index=frame.index, dtype="string")
        )

    postcode = normalise_postcode_series(col("postcode"))
    parts = (col("saon") + " " + col("paon") + " " + col("street")).str.strip()
    text_ = col("address").where(col("address") != "", parts)
    oa = frame["oa_code"].to_numpy() if "oa_code" in frame else oas_for_points(run.conn, x, y)
    rows = pd.DataFrame(
        {
            "uprn": uprn.to_numpy(),
            "address_text": text_.to_numpy(dtype=object),
            "address_norm": normalise_address_series(
                (parts.where(parts != "", text_) + " " + postcode.fillna("").astype(str)).astype(object)
            ).to_numpy(),
            "saon": col("saon").replace("", pd.NA).to_numpy(dtype=object),
            "paon": col("paon").replace("", pd.NA).to_numpy(dtype=object),
            "street": col("street").replace("", pd.NA).to_numpy(dtype=object),
            "street_norm": normalise_address_series(col("street").astype(object)).to_numpy(),
            "locality": col("locality").replace("", pd.NA).to_numpy(dtype=object),
            "town": col("town").replace("", pd.NA).to_numpy(dtype=object),
            "postcode": (postcode.str[:-3] + " " + postcode.str[-3:]).to_numpy(dtype=object),
            "postcode_norm": postcode.to_numpy(dtype=object),
            "is_residential": ~col("is_residential").str.lower().isin(["false", "no", "n", "0"]).to_numpy(),
            "oa_code": oa,
            "alias": col("alias").replace("", pd.NA).to_numpy(dtype=object),
            "x": x,
            "y": y,
        }
    ).drop_duplicates("uprn", keep="last")
    run.report.add_levels({"coordinates": int(pd.notna(rows["oa_code"]).sum())})
    _stage(run, rows, "gazetteer")
    run.report.rows_loaded += len(rows)


# ----------------------------------------------------------------------------- area classification


def _bases(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> pd.DataFrame:
    """Parse the base fields a frame carries (households, population); reject bad values."""
    for name in BASE_FIELDS:
        if name in frame:
            frame, values = whole_numbers(
                frame, name, rejections, required=False, what=f"a whole number of {name} (0 or more)"
            )
            frame = frame.copy()
            frame[name] = values
    return frame


def _known_areas(run: _Run, codes: pd.Series) -> np.ndarray:
    if run.mapping.vintage == "oa21":
        from geo.ingest.vintage import known_oa21

        return known_oa21(run.conn, codes)
    known = set(
        run.conn.execute(
            text("SELECT code FROM area WHERE code = ANY(:codes)"), {"codes": list(codes.unique())}
        ).scalars()
    )
    return codes.isin(known).to_numpy()


def _stage_bases(run: _Run, frame: pd.DataFrame) -> int:
    """Stage the bases of known areas; return how many areas carry at least one."""
    present = [n for n in BASE_FIELDS if n in frame]
    if not present:
        return 0
    has = np.zeros(len(frame), dtype=bool)
    for n in present:
        has |= frame[n].notna().to_numpy()
    rows = pd.DataFrame(
        {
            "area_code": frame["area_code"].astype(str).str.strip().to_numpy(),
            **{
                n: (frame[n] if n in frame else pd.Series(pd.NA, index=frame.index)).array
                for n in BASE_FIELDS
            },
        }
    )[has].drop_duplicates("area_code", keep="last")
    _stage(run, rows, "area_bases")
    return len(rows)


def _area_classification(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    frame = _required_present(frame, ("area_code", "classification"), rejections)
    frame = _bases(run, frame, rejections)
    frame["area_code"] = frame["area_code"].astype(str).str.strip()
    inside = _known_areas(run, frame["area_code"])
    _stage_bases(run, frame.loc[inside])
    empty = frame["segment_code"].astype("string").fillna("").str.strip() == ""
    rejections.add(frame, empty, "segment_code", "is empty: this area has no class in the classification")
    frame, inside = frame.loc[~empty.to_numpy()], inside[~empty.to_numpy()]
    _reject(run, rejections)
    if frame.empty:
        return
    run.report.out_of_area += int((~inside).sum())
    frame = frame.loc[inside]
    seg = frame["segment_code"].astype(str).str.strip().str.lower()
    for c in ("segment_name", "parent_segment", "parent_segment_name"):
        if c not in frame:
            frame[c] = None
    firsts = frame.assign(seg_norm=seg.to_numpy()).drop_duplicates(["classification", "seg_norm"])
    for r in firsts.itertuples(index=False):
        parent = str(r.parent_segment).strip().lower() if r.parent_segment else None
        run.segments[f"{r.classification}\x1f{r.seg_norm}"] = (
            r.segment_name or None,
            parent,
            r.parent_segment_name or None,
        )
    rows = pd.DataFrame(
        {
            "area_code": frame["area_code"].to_numpy(),
            "classification_code": frame["classification"].astype(str).to_numpy(),
            "segment_code": seg.to_numpy(),
        }
    ).drop_duplicates(["area_code", "classification_code"], keep="last")
    run.report.add_levels({"area_code": len(rows)})
    run.report.rows_loaded += len(rows)
    tiers = _tier_rows(run, frame)
    _stage(run, pd.concat([rows, *tiers]) if tiers else rows, "area_classification")


def _tier_rows(run: _Run, frame: pd.DataFrame) -> list[pd.DataFrame]:
    """The coarser tiers' rows (OAC groups and supergroups) from the same file.

    The finest tier keeps the classification's code; tier ``t`` above it is the
    classification ``<code>_<t>``, whose segments' parents are the tier above.
    """
    tiers = run.mapping.tiers
    if not tiers:
        return []
    out: list[pd.DataFrame] = []
    parent_col: str | None = None
    for rank, tier in enumerate(tiers[:-1]):
        code_col, name_col = f"tier{rank + 1}_code", f"tier{rank + 1}_name"
        if code_col not in frame:
            continue
        codes = frame[code_col].astype("string").fillna("").str.strip().str.lower()
        have = (codes != "").to_numpy()
        for cls in frame["classification"].astype(str).unique():
            tier_cls = f"{cls}_{tier}"
            run.tier_classes[tier_cls] = (cls, tier, rank)
            run.tier_classes.setdefault(cls, (cls, tiers[-1], len(tiers) - 1))
            part = frame.loc[have & (frame["classification"].astype(str) == cls).to_numpy()]
            pcodes = codes[have & (frame["classification"].astype(str) == cls).to_numpy()]
            firsts = part.assign(tier_code_norm=pcodes.to_numpy()).drop_duplicates("tier_code_norm")
            for r in firsts.itertuples(index=False):
                name = getattr(r, name_col, None) if name_col in part else None
                parent = (
                    str(getattr(r, parent_col)).strip().lower()
                    if parent_col is not None and getattr(r, parent_col, None)
                    else None
                )
                run.segments[f"{tier_cls}\x1f{r.tier_code_norm}"] = (name or None, parent, None)
            out.append(
                pd.DataFrame(
                    {
                        "area_code": part["area_code"].to_numpy(),
                        "classification_code": tier_cls,
                        "segment_code": pcodes.to_numpy(),
                    }
                ).drop_duplicates(["area_code"], keep="last")
            )
        parent_col = code_col
    return out


#: Prefix of a census variable's column in a mapped area-statistics frame.
_VARIABLE = "variable:"


def _variable_columns(mapping: Mapping, columns: list[str]) -> dict[str, str]:
    """``variable:<name>`` -> source column for the mapping's census variables (all present)."""
    from geo.ingest.mapping import column_key

    by_key = {column_key(c): c for c in columns}
    out: dict[str, str] = {}
    for name, source in mapping.variable_columns().items():
        found = by_key.get(column_key(source))
        if found is None:
            raise IngestRowError(1, f"variables.{name}", f"a column {source!r}", columns)
        out[f"{_VARIABLE}{name}"] = found
    return out


def _variables(frame: pd.DataFrame, rejections: Rejections) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse the census variables (any finite number; empty = not stored); reject the rest.

    Returns the kept rows and the long ``area_code, variable, value`` rows to stage.
    """
    names = [c for c in frame.columns if c.startswith(_VARIABLE)]
    if not names:
        return frame, pd.DataFrame(columns=["area_code", "variable", "value"])
    raw = frame[names].astype("string").apply(lambda col: col.str.strip().str.replace(",", "", regex=False))
    empty = raw.isna() | (raw == "")
    values = raw.apply(lambda col: pd.to_numeric(col, errors="coerce")).astype(float)
    bad = ~empty & ~np.isfinite(values.fillna(0.0)) | (~empty & values.isna())
    for name in names:
        rejections.add(
            frame, bad[name].to_numpy(), name[len(_VARIABLE) :], "is not a number; expected a number"
        )
    keep = ~bad.any(axis=1).to_numpy()
    frame, values = frame.loc[keep], values.loc[keep]
    long = (
        values.set_axis([n[len(_VARIABLE) :] for n in names], axis=1)
        .assign(area_code=frame["area_code"].astype(str).str.strip().to_numpy())
        .melt(id_vars="area_code", var_name="variable", value_name="value")
        .dropna(subset=["value"])
        .drop_duplicates(["area_code", "variable"], keep="last")
    )
    return frame, long


def _area_statistics(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    frame = _required_present(frame, ("area_code",), rejections)
    frame = _bases(run, frame, rejections)
    frame, variables = _variables(frame, rejections)
    _reject(run, rejections)
    if frame.empty:
        return
    frame["area_code"] = frame["area_code"].astype(str).str.strip()
    inside = _known_areas(run, frame["area_code"])
    run.report.out_of_area += int((~inside).sum())
    loaded = _stage_bases(run, frame.loc[inside])
    if not variables.empty:
        variables = variables[variables["area_code"].isin(set(frame.loc[inside, "area_code"]))]
        _stage(run, variables, "area_variables")
        loaded = max(loaded, int(variables["area_code"].nunique()))
    run.report.add_levels({"area_code": loaded})
    run.report.rows_loaded += loaded


#: Markers of a suppressed small count: `*`, `c`, `x`, `..`, `-`, `<5` (the number is the
#: threshold) and blank.
_SUPPRESSED = r"^\s*(\*|c|x|\.\.|-|<\s*(\d+)|)\s*$"


def _area_counts(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    frame = _required_present(frame, ("area_code", "service_code", "period"), rejections)
    unknown = ~frame["service_code"].isin(run.services)
    rejections.add(
        frame,
        unknown,
        "service_code",
        f"is not a known service; expected one of {sorted(run.services)} "
        "(create it with `wardwise services create`)",
    )
    frame = frame.loc[~unknown.to_numpy()]
    dates, failed = parse_dates(frame["period"], run.mapping.date_format, run.mapping.dayfirst)
    fmt = run.mapping.date_format or "a date or month (YYYY-MM-DD or YYYY-MM)"
    rejections.add(frame, failed, "period", f"is not a date; expected {fmt}")
    frame, dates = frame.loc[~failed], dates.loc[~failed]
    raw = frame["count"].astype("string").fillna("")
    marker = raw.str.extract(_SUPPRESSED, flags=__import__("re").IGNORECASE)
    suppressed = marker[0].notna().to_numpy()
    threshold = run.mapping.suppression_threshold
    count_max = pd.to_numeric(marker[1], errors="coerce").fillna(threshold).astype(int) - 1
    counted, values = whole_numbers(
        frame.loc[~suppressed], "count", rejections, required=True, what="a count (a whole number, 0 or more)"
    )
    keep = frame.index.isin(counted.index) | suppressed
    frame = frame.loc[keep]
    _reject(run, rejections)
    if frame.empty:
        return
    frame["area_code"] = frame["area_code"].astype(str).str.strip()
    inside = _known_areas(run, frame["area_code"])
    run.report.out_of_area += int((~inside).sum())
    frame = frame.loc[inside]
    is_suppressed = pd.Series(suppressed, index=raw.index).loc[frame.index]
    rows = pd.DataFrame(
        {
            "service_code": frame["service_code"].to_numpy(),
            "area_code": frame["area_code"].to_numpy(),
            "period_start": dates.loc[frame.index].dt.strftime("%Y-%m-%d").to_numpy(),
            "count": values.reindex(frame.index).array,
            "suppressed": is_suppressed.to_numpy(),
            "count_max": np.where(
                is_suppressed.to_numpy(),
                pd.Series(count_max.to_numpy(), index=raw.index).loc[frame.index],
                None,
            ),
        }
    )
    _stage(run, rows, "area_counts")
    run.report.rows_loaded += len(rows)
    n_supp = int(is_suppressed.sum())
    run.report.add_levels({"counted": len(rows) - n_supp, "suppressed": n_supp})


# ----------------------------------------------------------------------------- vintages, postcode areas


def _area_lookup(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    frame = _required_present(frame, ("oa11_code", "oa21_code", "change"), rejections)
    change = frame["change"].astype("string").fillna("").str.strip().str.upper()
    bad = (~change.isin(["U", "S", "M", "X"])).to_numpy()
    rejections.add(frame, bad, "change", "expected U (unchanged), S (split), M (merged) or X (irregular)")
    frame, change = frame.loc[~bad], change.loc[~bad]
    _reject(run, rejections)
    if frame.empty:
        return
    rows = pd.DataFrame(
        {
            "oa11_code": frame["oa11_code"].astype(str).str.strip().to_numpy(),
            "oa21_code": frame["oa21_code"].astype(str).str.strip().to_numpy(),
            "change": change.to_numpy(),
            "district_code": frame["district_code"].replace("", None).to_numpy()
            if "district_code" in frame
            else None,
        }
    ).drop_duplicates(["oa11_code", "oa21_code"], keep="last")
    _stage(run, rows, "vintage_lookup")
    run.report.rows_loaded += len(rows)
    run.report.add_levels({str(k): int(n) for k, n in rows["change"].value_counts().items()})


def _postcode_areas(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    from geo.text import normalise_postcode_series

    frame = _required_present(frame, ("postcode", "area_name", "set_code"), rejections)
    norm = normalise_postcode_series(frame["postcode"])
    bad = norm.isna().to_numpy()
    rejections.add(frame, bad, "postcode", "is not a UK postcode; expected e.g. 'BS1 1AD' or 'BS105AA'")
    frame, norm = frame.loc[~bad], norm.loc[~bad]
    found: dict[str, str] = dict(
        run.conn.execute(
            text(
                "SELECT postcode_norm, oa_code FROM postcode "
                "WHERE postcode_norm = ANY(:p) AND oa_code IS NOT NULL"
            ),
            {"p": list(norm.astype(str).unique())},
        ).all()
    )
    oa = norm.astype(str).map(found)
    unknown = oa.isna().to_numpy()
    rejections.add(
        frame,
        unknown,
        "postcode",
        "is not a known postcode with an output area; expected one of the loaded postcode table "
        "(load it with `wardwise ingest postcodes FILE --preset codepoint-open`)",
    )
    frame, norm, oa = frame.loc[~unknown], norm.loc[~unknown], oa.loc[~unknown]
    _reject(run, rejections)
    if frame.empty:
        return
    rows = pd.DataFrame(
        {
            "set_code": frame["set_code"].astype(str).str.strip().to_numpy(),
            "area_code": frame["area_code"].astype("string").fillna("").str.strip().to_numpy()
            if "area_code" in frame
            else "",
            "area_name": frame["area_name"].astype(str).str.strip().to_numpy(),
            "oa_code": oa.to_numpy(),
            "postcode_norm": norm.astype(str).to_numpy(),
        }
    )
    _stage(run, rows, "postcode_areas")
    run.report.rows_loaded += len(rows)
    run.report.add_levels({"postcode": len(rows)})


def _finish_postcode_areas(run: _Run) -> None:
    """Each named area is the union of the OAs of its postcodes; an OA listed under several
    areas goes to the area with most of its listed postcodes (ties: the lowest area code)."""
    import re

    conn = run.conn
    names = pd.DataFrame(
        conn.execute(
            text(
                "SELECT set_code, area_name, max(area_code) AS area_code FROM ingest_stage_postcode_areas "
                "GROUP BY set_code, area_name ORDER BY set_code, area_name"
            )
        ).all(),
        columns=["set_code", "area_name", "area_code"],
    )
    slug = names["area_name"].map(lambda n: re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-") or "area")
    generated = (names["set_code"] + "-" + slug).str[:28]
    dup = generated.groupby(generated).cumcount()
    generated = generated.where(dup == 0, generated + "-" + dup.astype(str))
    names["code"] = names["area_code"].where(names["area_code"].fillna("") != "", generated)
    bad = ~names["code"].str.fullmatch(r"[A-Za-z0-9_\-]{1,32}")
    if bad.any():
        raise IngestRowError(
            None, "area_code", "letters, digits, '_' or '-' (at most 32)", str(names.loc[bad, "code"].iloc[0])
        )
    conn.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS ingest_stage_postcode_area_codes "
            "(set_code text, area_name text, code text) ON COMMIT DROP"
        )
    )
    conn.execute(text("TRUNCATE ingest_stage_postcode_area_codes"))
    copy_frame(conn, "ingest_stage_postcode_area_codes", names[["set_code", "area_name", "code"]])
    areas = pd.DataFrame(
        conn.execute(load_sql("ingest/postcode_areas")).mappings().all(),
        columns=[
            "code",
            "name",
            "level",
            "set_code",
            "parent_code",
            "district_code",
            "households",
            "population",
            "geom",
        ],
    )
    run.report.notes.append(
        f"{len(areas):,} custom areas from postcodes: each is the output areas of its postcodes; an OA "
        "listed under several areas goes to the one with most of its postcodes (ties: the lowest code)"
    )
    _stage(run, areas, "areas")
    _finish_areas(run)


# ----------------------------------------------------------------------------- areas

_LEVEL_PREFIXES = {"OA": "oa", "LSOA": "lsoa", "MSOA": "msoa", "WD": "ward", "LAD": "district"}


def _areas(run: _Run, frame: pd.DataFrame, rejections: Rejections) -> None:
    import shapely

    if "level" not in frame or frame["level"].isna().all():
        source = run.mapped.get("code", "")
        prefix = "".join(ch for ch in source.upper() if ch.isalpha()).removesuffix("CD")
        level = _LEVEL_PREFIXES.get(prefix)
        if level is None:
            raise IngestRowError(
                1, "level", "a `level` constant (oa, lsoa, msoa, ward, district or custom)", source
            )
        frame["level"] = level
    frame = _required_present(frame, ("code", "set_code"), rejections)
    frame = _bases(run, frame, rejections)
    bad_level = ~frame["level"].isin(["oa", "lsoa", "msoa", "ward", "district", "custom"])
    rejections.add(frame, bad_level, "level", "expected oa, lsoa, msoa, ward, district or custom")
    frame = frame.loc[~bad_level.to_numpy()]
    geoms = frame["__geometry"].to_numpy() if "__geometry" in frame else np.full(len(frame), None)
    valid = np.array(
        [
            g is not None and not shapely.is_empty(g) and g.geom_type in ("Polygon", "MultiPolygon")
            for g in geoms
        ],
        dtype=bool,
    )
    rejections.add(frame, ~valid, "geometry", "expected a polygon")
    frame, geoms = frame.loc[valid], shapely.make_valid(geoms[valid])
    # A degenerate ring (zero area, collinear points) is "made valid" into a line or an empty
    # polygon: refuse it rather than store an area with no extent (issue 8, hostile input).
    flat = ~(shapely.area(geoms) > 0)
    rejections.add(frame, flat, "geometry", "expected a polygon with a positive area")
    frame, geoms = frame.loc[~flat], geoms[~flat]
    _reject(run, rejections)
    if frame.empty:
        return
    rows = pd.DataFrame(
        {
            "code": frame["code"].astype(str).str.strip().to_numpy(),
            "name": (frame["name"] if "name" in frame else frame["code"]).astype(str).to_numpy(),
            "level": frame["level"].to_numpy(),
            "set_code": frame["set_code"].astype(str).to_numpy(),
            "parent_code": frame["parent_code"].replace("", None).to_numpy()
            if "parent_code" in frame
            else None,
            "district_code": frame["district_code"].to_numpy() if "district_code" in frame else None,
            "households": frame["households"].fillna(0).array if "households" in frame else 0,
            "population": frame["population"].array if "population" in frame else None,
            "geom": shapely.to_wkb(shapely.set_srid(geoms, 27700), hex=True, include_srid=True),
        }
    ).drop_duplicates("code", keep="last")
    _stage(run, rows, "areas")
    run.report.rows_loaded += len(rows)
    run.report.add_levels({r: int(n) for r, n in rows["level"].value_counts().items()})


# ----------------------------------------------------------------------------- staging and finishing

_STAGING = {
    "households": "uprn bigint, classification_code text, segment_code text",
    "postcodes": "postcode_norm text, postcode text, oa_code text, district_code text, x float8, y float8",
    "gazetteer": (
        "uprn bigint, address_text text, address_norm text, saon text, paon text, street text, "
        "street_norm text, "
        "locality text, town text, postcode text, postcode_norm text, is_residential boolean, oa_code text, "
        "alias text, x float8, y float8"
    ),
    "area_classification": "area_code text, classification_code text, segment_code text",
    "area_bases": "area_code text, households integer, population integer",
    "area_variables": "area_code text, variable text, value float8",
    "area_counts": (
        "service_code text, area_code text, period_start date, count integer, suppressed boolean, "
        "count_max integer"
    ),
    "vintage_lookup": "oa11_code text, oa21_code text, change text, district_code text",
    "postcode_areas": "set_code text, area_code text, area_name text, oa_code text, postcode_norm text",
    "areas": (
        "code text, name text, level text, set_code text, parent_code text, district_code text, "
        "households integer, population integer, geom geometry"
    ),
}


def _stage(run: _Run, rows: pd.DataFrame, name: str) -> None:
    table = f"ingest_stage_{name}"
    if name not in run.staged:
        run.conn.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({_STAGING[name]}) ON COMMIT DROP"))
        run.conn.execute(text(f"TRUNCATE {table}"))
        run.staged.add(name)
    copy_frame(run.conn, table, rows)


def _finish(run: _Run) -> None:
    conn = run.conn
    params: dict[str, Any] = {"batch_id": run.batch_id}
    if run.kind == "events":
        _finish_events(run)
        conn.execute(load_sql("ingest/service_districts_from_events"), params)
        # No global bump: the service_event triggers bump the small version of each
        # (district, service) written (geo.cache), so concurrent ingests of different
        # services or districts never queue on one version row.
    elif run.report.rows_loaded == 0:
        return
    elif run.kind == "area-statistics":
        if run.mapping.vintage == "oa21":
            from geo.ingest.vintage import place_on_2011

            run.report.notes.extend(place_on_2011(conn, run.staged))
        if "area_bases" in run.staged:
            conn.execute(load_sql("ingest/superseded_area_bases"), params)
            _script(conn, "ingest/update_area_bases")
        if "area_variables" in run.staged:
            conn.execute(load_sql("ingest/upsert_area_variables"), params)
        _bump(conn, ("tiles",))
    elif run.kind == "area-counts":
        _script(conn, "ingest/insert_area_counts", params)
        _bump(conn, ("tiles", "events"))
    elif run.kind in ("households", "area-classification"):
        if run.mapping.vintage == "oa21":
            from geo.ingest.vintage import place_on_2011

            run.report.notes.extend(place_on_2011(conn, run.staged))
        unit = "household" if run.kind == "households" else "area"
        for key, (name, parent, parent_name) in run.segments.items():
            cls, seg = key.split("\x1f")
            conn.execute(
                load_sql("ingest/ensure_segment"),
                {
                    "cls": cls,
                    "cls_name": run.mapping.classification_name or cls,
                    "unit": unit,
                    "area_level": "oa" if unit == "area" else None,
                    "seg": seg,
                    "seg_name": name or seg,
                    "parent": parent,
                    "parent_name": parent_name,
                },
            )
        for cls, (family, tier, rank) in run.tier_classes.items():
            tier_name = f"{run.mapping.classification_name or family} ({tier}s)"
            conn.execute(
                text(
                    "UPDATE classification SET family = :f, tier = :t, tier_rank = :r, "
                    "name = coalesce(:n, name) WHERE code = :c"
                ),
                {"f": family, "t": tier, "r": rank, "c": cls, "n": None if cls == family else tier_name},
            )
        sql = (
            "ingest/upsert_household_segments" if run.kind == "households" else "ingest/upsert_area_segments"
        )
        if run.kind == "area-classification":
            conn.execute(load_sql("ingest/superseded_area_segments"), params)
        conn.execute(load_sql(sql), params)
        if run.kind == "area-classification":
            if "area_bases" in run.staged:
                conn.execute(load_sql("ingest/superseded_area_bases"), params)
                _script(conn, "ingest/update_area_bases")
        _bump(conn, ("tiles",))
    elif run.kind == "postcodes":
        conn.execute(load_sql("ingest/superseded_postcodes"), params)
        _script(conn, "ingest/upsert_postcodes")
    elif run.kind == "area-lookup":
        conn.execute(load_sql("ingest/superseded_vintage_lookup"), params)
        conn.execute(load_sql("ingest/upsert_vintage_lookup"), params)
    elif run.kind == "postcode-areas":
        _finish_postcode_areas(run)
        _bump(conn, ("tiles", "events"))
    elif run.kind == "gazetteer":
        _script(conn, "ingest/upsert_addresses")
    elif run.kind == "areas":
        _finish_areas(run)
        _bump(conn, ("tiles", "events"))
    if run.kind in ("areas", "area-statistics", "area-classification"):
        # neighbour pairs of the geographies these areas belong to, stored with their version
        refresh_neighbours(conn)
    elif run.kind == "gazetteer":
        store_address_cells(conn)  # each new or moved address's H3 cell


def _finish_areas(run: _Run) -> None:
    conn = run.conn
    sets = conn.execute(text("SELECT DISTINCT set_code, level FROM ingest_stage_areas")).all()
    custom = any(level == "custom" for _, level in sets)
    for set_code in {s for s, _ in sets}:
        conn.execute(
            text(
                "INSERT INTO area_set (code, name, kind, description, batch_id) VALUES (:c, :n, :k, :d, :b) "
                "ON CONFLICT (code) DO NOTHING"
            ),
            {
                "c": set_code,
                "n": run.mapping.set_name or set_code,
                "k": "custom" if custom else "standard",
                "d": f"Loaded by ingest batch {run.batch_id}",
                "b": run.batch_id,
            },
        )
    _script(conn, "ingest/upsert_areas")
    district = run.mapping.constants.get("district_code")
    for set_code in {s for s, _ in sets}:
        if district and not custom:
            _script(
                conn,
                "ingest/ensure_district",
                {"set_code": set_code, "code": district, "name": run.mapping.district_name or district},
            )
        _script(conn, "ingest/area_parents", {"set_code": set_code})
        _script(conn, "ingest/area_membership", {"set_code": set_code, "custom": custom})


def _script(conn: Connection, name: str, params: dict[str, Any] | None = None) -> None:
    """Run a named SQL file that holds several statements, one at a time.

    psycopg sends bound parameters with the extended protocol, which takes one statement
    per call; each statement gets just the parameters it names.
    """
    params = params or {}
    for statement in load_sql(name).text.split(";\n"):
        body = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--")).strip()
        if not body:
            continue
        used = {k: v for k, v in params.items() if f":{k}" in body}
        conn.execute(text(body), used)


def _bump(conn: Connection, names: tuple[str, ...]) -> None:
    for name in names:
        conn.execute(
            text(
                "INSERT INTO data_version (name, version, changed_at) VALUES (:n, 1, now()) "
                "ON CONFLICT (name) DO UPDATE SET version = data_version.version + 1, changed_at = now()"
            ),
            {"n": name},
        )


_HANDLERS: dict[str, Callable[[_Run, pd.DataFrame, Rejections], None]] = {
    "events": _events,
    "households": _households,
    "survey": _survey,
    "areas": _areas,
    "area-classification": _area_classification,
    "area-statistics": _area_statistics,
    "area-counts": _area_counts,
    "postcodes": _postcodes,
    "gazetteer": _gazetteer,
    "area-lookup": _area_lookup,
    "postcode-areas": _postcode_areas,
}


# ----------------------------------------------------------------------------- reading batches


def list_batches(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    """Earlier batches, newest first, each with its report."""
    rows = conn.execute(load_sql("ingest/batches"), {"id": None, "limit": limit}).mappings().all()
    return [dict(r) for r in rows]


def get_batch(conn: Connection, batch_id: int) -> dict[str, Any]:
    """One batch with its report; raises NotFound if there is no such batch."""
    row = conn.execute(load_sql("ingest/batches"), {"id": batch_id, "limit": 1}).mappings().one_or_none()
    if row is None:
        raise NotFound(f"no ingest batch has the id {batch_id}")
    return dict(row)


#: Tables whose rows belong to one batch (by batch_id), per kind: undo deletes them.
BATCH_TABLES: dict[str, tuple[str, ...]] = {
    "events": ("service_event",),
    "survey": ("survey_response",),
    "households": ("household_segment",),
    "area-classification": ("area_segment",),
    "area-counts": ("area_count",),
}


def undo_batch(conn: Connection, batch_id: int) -> dict[str, Any]:
    """Remove a loaded batch's rows and mark it ``undone``, so its file can be loaded again.

    Events of other batches that were duplicates of this batch's events become primary
    again; the districts the batch gave its services are forgotten; tile and event data
    versions are bumped (the profiling aggregates go stale by trigger and are refreshed
    here if they were fresh). Kinds that write values in place (area-classification,
    area-statistics, postcodes, area-lookup) restore the values each key had before the
    batch (``ingest_superseded``): undoing the latest batch puts the earlier batch's values
    back, and a batch that a later loaded batch wrote over is refused, naming that batch.
    A custom area set a batch created (areas, postcode-areas) is removed. Areas of standard
    sets and gazetteer batches keep their rows (a reload of a corrected file replaces them);
    the batch is still marked undone so that file can be loaded again.

    Returns the batch id, kind, rows removed (or restored) per table and a note.
    """
    from geo.analysis.aggregates import aggregates_fresh, refresh_aggregates

    batch = get_batch(conn, batch_id)
    if batch["status"] != "loaded":
        raise InvalidRequest(f"batch {batch_id} is {batch['status']}; only a loaded batch can be undone")
    kind = batch["kind"]
    has_history = bool(
        conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM ingest_superseded WHERE batch_id = :b)"), {"b": batch_id}
        ).scalar()
    )
    if has_history:
        later = conn.execute(load_sql("ingest/later_batches"), {"batch_id": batch_id}).all()
        if later:
            names = ", ".join(f"batch {r.id} ({r.kind}, {r.filename or 'no file name'})" for r in later)
            raise InvalidRequest(
                f"batch {batch_id} cannot be undone: {names} was loaded later over the same values; "
                f"undo batch {later[-1].id} first (latest first)"
            )
    fresh = aggregates_fresh(conn)
    removed: dict[str, int] = {}
    if kind == "events":
        restored = conn.execute(
            text(
                "UPDATE service_event o SET is_primary = true, duplicate_of = NULL "
                "WHERE o.batch_id <> :b "
                "AND o.duplicate_of IN (SELECT id FROM service_event WHERE batch_id = :b)"
            ),
            {"b": batch_id},
        ).rowcount
        removed["duplicates_restored_as_primary"] = int(restored)
    if has_history:
        counts = conn.execute(
            text(
                "SELECT table_name, count(*) FILTER (WHERE previous IS NULL), "
                "count(*) FILTER (WHERE previous IS NOT NULL) "
                "FROM ingest_superseded WHERE batch_id = :b GROUP BY table_name ORDER BY table_name"
            ),
            {"b": batch_id},
        ).all()
        _script(conn, "ingest/undo_restore", {"batch_id": batch_id})
        for table, new, overwritten in counts:
            if new:
                removed[table] = int(new)
            if overwritten:
                removed[f"{table}_restored"] = int(overwritten)
    else:
        for table in BATCH_TABLES.get(kind, ()):
            n = conn.execute(text(f"DELETE FROM {table} WHERE batch_id = :b"), {"b": batch_id}).rowcount
            removed[table] = int(n)
    custom_sets = list(
        conn.execute(
            text("SELECT code FROM area_set WHERE batch_id = :b AND kind = 'custom'"), {"b": batch_id}
        ).scalars()
    )
    for set_code in custom_sets:
        conn.execute(text("DELETE FROM area_membership WHERE set_code = :s"), {"s": set_code})
        n = conn.execute(text("DELETE FROM area WHERE set_code = :s"), {"s": set_code}).rowcount
        conn.execute(text("DELETE FROM area_set WHERE code = :s"), {"s": set_code})
        removed["area"] = removed.get("area", 0) + int(n)
    conn.execute(text("DELETE FROM service_district WHERE batch_id = :b"), {"b": batch_id})
    if has_history:
        note = (
            f"removed the values batch {batch_id} added and restored those it replaced; "
            "the file can be loaded again"
        )
    elif kind in BATCH_TABLES or custom_sets:
        note = f"removed the rows batch {batch_id} loaded; the file can be loaded again"
    else:
        note = (
            f"{kind} batches replace values in place, so batch {batch_id}'s rows are kept until a "
            "corrected file replaces them; the file can be loaded again"
        )
    conn.execute(
        text(
            "UPDATE ingest_batch SET status = 'undone', "
            "report = coalesce(report, '{}'::jsonb) || jsonb_build_object('status', 'undone', "
            "'undone_at', now(), 'undo', CAST(:u AS jsonb)) WHERE id = :b"
        ),
        {"b": batch_id, "u": _json({"removed": removed, "note": note})},
    )
    _bump(conn, ("tiles", "events"))
    if fresh:
        refresh_aggregates(conn)
    return {"batch_id": batch_id, "kind": kind, "status": "undone", "removed": removed, "note": note}


def rejected_rows_csv(conn: Connection, batch_id: int) -> str:
    """The batch's rejected rows as CSV: row, field, reason, then the row's non-personal values."""
    get_batch(conn, batch_id)
    rows = conn.execute(
        text(
            "SELECT row_number, field, reason, values FROM ingest_rejected_row "
            "WHERE batch_id = :id ORDER BY row_number, id"
        ),
        {"id": batch_id},
    ).all()
    base = pd.DataFrame([(r.row_number, r.field, r.reason) for r in rows], columns=["row", "field", "reason"])
    values = pd.DataFrame([_scrubbed(r.values or {}) for r in rows])  # rows stored before the scrub too
    frame = pd.concat([base, values], axis=1) if not values.empty else base
    return csv_text(frame)  # formulas neutralised (geo/exports.py)


__all__ = [
    "LEVELS",
    "MAX_REJECTED_SHARE",
    "FileInfo",
    "get_batch",
    "ingest_file",
    "ingest_frame",
    "list_batches",
    "record_failed_batch",
    "rejected_rows_csv",
    "undo_batch",
]
