"""The kernel side of overlay networks, over links.py's rtnetlink client:
the VXLAN device and its per-peer routes, permanent neighbours and FDB
entries (what flannel's vxlan backend makes with netlink; no ``ip``, no
pyroute2).

Entries are converged by set difference (overlay.entry_changes): what the
device has that the inventory no longer lists is deleted, what is missing
is added with create|replace, so a re-run touches nothing and a removed
peer disappears.
"""

from __future__ import annotations

import errno as errnos
import ipaddress
import socket
import struct

from ..errors import InvalidState
from . import links
from .links import (
    IFF_UP,
    IFLA_ADDRESS,
    IFLA_IFNAME,
    IFLA_INFO_DATA,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MTU,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    RT_TABLE_MAIN,
    RTA_DST,
    RTA_GATEWAY,
    RTA_OIF,
    RTA_TABLE,
    RTM_GETROUTE,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    RTN_UNICAST,
    NetlinkError,
    Rtnl,
    attr,
    attr_str,
    attr_u32,
    link_info,
    parse_attrs,
)
from .overlay import EntryChanges, KernelEntries

IFLA_VXLAN_ID, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LEARNING, IFLA_VXLAN_PORT = 1, 4, 7, 15
RTM_DELROUTE, RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 25, 28, 29, 30
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT, NTF_SELF, NTF_ONLINK = 0x80, 0x02, 0x4
RTPROT_STATIC, RTNH_F_ONLINK = 4, 4
AF_BRIDGE = 7
_NDMSG = struct.Struct("=BxxxiHBB")  # ndmsg: family, ifindex, state, flags, type
_RTMSG = links._RTMSG


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def _mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


# --- messages (pure) -----------------------------------------------------------------

def vxlan_request(name: str, vni: int, port: int, local: str, mac: str, mtu: int) -> bytes:
    """RTM_NEWLINK body: ``vxlan id <vni> dstport <port> local <local> nolearning``, up, MAC, MTU."""
    data = (attr_u32(IFLA_VXLAN_ID, vni) + attr(IFLA_VXLAN_LOCAL, ipaddress.IPv4Address(local).packed)
            + attr(IFLA_VXLAN_LEARNING, b"\0") + attr(IFLA_VXLAN_PORT, struct.pack("!H", port)))
    return (link_info(IFF_UP, 0, IFF_UP) + attr_str(IFLA_IFNAME, name) + attr(IFLA_ADDRESS, _mac_bytes(mac))
            + attr_u32(IFLA_MTU, mtu) + attr(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "vxlan")
                                             + attr(IFLA_INFO_DATA, data)))


def route_request(index: int, dst: str, via: str) -> bytes:
    """``<dst> via <via> dev <index> onlink`` in the main table."""
    net = ipaddress.IPv4Network(dst)
    body = _RTMSG.pack(socket.AF_INET, net.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, 0, RTN_UNICAST,
                       RTNH_F_ONLINK)
    return (body + attr(RTA_DST, net.network_address.packed) + attr(RTA_GATEWAY, ipaddress.IPv4Address(via).packed)
            + attr_u32(RTA_OIF, index))


def neighbour_request(index: int, ip: str, mac: str) -> bytes:
    return (_NDMSG.pack(socket.AF_INET, index, NUD_PERMANENT, 0, 0) + attr(NDA_DST, ipaddress.IPv4Address(ip).packed)
            + attr(NDA_LLADDR, _mac_bytes(mac)))


def fdb_request(index: int, mac: str, dst: str) -> bytes:
    return (_NDMSG.pack(AF_BRIDGE, index, NUD_PERMANENT, NTF_SELF, 0) + attr(NDA_LLADDR, _mac_bytes(mac))
            + attr(NDA_DST, ipaddress.IPv4Address(dst).packed))


def vxlan_settings(attrs: dict[int, bytes]) -> tuple[str, int, int, str] | None:
    """(kind, vni, port, local) of a link's attributes; None for a link that is not a VXLAN device."""
    info = parse_attrs(attrs.get(IFLA_LINKINFO, b""))
    if links._cstr(info.get(IFLA_INFO_KIND, b"")) != "vxlan":
        return None
    data = parse_attrs(info.get(IFLA_INFO_DATA, b""))
    vni = struct.unpack("=I", data[IFLA_VXLAN_ID])[0] if IFLA_VXLAN_ID in data else 0
    port = struct.unpack("!H", data[IFLA_VXLAN_PORT])[0] if IFLA_VXLAN_PORT in data else 0
    local = str(ipaddress.IPv4Address(data[IFLA_VXLAN_LOCAL])) if IFLA_VXLAN_LOCAL in data else ""
    return "vxlan", vni, port, local


def link_info_family(family: int) -> bytes:
    return links._IFINFO.pack(family, 0, 0, 0, 0)


# --- reading the host -----------------------------------------------------------------

def underlay_mtu(address: str) -> int | None:
    """The MTU of the interface holding ``address``; None if no interface does."""
    rtnl = links._host()
    index = next((i for i, iface in rtnl.addresses() if str(iface.ip) == address), None)
    if index is None:
        return None
    for kind, payload in rtnl.request(links.RTM_GETLINK, link_info(0, index)):
        if kind == RTM_NEWLINK:
            attrs = parse_attrs(payload, links._IFINFO.size)
            return struct.unpack("=I", attrs[IFLA_MTU])[0] if IFLA_MTU in attrs else 1500
    return None


def current_entries(device: str) -> KernelEntries | None:
    """The device's peer entries; None when the device does not exist."""
    rtnl = links._host()
    found = rtnl.link(device)
    if found is None:
        return None
    return _entries(rtnl, found[0])


def _entries(rtnl: Rtnl, index: int) -> KernelEntries:
    routes = set()
    for kind, payload in rtnl.request(RTM_GETROUTE, _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0), dump=True):
        family, dst_len, _s, _t, table, _p, _scope, _type, _f = _RTMSG.unpack_from(payload)
        a = parse_attrs(payload, _RTMSG.size)
        if RTA_TABLE in a:
            table = struct.unpack("=I", a[RTA_TABLE])[0]
        oif = struct.unpack("=I", a[RTA_OIF])[0] if RTA_OIF in a else 0
        if kind != RTM_NEWROUTE or table != RT_TABLE_MAIN or oif != index or RTA_GATEWAY not in a:
            continue
        dst = ipaddress.IPv4Network((a.get(RTA_DST, b"\0" * 4), dst_len))
        routes.add((str(dst), str(ipaddress.IPv4Address(a[RTA_GATEWAY]))))
    neighbours, fdb = set(), set()
    for family in (socket.AF_INET, AF_BRIDGE):
        # an AF_BRIDGE (FDB) dump takes an ifinfomsg header; the kernel refuses an ndmsg one there
        header = _NDMSG.pack(family, 0, 0, 0, 0) if family == socket.AF_INET else link_info_family(family)
        for kind, payload in rtnl.request(RTM_GETNEIGH, header, dump=True):
            fam, ifindex, state, _flags, _type = _NDMSG.unpack_from(payload)
            a = parse_attrs(payload, _NDMSG.size)
            if kind != RTM_NEWNEIGH or ifindex != index or NDA_DST not in a or NDA_LLADDR not in a:
                continue
            if len(a[NDA_DST]) != 4:
                continue
            dst, mac = str(ipaddress.IPv4Address(a[NDA_DST])), _mac_text(a[NDA_LLADDR])
            if fam == socket.AF_INET and state & NUD_PERMANENT:
                neighbours.add((dst, mac))
            elif fam == AF_BRIDGE:
                fdb.add((mac, dst))
    return KernelEntries(frozenset(routes), frozenset(neighbours), frozenset(fdb))


# --- writes ----------------------------------------------------------------------------

def ensure_vxlan(device: str, vni: int, port: int, local: str, mac: str, mtu: int, address_cidr: str) -> bool:
    """Create or repair the VXLAN device: settings (a device with other ones is
    replaced), up, MTU, exactly ``address_cidr``. True if anything changed."""
    rtnl = links._host()
    changed = False
    try:
        found = rtnl.link(device)
        if found is not None and vxlan_settings(found[1]) != ("vxlan", vni, port, local):
            rtnl.delete_link(found[0])  # its name is ours (derived from the network id): stale settings
            found = None
        if found is None:
            rtnl.request(RTM_NEWLINK, vxlan_request(device, vni, port, local, mac, mtu), NLM_F_CREATE | NLM_F_EXCL)
            found, changed = rtnl.link(device), True
        if found is None:
            raise InvalidState(f"VXLAN device {device} vanished while it was being set up", field="overlay")
        index, attrs, flags = found
        current_mtu = struct.unpack("=I", attrs[IFLA_MTU])[0] if IFLA_MTU in attrs else None
        if current_mtu != mtu or not flags & IFF_UP or attrs.get(IFLA_ADDRESS) != _mac_bytes(mac):
            rtnl.request(RTM_NEWLINK, link_info(IFF_UP, index, IFF_UP) + attr_u32(IFLA_MTU, mtu)
                         + attr(IFLA_ADDRESS, _mac_bytes(mac)))
            changed = True
        changed |= links._ensure_only_address(rtnl, index, ipaddress.IPv4Interface(address_cidr))
    except NetlinkError as err:
        hint = ("another VXLAN device may hold this VNI and port" if err.errno == errnos.EEXIST else
                "the kernel needs CONFIG_VXLAN")
        raise links._failed(f"setting up VXLAN device {device}", err, "overlay", hint) from None
    return changed


def apply_changes(device: str, changes: EntryChanges) -> None:
    """Delete what is extra, then add what is missing (create|replace)."""
    rtnl = links._host()
    found = rtnl.link(device)
    if found is None:
        raise InvalidState(f"VXLAN device {device} does not exist", field="overlay",
                           hint="realize the network before its peers")
    index = found[0]
    replace = NLM_F_CREATE | NLM_F_REPLACE
    try:
        for dst, via in sorted(changes.remove.routes):
            _ignore_missing(rtnl, RTM_DELROUTE, route_request(index, dst, via))
        for ip, mac in sorted(changes.remove.neighbours):
            _ignore_missing(rtnl, RTM_DELNEIGH, neighbour_request(index, ip, mac))
        for mac, dst in sorted(changes.remove.fdb):
            _ignore_missing(rtnl, RTM_DELNEIGH, fdb_request(index, mac, dst))
        # the neighbour and forwarding entry before the route that needs them
        for mac, dst in sorted(changes.add.fdb):
            rtnl.request(RTM_NEWNEIGH, fdb_request(index, mac, dst), NLM_F_CREATE | NLM_F_REPLACE)
        for ip, mac in sorted(changes.add.neighbours):
            rtnl.request(RTM_NEWNEIGH, neighbour_request(index, ip, mac), replace)
        for dst, via in sorted(changes.add.routes):
            rtnl.request(RTM_NEWROUTE, route_request(index, dst, via), replace)
    except NetlinkError as err:
        raise links._failed(f"converging the peers of {device}", err, "overlay.peers") from None


def _ignore_missing(rtnl: Rtnl, kind: int, body: bytes) -> None:
    try:
        rtnl.request(kind, body)
    except NetlinkError as err:
        if err.errno not in (errnos.ENOENT, errnos.ESRCH, errnos.ENODEV):
            raise


def remove_vxlan(device: str) -> bool:
    """Delete the device (its routes, neighbours and FDB go with it); False if absent."""
    return links.remove_link(device, f"VXLAN device {device}", "overlay")
