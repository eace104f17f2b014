"""API keys and roles: keys are random, shown once, stored only as a keyed hash."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, text

KEY_PREFIX = "ww_"


class Role(enum.IntEnum):
    """Roles in increasing power; each includes what the ones below it may do."""

    public = 0
    officer = 1
    analyst = 2
    admin = 3


@dataclass(frozen=True)
class Viewer:
    """Who is asking: their role and (for audit) their key's public prefix."""

    role: Role
    key_prefix: str | None = None

    @property
    def actor(self) -> str:
        """The name the audit log records."""
        return self.key_prefix or "anonymous"

    def may(self, needed: Role) -> bool:
        """Whether this viewer's role is at least ``needed``."""
        return self.role >= needed


ANONYMOUS = Viewer(Role.public)


def _hash(secret: str, salt: str) -> str:
    return hmac.new(salt.encode(), secret.encode(), hashlib.sha256).hexdigest()


def create_key(conn: Connection, role: Role, name: str, salt: str) -> str:
    """Create an API key with ``role``; return the key (the only time it is ever shown)."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    conn.execute(
        text("INSERT INTO api_key (prefix, key_hash, role, name, revoked) VALUES (:p, :h, :r, :n, false)"),
        {"p": prefix, "h": _hash(secret, salt), "r": role.name, "n": name},
    )
    return f"{KEY_PREFIX}{prefix}_{secret}"


def verify_key(conn: Connection, token: str, salt: str) -> Viewer | None:
    """Return the viewer a bearer token stands for, or None if it is not a live key."""
    if not token.startswith(KEY_PREFIX) or len(token) > 200:
        return None
    try:
        prefix, secret = token[len(KEY_PREFIX) :].split("_", 1)
    except ValueError:
        return None
    row = conn.execute(
        text("SELECT key_hash, role FROM api_key WHERE prefix = :p AND NOT revoked"), {"p": prefix}
    ).one_or_none()
    if row is None or not hmac.compare_digest(row.key_hash, _hash(secret, salt)):
        return None
    return Viewer(Role[row.role], prefix)
