"""Large uploads ingested as durable jobs (issue 17): the request answers 202 with a job to poll.

An upload larger than the inline limit is not loaded inside the request: its bytes go into a
queued job of the ``ingest`` queue (``geo.analysis.jobs``: a row of ``job``, claimed with
SKIP LOCKED by any API process or ``wardwise worker``), so the request returns at once, the
load survives the accepting process going away, and its progress (rows read against the
file's rows) is stored as it runs. The job runs :func:`geo.ingest.service.ingest_path`
exactly as the inline path does (one all-or-nothing batch, audited, a failure recorded), and
its result is the batch's quality report. The file's bytes leave the job row when it ends.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from geo.analysis.jobs import Job, JobRunner, register_kind

KIND = "ingest"


@functools.cache
def ingest_runner() -> JobRunner:
    """The process-wide queue for ingest jobs (one at a time per process: the machine is shared)."""
    return JobRunner(max_workers=1, keep=50, max_pending=4, queue="ingest")


def _rows_in(path: Path) -> int | None:
    """Data rows of a delimited text file (lines less the header), for progress; None otherwise."""
    if path.suffix.lower() not in (".csv", ".txt", ".tsv", ""):
        return None
    lines = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
    return max(lines - 1, 1)


def _load(
    engine: Engine, path: Path, spec: dict[str, Any], salt: str, progress: Callable[[float], None]
) -> Any:
    from geo.ingest.service import ingest_path

    total = _rows_in(path)

    def rows_done(rows: int) -> None:
        # the last few percent are the batch's finish (duplicates, versions) and the commit
        progress(0.95 * min(1.0, rows / total) if total else min(0.9, rows / (rows + 100_000)))

    report = ingest_path(
        engine,
        spec["kind"],
        path,
        salt=salt,
        actor=spec["actor"],
        filename=spec["filename"],
        mapping=spec["mapping"],
        preset=spec["preset"],
        max_bytes=spec["max_bytes"],
        progress=rows_done,
    )
    return report.to_dict()


def _run_payload(
    engine: Engine, payload: dict[str, Any], salt: str, progress: Callable[[float], None]
) -> Any:
    suffix = Path(payload["filename"]).suffix[:16]
    with tempfile.TemporaryDirectory(prefix="wardwise-ingest-job-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(payload["content"])
        return _load(engine, path, payload, salt, progress)


def _handler(engine: Engine, payload: dict[str, Any], progress: Callable[[float], None]) -> Any:
    """Run a queued ingest in any worker: the file's bytes travel in the payload."""
    from geo.auth_cli import secret_salt_from_env

    return _run_payload(engine, payload, secret_salt_from_env(), progress)


register_kind(KIND, _handler)


def submit_ingest(
    path: Path,
    *,
    kind: str,
    salt: str,
    actor: str,
    filename: str,
    mapping: dict[str, Any] | None,
    preset: str | None,
    max_bytes: int | None,
    engine: Engine,
) -> Job:
    """Queue the ingest of a spooled upload (its bytes go into the job; the caller removes
    the spooled file). This process runs the job if it claims it first, else any worker does."""
    payload = {
        "kind": kind,
        "actor": actor,
        "filename": filename,
        "mapping": mapping,
        "preset": preset,
        "max_bytes": max_bytes,
        "content": path.read_bytes(),
    }
    params = {"kind": kind, "filename": filename, "bytes": len(payload["content"])}
    return ingest_runner().submit(
        KIND, params, lambda progress: _run_payload(engine, payload, salt, progress), payload=payload
    )
