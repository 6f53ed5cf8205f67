"""Overlay networks in the network service: the task's wishes validated into
a record, and the record realized on the host (bridge as for a bridge
network, then the VXLAN device, its peers' entries, the overlay firewall
elements) through the service's ``Kernel``.

An overlay record is a bridge record whose addressing is this host's slice
(``subnet``/``gateway`` = ``overlay.host_subnet`` and its first address, so
IPAM, container attachment, publishing and hairpin work unchanged) plus
``overlay`` (the whole subnet, VNI, port, underlay addresses, every slice;
see overlay.Overlay.as_record) and ``mtu`` = the overlay MTU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from .ipam import Ipam, check_overlap, parse_ipam_config
from .overlay import (
    ENCRYPTED,
    ENCRYPTED_HINT,
    EntryChanges,
    KernelEntries,
    Overlay,
    entry_changes,
    parse_overlay,
    peer_entries,
    vtep_mac,
    vxlan_name,
)
from .store import new_record

if TYPE_CHECKING:
    from .overlay_firewall import OverlayRules

RECREATE_KEYS = ("subnet", "vni", "port", "local_address", "mtu", "host_subnet")


class OverlayHostKernel:
    """The real kernel's overlay side (mixed into service.HostKernel)."""

    def underlay_mtu(self, address: str) -> int | None:
        from . import overlay_links

        return overlay_links.underlay_mtu(address)

    def ensure_overlay(self, record: dict[str, Any]) -> None:
        from . import overlay_links

        overlay, device = Overlay.from_record(record), vxlan_name(record["id"])
        overlay_links.ensure_vxlan(device, overlay.vni, overlay.port, overlay.local_address,
                                   vtep_mac(overlay.vni, overlay.local_address), overlay.mtu,
                                   f"{overlay.host_subnet.network_address}/32")

    def overlay_entries(self, record: dict[str, Any]) -> KernelEntries | None:
        from . import overlay_links

        return overlay_links.current_entries(vxlan_name(record["id"]))

    def apply_overlay(self, record: dict[str, Any], changes: EntryChanges) -> None:
        from . import overlay_links

        overlay_links.apply_changes(vxlan_name(record["id"]), changes)

    def remove_overlay(self, record: dict[str, Any]) -> None:
        from . import overlay_links

        overlay_links.remove_vxlan(vxlan_name(record["id"]))

    def ensure_overlay_firewall(self, rules: OverlayRules) -> None:
        from . import overlay_firewall

        overlay_firewall.ensure_overlay(rules)


def overlay_desired(request: Any, driver: str, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The stated ``overlay`` options (None for a bridge network), after the
    checks that need no kernel."""
    if getattr(request, "encrypted", False):
        raise InvalidInput(ENCRYPTED, field="encrypted",
                           hint=ENCRYPTED_HINT)
    stated = getattr(request, "overlay", None)
    if driver != "overlay":
        if stated:
            raise InvalidInput("overlay options are given for a bridge network", field="overlay",
                               hint="set driver: overlay, or leave overlay out")
        return None
    if not stated:
        raise InvalidInput("driver overlay needs the overlay option (a network on this host only: driver bridge)",
                           field="driver", hint="give overlay: {local_address: ..., peers: [...]}, or use driver "
                                                "bridge for a network on this host only")
    stated = stated.model_dump(exclude_none=True) if hasattr(stated, "model_dump") else dict(stated)
    if len(entries) != 1 or not entries[0].get("subnet"):
        raise InvalidInput("an overlay network needs its subnet stated (the same on every host)", field="ipam_config",
                           hint="give ipam_config: [{subnet: 10.240.0.0/16}]")
    extra = sorted(set(entries[0]) - {"subnet"})
    if extra:
        raise InvalidInput(f"ipam_config {', '.join(extra)} is not supported on an overlay network",
                           field="ipam_config", hint="each host's gateway is its slice's first address; "
                                                     "choose the slice with overlay.host_subnet")
    return stated


def overlay_record(kernel: Any, network_id: str, name: str, bridge: str, desired: Any,
                   others: dict[str, str], routes: list[str]) -> dict[str, Any]:
    """The record an overlay creation (or recreation) would write."""
    whole = parse_ipam_config(desired.options["ipam_config"])
    if whole is None:   # overlay_desired required the subnet: a bug if it is missing here
        raise AssertionError("an overlay network without ipam_config reached its planning")
    check_overlap(whole.subnet, others, routes)
    options = dict(desired.overlay or {})
    if desired.mtu is not None:
        if options.get("mtu") not in (None, desired.mtu):
            raise InvalidInput(f"mtu {desired.mtu} and overlay.mtu {options['mtu']} disagree", field="mtu",
                               hint="give one of them")
        options["mtu"] = desired.mtu
    local = options.get("local_address")
    underlay = kernel.underlay_mtu(str(local)) if local else None
    overlay = parse_overlay(name, whole.subnet, options, underlay)
    ipam = Ipam(overlay.host_subnet, overlay.gateway)
    record = new_record(network_id, name, bridge, ipam, internal=desired.internal, labels=desired.labels,
                        mtu=overlay.mtu, options=desired.options)
    return {**record, "driver": "overlay", "overlay": {**overlay.as_record(), "device": vxlan_name(network_id)}}


def recreate_differences(current: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """What differs between an overlay network and its wishes that only a recreation changes."""
    found = [key for key in ("internal",) if bool(current.get(key)) != bool(target.get(key))]
    if current.get("driver") != "overlay":
        return ["driver", *found]
    old, new = current["overlay"], target["overlay"]
    return found + [f"overlay.{key}" for key in RECREATE_KEYS if old.get(key) != new.get(key)]


def firewall_rules(record: dict[str, Any]) -> OverlayRules:
    from .overlay_firewall import OverlayRules

    overlay = Overlay.from_record(record)
    return OverlayRules(record["id"], record["bridge"], vxlan_name(record["id"]), str(overlay.subnet),
                        str(overlay.gateway), overlay.port,
                        tuple(p for p in overlay.peers if p != overlay.local_address))


def desired_entries(record: dict[str, Any]) -> KernelEntries:
    return KernelEntries.of(peer_entries(Overlay.from_record(record)))


def pending_changes(kernel: Any, record: dict[str, Any]) -> EntryChanges | None:
    """What the VXLAN device lacks or has extra; None when the device itself is missing."""
    current = kernel.overlay_entries(record)
    return None if current is None else entry_changes(desired_entries(record), current)


def realize_overlay(kernel: Any, record: dict[str, Any], others: list[dict[str, Any]]) -> None:
    """After the bridge: the VXLAN device, its peers' entries, the firewall elements."""
    k: Any = kernel
    k.ensure_overlay(record)
    changes = pending_changes(kernel, record)
    if changes is not None and not changes.empty:
        k.apply_overlay(record, changes)
    k.ensure_overlay_firewall(firewall_rules(record))
    _reensure_sharing(k, record, others)


def unrealize_overlay(kernel: Any, record: dict[str, Any], others: list[dict[str, Any]]) -> None:
    """The VXLAN device (its routes, neighbours and FDB go with it); the firewall
    elements went with the bridge's (same owner); other overlays on the port keep theirs."""
    k: Any = kernel
    k.remove_overlay(record)
    _reensure_sharing(k, record, others)


def _reensure_sharing(k: Any, record: dict[str, Any], others: list[dict[str, Any]]) -> None:
    """An element key holds one owner: another overlay network on the same port may just have lost one."""
    port = record["overlay"]["port"]
    for other in others:
        if other["overlay"]["port"] == port:
            k.ensure_overlay_firewall(firewall_rules(other))


def container_routes(record: dict[str, Any], has_default_route: bool) -> tuple[tuple[str, str], ...]:
    """Routes a container on the network needs besides its default route:
    the whole overlay subnet via this host's slice gateway when the default
    route is not through it (an internal overlay, or not the first network)."""
    if record.get("driver") != "overlay" or has_default_route:
        return ()
    return ((record["overlay"]["subnet"], record["gateway"]),)
