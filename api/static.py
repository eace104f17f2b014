"""The map page's static files, compressed and cached the way each kind needs.

* ``/vendor/*`` holds third-party bundles whose names carry their versions
  (``pydeck-0.9.3-deckgl-9.3.6.js``): they never change under the same name, so they are
  served ``immutable`` for a year.
* The page's own files (``index.html``, ``app.js``, ``style.css``) change with the code:
  they are served ``no-cache`` with an ETag, so a browser revalidates for the cost of a 304.
* Text files are sent gzip-compressed to clients that accept it: a ``<name>.gz`` beside the
  file when there is one, else compressed once in memory (keyed by size and mtime).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from typing import Any

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESSIBLE = {".js", ".css", ".html", ".svg", ".json", ".map", ".txt"}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


class PageFiles(StaticFiles):
    """StaticFiles with gzip (precompressed or cached in memory), ETags and cache lifetimes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gz: dict[str, tuple[tuple[int, float], bytes, str]] = {}
        self._lock = threading.Lock()

    def _compressed(self, full_path: str, stat: os.stat_result) -> tuple[bytes, str]:
        """The gzip body of a file and its ETag, computed once per (size, mtime)."""
        stamp = (stat.st_size, stat.st_mtime)
        with self._lock:
            hit = self._gz.get(full_path)
        if hit and hit[0] == stamp:
            return hit[1], hit[2]
        with open(full_path, "rb") as f:
            raw = f.read()
        pre = full_path + ".gz"
        if os.path.isfile(pre) and os.stat(pre).st_mtime >= stat.st_mtime:
            with open(pre, "rb") as f:
                body = f.read()
        else:
            body = gzip.compress(raw, compresslevel=9, mtime=0)
        etag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '-gz"'
        with self._lock:
            self._gz[full_path] = (stamp, body, etag)
        return body, etag

    async def get_response(self, path: str, scope: Scope) -> Response:
        """Serve compressed text with the right Cache-Control; anything else as StaticFiles does."""
        response = await super().get_response(path, scope)
        if response.status_code not in (200, 304):
            return response
        norm = path.replace("\\", "/").lstrip("/")
        if norm in ("", "."):
            norm = "index.html"
        immutable = norm.startswith("vendor/")
        cache = IMMUTABLE if immutable else REVALIDATE
        ext = os.path.splitext(norm)[1].lower()
        headers = dict(scope.get("headers") or [])
        accepts_gzip = b"gzip" in headers.get(b"accept-encoding", b"").lower()
        full_path, stat = self.lookup_path(norm)
        if ext not in COMPRESSIBLE or not accepts_gzip or stat is None or full_path is None:
            response.headers["cache-control"] = cache
            return response
        body, etag = self._compressed(full_path, stat)
        common = {"etag": etag, "cache-control": cache, "vary": "Accept-Encoding"}
        if etag in headers.get(b"if-none-match", b"").decode("latin-1"):
            return Response(status_code=304, headers=common)
        return Response(
            body,
            media_type=MEDIA_TYPES.get(ext),
            headers={**common, "content-encoding": "gzip"},
        )
