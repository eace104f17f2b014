"""Cached answers say which data version they come from, and when they are stale (issue 17)."""

from __future__ import annotations

import time

from sqlalchemy import text

from geo.auth import Role

API = "/api/v1"


def test_a_profile_names_its_data_version_and_a_stale_one_says_so(client, auth_headers, engine) -> None:
    from geo.analysis.profile import _PROFILES

    officer = auth_headers[Role.officer]
    with engine.connect() as conn:
        ward, district = conn.execute(
            text("SELECT code, district_code FROM area WHERE level = 'ward' ORDER BY code LIMIT 1")
        ).one()
    first = client.get(f"{API}/areas/{ward}/profile", headers=officer)
    assert first.status_code == 200
    version = int(first.headers["X-Wardwise-Data-Version"])
    assert "Warning" not in first.headers

    _PROFILES.max_stale_s = 5.0
    try:
        with engine.begin() as conn:  # a committed change to a service of the ward's district
            conn.execute(
                text(
                    "INSERT INTO data_version_scope AS v (scope, district_code, subject, version) "
                    "VALUES ('service', :d, :s, 1) ON CONFLICT (scope, district_code, subject) "
                    "DO UPDATE SET version = v.version + 1"
                ),
                {"d": district, "s": f"probe_{time.time_ns()}"},
            )
        stale = client.get(f"{API}/areas/{ward}/profile", headers=officer)
        assert stale.status_code == 200 and stale.json() == first.json()
        assert stale.headers["Warning"] == '110 - "Response is Stale"' and int(stale.headers["Age"]) <= 5
        assert int(stale.headers["X-Wardwise-Data-Version"]) == version
        _PROFILES.wait_idle()
        fresh = client.get(f"{API}/areas/{ward}/profile", headers=officer)
        assert "Warning" not in fresh.headers
        assert int(fresh.headers["X-Wardwise-Data-Version"]) > version
    finally:
        _PROFILES.max_stale_s = 0.0
