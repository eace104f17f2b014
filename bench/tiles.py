"""Tile serving speed: Wardwise against tipg on the same database, in the same run.

A fixed list of output-area tiles from z10 to z15 over the demo borough is fetched,
one request at a time, from

* **raw**: the ``oas`` layer's SQL (geo/sql/tiles/areas.sql) run directly with psycopg,
  i.e. PostGIS's ``ST_AsMVT`` with no server at all: the floor;
* **tipg** (developmentseed's OGC tile server) serving a view of the same output areas
  (code, name, households, the web-mercator geometry) with the same buffer, its feature
  cap lifted so it does not cut tiles at 10,000 features, and its ``simplify`` at the
  tolerance Wardwise uses at each zoom (one tile unit in metres, ``simplify_tolerance_m``),
  so both servers simplify alike (tipg: ST_SimplifyPreserveTopology + ST_SnapToGrid;
  Wardwise: ST_Simplify);
* **Wardwise**'s ``GET /tiles/oas/{z}/{x}/{y}.pbf``.

Both servers run as uvicorn subprocesses with one worker on 127.0.0.1, side by side; each
tile is fetched raw, from tipg and from Wardwise in turn, so all three see the same load
on a shared machine. "Cold" is the first pass after the servers start (Wardwise's tile
cache empty); "warm" is the same list again. PostgreSQL's own buffers are warmed first by
a raw pass, so cold means cold *server*.
Figures: tiles a second, p50 and p95 latency in milliseconds, and the mean size of a
non-empty tile as sent (gzip where the server compresses) and as decoded MVT, so a faster
server is not simply sending less; overhead = Wardwise cold p50 over raw p50, minus one.
tipg has no tile cache: "warm" compares Wardwise's cache with tipg rendering again, which is
what each does in production.

Run: ``DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/tiles.py`` (``make bench``).
The database needs the demo borough (``wardwise demo load``). The bench creates a schema
``bench_tiles`` with one view for tipg and drops it at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from geo.db import database_url_from_env, load_sql, make_engine
from geo.tiles import TileConfig, district_bounds, simplify_tolerance_m, tiles_covering

REPO = Path(__file__).resolve().parents[1]
PER_ZOOM = 40  # at most this many tiles per zoom, spread evenly over the borough


def tile_list(conn) -> list[tuple[int, int, int]]:
    """The fixed tile list: all tiles over the borough per zoom, thinned evenly to PER_ZOOM."""
    bounds, _ = district_bounds(conn)
    out: list[tuple[int, int, int]] = []
    for z in range(10, 16):
        tiles = tiles_covering(bounds, z)
        step = max(1, len(tiles) // PER_ZOOM)
        out += tiles[::step][:PER_ZOOM]
    return out


def summary(name: str, times_s: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times_s)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return {
        "name": name,
        "tiles_per_s": len(ms) / (sum(ms) / 1000),
        "p50_ms": statistics.median(ms),
        "p95_ms": p95,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(args: list[str], env: dict[str, str], port: int, probe: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"server failed to start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not answer within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


SIZES: dict[str, list[tuple[int, int]]] = {}


def fetch_all(client: httpx.Client, urls: list[str], name: str = "") -> tuple[list[float], int, int]:
    """Fetch each URL; bodies are read raw (still compressed), as a browser receives them.

    The (sent, decoded MVT) sizes of non-empty tiles are kept in ``SIZES[name]``.
    """
    times, nonempty, nbytes = [], 0, 0
    for url in urls:
        t0 = time.perf_counter()
        with client.stream("GET", url) as r:
            body = b"".join(r.iter_raw())
        times.append(time.perf_counter() - t0)
        if r.status_code not in (200, 204):
            raise SystemExit(f"{url}: HTTP {r.status_code} {body[:200]!r}")
        if r.status_code == 200 and body:
            nonempty += 1
            nbytes += len(body)
            decoded = gzip.decompress(body) if r.headers.get("content-encoding") == "gzip" else body
            SIZES.setdefault(name, []).append((len(body), len(decoded)))
    return times, nonempty, nbytes


def _simplify(z: int) -> str:
    """tipg's ``simplify`` (output-CRS metres) at Wardwise's tolerance for zoom ``z``."""
    tolerance = simplify_tolerance_m(z, TileConfig())
    return f"&simplify={tolerance:.6f}" if tolerance > 0 else ""


def raw_times(engine, tiles: list[tuple[int, int, int]], conn=None) -> tuple[list[float], int]:
    config = TileConfig()
    times, nonempty = [], 0
    with engine.connect() if conn is None else nullcontext(conn) as conn:
        for z, x, y in tiles:
            bind = {
                "z": z,
                "x": x,
                "y": y,
                "extent": config.extent,
                "buffer": config.buffer,
                "layer_name": "oas",
                "threshold": 0,
                "label": "<5",
                "tolerance_m": simplify_tolerance_m(z, config),
                "max_features": config.max_features,
                "level": "oa",
                "set_code": None,
                "service": None,
                "measures": None,
                "only_classed": False,
            }
            t0 = time.perf_counter()
            tile = conn.execute(load_sql("tiles/areas"), bind).scalar_one()
            times.append(time.perf_counter() - t0)
            nonempty += bool(tile)
    return times, nonempty


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    url = database_url_from_env()
    engine = make_engine(url, pool_size=2)
    with engine.begin() as conn:
        tiles = tile_list(conn)
        conn.execute(text("DROP SCHEMA IF EXISTS bench_tiles CASCADE"))
        conn.execute(text("CREATE SCHEMA bench_tiles"))
        conn.execute(
            text(
                "CREATE VIEW bench_tiles.oas AS "
                "SELECT code, name, households, geom_3857 FROM public.area WHERE level = 'oa'"
            )
        )
    by_zoom = {z: sum(1 for t in tiles if t[0] == z) for z in range(10, 16)}
    print(f"{len(tiles)} tiles of the oas layer, z10..z15: {by_zoom}")

    results: list[dict[str, float]] = []
    try:
        raw_times(engine, tiles)  # warm PostgreSQL's buffers for everyone

        pg = make_url(url)
        plain = pg.set(drivername="postgresql").render_as_string(hide_password=False)
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        tipg_port, ww_port = free_port(), free_port()
        tipg_env = {
            **env,
            "DATABASE_URL": plain,
            "TIPG_DB_SCHEMAS": '["bench_tiles"]',
            "TIPG_DB_SPATIAL_EXTENT": "false",
            "TIPG_DB_DATETIME_EXTENT": "false",
            "TIPG_TILE_BUFFER": str(TileConfig().buffer),
            "TIPG_MAX_FEATURES_PER_TILE": "50000",
        }
        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ]
        tipg = start_server(
            [*uvicorn, "--port", str(tipg_port), "tipg.main:app"], tipg_env, tipg_port, "/collections"
        )
        ww = start_server(
            [*uvicorn, "--port", str(ww_port), "--factory", "api.main:app_factory"],
            {**env, "DATABASE_URL": url},
            ww_port,
            "/health",
        )
        try:
            tipg_urls = [
                f"http://127.0.0.1:{tipg_port}/collections/bench_tiles.oas/tiles/WebMercatorQuad/{z}/{x}/{y}"
                f"?geom-column=geom_3857&properties=code,name,households{_simplify(z)}"
                for z, x, y in tiles
            ]
            ww_urls = [f"http://127.0.0.1:{ww_port}/tiles/oas/{z}/{x}/{y}.pbf" for z, x, y in tiles]
            # The machine is shared: each tile is fetched from raw SQL, tipg and Wardwise in
            # turn, so all three see the same load; pass 1 is cold, pass 2 warm.
            with httpx.Client(timeout=60, headers={"Accept-Encoding": "gzip"}) as client:
                for phase in ("cold", "warm"):
                    t_raw, t_tipg, t_ww = [], [], []
                    n_raw = n_tipg = n_ww = 0
                    with engine.connect() as conn:
                        for i, tile in enumerate(tiles):
                            t, n = raw_times(engine, [tile], conn)
                            t_raw += t
                            n_raw += n
                            t, n, _ = fetch_all(client, [tipg_urls[i]], f"tipg {phase}")
                            t_tipg += t
                            n_tipg += n
                            t, n, _ = fetch_all(client, [ww_urls[i]], f"Wardwise {phase}")
                            t_ww += t
                            n_ww += n
                    results.append(summary(f"raw ST_AsMVT ({phase} pass)", t_raw))
                    results.append(summary(f"tipg {phase}", t_tipg))
                    results.append(summary(f"Wardwise {phase}", t_ww))
        finally:
            stop_server(tipg)
            stop_server(ww)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS bench_tiles CASCADE"))
        engine.dispose()

    print(f"non-empty tiles: raw {n_raw}, tipg {n_tipg}, Wardwise {n_ww} (of {len(tiles)})")
    for r in results:
        sizes = SIZES.get(r["name"], [])
        r["mean_sent_bytes"] = statistics.fmean(s for s, _ in sizes) if sizes else 0.0
        r["mean_mvt_bytes"] = statistics.fmean(d for _, d in sizes) if sizes else 0.0
    print(f"{'':40} {'tiles/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'sent B':>9} {'MVT B':>9}")
    for r in results:
        print(
            f"{r['name']:40} {r['tiles_per_s']:9.1f} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f}"
            f" {r.get('mean_sent_bytes', 0):9.0f} {r.get('mean_mvt_bytes', 0):9.0f}"
        )
    by = {r["name"]: r for r in results}
    raw = by["raw ST_AsMVT (cold pass)"]
    cold_ratio = by["Wardwise cold"]["tiles_per_s"] / by["tipg cold"]["tiles_per_s"]
    warm_ratio = by["Wardwise warm"]["tiles_per_s"] / by["tipg warm"]["tiles_per_s"]
    overhead = by["Wardwise cold"]["p50_ms"] / raw["p50_ms"] - 1
    overhead_total = (1 / by["Wardwise cold"]["tiles_per_s"]) / (1 / raw["tiles_per_s"]) - 1
    print(
        f"Wardwise / tipg tiles per second: cold {cold_ratio:.2f}x (target >= 1), "
        f"warm {warm_ratio:.2f}x (target >= 5)"
    )
    print(f"Wardwise cold over raw ST_AsMVT: p50 {overhead:+.0%}, mean {overhead_total:+.0%} (target < +25%)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"tiles": len(tiles), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
