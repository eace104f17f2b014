"""Ingest as a service: one call per upload, with its own transactions and audit entry.

The API and the CLI both come through :func:`ingest_path`: the batch loads in one
transaction (all or nothing); if it fails, a second, separate transaction records the
failed attempt (no rows) so the batch list shows it, and the error is raised again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError

from geo.audit import record
from geo.auth import Viewer
from geo.errors import DuplicateBatch, IngestError
from geo.ingest.batch import Progress, ingest_file, record_failed_batch, undo_batch
from geo.ingest.mapping import Mapping
from geo.ingest.readers import CHUNK_ROWS, file_sha256
from geo.ingest.report import BatchReport


def ingest_path(
    engine: Engine,
    kind: str,
    path: str | Path,
    *,
    salt: str,
    actor: Viewer | str,
    filename: str | None = None,
    mapping: str | Path | dict[str, Any] | Mapping | None = None,
    preset: str | None = None,
    max_bytes: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> BatchReport:
    """Ingest one file as a committed batch, audited; record a failure if it fails.

    Raises
    ------
    DuplicateBatch
        The file was loaded before (nothing changed, nothing recorded).
    IngestError
        The batch failed; nothing was loaded, and the failed attempt is listed.
    """
    name = filename or Path(path).name
    created_by = actor if isinstance(actor, str) else actor.actor
    try:
        with engine.begin() as conn:
            report = ingest_file(
                conn,
                kind,
                path,
                salt=salt,
                mapping=mapping,
                preset=preset,
                filename=name,
                created_by=created_by,
                max_bytes=max_bytes,
                chunk_rows=chunk_rows,
                progress=progress,
            )
            record(
                conn,
                actor,
                "ingest.load",
                str(report.batch_id),
                {"kind": kind, "filename": name, "rows_loaded": report.rows_loaded},
            )
            return report
    except DuplicateBatch:
        raise
    except (IngestError, DataError, IntegrityError) as exc:
        error = exc if isinstance(exc, IngestError) else _database_refusal(exc)
        sha = file_sha256(Path(path)) if Path(path).is_file() else ""
        with engine.begin() as conn:
            batch_id = record_failed_batch(conn, kind, name, sha, str(error), created_by)
            record(conn, actor, "ingest.fail", str(batch_id), {"kind": kind, "filename": name})
        if error is exc:
            raise
        raise error from exc


def _database_refusal(exc: DataError | IntegrityError) -> IngestError:
    """A database refusal as an ingest error (a value no check caught), without the SQL."""
    first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    return IngestError(f"the database refused a value of this file: {first}; nothing was stored")


def undo(engine: Engine, batch_id: int, *, actor: Viewer | str) -> dict[str, Any]:
    """Undo a loaded batch (see :func:`geo.ingest.batch.undo_batch`), audited, in one transaction."""
    with engine.begin() as conn:
        result = undo_batch(conn, batch_id)
        record(
            conn, actor, "ingest.undo", str(batch_id), {"kind": result["kind"], "removed": result["removed"]}
        )
    return result
