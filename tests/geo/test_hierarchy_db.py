"""The loaded demo geography nests and tiles in PostGIS, within stated tolerances."""

from __future__ import annotations

from sqlalchemy import text

#: Slivers below this many square metres are floating-point noise from unioning polygons.
TOLERANCE_M2 = 1.0


def test_every_area_nests_in_its_parent(conn) -> None:
    bad = conn.execute(
        text(
            """
            SELECT c.code, c.level, ST_Area(ST_Difference(c.geom, p.geom)) AS outside_m2
            FROM area c JOIN area p ON p.code = c.parent_code
            WHERE c.set_code = 'demo'
              AND ST_Area(ST_Difference(c.geom, p.geom)) > :tol
            """
        ),
        {"tol": TOLERANCE_M2},
    ).all()
    assert bad == []


def test_wards_tile_the_district(conn) -> None:
    row = conn.execute(
        text(
            """
            WITH w AS (SELECT geom FROM area WHERE set_code='demo' AND level='ward'),
                 d AS (SELECT geom FROM area WHERE set_code='demo' AND level='district')
            SELECT (SELECT ST_Area(d.geom) FROM d) AS district_m2,
                   (SELECT ST_Area(ST_Union(geom)) FROM w) AS union_m2,
                   (SELECT sum(ST_Area(geom)) FROM w) AS sum_m2,
                   (SELECT ST_Area(ST_SymDifference((SELECT ST_Union(geom) FROM w), d.geom)) FROM d) AS gap_m2
            """
        )
    ).one()
    # gaps or overlaps beyond 0.001% of the district would be real errors
    assert row.gap_m2 < row.district_m2 * 1e-5
    assert abs(row.sum_m2 - row.union_m2) < row.district_m2 * 1e-5


def test_households_add_up_and_addresses_sit_in_their_oa(conn) -> None:
    mismatched = conn.execute(
        text(
            """
            SELECT p.code FROM area p
            JOIN area c ON c.parent_code = p.code
            WHERE p.set_code='demo'
            GROUP BY p.code, p.households HAVING sum(c.households) <> p.households
            """
        )
    ).all()
    assert mismatched == []
    per_oa = conn.execute(
        text(
            """
            SELECT count(*) FILTER (WHERE a.households <> coalesce(n.n, 0))
            FROM area a LEFT JOIN (
                SELECT oa_code, count(*) AS n FROM address WHERE is_residential GROUP BY oa_code
            ) n ON n.oa_code = a.code
            WHERE a.level = 'oa' AND a.set_code = 'demo'
            """
        )
    ).scalar_one()
    assert per_oa == 0
    outside = conn.execute(
        text(
            """
            SELECT count(*) FROM address ad JOIN area a ON a.code = ad.oa_code
            WHERE NOT ST_Intersects(ad.geom, a.geom)
            """
        )
    ).scalar_one()
    assert outside == 0


def test_demo_load_is_idempotent(engine) -> None:
    from geo.demo import load_demo
    from tests.conftest import TEST_HOUSEHOLDS, TEST_SEED

    tables = [
        "area",
        "address",
        "postcode",
        "service_event",
        "household_segment",
        "site",
        "road_link",
    ]

    def counts() -> dict[str, int]:
        with engine.connect() as c:
            return {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}

    before = counts()
    with engine.begin() as c:
        load_demo(c, households=TEST_HOUSEHOLDS, seed=TEST_SEED)
    assert counts() == before
    assert before["area"] > 0 and before["service_event"] > 0
