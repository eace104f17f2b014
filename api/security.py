"""Security headers and request-size limits, as plain ASGI middleware (no per-request overhead
beyond a header merge; BaseHTTPMiddleware would buffer streaming responses).

* Every response gets a Content-Security-Policy allowing only the page's own origin, plus
  ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options`` (and CSP
  ``frame-ancestors``), ``Cross-Origin-Opener-Policy`` and ``Permissions-Policy``.
  The interactive API docs (``/docs``, ``/redoc``) are the one exception: FastAPI serves
  them with an inline bootstrap script and assets from its CDN, so those two pages get a
  policy that allows exactly that.
* Responses to requests that carry a key vary on ``Authorization`` and are never marked
  ``public``, so no shared cache serves an officer's unsuppressed data to the public.
* Request bodies are limited: uploads (multipart, zip, csv, octet-stream) to
  ``Settings.max_upload_bytes``, anything else to ``Settings.max_request_bytes``, by
  ``Content-Length`` up front and by counting streamed bytes; query strings to
  ``MAX_QUERY_BYTES``. Too large is a 413 (414 for the query) problem+json answer before
  the handler reads anything.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit import ExportAuditMiddleware

log = logging.getLogger("wardwise.security")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; "
    "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: FastAPI's Swagger UI / ReDoc pages: an inline bootstrap script and jsDelivr assets.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

SECURITY_HEADERS: dict[str, str] = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

#: Longest query string accepted; every legitimate filter fits in far less.
MAX_QUERY_BYTES = 8 * 1024
#: Content types that are uploads, allowed up to ``max_upload_bytes``.
UPLOAD_TYPES = (
    "multipart/form-data",
    "application/octet-stream",
    "application/zip",
    "application/x-zip-compressed",
    "application/gzip",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


class BodyTooLarge(HTTPException):
    """The request body is bigger than the limit for its content type."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


#: The read-only embed view: the one page other origins may frame (Settings.frame_ancestors).
EMBED_PATHS = frozenset({"/embed.html"})


def embed_policy(frame_ancestors: Iterable[str]) -> str:
    """The page CSP with ``frame-ancestors`` opened to the allowed origins (and the page's own)."""
    origins = " ".join(["'self'", *frame_ancestors])
    return CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", f"frame-ancestors {origins}")


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, frame_ancestors: Iterable[str] = ()) -> None:
        self.app = app
        self.embed_csp = embed_policy(frame_ancestors) if frame_ancestors else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; merge the headers into the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path")
        csp = DOCS_CONTENT_SECURITY_POLICY if path in DOCS_PATHS else CONTENT_SECURITY_POLICY
        # X-Frame-Options has no allow-list (ALLOW-FROM is obsolete): the embed view drops it
        # and relies on CSP frame-ancestors, which every current browser honours.
        embed = self.embed_csp is not None and path in EMBED_PATHS
        if embed:
            csp = self.embed_csp or csp
        authorised = _header(scope, b"authorization") is not None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merge(message.get("headers", []), csp, authorised, framed=embed)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _merge(
    raw: Iterable[tuple[bytes, bytes]], csp: str, authorised: bool, *, framed: bool = False
) -> list[tuple[bytes, bytes]]:
    headers = [(bytes(k).lower(), bytes(v)) for k, v in raw]
    present = {k for k, _ in headers}
    wanted = {"content-security-policy": csp, **SECURITY_HEADERS}
    if framed:
        del wanted["x-frame-options"]
    headers += [(k.encode(), v.encode()) for k, v in wanted.items() if k.encode() not in present]
    if authorised:
        headers = [
            (k, v.replace(b"public", b"private")) if k == b"cache-control" else (k, v) for k, v in headers
        ]
        if b"cache-control" not in present:
            headers.append((b"cache-control", b"private, no-store"))
        vary = [v for k, v in headers if k == b"vary"]
        if not any(b"authorization" in v.lower() for v in vary):
            headers.append((b"vary", b"Authorization"))
    return headers


async def _problem(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": _TITLES[status], "status": status, "detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


_TITLES = {
    400: "Bad Request",
    413: "Content Too Large",
    414: "URI Too Long",
    429: "Too Many Requests",
}


class RateLimitMiddleware:
    """Per-key and per-address rate limits on ``/api/`` (the ``limits`` library's syntax).

    A request with ``Authorization: Bearer ww_<prefix>_...`` counts against its key prefix
    (``key_limit``), whether or not the key is valid; one without a key against its client
    address (``public_limit``). Beyond the limit: 429 problem+json with ``Retry-After``,
    before any handler work. Tiles, the map page and ``/health`` are not limited (tiles are
    cached and cheap; a map view loads dozens).

    ``storage`` says where the counters live: ``"postgres"`` (default: the
    ``rate_limit_window`` table, shared by every worker and instance on the database;
    sliding-window counter, geo/ratelimit.py), ``"memory"`` (this process only: N workers
    allow N times the limit; moving window) or a ``limits`` storage URI such as
    ``redis://host:6379`` (shared; moving window; needs the ``redis`` package). If the
    database cannot count a hit, the request goes on (the handler then answers 503 itself).
    """

    def __init__(self, app: ASGIApp, public_limit: str, key_limit: str, storage: str = "memory") -> None:
        from limits import parse
        from limits.storage import MemoryStorage, storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.app = app
        self.public_limit = parse(public_limit)
        self.key_limit = parse(key_limit)
        self.shared = storage == "postgres"
        self.counter: Any = None
        if not self.shared:
            backend = MemoryStorage() if storage == "memory" else storage_from_string(storage)
            self.limiter = MovingWindowRateLimiter(backend)

    def _who(self, scope: Scope) -> tuple[Any, str]:
        auth = (_header(scope, b"authorization") or b"").decode("latin-1")
        if auth.lower().startswith("bearer "):
            parts = auth[7:].strip().split("_")
            prefix = parts[1] if len(parts) >= 3 and parts[0] == "ww" else "malformed"
            return self.key_limit, f"key:{prefix[:32]}"
        client = scope.get("client") or ("unknown", 0)
        return self.public_limit, f"addr:{client[0]}"

    async def _retry_after(self, scope: Scope, limit: Any, who: str) -> int | None:
        """Count the hit; None when allowed, else the seconds to wait."""
        if not self.shared:
            if self.limiter.hit(limit, who):
                return None
            reset = self.limiter.get_window_stats(limit, who).reset_time
            return max(1, int(reset - time.time()) + 1)
        if self.counter is None:
            from geo.ratelimit import SharedWindowCounter

            self.counter = SharedWindowCounter(scope["app"].state.auth_engine)
        period = int(limit.get_expiry())
        bucket = f"{who}|{limit.amount}/{period}s"
        try:
            decision = await anyio.to_thread.run_sync(self.counter.hit, bucket, limit.amount, period)
        except SQLAlchemyError:
            log.warning("rate limit not counted: the database is unavailable", exc_info=True)
            return None
        return None if decision.allowed else decision.retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 429 once the caller's window is full; pass everything else on."""
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        limit, who = self._who(scope)
        retry = await self._retry_after(scope, limit, who)
        if retry is not None:
            body = json.dumps(
                {
                    "type": "about:blank",
                    "title": _TITLES[429],
                    "status": 429,
                    "detail": f"rate limit of {limit} exceeded for this "
                    f"{'key' if who.startswith('key:') else 'address'}; retry in {retry} s",
                }
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"retry-after", str(retry).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await self.app(scope, receive, send)


class RequestLimitMiddleware:
    """Refuse oversized request bodies and query strings with 413/414 before any handler runs."""

    def __init__(self, app: ASGIApp, max_request_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes

    def limit_for(self, content_type: bytes | None) -> int:
        """The body limit for a content type: uploads get the larger one."""
        kind = (content_type or b"").split(b";")[0].strip().decode("latin-1").lower()
        return self.max_upload_bytes if kind in UPLOAD_TYPES else self.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413/414 for oversized requests; count streamed body bytes for the rest."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await _problem(send, 414, f"the query string is longer than {MAX_QUERY_BYTES:,} bytes")
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            # PostgreSQL text cannot hold NUL, and no code, name or filter needs one
            await _problem(send, 400, "the URL contains a NUL character")
            return
        limit = self.limit_for(_header(scope, b"content-type"))
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _problem(send, 400, "the Content-Length header is not a number")
                return
            if length > limit:
                await _problem(send, 413, f"the request body is larger than the limit of {limit:,} bytes")
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the handler's body read: FastAPI re-raises HTTPExceptions
                    # from body parsing, and api/errors.py turns it into a 413 problem.
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


#: api/settings.py's built-in salt: fine on a laptop, never in a deployment.
DEV_SALT = "wardwise-dev-salt-change-me"
#: Salts that are published (this repository, its compose file, docs) or trivially guessed.
KNOWN_SALTS = frozenset(
    {DEV_SALT, "change-me", "changeme", "secret", "salt", "wardwise", "password", "test", "demo"}
)
#: Shortest salt accepted outside demo mode.
MIN_SALT_CHARS = 16


class InsecureSalt(RuntimeError):
    """The server was asked to start outside demo mode on a known, empty or short salt."""


def check_salt(settings: Any) -> None:
    """Refuse a known, empty or short ``WARDWISE_SECRET_SALT`` unless in demo mode (warn then).

    The salt keys API-key hashes, identifier hashes and the record keys of disclosure
    control: with a published salt anyone could forge those hashes and strip the noise.
    """
    salt = settings.secret_salt.get_secret_value()
    weak = salt.strip().lower() in KNOWN_SALTS or len(salt.strip()) < MIN_SALT_CHARS
    if not weak:
        return
    if getattr(settings, "demo", False):
        log.warning(
            "WARDWISE_SECRET_SALT is a known or short value: acceptable for the demo only "
            "(it hashes API keys and identifiers and seeds disclosure control)"
        )
        return
    raise InsecureSalt(
        "WARDWISE_SECRET_SALT is empty, too short (under "
        f"{MIN_SALT_CHARS} characters) or a published value: set a secret of your own, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, or run the demo with "
        "`wardwise serve --demo` (WARDWISE_DEMO=1)"
    )


def install_security(app: Any, max_request_bytes: int, max_upload_bytes: int) -> None:
    """Add the limits (inner), export auditing, and the headers (outer, so error answers get them too).

    Refuses (:class:`InsecureSalt`) to build an app on a known salt outside demo mode.
    """
    settings = getattr(app.state, "settings", None)
    if settings is not None:
        check_salt(settings)
        if settings.rate_limit_enabled:
            app.add_middleware(
                RateLimitMiddleware,
                public_limit=settings.rate_limit_public,
                key_limit=settings.rate_limit_key,
                storage=settings.rate_limit_storage,
            )
    app.add_middleware(
        RequestLimitMiddleware, max_request_bytes=max_request_bytes, max_upload_bytes=max_upload_bytes
    )
    app.add_middleware(ExportAuditMiddleware)
    frame_ancestors = list(getattr(settings, "frame_ancestors", None) or [])
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=frame_ancestors)
