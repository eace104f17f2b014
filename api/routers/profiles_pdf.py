"""Exports of the map page (issue 14). Community profiles as PDF, rendered on the server: one
area, or every ward of a district in one document, with the access and figures of the JSON
profile (``GET /api/v1/areas/{code}/profile``: officers and above). Any table the page shows
as XLSX (the page posts what it drew)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import OfficerDep, ViewerDep
from api.deps import ConnDep
from api.routers.analysis import AreaCode, ClassificationDep
from geo.analysis.profile_pdf import area_profile_pdf, district_profiles_pdf
from geo.table_xlsx import table_xlsx

router = APIRouter(prefix="/api/v1", tags=["analysis"])

PDF = "application/pdf"


def _pdf(body: bytes, filename: str) -> Response:
    return Response(
        body,
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/areas/{code}/profile.pdf",
    operation_id="get_area_profile_pdf",
    response_class=Response,
    responses={
        200: {"content": {PDF: {}}, "description": "The profile as an A4 PDF"},
        404: {"description": "Unknown area"},
    },
)
def get_area_profile_pdf(
    conn: ConnDep, viewer: OfficerDep, code: AreaCode, classification: ClassificationDep
) -> Any:
    """The community profile of an area as a PDF: map, date, data vintage, method notes and tables."""
    return _pdf(area_profile_pdf(conn, code, classification), f"profile_{code}.pdf")


@router.get(
    "/districts/{code}/profiles.pdf",
    operation_id="get_district_profiles_pdf",
    response_class=Response,
    responses={
        200: {"content": {PDF: {}}, "description": "Every ward's profile, one after another"},
        404: {"description": "Unknown area"},
    },
)
def get_district_profiles_pdf(
    conn: ConnDep, viewer: OfficerDep, code: AreaCode, classification: ClassificationDep
) -> Any:
    """Batch profiles: every ward of a district as one PDF."""
    return _pdf(district_profiles_pdf(conn, code, classification), f"profiles_{code}_wards.pdf")


class TableIn(BaseModel):
    """A table as the page shows it."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=300)
    columns: list[str] = Field(min_length=1, max_length=100)
    rows: list[list[float | int | str | None]] = Field(max_length=20_000)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post(
    "/exports/table.xlsx",
    operation_id="export_table_xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The table as a one-sheet workbook"}},
    tags=["exports"],
)
def post_table_xlsx(body: TableIn, viewer: ViewerDep) -> Any:
    """Turn a table the page shows (title, columns, rows) into an XLSX workbook; nothing is looked up."""
    return Response(
        table_xlsx(body.title, body.columns, body.rows),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="table.xlsx"', "Cache-Control": "no-store"},
    )
