"""The community profile of an area as a PDF, rendered on the server with ReportLab.

One page per area: a map of the area in its district (drawn from PostGIS shapes, no
basemap, nothing fetched), the date, the data vintage, method notes and the profile's
tables (segments, services, channels, key issues), with exactly the figures of
:func:`geo.analysis.profile.area_profile` for the same area and classification.
:func:`district_profiles_pdf` puts every ward of a district in one document.

ReportLab installs from PyPI alone and embeds its standard fonts, so there is no system
library or font package to install.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text

from geo.analysis.profile import area_profile
from geo.db import load_sql
from geo.errors import InvalidRequest, UnknownArea

#: Method notes printed under every profile.
METHOD_NOTES = (
    "Segment index: the segment's share of households here divided by its share across the "
    "district, times 100 (100 = as the district; above 100 = over-represented).",
    "Service ratio: observed use divided by the use expected from the area's mix of segments "
    "at district rates per segment, times 100; the interval is the exact Poisson (Garwood) 95% "
    "interval.",
    "Channel index: the channel's share of the area's contacts against the district's share.",
    "Key issues: services used significantly more here than across the district.",
)
#: Print tolerance of the map's shapes (metres in EPSG:3857).
MAP_TOLERANCE_M = 15.0
MAX_BATCH_AREAS = 400


def _fmt(value: Any, kind: str = "num") -> str:
    """Numbers as the page shows them: thousands separators, sensible decimals, '–' for none."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if kind == "int":
        return f"{round(value):,}"
    if kind == "pct":
        return f"{value:,.1f}%"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def _rings(geojson: str) -> list[list[tuple[float, float]]]:
    geometry = json.loads(geojson)
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [[(float(x), float(y)) for x, y in ring] for polygon in polygons for ring in polygon[:1]]


def _map_drawing(conn: Connection, code: str, width: float, height: float) -> Any:
    """The area (filled), the district's other areas of its level and the district outline."""
    from reportlab.graphics.shapes import Drawing, Polygon, String
    from reportlab.lib import colors

    rows = conn.execute(load_sql("profile/map"), {"code": code, "tolerance_m": MAP_TOLERANCE_M}).all()
    shapes = [(role, _rings(shape)) for role, _c, shape in rows if shape]
    drawing = Drawing(width, height)
    points = [p for _role, rings in shapes for ring in rings for p in ring]
    if not points:
        drawing.add(String(4, height / 2, "No boundary to draw", fontName="Helvetica", fontSize=9))
        return drawing
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    scale = min((width - 8) / max(max(xs) - min(xs), 1.0), (height - 8) / max(max(ys) - min(ys), 1.0))
    scale = scale if scale > 0 else (width - 8) / span
    x0 = min(xs) - (width / scale - (max(xs) - min(xs))) / 2
    y0 = min(ys) - (height / scale - (max(ys) - min(ys))) / 2
    style = {
        "district": (None, colors.HexColor("#12304f"), 1.4),
        "context": (colors.HexColor("#e6e8e3"), colors.HexColor("#8a8a8a"), 0.4),
        "area": (colors.HexColor("#e6007e"), colors.HexColor("#1d1d1f"), 1.0),
    }
    for role in ("context", "district", "area"):
        fill, stroke, width_pt = style[role]
        for r, rings in shapes:
            if r != role:
                continue
            for ring in rings:
                flat = [v for x, y in ring for v in ((x - x0) * scale, (y - y0) * scale)]
                drawing.add(Polygon(flat, fillColor=fill, strokeColor=stroke, strokeWidth=width_pt))
    return drawing


def _table(caption: str, header: list[str], rows: Iterable[list[str]], styles: Any) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    body = [header, *rows]
    if len(body) == 1:
        return [Paragraph(caption, styles["Heading3"]), Paragraph("None.", styles["BodyText"])]
    t = Table(body, repeatRows=1, hAlign="LEFT")
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9a9a9a")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return [Paragraph(caption, styles["Heading3"]), t]


def _story(conn: Connection, profile: dict[str, Any], vintage: dict[str, Any], styles: Any) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    area = profile["area"]
    story: list[Any] = [
        Paragraph(f"{area['name']} ({area['code']})", styles["Title"]),
        Paragraph(
            f"Community profile · {area['level']} in district {profile['district']['code'] or '–'} · "
            f"{_fmt(area['households'], 'int')} households · classification {profile['classification']}",
            styles["BodyText"],
        ),
        Paragraph(
            f"Produced {vintage['produced']} · data version {vintage['version']} · last load "
            f"{vintage['last_load'] or '–'} · service events {vintage['first_event'] or '–'} to "
            f"{vintage['last_event'] or '–'}",
            styles["BodyText"],
        ),
        Spacer(1, 2 * mm),
        _map_drawing(conn, area["code"], 170 * mm, 62 * mm),
        Paragraph(
            "Map: the area (magenta) among the district's other areas of its level; "
            "district outline in blue.",
            styles["Italic"],
        ),
    ]
    if profile.get("pen_portrait"):
        story.append(Paragraph(profile["pen_portrait"], styles["BodyText"]))
    story += _table(
        "Households by segment (index 100 = district share)",
        ["Segment", "Households", "%", "District %", "Index"],
        (
            [
                s["name"],
                _fmt(s["households"], "int"),
                _fmt(s["pct"], "pct"),
                _fmt(s["district_pct"], "pct"),
                _fmt(s["index"], "int"),
            ]
            for s in profile["segments"]
        ),
        styles,
    )
    story += _table(
        "Service take-up against what the mix predicts (ratio 100 = as expected)",
        ["Service", "Observed", "Expected", "Ratio", "95% CI"],
        (
            [
                s["name"],
                _fmt(s["observed"], "int"),
                _fmt(s["expected"]),
                _fmt(s["ratio"], "int"),
                f"{_fmt(s.get('ci_low'), 'int')}–{_fmt(s.get('ci_high'), 'int')}",
            ]
            for s in profile["services"]
        ),
        styles,
    )
    story += _table(
        "Contacts by channel (index 100 = district share)",
        ["Channel", "Events", "Share", "District share", "Index"],
        (
            [
                c["channel"],
                _fmt(c["events"], "int"),
                _fmt(c["share_pct"], "pct"),
                _fmt(c["district_share_pct"], "pct"),
                _fmt(c["index"], "int"),
            ]
            for c in profile["channels"]
        ),
        styles,
    )
    story += _table(
        "Key issues (used significantly more than across the district)",
        ["Service", "Rate per 1,000", "District rate", "Index"],
        (
            [
                k["name"],
                _fmt(k["rate_per_1000"]),
                _fmt(k["district_rate_per_1000"]),
                _fmt(k["district_index"], "int"),
            ]
            for k in profile["key_issues"]
        ),
        styles,
    )
    story.append(Paragraph("Method notes", styles["Heading3"]))
    story += [Paragraph(note, styles["BodyText"]) for note in METHOD_NOTES]
    return story


def _vintage(conn: Connection) -> dict[str, Any]:
    from geo.tiles import data_version

    row = conn.execute(load_sql("profile/vintage")).mappings().one()
    last_load = row["last_load"]
    return {
        "produced": dt.date.today().isoformat(),
        "version": data_version(conn),
        "last_load": last_load.strftime("%Y-%m-%d %H:%M UTC") if last_load else None,
        "first_event": row["first_event"].isoformat() if row["first_event"] else None,
        "last_event": row["last_event"].isoformat() if row["last_event"] else None,
    }


def _render(conn: Connection, profiles: list[dict[str, Any]], title: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    styles = getSampleStyleSheet()
    vintage = _vintage(conn)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author="Wardwise",
        invariant=1,
    )
    story: list[Any] = []
    for i, profile in enumerate(profiles):
        if i:
            story.append(PageBreak())
        story += _story(conn, profile, vintage, styles)
    doc.build(story)
    return buffer.getvalue()


def area_profile_pdf(conn: Connection, code: str, classification: str | None = None) -> bytes:
    """The profile of ``code`` as PDF bytes (the figures of :func:`area_profile`)."""
    profile = area_profile(conn, code, classification)
    return _render(conn, [profile], f"Community profile: {profile['area']['name']}")


def district_wards(conn: Connection, district: str) -> list[str]:
    """The codes of the wards whose point on surface lies in ``district`` (a district area code)."""
    level = conn.execute(text("SELECT level FROM area WHERE code = :c"), {"c": district}).scalar_one_or_none()
    if level is None:
        raise UnknownArea(f"`district` was {district!r} but no area has that code")
    if level != "district":
        raise InvalidRequest(f"`district` was {district!r}, a {level}, but is expected to be a district")
    return list(conn.execute(load_sql("profile/district_wards"), {"district": district}).scalars())


def district_profiles_pdf(conn: Connection, district: str, classification: str | None = None) -> bytes:
    """Every ward of ``district`` as one PDF, a page (or more) per ward in code order."""
    codes = district_wards(conn, district)
    if not codes:
        raise InvalidRequest(f"district {district!r} has no wards to profile")
    if len(codes) > MAX_BATCH_AREAS:
        raise InvalidRequest(
            f"district {district!r} has {len(codes)} wards; at most {MAX_BATCH_AREAS} per document"
        )
    profiles = [area_profile(conn, c, classification) for c in codes]
    return _render(conn, profiles, f"Community profiles: every ward of {district}")
