"""Application settings, validated once, from the environment (``WARDWISE_*``, ``DATABASE_URL``)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from geo.db import DEFAULT_DATABASE_URL, normalise_database_url

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob Wardwise has; one instance per app."""

    model_config = SettingsConfigDict(env_prefix="WARDWISE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
    )
    # A streaming replica for read-only work (tiles, analyses, area look-ups): GET requests
    # outside admin, ingest and jobs read from it. Unset: everything uses database_url.
    database_read_url: str | None = Field(default=None, validation_alias="DATABASE_READ_URL")
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
    # Stale-while-revalidate bound (s): after a write, cached tiles, profiles and hot-spot
    # tables are served as they were (with Age and Warning headers) for at most this long
    # while the new answer is computed in the background. 0 turns it off.
    stale_max_s: float = 0.0
    # Refresh stale profiling aggregates (CONCURRENTLY, one process at a time) this often, s;
    # 0: never here (run `wardwise worker`, or `wardwise profiling refresh` after loads).
    aggregate_refresh_s: float = 0.0
    # Run queued jobs in this process too (False: only `wardwise worker` processes run them).
    run_jobs: bool = True

    # Pagination and request limits
    default_limit: int = 1000
    max_limit: int = 10_000
    max_upload_bytes: int = 200 * 1024 * 1024
    # Uploads larger than this are ingested as a durable job (202 + the job to poll) instead
    # of inside the request (geo/ingest/jobs.py); smaller ones answer with their report.
    ingest_inline_max_bytes: int = 8 * 1024 * 1024
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

    # Exports and OGC API: the licence and attribution every file carries; the origins
    # allowed to embed the map in a frame (CSP frame-ancestors; empty: none may).
    licence_id: str = "OGL-UK-3.0"
    licence_title: str = "Open Government Licence v3.0"
    licence_url: str = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
    attribution: str = (
        "Contains public sector information licensed under the Open Government Licence v3.0. "
        "Boundaries: Office for National Statistics licensed under the OGL; contains OS data "
        "(c) Crown copyright and database right."
    )
    # WARDWISE_FRAME_ANCESTORS="https://www.council.gov.uk https://intranet.council.gov.uk"
    frame_ancestors: Annotated[list[str], NoDecode] = []

    @field_validator("database_url")
    @classmethod
    def _use_psycopg_driver(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("database_read_url")
    @classmethod
    def _read_url_driver(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else None

    @field_validator("frame_ancestors", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return re.split(r"[\s,]+", value.strip()) if isinstance(value, str) and value.strip() else value or []

    @field_validator("frame_ancestors")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        # Each entry lands in a CSP header: only a bare origin, so no directive can be injected.
        for origin in value:
            if not re.fullmatch(r"https?://(\*\.)?[A-Za-z0-9.\-]+(:[0-9]{1,5})?", origin):
                raise ValueError(
                    f"`frame_ancestors` has {origin!r} but each entry is expected to be an origin "
                    "such as https://www.example.gov.uk (scheme, host and optional port; no path)"
                )
        return value

    @model_validator(mode="after")
    def _check_limits(self) -> Self:
        if self.default_limit > self.max_limit:
            raise ValueError("default_limit must not exceed max_limit")
        return self


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings (read from the environment once)."""
    return Settings()
