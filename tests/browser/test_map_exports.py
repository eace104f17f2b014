"""Issue 14 exports from the map page, in Chromium with every non-local request blocked:
each table's XLSX button (figures read back with openpyxl and compared with the API's
JSON), and the server-rendered PDF profile and district batch from the area panel (read
back with pypdf)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import text

from tests.browser.conftest import DESKTOP, PHONE, open_page, shot, sign_in, until, wards
from tests.browser.test_map_state import _axe

pytestmark = pytest.mark.browser


def _service(engine) -> str:
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT service_code FROM service_event WHERE is_primary GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).scalar_one()


def test_the_propensity_table_downloads_as_xlsx_with_the_api_s_figures(
    live_server, browser, engine, client
) -> None:
    service = _service(engine)
    context, page, watch = open_page(
        browser, live_server, path=f"/#service={service}&measure=takeup&tab=service"
    )
    until(page, "() => document.querySelector('#propensity-table tbody tr')")
    with page.expect_download() as info:
        page.click("#pane-service .xlsx")
    assert info.value.suggested_filename == f"propensity_{service}.xlsx"
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert "Propensity" in rows[0][0]
    header = list(rows[2])
    body = [r for r in rows[3:] if r and r[0] is not None]
    api = client.get(f"/api/v1/services/{service}/propensity").json()
    expected = {r["segment"]: r for r in api["rows"] if r["segment"] != "Total"}
    assert len(body) == len(expected)
    col = {name: header.index(name) for name in ("Households", "Users", "Index", "95% CI low", "95% CI high")}
    for r in body:
        want = expected[r[0]]
        for name, key in (
            ("Households", "base"),
            ("Users", "target"),
            ("Index", "index"),
            ("95% CI low", "ci_low"),
            ("95% CI high", "ci_high"),
        ):
            got = r[col[name]]
            if isinstance(want[key], int | float):
                assert got == pytest.approx(want[key]), (r[0], name)
                assert isinstance(got, int | float)  # numbers, not "1,234"
            else:
                assert got == want[key] or (got is None and want[key] is None), (r[0], name)
    watch.assert_clean()
    context.close()


def test_the_area_panel_offers_the_pdf_profile_and_the_district_batch(
    live_server, browser, engine, officer_key
) -> None:
    context, page, watch = open_page(browser, live_server)
    ward = wards(engine)[0]
    # not signed in: no PDF link
    page.evaluate("code => window.wardwise.openArea(code)", ward["code"])
    until(page, "() => document.querySelector('#area-name')")
    assert page.locator("#profile-pdf-link").count() == 0
    sign_in(page, officer_key)
    until(page, "() => document.querySelector('#profile-pdf-link')")
    with page.expect_download(timeout=120_000) as info:
        page.click("#profile-pdf-link")
    reader = PdfReader(info.value.path())
    first = reader.pages[0].extract_text()
    assert ward["name"] in first and ward["code"] in first
    assert page.locator("#district-pdf-link").is_visible()
    with engine.connect() as c:
        in_district = c.execute(
            text(
                "SELECT count(*) FROM area w JOIN area d ON d.code = w.parent_code AND d.level = 'district' "
                "WHERE w.level = 'ward' AND w.parent_code = (SELECT parent_code FROM area WHERE code = :c)"
            ),
            {"c": ward["code"]},
        ).scalar_one()
    with page.expect_download(timeout=300_000) as info:
        page.click("#district-pdf-link")
    batch = PdfReader(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert len(batch.pages) >= in_district
    watch.assert_clean()
    context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_export_buttons_pass_axe_and_are_screenshot(
    live_server, browser, engine, officer_key, viewport
) -> None:
    service = _service(engine)
    context, page, watch = open_page(browser, live_server, viewport=viewport)
    sign_in(page, officer_key)
    ward = wards(engine)[0]
    page.select_option("#service", service)
    page.evaluate("code => window.wardwise.openArea(code)", ward["code"])
    until(
        page,
        "() => document.querySelector('#profile-pdf-link') && document.querySelector('#area-profile .xlsx')",
    )
    name = "desktop" if viewport is DESKTOP else "phone"
    page.locator("#profile-pdf-link").scroll_into_view_if_needed()
    assert shot(page, f"area_exports_{name}").stat().st_size > 10_000
    assert page.locator("#area-profile .xlsx").first.bounding_box()["height"] >= 41
    violations = _axe(page)
    assert violations == [], f"area tab with exports at {name} width: {violations}"
    watch.assert_clean()
    context.close()


def test_planning_runs_as_a_job_with_a_progress_bar_and_draws_its_sites(
    live_server, browser, officer_key
) -> None:
    from tests.browser.conftest import distance, map_image

    context, page, watch = open_page(browser, live_server)
    paths = page.evaluate("Object.keys(window.wardwise.openapi.paths)")
    if "/api/v1/planning/jobs/{job_id}" not in paths:
        pytest.skip("no planning jobs on this server")
    sign_in(page, officer_key)
    page.fill("#plan-p", "3")
    page.click("#plan-sites")
    until(page, "() => document.querySelector('#plan-progress')")
    until(
        page,
        "() => /sites shown|No plan/.test(document.querySelector('#plan-summary').textContent)",
        None,
        120,
    )
    assert "No plan" not in page.locator("#plan-summary").inner_text()
    polled = page.evaluate("() => window.wardwise.planProgress")
    assert polled and polled == sorted(polled) and polled[-1] == 1 and all(0 <= p <= 1 for p in polled)
    # the job's status was asked for (same origin), and its sites are drawn
    assert any("/api/v1/planning/jobs/" in r.url for r in watch.responses)
    sites = page.evaluate(
        "() => window.wardwise.plan.features.filter(f => f.properties.role === 'site').map(f => f.geometry.coordinates)"
    )
    # what is drawn is the finished job's answer (read from the job status the page polled)
    job_url = [r.url for r in watch.responses if "/api/v1/planning/jobs/" in r.url][-1]
    import httpx

    job = httpx.get(job_url, headers={"Authorization": f"Bearer {officer_key}"}).json()
    assert job["status"] == "done" and job["params"]["p"] == 3
    assert sorted(map(tuple, sites)) == sorted(
        tuple(f["geometry"]["coordinates"]) for f in job["result"]["sites"]["features"]
    )
    page.wait_for_timeout(1500)  # the fly-to the plan
    from tests.browser.conftest import project, wait_tiles

    wait_tiles(page)
    image = map_image(page)
    hits = 0
    for lon, lat in sites:
        x, y = project(page, lon, lat)
        if 0 <= x < image.size[0] and 0 <= y < image.size[1]:
            hits += distance(image.getpixel((int(x), int(y))), (213, 94, 0)) < 60
    assert hits >= 2, "the sites are not drawn where the job put them"
    watch.assert_clean()
    context.close()
