"""The service catalogue: create, list and amend the services whose use Wardwise counts.

A fresh database has no services; a council creates them (``wardwise services create``,
``POST /api/v1/services``), or an ingest preset that implies one creates it and says so in
its report (police.uk -> ``asb_reports``). Services carry their esd-standards identifiers
where known: the LGSL service id and the LGChL channel ids.

A service records the districts it has data for, from its batches (``service_district``);
analyses of a service cover exactly those districts unless the caller says ``within``
(issue 12: loading a second district must not move the first district's answers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from geo.errors import AlreadyExists, InvalidRequest, UnknownService

#: How a service's use is counted: every event, distinct households, or persons (counts).
UNITS = ("events", "households", "persons")
#: The database keeps the older name for the households unit.
_STORED_UNIT = {"events": "events", "households": "membership", "persons": "persons"}
_SHOWN_UNIT = {"events": "events", "membership": "households", "persons": "persons"}
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


@dataclass(frozen=True)
class ServiceSpec:
    """What a new service is: its code, name and unit, and what else is known of it."""

    code: str
    name: str
    unit: str = "events"
    category: str | None = None
    description: str | None = None
    owner: str | None = None
    lgsl_id: int | None = None
    lgchl_ids: list[int] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    #: 'high_good' or 'high_bad': which end of the map's palette is good news.
    polarity: str = "high_good"


#: Is a high figure of the service good or bad news?
POLARITIES = ("high_good", "high_bad")


def _check_spec(spec: ServiceSpec) -> None:
    if not CODE_PATTERN.match(spec.code):
        raise InvalidRequest(
            f"`code` was {spec.code!r} but is expected to be lower-case letters, digits, '_' or '-' "
            "(at most 64), e.g. 'asb_reports'"
        )
    if not spec.name.strip():
        raise InvalidRequest("`name` was empty but is expected to name the service")
    if spec.unit not in UNITS:
        raise InvalidRequest(f"`unit` was {spec.unit!r} but is expected to be one of {list(UNITS)}")
    if spec.polarity not in POLARITIES:
        raise InvalidRequest(
            f"`polarity` was {spec.polarity!r} but is expected to be one of {list(POLARITIES)}"
        )
    if spec.lgsl_id is not None and not 0 < spec.lgsl_id < 100_000:
        raise InvalidRequest(f"`lgsl` was {spec.lgsl_id!r} but is expected to be an LGSL id (1 to 99999)")
    bad = [c for c in spec.lgchl_ids if not 0 < int(c) < 100_000]
    if bad:
        raise InvalidRequest(f"`lgchl_ids` held {bad} but are expected to be LGChL channel ids (1 to 99999)")


def create_service(conn: Connection, spec: ServiceSpec, *, by: Any = None) -> dict[str, Any]:
    """Create a service (audited as ``by`` when given); raise AlreadyExists if its code is taken."""
    _check_spec(spec)
    exists = conn.execute(text("SELECT 1 FROM service WHERE code = :c"), {"c": spec.code}).scalar()
    if exists:
        raise AlreadyExists(f"a service with the code {spec.code!r} exists already; amend it instead")
    conn.execute(
        text(
            "INSERT INTO service (code, name, category, description, owner, unit, channels, lgsl_id, "
            "lgchl_ids, polarity) VALUES (:code, :name, :category, :description, :owner, :unit, :channels, "
            ":lgsl, :lgchl, :polarity)"
        ),
        {
            "code": spec.code,
            "name": spec.name.strip(),
            "category": spec.category or "uncategorised",
            "description": spec.description,
            "owner": spec.owner,
            "unit": _STORED_UNIT[spec.unit],
            "channels": spec.channels or None,
            "lgsl": spec.lgsl_id,
            "lgchl": [int(c) for c in spec.lgchl_ids] or None,
            "polarity": spec.polarity,
        },
    )
    if by is not None:
        from geo.audit import record

        record(conn, by, "service.create", spec.code, {"name": spec.name, "unit": spec.unit})
    return get_service(conn, spec.code)


#: Fields PATCH may change, and their columns.
UPDATABLE = (
    "name",
    "unit",
    "category",
    "description",
    "owner",
    "lgsl_id",
    "lgchl_ids",
    "channels",
    "polarity",
)


def update_service(conn: Connection, code: str, changes: dict[str, Any], *, by: Any = None) -> dict[str, Any]:
    """Amend a service's fields (any of ``UPDATABLE``; audited as ``by`` when given)."""
    current = get_service(conn, code)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise InvalidRequest(f"cannot change {unknown}; expected some of {list(UPDATABLE)}")
    merged = {**current, **changes}
    spec = ServiceSpec(
        code=code,
        name=merged["name"],
        unit=merged["unit"],
        category=merged["category"],
        description=merged["description"],
        owner=merged["owner"],
        lgsl_id=merged["lgsl_id"],
        lgchl_ids=list(merged["lgchl_ids"] or []),
        channels=list(merged["channels"] or []),
        polarity=merged.get("polarity") or "high_good",
    )
    _check_spec(spec)
    conn.execute(
        text(
            "UPDATE service SET name = :name, category = :category, description = :description, "
            "owner = :owner, unit = :unit, channels = :channels, lgsl_id = :lgsl, lgchl_ids = :lgchl, "
            "polarity = :polarity WHERE code = :code"
        ),
        {
            "code": code,
            "name": spec.name.strip(),
            "category": spec.category or "uncategorised",
            "description": spec.description,
            "owner": spec.owner,
            "unit": _STORED_UNIT[spec.unit],
            "channels": spec.channels or None,
            "lgsl": spec.lgsl_id,
            "lgchl": [int(c) for c in spec.lgchl_ids] or None,
            "polarity": spec.polarity,
        },
    )
    if by is not None:
        from geo.audit import record

        record(conn, by, "service.update", code, {"changed": sorted(changes)})
    return get_service(conn, code)


_SELECT = """
SELECT s.code, s.name, s.category, s.description, s.owner, s.unit, s.channels, s.unit_costs,
       s.lgsl_id, s.lgchl_ids, s.polarity,
       (SELECT count(*) FROM service_event e WHERE e.service_code = s.code AND e.is_primary) AS events,
       (SELECT count(*) FROM area_count c WHERE c.service_code = s.code) AS area_counts,
       ARRAY(SELECT DISTINCT d.district_code FROM service_district d
             WHERE d.service_code = s.code ORDER BY 1) AS districts
FROM service s
"""


def _shown(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["unit"] = _SHOWN_UNIT.get(out["unit"], out["unit"])
    out["districts"] = list(out["districts"] or [])
    out["lgchl_ids"] = list(out["lgchl_ids"]) if out["lgchl_ids"] else None
    return out


def list_catalogue(conn: Connection) -> list[dict[str, Any]]:
    """Every service with its unit, esd ids, event and area-count totals and districts."""
    return [_shown(r) for r in conn.execute(text(_SELECT + " ORDER BY s.code")).mappings()]


def get_service(conn: Connection, code: str) -> dict[str, Any]:
    """One service as :func:`list_catalogue` shows it; raises UnknownService."""
    row = conn.execute(text(_SELECT + " WHERE s.code = :c"), {"c": code}).mappings().one_or_none()
    if row is None:
        known = list(conn.execute(text("SELECT code FROM service ORDER BY code")).scalars())
        raise UnknownService(f"`service` was {code!r} but is expected to be one of {known}")
    return _shown(row)


def ensure_services(conn: Connection, specs: dict[str, dict[str, Any]]) -> list[str]:
    """Create the services a preset implies when missing; return notes naming those created."""
    notes: list[str] = []
    for code, raw in specs.items():
        if conn.execute(text("SELECT 1 FROM service WHERE code = :c"), {"c": code}).scalar():
            continue
        spec = ServiceSpec(code=code, **raw)
        create_service(conn, spec)
        notes.append(
            f"created the service {code!r} ({spec.name}, counted in {spec.unit}) because the preset "
            "implies it; amend it with `wardwise services update` or PATCH /api/v1/services/{code}"
        )
    return notes


def service_districts(conn: Connection, service: str) -> list[str] | None:
    """The districts a service has data for (from its batches), or None if none are recorded.

    None (services written straight to the tables, as the demo generator does) means no
    restriction: the analysis covers every loaded district.
    """
    found = list(
        conn.execute(
            text("SELECT DISTINCT district_code FROM service_district WHERE service_code = :s ORDER BY 1"),
            {"s": service},
        ).scalars()
    )
    return found or None
