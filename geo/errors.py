"""Wardwise's exceptions: one class per failure, each saying what went wrong."""

from __future__ import annotations

from typing import Any


class WardwiseError(Exception):
    """Base class for every error Wardwise raises on purpose."""


class DatabaseUnavailable(WardwiseError):
    """The database could not be reached or lacks PostGIS."""


class NotFound(WardwiseError):
    """Something asked for by name or code does not exist."""


class UnknownArea(NotFound):
    """No area has the given code."""


class UnknownService(NotFound):
    """No service has the given code."""


class UnknownClassification(NotFound):
    """No classification has the given code."""


class UnknownLayer(NotFound):
    """No tile layer has the given name."""


class InvalidRequest(WardwiseError):
    """A request is well-formed but cannot be answered as asked."""


class InvalidParameter(InvalidRequest):
    """A query parameter's value is malformed (OGC API answers these with 400)."""


class InvalidTileAddress(InvalidRequest):
    """The z/x/y address is outside the tile matrix."""


class Infeasible(InvalidRequest):
    """A planning problem has no feasible solution as posed."""


class AlreadyExists(WardwiseError):
    """Something to be created under a code exists already."""


class SuppressedCount(WardwiseError):
    """A count is too small to be shown to this user."""


class PermissionDenied(WardwiseError):
    """The caller's role is not allowed to do this."""


class QuotaExceeded(WardwiseError):
    """The caller holds its quota of something (jobs): retry after ``retry_after_s`` (HTTP 429)."""

    def __init__(self, message: str, retry_after_s: int = 30) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthenticationRequired(WardwiseError):
    """The caller must present an API key."""


class IngestError(WardwiseError):
    """An ingest failed as a whole; nothing was stored."""


class DuplicateBatch(IngestError):
    """The same file was ingested before; nothing changed."""

    def __init__(self, message: str, batch_id: int) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class IngestRowError(IngestError):
    """A row of an input file has a field that is not what was expected."""

    def __init__(self, row: int | None, field: str | None, expected: str, got: Any) -> None:
        self.row = row
        self.field = field
        self.expected = expected
        self.got = got
        where = f"row {row}" if row is not None else "the file"
        what = f"field `{field}`" if field else "the input"
        super().__init__(f"{where}: {what} was {got!r} but is expected to be {expected}")
