"""Issue 14, the map as an everyday tool: a date range applied to tiles and class breaks,
manual class breaks, and each service's polarity. Figures are recomputed with pandas from
the raw tables, never read back from the page's SQL."""

from __future__ import annotations

import datetime as dt
import json

import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo.auth import Role
from geo.tiles import tiles_covering


def _ward_use(engine, service: str, date_from: dt.date | None, date_to: dt.date | None) -> pd.DataFrame:
    with engine.connect() as c:
        areas = pd.read_sql(text("SELECT code, households FROM area WHERE level = 'ward'"), c)
        members = pd.read_sql(text("SELECT area_code, oa_code FROM area_membership WHERE level = 'ward'"), c)
        events = pd.read_sql(
            text(
                "SELECT oa_code, uprn, event_date FROM service_event WHERE service_code = :s AND is_primary"
            ),
            c,
            params={"s": service},
        )
    events["event_date"] = pd.to_datetime(events["event_date"]).dt.date
    if date_from:
        events = events[events["event_date"] >= date_from]
    if date_to:
        events = events[events["event_date"] <= date_to]
    joined = members.merge(events, on="oa_code")
    use = joined.groupby("area_code").agg(events=("uprn", "size"), users=("uprn", "nunique")).reset_index()
    return areas.merge(use, left_on="code", right_on="area_code", how="left").fillna(
        {"events": 0, "users": 0}
    )


@pytest.fixture(scope="module")
def service(engine) -> str:
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT service_code FROM service_event WHERE is_primary GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).scalar_one()


@pytest.fixture(scope="module")
def window(engine, service) -> tuple[dt.date, dt.date]:
    """A middle stretch of the service's months (so some events fall outside it)."""
    with engine.connect() as c:
        first, last = c.execute(
            text("SELECT min(event_date), max(event_date) FROM service_event WHERE service_code = :s"),
            {"s": service},
        ).one()
    span = (last - first).days
    return first + dt.timedelta(days=span // 4), first + dt.timedelta(days=(3 * span) // 4)


def test_deck_lists_each_service_s_polarity_and_months(client, engine, service) -> None:
    spec = client.get("/api/v1/map/deck.json").json()
    entry = next(s for s in spec["services"] if s["code"] == service)
    with engine.connect() as c:
        first, last = c.execute(
            text(
                "SELECT min(event_date), max(event_date) FROM service_event WHERE service_code = :s AND is_primary"
            ),
            {"s": service},
        ).one()
    assert entry["first"] == first.isoformat() and entry["last"] == last.isoformat()
    assert entry["polarity"] == "high_good"
    assert "manual" in spec["break_methods"]


def test_polarity_is_stored_with_the_service_and_validated(client, auth_headers, service) -> None:
    analyst = auth_headers[Role.analyst]
    try:
        r = client.patch(f"/api/v1/services/{service}", json={"polarity": "high_bad"}, headers=analyst)
        assert r.status_code == 200, r.text
        assert r.json()["polarity"] == "high_bad"
        spec = client.get("/api/v1/map/deck.json").json()
        assert next(s for s in spec["services"] if s["code"] == service)["polarity"] == "high_bad"
        bad = client.patch(f"/api/v1/services/{service}", json={"polarity": "sideways"}, headers=analyst)
        assert bad.status_code == 422 and "polarity" in bad.text
    finally:
        client.patch(f"/api/v1/services/{service}", json={"polarity": "high_good"}, headers=analyst)


def test_dated_takeup_breaks_equal_a_pandas_recomputation(
    client, engine, service, window, auth_headers
) -> None:
    date_from, date_to = window
    use = _ward_use(engine, service, date_from, date_to)
    use = use[use["households"] > 0]
    takeup = (use["users"] / use["households"]).round(4)
    body = client.get(
        "/api/v1/map/breaks",
        params={
            "layer": "wards",
            "measure": "takeup",
            "service": service,
            "method": "equal",
            "classes": 4,
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
        },
        headers=auth_headers[Role.officer],
    ).json()
    assert body["date_from"] == date_from.isoformat() and body["date_to"] == date_to.isoformat()
    assert body["edges"] == pytest.approx(np.linspace(takeup.min(), takeup.max(), 5).tolist())
    whole = _ward_use(engine, service, None, None)
    assert whole["events"].sum() > use["events"].sum() > 0  # the window really cuts
    events = client.get(
        "/api/v1/map/breaks",
        params={
            "layer": "wards",
            "measure": "events",
            "service": service,
            "method": "equal",
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
        },
        headers=auth_headers[Role.officer],
    ).json()
    assert events["max"] == use["events"].max()


def test_dated_tiles_count_only_the_window_s_events(client, engine, service, window, auth_headers) -> None:
    date_from, date_to = window
    use = _ward_use(engine, service, date_from, date_to).set_index("code")
    bounds = client.get("/api/v1/map/deck.json").json()["bounds"]
    seen: dict[str, int] = {}
    for z, x, y in tiles_covering(bounds, 10):
        r = client.get(
            f"/tiles/wards/{z}/{x}/{y}.pbf",
            params={"service": service, "date_from": date_from.isoformat(), "date_to": date_to.isoformat()},
            headers=auth_headers[Role.officer],
        )
        if r.status_code == 204:
            continue
        for f in mapbox_vector_tile.decode(r.content)["wards"]["features"]:
            seen[f["properties"]["code"]] = f["properties"]["events"]
    assert seen and set(seen) <= set(use.index)
    assert all(seen[code] == int(use.loc[code, "events"]) for code in seen)
    # an undated tile has a different ETag and the full counts
    z, x, y = tiles_covering(bounds, 10)[0]
    a = client.get(
        f"/tiles/wards/{z}/{x}/{y}.pbf", params={"service": service}, headers=auth_headers[Role.officer]
    )
    b = client.get(
        f"/tiles/wards/{z}/{x}/{y}.pbf",
        params={"service": service, "date_from": date_from.isoformat()},
        headers=auth_headers[Role.officer],
    )
    if a.status_code == 200 and b.status_code == 200:
        assert a.headers["etag"] != b.headers["etag"]


def test_manual_breaks_count_areas_in_the_user_s_classes(client, engine) -> None:
    with engine.connect() as c:
        households = pd.read_sql(text("SELECT households FROM area WHERE level = 'ward'"), c)["households"]
    visible = households[~households.between(1, 4)].astype(float)
    inner = [float(visible.quantile(0.3).round()), float(visible.quantile(0.7).round())]
    body = client.get(
        "/api/v1/map/breaks",
        params={
            "layer": "wards",
            "measure": "households",
            "method": "manual",
            "edges": f"{inner[0]:g},{inner[1]:g}",
        },
    ).json()
    assert body["edges"] == pytest.approx(
        [min(visible.min(), inner[0]), *inner, max(visible.max(), inner[1])]
    )
    assert body["counts"] == [
        int((visible < inner[0]).sum()),
        int(((visible >= inner[0]) & (visible < inner[1])).sum()),
        int((visible >= inner[1]).sum()),
    ]


def test_manual_and_dated_breaks_refuse_bad_input(client) -> None:
    for params in (
        {"method": "manual"},
        {"method": "manual", "edges": "5,3"},
        {"method": "manual", "edges": "1.2.3"},
        {"method": "manual", "edges": "a,b"},
        {"date_from": "2025-02-30"},
        {"date_from": "2025-06-01", "date_to": "2025-01-01"},
    ):
        r = client.get("/api/v1/map/breaks", params={"layer": "wards", "measure": "households", **params})
        assert r.status_code in (400, 422), (params, r.text)
        assert "Traceback" not in r.text


def test_map_labels_lie_inside_their_wards_and_outline_the_district(client, engine) -> None:
    body = client.get("/api/v1/map/labels.json").json()
    with engine.connect() as c:
        wards = dict(c.execute(text("SELECT code, name FROM area WHERE level = 'ward'")).all())
        districts = c.execute(text("SELECT count(*) FROM area WHERE level = 'district'")).scalar_one()
        inside = c.execute(
            text(
                "SELECT count(*) FROM area a JOIN jsonb_to_recordset(CAST(:labels AS jsonb)) "
                "AS l(code text, lon float8, lat float8) ON l.code = a.code "
                "WHERE ST_Contains(a.geom, ST_Transform(ST_SetSRID(ST_MakePoint(l.lon, l.lat), 4326), ST_SRID(a.geom)))"
            ),
            {"labels": json.dumps(body["labels"])},
        ).scalar_one()
    assert {lab["code"]: lab["name"] for lab in body["labels"]} == wards
    assert inside == len(wards)
    assert len(body["districts"]["features"]) == districts
    assert all(
        f["geometry"]["type"] in ("LineString", "MultiLineString") for f in body["districts"]["features"]
    )
