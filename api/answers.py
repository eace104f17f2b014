"""Response headers that say which data version answered and whether it was stale (issue 17).

``geo.cache`` records each cached answer a request used in :data:`geo.cache.ANSWER`; this
pure ASGI middleware gives every request a fresh record and adds ``X-Wardwise-Data-Version``
(and, for a stale-while-revalidate answer, ``Age`` and ``Warning: 110``) to the response,
unless the route set them itself (tiles do).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo.cache import ANSWER, answer_headers


class AnswerHeaders:
    """Adds the answer-version headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Give the request a fresh answer record; add its headers to the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        meta: dict[str, Any] = {}
        token = ANSWER.set(meta)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and meta:
                headers = MutableHeaders(scope=message)
                for name, value in answer_headers(meta).items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            ANSWER.reset(token)
