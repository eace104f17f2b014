"""Bounded load test on loopback: mixed tile / profile / hot-spot requests from N concurrent
clients against a real uvicorn, while an ingest runs; optionally restart PostgreSQL mid-run.

    DATABASE_URL=... .venv/bin/python bench/load.py --clients 50 --workers 2 --duration 30 [--restart]

What it does:

1. starts ``uvicorn api.main:app_factory`` (``--workers``, default 2) on a free 127.0.0.1 port against
   DATABASE_URL, creates an officer key for the clients (revoked at the end);
2. finds the tile, profile and hot-spot operations in the app's OpenAPI document and fills
   their parameters with real codes from the database; warms a fixed set of tiles so the
   tile mix measures the cached path;
3. runs N asyncio clients (httpx) for ``--duration`` seconds, 60 % tiles, 25 % profiles,
   15 % hot spots, plus ``/health`` as the in-run peer; meanwhile a thread ingests batches
   of synthetic service events (``geo.ingest.ingest_frame``), one committed every
   ``--ingest-every`` seconds (2.5);
4. with ``--restart``, restarts the cluster (``pg_ctlcluster --skip-systemctl-redirect 15
   main restart``) a third of the way in, and records the window it took;
5. prints requests/s, p50/p95/p99 and errors per kind (errors split into inside and outside
   the restart window), the p95 ratio to the ``/health`` peer, and checks that every batch
   committed before, during and after the restart is still there with all its rows; the
   bench batches are deleted afterwards.

Targets (issue 17, this 2-core machine): at 50 clients and 2 workers, while an ingest commits
every 2.5 s, tiles p95 < 150 ms, profiles p95 < 500 ms, hot spots p95 < 1 s, no errors
outside the restart window and nothing committed lost. The server runs as ``make demo``
serves it: stale-while-revalidate for 5 s (``WARDWISE_STALE_MAX_S``) and the aggregates
refreshed concurrently every 30 s (``WARDWISE_AGGREGATE_REFRESH_S``) unless set otherwise.
The machine's load average is printed before and after (a shared machine: read the
figures with it).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.auth import Role, create_key, revoke_key  # noqa: E402
from geo.db import database_url_from_env, make_engine  # noqa: E402

MIX = "tile=60,profile=25,hotspot=15"
RESTART = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart"]
DEV_SALT = "wardwise-dev-salt-change-me"
SERVER_LOG = Path(os.environ.get("TMPDIR", "/tmp")) / "wardwise-bench-load-server.log"


@dataclass
class Sample:
    kind: str
    started: float
    latency_s: float
    status: int  # 0 for a transport error
    error: str = ""


@dataclass
class Targets:
    tile_urls: list[str] = field(default_factory=list)
    profile_urls: list[str] = field(default_factory=list)
    hotspot_urls: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: A server without the public protection of issue 15 (perturbation and floors off; the
#: small-count suppression that came before stays): the baseline of --protection-cost.
UNPROTECTED = {
    "WARDWISE_PERTURBATION": "false",
    "WARDWISE_PUBLIC_MIN_HOUSEHOLDS": "0",
    "WARDWISE_PUBLIC_MAX_H3_RESOLUTION": "12",
    "WARDWISE_PUBLIC_WHOLE_MONTHS": "false",
}


def start_server(
    database_url: str, port: int, workers: int = 1, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    # demo mode: the bench runs on the demo borough with the built-in salt unless one is set
    # and no rate limits: the load generator is one address making hundreds of requests a second
    env = {
        "WARDWISE_DEMO": "1",
        "WARDWISE_RATE_LIMIT_ENABLED": "false",
        # as `make demo` serves (scripts/run.sh): bounded stale answers, concurrent refreshes
        "WARDWISE_STALE_MAX_S": "5",
        "WARDWISE_AGGREGATE_REFRESH_S": "30",
        **os.environ,
        "DATABASE_URL": database_url,
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.main:app_factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        # a file, not a pipe: an unread pipe fills up and stalls the server's logging
        stderr=open(SERVER_LOG, "wb"),  # noqa: SIM115 - closed with the process
    )
    deadline = time.monotonic() + 180  # imports take long on a busy shared machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited: {SERVER_LOG.read_text(errors='replace')[-2000:]}")
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("uvicorn did not become healthy within 180 s")


def _loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# ----------------------------------------------------------------------------- targets


def _tiles_over(bounds: tuple[float, float, float, float], zooms: range) -> list[tuple[int, int, int]]:
    """Web-mercator tiles covering a lon/lat box (slippy-map formulas)."""
    west, south, east, north = bounds

    def tile(lon: float, lat: float, z: int) -> tuple[int, int]:
        n = 2**z
        x = int((lon + 180.0) / 360.0 * n)
        y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
        return min(max(x, 0), n - 1), min(max(y, 0), n - 1)

    out = []
    for z in zooms:
        x0, y0 = tile(west, north, z)
        x1, y1 = tile(east, south, z)
        out += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return out


def _fill(path: str, op: dict[str, Any], values: dict[str, str]) -> str | None:
    """Fill path and required query parameters by name; None if one cannot be filled."""
    query = []
    for p in op.get("parameters", []):
        schema = p.get("schema", {})
        options = schema.get("enum") or [
            s.get("enum", [None])[0] for s in schema.get("anyOf", []) if "enum" in s
        ]
        name = p["name"]
        value = next((v for k, v in values.items() if re.search(k, name)), None)
        if value is None and options:
            value = options[0]
        if value is None and "default" in schema:
            continue
        if value is None:
            if p.get("required"):
                return None
            continue
        if p["in"] == "path":
            path = path.replace(f"{{{name}}}", str(value))
        elif p.get("required") or name in ("service", "service_code", "level"):
            query.append(f"{name}={value}")
    return path + ("?" + "&".join(query) if query else "")


def discover(
    base: str, database_url: str, headers: dict[str, str], warm: int = 1, *, check: bool = True
) -> Targets:
    spec = httpx.get(f"{base}/openapi.json", timeout=120).json()
    engine = make_engine(database_url, pool_size=1)
    with engine.connect() as conn:
        wards = conn.execute(text("SELECT code FROM area WHERE level = 'ward' ORDER BY code")).scalars().all()
        services = conn.execute(text("SELECT code FROM service ORDER BY code")).scalars().all()
        bounds = conn.execute(
            text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                "(SELECT ST_Extent(ST_Transform(geom, 4326)) AS b FROM area WHERE level = 'district') s"
            )
        ).one()
    engine.dispose()
    targets = Targets()
    rng = random.Random(7)
    for path, item in spec["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        op_id = op.get("operationId", "")
        if re.search(r"\{z\}/\{x\}/\{y\}", path):
            # the map page's layers: ward and OA outlines, plain and with a service's take-up
            catalog = httpx.get(f"{base}/catalog", timeout=120).json()["layers"]
            names = [layer["name"] for layer in catalog if layer["name"] in ("wards", "oas")]
            for name in names:
                for z, x, y in _tiles_over(tuple(bounds), range(12, 14)):
                    url = path.replace("{layer}", name).replace("{z}", str(z)).replace("{x}", str(x))
                    url = url.replace("{y}", str(y))
                    targets.tile_urls.append(url)
                    targets.tile_urls.append(f"{url}?service={services[0]}")
        elif re.search(r"profile", op_id + path, re.I):
            for _ in range(40):
                url = _fill(
                    path,
                    op,
                    {
                        r"ward|area|code": rng.choice(wards),
                        r"service": rng.choice(services),
                        r"level": "ward",
                        r"classification": "wardwise12",
                    },
                )
                if url:
                    targets.profile_urls.append(url)
        elif re.search(r"hot.?spot", op_id + path, re.I):
            for _ in range(10):
                url = _fill(path, op, {r"service": rng.choice(services), r"level": "lsoa"})
                if url:
                    targets.hotspot_urls.append(url)
    if not check:  # --protection-cost asks each URL itself (its first ask is the cold one)
        return targets
    # Keep only the URLs that answer 200 (a bench of 4xx answers measures nothing).
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for name in ("tile_urls", "profile_urls", "hotspot_urls"):
            urls = sorted(set(getattr(targets, name)))
            ok = [u for u in urls if client.get(u).status_code == 200]
            for _ in range(warm - 1 if name == "tile_urls" else 0):  # each worker has its own cache
                for u in ok:
                    client.get(u)
            setattr(targets, name, ok)
    return targets


# ----------------------------------------------------------------------------- ingest


class Ingester(threading.Thread):
    """Ingests batches of synthetic service events, one committed transaction each."""

    def __init__(
        self, database_url: str, salt: str, rows: int, stop: threading.Event, every_s: float = 2.5
    ) -> None:
        super().__init__(daemon=True)
        self.database_url, self.salt, self.rows, self.stop = database_url, salt, rows, stop
        self.every_s = every_s
        self.committed: dict[int, int] = {}  # batch id -> rows loaded
        self.failures: list[str] = []

    def frame(self, conn: Any, seq: int) -> pd.DataFrame:
        uprns = (
            conn.execute(
                text("SELECT uprn FROM address WHERE is_residential ORDER BY random() LIMIT :n"),
                {"n": self.rows},
            )
            .scalars()
            .all()
        )
        services = conn.execute(text("SELECT code FROM service WHERE unit = 'events'")).scalars().all()
        rng = np.random.default_rng(seq)
        days = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, len(uprns)), unit="D")
        return pd.DataFrame(
            {
                "uprn": uprns,
                "service_code": rng.choice(services, len(uprns)),
                "event_date": days.strftime("%Y-%m-%d"),
                "channel": rng.choice(["web", "phone"], len(uprns)),
                "case_ref": [f"bench-{seq}-{i}-{time.time_ns()}" for i in range(len(uprns))],
            }
        )

    def run(self) -> None:
        from geo.ingest.batch import ingest_frame

        engine = make_engine(self.database_url, pool_size=1)
        mapping = {
            "columns": {
                "uprn": "uprn",
                "service_code": "service_code",
                "event_date": "event_date",
                "channel": "channel",
                "source_ref": "case_ref",
            },
            "constants": {"source_system": "bench"},
        }
        seq = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            # one commit every `every_s` seconds (a batch that takes longer starts the next at once)
            self.stop.wait(max(0.0, next_at - time.monotonic()))
            if self.stop.is_set():
                break
            next_at = max(next_at + self.every_s, time.monotonic())
            seq += 1
            try:
                with engine.begin() as conn:
                    frame = self.frame(conn, seq)
                    report = ingest_frame(
                        conn,
                        "events",
                        frame,
                        mapping,
                        salt=self.salt,
                        filename=f"bench-{seq}.csv",
                        created_by="bench",
                    )
                    batch_id = int(report.batch_id)
                    # counted inside the batch's own transaction: what the commit makes durable
                    stored = conn.execute(
                        text("SELECT count(*) FROM service_event WHERE batch_id = :b"), {"b": batch_id}
                    ).scalar_one()
                self.committed[batch_id] = int(stored)
            except Exception as exc:  # noqa: BLE001 - a restart kills in-flight batches; that is expected
                self.failures.append(f"{time.monotonic():.1f} {type(exc).__name__}: {str(exc)[:120]}")
                time.sleep(0.5)
        engine.dispose()


# ----------------------------------------------------------------------------- clients


async def client_loop(
    client: httpx.AsyncClient,
    targets: Targets,
    until: float,
    samples: list[Sample],
    rng: random.Random,
    mix: dict[str, float],
    think_s: float,
) -> None:
    pools = {"tile": targets.tile_urls, "profile": targets.profile_urls, "hotspot": targets.hotspot_urls}
    kinds = [k for k, w in mix.items() if pools[k] and w > 0]
    weights = [mix[k] for k in kinds]
    while time.monotonic() < until:
        kind = rng.choices(kinds, weights)[0]
        url = rng.choice(pools[kind])
        start = time.monotonic()
        error = ""
        try:
            response = await client.get(url)
            status = response.status_code
            if status >= 500:
                error = f"{status} {url} {response.text[:80]}"
        except httpx.HTTPError as exc:
            status, error = 0, f"{type(exc).__name__} {url}"
        samples.append(Sample(kind, start, time.monotonic() - start, status, error))
        if think_s > 0:
            # a person looks at the map between requests (exponential think time, mean think_s)
            await asyncio.sleep(rng.expovariate(1.0 / think_s))


async def health_peer(client: httpx.AsyncClient, until: float, samples: list[Sample]) -> None:
    """The in-run peer: /health (one tiny query) five times a second through the same server."""
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            status = (await client.get("/health")).status_code
        except httpx.HTTPError:
            status = 0
        samples.append(Sample("health", start, time.monotonic() - start, status))
        await asyncio.sleep(0.2)


async def run_clients(
    base: str,
    headers: dict[str, str],
    targets: Targets,
    clients: int,
    duration: float,
    samples: list[Sample],
    mix: dict[str, float],
    think_s: float,
) -> None:
    # expire idle connections before uvicorn's 5 s keep-alive timeout closes them: reusing a
    # connection the server is closing is a client-side race, not a server error
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=3.0)
    async with (
        httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as client,
        httpx.AsyncClient(
            base_url=base, timeout=30
        ) as peer,  # its own connection: never queued behind clients
    ):
        until = time.monotonic() + duration
        await asyncio.gather(
            health_peer(peer, until, samples),
            *(
                client_loop(client, targets, until, samples, random.Random(i), mix, think_s)
                for i in range(clients)
            ),
        )


def restart_postgres(window: list[float], at: float) -> None:
    time.sleep(max(0.0, at - time.monotonic()))
    window.append(time.monotonic())
    done = subprocess.run(RESTART, capture_output=True, text=True, check=False)
    window.append(time.monotonic())
    if done.returncode != 0:
        print(f"restart failed: {done.stderr.strip()}", file=sys.stderr)


# ----------------------------------------------------------------------------- report


def report(
    samples: list[Sample], duration: float, window: tuple[float, float] | None, grace_s: float, start: float
) -> dict[str, Any]:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    print(
        f"\n{'kind':<9}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'in restart':>11}{'outside':>9}"
    )
    summary: dict[str, Any] = {}
    for kind in ("tile", "profile", "hotspot", "health"):
        rows = by_kind.get(kind, [])
        if not rows:
            continue
        lat = np.array([s.latency_s for s in rows if s.status and s.status < 500]) * 1000
        errors = [s for s in rows if not s.status or s.status >= 500]

        def inside(s: Sample) -> bool:
            # when the request failed (not when it was sent): under load a request can wait
            # seconds in the queue and meet the restart long after it was sent
            done = s.started + s.latency_s
            return window is not None and window[0] - 0.5 <= done <= window[1] + grace_s

        during = sum(1 for s in errors if inside(s))
        p50, p95, p99 = (np.percentile(lat, q) if len(lat) else float("nan") for q in (50, 95, 99))
        print(
            f"{kind:<9}{len(rows):>9}{len(rows) / duration:>8.1f}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}"
            f"{len(errors):>8}{during:>11}{len(errors) - during:>9}"
        )
        summary[kind] = {"n": len(rows), "p95": p95, "outside": len(errors) - during}
    total = len(samples)
    print(f"{'all':<9}{total:>9}{total / duration:>8.1f}")
    failed = [s for s in samples if s.error]
    for s in failed[:5]:
        print(
            f"  failed at +{s.started + s.latency_s - start:.1f} s "
            f"(sent +{s.started - start:.1f} s): {s.error}"
        )
    return summary


def timeline(samples: list[Sample], start: float, duration: float, bucket_s: float = 2.0) -> None:
    """Requests answered and failed per time bucket: what a restart looks like from outside."""
    n = int(math.ceil(duration / bucket_s))
    ok, bad = [0] * n, [0] * n
    for s in samples:
        i = max(0, min(int((s.started + s.latency_s - start) / bucket_s), n - 1))
        if s.status and s.status < 500:
            ok[i] += 1
        else:
            bad[i] += 1
    print(f"\ntimeline ({bucket_s:g} s buckets, by completion): answered/failed")
    print(
        "  "
        + " ".join(f"{int(i * bucket_s):>3}s:{o}/{b}" for i, (o, b) in enumerate(zip(ok, bad, strict=True)))
    )


def protection_cost(base: str, baseline: str, targets: Targets, rounds: int = 3) -> dict[str, float]:
    """Cost of disclosure protection per public request on the load mix (issue 15; target < 10 %).

    The same public (no key) tile and hot-spot URLs of the mix are asked of two servers on
    the same database: ``base`` with the public policy (cell-key perturbation, floors) and
    ``baseline`` without it (:data:`UNPROTECTED`; suppression only, as before issue 15).
    Each URL is asked once cold, then ``rounds`` times warm, alternating servers. Prints the
    cold and warm means per kind and the mix-weighted overhead of each.
    """
    mix = {"tile": 60.0, "hotspot": 15.0}
    out: dict[str, float] = {}
    cold_out: dict[str, float] = {}
    print("cost of protection per public request (baseline: suppression only; protected: issue 15):")
    with httpx.Client(timeout=300) as client:
        for kind, urls in (("tile", targets.tile_urls), ("hotspot", targets.hotspot_urls)):
            cold: dict[str, list[float]] = {"baseline": [], "protected": []}
            warm: dict[str, list[float]] = {"baseline": [], "protected": []}
            for url in urls:
                for who, server in (("baseline", baseline), ("protected", base)):
                    t0 = time.perf_counter()
                    r = client.get(server + url)
                    cold[who].append(time.perf_counter() - t0)
                    if r.status_code not in (200, 204):
                        cold[who].pop()  # a refusal measures nothing (profiles need a key)
                        continue
                    for _ in range(rounds):
                        t0 = time.perf_counter()
                        client.get(server + url)
                        warm[who].append(time.perf_counter() - t0)
            if not warm["baseline"] or not warm["protected"]:
                continue
            o, p = float(np.mean(warm["baseline"])), float(np.mean(warm["protected"]))
            co, cp = float(np.mean(cold["baseline"])), float(np.mean(cold["protected"]))
            out[kind], cold_out[kind] = p / o - 1, cp / co - 1
            print(
                f"  {kind:8s} {len(urls):4d} URLs  first request: baseline {1000 * co:7.1f} ms, "
                f"protected {1000 * cp:7.1f} ms ({100 * cold_out[kind]:+.0f} %);  "
                f"warm: baseline {1000 * o:6.2f} ms, protected {1000 * p:6.2f} ms ({100 * out[kind]:+.1f} %)"
            )
    if out:
        weighted = sum(mix[k] * v for k, v in out.items()) / sum(mix[k] for k in out)
        weighted_cold = sum(mix[k] * v for k, v in cold_out.items()) / sum(mix[k] for k in cold_out)
        out["mix"], out["mix_cold"] = weighted, weighted_cold
        verdict = "met" if weighted < 0.10 else "MISSED"
        print(
            f"  mix-weighted overhead per request: warm {100 * weighted:+.1f} % (target < 10 %: {verdict}); "
            f"first requests (cache misses) {100 * weighted_cold:+.0f} %"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--restart", action="store_true", help="restart PostgreSQL a third of the way in")
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean think time per client, s (0: flat out)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument("--anonymous", action="store_true", help="clients send no key (public, suppressed)")
    parser.add_argument("--mix", default=MIX, help=f"request mix in percent (default {MIX})")
    parser.add_argument(
        "--protection-cost",
        action="store_true",
        help="only measure the cost of disclosure protection per request (officer vs public) and stop",
    )
    parser.add_argument("--ingest-rows", type=int, default=5000)
    parser.add_argument("--ingest-every", type=float, default=2.5, help="seconds between ingest commits")
    parser.add_argument(
        "--grace", type=float, default=5.0, help="seconds after the restart still counted in it"
    )
    args = parser.parse_args()
    mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}

    database_url = database_url_from_env()
    salt = os.environ.get("WARDWISE_SECRET_SALT", DEV_SALT)
    engine = make_engine(database_url, pool_size=1)
    with engine.begin() as conn:
        key = create_key(conn, Role.officer, "bench/load.py officer", salt)
    headers = {} if args.anonymous else {"Authorization": f"Bearer {key}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(database_url, port, args.workers)
    stop = threading.Event()
    ingester = Ingester(database_url, salt, args.ingest_rows, stop, args.ingest_every)
    print(f"machine load average before: {_loadavg()} ({os.cpu_count()} cores, shared with other sessions)")
    try:
        targets = (
            Targets()
            if args.protection_cost
            else discover(base, database_url, headers, warm=2 * args.workers)
        )
        if args.protection_cost:
            plain_port = free_port()
            plain = start_server(database_url, plain_port, args.workers, extra_env=UNPROTECTED)
            try:
                public = discover(base, database_url, {}, check=False)  # not asked yet: cold
                protection_cost(base, f"http://127.0.0.1:{plain_port}", public)
            finally:
                plain.terminate()
                plain.wait(timeout=30)
            return 0
        print(
            f"server {base} ({args.workers} uvicorn worker(s)); "
            f"{args.clients} clients for {args.duration:.0f} s; "
            f"{len(targets.tile_urls)} tiles (warmed), {len(targets.profile_urls)} profile and "
            f"{len(targets.hotspot_urls)} hot-spot URLs; think time {args.think:g} s; "
            f"ingest {'off' if args.no_ingest else 'on'}; "
            f"restart {'on' if args.restart else 'off'}"
        )
        if not (targets.tile_urls or targets.profile_urls or targets.hotspot_urls):
            print("nothing to load: no tile/profile/hot-spot endpoint answered 200")
            return 1
        if not args.no_ingest:
            ingester.start()
        window: list[float] = []
        restarter = None
        start = time.monotonic()
        if args.restart:
            restarter = threading.Thread(
                target=restart_postgres, args=(window, start + args.duration / 3), daemon=True
            )
            restarter.start()
        samples: list[Sample] = []
        asyncio.run(
            run_clients(base, headers, targets, args.clients, args.duration, samples, mix, args.think)
        )
        stop.set()
        if restarter:
            restarter.join()
        ingester.join(timeout=120) if ingester.is_alive() else None
        span = (window[0], window[1]) if len(window) == 2 else None
        if span:
            print(
                f"PostgreSQL restart: started at +{span[0] - start:.1f} s, took {span[1] - span[0]:.1f} s "
                f"(errors within {args.grace:.0f} s after it count as in the window)"
            )
        summary = report(samples, args.duration, span, args.grace, start)
        if span:
            timeline(samples, start, args.duration)
        health = summary.get("health", {}).get("p95")
        if health:
            ratios = ", ".join(f"{k} {v['p95'] / health:.1f}x" for k, v in summary.items() if k != "health")
            print(f"p95 relative to the /health peer ({health:.1f} ms): {ratios}")
        ok = True
        for kind, limit in (("tile", 150), ("profile", 500), ("hotspot", 1000)):
            if kind in summary:
                met = summary[kind]["p95"] < limit
                ok &= met
                print(f"target {kind} p95 < {limit} ms: {'met' if met else 'MISSED'}")
        outside = sum(v["outside"] for v in summary.values())
        print(f"errors outside the restart window: {outside}")
        ok &= outside == 0
        if not args.no_ingest:
            print(
                f"ingest: {len(ingester.committed)} batches committed "
                f"({sum(ingester.committed.values()):,} rows), {len(ingester.failures)} failed (rolled back)"
            )
            for failure in ingester.failures[:3]:
                print(f"  failed batch: {failure}")
            with engine.connect() as conn:
                lost = []
                for batch_id, rows in ingester.committed.items():
                    present = conn.execute(
                        text("SELECT count(*) FROM service_event WHERE batch_id = :b"), {"b": batch_id}
                    ).scalar_one()
                    if present != rows:
                        lost.append((batch_id, rows, present))
            print(f"committed data after the run: {'all present' if not lost else f'LOST {lost}'}")
            ok &= not lost
        print(f"machine load average after: {_loadavg()}")
        after = httpx.get(f"{base}/health", timeout=5)
        print(f"server still the same process (pid {server.pid}) and healthy: {after.status_code == 200}")
        return 0 if ok else 1
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)
        with engine.begin() as conn:
            revoke_key(conn, key.split("_")[1])
            if ingester.committed:
                conn.execute(
                    text("DELETE FROM ingest_batch WHERE id = ANY(:ids)"), {"ids": list(ingester.committed)}
                )
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
