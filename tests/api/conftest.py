"""API test fixtures: one committed API key per role in the test database."""

from __future__ import annotations

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
