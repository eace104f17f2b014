"""Feeds: files dropped into a watched folder become batches; seen files are skipped; failures listed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from geo.errors import InvalidRequest, NotFound
from geo.feeds import add_feed, list_feeds, scan_feed, watch_feeds

SALT = "test-salt"
MAPPING = {
    "columns": {"event_date": "Date", "address": "Address", "postcode": "Postcode", "source_ref": "Ref"},
    "constants": {"service_code": "asb_reports", "source_system": "feed_test"},
    "date_format": "%d/%m/%Y",
}


@pytest.fixture(scope="module", autouse=True)
def _remove_committed_rows(engine: Engine) -> Iterator[None]:
    """Feeds commit (each file is a batch): delete this module's batches and feeds afterwards."""
    with engine.connect() as conn:
        last = conn.execute(text("SELECT coalesce(max(id), 0) FROM ingest_batch")).scalar_one()
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM feed WHERE name LIKE 'test %'"))
        conn.execute(text("DELETE FROM ingest_batch WHERE id > :last"), {"last": last})


def _extract(engine: Engine, refs: list[str], offset: int) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT address_text, postcode FROM address WHERE saon IS NULL ORDER BY uprn OFFSET :o LIMIT :n"
            ),
            {"o": offset, "n": len(refs)},
        ).all()
    return pd.DataFrame(
        {
            "Ref": refs,
            "Date": ["01/03/2025"] * len(refs),
            "Address": [r.address_text for r in rows],
            "Postcode": [r.postcode for r in rows],
        }
    )


def test_a_feed_loads_new_files_once_and_lists_failures(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    _extract(engine, ["F-1", "F-2"], 100).to_csv(folder / "2025-03.csv", index=False)
    with engine.begin() as conn:
        feed = add_feed(conn, "test crm", folder, "events", mapping=MAPPING, pattern="*.csv")
    assert feed["mapping"] == MAPPING  # stored with the feed
    first = scan_feed(engine, "test crm", salt=SALT)
    assert [(r.filename, r.status) for r in first] == [("2025-03.csv", "loaded")]
    with engine.connect() as conn:
        batch = conn.execute(
            text("SELECT rows_loaded, created_by FROM ingest_batch WHERE id = :b"), {"b": first[0].batch_id}
        ).one()
        events = conn.execute(
            text("SELECT count(*) FROM service_event WHERE batch_id = :b"), {"b": first[0].batch_id}
        ).scalar()
    assert batch.created_by == "feed:test crm" and events == 2

    # the same content under another name is skipped; a new month loads; a broken file fails
    (folder / "copy of 2025-03.csv").write_bytes((folder / "2025-03.csv").read_bytes())
    _extract(engine, ["F-3"], 200).to_csv(folder / "2025-04.csv", index=False)
    (folder / "2025-05.csv").write_text("Ref,Date\nF-4,not a date\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not matched by the pattern", encoding="utf-8")
    second = {r.filename: r for r in watch_feeds(engine, salt=SALT, names=["test crm"], once=True)}
    assert set(second) == {"2025-04.csv", "2025-05.csv"}
    assert second["2025-04.csv"].status == "loaded"
    assert second["2025-05.csv"].status == "failed" and second["2025-05.csv"].error
    assert scan_feed(engine, "test crm", salt=SALT) == []  # nothing new, the failure is not retried

    with engine.connect() as conn:
        listed = next(f for f in list_feeds(conn) if f["name"] == "test crm")
        failed_batches = conn.execute(
            text("SELECT count(*) FROM ingest_batch WHERE filename = '2025-05.csv' AND status = 'failed'")
        ).scalar()
    assert listed["files"] == {"loaded": 2, "duplicate": 0, "failed": 1}
    assert listed["last_scan_at"] is not None
    assert failed_batches == 1  # listed with the batch reports officers read


def test_a_file_loaded_by_upload_is_recorded_as_a_duplicate(engine: Engine, tmp_path: Path) -> None:
    from geo.ingest.service import ingest_path

    _extract(engine, ["D-1"], 300).to_csv(tmp_path / "once.csv", index=False)
    ingest_path(engine, "events", tmp_path / "once.csv", salt=SALT, actor="cli", mapping=MAPPING)
    with engine.begin() as conn:
        add_feed(conn, "test dup", tmp_path, "events", mapping=MAPPING, pattern="*.csv")
    [result] = scan_feed(engine, "test dup", salt=SALT)
    assert result.status == "duplicate" and result.batch_id is not None


def test_feed_definitions_are_checked(conn, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="kind"):
        add_feed(conn, "test bad", tmp_path, "pigeons")
    with pytest.raises(InvalidRequest, match="directory"):
        add_feed(conn, "test bad", tmp_path / "missing", "events")
    with pytest.raises(InvalidRequest, match="pattern"):
        add_feed(conn, "test bad", tmp_path, "events", pattern="../*.csv")
    with pytest.raises(NotFound):
        scan_feed(conn.engine, "no such feed", salt=SALT)


def test_ingest_watch_dir_picks_up_a_new_file_once_and_reports_failures(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`wardwise ingest watch DIR`: the feed command under the name the issue gives it."""
    import json

    from geo.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WARDWISE_SECRET_SALT", SALT)
    drop = tmp_path / "test drop"
    drop.mkdir()
    watch = ["ingest", "watch", str(drop), "--once"]

    # a folder with no feed and no --kind is refused, saying what to add
    assert main(watch) == 2  # bad input exits 2 (geo.cli.main)
    assert "--kind" in capsys.readouterr().err

    _extract(engine, ["W-1", "W-2", "W-3"], 400).to_csv(drop / "2025-06.csv", index=False)
    create = [*watch, "--kind", "events", "--mapping", json.dumps(MAPPING), "--pattern", "*.csv"]
    assert main(create) == 0
    err = capsys.readouterr().err
    assert "2025-06.csv loaded" in err
    with engine.connect() as conn:
        feed = conn.execute(
            text("SELECT id, name, kind, mapping FROM feed WHERE directory = :d"), {"d": str(drop.resolve())}
        ).one()
        events = conn.execute(
            text(
                "SELECT count(*) FROM service_event e JOIN ingest_batch b ON b.id = e.batch_id "
                "WHERE b.created_by = :who"
            ),
            {"who": f"feed:{feed.name}"},
        ).scalar()
    assert (feed.name, feed.kind, feed.mapping) == ("test drop", "events", MAPPING)  # stored with the feed
    assert events == 3

    # the next call needs only DIR: the seen file is skipped, nothing new is loaded
    assert main(watch) == 0
    assert "2025-06.csv" not in capsys.readouterr().err

    # a new good file loads once; a broken one is reported (stderr, exit 1, feeds list, batches)
    _extract(engine, ["W-4"], 500).to_csv(drop / "2025-07.csv", index=False)
    (drop / "2025-08.csv").write_text("Ref,Date\nW-5,31/02/2025\n", encoding="utf-8")
    assert main(watch) == 1
    err = capsys.readouterr().err
    assert "2025-07.csv loaded" in err and "2025-08.csv failed" in err
    assert main(watch) == 0  # neither is scanned again
    assert "2025-0" not in capsys.readouterr().err
    with engine.connect() as conn:
        listed = next(f for f in list_feeds(conn) if f["name"] == "test drop")
        failed = conn.execute(
            text("SELECT count(*) FROM ingest_batch WHERE filename = '2025-08.csv' AND status = 'failed'")
        ).scalar()
        loaded = conn.execute(
            text(
                "SELECT count(*) FROM ingest_batch WHERE created_by = 'feed:test drop' AND status = 'loaded'"
            )
        ).scalar()
    assert listed["files"] == {"loaded": 2, "duplicate": 0, "failed": 1}
    failure = next(r for r in listed["recent"] if r["filename"] == "2025-08.csv")
    assert failure["status"] == "failed" and failure["error"]
    assert failed == 1 and loaded == 2
    assert main(["ingest", "batches"]) == 0
    assert "2025-08.csv" in capsys.readouterr().out  # the batch list officers read
