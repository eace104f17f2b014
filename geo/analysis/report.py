"""The printable community report of an area: the profile as one self-contained HTML page.

No template engine: ``string.Template`` for the page and ``html.escape`` on every value
that came from the database. The page has print CSS (A4, no navigation), so "Print to
PDF" in any browser gives the PDF; Wardwise does not render PDFs itself because the
libraries that do it well (WeasyPrint, a headless browser) bring native dependencies the
service does not otherwise need.
"""

from __future__ import annotations

from html import escape
from string import Template
from typing import Any

from sqlalchemy import Connection

from geo.analysis.profile import area_profile

#: The report's styles are a stylesheet of the map page's (frontend_static/report.css), not an
#: inline <style>: the app's Content-Security-Policy (style-src 'self') blocks inline styles,
#: and swatches are SVG rectangles with a fill attribute for the same reason.
PAGE = Template(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Community profile: $title</title>
<link rel="stylesheet" href="/report.css">
</head>
<body>
<h1>$title</h1>
<p class="meta">$meta</p>
<p>$pen_portrait</p>
<h2>Who lives here</h2>
<table><thead><tr><th>Segment</th><th>Households</th><th>%</th><th>District %</th><th>Index</th></tr></thead>
<tbody>$segments</tbody></table>
<h2>Service take-up against what the mix of households predicts</h2>
<table><thead><tr><th>Service</th><th>Observed</th><th>Expected</th><th>Ratio</th><th>95% CI</th>
<th>Per 1,000</th><th>District per 1,000</th></tr></thead><tbody>$services</tbody></table>
<p class="note">Ratio = 100 &times; observed / expected, where expected applies the district's rate for
each segment to this area's households; highlighted where the interval excludes 100.</p>
<h2>How residents contact the council</h2>
<table><thead><tr><th>Channel</th><th>Contacts</th><th>%</th><th>District %</th><th>Index</th></tr></thead>
<tbody>$channels</tbody></table>
<h2>Key issues</h2>
<ul>$issues</ul>
<h2>Neighbouring areas and $parent_name</h2>
<table><thead><tr><th>Area</th><th>Households</th>$service_heads</tr></thead><tbody>$neighbours</tbody></table>
<p class="note">Figures are take-up ratios (100 = as the mix predicts). Officer use only: counts are not
suppressed.</p>
</body>
</html>
"""
)


def _cell(value: Any) -> str:
    if value is None:
        return "<td>&ndash;</td>"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"<td>{value:,}</td>"
    return f"<td>{escape(str(value))}</td>"


def _interval(low: Any, high: Any) -> str:
    if low is None or high is None:
        return "<td>&ndash;</td>"
    return f"<td>{int(low)}&ndash;{int(high)}</td>"


def _flag(ratio: Any, significant: Any) -> str:
    if ratio is None:
        return "<td>&ndash;</td>"
    css = "hi" if significant and ratio > 100 else "lo" if significant else ""
    return f'<td class="{css}">{int(ratio)}</td>'


def render_report(profile: dict[str, Any]) -> str:
    """Render a profile from :func:`geo.analysis.profile.area_profile` as a printable HTML page."""
    area = profile["area"]
    segments = "".join(
        f'<tr><td><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">'
        f'<rect width="10" height="10" fill="{escape(s.get("colour") or "#999")}"/></svg>'
        f"{escape(s['name'])}</td>{_cell(s['households'])}{_cell(s['pct'])}{_cell(s['district_pct'])}"
        f"{_cell(s['index'])}</tr>"
        for s in profile["segments"]
    )
    services = "".join(
        f"<tr><td>{escape(s['name'])}</td>{_cell(s['observed'])}{_cell(s['expected'])}"
        f"{_flag(s['ratio'], s['significant'])}"
        f"{_interval(s['ci_low'], s['ci_high'])}"
        f"{_cell(s['rate_per_1000'])}{_cell(s['district_rate_per_1000'])}</tr>"
        for s in profile["services"]
    )
    channels = "".join(
        f"<tr><td>{escape(c['channel'].replace('_', ' '))}</td>{_cell(c['events'])}{_cell(c['share_pct'])}"
        f"{_cell(c['district_share_pct'])}{_cell(c['index'])}</tr>"
        for c in profile["channels"]
    )
    issues = [
        f"<li>{escape(k['name'])}: {k['rate_per_1000']} per 1,000 households against "
        f"{k['district_rate_per_1000']} across the district (index {k['district_index']:.0f})</li>"
        for k in profile["key_issues"]
    ] + [
        f"<li>{escape(s['name'])} households (index {s['index']}): {escape(', '.join(s['key_issues']))}</li>"
        for s in profile["segment_issues"]
    ]
    codes = [s["service"] for s in profile["services"]]
    names = {s["service"]: s["name"] for s in profile["services"]}
    heads = "".join(f"<th>{escape(names[c])}</th>" for c in codes)
    own = {s["service"]: {"ratio": s["ratio"]} for s in profile["services"]}
    comparison_rows = [
        {"code": area["code"], "name": area["name"], "households": area["households"], "services": own}
    ]
    comparison_rows += profile["neighbours"]
    if profile["parent"]:
        comparison_rows.append(profile["parent"])
    neighbours = "".join(
        f"<tr><td>{escape(n['name'])} ({escape(n['code'])})</td>{_cell(n['households'])}"
        + "".join(_cell((n["services"].get(c) or {}).get("ratio")) for c in codes)
        + "</tr>"
        for n in comparison_rows
    )
    parent = profile["parent"]
    meta = (
        f"{area['level']} {area['code']} &middot; {area['households']:,} households &middot; "
        f"classification {escape(profile['classification'])} &middot; "
        f"district {escape(str(profile['district']['code']))}"
    )
    return PAGE.substitute(
        title=escape(area["name"]),
        meta=meta,
        pen_portrait=escape(profile["pen_portrait"]),
        segments=segments,
        services=services,
        channels=channels,
        issues="".join(issues) or "<li>No service is used significantly more than across the district.</li>",
        parent_name=escape(parent["name"]) if parent else "the district",
        service_heads=heads,
        neighbours=neighbours,
    )


def area_report(conn: Connection, code: str, classification: str | None = None) -> str:
    """The printable HTML community report of an area (its profile, rendered)."""
    return render_report(area_profile(conn, code, classification))
