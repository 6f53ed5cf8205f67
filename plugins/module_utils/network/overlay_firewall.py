"""An overlay network's elements in berth's nftables table (firewall.py
holds the static rules over these sets):

    vxlan_peers  port . peer underlay     input: VXLAN accepted from the listed peers ...
    vxlan_ports  port                     input: ... and dropped from anyone else
    same         vx . bridge, bridge . vx forward: between the slices (the bridge's own
                                          elements come from firewall.network_elements)
    overlay      subnet . subnet          postrouting: no masquerade inside the overlay
    dns          subnet . slice gateway   input: the resolver on the slice gateway (UDP+TCP 53)

Elements carry the network id as their owner comment, so
``Firewall.remove_network`` removes them with the bridge's. Two overlay
networks on one port share the ``vxlan_ports``/``vxlan_peers`` keys (a key
holds one comment): the service re-ensures the others after a removal.
"""

from __future__ import annotations

from dataclasses import dataclass

from .firewall import Firewall, _bridge, _ident, _subnet, skeleton
from .links import _write_sysctl


@dataclass(frozen=True)
class OverlayRules:
    network_id: str
    bridge: str
    vxlan: str
    subnet: str       # the whole overlay subnet
    gateway: str      # this host's slice gateway (the resolver's address)
    port: int
    peers: tuple[str, ...]  # underlay addresses of the other hosts


def overlay_elements(rules: OverlayRules) -> list[tuple[str, str]]:
    """(set, element text with the owner comment) for one overlay network."""
    comment = f'comment "{rules.network_id}"'
    found = [("vxlan_ports", f"{rules.port} {comment}")]
    found += [("vxlan_peers", f"{rules.port} . {peer} {comment}") for peer in rules.peers]
    found += [("same", f'"{rules.vxlan}" . "{rules.bridge}" {comment}'),
              ("same", f'"{rules.bridge}" . "{rules.vxlan}" {comment}'),
              ("overlay", f"{rules.subnet} . {rules.subnet} {comment}"),
              ("dns", f"{rules.subnet} . {rules.gateway} {comment}")]
    return found


def overlay_commands(table: str, rules: OverlayRules, stale_peers: list[str]) -> list[str]:
    """Commands adding the network's elements and deleting ``stale_peers``' (peers no longer listed)."""
    t = f"ip {table}"
    lines = [f"add element {t} {name} {{ {text} }}" for name, text in overlay_elements(rules)]
    # add + delete = delete-if-present, in the same transaction
    for peer in stale_peers:
        lines += [f"add element {t} vxlan_peers {{ {rules.port} . {peer} }}",
                  f"delete element {t} vxlan_peers {{ {rules.port} . {peer} }}"]
    return lines


def ensure_overlay(rules: OverlayRules, firewall: Firewall | None = None) -> None:
    """Add the network's elements (after ``Firewall.ensure_network`` for its
    bridge), drop peers it owned that are no longer listed. Forwarding is on
    whatever ``internal`` says: the overlay itself is routed."""
    fw = firewall or Firewall()
    _ident(rules.network_id, "network_id")
    _bridge(rules.bridge)
    _bridge(rules.vxlan)
    subnet = str(_subnet(rules.subnet))
    rules = OverlayRules(rules.network_id, rules.bridge, rules.vxlan, subnet, rules.gateway, rules.port,
                         tuple(rules.peers))
    state = fw.state()
    owned = state.owned("vxlan_peers", rules.network_id) if state else []
    stale = sorted({str(value[1]) for value in owned if int(value[0]) == rules.port} - set(rules.peers))
    fw.nft.run("\n".join(skeleton(fw.table) + overlay_commands(fw.table, rules, stale)))
    _write_sysctl("net/ipv4/ip_forward", "1")
