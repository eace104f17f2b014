"""``wardwise services create|list|update``: the service catalogue from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from geo.db import cli_connection


def _ids(value: str) -> list[int]:
    try:
        return [int(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated LGChL ids, e.g. 1,2; got {value!r}"
        ) from None


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _print(service: dict[str, Any]) -> None:
    lgsl = f" LGSL {service['lgsl_id']}" if service.get("lgsl_id") else ""
    districts = ", ".join(service["districts"]) or "none yet"
    sys.stdout.write(
        f"{service['code']:<24} {service['unit']:<10} {service['name']}{lgsl}; "
        f"events {service['events']:,}; area counts {service['area_counts']:,}; districts {districts}\n"
    )


def cmd_create(args: argparse.Namespace) -> int:
    """Create a service."""
    from geo.catalogue import ServiceSpec, create_service

    spec = ServiceSpec(
        code=args.code,
        name=args.name,
        unit=args.unit,
        category=args.category,
        description=args.description,
        owner=args.owner,
        lgsl_id=args.lgsl,
        lgchl_ids=args.lgchl or [],
        channels=args.channels or [],
    )
    with cli_connection(begin=True) as conn:
        service = create_service(conn, spec)
    _print(service)
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    """Amend a service."""
    from geo.catalogue import update_service

    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "name": args.name,
            "unit": args.unit,
            "category": args.category,
            "description": args.description,
            "owner": args.owner,
            "lgsl_id": args.lgsl,
            "lgchl_ids": args.lgchl,
            "channels": args.channels,
        }.items()
        if v is not None
    }
    with cli_connection(begin=True) as conn:
        service = update_service(conn, args.code, changes)
    _print(service)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List the services."""
    from geo.catalogue import list_catalogue

    with cli_connection() as conn:
        services = list_catalogue(conn)
    if args.json:
        json.dump(services, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        for s in services:
            _print(s)
    return 0


def _options(p: argparse.ArgumentParser, *, create: bool) -> None:
    p.add_argument("code")
    p.add_argument("--name", required=create)
    p.add_argument(
        "--unit", choices=["events", "households", "persons"], default="events" if create else None
    )
    p.add_argument("--category")
    p.add_argument("--description")
    p.add_argument("--owner", help="council, police, fire, health, library ...")
    p.add_argument("--lgsl", type=int, help="the LGSL service id (esd standards)")
    p.add_argument("--lgchl", type=_ids, help="LGChL channel ids, comma-separated")
    p.add_argument("--channels", type=_names, help="channel codes, comma-separated (web,phone)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``wardwise services create|list|update``."""
    services = subparsers.add_parser("services", help="the service catalogue")
    sub = services.add_subparsers(dest="services_command", required=True)
    p = sub.add_parser("create", help="create a service")
    _options(p, create=True)
    p.set_defaults(func=cmd_create)
    p = sub.add_parser("update", help="amend a service")
    _options(p, create=False)
    p.set_defaults(func=cmd_update)
    p = sub.add_parser("list", help="list the services")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
