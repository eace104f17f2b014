"""Class breaks over the whole study area (GET /api/v1/map/breaks) and the map page's static
files (gzip, immutable vendor bundle). Breaks are recomputed here with pandas/numpy from
the raw tables, not from the page's SQL."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo.auth import Role
from geo.mappage import DECK_BUNDLE, break_edges

REPO = Path(__file__).resolve().parents[2]


def _ward_use(engine, service: str) -> pd.DataFrame:
    with engine.connect() as c:
        areas = pd.read_sql(text("SELECT code, households FROM area WHERE level = 'ward'"), c)
        members = pd.read_sql(text("SELECT area_code, oa_code FROM area_membership WHERE level = 'ward'"), c)
        events = pd.read_sql(
            text("SELECT oa_code, uprn FROM service_event WHERE service_code = :s AND is_primary"),
            c,
            params={"s": service},
        )
    joined = members.merge(events, on="oa_code")
    use = joined.groupby("area_code").agg(events=("uprn", "size"), users=("uprn", "nunique")).reset_index()
    out = areas.merge(use, left_on="code", right_on="area_code", how="left").fillna({"events": 0, "users": 0})
    return out


@pytest.fixture(scope="module")
def service(engine) -> str:
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT service_code FROM service_event WHERE is_primary GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).scalar_one()


def test_household_quantiles_cover_every_ward(client, engine) -> None:
    with engine.connect() as c:
        households = pd.read_sql(text("SELECT households FROM area WHERE level = 'ward'"), c)["households"]
    r = client.get("/api/v1/map/breaks", params={"layer": "wards", "measure": "households", "classes": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    visible = households[~households.between(1, 4)].astype(float)
    expected = sorted(set(np.quantile(visible, np.linspace(0, 1, 6)).tolist()))
    assert body["edges"] == pytest.approx(expected)
    assert body["areas"] == len(households)
    assert sum(body["counts"]) + body["suppressed"] + body["no_data"] == len(households)
    # each class holds what falls in it (last class closed)
    e = body["edges"]
    counts = [
        int(((visible >= lo) & ((visible < hi) if i < len(e) - 2 else (visible <= hi))).sum())
        for i, (lo, hi) in enumerate(zip(e[:-1], e[1:], strict=True))
    ]
    assert body["counts"] == counts


def test_takeup_breaks_match_a_pandas_recomputation(client, engine, service, auth_headers) -> None:
    use = _ward_use(engine, service)
    use = use[use["households"] > 0]
    takeup = (use["users"] / use["households"]).round(4)
    r = client.get(
        "/api/v1/map/breaks",
        params={"layer": "wards", "measure": "takeup", "service": service, "method": "equal", "classes": 4},
        headers=auth_headers[Role.officer],
    )
    body = r.json()
    assert body["edges"] == pytest.approx(np.linspace(takeup.min(), takeup.max(), 5).tolist())
    assert body["suppressed"] == 0 and sum(body["counts"]) == len(takeup)


def test_public_breaks_leave_out_suppressed_areas_and_say_how_many(client, engine, service) -> None:
    use = _ward_use(engine, service)
    hidden = use["households"].between(1, 4) | use["users"].between(1, 4) | use["events"].between(1, 4)
    body = client.get(
        "/api/v1/map/breaks", params={"layer": "oas", "measure": "takeup", "service": service}
    ).json()
    with engine.connect() as c:
        oas = c.execute(text("SELECT count(*) FROM area WHERE level = 'oa'")).scalar_one()
    assert body["areas"] == oas
    assert body["suppressed"] + body["no_data"] + sum(body["counts"]) == oas
    # ward level too: the count of suppressed wards is what the small-count rule gives
    wards_body = client.get(
        "/api/v1/map/breaks", params={"layer": "wards", "measure": "takeup", "service": service}
    ).json()
    assert wards_body["suppressed"] == int(hidden.sum())


def test_index_breaks_have_one_as_an_edge_and_natural_breaks_beat_quantiles(client, service) -> None:
    body = client.get(
        "/api/v1/map/breaks",
        params={"layer": "oas", "measure": "ratio", "service": service, "method": "natural"},
    ).json()
    edges = body["edges"]
    assert edges == sorted(edges) and len(set(edges)) == len(edges)
    if edges[0] < 1 < edges[-1]:
        assert 1.0 in edges

    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(10, 1, 200), rng.normal(50, 2, 200), rng.normal(90, 1, 50)])

    def within(edges: list[float]) -> float:
        idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
        return float(
            sum(((values[idx == i] - values[idx == i].mean()) ** 2).sum() for i in set(idx.tolist()))
        )

    natural = break_edges(values, "natural", 3)
    quantile = break_edges(values, "quantile", 3)
    assert within(natural) < within(quantile)
    # the three clusters are separated
    assert 12 < natural[1] < 45 and 55 < natural[2] < 85


def test_breaks_refuse_what_they_cannot_answer(client) -> None:
    assert client.get("/api/v1/map/breaks", params={"measure": "takeup"}).status_code in (400, 422)
    assert client.get("/api/v1/map/breaks", params={"layer": "nope"}).status_code == 404
    assert client.get("/api/v1/map/breaks", params={"layer": "h3"}).status_code in (400, 422)
    assert client.get("/api/v1/map/breaks", params={"method": "jenks"}).status_code == 422


def test_the_deck_bundle_is_served_gzipped_and_immutable(client) -> None:
    raw = (REPO / "frontend_static" / DECK_BUNDLE.lstrip("/")).read_bytes()
    r = client.get(DECK_BUNDLE, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert "immutable" in r.headers["cache-control"] and "max-age=31536000" in r.headers["cache-control"]
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.content == raw  # httpx decodes the gzip body
    assert int(r.headers["content-length"]) < len(raw) / 3
    again = client.get(DECK_BUNDLE, headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    plain = client.get(DECK_BUNDLE, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers and plain.content == raw


def test_the_page_s_own_files_revalidate(client) -> None:
    for path in ("/", "/app.js", "/style.css", "/report.css"):
        r = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "no-cache", path
        assert r.headers.get("etag"), path
        assert (
            client.get(
                path, headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]}
            ).status_code
            == 304
        )
    assert gzip.compress(b"x")  # gzip importable
