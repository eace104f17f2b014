"""One million service events through the whole ingest path against the demo gazetteer.

    DATABASE_URL=... .venv/bin/python bench/ingest.py [--rows 1000000] [--chunk-rows 100000]

The database must hold the demo borough (``wardwise demo load``). The bench renders the
demo's six raw source-system extracts (``geo.demo.raw_extracts``, with their planted
malformed, postcode-only, duplicate, out-of-district and unparseable rows), repeats them
until ``--rows`` rows (each copy's references made unique) and writes one CSV per
system. It then ingests the six files exactly as ``wardwise ingest`` would (read in
chunks, anonymise, match on the full ladder, COPY, resolve duplicates) on one
connection, and rolls everything back at the end, so the database is left as it was.

Printed:

* rows/s end to end (file on disk to rows in ``service_event``), against the target of
  50,000 rows/s (issue 17), and the ratio to a peer measured in the same run: a bare ``COPY`` of the
  same files into an unlogged table (the floor any loader pays);
* fuzzy matching by blocks (``rapidfuzz.process.cdist`` per postcode) against a per-row
  ``process.extractOne`` peer on the same records;
* peak RSS after the first file and after the last (flat memory: chunks, not the file),
  against the target of < 1 GB;
* the machine's load average before and after (a shared machine: read the rates with it);
* fuzzy precision on the planted malformed addresses (target >= 99 %), and the
  match-level mix beside the planted truth (the truth of copy 0, scaled by the copies).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.db import database_url_from_env, make_engine  # noqa: E402


def _loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _households(conn) -> int:
    truth = conn.execute(text("SELECT truth FROM demo_truth WHERE key = 'demo'")).scalar_one_or_none()
    if truth is None:
        sys.exit("bench/ingest.py: no demo borough in this database; run `wardwise demo load` first")
    return int(truth["households"]), int(truth["seed"]), truth


def _write_files(extracts: dict[str, pd.DataFrame], rows: int, ref_columns: dict[str, str], folder: Path):
    total = sum(len(f) for f in extracts.values())
    copies = math.ceil(rows / total)
    files: dict[str, Path] = {}
    written = 0
    for i, (system, frame) in enumerate(extracts.items()):
        want = rows - written if i == len(extracts) - 1 else round(rows * len(frame) / total)
        parts = []
        for k in range(copies):
            part = frame.copy()
            if k:
                part[ref_columns[system]] = part[ref_columns[system]] + f"-c{k}"
            parts.append(part)
        big = pd.concat(parts, ignore_index=True).head(want)
        path = folder / f"{system}.csv"
        big.to_csv(path, index=False)
        files[system] = path
        written += len(big)
    return files, copies, written


def _copy_peer(conn, files: dict[str, Path]) -> float:
    """Seconds to COPY the same CSV files into an unlogged text table: the floor cost."""
    raw = conn.connection.driver_connection
    start = time.perf_counter()
    for system, path in files.items():
        columns = pd.read_csv(path, nrows=0).columns
        name = f"bench_peer_{system}"
        cols = ", ".join(f'"c{i}" text' for i in range(len(columns)))
        conn.execute(text(f"CREATE UNLOGGED TABLE {name} ({cols})"))
        with raw.cursor() as cur, cur.copy(f"COPY {name} FROM STDIN (FORMAT csv, HEADER true)") as cp:
            with path.open("rb") as fh:
                while block := fh.read(1 << 20):
                    cp.write(block)
    return time.perf_counter() - start


def _fuzzy_peers(gz, sample: pd.DataFrame) -> dict[str, float]:
    """rows/s of the ladder's fuzzy step (one merge + cpdist) and two peers on the same records:
    one ``cdist`` per postcode block, and one ``extractOne`` per row."""
    from rapidfuzz import fuzz, process

    from geo.matching.ladder import _fuzzy, _fuzzy_by_block, prepare_records

    prepared = prepare_records(sample, gz)
    todo = prepared["postcode_norm"].notna().to_numpy() & (prepared["key"] != "").to_numpy()
    n = int(todo.sum())
    rates = {}
    for name, fn in (("merge + cpdist (ladder)", _fuzzy), ("cdist per postcode block", _fuzzy_by_block)):
        start = time.perf_counter()
        fn(prepared, todo, gz)
        rates[name] = n / (time.perf_counter() - start)
    blocks = gz.candidate_blocks()
    start = time.perf_counter()
    for key, postcode in zip(
        prepared["key"].to_numpy()[todo], prepared["postcode_norm"].to_numpy()[todo], strict=True
    ):
        block = blocks.get(postcode)
        if block is not None:
            process.extractOne(key, block[0], scorer=fuzz.token_sort_ratio)
    rates["extractOne per row"] = n / (time.perf_counter() - start)
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from geo.demo import generate_borough, raw_extracts
    from geo.demo.extracts import SYSTEMS
    from geo.demo.generate import DEMO_SALT
    from geo.ingest import ingest_file
    from geo.ingest.demo_mappings import DEMO_EXTRACT_MAPPINGS
    from geo.matching.gazetteer import load_gazetteer

    print(f"machine load average before: {_loadavg()} ({os.cpu_count()} cores, shared with other sessions)")
    url = args.database_url or database_url_from_env()
    engine = make_engine(url, pool_size=1)
    with engine.connect() as conn:
        households, seed, truth = _households(conn)
    print(f"demo borough: {households:,} households (seed {seed}); rendering its raw extracts ...")
    extracts = raw_extracts(generate_borough(households=households, seed=seed))
    refs = {s: c["ref_column"] for s, c in SYSTEMS.items()}
    planted = truth["extracts"]

    with tempfile.TemporaryDirectory(prefix="wardwise-bench-") as tmp:
        files, copies, total = _write_files(extracts, args.rows, refs, Path(tmp))
        size_mb = sum(p.stat().st_size for p in files.values()) / 1024**2
        print(f"{total:,} rows in {len(files)} files ({size_mb:.0f} MB), {copies} copies of the extracts")

        with engine.connect() as conn:
            trans = conn.begin()
            # The demo loaded these same events directly; take them out so duplicates
            # resolve among the extracts only (rolled back at the end).
            conn.execute(text("DELETE FROM service_event WHERE batch_id IS NULL"))
            gz = load_gazetteer(conn)  # built once here, as the first batch would; timed below
            reports = {}
            rss_first = None
            start = time.perf_counter()
            for system, path in files.items():
                reports[system] = ingest_file(
                    conn,
                    "events",
                    path,
                    salt=DEMO_SALT,
                    mapping=DEMO_EXTRACT_MAPPINGS[system],
                    chunk_rows=args.chunk_rows,
                )
                rss_first = rss_first or _rss_mb()
            elapsed = time.perf_counter() - start
            rss_last = _rss_mb()

            events = pd.DataFrame(
                conn.execute(text("SELECT source_ref_hash, match_level, uprn, is_primary FROM service_event"))
                .mappings()
                .all()
            )
            peer_s = _copy_peer(conn, files)
            trans.rollback()

    rate = total / elapsed
    print()
    print(
        f"end to end: {total:,} rows in {elapsed:.1f} s = {rate:,.0f} rows/s "
        f"(target >= 50,000: {'met' if rate >= 50_000 else 'NOT met'})"
    )
    print(
        f"peer, bare COPY of the same files: {total / peer_s:,.0f} rows/s; ingest/COPY ratio "
        f"{rate / (total / peer_s):.2f}"
    )
    stages: dict[str, float] = {}
    for r in reports.values():
        for stage, seconds in r.timings_s.items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    print("time by stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
    print(
        f"peak RSS after the first file {rss_first:,.0f} MB, after all {rss_last:,.0f} MB "
        f"(chunks of {args.chunk_rows:,} rows; flat means these stay close; "
        f"target < 1 GB: {'met' if rss_last < 1024 else 'NOT met'})"
    )
    print(f"machine load average after: {_loadavg()} ({os.cpu_count()} cores, shared with other sessions)")

    sample = extracts["council_crm"].rename(columns={"Address": "address", "Postcode": "postcode"})[
        ["address", "postcode"]
    ]
    rates = _fuzzy_peers(gz, sample)
    ours = rates["merge + cpdist (ladder)"]
    print(
        "fuzzy step on "
        + f"{len(sample):,} council CRM records: "
        + "; ".join(f"{name} {rate:,.0f} rows/s ({ours / rate:.1f}x)" for name, rate in rates.items())
    )

    def h(ref: str) -> str:
        system = next(s for s, c in SYSTEMS.items() if ref.startswith(c["prefix"]))
        return hashlib.sha256(f"{DEMO_SALT}:{system}:{ref}".encode()).hexdigest()

    by_hash = events.set_index("source_ref_hash")
    malformed = pd.DataFrame(planted["malformed"])
    malformed["hash"] = malformed["ref"].map(h)
    got = malformed.join(by_hash, on="hash", rsuffix="_got")
    placed = got[got["uprn_got"].notna()]
    precision = float((placed["uprn_got"].astype(np.int64) == placed["uprn"]).mean())
    print(
        f"fuzzy/exact precision on {len(malformed):,} planted malformed addresses (copy 0): "
        f"{precision:.2%} of {len(placed):,} placed "
        f"(target >= 99%: {'met' if precision >= 0.99 else 'NOT met'})"
    )
    print(
        "  by planted defect: "
        + ", ".join(f"{k} {g['uprn_got'].notna().mean():.0%} placed" for k, g in got.groupby("kind"))
    )

    levels = events["match_level"].value_counts()
    print()
    print(f"{'match level':<14}{'rows':>10}{'share':>8}   planted truth (x{copies} copies)")
    planted_rows = {
        "malformed (fuzzy/street)": len(planted["malformed"]) * copies,
        "postcode only": len(planted["postcode_only"]) * copies,
        "duplicates": len(planted["duplicates"]) * copies,
        "out of district": len(planted["outside_district"]) * copies,
        "unparseable": len(planted["unparseable"]) * copies,
    }
    names = list(planted_rows)
    for i, level in enumerate(["uprn", "address", "fuzzy", "street", "postcode", "coordinates", "unmatched"]):
        n = int(levels.get(level, 0))
        side = f"{names[i]:<26}{planted_rows[names[i]]:>9,}" if i < len(names) else ""
        print(f"{level:<14}{n:>10,}{n / len(events):>8.1%}   {side}")
    print(f"{'rejected':<14}{sum(r.rows_rejected for r in reports.values()):>10,}")
    print(f"{'out of area':<14}{sum(r.out_of_area for r in reports.values()):>10,}")
    print(f"{'duplicates':<14}{sum(r.duplicates_resolved for r in reports.values()):>10,}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
