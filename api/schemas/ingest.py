"""Ingest request and response models: batch reports and the batch list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from api.schemas import JobState


class DroppedColumn(BaseModel):
    """A column removed before anything was stored, and why."""

    column: str
    reason: str


class RejectedRowSample(BaseModel):
    """One refused row: its number in the file, the field and the reason."""

    row: int
    field: str | None
    reason: str


class BatchReportModel(BaseModel):
    """The quality report of one batch."""

    batch_id: int | None
    kind: str
    filename: str | None
    sha256: str
    status: str
    rows_received: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    out_of_area: int = 0
    out_of_scope: int = Field(0, description="rows outside the mapping's value maps (e.g. other crime types)")
    duplicates_resolved: int = 0
    match_levels: dict[str, int] = Field(default_factory=dict)
    personal_columns_dropped: list[DroppedColumn] = Field(default_factory=list)
    columns_ignored: list[str] = Field(default_factory=list)
    columns_used: dict[str, str] = Field(default_factory=dict)
    hashed_fields: list[str] = Field(default_factory=list)
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    rejected_sample: list[RejectedRowSample] = Field(default_factory=list)
    same_incident_rule: str | None = None
    notes: list[str] = Field(default_factory=list)
    elapsed_s: float = 0.0
    timings_s: dict[str, float] = Field(default_factory=dict, description="seconds per stage")
    error: str | None = None


class BatchSummary(BaseModel):
    """One earlier batch with its report."""

    id: int
    kind: str
    filename: str | None
    sha256: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows_received: int
    rows_loaded: int
    rows_rejected: int
    created_by: str | None
    report: dict[str, Any] | None


class BatchPage(BaseModel):
    """Earlier batches, newest first."""

    batches: list[BatchSummary]


class BatchUndone(BaseModel):
    """A batch undone: what was removed."""

    batch_id: int
    kind: str
    status: str
    removed: dict[str, int] = Field(description="rows removed (or restored) per table")
    note: str


class IngestJob(JobState):
    """An ingest running as a background job: its state, links, and its report once done."""

    links: dict[str, str] = Field(default_factory=dict)
    report: BatchReportModel | None = Field(default=None, description="the batch's report, once done")
