"""Exports are audited in one place: any successful response sent as a download
(``Content-Disposition: attachment``: CSV, XLSX, GeoJSON files, reports) writes an
``export.<extension>`` entry with who asked, the path and the query, after it is sent.

Routers need do nothing; an export added later is audited too. Writes go through the
small auth pool (``app.state.auth_engine``) in a worker thread, so they neither delay the
download nor compete with request connections; a failure to write is logged, not raised
(the file has already gone).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo.audit import record

log = logging.getLogger("wardwise.audit")

_FILENAME = re.compile(rb'filename="?([^";]+)"?')


def _write(app: Any, actor: Any, action: str, target: str, detail: dict[str, Any]) -> None:
    engine = getattr(app.state, "auth_engine", None) or getattr(app.state, "engine", None)
    if engine is None:
        return
    try:
        with engine.begin() as conn:
            record(conn, actor, action, target, detail)
    except Exception:  # noqa: BLE001 - the download is sent; never turn it into an error
        log.exception("could not audit %s of %s", action, target)


class ExportAuditMiddleware:
    """Write an ``export.*`` audit entry for every successful download."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; after a download is sent, record it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        export: dict[str, Any] = {}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 300:
                for key, value in message.get("headers", []):
                    if key.lower() == b"content-disposition" and b"attachment" in value.lower():
                        match = _FILENAME.search(value)
                        export["filename"] = match.group(1).decode("latin-1") if match else ""
                        export["status"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if export:
            filename = export["filename"]
            extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "file"
            action = f"export.{re.sub(r'[^a-z0-9_]', '', extension) or 'file'}"
            viewer = scope.get("state", {}).get("viewer") or "anonymous"
            query = scope.get("query_string", b"").decode("latin-1")[:1000]
            detail = {"filename": filename, "query": query, "status": export["status"]}
            await anyio.to_thread.run_sync(_write, scope["app"], viewer, action, scope["path"], detail)
