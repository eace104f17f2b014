"""``wardwise keys create|list|revoke``: manage API keys from the command line.

The salt that keys are hashed with comes from ``WARDWISE_SECRET_SALT`` (or ``.env``), the
same setting the server reads, so keys made here work there. Changes are audited with the
actor ``cli``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from geo.auth import CLI, Role, issue_key, list_keys, revoke_key, revoke_keys_named
from geo.db import check_database, database_url_from_env, make_engine

#: The server's default (api/settings.py): fine for a laptop demo, never for a deployment.
DEV_SALT = "wardwise-dev-salt-change-me"


def secret_salt_from_env() -> str:
    """The key-hashing salt as the server reads it: environment, then ``./.env``, then the dev default."""
    salt = os.environ.get("WARDWISE_SECRET_SALT")
    if salt is None and Path(".env").is_file():
        from dotenv import dotenv_values

        salt = dotenv_values(".env").get("WARDWISE_SECRET_SALT")
    if not salt:
        print(
            "wardwise: warning: WARDWISE_SECRET_SALT is not set; using the development salt",
            file=sys.stderr,
        )
        return DEV_SALT
    return salt


@contextmanager
def _engine() -> Iterator[Engine]:
    """A one-connection engine on DATABASE_URL, disposed however the command ends."""
    engine = make_engine(database_url_from_env(), pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()


def cmd_keys_create(args: argparse.Namespace) -> int:
    """Create a key and print it (stdout: the key alone, so scripts can capture it)."""
    with _engine() as engine:
        check_database(engine)
        with engine.begin() as conn:
            replaced = revoke_keys_named(conn, args.name, by=CLI) if args.replace else []
            new = issue_key(
                conn,
                Role.parse(args.role),
                args.name,
                secret_salt_from_env(),
                by=CLI,
                areas=args.area,
                services=args.service,
            )
    for prefix in replaced:
        print(f"revoked the earlier key {prefix} named {args.name!r}", file=sys.stderr)
    print(
        f"created API key {new.info.prefix} with the {new.info.role.name} role ({new.info.name!r}); "
        "it is shown once, below: keep it safe",
        file=sys.stderr,
    )
    print(new.key)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    """Print every key (never a secret)."""
    with _engine() as engine, engine.connect() as conn:
        keys = list_keys(conn, include_revoked=args.all)
    print(f"{'prefix':<13} {'role':<8} {'state':<8} {'created':<17} {'last used':<17} name")
    for k in keys:
        used = k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "never"
        state = "revoked" if k.revoked else "live"
        print(f"{k.prefix:<13} {k.role.name:<8} {state:<8} {k.created_at:%Y-%m-%d %H:%M} {used:<17} {k.name}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    """Revoke a key by its prefix."""
    with _engine() as engine, engine.begin() as conn:
        info = revoke_key(conn, args.prefix, by=CLI)
    print(f"revoked {info.prefix} ({info.role.name}, {info.name!r})", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keys create|list|revoke`` to the ``wardwise`` command."""
    keys = subparsers.add_parser("keys", help="API keys (roles: public, officer, analyst, admin)")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    p = sub.add_parser("create", help="create a key and print it once")
    p.add_argument("--role", required=True, choices=[r.name for r in Role])
    p.add_argument("--name", required=True, help="what the key is for (a team or purpose, not a person)")
    p.add_argument("--replace", action="store_true", help="first revoke live keys with the same name")
    p.add_argument("--area", action="append", help="limit the key to this area, normally a district (repeat)")
    p.add_argument("--service", action="append", help="limit the key to this service (repeat)")
    p.set_defaults(func=cmd_keys_create)
    p = sub.add_parser("list", help="list keys (never their secrets)")
    p.add_argument("--all", action="store_true", help="include revoked keys")
    p.set_defaults(func=cmd_keys_list)
    p = sub.add_parser("revoke", help="revoke a key by its prefix")
    p.add_argument("prefix", help="the 12 hex digits after ww_")
    p.set_defaults(func=cmd_keys_revoke)
    disclosure = subparsers.add_parser("disclosure", help="public disclosure control (docs/security.md)")
    dsub = disclosure.add_subparsers(dest="disclosure_command", required=True)
    p = dsub.add_parser("utility", help="measure the perturbation and floors against the true figures")
    p.add_argument("--level", default="oa", help="oa, lsoa, ward or a custom set code")
    p.add_argument("--classification", default=None, help="default: the first household-level one")
    p.set_defaults(func=cmd_disclosure_utility)


def cmd_disclosure_utility(args: argparse.Namespace) -> int:
    """Print the utility cost of the public disclosure policy on the loaded data (docs/security.md)."""
    from sqlalchemy import text

    from geo.analysis.protected_inputs import utility_loss
    from geo.disclosure import DisclosurePolicy

    policy = DisclosurePolicy.public(secret_salt_from_env())
    with _engine() as engine, engine.connect() as conn:
        classification = (
            args.classification
            or conn.execute(
                text("SELECT code FROM classification WHERE unit = 'household' ORDER BY code LIMIT 1")
            ).scalar_one()
        )
        table = utility_loss(conn, policy, classification, args.level)
    print(f"level {args.level}, classification {classification}, {policy.floors}")
    print(table.to_string(index=False))
    return 0
