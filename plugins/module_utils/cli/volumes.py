"""`berth volume ls|create|inspect|rm|prune`: Docker's volume verbs over the same service."""

from __future__ import annotations

import argparse
from typing import Any

from ..engine import Engine
from ..errors import InvalidInput
from ..volumes.service import VolumeService


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("volume", parents=[common], help="named volumes: ls, create, inspect, rm, prune")
    parser.add_argument("action", choices=["ls", "create", "inspect", "rm", "prune"])
    parser.add_argument("names", nargs="*")
    parser.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                        help="driver option (type, device, o)")
    parser.add_argument("-l", "--label", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("-a", "--all", action="store_true", help="prune: named volumes too")


def _pairs(items: list[str], field: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{item!r} is not KEY=VALUE", field=field, hint="e.g. --opt type=tmpfs")
        pairs[key] = value
    return pairs


def volume(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = VolumeService(engine)
    if args.action == "ls":
        return {r["name"]: f"{r['driver']} {'anonymous' if r.get('anonymous') else 'named'}" for r in service.list()}
    if args.action == "prune":
        removed, freed = service.prune(all_volumes=args.all)
        return {"removed": removed, "space_reclaimed": freed}
    if not args.names:
        raise InvalidInput(f"volume {args.action} needs a name", field="names", hint=f"berth volume {args.action} NAME")
    if args.action == "create":
        return {name: service.create(name, options=_pairs(args.opt, "opt"), labels=_pairs(args.label, "label"))
                for name in args.names}
    if args.action == "inspect":
        return {name: service.facts(service.get(name)) for name in args.names}
    return {name: service.remove(service.get(name)["name"]) for name in args.names}


COMMANDS = {"volume": (volume, True)}
