"""API test fixtures: one committed API key per role in the test database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine

from geo.auth import Role, create_key


@pytest.fixture(scope="session")
def api_keys(engine: Engine, settings: Any) -> dict[Role, str]:
    """A live key for every role (committed, so the app under test sees them)."""
    salt = settings.secret_salt.get_secret_value()
    with engine.begin() as conn:
        return {role: create_key(conn, role, f"test {role.name} key", salt) for role in Role}


@pytest.fixture(scope="session")
def auth_headers(api_keys: dict[Role, str]) -> dict[Role, dict[str, str]]:
    """``Authorization`` headers per role: ``client.get(url, headers=auth_headers[Role.officer])``."""
    return {role: {"Authorization": f"Bearer {key}"} for role, key in api_keys.items()}


# ----------------------------------------------------------------------------- attack targets


@dataclass(frozen=True)
class Target:
    """A loaded borough served by the real app, as the attack suite plays against it."""

    name: str
    client: Any
    engine: Engine
    settings: Any
    auth_headers: dict[Role, dict[str, str]]


@pytest.fixture(scope="session")
def demo_target(
    client: Any, engine: Engine, settings: Any, auth_headers: dict[Role, dict[str, str]]
) -> Target:
    """The test demo borough (tests/conftest.py)."""
    return Target("demo", client, engine, settings, auth_headers)


#: Schema of the test database that holds the Bristol load (tests/realdata.py).
BRISTOL_SCHEMA = "bristol_attacks"


@pytest.fixture(scope="package")  # dropped when tests/api ends: later tests see one schema
def bristol_target(database_url: str) -> Iterator[Target]:
    """Bristol from the real files, loaded by the walkthrough's own commands into an empty schema.

    docs/walkthrough-bristol.md's Bristol blocks (boundaries, OAC 2021 with households,
    postcodes, the whole-force police.uk file, LibrariesWest member counts) run verbatim, as
    in tests/docs/test_walkthrough.py; then one key per role and a real app on that schema.
    Skipped, loudly, when the real files are absent.
    """
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings
    from geo.db import make_engine
    from tests.realdata import REAL, SKIP_REASON, bristol_load_blocks, drop_schema, empty_schema, run_blocks

    if REAL is None:
        pytest.skip(SKIP_REASON)
    url = empty_schema(database_url, BRISTOL_SCHEMA)
    done = run_blocks(url, bristol_load_blocks())
    assert done.returncode == 0, f"loading Bristol failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    settings = Settings(DATABASE_URL=url)
    engine = make_engine(url, pool_size=2)
    salt = settings.secret_salt.get_secret_value()
    with engine.begin() as conn:
        keys = {role: create_key(conn, role, f"bristol {role.name} key", salt) for role in Role}
    headers = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield Target("bristol", client, engine, settings, headers)
    finally:
        engine.dispose()
        drop_schema(database_url, BRISTOL_SCHEMA)


@pytest.fixture(params=["demo", "bristol"])
def target(request: pytest.FixtureRequest) -> Target:
    """Each attack target in turn: the demo borough, then Bristol's real data."""
    return request.getfixturevalue(f"{request.param}_target")  # type: ignore[no-any-return]
