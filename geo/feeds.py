"""Feeds: folders Wardwise watches, so monthly files are loaded without an upload.

A feed is a directory, a file pattern, an ingest kind and a mapping (or preset) stored with
it: the monthly police.uk file, a nightly CRM export. Scanning a feed ingests every file
matching the pattern that the feed has not seen, through the ordinary ingest entry point
(:func:`geo.ingest.service.ingest_path`: one batch per file, all or nothing, audited, the
batch report in the data-quality tab). Files are recognised by content (SHA-256), so a
file renamed or copied again is skipped; a file already loaded by another route is
recorded as ``duplicate``; a file that fails is recorded as ``failed`` with the reason, and
its failed batch is listed with the others where officers see ingest reports. A failed
file is not retried until its content changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo.errors import DuplicateBatch, IngestError, InvalidRequest, NotFound, WardwiseError
from geo.ingest.mapping import KINDS, PRESETS
from geo.ingest.readers import file_sha256
from geo.ingest.service import ingest_path


@dataclass(frozen=True)
class FeedResult:
    """What a scan did with one file."""

    feed: str
    filename: str
    status: str  # loaded | duplicate | failed
    batch_id: int | None
    error: str | None


def _mapping(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    path = Path(str(value))
    if path.is_file():
        if path.suffix.lower() == ".toml":
            import tomllib

            return tomllib.loads(path.read_text(encoding="utf-8"))
        loaded = json.loads(path.read_text(encoding="utf-8"))
    else:
        try:
            loaded = json.loads(str(value))
        except json.JSONDecodeError:
            raise InvalidRequest(
                f"`mapping` was {str(value)[:60]!r} but is expected to be a mapping file or JSON"
            ) from None
    if not isinstance(loaded, dict):
        raise InvalidRequest("`mapping` is expected to be a JSON object")
    return loaded


def add_feed(
    conn: Connection,
    name: str,
    directory: str | Path,
    kind: str,
    *,
    preset: str | None = None,
    mapping: Any = None,
    pattern: str = "*",
) -> dict[str, Any]:
    """Create or update the feed ``name`` (its mapping is stored with it); return its row."""
    name = " ".join(str(name).split())
    if not name:
        raise InvalidRequest("`name` is empty but is expected to name the feed")
    if kind not in KINDS:
        raise InvalidRequest(f"`kind` was {kind!r} but is expected to be one of {list(KINDS)}")
    if preset is not None and preset not in PRESETS:
        raise InvalidRequest(f"`preset` was {preset!r} but is expected to be one of {sorted(PRESETS)}")
    folder = Path(directory).expanduser().resolve()
    if not folder.is_dir():
        raise InvalidRequest(f"`directory` {str(folder)!r} is not a directory")
    if not pattern or "/" in pattern or ".." in pattern:
        raise InvalidRequest(
            f"`pattern` was {pattern!r} but is expected to be a file name pattern such as '*.csv'"
        )
    row = (
        conn.execute(
            text(
                """
                INSERT INTO feed (name, directory, pattern, kind, preset, mapping)
                VALUES (:n, :d, :p, :k, :pr, CAST(:m AS jsonb))
                ON CONFLICT (name) DO UPDATE SET directory = EXCLUDED.directory, pattern = EXCLUDED.pattern,
                    kind = EXCLUDED.kind, preset = EXCLUDED.preset, mapping = EXCLUDED.mapping
                RETURNING id, name, directory, pattern, kind, preset, mapping, created_at, last_scan_at
                """
            ),
            {
                "n": name,
                "d": str(folder),
                "p": pattern,
                "k": kind,
                "pr": preset,
                "m": json.dumps(_mapping(mapping)) if mapping is not None else None,
            },
        )
        .mappings()
        .one()
    )
    return dict(row)


def list_feeds(conn: Connection, *, recent: int = 10) -> list[dict[str, Any]]:
    """Every feed with its counts of files by status and its ``recent`` latest files."""
    feeds = [
        dict(r)
        for r in conn.execute(
            text(
                "SELECT id, name, directory, pattern, kind, preset, mapping, created_at, last_scan_at "
                "FROM feed ORDER BY name"
            )
        ).mappings()
    ]
    for feed in feeds:
        counts: dict[str, int] = dict(
            conn.execute(
                text("SELECT status, count(*) FROM feed_file WHERE feed_id = :f GROUP BY status"),
                {"f": feed["id"]},
            ).all()
        )
        feed["files"] = {s: int(counts.get(s, 0)) for s in ("loaded", "duplicate", "failed")}
        feed["recent"] = [
            dict(r)
            for r in conn.execute(
                text(
                    "SELECT filename, status, batch_id, error, seen_at FROM feed_file WHERE feed_id = :f "
                    "ORDER BY seen_at DESC, filename LIMIT :n"
                ),
                {"f": feed["id"], "n": recent},
            ).mappings()
        ]
    return feeds


def feed_for_directory(
    conn: Connection,
    directory: str | Path,
    *,
    kind: str | None = None,
    preset: str | None = None,
    mapping: Any = None,
    pattern: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The feed that watches ``directory`` (``wardwise ingest watch DIR``), created or updated.

    With ``kind`` the feed is created (named ``name``, or after the folder) or its stored
    definition replaced; without it the feed already stored for the folder is used as it is,
    mapping and all. A folder with no feed and no ``kind`` is refused, naming what to add.
    """
    folder = Path(directory).expanduser().resolve()
    existing = (
        conn.execute(
            text("SELECT name, pattern FROM feed WHERE directory = :d ORDER BY name"), {"d": str(folder)}
        )
        .mappings()
        .all()
    )
    if name is not None:
        existing = [r for r in existing if r["name"] == " ".join(str(name).split())]
    if kind is None:
        if not existing:
            raise InvalidRequest(
                f"no feed watches {str(folder)!r}: give `--kind` (and `--preset` or `--mapping`) "
                "to create one"
            )
        if len(existing) > 1:
            raise InvalidRequest(
                f"{len(existing)} feeds watch {str(folder)!r} ({[r['name'] for r in existing]}): "
                "choose one with `--name`"
            )
        return _feed(conn, existing[0]["name"])
    feed_name = name or (existing[0]["name"] if len(existing) == 1 else folder.name)
    pattern = pattern or (existing[0]["pattern"] if len(existing) == 1 else "*")
    add_feed(conn, feed_name, folder, kind, preset=preset, mapping=mapping, pattern=pattern)
    return _feed(conn, " ".join(str(feed_name).split()))


def _feed(conn: Connection, name: str) -> dict[str, Any]:
    row = (
        conn.execute(
            text("SELECT id, name, directory, pattern, kind, preset, mapping FROM feed WHERE name = :n"),
            {"n": name},
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no feed is called {name!r}")
    return dict(row)


def scan_feed(engine: Engine, name: str, *, salt: str) -> list[FeedResult]:
    """Ingest every new file of feed ``name`` (oldest modification first); return what happened.

    Each file is its own batch (``ingest_path``: committed, audited as ``feed:<name>``);
    its outcome is recorded in ``feed_file`` in a transaction of its own, so one bad file
    never stops the others.
    """
    with engine.connect() as conn:
        feed = _feed(conn, name)
        seen = set(
            conn.execute(text("SELECT sha256 FROM feed_file WHERE feed_id = :f"), {"f": feed["id"]}).scalars()
        )
    folder = Path(feed["directory"])
    files = sorted(
        (p for p in folder.glob(feed["pattern"]) if p.is_file()), key=lambda p: (p.stat().st_mtime, p.name)
    )
    results: list[FeedResult] = []
    for path in files:
        digest = file_sha256(path)
        if digest in seen:
            continue
        seen.add(digest)
        batch_id: int | None = None
        error: str | None = None
        try:
            report = ingest_path(
                engine,
                feed["kind"],
                path,
                salt=salt,
                actor=f"feed:{feed['name']}",
                mapping=feed["mapping"],
                preset=feed["preset"],
            )
            status, batch_id = "loaded", report.batch_id
        except DuplicateBatch as exc:
            status, batch_id, error = "duplicate", exc.batch_id, str(exc)
        except (IngestError, WardwiseError) as exc:
            status, error = "failed", str(exc)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO feed_file (feed_id, sha256, filename, status, batch_id, error) "
                    "VALUES (:f, :h, :n, :s, :b, :e) ON CONFLICT (feed_id, sha256) DO NOTHING"
                ),
                {"f": feed["id"], "h": digest, "n": path.name, "s": status, "b": batch_id, "e": error},
            )
        results.append(FeedResult(feed["name"], path.name, status, batch_id, error))
    with engine.begin() as conn:
        conn.execute(text("UPDATE feed SET last_scan_at = now() WHERE id = :f"), {"f": feed["id"]})
    return results


def watch_feeds(
    engine: Engine,
    *,
    salt: str,
    names: list[str] | None = None,
    interval_s: float = 60.0,
    once: bool = False,
    report: Callable[[FeedResult], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[FeedResult]:
    """Scan the feeds (all, or ``names``) now and then every ``interval_s`` seconds.

    With ``once`` it scans once and returns what happened; otherwise it runs until ``stop()``
    returns true (or forever, for a worker), calling ``report`` for each file.
    """
    done: list[FeedResult] = []
    while True:
        with engine.connect() as conn:
            all_names = [str(n) for n in conn.execute(text("SELECT name FROM feed ORDER BY name")).scalars()]
        for name in names or all_names:
            for result in scan_feed(engine, name, salt=salt):
                done.append(result)
                if report is not None:
                    report(result)
        if once or (stop is not None and stop()):
            return done
        time.sleep(interval_s)
