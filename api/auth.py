"""Who is calling: bearer API keys to roles, and the per-endpoint role requirement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import EngineDep, SettingsDep
from geo.auth import ANONYMOUS, Role, Viewer, verify_key
from geo.errors import AuthenticationRequired, PermissionDenied

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ww_...`")


def get_viewer(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Viewer:
    """The caller: anonymous (public) without a key; a bad key is a 401, never public."""
    if credentials is None:
        return ANONYMOUS
    with engine.connect() as conn:
        viewer = verify_key(conn, credentials.credentials, settings.secret_salt.get_secret_value())
    if viewer is None:
        raise AuthenticationRequired("the API key is not valid")
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def require(role: Role) -> Callable[[Viewer], Viewer]:
    """A dependency that lets through callers with at least ``role``.

    Use as ``viewer: Annotated[Viewer, Depends(require(Role.officer))]``; endpoints open to
    the public take ``ViewerDep`` and apply disclosure control instead.
    """

    def check(viewer: ViewerDep) -> Viewer:
        if viewer.may(role):
            return viewer
        if viewer.role is Role.public and viewer.key_prefix is None:
            raise AuthenticationRequired(f"this needs an API key with the {role.name} role")
        raise PermissionDenied(f"this needs the {role.name} role; your key is {viewer.role.name}")

    check.__name__ = f"require_{role.name}"
    return check


OfficerDep = Annotated[Viewer, Depends(require(Role.officer))]
AnalystDep = Annotated[Viewer, Depends(require(Role.analyst))]
AdminDep = Annotated[Viewer, Depends(require(Role.admin))]
