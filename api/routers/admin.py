"""Keys, the audit log (admins) and ``/me`` (anyone: which role does my key have)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.auth import SCOPE_NEUTRAL, AdminDep, ViewerDep
from api.deps import ConnDep, SettingsDep
from api.schemas.admin import AuditEntryModel, AuditPage, KeyList, KeyListing, KeyRequest, Me, NewKeyResponse
from geo.audit import list_entries
from geo.auth import KeyInfo, Role, issue_key, list_keys, revoke_key

router = APIRouter(prefix="/api/v1", tags=["access"])

PREFIX = Path(min_length=12, max_length=12, pattern=r"^[0-9a-f]{12}$", description="The key's public prefix")


def _listing(info: KeyInfo) -> KeyListing:
    return KeyListing(
        prefix=info.prefix,
        role=info.role.name,
        name=info.name,
        created_at=info.created_at,
        last_used_at=info.last_used_at,
        revoked=info.revoked,
        scope_areas=info.scope_areas,
        scope_services=info.scope_services,
    )


@router.get("/me", operation_id="get_me", response_model=Me, openapi_extra=SCOPE_NEUTRAL)
def get_me(viewer: ViewerDep) -> Me:
    """Say which role the presented API key has (public without one), and its scope; 401 for a bad key."""
    scope = viewer.scope
    return Me(
        role=viewer.role.name,
        key_prefix=viewer.key_prefix,
        authenticated=viewer.key_prefix is not None,
        can_see_unsuppressed=viewer.may(Role.officer),
        scope_areas=list(scope.areas) if scope and scope.areas is not None else None,
        scope_services=list(scope.services) if scope and scope.services is not None else None,
    )


@router.post(
    "/admin/keys",
    operation_id="create_key",
    response_model=NewKeyResponse,
    status_code=status.HTTP_201_CREATED,
)
def create_api_key(
    body: KeyRequest, viewer: AdminDep, conn: ConnDep, settings: SettingsDep
) -> NewKeyResponse:
    """Create an API key; the key is in this response only and cannot be shown again."""
    new = issue_key(
        conn,
        body.role,
        body.name,
        settings.secret_salt.get_secret_value(),
        by=viewer,
        areas=body.areas,
        services=body.services,
    )
    conn.commit()
    return NewKeyResponse(key=new.key, **_listing(new.info).model_dump())


@router.get("/admin/keys", operation_id="list_keys", response_model=KeyList)
def list_api_keys(
    viewer: AdminDep,
    conn: ConnDep,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys")] = True,
) -> KeyList:
    """List API keys (prefix, role, name, use), never their secrets."""
    return KeyList(keys=[_listing(k) for k in list_keys(conn, include_revoked=include_revoked)])


@router.delete("/admin/keys/{prefix}", operation_id="revoke_key", response_model=KeyListing)
def revoke_api_key(prefix: Annotated[str, PREFIX], viewer: AdminDep, conn: ConnDep) -> KeyListing:
    """Revoke an API key by its prefix; it stops working at once."""
    info = revoke_key(conn, prefix, by=viewer)
    conn.commit()
    return _listing(info)


@router.get("/admin/audit", operation_id="list_audit_entries", response_model=AuditPage)
def list_audit_entries(
    viewer: AdminDep,
    conn: ConnDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**62, description="Entries older than this id")] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=64, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", description="e.g. key or key.use"
        ),
    ] = None,
    actor: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")] = None,
    since: Annotated[
        dt.datetime | None, Query(description="Entries at or after this time (ISO 8601)")
    ] = None,
) -> AuditPage:
    """Read the audit log (ingests, exports, key management and use), newest first."""
    entries = list_entries(conn, limit=limit, before_id=before_id, action=action, actor=actor, since=since)
    models = [AuditEntryModel(**vars(e)) for e in entries]
    return AuditPage(entries=models, next_before_id=models[-1].id if len(models) == limit else None)
