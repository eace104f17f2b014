"""The real open data (../shared/data/real) and the walkthrough commands that load it.

Shared by tests/docs/test_walkthrough.py (every block of docs/walkthrough-bristol.md, checked
against pandas) and tests/api/test_attacks.py (the Bristol blocks only, as the target of the
attack suite). A load runs the documented ``wardwise`` commands in one bash session with
``DATABASE_URL`` pointing at a schema of its own in the test database (creating a database
with PostGIS needs a superuser, a schema does not).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "walkthrough-bristol.md"
BRISTOL, EAST_RIDING = "E06000023", "E06000011"


def _real_data() -> Path | None:
    candidates = [os.environ.get("WARDWISE_REAL_DATA"), ROOT.parent / "shared" / "data" / "real"]
    # a work tree one level further down (../../shared) finds the same files
    candidates.append(ROOT.parent.parent / "shared" / "data" / "real")
    for c in candidates:
        if c and (Path(c) / "bristol").is_dir() and (Path(c) / "eastriding").is_dir():
            return Path(c).resolve()
    return None


#: The real files, or None when absent (tests using them skip, loudly).
REAL = _real_data()
SKIP_REASON = (
    "SKIPPED LOUDLY: the real open data (../shared/data/real, or WARDWISE_REAL_DATA) is absent; "
    "tests on the real files cannot run"
)

ANSWER = re.compile(r"(?:<!-- answer: (\w+) -->\n)?```bash\n(.*?)```", re.S)


def walkthrough_blocks() -> list[tuple[str | None, str]]:
    """(answer name or None, commands) for every bash block of the walkthrough, in order."""
    return [(name or None, body) for name, body in ANSWER.findall(DOC.read_text(encoding="utf-8"))]


def bristol_load_blocks() -> list[tuple[str | None, str]]:
    """The walkthrough's loading blocks for Bristol alone (no answers, no East Riding)."""
    return [
        (name, body)
        for name, body in walkthrough_blocks()
        if name is None and EAST_RIDING not in body and "eastriding" not in body
    ]


def schema_url(database_url: str, schema: str) -> str:
    """``database_url`` with ``schema`` first on the search path (PostGIS from ``public``)."""
    return (
        make_url(database_url)
        .update_query_dict({"options": f"-csearch_path={schema},public"})
        .render_as_string(hide_password=False)
    )


def empty_schema(database_url: str, schema: str) -> str:
    """(Re)create ``schema`` empty, with an empty ``alembic_version`` shadowing the test
    database's own so ``wardwise db migrate`` starts from nothing; returns its URL."""
    admin = create_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(
            text(
                f'CREATE TABLE "{schema}".alembic_version (version_num varchar(32) NOT NULL, '
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
    admin.dispose()
    return schema_url(database_url, schema)


def drop_schema(database_url: str, schema: str) -> None:
    """Drop a schema made by :func:`empty_schema`."""
    admin = create_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def run_blocks(url: str, blocks: list[tuple[str | None, str]]) -> subprocess.CompletedProcess[str]:
    """Run the blocks' commands in order in one bash session (``set -eo pipefail``) on ``url``.

    Each block's output follows a line ``@@BLOCK i@@``.
    """
    assert REAL is not None, SKIP_REASON
    script = ["set -eo pipefail"]
    for i, (_, body) in enumerate(blocks):
        script += [f'echo "@@BLOCK {i}@@"', body]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "WARDWISE_REAL_DATA": str(REAL),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("WARDWISE_TEST_DATABASE_URL", None)
    return subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
