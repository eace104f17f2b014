"""Community profiles as PDF, rendered on the server (issue 14): one area, or every ward of a
district in one document. Same access and figures as the JSON profile
(``GET /api/v1/areas/{code}/profile``): officers and above."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.auth import OfficerDep
from api.deps import ConnDep
from api.routers.analysis import AreaCode, ClassificationDep
from geo.analysis.profile_pdf import area_profile_pdf, district_profiles_pdf

router = APIRouter(prefix="/api/v1", tags=["analysis"])

PDF = "application/pdf"


def _pdf(body: bytes, filename: str) -> Response:
    return Response(
        body,
        media_type=PDF,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"},
    )


@router.get(
    "/areas/{code}/profile.pdf",
    operation_id="get_area_profile_pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}, "description": "The profile as an A4 PDF"}, 404: {"description": "Unknown area"}},
)
def get_area_profile_pdf(conn: ConnDep, viewer: OfficerDep, code: AreaCode, classification: ClassificationDep) -> Any:
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
