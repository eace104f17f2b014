"""API keys and roles: keys are random, shown once, stored only as a keyed hash.

A key looks like ``ww_<prefix>_<secret>``. The prefix (12 hex digits) is public: it names
the key in listings and in the audit log. The secret (32 url-safe characters, 192 bits)
is never stored; the database keeps ``HMAC-SHA256(secret_salt, secret)``, so a copy of the
``api_key`` table without the installation's salt cannot be used to forge or test keys.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo.audit import record
from geo.errors import InvalidRequest, NotFound

KEY_PREFIX = "ww_"

#: ``ww_`` + 12 hex digits + ``_`` + 32 url-safe characters (token_urlsafe(24)).
_KEY_PATTERN = re.compile(r"^ww_([0-9a-f]{12})_([A-Za-z0-9_\-]{32})$")
_PREFIX_PATTERN = re.compile(r"^[0-9a-f]{12}$")
MAX_NAME_LENGTH = 120


class Role(enum.IntEnum):
    """Roles in increasing power; each includes what the ones below it may do."""

    public = 0
    officer = 1
    analyst = 2
    admin = 3

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        """Return the role named ``value``; raise InvalidRequest naming the choices."""
        if isinstance(value, Role):
            return value
        try:
            return cls[str(value).strip().lower()]
        except KeyError:
            choices = ", ".join(r.name for r in cls)
            raise InvalidRequest(f"`role` was {value!r} but is expected to be one of {choices}") from None


@dataclass(frozen=True)
class KeyScope:
    """What a scoped key may see: only these areas (normally districts) and/or services.

    ``None`` for either means no limit on it. A scoped key keeps its role only on routes
    that apply scopes (they declare ``x-scope``), and only for requests inside its scope;
    elsewhere it is treated as the public (see :func:`scope_refusal`).
    """

    areas: tuple[str, ...] | None = None
    services: tuple[str, ...] | None = None

    def describe(self) -> str:
        """The scope in words, for error messages."""
        parts = []
        if self.areas is not None:
            parts.append(f"areas {list(self.areas)}")
        if self.services is not None:
            parts.append(f"services {list(self.services)}")
        return " and ".join(parts) or "nothing"


@dataclass(frozen=True)
class Viewer:
    """Who is asking: their role and (for audit) their key's public prefix."""

    role: Role
    key_prefix: str | None = None
    #: The key's row-level scope (None: unlimited).
    scope: KeyScope | None = None
    #: Why this scoped key acts as the public on this request (None: it does not).
    limited: str | None = None

    @property
    def actor(self) -> str:
        """The name the audit log records."""
        return self.key_prefix or "anonymous"

    @property
    def is_public(self) -> bool:
        """Whether this viewer sees only disclosure-controlled aggregates."""
        return self.role <= Role.public

    def may(self, needed: Role) -> bool:
        """Whether this viewer's role is at least ``needed``."""
        return self.role >= needed


ANONYMOUS = Viewer(Role.public)
#: The actor for changes made from the command line (``wardwise keys ...``, ingests).
CLI = Viewer(Role.admin, "cli")


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never its secret or its hash."""

    prefix: str
    role: Role
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked: bool
    scope_areas: list[str] | None = None
    scope_services: list[str] | None = None


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: ``key`` is the bearer token, shown this once only."""

    key: str
    info: KeyInfo


def hash_secret(secret: str, salt: str) -> str:
    """The stored form of a key's secret: HMAC-SHA256 keyed with the installation salt."""
    return hmac.new(salt.encode(), secret.encode(), hashlib.sha256).hexdigest()


def _check_name(name: str) -> str:
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise InvalidRequest("`name` was empty but is expected to say what the key is for")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidRequest(f"`name` is expected to be at most {MAX_NAME_LENGTH} characters")
    if "@" in cleaned:
        # Keys are named for a purpose or a team; an e-mail address is personal data.
        raise InvalidRequest("`name` looks like an e-mail address; name the team or purpose instead")
    return cleaned


def _info(row: Any) -> KeyInfo:
    return KeyInfo(
        prefix=row.prefix,
        role=Role[row.role],
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked,
        scope_areas=list(row.scope_areas) if row.scope_areas is not None else None,
        scope_services=list(row.scope_services) if row.scope_services is not None else None,
    )


_COLUMNS = "prefix, role, name, created_at, last_used_at, revoked, scope_areas, scope_services"
_RETURNING = f"RETURNING {_COLUMNS}"


def check_scope(conn: Connection, areas: Any = None, services: Any = None) -> KeyScope | None:
    """Validate a key's scope: every area and service must exist; empty lists are refused."""
    if areas is None and services is None:
        return None
    out: dict[str, tuple[str, ...] | None] = {"areas": None, "services": None}
    for field, values, sql in (
        ("areas", areas, "SELECT code FROM area WHERE code = ANY(:v)"),
        ("services", services, "SELECT code FROM service WHERE code = ANY(:v)"),
    ):
        if values is None:
            continue
        wanted = sorted({str(v).strip() for v in values})
        if not wanted or "" in wanted:
            raise InvalidRequest(f"`{field}` is empty but a scoped key needs at least one code")
        found = set(conn.execute(text(sql), {"v": wanted}).scalars())
        unknown = [v for v in wanted if v not in found]
        if unknown:
            raise InvalidRequest(f"`{field}` has {unknown}, which are not known codes")
        out[field] = tuple(wanted)
    return KeyScope(areas=out["areas"], services=out["services"])


def issue_key(
    conn: Connection,
    role: Role | str,
    name: str,
    salt: str,
    *,
    by: Viewer | str | None = None,
    areas: Any = None,
    services: Any = None,
) -> NewKey:
    """Create an API key with ``role``; return it with its listing (the key is shown once).

    With ``by`` (the admin's Viewer, or ``"cli"``), a ``key.create`` audit entry is written
    in the same transaction. ``areas`` and/or ``services`` scope the key (``KeyScope``).
    """
    role = Role.parse(role)
    name = _check_name(name)
    scope = check_scope(conn, areas, services)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    row = conn.execute(
        text(
            "INSERT INTO api_key (prefix, key_hash, role, name, revoked, scope_areas, scope_services) "
            f"VALUES (:p, :h, :r, :n, false, :a, :s) {_RETURNING}"
        ),
        {
            "p": prefix,
            "h": hash_secret(secret, salt),
            "r": role.name,
            "n": name,
            "a": list(scope.areas) if scope and scope.areas is not None else None,
            "s": list(scope.services) if scope and scope.services is not None else None,
        },
    ).one()
    if by is not None:
        detail: dict[str, Any] = {"role": role.name, "name": name}
        if scope is not None:
            detail["scope"] = scope.describe()
        record(conn, by, "key.create", prefix, detail)
    return NewKey(key=f"{KEY_PREFIX}{prefix}_{secret}", info=_info(row))


def create_key(
    conn: Connection, role: Role | str, name: str, salt: str, *, areas: Any = None, services: Any = None
) -> str:
    """Create an API key with ``role`` (optionally scoped); return the key (shown this once only)."""
    return issue_key(conn, role, name, salt, areas=areas, services=services).key


def parse_key(token: str) -> tuple[str, str] | None:
    """Split a bearer token into (prefix, secret), or None if it is not shaped like a key."""
    match = _KEY_PATTERN.match(token) if len(token) <= 64 else None
    return (match.group(1), match.group(2)) if match else None


def verify_key(conn: Connection, token: str, salt: str) -> Viewer | None:
    """Return the viewer a bearer token stands for, or None if it is not a live key."""
    parts = parse_key(token)
    if parts is None:
        return None
    prefix, secret = parts
    row = conn.execute(
        text(
            "SELECT key_hash, role, scope_areas, scope_services FROM api_key "
            "WHERE prefix = :p AND NOT revoked"
        ),
        {"p": prefix},
    ).one_or_none()
    # compare_digest: the time taken must not tell an attacker how much of the hash matched.
    if row is None or not hmac.compare_digest(row.key_hash, hash_secret(secret, salt)):
        return None
    scope = None
    if row.scope_areas is not None or row.scope_services is not None:
        scope = KeyScope(
            areas=tuple(row.scope_areas) if row.scope_areas is not None else None,
            services=tuple(row.scope_services) if row.scope_services is not None else None,
        )
    return Viewer(Role[row.role], prefix, scope)


def scope_refusal(
    conn: Connection, scope: KeyScope, declared: dict[str, list[str]], params: dict[str, list[str]]
) -> str | None:
    """Why a request falls outside a key's scope (None when it is inside).

    Parameters
    ----------
    scope
        The key's scope.
    declared
        The route's ``x-scope``: ``{"service": [parameter names], "area": [parameter names]}``,
        the parameters that carry its service and area filters.
    params
        The request's path and query parameters (every value of each).

    Notes
    -----
    A service-scoped key must name a service, and every service named must be in scope (a
    route without a service filter would show all of them). An area-scoped key must name an
    area through one of the route's area parameters, and every output area of it must lie
    inside one of the scope's areas (``area_membership``), so a ward of the district passes
    and a neighbouring district, or the county around it, does not.
    """
    if scope.services is not None:
        names = declared.get("service", [])
        asked = [v for n in names for v in params.get(n, [])]
        if not names or not asked:
            return f"this key is limited to services {list(scope.services)}: name one (`{'`/`'.join(names)}`)"
        outside = sorted(set(asked) - set(scope.services))
        if outside:
            return f"this key is limited to services {list(scope.services)}; {outside} is outside it"
    if scope.areas is not None:
        names = declared.get("area", [])
        asked = [v for n in names for v in params.get(n, [])]
        if not names or not asked:
            return (
                f"this key is limited to areas {list(scope.areas)}: pass one of them as `{'`/`'.join(names)}`"
            )
        for code in asked:
            inside = conn.execute(
                text(
                    "SELECT count(*) > 0 AND bool_and(m.oa_code IN ("
                    "  SELECT s.oa_code FROM area_membership s WHERE s.area_code = ANY(:scope))) "
                    "FROM area_membership m WHERE m.area_code = :code"
                ),
                {"code": code, "scope": list(scope.areas)},
            ).scalar()
            if not inside:
                return f"this key is limited to areas {list(scope.areas)}; {code!r} is not inside them"
    return None


def mark_used(conn: Connection, prefix: str) -> None:
    """Record that a key was just used (``last_used_at``)."""
    conn.execute(text("UPDATE api_key SET last_used_at = now() WHERE prefix = :p"), {"p": prefix})


def list_keys(conn: Connection, *, include_revoked: bool = True) -> list[KeyInfo]:
    """Every key, newest first, without secrets or hashes."""
    rows = conn.execute(
        text(f"SELECT {_COLUMNS} FROM api_key WHERE :all OR NOT revoked ORDER BY created_at DESC, id DESC"),
        {"all": include_revoked},
    )
    return [_info(r) for r in rows]


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is shaped like a key prefix; raise InvalidRequest otherwise."""
    if not _PREFIX_PATTERN.match(prefix):
        raise InvalidRequest(f"`prefix` was {prefix[:40]!r} but is expected to be 12 hexadecimal digits")
    return prefix


def revoke_key(conn: Connection, prefix: str, *, by: Viewer | str | None = None) -> KeyInfo:
    """Revoke the key with ``prefix`` (idempotent); raise NotFound if there is none.

    With ``by``, a ``key.revoke`` audit entry is written in the same transaction.
    """
    row = conn.execute(
        text(f"UPDATE api_key SET revoked = true WHERE prefix = :p {_RETURNING}"),
        {"p": check_prefix(prefix)},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no API key has the prefix {prefix!r}")
    if by is not None:
        record(conn, by, "key.revoke", prefix, {"role": row.role, "name": row.name})
    return _info(row)


def revoke_keys_named(conn: Connection, name: str, *, by: Viewer | str | None = None) -> list[str]:
    """Revoke every live key called ``name``; return their prefixes (audited with ``by``)."""
    rows = conn.execute(
        text("UPDATE api_key SET revoked = true WHERE name = :n AND NOT revoked RETURNING prefix, role"),
        {"n": _check_name(name)},
    ).all()
    if by is not None:
        for r in rows:
            record(conn, by, "key.revoke", r.prefix, {"role": r.role, "name": name})
    return [r.prefix for r in rows]
