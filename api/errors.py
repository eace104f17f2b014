"""The one place exceptions become HTTP: a status table and a problem+json handler factory."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo import errors

log = logging.getLogger("wardwise.api")

PROBLEM_JSON = "application/problem+json"

#: Most specific class first is not needed: the handler walks the exception's MRO.
STATUS_CODES: dict[type[Exception], int] = {
    errors.NotFound: 404,
    errors.InvalidTileAddress: 400,
    errors.InvalidParameter: 400,
    errors.Infeasible: 422,
    errors.InvalidRequest: 422,
    errors.AuthenticationRequired: 401,
    errors.PermissionDenied: 403,
    errors.QuotaExceeded: 429,
    errors.SuppressedCount: 403,
    errors.DuplicateBatch: 409,
    errors.AlreadyExists: 409,
    errors.IngestError: 422,
    errors.DatabaseUnavailable: 503,
    errors.WardwiseError: 500,
}


def problem(status: int, detail: Any, **extra: Any) -> JSONResponse:
    """Return an RFC 9457 problem+json response."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_for(exc: Exception) -> int:
    """Look the exception's class (or its nearest ancestor) up in STATUS_CODES."""
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def _internal(request: Request, exc: Exception) -> JSONResponse:
    # The trace stays in the server log; the client gets an id to quote, never the trace.
    request_id = uuid.uuid4().hex[:12]
    log.error("request %s %s failed [%s]", request.method, request.url.path, request_id, exc_info=exc)
    response = problem(500, "internal error", request_id=request_id)
    # Unhandled exceptions are answered by Starlette's outermost ServerErrorMiddleware,
    # outside the security-headers middleware: give this answer the headers itself.
    from api.security import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

    response.headers.update({"content-security-policy": CONTENT_SECURITY_POLICY, **SECURITY_HEADERS})
    return response


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def handler_for(status: int | None = None) -> Handler:
    """Return an exception handler answering with ``status`` (or the table's)."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        code = status or status_for(exc)
        if code >= 500 and code != 503:
            return _internal(request, exc)
        if code == 503:
            log.warning("database unavailable: %s", exc)
        response = problem(code, str(exc))
        if isinstance(exc, errors.QuotaExceeded):
            response.headers["Retry-After"] = str(max(1, int(exc.retry_after_s)))
        return response

    return handle


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Name each bad field and what was expected; drop the echoed input of huge bodies.
    problems = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems[:5])
    return problem(422, summary or "invalid request", errors=problems[:50])


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(exc.status_code, exc.detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _db_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database error: %s", exc)
    return problem(503, "the database is unavailable; try again shortly")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return _internal(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    for exc_class in STATUS_CODES:
        app.add_exception_handler(exc_class, handler_for())
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OperationalError, _db_down)
    app.add_exception_handler(DBAPIError, _db_down_or_internal)
    app.add_exception_handler(Exception, _unexpected)


async def _db_down_or_internal(request: Request, exc: Exception) -> JSONResponse:
    # A dropped connection (server restart) is a 503 the client can retry; anything else
    # from the driver is our bug.
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return await _db_down(request, exc)
    if isinstance(exc, DataError):
        # Values are always bound parameters, so a DataError is a value the database cannot
        # hold (a NUL character, a number out of range): the client's, answered without SQL.
        log.warning("%s %s: the database refused a value: %s", request.method, request.url.path, exc.orig)
        return problem(
            422, "a value in the request cannot be stored or compared (a NUL character or out of range)"
        )
    return _internal(request, exc)
