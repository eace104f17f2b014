"""Models for keys, the audit log and ``/me``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

RoleName = Literal["public", "officer", "analyst", "admin"]


class KeyRequest(BaseModel):
    """What a new key is for and what it may do."""

    role: RoleName = Field(description="public, officer, analyst or admin")
    name: str = Field(
        min_length=1,
        max_length=120,
        description="What the key is for (a team or a purpose, never a person's name or e-mail)",
    )
    areas: list[str] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Limit the key to these areas (normally district codes); omit for no limit",
    )
    services: list[str] | None = Field(
        None, min_length=1, max_length=100, description="Limit the key to these services; omit for no limit"
    )


class KeyListing(BaseModel):
    """A key as it may be listed: never its secret or hash."""

    prefix: str = Field(description="The key's public prefix (ww_<prefix>_...)")
    role: RoleName
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked: bool
    scope_areas: list[str] | None = Field(None, description="areas the key is limited to (None: all)")
    scope_services: list[str] | None = Field(None, description="services the key is limited to (None: all)")


class NewKeyResponse(KeyListing):
    """A newly created key: ``key`` is shown this once and cannot be recovered."""

    key: str = Field(description="The bearer token; store it now, it is not shown again")


class KeyList(BaseModel):
    """Every key, newest first."""

    keys: list[KeyListing]


class AuditEntryModel(BaseModel):
    """One audit log entry."""

    id: int
    at: dt.datetime
    actor: str = Field(description="Key prefix, 'cli' or 'anonymous'")
    role: str | None
    action: str
    target: str | None
    detail: dict[str, Any] | None


class AuditPage(BaseModel):
    """A page of the audit log, newest first; pass ``next_before_id`` as ``before_id`` for the next."""

    entries: list[AuditEntryModel]
    next_before_id: int | None


class Me(BaseModel):
    """Who the caller is: role and key prefix (None without a key)."""

    role: RoleName
    key_prefix: str | None
    authenticated: bool
    can_see_unsuppressed: bool = Field(description="Whether small counts are shown (officer and above)")
    scope_areas: list[str] | None = Field(None, description="areas the key is limited to (None: all)")
    scope_services: list[str] | None = Field(None, description="services the key is limited to (None: all)")
