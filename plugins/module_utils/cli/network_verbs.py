"""``berth network ls|create|rm|inspect|connect|disconnect|prune``: Docker's
network verbs over the network module's plan (ansible/network_plan.py) and
the container side's live connect/disconnect (``ContainerService.set_networks``).

Every berth command builds this parser: the network and container services
are imported by the handlers that use them, not here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import AlreadyExists, Conflict, InvalidInput, NotFound
from .base import Commands, add_group
from .output import Column, add_list_flags, emit_documents, emit_rows, short_id
from .shared import add_filter_flag, confirm, each, label_matches, labels_text, pairs, parse_filters, say, select

LS_FILTERS = ("driver", "name", "label", "id")
LS_COLUMNS = (Column("NETWORK ID", "ID"), Column("NAME", "Name"), Column("DRIVER", "Driver"),
              Column("SCOPE", "Scope"))
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"   # network/service.py's; the parser must not import the service
DEFAULT_NAME = "bridge"                        # network/store.py's (the default network)

if TYPE_CHECKING:
    from ..network.service import NetworkService


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    verbs = add_group(sub, common, "network", "networks: ls, create, rm, inspect, connect, disconnect, prune")
    ls = verbs.add_parser("ls", aliases=["list"], parents=[common], help="list networks")
    add_list_flags(ls)
    add_filter_flag(ls, LS_FILTERS)
    create = verbs.add_parser("create", parents=[common], help="create a network")
    create.add_argument("name")
    create.add_argument("-d", "--driver", default="bridge", help="bridge (the network module makes overlays)")
    create.add_argument("--subnet", help="CIDR, e.g. 172.28.0.0/16 (else a free one is picked)")
    create.add_argument("--gateway", help="the bridge's address (default: the subnet's first)")
    create.add_argument("--ip-range", help="allocate container addresses from this sub-range")
    create.add_argument("--internal", action="store_true", help="no route out of the network")
    create.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    create.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                        help=f"driver option ({MTU_OPTION})")
    rm = verbs.add_parser("rm", aliases=["remove"], parents=[common], help="remove networks")
    rm.add_argument("networks", nargs="+")
    inspect = verbs.add_parser("inspect", parents=[common], help="networks as Docker shows them")
    inspect.add_argument("networks", nargs="+")
    inspect.add_argument("-f", "--format", help="a Go template, e.g. '{{.IPAM.Config}}'")
    connect = verbs.add_parser("connect", parents=[common], help="connect a container (live if it runs)")
    connect.add_argument("network")
    connect.add_argument("container")
    connect.add_argument("--ip", help="a static IPv4 address (needs a network with a stated subnet)")
    connect.add_argument("--alias", action="append", default=[], help="a DNS name of the container there")
    disconnect = verbs.add_parser("disconnect", parents=[common], help="disconnect a container")
    disconnect.add_argument("network")
    disconnect.add_argument("container")
    disconnect.add_argument("-f", "--force", action="store_true", help="no error when it is not connected")
    prune = verbs.add_parser("prune", parents=[common], help="remove networks no container uses")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask")
    add_filter_flag(prune, ("label",), short=False)


def _service(engine: Engine) -> NetworkService:
    from ..network.service import NetworkService

    return NetworkService(engine)


# -- reading -------------------------------------------------------------------------------------------------
def ls_row(record: dict[str, Any], no_trunc: bool = False) -> dict[str, Any]:
    """A network as ``docker network ls --format '{{json .}}'`` shows it."""
    return {"ID": short_id(record["id"], no_trunc), "Name": record["name"], "Driver": record.get("driver", "bridge"),
            "Scope": "local", "IPv6": False, "Internal": bool(record.get("internal")),
            "Labels": labels_text(record.get("labels")), "CreatedAt": record.get("created", "")}


_LS_MATCHERS: dict[str, Callable[[dict[str, Any], str], bool]] = {
    "driver": lambda r, v: r.get("driver", "bridge") == v,
    "name": lambda r, v: v in r["name"],           # Docker: a substring of the name
    "id": lambda r, v: r["id"].startswith(v),
    "label": lambda r, v: label_matches(r.get("labels"), v),
}


def network_ls(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..network.store import NetworkStore  # only the records: not the service and its kernel side

    records = select(NetworkStore(engine).list(), parse_filters(args.filter, LS_FILTERS), _LS_MATCHERS)
    return emit_rows([ls_row(r, args.no_trunc) for r in records], LS_COLUMNS, args)


def inspect_document(facts: dict[str, Any]) -> dict[str, Any]:
    """``docker network inspect``'s shape, from ``NetworkService.facts``."""
    prefix = facts["subnet"].partition("/")[2]
    config = {"Subnet": facts["subnet"], "Gateway": facts["gateway"]}
    if facts.get("ip_range"):
        config["IPRange"] = facts["ip_range"]
    options = {BRIDGE_NAME_OPTION: facts["bridge"]}
    if facts.get("mtu"):
        options[MTU_OPTION] = str(facts["mtu"])
    containers = {c["id"]: {"Name": c["name"], "IPv4Address": f"{c['ipv4_address']}/{prefix}"
                            if c.get("ipv4_address") else "", "IPv6Address": ""} for c in facts["containers"]}
    return {"Name": facts["name"], "Id": facts["id"], "Created": facts.get("created", ""), "Scope": "local",
            "Driver": facts.get("driver", "bridge"), "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": {}, "Config": [config]}, "Internal": bool(facts.get("internal")),
            "Attachable": False, "Ingress": False, "Containers": containers, "Options": options,
            "Labels": dict(facts.get("labels") or {})}


def network_inspect(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = _service(engine)
    return emit_documents([inspect_document(service.facts(_network(service, ref))) for ref in args.networks], args)


def _network(service: NetworkService, ref: str) -> dict[str, Any]:
    """By name, full id or a unique id prefix (as Docker takes them)."""
    record = service.store.find(ref)
    if record is None and len(ref) >= 3:
        matches = [r for r in service.store.list() if r["id"].startswith(ref)]
        record = matches[0] if len(matches) == 1 else None
    if record is None:
        raise NotFound(f"network {ref} not found", field="network", hint="list them with `berth network ls`")
    return record


# -- writing -------------------------------------------------------------------------------------------------
def creation_request(args: argparse.Namespace) -> Any:
    """The network module's request the flags state (validated by the module's model)."""
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest

    if args.driver != "bridge":
        raise InvalidInput(f"driver {args.driver!r} is not available here", field="--driver",
                           hint="berth network create makes bridge networks; make overlay networks with the "
                                "berth.engine.network module (they need peers)")
    if (args.gateway or args.ip_range) and not args.subnet:
        raise InvalidInput("--gateway and --ip-range need --subnet", field="--subnet",
                           hint="e.g. --subnet 172.28.0.0/16 --gateway 172.28.0.1")
    entry = {"subnet": args.subnet, "gateway": args.gateway, "iprange": args.ip_range}
    ipam = [{k: v for k, v in entry.items() if v}] if args.subnet else []
    return NetworkRequest(name=args.name, driver_options=pairs(args.opt, "--opt", f"{MTU_OPTION}=1450"),
                          ipam_config=ipam, internal=args.internal,
                          labels=pairs(args.label, "--label", "app=web"))


def network_create(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network

    request = creation_request(args)
    service = _service(engine)
    if service.store.by_name(args.name) is not None:
        raise AlreadyExists(f"network with name {args.name} already exists", field="name",
                            hint="choose another name, or remove it with `berth network rm`")
    result = converge_network(service, request)
    return say(args, result["network"]["id"], {"id": result["network"]["id"], "name": args.name})


def network_rm(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network

    service = _service(engine)

    def remove(ref: str) -> str:
        record = _network(service, ref)
        if record["name"] == DEFAULT_NAME:
            raise Conflict(f"{DEFAULT_NAME} is a pre-defined network and cannot be removed", field="network",
                           hint="remove user-defined networks only")
        converge_network(service, NetworkRequest(name=record["name"], state="absent"))
        return ref

    return each(args, args.networks, remove)


def network_connect(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = _service(engine)
    network = _network(service, args.network)["name"]
    record = _container(service, args.container)
    entries = _entries(record)
    if any(e.get("name") == network for e in entries):
        raise Conflict(f"container {record['name']} is already connected to network {network}", field="network",
                       hint="disconnect it first to change its address or aliases")
    if args.ip or args.alias:
        entry: dict[str, Any] = {"name": network, "ipv4_address": args.ip, "aliases": list(args.alias)}
    else:
        entry = {"name": network}
    _containers(engine).set_networks(record["id"], [*entries, entry])
    return say(args, "", {"connected": record["name"], "network": network})


def network_disconnect(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = _service(engine)
    network = _network(service, args.network)["name"]
    record = _container(service, args.container)
    entries = _entries(record)
    kept = [e for e in entries if e.get("name") != network]
    if len(kept) == len(entries):
        if args.force:
            return say(args, "", {"disconnected": None, "network": network})
        raise InvalidInput(f"container {record['name']} is not connected to network {network}", field="container",
                           hint="see its networks with `berth network inspect`")
    _containers(engine).set_networks(record["id"], kept)
    return say(args, "", {"disconnected": record["name"], "network": network})


def _container(service: NetworkService, ref: str) -> dict[str, Any]:
    record = service.store.container(ref)
    if record is None:
        raise NotFound(f"no such container: {ref}", field="container", hint="list them with `berth ps -a`")
    return record


def _entries(record: dict[str, Any]) -> list[dict[str, Any]]:
    from ..network.store import container_networks

    return container_networks(record)


def _containers(engine: Engine) -> Any:
    from ..containers.service import ContainerService

    return ContainerService(engine)


def network_prune(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    filters = parse_filters(args.filter, ("label",))
    if not confirm(args, "This will remove all custom networks not used by at least one container."):
        return {"_rc": 0}
    deleted = prune_networks(engine, filters)
    return say(args, "Deleted Networks:\n" + "\n".join(deleted) if deleted else "", {"deleted": deleted})


def prune_networks(engine: Engine, filters: dict[str, list[str]]) -> list[str]:
    """Remove the user-defined networks no container lists (and the filters match); their names."""
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network

    service = _service(engine)
    unused = [r for r in select(service.store.list(), filters, _LS_MATCHERS)
              if r["name"] != DEFAULT_NAME and not service.users(r["name"])]
    deleted = []
    for record in unused:
        try:   # a container may have joined since: the network stays, as Docker leaves one in use
            converge_network(service, NetworkRequest(name=record["name"], state="absent"))
        except Conflict:
            continue
        deleted.append(record["name"])
    return deleted


COMMANDS: Commands = {
    "network ls": (network_ls, False), "network list": (network_ls, False),
    "network create": (network_create, True),
    "network rm": (network_rm, False), "network remove": (network_rm, False),
    "network inspect": (network_inspect, False),
    "network connect": (network_connect, False),
    "network disconnect": (network_disconnect, False),
    "network prune": (network_prune, False),
}
