"""``berth volume ls|create|inspect|rm|prune``: Docker's volume verbs over
the volume service, printed through output.py (``-q``, ``--format``,
``-f dangling=/name=/label=/driver=``, inspect in Docker's shape)."""

from __future__ import annotations

import argparse
import secrets
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import NotFound
from .base import Commands, add_group
from .output import Column, add_list_flags, emit_documents, emit_rows, human_size
from .shared import add_filter_flag, confirm, each, label_matches, labels_text, pairs, parse_filters, say, select

if TYPE_CHECKING:
    from ..volumes.service import VolumeService

LS_FILTERS = ("dangling", "name", "label", "driver")
LS_COLUMNS = (Column("DRIVER", "Driver"), Column("VOLUME NAME", "Name"))


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    verbs = add_group(sub, common, "volume", "named volumes: ls, create, inspect, rm, prune")
    ls = verbs.add_parser("ls", aliases=["list"], parents=[common], help="list volumes")
    add_list_flags(ls, no_trunc=False)
    add_filter_flag(ls, LS_FILTERS)
    create = verbs.add_parser("create", parents=[common], help="create a volume (prints its name)")
    create.add_argument("name", nargs="?", help="default: a random 64-hex name (an anonymous volume, as Docker's)")
    create.add_argument("-d", "--driver", default="local", help="local (the only driver)")
    create.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                        help="driver option (type, device, o)")
    create.add_argument("-l", "--label", action="append", default=[], metavar="KEY=VALUE")
    inspect = verbs.add_parser("inspect", parents=[common], help="volumes as Docker shows them")
    inspect.add_argument("names", nargs="+")
    inspect.add_argument("-f", "--format", help="a Go template, e.g. '{{.Mountpoint}}'")
    rm = verbs.add_parser("rm", aliases=["remove"], parents=[common], help="remove volumes no container uses")
    rm.add_argument("names", nargs="+")
    rm.add_argument("-f", "--force", action="store_true", help="no error for a missing volume")
    prune = verbs.add_parser("prune", parents=[common], help="remove unused anonymous volumes (-a: named too)")
    prune.add_argument("-a", "--all", action="store_true", help="named volumes too")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask")


def _service(engine: Engine) -> VolumeService:
    from ..volumes.service import VolumeService  # here: every berth command builds this parser

    return VolumeService(engine)


def ls_row(record: dict[str, Any], service: VolumeService) -> dict[str, Any]:
    """A volume as ``docker volume ls --format '{{json .}}'`` shows it (no sizes: listing stays cheap)."""
    return {"Driver": record.get("driver", "local"), "Name": record["name"], "Scope": "local",
            "Labels": labels_text(record.get("labels")), "Mountpoint": str(service.mountpoint(record["name"])),
            "Links": "N/A", "Size": "N/A", "Availability": "N/A", "Group": "N/A", "Status": "N/A"}


def _matchers(service: VolumeService) -> dict[str, Any]:
    used = _used_volumes(service)
    return {
        "dangling": lambda r, v: (r["name"] not in used) == (v.lower() in ("true", "1")),
        "name": lambda r, v: v in r["name"],
        "label": lambda r, v: label_matches(r.get("labels"), v),
        "driver": lambda r, v: r.get("driver", "local") == v,
    }


def _used_volumes(service: VolumeService) -> set[str]:
    """Every volume some container (running or not) mounts: one pass over the container records."""
    return {m.get("source") for record in service.engine.metadata("containers").list()
            for m in record.get("config", {}).get("mounts") or [] if m.get("type") == "volume"}


def volume_ls(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = _service(engine)
    filters = parse_filters(args.filter, LS_FILTERS)
    records = select(service.list(), filters, _matchers(service) if filters else {})
    return emit_rows([ls_row(r, service) for r in records], LS_COLUMNS, args, id_field="Name")


def inspect_document(record: dict[str, Any], service: VolumeService) -> dict[str, Any]:
    """``docker volume inspect``'s shape."""
    return {"CreatedAt": record.get("created", ""), "Driver": record.get("driver", "local"),
            "Labels": dict(record.get("labels") or {}), "Mountpoint": str(service.mountpoint(record["name"])),
            "Name": record["name"], "Options": dict(record.get("options") or {}) or None, "Scope": "local"}


def volume_inspect(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = _service(engine)
    return emit_documents([inspect_document(service.get(name), service) for name in args.names], args)


def volume_create(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = _service(engine)
    name = args.name or secrets.token_hex(32)
    service.create(name, driver=args.driver, options=pairs(args.opt, "--opt", "type=tmpfs"),
                   labels=pairs(args.label, "--label", "app=db"), anonymous=not args.name)
    return say(args, name, {"name": name})


def volume_rm(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = _service(engine)

    def remove(name: str) -> str:
        if not service.remove(name) and not args.force:
            raise NotFound(f"no such volume: {name}", field="name", hint="list them with `berth volume ls`")
        return name

    return each(args, args.names, remove)


def volume_prune(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    which = "all local volumes" if args.all else "all anonymous local volumes"
    if not confirm(args, f"This will remove {which} not used by at least one container."):
        return {"_rc": 0}
    removed, freed = _service(engine).prune(all_volumes=args.all)
    listed = "Deleted Volumes:\n" + "".join(f"{name}\n" for name in removed) + "\n" if removed else ""
    return say(args, f"{listed}Total reclaimed space: {human_size(freed)}",
               {"deleted": removed, "space_reclaimed": freed})


COMMANDS: Commands = {
    "volume ls": (volume_ls, False), "volume list": (volume_ls, False),
    "volume create": (volume_create, True),
    "volume inspect": (volume_inspect, False),
    "volume rm": (volume_rm, False), "volume remove": (volume_rm, False),
    "volume prune": (volume_prune, False),
}
