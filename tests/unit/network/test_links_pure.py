"""links.py without a kernel: names, MACs, rtnetlink encoding and the request loop."""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.network import links


def test_bridge_name() -> None:
    assert links.bridge_name("0123456789abcdef" * 4, default=True) == "berth0"
    assert links.bridge_name("0123456789abcdef" * 4, default=False) == "br-0123456789ab"


def test_host_ifname_is_short_deterministic_and_per_network() -> None:
    name = links.host_ifname("c" * 64, "n" * 64)
    assert name.startswith("vb") and len(name) == 13 and len(name) <= links.IFNAMSIZ
    assert int(name[2:], 16) >= 0
    assert name == links.host_ifname("c" * 64, "n" * 64)
    assert name != links.host_ifname("c" * 64, "m" * 64)
    assert name != links.host_ifname("d" * 64, "n" * 64)


def test_mac_for_follows_docker() -> None:
    assert links.mac_for("172.17.0.2") == "02:42:ac:11:00:02"
    assert links.mac_for("10.251.71.255") == "02:42:0a:fb:47:ff"
    with pytest.raises(InvalidInput) as caught:
        links.mac_for("300.1.1.1")
    assert caught.value.field == "ip"


def test_attr_pads_and_parses_back() -> None:
    data = links.attr_str(links.IFLA_IFNAME, "eth0") + links.attr_u32(links.IFLA_MTU, 1400)
    assert len(data) % 4 == 0
    assert data[:4] == struct.pack("=HH", 9, links.IFLA_IFNAME)  # length excludes the padding
    parsed = links.parse_attrs(data)
    assert parsed[links.IFLA_IFNAME] == b"eth0\0"
    assert struct.unpack("=I", parsed[links.IFLA_MTU])[0] == 1400


def test_parse_attrs_drops_the_nested_flag_and_stops_on_garbage() -> None:
    nested = struct.pack("=HH", 8, links.IFLA_LINKINFO | 0x8000) + b"abcd"
    assert links.parse_attrs(nested) == {links.IFLA_LINKINFO: b"abcd"}
    assert links.parse_attrs(b"\x02\x00\x01\x00") == {}  # length < 4


def test_veth_request_puts_the_peer_in_the_namespace() -> None:
    body = links.veth_request("vb0123456789a", 7, "eth0", "02:42:0a:fb:47:02", 42, 1450)
    family, _type, index, flags, change = struct.unpack_from("=BxHiII", body)
    assert (family, index, flags & links.IFF_UP, change) == (socket.AF_UNSPEC, 0, links.IFF_UP, links.IFF_UP)
    top = links.parse_attrs(body, 16)
    assert top[links.IFLA_IFNAME] == b"vb0123456789a\0"
    assert struct.unpack("=I", top[links.IFLA_MASTER])[0] == 7
    info = links.parse_attrs(top[links.IFLA_LINKINFO])
    assert info[links.IFLA_INFO_KIND] == b"veth\0"
    peer = links.parse_attrs(info[links.IFLA_INFO_DATA])[links.VETH_INFO_PEER]
    peer_attrs = links.parse_attrs(peer, 16)
    assert peer_attrs[links.IFLA_IFNAME] == b"eth0\0"
    assert peer_attrs[links.IFLA_ADDRESS] == bytes.fromhex("02420afb4702")
    assert struct.unpack("=I", peer_attrs[links.IFLA_NET_NS_FD])[0] == 42
    assert struct.unpack("=I", peer_attrs[links.IFLA_MTU])[0] == 1450


def test_bridge_request() -> None:
    body = links.bridge_request("br-x", "02:42:0a:fb:47:01", None)
    top = links.parse_attrs(body, 16)
    assert links.IFLA_MTU not in top
    assert top[links.IFLA_ADDRESS] == bytes.fromhex("02420afb4701")
    assert links.parse_attrs(top[links.IFLA_LINKINFO])[links.IFLA_INFO_KIND] == b"bridge\0"


def test_address_and_route_requests() -> None:
    body = links.address_request(5, ipaddress.IPv4Interface("10.251.71.2/24"))
    family, prefixlen, _flags, _scope, index = struct.unpack_from("=BBBBI", body)
    assert (family, prefixlen, index) == (socket.AF_INET, 24, 5)
    attrs = links.parse_attrs(body, 8)
    assert attrs[links.IFA_LOCAL] == bytes([10, 251, 71, 2])
    assert attrs[links.IFA_BROADCAST] == bytes([10, 251, 71, 255])
    assert links.IFA_BROADCAST not in links.parse_attrs(
        links.address_request(5, ipaddress.IPv4Interface("10.0.0.1/31")), 8)
    route = links.default_route_request(5, "10.251.71.1")
    assert route[1] == 0 and route[4] == links.RT_TABLE_MAIN  # dst_len 0, main table
    attrs = links.parse_attrs(route, 12)
    assert attrs[links.RTA_GATEWAY] == bytes([10, 251, 71, 1])
    assert struct.unpack("=I", attrs[links.RTA_OIF])[0] == 5


def _msg(kind: int, seq: int, payload: bytes, flags: int = 0) -> bytes:
    data = struct.pack("=IHHII", 16 + len(payload), kind, flags, seq, 0) + payload
    return data + b"\0" * (-len(data) % 4)


class FakeSocket:
    """Answers each request with the next queued datagrams, stamped with its sequence number."""

    def __init__(self, *answers: list[tuple[int, bytes, int]]) -> None:
        self.answers = list(answers)
        self.sent: list[bytes] = []
        self.pending: list[bytes] = []

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        seq = struct.unpack_from("=IHHII", data)[3]
        parts = self.answers.pop(0)
        stale = _msg(links.RTM_NEWLINK, seq - 1, b"old")  # a late answer to an earlier request
        self.pending = [stale + b"".join(_msg(kind, seq, payload, flags) for kind, payload, flags in parts)]
        return len(data)

    def recv(self, _size: int) -> bytes:
        return self.pending.pop(0)

    def close(self) -> None:
        pass


def _ack(code: int = 0, text: str | None = None) -> tuple[int, bytes, int]:
    payload = struct.pack("=i", -code) + struct.pack("=IHHII", 0, 0, 0, 0, 0)
    flags = 0
    if text is not None:
        payload += links.attr_str(links.NLMSGERR_ATTR_MSG, text)
        flags = links.NLM_F_ACK_TLVS
    return links.NLMSG_ERROR, payload, flags


def test_request_collects_a_dump_and_skips_stale_answers() -> None:
    ifaddr = struct.pack("=BBBBI", socket.AF_INET, 24, 0, 0, 3) + links.attr(links.IFA_LOCAL, bytes([10, 0, 0, 1]))
    fake = FakeSocket([(links.RTM_NEWADDR, ifaddr, 0), (links.NLMSG_DONE, struct.pack("=i", 0), 0)])
    rtnl = links.Rtnl(fake)  # type: ignore[arg-type]
    assert list(rtnl.addresses()) == [(3, ipaddress.IPv4Interface("10.0.0.1/24"))]
    flags = struct.unpack_from("=IHHII", fake.sent[0])[2]
    assert flags & links.NLM_F_DUMP == links.NLM_F_DUMP


def test_request_raises_with_the_kernels_message() -> None:
    rtnl = links.Rtnl(FakeSocket([_ack(errno.EEXIST, "exists already")]))  # type: ignore[arg-type]
    with pytest.raises(links.NetlinkError) as caught:
        rtnl.request(links.RTM_NEWLINK, b"")
    assert caught.value.errno == errno.EEXIST and "exists already" in caught.value.strerror


def test_link_lookup_missing_is_none() -> None:
    rtnl = links.Rtnl(FakeSocket([_ack(errno.ENODEV)]))  # type: ignore[arg-type]
    assert rtnl.link("nope") is None


def test_link_lookup_found() -> None:
    info = struct.pack("=BxHiII", 0, 1, 9, links.IFF_UP, 0) + links.attr_u32(links.IFLA_MTU, 1500)
    rtnl = links.Rtnl(FakeSocket([(links.RTM_NEWLINK, info, 0), _ack()]))  # type: ignore[arg-type]
    found = rtnl.link("br-x")
    assert found is not None
    index, attrs, flags = found
    assert index == 9 and flags & links.IFF_UP and struct.unpack("=I", attrs[links.IFLA_MTU])[0] == 1500


@pytest.mark.parametrize("name", ["", "x" * 16, "a/b", "a b"])
def test_bad_interface_names_are_invalid_input(name: str) -> None:
    with pytest.raises(InvalidInput):
        links.bridge_exists(name)


def test_attach_validates_before_touching_anything() -> None:
    with pytest.raises(InvalidInput) as caught:
        links.attach("/nonexistent", "br-x", "vbx", "eth0", "10.0.0.2", None, "02:42:0a:00:00:02", None)
    assert caught.value.field == "address"  # no prefix
    with pytest.raises(InvalidInput) as caught:
        links.attach("/nonexistent", "br-x", "vbx", "eth0", "10.0.0.2/24", None, "02:42:0a:00:00", None)
    assert caught.value.field == "mac"
