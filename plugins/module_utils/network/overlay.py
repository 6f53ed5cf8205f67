"""Overlay networks across hosts, without a store (pure: unit tested without a kernel).

The inventory is the truth: every host of the network is told the same
``subnet`` and ``peers`` (underlay addresses), and from them alone each host
computes every host's slice of the subnet, VXLAN MAC and entries, the same
way (flannel's vxlan backend, minus its etcd lease). Routed, not bridged:

    host A (192.0.2.1, slice 10.240.0.0/24)            host B (192.0.2.2, slice 10.240.1.0/24)
      bridge br-<id>  10.240.0.1/24  <- containers        bridge br-<id> 10.240.1.1/24
      vxlan  vx-<id>  10.240.0.0/32, MAC m(vni, A)        vxlan  vx-<id> 10.240.1.0/32, MAC m(vni, B)
      per peer B: route 10.240.1.0/24 via 10.240.1.0 dev vx-<id> onlink
                  neigh 10.240.1.0 lladdr m(vni, B) permanent
                  fdb   m(vni, B) dst 192.0.2.2 permanent

Slices: ``/24`` for a subnet of ``/20`` or wider (else subnet prefix + 4),
numbered by each peer's position in the sorted peer list; ``overlay.slices``
pins any peer's slice fleet-wide and ``host_subnet`` this host's. A peer list
that changes below a host's position moves that host's slice (pin it to avoid).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ..errors import InvalidInput

FIELD = "overlay"
DEFAULT_PORT = 4789  # IANA's (Linux's own default is 8472: always passed explicitly)
VNI_MAX = (1 << 24) - 1
VXLAN_OVERHEAD = 50  # outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
ENCRYPTED = ("an encrypted overlay needs IPsec ESP (CONFIG_INET_ESP with CONFIG_XFRM) or WireGuard "
             "(CONFIG_WIREGUARD) in the kernel, and this kernel has neither")
ENCRYPTED_HINT = "leave encrypted out (or false) and keep the underlay private"


@dataclass(frozen=True)
class Overlay:
    """One host's view of an overlay network, validated."""

    subnet: IPv4Network
    vni: int
    port: int
    local_address: str
    peers: tuple[str, ...]  # sorted (numerically), local_address included
    slices: dict[str, str]  # underlay address -> slice CIDR, every peer
    mtu: int

    @property
    def host_subnet(self) -> IPv4Network:
        return IPv4Network(self.slices[self.local_address])

    @property
    def gateway(self) -> IPv4Address:
        return self.host_subnet.network_address + 1

    def as_record(self) -> dict[str, Any]:
        """The record's ``overlay`` (docs: the issue-16 contract)."""
        return {"subnet": str(self.subnet), "vni": self.vni, "port": self.port,
                "local_address": self.local_address, "mtu": self.mtu, "peers": list(self.peers),
                "host_subnet": str(self.host_subnet), "slices": dict(self.slices)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Overlay:
        o = record["overlay"]
        return cls(IPv4Network(o["subnet"]), o["vni"], o["port"], o["local_address"], tuple(o["peers"]),
                   dict(o["slices"]), o["mtu"])


@dataclass(frozen=True, order=True)
class PeerEntry:
    """What one peer needs on this host's VXLAN device."""

    underlay: str
    slice: str  # CIDR
    vtep: str   # the peer's slice .0 (its VXLAN device's address)
    mac: str


def default_vni(name: str) -> int:
    """1..2^24-1 from the network's name: equal on every host, no store."""
    digest = hashlib.sha256(f"berth overlay\0{name}".encode()).digest()
    return 1 + int.from_bytes(digest[:4], "big") % (VNI_MAX - 1)


def vtep_mac(vni: int, underlay: str) -> str:
    """A VXLAN device's MAC from the VNI and the host's underlay address
    (every host computes every peer's): locally administered, unicast."""
    digest = bytearray(hashlib.sha256(f"{vni}/{underlay}".encode()).digest()[:6])
    digest[0] = (digest[0] & 0xFC) | 0x02
    return ":".join(f"{b:02x}" for b in digest)


def vxlan_name(network_id: str) -> str:
    return "vx-" + network_id[:12]


def slice_prefix(subnet: IPv4Network) -> int:
    return 24 if subnet.prefixlen <= 20 else subnet.prefixlen + 4


def _address(text: Any, field: str) -> str:
    try:
        return str(IPv4Address(str(text).strip()))
    except ValueError:
        raise InvalidInput(f"{field} {text!r} is not an IPv4 address", field=f"{FIELD}.{field}",
                           hint="give the host's underlay address, such as 192.0.2.1") from None


def _slice(text: Any, subnet: IPv4Network, field: str) -> IPv4Network:
    try:
        value = IPv4Network(str(text), strict=True)
    except ValueError:
        raise InvalidInput(f"{field} {text!r} is not a subnet in CIDR form", field=f"{FIELD}.{field}",
                           hint="such as 10.240.7.0/24 (host bits zero)") from None
    if not value.subnet_of(subnet) or value.prefixlen > 29:
        raise InvalidInput(f"{field} {value} is not a slice of the network's subnet {subnet}",
                           field=f"{FIELD}.{field}", hint=f"give a /29 or larger inside {subnet}")
    return value


def compute_slices(subnet: IPv4Network, peers: tuple[str, ...], pinned: dict[str, str],
                   local: str | None = None) -> dict[str, str]:
    """Every peer's slice: the pinned ones as given, the rest by position in
    ``peers`` (sorted), skipping slices overlapping a pinned one."""
    taken = {addr: _slice(value, subnet, "host_subnet" if addr == local else "slices")
             for addr, value in pinned.items()}
    for (a, net_a), (b, net_b) in _pairs(taken):
        if net_a.overlaps(net_b):
            raise InvalidInput(f"the slices of {a} ({net_a}) and {b} ({net_b}) overlap", field=f"{FIELD}.host_subnet",
                               hint="give every host its own slice of the subnet")
    candidates = list(subnet.subnets(new_prefix=slice_prefix(subnet)))
    out: dict[str, str] = {}
    for index, peer in enumerate(peers):
        if peer in taken:
            out[peer] = str(taken[peer])
            continue
        if index >= len(candidates):
            raise InvalidInput(f"subnet {subnet} has {len(candidates)} slices of /{slice_prefix(subnet)}, too few "
                               f"for {len(peers)} peers", field="ipam_config",
                               hint="use a larger subnet (a /16 holds 256 hosts), or fewer peers")
        chosen = candidates[index]
        if any(chosen.overlaps(net) for net in taken.values()):
            raise InvalidInput(f"the default slice {chosen} of peer {peer} overlaps a pinned slice",
                               field=f"{FIELD}.host_subnet",
                               hint="pin this peer's slice too (overlay.slices), or choose another host_subnet")
        out[peer] = str(chosen)
    return out


def _pairs(items: dict[str, IPv4Network]) -> list[tuple[tuple[str, IPv4Network], tuple[str, IPv4Network]]]:
    listed = sorted(items.items())
    return [(listed[i], listed[j]) for i in range(len(listed)) for j in range(i + 1, len(listed))]


def parse_overlay(name: str, subnet: IPv4Network, options: dict[str, Any], underlay_mtu: int | None) -> Overlay:
    """The task's ``overlay`` option, validated; ``underlay_mtu`` None means
    ``local_address`` is not an address of this host."""
    known = {"local_address", "peers", "vni", "port", "host_subnet", "mtu", "slices"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidInput(f"unknown overlay option(s) {', '.join(unknown)}", field=FIELD,
                           hint=f"use {', '.join(sorted(known))}")
    if not options.get("local_address"):
        raise InvalidInput("an overlay network needs overlay.local_address", field=f"{FIELD}.local_address",
                           hint="give this host's underlay address, e.g. {{ berth_underlay }}")
    local = _address(options["local_address"], "local_address")
    if underlay_mtu is None:
        raise InvalidInput(f"local_address {local} is not an address of this host", field=f"{FIELD}.local_address",
                           hint="give an address configured on one of this host's interfaces")
    peers = {_address(p, "peers") for p in options.get("peers") or []} | {local}
    ordered = tuple(sorted(peers, key=lambda a: IPv4Address(a).packed))
    pinned = {_address(k, "slices"): v for k, v in (options.get("slices") or {}).items()}
    if options.get("host_subnet"):
        pinned[local] = options["host_subnet"]
    unknown_pins = sorted(set(pinned) - peers)
    if unknown_pins:
        raise InvalidInput(f"overlay.slices names {', '.join(unknown_pins)}, not in peers", field=f"{FIELD}.slices",
                           hint="pin slices of listed peers only")
    vni = options.get("vni")
    vni = default_vni(name) if vni is None else vni
    if not isinstance(vni, int) or not 1 <= vni <= VNI_MAX:
        raise InvalidInput(f"vni {vni!r} is out of range", field=f"{FIELD}.vni", hint=f"use 1-{VNI_MAX}")
    port = options.get("port")
    port = DEFAULT_PORT if port is None else port
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidInput(f"port {port!r} is not a UDP port", field=f"{FIELD}.port",
                           hint="use 1-65535 (4789 is IANA's VXLAN port)")
    mtu = options.get("mtu")
    mtu = underlay_mtu - VXLAN_OVERHEAD if mtu is None else mtu
    if not isinstance(mtu, int) or not 68 <= mtu <= underlay_mtu - VXLAN_OVERHEAD:
        raise InvalidInput(f"overlay mtu {mtu!r} does not fit the underlay's MTU {underlay_mtu}",
                           field=f"{FIELD}.mtu", hint=f"use 68-{underlay_mtu - VXLAN_OVERHEAD} (underlay MTU - 50)")
    return Overlay(subnet, vni, port, local, ordered, compute_slices(subnet, ordered, pinned, local), mtu)


def peer_entries(overlay: Overlay) -> list[PeerEntry]:
    """The desired per-peer entries (every peer but this host)."""
    found = []
    for peer in overlay.peers:
        if peer == overlay.local_address:
            continue
        net = IPv4Network(overlay.slices[peer])
        found.append(PeerEntry(peer, str(net), str(net.network_address), vtep_mac(overlay.vni, peer)))
    return sorted(found)


@dataclass(frozen=True)
class KernelEntries:
    """What a VXLAN device has: routes (slice, via), neighbours (ip, mac), FDB (mac, underlay)."""

    routes: frozenset[tuple[str, str]] = frozenset()
    neighbours: frozenset[tuple[str, str]] = frozenset()
    fdb: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def of(cls, entries: list[PeerEntry]) -> KernelEntries:
        return cls(frozenset((e.slice, e.vtep) for e in entries), frozenset((e.vtep, e.mac) for e in entries),
                   frozenset((e.mac, e.underlay) for e in entries))


@dataclass(frozen=True)
class EntryChanges:
    """Set difference of desired against current: what to add and remove."""

    add: KernelEntries
    remove: KernelEntries

    @property
    def empty(self) -> bool:
        return not any((*self.add.__dict__.values(), *self.remove.__dict__.values()))

    def describe(self) -> list[str]:
        lines = [f"route {dst} via {via}" for dst, via in sorted(self.add.routes)]
        lines += [f"neighbour {ip} lladdr {mac}" for ip, mac in sorted(self.add.neighbours)]
        lines += [f"fdb {mac} dst {dst}" for mac, dst in sorted(self.add.fdb)]
        lines = ["+ " + line for line in lines]
        gone = [f"route {dst} via {via}" for dst, via in sorted(self.remove.routes)]
        gone += [f"neighbour {ip} lladdr {mac}" for ip, mac in sorted(self.remove.neighbours)]
        gone += [f"fdb {mac} dst {dst}" for mac, dst in sorted(self.remove.fdb)]
        return lines + ["- " + line for line in gone]


def entry_changes(desired: KernelEntries, current: KernelEntries) -> EntryChanges:
    return EntryChanges(
        KernelEntries(desired.routes - current.routes, desired.neighbours - current.neighbours,
                      desired.fdb - current.fdb),
        KernelEntries(current.routes - desired.routes, current.neighbours - desired.neighbours,
                      current.fdb - desired.fdb))


def routes_view(record: dict[str, Any]) -> list[str]:
    """The record's peer routes as the diff shows them."""
    overlay = Overlay.from_record(record)
    device = vxlan_name(record["id"])
    return [f"{e.slice} via {e.vtep} dev {device} onlink ({e.underlay})" for e in peer_entries(overlay)]
