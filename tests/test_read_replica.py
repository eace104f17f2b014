"""A read replica for real: a throwaway primary cluster and its streaming replica (pg_basebackup),
the app reading from the replica (``DATABASE_READ_URL``) and an ingest on the primary reaching
the replica's answers (issue 17).

Builds both PostgreSQL 15 clusters under /tmp on free ports as the postgres user (runuser), and
removes them afterwards; the machine's main cluster is not touched. Needs root and the
PostgreSQL 15 server binaries (as on the project's machines); skips loudly otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.live import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DB = "wardwise_replica_test"


def _as_postgres(*args: str | Path, timeout: float = 120) -> str:
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def _start(data: Path, port: int, socket_dir: Path, log: Path) -> None:
    options = (
        f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c shared_buffers=16MB -c max_connections=40 "
        "-c wal_level=replica -c max_wal_senders=4 -c hot_standby=on -c hot_standby_feedback=on"
    )
    _as_postgres(PG_BIN / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")


def _stop(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="module")
def clusters() -> Iterator[dict[str, str]]:
    """A primary with the Wardwise schema and its streaming replica; both removed afterwards."""
    if os.geteuid() != 0 or shutil.which("runuser") is None or not (PG_BIN / "pg_basebackup").exists():
        pytest.skip(
            "SKIPPED: the read-replica test needs root (to run initdb/pg_basebackup as postgres via runuser) "
            f"and the PostgreSQL 15 server binaries in {PG_BIN}"
        )
    from geo.migrate import upgrade_database

    root = Path(tempfile.mkdtemp(prefix="wardwise-replica-", dir="/tmp"))
    shutil.chown(root, "postgres", "postgres")
    primary, replica = root / "primary", root / "replica"
    p1, p2 = free_port(), free_port()
    try:
        _as_postgres(
            PG_BIN / "initdb", "-D", primary, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        _start(primary, p1, root, root / "primary.log")
        _as_postgres(
            PG_BIN / "psql", "-h", "127.0.0.1", "-p", p1, "-U", "postgres", "-c", f"CREATE DATABASE {DB}"
        )
        primary_url = f"postgresql+psycopg://postgres@127.0.0.1:{p1}/{DB}"
        upgrade_database(primary_url, "head")
        _as_postgres(
            PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", p1, "-U", "postgres", "-D", replica,
            "-R", "-X", "stream", "--no-sync", "-c", "fast",
        )  # fmt: skip
        _start(replica, p2, root, root / "replica.log")
        yield {"primary": primary_url, "replica": f"postgresql+psycopg://postgres@127.0.0.1:{p2}/{DB}"}
    finally:
        _stop(replica)
        _stop(primary)
        shutil.rmtree(root, ignore_errors=True)


def _district_geojson(path: Path, code: str) -> Path:
    """One square district near Bristol, in WGS84."""
    ring = [[-2.62, 51.44], [-2.56, 51.44], [-2.56, 51.48], [-2.62, 51.48], [-2.62, 51.44]]
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": code, "name": "Replica Test District"},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    return path


def test_reads_come_from_the_replica_and_see_an_ingest_on_the_primary(clusters, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings
    from geo.ingest import ingest_file

    primary = create_engine(clusters["primary"])
    replica = create_engine(clusters["replica"], isolation_level="AUTOCOMMIT")
    settings = Settings(DATABASE_URL=clusters["primary"], DATABASE_READ_URL=clusters["replica"])
    try:
        with replica.connect() as r:
            assert r.execute(text("SELECT pg_is_in_recovery()")).scalar_one()  # a real standby
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            assert client.app.state.read_engine is not client.app.state.engine

            def districts() -> list[str]:
                r = client.get("/api/v1/areas", params={"level": "district"})
                assert r.status_code == 200, r.text
                return [f["properties"]["code"] for f in r.json()["features"]]

            assert districts() == []
            # Hold the replica's replay: an ingest committed on the primary must not show yet,
            # which proves the answer comes from the replica and not the primary.
            with replica.connect() as r:
                r.execute(text("SELECT pg_wal_replay_pause()"))
            with primary.begin() as conn:
                report = ingest_file(
                    conn,
                    "areas",
                    _district_geojson(tmp_path / "district.geojson", "E0REPLICA"),
                    salt="replica-test",
                    mapping={
                        "columns": {"code": "code", "name": "name"},
                        "constants": {"level": "district", "set_code": "replica"},
                    },
                )
            assert report.rows_loaded == 1
            with primary.connect() as conn:
                assert (
                    conn.execute(text("SELECT count(*) FROM area WHERE level = 'district'")).scalar_one() == 1
                )
            assert districts() == []  # the replica has not replayed it: reads really go there
            # ...while writes and the ingest routes still use the primary
            assert client.get("/api/v1/ingest/batches").status_code == 401  # (auth first, as ever)

            with replica.connect() as r:
                r.execute(text("SELECT pg_wal_replay_resume()"))
            deadline = time.monotonic() + 30
            seen: list[str] = []
            while time.monotonic() < deadline:
                seen = districts()
                if seen:
                    break
                time.sleep(0.2)
            assert seen == ["E0REPLICA"]  # the ingest reached the replica's answers
            # the replica's small versions moved with the data, so its caches turned over too
            with replica.connect() as r, primary.connect() as p:
                q = text("SELECT version FROM data_version_scope WHERE subject = 'level:district'")
                assert r.execute(q).scalar_one() == p.execute(q).scalar_one() >= 1
    finally:
        primary.dispose()
        replica.dispose()
