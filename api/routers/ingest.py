"""Ingest: upload a file of any supported kind and format; list batches and their reports."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile, status
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from api.auth import AnalystDep, OfficerDep
from api.deps import ConnDep, EngineDep, SettingsDep
from api.schemas.ingest import BatchPage, BatchReportModel, BatchSummary, BatchUndone, IngestJob
from geo.analysis.jobs import Job
from geo.errors import InvalidRequest
from geo.ingest import get_batch, list_batches, rejected_rows_csv
from geo.ingest.jobs import ingest_runner, submit_ingest
from geo.ingest.service import ingest_path, undo

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])

KindParam = Literal[
    "events",
    "households",
    "survey",
    "areas",
    "area-classification",
    "area-statistics",
    "area-counts",
    "postcodes",
    "gazetteer",
    "area-lookup",
    "postcode-areas",
]
PresetParam = Literal["police-uk", "ons-boundaries", "oac", "onspd", "codepoint-open", "ons-oa-lookup"]
BATCH_ID = PathParam(ge=1, le=2**31 - 1, description="The batch id")


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        detail=f"the upload is larger than the limit of {limit:,} bytes",
    )


def _spool(upload: UploadFile, limit: int) -> Path:
    """Copy the upload to a temporary file, refusing it once it passes ``limit`` bytes."""
    suffix = Path(upload.filename or "upload").suffix[:16]
    handle = tempfile.NamedTemporaryFile(prefix="wardwise-ingest-", suffix=suffix, delete=False)
    written = 0
    with handle:
        while block := upload.file.read(1 << 20):
            written += len(block)
            if written > limit:
                handle.close()
                Path(handle.name).unlink(missing_ok=True)
                raise _too_large(limit)
            handle.write(block)
    return Path(handle.name)


def _inline_mapping(mapping: str | None) -> dict[str, Any] | None:
    """The ``mapping`` form field as a JSON object: over HTTP a mapping is inline content only,
    never a path the server would read (issue 15)."""
    if mapping is None or not mapping.strip():
        return None
    try:
        parsed = json.loads(mapping)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"`mapping` is expected to be a JSON object (inline, not a file name): {exc}"
        ) from exc
    if not isinstance(parsed, dict):
        raise InvalidRequest("`mapping` is expected to be a JSON object (inline, not a file name)")
    _check_reading_options(parsed)
    return parsed


def _check_reading_options(mapping: dict[str, Any]) -> None:
    """Refuse odd ``encoding``, ``delimiter`` and ``date_format`` values with a 422 naming them
    (they reached the CSV and date parsers and came back as 500s)."""
    for name in ("encoding", "delimiter", "date_format"):
        value = mapping.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"mapping `{name}` was {value!r} but is expected to be a string")
    delimiter = mapping.get("delimiter")
    if (
        delimiter
        and not (len(delimiter) == 1 or delimiter in ("\\t", "tab"))
        or delimiter in ('"', "\n", "\r")
    ):
        raise InvalidRequest(
            f"mapping `delimiter` was {delimiter!r} but is expected to be one character (not a quote or "
            "line break), or 'tab'"
        )
    fmt = mapping.get("date_format")
    if fmt:
        import datetime as dt

        try:
            dt.datetime.strptime(dt.datetime(2001, 2, 3, 4, 5, 6).strftime(fmt), fmt)
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(
                f"mapping `date_format` was {fmt!r}, which is not a strftime format: {exc}"
            ) from exc


@router.post(
    "/{kind}",
    operation_id="ingest_file",
    response_model=BatchReportModel,
    status_code=status.HTTP_201_CREATED,
    responses={
        202: {
            "model": IngestJob,
            "description": "A large upload (over the inline limit) was queued as a job: poll its URL",
        },
        409: {"description": "The same file was ingested before; nothing changed"},
        413: {"description": "The upload is larger than the configured limit"},
        422: {"description": "The file or its rows are not what was expected; nothing was stored"},
    },
)
def ingest_upload(
    request: Request,
    viewer: AnalystDep,
    engine: EngineDep,
    settings: SettingsDep,
    kind: KindParam,
    file: Annotated[UploadFile, File(description="CSV, XLSX, GeoJSON, GeoPackage or zipped Shapefile")],
    mapping: Annotated[
        str | None, Form(max_length=20_000, description="A JSON mapping (columns, constants, values ...)")
    ] = None,
    preset: Annotated[PresetParam | None, Form(description="A preset for a public file format")] = None,
) -> Any:
    """Load one file as one all-or-nothing batch and return its quality report.

    A file larger than the inline limit (``WARDWISE_INGEST_INLINE_MAX_BYTES``) is loaded by
    a durable background job instead: the answer is 202 with the job, whose URL reports its
    progress and, once done, the same quality report.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes + 64 * 1024:
        raise _too_large(settings.max_upload_bytes)
    path = _spool(file, settings.max_upload_bytes)
    if path.stat().st_size > settings.ingest_inline_max_bytes:
        try:
            job = submit_ingest(
                path,
                kind=kind,
                salt=settings.secret_salt.get_secret_value(),
                actor=viewer.actor,
                filename=Path(file.filename or path.name).name,
                mapping=_inline_mapping(mapping),
                preset=preset,
                max_bytes=settings.max_upload_bytes,
                engine=engine,
            )
        finally:
            path.unlink(missing_ok=True)
        info = _job_info(request, job)
        return JSONResponse(
            info, status_code=status.HTTP_202_ACCEPTED, headers={"Location": info["links"]["self"]}
        )
    try:
        report = ingest_path(
            engine,
            kind,
            path,
            salt=settings.secret_salt.get_secret_value(),
            actor=viewer,
            filename=Path(file.filename or path.name).name,
            mapping=_inline_mapping(mapping),
            preset=preset,
            max_bytes=settings.max_upload_bytes,
        )
    finally:
        path.unlink(missing_ok=True)
    return report.to_dict()


JobId = Annotated[str, PathParam(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]


def _job_info(request: Request, job: Job) -> dict[str, Any]:
    info = job.summary()
    info["links"] = {"self": str(request.url_for("get_ingest_job", job_id=job.id))}
    info["report"] = job.result if job.status == "done" else None
    return info


@router.get("/jobs/{job_id}", operation_id="get_ingest_job", response_model=IngestJob)
def get_ingest_job(request: Request, viewer: AnalystDep, job_id: JobId) -> Any:
    """An ingest job's status and progress (0 to 1), and its batch report once done."""
    return _job_info(request, ingest_runner().get(job_id))


@router.delete("/jobs/{job_id}", operation_id="cancel_ingest_job", response_model=IngestJob)
def cancel_ingest_job(request: Request, viewer: AnalystDep, job_id: JobId) -> Any:
    """Cancel an ingest job: a queued one never runs; a running one stops and stores nothing."""
    return _job_info(request, ingest_runner().cancel(job_id))


@router.get("/batches", operation_id="list_ingest_batches", response_model=BatchPage)
def list_ingest_batches(
    viewer: OfficerDep,
    conn: ConnDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """List earlier ingest batches, newest first, each with its quality report."""
    return BatchPage(batches=[BatchSummary(**b) for b in list_batches(conn, limit=limit)])


@router.get("/batches/{batch_id}", operation_id="get_ingest_batch", response_model=BatchSummary)
def get_ingest_batch(viewer: OfficerDep, conn: ConnDep, batch_id: Annotated[int, BATCH_ID]) -> Any:
    """Return one ingest batch with its quality report."""
    return BatchSummary(**get_batch(conn, batch_id))


@router.delete(
    "/batches/{batch_id}",
    operation_id="undo_ingest_batch",
    response_model=BatchUndone,
    responses={404: {"description": "No such batch"}, 422: {"description": "The batch is not loaded"}},
)
def undo_ingest_batch(viewer: AnalystDep, engine: EngineDep, batch_id: Annotated[int, BATCH_ID]) -> Any:
    """Undo a loaded batch: remove its rows (audited) so its file can be loaded again."""
    return undo(engine, batch_id, actor=viewer)


@router.get(
    "/batches/{batch_id}/rejected.csv",
    operation_id="get_ingest_rejected_rows",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_ingest_rejected_rows(
    viewer: AnalystDep, conn: ConnDep, batch_id: Annotated[int, BATCH_ID]
) -> Response:
    """Download a batch's rejected rows (row number, field, reason, non-personal values) as CSV."""
    body = rejected_rows_csv(conn, batch_id)
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}-rejected.csv"'},
    )
