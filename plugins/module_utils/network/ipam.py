"""IPv4 address management for bridge networks: validate ``ipam_config``,
pick a default subnet the way Docker does, and list the addresses a container
may be given.

Pure functions over ``ipaddress`` values: the host's routes and the other
networks' subnets are passed in, so every rule is unit-tested without a
kernel. Rules follow Docker's: the gateway defaults to the subnet's first host
address; the network and broadcast addresses, the gateway and the auxiliary
addresses are never handed out; dynamic addresses come from ``iprange`` when
given, a static address may be anywhere in the subnet (so ``iprange`` can keep
the dynamic ones away from the static ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ..errors import InvalidInput, InvalidState

FIELD = "ipam_config"
MAX_PREFIX = 30  # a network address, a gateway, one container and a broadcast address

# Docker's default address pools (libnetwork ipamutils): 172.17-31.0.0/16, then 192.168.0-240.0/20.
DEFAULT_POOLS: tuple[IPv4Network, ...] = (
    *(IPv4Network(f"172.{n}.0.0/16") for n in range(17, 32)),
    *(IPv4Network(f"192.168.{n}.0/20") for n in range(0, 256, 16)),
)
# Ranges a bridge subnet must not touch: they mean something else to every host.
RESERVED: tuple[tuple[IPv4Network, str], ...] = (
    (IPv4Network("0.0.0.0/8"), "'this network' (0.0.0.0/8)"),
    (IPv4Network("127.0.0.0/8"), "loopback (127.0.0.0/8)"),
    (IPv4Network("224.0.0.0/4"), "multicast (224.0.0.0/4)"),
    (IPv4Network("240.0.0.0/4"), "reserved (240.0.0.0/4)"),
)


@dataclass(frozen=True)
class Ipam:
    """One network's addressing, validated."""

    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network | None = None
    aux_addresses: Mapping[str, IPv4Address] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        return {"subnet": str(self.subnet), "gateway": str(self.gateway),
                "ip_range": str(self.ip_range) if self.ip_range else None,
                "aux_addresses": {name: str(ip) for name, ip in sorted(self.aux_addresses.items())}}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Ipam:
        return cls(IPv4Network(record["subnet"]), IPv4Address(record["gateway"]),
                   IPv4Network(record["ip_range"]) if record.get("ip_range") else None,
                   {name: IPv4Address(ip) for name, ip in (record.get("aux_addresses") or {}).items()})

    @property
    def gateway_cidr(self) -> str:
        """The gateway as the bridge's address, e.g. 172.18.0.1/16."""
        return f"{self.gateway}/{self.subnet.prefixlen}"

    def reserved(self) -> set[IPv4Address]:
        """Addresses never handed out."""
        return {self.subnet.network_address, self.subnet.broadcast_address, self.gateway,
                *self.aux_addresses.values()}


# -- parsing and validation ----------------------------------------------------------------------------------------

def parse_ipam_config(entries: Iterable[Mapping[str, Any]] | None) -> Ipam | None:
    """``ipam_config`` as the module states it (a list of at most one IPv4
    entry: subnet, gateway, iprange, aux_addresses); None when empty."""
    entries = list(entries or [])
    if not entries:
        return None
    if len(entries) > 1:
        raise InvalidInput(f"{len(entries)} entries given; berth networks have one IPv4 subnet", field=FIELD,
                           hint="give a single entry (IPv6 and multiple subnets are not supported)")
    entry = entries[0]
    if not entry.get("subnet"):
        raise InvalidInput("an entry needs a subnet", field=f"{FIELD}[0].subnet",
                           hint="give the subnet in CIDR form, e.g. 10.10.0.0/24, or leave ipam_config out "
                                "to have one picked")
    subnet = parse_subnet(entry["subnet"], f"{FIELD}[0].subnet")
    gateway = parse_address(entry["gateway"], f"{FIELD}[0].gateway") if entry.get("gateway") \
        else default_gateway(subnet)
    ip_range = parse_subnet(entry["iprange"], f"{FIELD}[0].iprange", host_range=True) if entry.get("iprange") \
        else None
    aux = {str(name): parse_address(ip, f"{FIELD}[0].aux_addresses.{name}")
           for name, ip in (entry.get("aux_addresses") or {}).items()}
    ipam = Ipam(subnet, gateway, ip_range, aux)
    validate(ipam)
    return ipam


def parse_subnet(text: Any, where: str = FIELD, *, host_range: bool = False) -> IPv4Network:
    """A CIDR network with no host bits set. ``host_range`` allows /31 and /32
    (an iprange may be that small; a subnet may not)."""
    value = str(text).strip(" \t")  # not strip(): "10.0.0.0/24\n" is not a subnet
    if ":" in value:
        raise InvalidInput(f"{value!r} is IPv6; berth networks are IPv4 only", field=where,
                           hint="give an IPv4 network such as 10.10.0.0/24")
    if "/" not in value:
        raise InvalidInput(f"{value!r} has no prefix length", field=where, hint=f"write it as {value}/24 (CIDR)")
    try:
        network = IPv4Network(value, strict=False)
    except ValueError as err:
        raise InvalidInput(f"{value!r} is not an IPv4 network: {err}", field=where,
                           hint="write it in CIDR form, e.g. 10.10.0.0/24") from None
    if network.network_address != IPv4Address(value.split("/", maxsplit=1)[0]):
        raise InvalidInput(f"{value!r} has host bits set", field=where, hint=f"did you mean {network}?")
    if not host_range and network.prefixlen > MAX_PREFIX:
        raise InvalidInput(f"{value!r} is too small for a network", field=where,
                           hint=f"use a prefix of /{MAX_PREFIX} or shorter (a gateway and at least one container)")
    for reserved, meaning in RESERVED:
        if network.overlaps(reserved):
            raise InvalidInput(f"{value!r} overlaps {meaning}", field=where,
                               hint="use a private range such as 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
    return network


def parse_address(text: Any, where: str) -> IPv4Address:
    value = str(text).strip(" \t")  # not strip(): "10.0.0.0/24\n" is not a subnet
    try:
        return IPv4Address(value)
    except ValueError:
        hint = "IPv6 is not supported; " if ":" in value else ""
        raise InvalidInput(f"{value!r} is not an IPv4 address", field=where,
                           hint=f"{hint}give a dotted IPv4 address such as 10.10.0.1") from None


def default_gateway(subnet: IPv4Network) -> IPv4Address:
    """Docker's default: the subnet's first host address."""
    return subnet.network_address + 1


def validate(ipam: Ipam) -> None:
    """The gateway, the range and the auxiliary addresses lie inside the subnet."""
    subnet = ipam.subnet
    edges = (subnet.network_address, subnet.broadcast_address)
    if ipam.gateway not in subnet or ipam.gateway in edges:
        raise InvalidInput(f"gateway {ipam.gateway} is outside subnet {subnet}", field=f"{FIELD}[0].gateway",
                           hint=f"use a host address of {subnet} ({subnet.network_address + 1} - "
                                f"{subnet.broadcast_address - 1}), or leave gateway out for "
                                f"{default_gateway(subnet)}")
    if ipam.ip_range is not None and not ipam.ip_range.subnet_of(subnet):
        raise InvalidInput(f"iprange {ipam.ip_range} is outside subnet {subnet}", field=f"{FIELD}[0].iprange",
                           hint=f"give a range inside {subnet}, or leave iprange out to use the whole subnet")
    for name, ip in ipam.aux_addresses.items():
        if ip not in subnet or ip in edges:
            raise InvalidInput(f"auxiliary address {name}={ip} is outside subnet {subnet}",
                               field=f"{FIELD}[0].aux_addresses.{name}", hint=f"use a host address of {subnet}")
    if ipam.ip_range is not None and next(candidates(ipam), None) is None:
        raise InvalidInput(f"iprange {ipam.ip_range} leaves no address for containers", field=f"{FIELD}[0].iprange",
                           hint="widen it; the gateway, auxiliary, network and broadcast addresses are not handed out")


# -- overlaps and the default pools ------------------------------------------------------------------------------

def route_networks(routes: Iterable[str], ignore: Iterable[IPv4Network] = ()) -> list[IPv4Network]:
    """The host's routes as networks, without default routes (they overlap
    everything) and without ``ignore`` (berth's own bridges, reported by name)."""
    skip = set(ignore)
    found = []
    for route in routes:
        try:
            network = IPv4Network(route, strict=False)
        except ValueError:
            continue
        if network.prefixlen > 0 and network not in skip:
            found.append(network)
    return found


def check_overlap(subnet: IPv4Network, networks: Mapping[str, str], routes: Iterable[str],
                  where: str = f"{FIELD}[0].subnet") -> None:
    """``networks``: other berth networks' name → subnet; ``routes``: the
    host's routes (``links.host_routes()``). Berth bridges' own routes are
    reported as the berth network they belong to."""
    own = {IPv4Network(s) for s in networks.values()}
    for name, other in sorted(networks.items()):
        if subnet.overlaps(IPv4Network(other)):
            raise InvalidInput(f"subnet {subnet} overlaps network {name!r} ({other})", field=where,
                               hint="choose a subnet no other berth network uses, or leave ipam_config out to have "
                                    "a free one picked")
    for route in route_networks(routes, own):
        if subnet.overlaps(route):
            raise InvalidInput(f"subnet {subnet} overlaps the host route {route}", field=where,
                               hint="choose a subnet the host does not route elsewhere (see `ip route`), or leave "
                                    "ipam_config out to have a free one picked")


def pick_subnet(networks: Mapping[str, str], routes: Iterable[str],
                pools: Iterable[IPv4Network] = DEFAULT_POOLS) -> IPv4Network:
    """The first default pool that overlaps neither a berth network nor a host route."""
    used = [IPv4Network(s) for s in networks.values()] + route_networks(routes)
    for pool in pools:
        if not any(pool.overlaps(other) for other in used):
            return pool
    raise InvalidState("every default subnet (172.17-31.0.0/16, 192.168.0-240.0/20) is in use", field=FIELD,
                       hint="give ipam_config with a free subnet, or remove unused networks")


# -- addresses ------------------------------------------------------------------------------------------------------

class Candidates:
    """The addresses a container may be given dynamically, lowest first, as
    strings; iterable more than once (``Transaction.allocate`` may re-read)."""

    def __init__(self, ipam: Ipam) -> None:
        self.ipam = ipam

    def __iter__(self) -> Iterator[str]:
        return candidates(self.ipam)


def candidates(ipam: Ipam) -> Iterator[str]:
    pool = ipam.ip_range or ipam.subnet
    reserved = {int(ip) for ip in ipam.reserved()}
    first, last = int(pool.network_address), int(pool.broadcast_address)
    low, high = int(ipam.subnet.network_address), int(ipam.subnet.broadcast_address)
    for value in range(max(first, low), min(last, high) + 1):
        if value not in reserved:
            yield str(IPv4Address(value))


def check_static(ipam: Ipam, address: str, where: str = "ipv4_address") -> str:
    """A requested address: IPv4, inside the subnet, not one never handed out."""
    ip = parse_address(address, where)
    subnet = ipam.subnet
    if ip not in subnet:
        raise InvalidInput(f"{ip} is outside the network's subnet {subnet}", field=where,
                           hint=f"give an address of {subnet}, or leave it out to have one assigned")
    if ip in (subnet.network_address, subnet.broadcast_address):
        raise InvalidInput(f"{ip} is the network's {'network' if ip == subnet.network_address else 'broadcast'} "
                           "address", field=where, hint=f"give a host address of {subnet}")
    if ip == ipam.gateway:
        raise InvalidInput(f"{ip} is the network's gateway", field=where, hint="give another address")
    for name, aux in ipam.aux_addresses.items():
        if ip == aux:
            raise InvalidInput(f"{ip} is the network's auxiliary address {name!r}", field=where,
                               hint="give another address")
    return str(ip)
