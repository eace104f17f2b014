"""Application settings, validated once, from the environment (``WARDWISE_*``, ``DATABASE_URL``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.db import DEFAULT_DATABASE_URL, normalise_database_url

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob Wardwise has; one instance per app."""

    model_config = SettingsConfigDict(env_prefix="WARDWISE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
    )
    static_dir: Path = REPO_ROOT / "frontend_static"
    # Per-installation secret for hashing person/case identifiers and API keys, and seeding
    # the record keys of disclosure control. The built-in one is for `--demo` only: outside
    # demo mode the server refuses to start on it, on any other published or empty salt.
    secret_salt: SecretStr = SecretStr("wardwise-dev-salt-change-me")
    # Demo mode (`wardwise serve --demo`, WARDWISE_DEMO=1; the test suite): the known salt is
    # allowed, with a warning.
    demo: bool = False

    # Vector tiles (tipg's MVTSettings)
    tile_extent: int = 4096
    tile_buffer: int = 64
    tile_max_features: int = 50_000
    tile_cache_entries: int = 4096

    # Pagination and request limits
    default_limit: int = 1000
    max_limit: int = 10_000
    max_upload_bytes: int = 200 * 1024 * 1024
    # Any other request body (JSON): planning requests and custom area GeoJSON fit easily.
    max_request_bytes: int = 10 * 1024 * 1024

    # Rate limits on /api/ (api/security.py; `limits` syntax, moving window): per address for
    # callers without a key, per key otherwise. 429 with Retry-After beyond them.
    rate_limit_enabled: bool = True
    rate_limit_public: str = "300/minute"
    rate_limit_key: str = "1200/minute"

    # Disclosure control: counts 1..threshold are shown as "<threshold+1>" to public users.
    suppression_threshold: int = 4
    round_to_base: int | None = None
    # Public callers (docs/security.md): cell-key perturbation of every count, and floors.
    perturbation: bool = True
    public_min_households: int = Field(default=50, ge=0)
    public_max_h3_resolution: int = Field(default=8, ge=5, le=12)
    public_whole_months: bool = True

    @field_validator("database_url")
    @classmethod
    def _use_psycopg_driver(cls, value: str) -> str:
        return normalise_database_url(value)

    @model_validator(mode="after")
    def _check_limits(self) -> Self:
        if self.default_limit > self.max_limit:
            raise ValueError("default_limit must not exceed max_limit")
        return self


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings (read from the environment once)."""
    return Settings()
