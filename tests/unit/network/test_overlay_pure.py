"""overlay.py, overlay_links.py's messages and overlay_firewall.py's text, without a kernel:
slices, MACs, VNIs, validation, set difference, netlink encoding, nft elements."""

from __future__ import annotations

import struct
from ipaddress import IPv4Network

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.network import firewall
from ansible_collections.berth.engine.plugins.module_utils.network import overlay as ov
from ansible_collections.berth.engine.plugins.module_utils.network import overlay_links as ol
from ansible_collections.berth.engine.plugins.module_utils.network.links import parse_attrs
from ansible_collections.berth.engine.plugins.module_utils.network.overlay_firewall import (
    OverlayRules,
    overlay_commands,
)

SUBNET = IPv4Network("10.240.0.0/16")
A, B, C = "192.0.2.1", "192.0.2.2", "192.0.2.10"


def parse(local: str = A, peers: tuple[str, ...] = (B, C), **extra: object) -> ov.Overlay:
    return ov.parse_overlay("shop", SUBNET, {"local_address": local, "peers": list(peers), **extra}, 1500)


def test_every_host_computes_the_same_slices_and_macs() -> None:
    views = [parse(local, (A, B, C)) for local in (C, A, B)]
    assert all(v.slices == views[0].slices for v in views)
    assert views[1].slices == {A: "10.240.0.0/24", B: "10.240.1.0/24", C: "10.240.2.0/24"}
    assert [v.host_subnet for v in views] == [IPv4Network("10.240.2.0/24"), IPv4Network("10.240.0.0/24"),
                                              IPv4Network("10.240.1.0/24")]
    assert views[1].peers == (A, B, C) and views[1].gateway.exploded == "10.240.0.1"
    # numeric, not textual, order: 192.0.2.10 after 192.0.2.2
    assert parse(A, ("192.0.2.10", "192.0.2.9")).peers == (A, "192.0.2.9", "192.0.2.10")
    assert ov.vtep_mac(7, A) == ov.vtep_mac(7, A) != ov.vtep_mac(8, A) != ov.vtep_mac(7, B)
    first = int(ov.vtep_mac(7, A).split(":", maxsplit=1)[0], 16)
    assert first & 0x02 and not first & 0x01  # locally administered, unicast


def test_defaults_and_local_address_added() -> None:
    view = parse(A, (B,))
    assert view.peers == (A, B) and view.port == 4789 and view.mtu == 1450
    assert view.vni == ov.default_vni("shop") and 1 <= view.vni < 1 << 24 and view.vni != ov.default_vni("other")
    record = {"id": "ab" * 32, "overlay": view.as_record()}
    assert ov.Overlay.from_record(record) == view
    assert ov.routes_view(record) == [f"10.240.1.0/24 via 10.240.1.0 dev vx-{'ab' * 6} onlink ({B})"]


def test_slice_sizes() -> None:
    assert ov.slice_prefix(IPv4Network("10.0.0.0/8")) == 24
    assert ov.slice_prefix(IPv4Network("10.240.0.0/20")) == 24
    assert ov.slice_prefix(IPv4Network("10.240.0.0/24")) == 28
    small = ov.parse_overlay("s", IPv4Network("10.9.0.0/24"), {"local_address": A, "peers": [B]}, 1500)
    assert small.slices == {A: "10.9.0.0/28", B: "10.9.0.16/28"}


def test_pinned_slices() -> None:
    view = parse(A, (B, C), host_subnet="10.240.200.0/24", slices={C: "10.240.201.0/24"})
    assert view.slices == {A: "10.240.200.0/24", B: "10.240.1.0/24", C: "10.240.201.0/24"}


@pytest.mark.parametrize(("extra", "field", "text"), [
    ({"vni": 0}, "overlay.vni", "out of range"),
    ({"vni": 1 << 24}, "overlay.vni", "out of range"),
    ({"port": 70000}, "overlay.port", "UDP port"),
    ({"mtu": 1480}, "overlay.mtu", "underlay"),
    ({"host_subnet": "10.99.0.0/24"}, "overlay.host_subnet", "not a slice"),
    ({"host_subnet": "10.240.1.0/24"}, "overlay.host_subnet", "overlaps"),   # B's default slice
    ({"host_subnet": "10.240.0.1/24"}, "overlay.host_subnet", "CIDR"),
    ({"slices": {"192.0.2.99": "10.240.9.0/24"}}, "overlay.slices", "not in peers"),
    ({"slices": {B: "10.240.9.0/24", C: "10.240.9.0/25"}}, "overlay.host_subnet", "overlap"),
    ({"peers": ["not-an-ip"]}, "overlay.peers", "not an IPv4"),
    ({"bogus": 1}, "overlay", "unknown"),
])
def test_bad_input(extra: dict, field: str, text: str) -> None:
    options = {"local_address": A, "peers": [B, C], **extra}
    with pytest.raises(InvalidInput) as err:
        ov.parse_overlay("shop", SUBNET, options, 1500)
    assert err.value.field == field and text in err.value.message, err.value


def test_local_address_must_be_this_hosts_and_the_subnet_big_enough() -> None:
    with pytest.raises(InvalidInput) as err:
        ov.parse_overlay("shop", SUBNET, {"local_address": A}, None)
    assert err.value.field == "overlay.local_address" and "not an address of this host" in err.value.message
    peers = [f"192.0.2.{i}" for i in range(1, 20)]
    with pytest.raises(InvalidInput) as err:
        ov.parse_overlay("shop", IPv4Network("10.9.0.0/24"), {"local_address": A, "peers": peers}, 1500)
    assert err.value.field == "ipam_config" and "too few" in err.value.message


def test_set_difference() -> None:
    three = ov.KernelEntries.of(ov.peer_entries(parse(A, (B, C))))
    two = ov.KernelEntries.of(ov.peer_entries(parse(A, (B,))))
    assert ov.entry_changes(three, three).empty
    gone = ov.entry_changes(two, three)
    assert not gone.add.routes and gone.remove.routes == {("10.240.2.0/24", "10.240.2.0")}
    assert gone.remove.fdb == {(ov.vtep_mac(parse().vni, C), C)}
    assert [line[:2] for line in gone.describe()] == ["- "] * 3
    added = ov.entry_changes(three, ov.KernelEntries())
    assert len(added.add.routes) == len(added.add.neighbours) == len(added.add.fdb) == 2 and not added.empty
    # a peer whose underlay address moved: its forwarding entry is replaced, nothing else
    moved = ov.KernelEntries(three.routes, three.neighbours,
                             frozenset((m, "192.0.2.77" if d == C else d) for m, d in three.fdb))
    change = ov.entry_changes(three, moved)
    assert change.add.fdb and change.remove.fdb and not change.add.routes and not change.remove.neighbours


def test_netlink_messages() -> None:
    body = ol.vxlan_request("vx-abc", 42, 4789, A, "02:00:00:00:00:01", 1450)
    attrs = parse_attrs(body, 16)
    info = parse_attrs(attrs[18])
    assert info[1] == b"vxlan\0\0\0"[:len(info[1])] or info[1].startswith(b"vxlan")
    assert ol.vxlan_settings(attrs) == ("vxlan", 42, 4789, A)
    data = parse_attrs(info[2])
    assert data[ol.IFLA_VXLAN_LEARNING] == b"\0" and data[ol.IFLA_VXLAN_PORT] == b"\x12\xb5"  # big-endian 4789
    fdb = ol.fdb_request(5, "02:00:00:00:00:02", B)
    family, index, state, flags, _type = ol._NDMSG.unpack_from(fdb)
    assert (family, index, state, flags) == (ol.AF_BRIDGE, 5, ol.NUD_PERMANENT, ol.NTF_SELF) and ol._NDMSG.size == 12
    route = ol.route_request(5, "10.240.1.0/24", "10.240.1.0")
    assert struct.unpack_from("=BB", route) == (2, 24) and route[8] & ol.RTNH_F_ONLINK


def test_firewall_text() -> None:
    rules = OverlayRules("n1", "br-n1", "vx-n1", "10.240.0.0/16", "10.240.1.1", 4789, (A, C))
    lines = overlay_commands("berth", rules, ["192.0.2.99"])
    assert 'add element ip berth vxlan_ports { 4789 comment "n1" }' in lines
    assert f'add element ip berth vxlan_peers {{ 4789 . {A} comment "n1" }}' in lines
    assert 'add element ip berth same { "vx-n1" . "br-n1" comment "n1" }' in lines
    assert 'add element ip berth overlay { 10.240.0.0/16 . 10.240.0.0/16 comment "n1" }' in lines
    assert 'add element ip berth dns { 10.240.0.0/16 . 10.240.1.1 comment "n1" }' in lines
    assert lines[-1] == "delete element ip berth vxlan_peers { 4789 . 192.0.2.99 }"
    skeleton = "\n".join(firewall.skeleton("berth"))
    assert "udp dport . ip saddr @vxlan_peers accept" in skeleton
    assert skeleton.index("@overlay return") < skeleton.index("ip saddr @masq oifname != @bridges masquerade")
    assert "th dport 53 ip saddr . ip daddr @dns accept" in skeleton
    assert firewall._element_text("vxlan_peers", (4789, A)) == f"4789 . {A}"


def test_container_routes() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.network import links
    from ansible_collections.berth.engine.plugins.module_utils.network.overlay_kernel import container_routes

    record = {"driver": "overlay", "gateway": "10.240.1.1", "overlay": {"subnet": "10.240.0.0/16"}}
    assert container_routes(record, has_default_route=True) == ()
    assert container_routes(record, has_default_route=False) == (("10.240.0.0/16", "10.240.1.1"),)
    assert container_routes({"driver": "bridge", "gateway": "10.1.0.1"}, has_default_route=False) == ()
    body = links.default_route_request(3, "10.240.1.1", "10.240.0.0/16")
    assert struct.unpack_from("=BB", body) == (2, 16)
    assert parse_attrs(body, 12)[links.RTA_DST] == bytes([10, 240, 0, 0])
    assert links.RTA_DST not in parse_attrs(links.default_route_request(3, "10.240.1.1"), 12)


def test_firewall_removes_an_overlays_elements_and_stale_peers(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.network.test_firewall_pure import RecordingNft

    table = {"nftables": [
        {"set": {"name": "bridges", "elem": [{"elem": {"val": "br-n1", "comment": "n1"}},
                                             {"elem": {"val": "br-n2", "comment": "n2"}}]}},
        {"set": {"name": "vxlan_ports", "elem": [{"elem": {"val": 4789, "comment": "n1"}}]}},
        {"set": {"name": "vxlan_peers", "elem": [{"elem": {"val": {"concat": [4789, A]}, "comment": "n1"}},
                                                 {"elem": {"val": {"concat": [4789, C]}, "comment": "n1"}}]}},
        {"set": {"name": "overlay", "elem": [{"elem": {"val": {"concat": [
            {"prefix": {"addr": "10.240.0.0", "len": 16}}, {"prefix": {"addr": "10.240.0.0", "len": 16}}]},
            "comment": "n1"}}]}},
    ]}
    nft = RecordingNft(table)
    firewall.Firewall("t", nft).remove_network("n1")  # type: ignore[arg-type]
    text = nft.runs[-1]
    assert "delete element ip t vxlan_ports { 4789 }" in text
    assert f"delete element ip t vxlan_peers {{ 4789 . {A} }}" in text
    assert "delete element ip t overlay { 10.240.0.0/16 . 10.240.0.0/16 }" in text
    # a peer no longer listed is deleted when the network is ensured again
    from ansible_collections.berth.engine.plugins.module_utils.network import overlay_firewall

    nft = RecordingNft(table)
    rules = OverlayRules("n1", "br-n1", "vx-n1", "10.240.0.0/16", "10.240.0.1", 4789, (A,))
    monkeypatch.setattr(overlay_firewall, "_write_sysctl", lambda key, value: True)
    overlay_firewall.ensure_overlay(rules, firewall.Firewall("t", nft))  # type: ignore[arg-type]
    assert nft.runs[-1].endswith(f"delete element ip t vxlan_peers {{ 4789 . {C} }}")
