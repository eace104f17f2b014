"""Run Alembic migrations from code (the CLI and the test session use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from geo.db import normalise_database_url

REPO_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    """Return an Alembic config for this repository's migrations, bound to ``url``."""
    cfg = Config(toml_file=REPO_ROOT / "pyproject.toml")
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.attributes["url"] = normalise_database_url(url)
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade_database(url: str, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision``."""
    command.downgrade(alembic_config(url), revision)
