"""Planning scenarios: save a siting or route answer under a name, list them, compare them.

A scenario keeps the request, the whole answer (for the map) and a row of comparable
figures worked out once from the answer (``scenario_figures``): coverage by segment (who
is left out), mean and worst travel, cost (sites open, staff hours, van mileage) and the
change against today (today's offices for siting; no van for routes). ``compare`` puts
several side by side, with one table of households left out per segment and scenario.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from geo.errors import InvalidRequest, NotFound
from geo.models import PlanningScenario

ScenarioKind = Literal["sites", "routes"]
_T = PlanningScenario.__table__
WEEKS_A_YEAR = 52


def _left_out(rows: list[dict[str, Any]], key: str) -> int | None:
    vals = [r.get(key) for r in rows]
    return int(sum(v for v in vals if v is not None)) if rows and all(v is not None for v in vals) else None


def scenario_figures(kind: ScenarioKind, plan: dict[str, Any]) -> dict[str, Any]:
    """Comparable figures of one answer (see the module docstring), from the answer alone.

    Sites: ``sites_open``, ``new_sites``, ``mean_travel``, ``worst_travel``,
    ``coverage_share`` and ``left_out`` (households beyond the standard, summed over
    segments), each beside ``today`` and ``change`` (proposed minus today). Routes:
    households and target households reached (each once), ``staff_hours`` and
    ``van_km`` a period and a year (x 52 / period weeks), and ``left_out``.
    """
    seg = plan.get("segments") or {"rows": [], "standard": None, "unit": None}
    rows = seg.get("rows", [])
    if kind == "sites":
        s, prop, cur = plan["summary"], plan["proposed"], plan.get("current") or {}
        out: dict[str, Any] = {
            "kind": "sites",
            "objective": s["objective"],
            "status": s["status"],
            "gap": s["gap"],
            "travel_mode": s["travel"],
            "travel_unit": s["travel_unit"],
            "standard": seg.get("standard"),
            "demand": s["demand"],
            "total_demand": s["total_demand"],
            "sites_open": len(prop["site_ids"]),
            "new_sites": len(prop.get("new_site_ids") or []),
            "new_site_ids": prop.get("new_site_ids") or [],
            "mean_travel": prop["mean_travel"],
            "worst_travel": prop["worst_travel"],
            "coverage_share": prop.get("coverage_share"),
            "left_out": _left_out(rows, "proposed_left_out"),
        }
        today = {
            "sites_open": len(cur.get("site_ids") or []),
            "mean_travel": cur.get("mean_travel"),
            "worst_travel": cur.get("worst_travel"),
            "coverage_share": cur.get("coverage_share"),
            "left_out": _left_out(rows, "current_left_out"),
        }
    else:
        s = plan["summary"]
        weeks = int(s.get("period_weeks", 1))
        hours = float(s["total_duration_min"]) / 60.0
        km = float(s["total_distance_km"])
        out = {
            "kind": "routes",
            "status": s["status"],
            "travel_mode": "walk to the van",
            "travel_unit": "m",
            "standard": seg.get("standard"),
            "demand": s["demand"],
            "frequency": s.get("frequency", "weekly"),
            "period_weeks": weeks,
            "vehicles": s["vehicles"],
            "days": s["days"],
            "stops_visited": s["stops_visited"],
            "households_reached": s["households_within_walk"],
            "target_households_reached": s["target_households_within_walk"],
            "demand_reached": s.get("demand_within_walk"),
            "staff_hours_per_period": round(hours, 2),
            "van_km_per_period": round(km, 2),
            "staff_hours_per_year": round(hours * WEEKS_A_YEAR / weeks, 1),
            "van_km_per_year": round(km * WEEKS_A_YEAR / weeks, 1),
            "left_out": _left_out(rows, "left_out"),
        }
        households = sum(int(r["households"]) for r in rows) if rows else None
        today = {
            "households_reached": 0,
            "target_households_reached": 0,
            "left_out": households,
            "staff_hours_per_year": 0.0,
            "van_km_per_year": 0.0,
        }
    out["today"] = today
    out["change"] = {
        k: (
            round(out[k] - v, 4)
            if isinstance(out.get(k), int | float) and isinstance(v, int | float)
            else None
        )
        for k, v in today.items()
    }
    out["segments"] = rows
    return out


def save_scenario(
    conn: Connection,
    *,
    name: str,
    kind: ScenarioKind,
    request: dict[str, Any],
    plan: dict[str, Any],
    description: str | None = None,
    created_by: str | None = None,
) -> dict[str, Any]:
    """Store an answer as a named scenario (names are unique); return its listing row."""
    figures = scenario_figures(kind, plan)
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                insert(PlanningScenario)
                .values(
                    name=name,
                    kind=kind,
                    description=description,
                    created_by=created_by,
                    request=request,
                    figures=figures,
                    result=plan,
                )
                .returning(PlanningScenario.id)
            ).scalar_one()
    except IntegrityError:
        raise InvalidRequest(f"a scenario named {name!r} exists already: choose another name") from None
    conn.commit()
    return get_scenario(conn, int(new_id), with_result=False)


def _row(r: Any, with_result: bool) -> dict[str, Any]:
    out = {
        "id": r.id,
        "name": r.name,
        "kind": r.kind,
        "description": r.description,
        "created_at": r.created_at.isoformat(),
        "created_by": r.created_by,
        "request": r.request,
        "figures": r.figures,
    }
    if with_result:
        out["result"] = r.result
    return out


def list_scenarios(conn: Connection, kind: ScenarioKind | None = None) -> list[dict[str, Any]]:
    """Every saved scenario (newest first) with its figures, without the full answers."""
    q = select(_T).order_by(_T.c.created_at.desc(), _T.c.id.desc())
    if kind:
        q = q.where(_T.c.kind == kind)
    return [_row(r, False) for r in conn.execute(q).all()]


def get_scenario(conn: Connection, scenario_id: int, *, with_result: bool = True) -> dict[str, Any]:
    """One scenario, with the whole answer (for the map) unless ``with_result`` is false."""
    r = conn.execute(select(_T).where(_T.c.id == scenario_id)).first()
    if r is None:
        raise NotFound(f"there is no planning scenario {scenario_id}")
    return _row(r, with_result)


def delete_scenario(conn: Connection, scenario_id: int) -> None:
    """Remove a scenario (NotFound when there is none)."""
    gone = conn.execute(delete(PlanningScenario).where(PlanningScenario.id == scenario_id)).rowcount
    if not gone:
        raise NotFound(f"there is no planning scenario {scenario_id}")
    conn.commit()


def compare_scenarios(conn: Connection, ids: Sequence[int]) -> dict[str, Any]:
    """Scenarios side by side: their figures, and households left out per segment.

    ``segments`` has one row per segment with ``households`` and, per scenario name, the
    households left out (beyond the standard for siting, beyond the walk for routes), plus
    ``today`` (the left out of the first siting scenario's current offices, when any).
    """
    ids = list(dict.fromkeys(int(i) for i in ids))
    if len(ids) < 1:
        raise InvalidRequest("`ids` must name at least one scenario")
    scenarios = [get_scenario(conn, i, with_result=False) for i in ids]
    table: dict[str, dict[str, Any]] = {}
    for sc in scenarios:
        f = sc["figures"]
        key = "proposed_left_out" if f["kind"] == "sites" else "left_out"
        for r in f.get("segments", []):
            row = table.setdefault(
                r["segment"], {"segment": r["segment"], "name": r["name"], "households": None}
            )
            row[sc["name"]] = r.get(key)
            if f["kind"] == "sites" and "today" not in row and r.get("current_left_out") is not None:
                row["today"] = r["current_left_out"]
            if row["households"] is None:
                row["households"] = r["households"]
    columns = ["name", "kind", "mean_travel", "worst_travel", "coverage_share", "left_out"]
    columns += ["sites_open", "new_sites", "households_reached", "staff_hours_per_year", "van_km_per_year"]
    headline = [
        {
            "id": sc["id"],
            **{c: (sc["name"] if c == "name" else sc["figures"].get(c)) for c in columns},
            "change": sc["figures"].get("change"),
        }
        for sc in scenarios
    ]
    return {
        "scenarios": headline,
        "segments": sorted(table.values(), key=lambda r: r["segment"]),
        "notes": [
            "siting left out: households in demand areas beyond the standard travel; routes: beyond the walk",
            "change: the scenario minus today (today's offices; no van for routes)",
        ],
    }


def plan_and_save(
    conn: Connection,
    *,
    name: str,
    kind: ScenarioKind,
    params: dict[str, Any],
    request: dict[str, Any],
    description: str | None = None,
    created_by: str | None = None,
) -> dict[str, Any]:
    """Solve a siting (``plan_sites``) or route (``plan_routes``) request and save it as ``name``."""
    from geo.planning.plans import plan_routes, plan_sites

    taken = conn.execute(select(PlanningScenario.id).where(PlanningScenario.name == name)).first()
    if taken is not None:
        raise InvalidRequest(f"a scenario named {name!r} exists already: choose another name")
    plan = plan_sites(conn, **params) if kind == "sites" else plan_routes(conn, **params)
    return save_scenario(
        conn, name=name, kind=kind, request=request, plan=plan, description=description, created_by=created_by
    )
