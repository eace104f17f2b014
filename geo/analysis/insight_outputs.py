"""What the insight endpoints return: JSON-ready bodies and CSV for targets, exclusion and selector.

One function per endpoint (so routers stay thin); tables leave as records with NaN as null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import Connection

from geo.analysis.exclusion import digital_exclusion
from geo.analysis.propensity import table_csv, table_records
from geo.analysis.selector import selector_profile
from geo.analysis.services import ServiceFilter
from geo.analysis.targets import TargetClass, TargetThresholds, service_targets, target_areas
from geo.disclosure import DisclosurePolicy
from geo.errors import InvalidRequest

Format = Literal["json", "csv"]


def parse_weights(text: str | None) -> dict[str, float] | None:
    """``"asb_reports:2,fire_safety:1"`` as ``{"asb_reports": 2.0, "fire_safety": 1.0}``."""
    if text is None or not text.strip():
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        service, sep, value = part.partition(":")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not service.strip() or weight != weight:
            raise InvalidRequest(
                f"`weights` has {part!r} but is expected to be service:number pairs, comma separated"
            )
        out[service.strip()] = weight
    return out


def targets_output(
    conn: Connection,
    service: str,
    classification: str | None,
    *,
    within: str | None = None,
    thresholds: TargetThresholds | None = None,
    policy: DisclosurePolicy | None = None,
    fmt: Format = "json",
) -> dict[str, Any] | str:
    """The body of ``GET /services/{service}/targets``."""
    result = service_targets(
        conn, service, classification, ServiceFilter(within=within), thresholds=thresholds, policy=policy
    )
    if fmt == "csv":
        return table_csv(result["rows"])
    return {**result, "rows": table_records(result["rows"])}


def target_areas_output(
    conn: Connection,
    service: str,
    level: str,
    *,
    classes: tuple[TargetClass, ...],
    thresholds: TargetThresholds | None = None,
    classification: str | None = None,
    percentile: float = 80.0,
    top: int | None = 50,
    within: str | None = None,
    fmt: Format = "json",
) -> dict[str, Any] | str:
    """The body of ``GET /services/{service}/targets/areas``."""
    result = target_areas(
        conn,
        service,
        level,
        classes=classes,
        thresholds=thresholds,
        classification=classification,
        percentile=percentile,
        top=top,
        within=within,
    )
    rows = result["rows"]
    if fmt == "csv":
        if isinstance(rows, list):
            return "rank,area_code,name\n"
        flat = rows.copy()
        for c in ("segments", "core_segments", "developmental_segments", "channels", "media"):
            flat[c] = flat[c].map(lambda v: "; ".join(v))
        return str(flat.to_csv(index=False, lineterminator="\n"))
    records = [] if isinstance(rows, list) else table_records(rows)
    return {"meta": result["meta"], "targets": table_records(result["targets"]), "rows": records}


def exclusion_output(conn: Connection, service: str, **options: Any) -> dict[str, Any]:
    """The body of ``POST /channels/exclusion`` (``exclusion.digital_exclusion``)."""
    result = digital_exclusion(conn, service, **options)
    return {**result, "segments": table_records(result["segments"]), "areas": table_records(result["areas"])}


def selector_output(conn: Connection, weights: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    """The body of ``POST /selector`` (``selector.selector_profile``)."""
    result = selector_profile(conn, weights, **options)
    return {**result, "segments": table_records(result["segments"]), "areas": table_records(result["areas"])}
