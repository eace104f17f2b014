"""Models of the feeds API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


class FeedFileInfo(BaseModel):
    """A file a feed has seen."""

    filename: str
    status: Literal["loaded", "duplicate", "failed"]
    batch_id: int | None = Field(description="the ingest batch (its report is under /ingest/batches)")
    error: str | None = Field(description="why it failed, or which batch it duplicates")
    seen_at: dt.datetime


class FeedInfo(BaseModel):
    """A watched folder with its stored mapping."""

    id: int
    name: str
    directory: str
    pattern: str
    kind: str
    preset: str | None
    mapping: dict[str, Any] | None
    created_at: dt.datetime
    last_scan_at: dt.datetime | None
    files: dict[str, int] = Field(description="files seen, by status")
    recent: list[FeedFileInfo]
