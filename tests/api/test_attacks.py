"""Attacks on disclosure control, played as a public caller (no key) against the test borough.

Each test replays one attack from issue 15 (or one that combines endpoints) and checks the
promise of docs/security.md: **no count from 1 to 4 that an officer sees can be derived by a
public caller**. An attack is defeated when it is refused (403/422), or when what it derives
for the officer's small counts is noise: the share of small counts it gets exactly right
stays near the perturbation table's chance of zero noise (about 0.4), far from the 100 %
the attacks reached before, and it gets a good share wrong by one or more (so a reader cannot
tell the right ones from the wrong ones). The truth is always what an officer's key sees from
the same endpoint, or SQL on the database; never the code under test.

Every attack runs twice (the ``target`` fixture, tests/api/conftest.py): on the test demo
borough, and on Bristol's real data loaded by the walkthrough's own commands
(docs/walkthrough-bristol.md: OAC 2021 and Census households per OA, one month of police.uk
ASB reports, LibrariesWest member counts per LSOA). The Bristol run is skipped, loudly, only
when ``../shared/data/real`` is absent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import text

from geo.auth import Role
from tests.api.conftest import Target

#: Above this share of exact recoveries an attack "works" (zero noise has probability ~0.4).
MAX_EXACT_SHARE = 0.6
#: ... and at least this share of the small counts must come out wrong.
MIN_WRONG_SHARE = 0.3
#: The label of the totals row and column in matrix cells.
TOTAL = "Total"
#: The officer must see at least this many counts of 1 to 4 for an attack to say anything.
MIN_SMALL_CELLS = 20


def _score(derived: Mapping[Any, float | None], truth: Mapping[Any, int]) -> tuple[float, float, int]:
    """(share exactly right, share wrong, cells) over the officer's counts of 1 to 4."""
    keys = [k for k, v in truth.items() if 1 <= v <= 4 and derived.get(k) is not None]
    if not keys:
        return 0.0, 1.0, 0
    exact = sum(round(float(derived[k])) == truth[k] for k in keys)  # type: ignore[arg-type]
    return exact / len(keys), 1 - exact / len(keys), len(keys)


def _assert_defeated(derived: Mapping[Any, float | None], truth: Mapping[Any, int], what: str) -> None:
    """The attack recovers at most MAX_EXACT_SHARE of the small counts it reaches, and gets at
    least MIN_WRONG_SHARE wrong. The target must hold MIN_SMALL_CELLS small counts or more;
    when suppression leaves the attack fewer than that to reach (Bristol: most OAs have 0 to
    4 ASB reports, so nearly every LSOA has a "<5" OA), it may recover at most
    MAX_EXACT_SHARE x MIN_SMALL_CELLS of them, none knowably."""
    small = sum(1 <= v <= 4 for v in truth.values())
    assert small >= MIN_SMALL_CELLS, (
        f"{what}: the officer sees only {small} counts of 1 to 4: too small a target"
    )
    exact, wrong, n = _score(derived, truth)
    recovered = round(exact * n)
    print(f"attack score: {what}: {recovered} of {n} small counts reached recovered exactly")  # noqa: T201
    assert recovered <= MAX_EXACT_SHARE * max(n, MIN_SMALL_CELLS), (
        f"{what}: {recovered} of {n} small counts reached recovered exactly ({wrong:.0%} wrong)"
    )
    if n >= MIN_SMALL_CELLS:
        assert wrong >= MIN_WRONG_SHARE, f"{what}: {exact:.0%} of {n} small counts recovered exactly"


def _service(engine: Any, rank: int = 0) -> str:
    """A service with many small OA x segment cells: the ``rank``-th rarest with events (the
    rarest one when the target has fewer, as Bristol with its one ASB service)."""
    with engine.connect() as conn:
        codes = list(
            conn.execute(
                text(
                    "SELECT service_code FROM service_event WHERE is_primary GROUP BY 1 ORDER BY count(*), 1"
                )
            ).scalars()
        )
    assert codes, "the target has no service events"
    return str(codes[min(rank, len(codes) - 1)])


def _segments(engine: Any) -> list[str]:
    """The segments of the target's default classification (what the API uses unasked)."""
    from geo.analysis.services import default_classification

    with engine.connect() as conn:
        classification = default_classification(conn)
        return list(
            conn.execute(
                text("SELECT code FROM segment WHERE classification_code = :c ORDER BY code"),
                {"c": classification},
            ).scalars()
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _matrix(client: Any, headers: dict[str, str], **params: Any) -> dict[tuple[str, str], dict[str, Any]]:
    r = client.get("/api/v1/matrix", params=params, headers=headers)
    assert r.status_code == 200, r.text[:300]
    return {(c["area_code"], c["segment"]): c for c in r.json()["cells"]}


# ---------------------------------------------------------------------- fine H3 cells


def test_fine_h3_cells_are_refused_and_published_cells_meet_the_household_floor(target: Target) -> None:
    client, engine, settings, auth_headers = (
        target.client,
        target.engine,
        target.settings,
        target.auth_headers,
    )
    service = _service(engine, 2)
    url = f"/api/v1/services/{service}/hotspots"
    fine = {"level": "h3", "resolution": 12, "unit": "households"}
    refused = client.get(url, params=fine)
    assert refused.status_code == 403 and "resolution" in refused.json()["detail"], refused.text[:300]
    # An officer may ask. Bristol has postcodes, not addresses: no household points, so no H3
    # analysis for anyone (422), and nothing more to attack once the public refusal holds.
    officer_fine = client.get(url, params=fine, headers=auth_headers[Role.officer])
    no_points = officer_fine.status_code == 422 and "no households" in officer_fine.json()["detail"]
    assert officer_fine.status_code == 200 or no_points, officer_fine.text[:300]
    coarse = {"level": "h3", "resolution": settings.public_max_h3_resolution}
    public = client.get(url, params=coarse)
    if no_points:
        assert public.status_code == 422, public.text[:300]
        return
    assert public.status_code == 200, public.text
    officer = client.get(url, params=coarse, headers=auth_headers[Role.officer]).json()
    true_households = {f["id"]: f["properties"]["households"] for f in officer["features"]}
    shown = [f["id"] for f in public.json()["features"]]
    assert shown, "no public cells at the coarsest public resolution"
    small = [c for c in shown if true_households[c] < settings.public_min_households]
    assert not small, f"cells under the household floor published: {small[:5]}"
    assert len(shown) < len(true_households), "the floor withheld nothing: the test says nothing"


# ---------------------------------------------------------------------- demand prediction


def test_prediction_profiles_that_single_out_a_segment_are_refused(target: Target) -> None:
    client, engine, auth_headers = target.client, target.engine, target.auth_headers
    segments = _segments(engine)
    one_hot = [{"segment_code": s, "rate": 1.0 if i == 0 else 0.0} for i, s in enumerate(segments)]
    nearly = [{"segment_code": s, "rate": 1.0 if i == 0 else 0.001} for i, s in enumerate(segments)]
    flat = [{"segment_code": s, "rate": 0.1 + 0.01 * i} for i, s in enumerate(segments)]
    url = "/api/v1/demand/predict"
    for profile in (one_hot, nearly):
        r = client.post(url, json={"profile": profile, "level": "oa", "format": "csv"})
        assert r.status_code == 403, r.text
        assert "segment" in r.json()["detail"]
    officer = client.post(
        url, json={"profile": one_hot, "level": "oa", "format": "csv"}, headers=auth_headers[Role.officer]
    )
    assert officer.status_code == 200
    assert client.post(url, json={"profile": flat, "level": "oa", "format": "csv"}).status_code == 200


# ---------------------------------------------------------------------- published rates


def test_rates_times_households_give_noise_not_counts(target: Target) -> None:
    """meta.rates learnt ``within`` a ward times that ward's households per segment."""
    client, engine, auth_headers = target.client, target.engine, target.auth_headers
    service = _service(engine, 1)
    officer = auth_headers[Role.officer]
    truth_cells = _matrix(client, officer, level="ward", service=service)
    truth = {k: int(c["target"]) for k, c in truth_cells.items() if TOTAL not in k}
    public_cells = _matrix(client, {}, level="ward", service=service)
    wards = sorted({k[0] for k in truth})
    assert wards and TOTAL not in wards
    derived: dict[tuple[str, str], float | None] = {}
    for ward in wards:
        r = client.get(
            f"/api/v1/services/{service}/hotspots",
            params={"level": "oa", "within": ward, "format": "geojson"},
        )
        assert r.status_code == 200, r.text
        rates = r.json()["meta"].get("rates") or {}
        for segment, rate in rates.items():
            households = _number(public_cells.get((ward, segment), {}).get("households"))
            if rate is not None and households is not None:
                derived[(ward, segment)] = float(rate) * households
    _assert_defeated(derived, truth, "meta.rates x households")


# ---------------------------------------------------------------------- dates


def test_day_windows_are_refused(target: Target) -> None:
    client, engine = target.client, target.engine
    service = _service(engine, 0)
    first, last = _event_dates(engine, service)
    day = (first + (last - first) / 2).replace(day=15)
    for params in ({"date_to": str(day)}, {"date_from": str(day.replace(day=2))}):
        r = client.get("/api/v1/matrix", params={"level": "ward", "service": service, **params})
        assert r.status_code == 403, r.text[:300]
        assert "month" in r.json()["detail"]


def _event_dates(engine: Any, service: str) -> tuple[dt.date, dt.date]:
    with engine.connect() as conn:
        first, last = conn.execute(
            text("SELECT min(event_date), max(event_date) FROM service_event WHERE service_code = :s"),
            {"s": service},
        ).one()
    return first, last


def test_month_differences_are_noise(target: Target) -> None:
    """Total to the end of month m minus total to the end of month m-1: month m's counts."""
    client, engine, auth_headers = target.client, target.engine, target.auth_headers
    service = _service(engine, 0)
    first, last = _event_dates(engine, service)
    if (first.year, first.month) == (last.year, last.month):
        pytest.skip(f"{target.name}: one month of events ({first:%Y-%m}): no month to difference")
    # total to the end of month m minus total to the end of month m-1: month m's count
    months = []
    m = dt.date(first.year, first.month, 1)
    while m <= last:
        months.append(m)
        m = dt.date(m.year + m.month // 12, m.month % 12 + 1, 1)
    ends = [n - dt.timedelta(days=1) for n in months[1:]] + [
        dt.date(last.year + last.month // 12, last.month % 12 + 1, 1) - dt.timedelta(days=1)
    ]
    officer = auth_headers[Role.officer]
    derived: dict[tuple[str, str, int], float | None] = {}
    truth: dict[tuple[str, str, int], int] = {}
    previous_public = previous_officer = None
    for i, end in enumerate(ends[:8]):
        params = {"level": "ward", "service": service, "unit": "events", "date_to": str(end)}
        pub = _matrix(client, {}, **params)
        off = _matrix(client, officer, **params)
        if previous_public is not None and previous_officer is not None:
            for key, cell in off.items():
                before = previous_officer.get(key, {}).get("target", 0)
                truth[(*key, i)] = int(cell["target"]) - int(before or 0)
                a = _number(pub.get(key, {}).get("target"))
                b = _number(previous_public.get(key, {}).get("target"))
                derived[(*key, i)] = None if a is None or b is None else a - b
        previous_public, previous_officer = pub, off
    _assert_defeated(derived, truth, "month differencing")


# ---------------------------------------------------------------------- geographies


def test_lsoa_minus_sibling_oas_gives_noise(target: Target) -> None:
    client, engine, auth_headers = target.client, target.engine, target.auth_headers
    with engine.connect() as conn:
        parent = dict(
            conn.execute(text("SELECT oa_code, area_code FROM area_membership WHERE level = 'lsoa'")).all()
        )
    officer = auth_headers[Role.officer]
    service = _service(engine, 1)
    oa_pub = _matrix(client, {}, level="oa", service=service)
    lsoa_pub = _matrix(client, {}, level="lsoa", service=service)
    oa_true = _matrix(client, officer, level="oa", service=service)
    truth = {k: int(c["target"]) for k, c in oa_true.items() if k[0] in parent and k[1] != TOTAL}
    derived: dict[tuple[str, str], float | None] = {}
    children: dict[str, list[str]] = {}
    for o, p in parent.items():
        children.setdefault(p, []).append(o)
    for oa, segment in truth:
        siblings = [o for o in children[parent[oa]] if o != oa]
        shown = [_number(oa_pub.get((s, segment), {}).get("target", 0)) for s in siblings]
        total = _number(lsoa_pub.get((parent[oa], segment), {}).get("target"))
        if total is None or any(v is None for v in shown):
            continue
        derived[(oa, segment)] = total - sum(v for v in shown if v is not None)
    _assert_defeated(derived, truth, "LSOA minus sibling OAs")


def test_oa_row_total_minus_shown_cells_gives_noise(target: Target) -> None:
    """Inside one table: an OA's total minus its other segments (secondary suppression's job,
    and perturbation's when the other cells are shown)."""
    client, engine, auth_headers = target.client, target.engine, target.auth_headers
    service = _service(engine, 1)
    pub = _matrix(client, {}, level="oa", service=service)
    true = _matrix(client, auth_headers[Role.officer], level="oa", service=service)
    truth = {k: int(c["target"]) for k, c in true.items() if TOTAL not in k}
    by_area: dict[str, dict[str, float | None]] = {}
    for (a, s), c in pub.items():
        by_area.setdefault(a, {})[s] = _number(c["target"])
    derived: dict[tuple[str, str], float | None] = {}
    for area, segment in truth:
        row = by_area.get(area, {})
        total = row.get(TOTAL)
        others = [v for s, v in row.items() if s not in (segment, TOTAL)]
        if total is not None and all(v is not None for v in others):
            derived[(area, segment)] = total - sum(v for v in others if v is not None)
    exact, _, n = _score(derived, truth)
    # secondary suppression leaves no single unknown in a row; where it does, it is noise
    assert n == 0 or exact <= MAX_EXACT_SHARE


# ---------------------------------------------------------------------- combining endpoints


def test_hotspot_observed_and_matrix_agree_only_through_noise(target: Target) -> None:
    """The same OA count from two endpoints gets the same noise (no averaging), and O/E,
    intervals and p-values of hidden counts are withheld."""
    client, engine, auth_headers = target.client, target.engine, target.auth_headers
    service = _service(engine, 1)
    url = f"/api/v1/services/{service}/hotspots"
    pub = client.get(url, params={"level": "oa", "format": "geojson"}).json()
    off = client.get(
        url, params={"level": "oa", "format": "geojson"}, headers=auth_headers[Role.officer]
    ).json()
    truth = {f["id"]: int(f["properties"]["observed"]) for f in off["features"]}
    derived: dict[str, float | None] = {}
    for f in pub["features"]:
        p = f["properties"]
        observed = _number(p["observed"])
        if observed is None and _number(p.get("ratio")) is not None and _number(p.get("expected")):
            observed = float(p["ratio"]) * float(p["expected"])  # O = (O/E) x E
        derived[f["id"]] = observed
        if p["observed"] == "<5":
            assert p["ratio"] is None and p["p_value"] is None and p["ci_low"] is None
    exact, _, n = _score(derived, truth)
    assert exact <= MAX_EXACT_SHARE, f"{exact:.0%} of {n} small OA counts recovered from hot spots"
    again = client.get(url, params={"level": "oa", "format": "geojson"}).json()
    assert again["features"] == pub["features"], "the same question must get the same noise"


def test_public_within_below_the_floor_is_refused(target: Target) -> None:
    client, engine, settings = target.client, target.engine, target.settings
    with engine.connect() as conn:
        small = conn.execute(
            text("SELECT code FROM area WHERE level = 'oa' AND households < :f ORDER BY code LIMIT 1"),
            {"f": settings.public_min_households},
        ).scalar()
        if small is None:
            conn_small = conn.execute(
                text("SELECT code FROM area WHERE level = 'oa' ORDER BY households LIMIT 1")
            ).scalar_one()
            pytest.skip(f"every test OA has >= {settings.public_min_households} households ({conn_small})")
    service = _service(engine, 1)
    r = client.get(f"/api/v1/services/{service}/hotspots", params={"level": "oa", "within": small})
    assert r.status_code == 403, r.text
    assert "households" in r.json()["detail"]


# ---------------------------------------------------------------------- tiles


def _tile_features(client: Any, layer: str, zoom: int, headers: dict[str, str], **params: Any) -> dict:
    import mapbox_vector_tile

    from geo.tiles import tiles_covering

    west, south, east, north = client.get(f"/tiles/{layer}.json").json()["bounds"]
    seen: dict[str, dict[str, Any]] = {}
    for z, x, y in tiles_covering([west, south, east, north], zoom):
        r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf", params=params, headers=headers)
        assert r.status_code in (200, 204), r.text[:300]
        if r.status_code == 200:
            for f in mapbox_vector_tile.decode(r.content)[layer]["features"]:
                key = f["properties"].get("code") or f["properties"].get("cell")
                seen[key] = f["properties"]
    return seen


def test_tiles_of_two_geographies_and_zooms_difference_to_noise(target: Target) -> None:
    """LSOA tile users (or events) minus its other OAs', at two zooms; and the H3 layer's
    finest public zoom stays at the public resolution with every cell over the floor."""
    client, engine, settings, auth_headers = (
        target.client,
        target.engine,
        target.settings,
        target.auth_headers,
    )
    with engine.connect() as conn:
        parent = dict(
            conn.execute(text("SELECT oa_code, area_code FROM area_membership WHERE level = 'lsoa'")).all()
        )
    officer = auth_headers[Role.officer]
    children: dict[str, list[str]] = {}
    for o, p in parent.items():
        children.setdefault(p, []).append(o)
    truth: dict[tuple[str, str], int] = {}
    derived: dict[tuple[str, str], float | None] = {}
    for service in (_service(engine, 1), _service(engine, 2)):
        officer_oas = _tile_features(client, "oas", 11, officer, service=service)
        # households using the service; events where no record has a household (police.uk)
        measure = "users" if any(int(p["users"]) for p in officer_oas.values()) else "events"
        truth.update({(service, c): int(p[measure]) for c, p in officer_oas.items()})
        for zoom in (11, 12):
            oas = _tile_features(client, "oas", zoom, {}, service=service)
            lsoas = _tile_features(client, "lsoas", zoom, {}, service=service)
            for oa, lsoa in parent.items():
                siblings = [_number(oas.get(o, {}).get(measure)) for o in children[lsoa] if o != oa]
                total = _number(lsoas.get(lsoa, {}).get(measure))
                if total is not None and all(v is not None for v in siblings):
                    derived[(service, oa)] = total - sum(v for v in siblings if v is not None)
            shown = [_number(p.get(measure)) for p in oas.values()]
            assert not any(v is not None and 1 <= v <= 4 for v in shown), "a small count shown in a tile"
    _assert_defeated(derived, truth, "tiles: LSOA minus sibling OAs")
    import mapbox_vector_tile

    from geo.disclosure import MAX_NOISE
    from geo.tiles import tiles_covering

    lon, lat, _ = client.get("/tiles/h3.json").json()["center"]
    seen, officer_empty = 0, False
    for zoom in (13, 14):
        z, x, y = tiles_covering([lon, lat, lon, lat], zoom)[0]
        url = f"/tiles/h3/{z}/{x}/{y}.pbf"
        off_answer = client.get(url, headers=officer)
        answer = client.get(url)
        off = (
            mapbox_vector_tile.decode(off_answer.content).get("h3", {}).get("features", [])
            if off_answer.status_code == 200
            else []
        )
        if not off:
            # no household points at all (Bristol: postcodes, no addresses): nothing for anyone
            assert answer.status_code == 204 or not mapbox_vector_tile.decode(answer.content).get("h3")
            officer_empty = True
            continue
        if answer.status_code == 204:  # every public cell here is under the floor: withheld
            continue
        pub = mapbox_vector_tile.decode(answer.content)["h3"]["features"]
        seen += len(pub)
        assert max(f["properties"]["resolution"] for f in off) > settings.public_max_h3_resolution
        assert {f["properties"]["resolution"] for f in pub} == {settings.public_max_h3_resolution}
        floor = settings.public_min_households - MAX_NOISE
        assert all((_number(f["properties"]["households"]) or 0) >= floor for f in pub)
    assert seen or officer_empty, "no public hexagon at either zoom: the test says nothing"
