"""Who is calling: bearer API keys to roles, and the per-endpoint role declaration.

Every route declares the role it needs, once, in one of three ways:

* a parameter ``viewer: OfficerDep`` / ``AnalystDep`` / ``AdminDep`` (or
  ``Depends(require(Role.x))`` in the route's or router's ``dependencies=``): the role is
  enforced before the handler runs (401 without a key, 403 with a weaker one);
* a parameter ``viewer: ViewerDep`` or ``disclosure: DisclosureDep``: the route is public,
  and applies disclosure control itself when the caller is public;
* ``openapi_extra=PUBLIC`` for public routes that need no viewer (health, area outlines).

:func:`declared_role` reads the declaration from the route's dependency tree and
:func:`install_role_declarations` writes it into the OpenAPI document as
``x-required-role`` on every operation, so clients and ``tests/api/test_access.py`` can see
it. A route that declares nothing has no ``x-required-role`` and fails that test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from api.deps import SettingsDep
from geo.analysis.jobs import JobOwner
from geo.audit import UsageMeter, record
from geo.auth import ANONYMOUS, Role, Viewer, mark_used, parse_key, scope_refusal, verify_key
from geo.disclosure import DisclosurePolicy, PublicFloors
from geo.errors import AuthenticationRequired, PermissionDenied

log = logging.getLogger("wardwise.auth")

#: The OpenAPI extension naming the role an operation needs.
ROLE_EXTENSION = "x-required-role"
#: ``openapi_extra`` for public routes that take no viewer.
PUBLIC: dict[str, Any] = {ROLE_EXTENSION: Role.public.name}
#: The OpenAPI extension naming the parameters that carry a route's service and area
#: filters, so scoped keys (``geo.auth.KeyScope``) keep their role on it.
SCOPE_EXTENSION = "x-scope"


def scoped(service: tuple[str, ...] = ("service",), area: tuple[str, ...] = ("area",)) -> dict[str, Any]:
    """``openapi_extra`` for a route that applies key scopes through these parameters."""
    return {SCOPE_EXTENSION: {"service": list(service), "area": list(area)}}


#: ``openapi_extra`` for a route that shows nothing a scope limits (``/me``).
SCOPE_NEUTRAL: dict[str, Any] = {SCOPE_EXTENSION: {}}

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ww_...`")


def _meter(request: Request, name: str, interval_s: float) -> UsageMeter:
    meter: UsageMeter | None = getattr(request.app.state, name, None)
    if meter is None:
        meter = UsageMeter(interval_s)
        setattr(request.app.state, name, meter)
    return meter


def _auth_engine(request: Request) -> Engine:
    # A pool of its own (api/main.py): the caller may already hold a main-pool connection.
    engine: Engine = getattr(request.app.state, "auth_engine", None) or request.app.state.engine
    return engine


def get_viewer(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Viewer:
    """The caller: anonymous (public) without a key; a bad key is a 401, never public.

    Key use is audited (``key.use``) at most once a minute per key, with the number of
    requests since the last entry; rejected keys likewise (``key.reject``).
    """
    if credentials is None:
        return ANONYMOUS
    salt = settings.secret_salt.get_secret_value()
    with _auth_engine(request).connect() as conn:
        viewer = verify_key(conn, credentials.credentials, salt)
        if viewer is None:
            parts = parse_key(credentials.credentials)
            target = parts[0] if parts else "malformed"
            rejected = _meter(request, "key_rejections", 10.0).hit(target)
            if rejected:
                record(
                    conn, "anonymous", "key.reject", target, {"requests": rejected, "path": request.url.path}
                )
                conn.commit()
            raise AuthenticationRequired("the API key is not valid (unknown, revoked or mistyped)")
        assert viewer.key_prefix is not None
        used = _meter(request, "key_usage", 60.0).hit(viewer.key_prefix)
        if used:
            mark_used(conn, viewer.key_prefix)
            record(conn, viewer, "key.use", viewer.key_prefix, {"requests": used, "path": request.url.path})
            conn.commit()
        if viewer.scope is not None:
            viewer = _apply_scope(request, conn, viewer)
    request.state.viewer = viewer
    return viewer


def _apply_scope(request: Request, conn: Any, viewer: Viewer) -> Viewer:
    """A scoped key on this request: its own role inside its scope, 403 outside it, or public.

    Routes that declare ``x-scope`` check the request's service and area parameters against
    the key's scope (403 naming the scope when outside). On every other route a scoped key
    is treated as the public: it sees what anyone may see, and nothing more.
    """
    route = request.scope.get("route")
    declared = (getattr(route, "openapi_extra", None) or {}).get(SCOPE_EXTENSION)
    assert viewer.scope is not None
    if declared is None:
        return replace(
            viewer,
            role=Role.public,
            limited=f"this key is limited to {viewer.scope.describe()} and this route does not apply "
            "key scopes, so it sees only what the public sees here",
        )
    if not declared:
        return viewer
    params: dict[str, list[str]] = {k: [str(v)] for k, v in request.path_params.items()}
    for key in request.query_params:
        params.setdefault(key, []).extend(request.query_params.getlist(key))
    reason = scope_refusal(conn, viewer.scope, declared, params)
    if reason is not None:
        raise PermissionDenied(reason)
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def require(role: Role) -> Callable[[Viewer], Viewer]:
    """A dependency that lets through callers with at least ``role``.

    Use as ``viewer: Annotated[Viewer, Depends(require(Role.officer))]`` (or the aliases
    below); endpoints open to the public take ``ViewerDep`` and apply disclosure control.
    The returned function carries ``required_role`` so :func:`declared_role` can read it.
    """

    def check(viewer: ViewerDep) -> Viewer:
        if viewer.may(role):
            return viewer
        if viewer.limited is not None:
            raise PermissionDenied(f"this needs the {role.name} role; {viewer.limited}")
        if viewer.key_prefix is None:
            raise AuthenticationRequired(f"this needs an API key with the {role.name} role")
        raise PermissionDenied(f"this needs the {role.name} role; your key is {viewer.role.name}")

    check.__name__ = f"require_{role.name}"
    check.required_role = role  # type: ignore[attr-defined]
    return check


OfficerDep = Annotated[Viewer, Depends(require(Role.officer))]
AnalystDep = Annotated[Viewer, Depends(require(Role.analyst))]
AdminDep = Annotated[Viewer, Depends(require(Role.admin))]


def public_policy(settings: Any) -> DisclosurePolicy:
    """The one policy for public callers, from the settings (suppression, perturbation, floors)."""
    return DisclosurePolicy.public(
        settings.secret_salt.get_secret_value(),
        settings.suppression_threshold,
        settings.round_to_base,
        perturb=settings.perturbation,
        floors=PublicFloors(
            min_households=settings.public_min_households,
            max_h3_resolution=settings.public_max_h3_resolution,
            whole_months=settings.public_whole_months,
        ),
    )


def get_disclosure(request: Request, viewer: ViewerDep, settings: SettingsDep) -> DisclosurePolicy | None:
    """The disclosure rules for this caller: a policy for the public, None for officers and above.

    Installed as an app-wide dependency (api/main.py), so it runs first on every route: an
    invalid key is a 401 everywhere, and ``request.state.disclosure`` is set before the
    request's database connection is opened; :func:`api.deps.get_connection` attaches it
    to the connection, where the count loaders apply it (geo/disclosure.py).
    """
    policy: DisclosurePolicy | None = None
    if not viewer.may(Role.officer):
        policy = getattr(request.app.state, "public_policy", None)
        if policy is None:
            policy = request.app.state.public_policy = public_policy(settings)
    request.state.disclosure = policy
    return policy


#: ``disclosure: DisclosureDep`` in a public route: apply it with ``disclosure.columns(...)``
#: (or ``.long``, ``.matrix``, ``.value``) when it is not None.
DisclosureDep = Annotated[DisclosurePolicy | None, Depends(get_disclosure)]


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route of ``app`` as it is served (router prefixes and dependencies applied).

    FastAPI >= 0.16x keeps included routers as lazy branches; ``iter_route_contexts``
    yields their effective routes (with ``path_format``, ``methods``, ``dependant``).
    """
    iterate = getattr(fastapi_routing, "iter_route_contexts", None)
    contexts = iterate(app.routes) if iterate is not None else app.routes
    for context in contexts:
        if isinstance(getattr(context, "original_route", context), APIRoute):
            yield context


def declared_role(route: Any) -> Role | None:
    """The role ``route`` (an APIRoute or effective route) needs; None if it declares none.

    Raises ValueError when the dependencies and ``openapi_extra`` disagree, so a route
    cannot document one role and enforce another.
    """
    calls = list(_calls(route.dependant))
    enforced = [c.required_role for c in calls if isinstance(getattr(c, "required_role", None), Role)]
    role: Role | None = max(enforced) if enforced else (Role.public if get_viewer in calls else None)
    extra = (route.openapi_extra or {}).get(ROLE_EXTENSION)
    if extra is not None:
        stated = Role.parse(extra)
        if role is not None and stated != role:
            raise ValueError(
                f"{route.path} declares {ROLE_EXTENSION}={stated.name} "
                f"but its dependencies require {role.name}"
            )
        if stated > Role.public and role is None:
            raise ValueError(
                f"{route.path} declares {ROLE_EXTENSION}={stated.name} without enforcing it: "
                f"take a `{stated.name.capitalize()}Dep` parameter instead"
            )
        role = stated
    return role


def install_role_declarations(app: FastAPI) -> None:
    """Make ``app.openapi()`` mark every operation with ``x-required-role`` and its description."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for route in api_routes(app):
            if not route.include_in_schema:
                continue
            role = declared_role(route)
            for method in route.methods:
                operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                if role is None:
                    log.warning("%s %s declares no role", method, route.path_format)
                    continue
                operation[ROLE_EXTENSION] = role.name
                note = f"Needs the **{role.name}** role." if role > Role.public else "Open to the public."
                operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{note}".lstrip()
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def get_job_owner(request: Request, viewer: ViewerDep, settings: SettingsDep) -> JobOwner:
    """Who queues a background job, with the quota of queued and running jobs they may hold:
    per key (``job_quota_key``) for callers with one, per address (``job_quota_public``) for
    the rest. Over it, the submit answers 429 naming the quota, with ``Retry-After``."""
    if viewer.key_prefix is not None:
        return JobOwner(f"key:{viewer.key_prefix}", settings.job_quota_key, settings.job_quota_retry_after_s)
    client = request.client.host if request.client else "unknown"
    return JobOwner(f"addr:{client}", settings.job_quota_public, settings.job_quota_retry_after_s)


JobOwnerDep = Annotated[JobOwner, Depends(get_job_owner)]
