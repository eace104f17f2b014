"""Time until the map page first draws wards in their classes, in Debian's Chromium (software GL).

Usage: ``python bench/map_first_paint.py [URL] [runs]`` (default http://127.0.0.1:8000, 5 runs)
against a running server (``make demo``). Each run launches a new browser (cold: no HTTP
cache, no compiled shaders) and reports milliseconds from navigation start to: the deck
JSON, the first tiles, the first frame with class colours, and the bytes the bundle took on
the wire. Prints each run and the median.
"""

from __future__ import annotations

import statistics
import sys
import time

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def one_run(p, url: str) -> dict[str, float]:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        sizes: dict[str, int] = {}
        page.on(
            "requestfinished",
            lambda r: sizes.__setitem__(r.url, (r.sizes() or {}).get("responseBodySize", 0)),
        )
        page.goto(url, wait_until="commit")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            marks = page.evaluate(
                "() => window.wardwise && window.wardwise.marks && window.wardwise.marks.colouredAt"
            )
            if marks:
                break
            time.sleep(0.02)
        marks = page.evaluate("() => window.wardwise.marks")
        bundle = sum(v for k, v in sizes.items() if "/vendor/pydeck" in k)
        return {
            "coloured_ms": marks["colouredAt"],
            "tiles_ms": marks.get("tileAt", float("nan")),
            "spec_ms": marks.get("specAt", float("nan")),
            "bundle_bytes": bundle,
        }
    finally:
        browser.close()


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    results = []
    with sync_playwright() as p:
        for i in range(runs):
            r = one_run(p, url)
            results.append(r)
            print(f"run {i + 1}: " + ", ".join(f"{k} {v:,.0f}" for k, v in r.items()))
    print(f"median first coloured wards: {statistics.median(r['coloured_ms'] for r in results):,.0f} ms")


if __name__ == "__main__":
    main()
