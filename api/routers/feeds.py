"""Feeds: the folders Wardwise watches, and what each file dropped into them became."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.auth import OfficerDep
from api.deps import ConnDep
from api.schemas.feeds import FeedInfo
from geo.feeds import list_feeds

router = APIRouter(prefix="/api/v1", tags=["ingest"])


@router.get("/feeds", operation_id="list_feeds", response_model=list[FeedInfo])
def get_feeds(
    conn: ConnDep,
    viewer: OfficerDep,
    recent: Annotated[int, Query(ge=0, le=200, description="Latest files per feed")] = 10,
) -> Any:
    """List the feeds with their stored mapping, file counts by status and latest files (failures too)."""
    return list_feeds(conn, recent=recent)
