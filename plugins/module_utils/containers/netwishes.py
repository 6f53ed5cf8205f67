"""A container's network wishes checked and normalised: mode, networks,
published ports (Docker's and community.docker's rules). Standard library
only and free of the network service: the CLI's fast lane checks a spec's
networks here before the engine is loaded."""

from __future__ import annotations

from ..errors import InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_NETWORK = "bridge"
__all__ = ["DEFAULT_NETWORK", "wishes"]


def wishes(network_mode: str | None, networks: list[dict[str, Any]] | None,
           published: list[Any] | None, publish_all: bool) -> dict[str, Any]:
    """Docker's and community.docker's rules: with `networks` given, the mode
    is the first of them and the default network is not attached."""
    entries = [_entry(n) for n in networks or []]
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        raise InvalidInput("a network is listed twice", field="networks", hint="list each network once")
    mode = network_mode or (names[0] if names else DEFAULT_NETWORK)
    if mode in ("host", "none") or mode.startswith("container:"):
        if entries:
            raise InvalidInput(f"network_mode {mode} conflicts with networks", field="networks",
                               hint="leave networks out with network_mode host, none or container:<name>")
        if (published or publish_all) and mode != "host":
            raise InvalidInput(f"network_mode {mode} cannot publish ports", field="published_ports",
                               hint="publish ports on a bridge network")
        if mode.startswith("container:") and not mode.partition(":")[2]:
            raise InvalidInput("network_mode container: needs a name", field="network_mode",
                               hint="write container:<name>")
    elif not entries:
        entries = [_entry({"name": mode})]
    elif mode != names[0]:
        raise InvalidInput(f"network_mode {mode} is not the first of networks", field="network_mode",
                           hint="leave network_mode out, or list that network first")
    for entry in entries:
        if entry["name"] == DEFAULT_NETWORK and (entry["aliases"] or entry["ipv4_address"]):
            raise InvalidInput("aliases and static addresses need a user-defined network", field="networks",
                               hint="create a network with berth.engine.network and use it")
    ports: list[dict[str, Any]] = []
    if published and mode != "host":   # imported only when ports are given: the fast lane's start-up
        from ..network.ports import parse_published_ports

        ports = [_port_dict(p) for p in parse_published_ports(published)]
    return {"network_mode": mode, "networks": entries, "ports": ports, "publish_all_ports": bool(publish_all)}


def _entry(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or not item.get("name"):
        raise InvalidInput(f"{item!r} is not a network entry", field="networks",
                           hint="give {name: ..., ipv4_address: ..., aliases: [...]}")
    unknown = set(item) - {"name", "ipv4_address", "aliases", "links", "ipv6_address"}
    if unknown or item.get("ipv6_address"):
        raise InvalidInput(f"unknown keys {sorted(unknown) or ['ipv6_address']} in {item!r}", field="networks",
                           hint="a network entry takes name, ipv4_address and aliases (IPv4 only)")
    return {"name": str(item["name"]), "ipv4_address": item.get("ipv4_address") or None,
            "aliases": [str(a) for a in item.get("aliases") or []]}


def _port_dict(spec: Any) -> dict[str, Any]:
    return {"host_ip": spec.host_ip, "host_port": spec.host_port, "container_port": spec.container_port,
            "proto": spec.proto, "host_range": list(spec.host_range) if spec.host_range else None}
