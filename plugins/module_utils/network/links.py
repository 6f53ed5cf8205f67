"""Network links: bridges, veth pairs, addresses and routes, over rtnetlink.

Each container network is a Linux bridge holding the gateway address; each
attached container gets a veth pair: the host end (``vb`` + 11 hex) is a port of
the bridge, the inner end is created directly inside the container's network
namespace (so it never clashes with a host ``eth0``) with a stable MAC, the
address and, for the first network, the default route.

Why a small rtnetlink client instead of pyroute2: importing pyroute2 costs
~100 ms per process (it loads asyncio, multiprocessing and every netlink
family), and the container monitor — one process per container — is the
caller of ``attach()``. The handful of messages berth needs (new/del/get link,
new/get address, new/get route) are encoded here with ``struct``; import costs
~1 ms and an attach ~1-2 ms (see bench/bench_network.py).

Configuring the inner end needs a netlink socket inside the container's
namespace: this thread joins the namespace (setns), opens the socket and
returns at once; a netlink socket stays bound to the namespace it was created
in. setns(CLONE_NEWNET) affects only the calling thread.
"""

from __future__ import annotations

import errno as errnos
import ipaddress
import os
import socket
import struct
import threading

from ..errors import InvalidInput, InvalidState

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Iterator

DEFAULT_BRIDGE = "berth0"
IFNAMSIZ = 15  # usable characters in an interface name

# --- rtnetlink constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h) --
NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK = 10, 11
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLM_F_ACK_TLVS = 0x200
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLMSGERR_ATTR_MSG = 1
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST = 254, 3, 1
IFLA_PROTINFO, IFLA_BRPORT_MODE, NLA_F_NESTED, AF_BRIDGE = 12, 4, 0x8000, 7  # a bridge port's hairpin flag
IFF_UP = 0x1
CLONE_NEWNET = 0x40000000

_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RECV_BUFFER = 1 << 17  # a dump part is at most 32 KiB; room to spare


# --- names and addresses (pure) ------------------------------------------------

def bridge_name(network_id: str, default: bool) -> str:
    """The bridge's interface name: ``berth0`` for the default network, else
    ``br-`` + the id's first 12 characters (Docker's scheme, fits IFNAMSIZ)."""
    return DEFAULT_BRIDGE if default else "br-" + network_id[:12]


def host_ifname(container_id: str, network_id: str) -> str:
    """The host end of a container's veth on one network: ``vb`` + 11 hex
    characters of sha256(container_id:network_id). Deterministic, so a crashed
    attach's leftover can be found and deleted by name."""
    import hashlib  # only here: ~2 ms of start-up for callers that never name a veth

    digest = hashlib.sha256(f"{container_id}:{network_id}".encode()).hexdigest()
    return "vb" + digest[:11]


def mac_for(ip: str) -> str:
    """Docker's stable MAC for an address: 02:42 then the four address bytes."""
    try:
        packed = ipaddress.IPv4Address(ip).packed
    except ValueError:
        raise InvalidInput(f"not an IPv4 address: {ip!r}", field="ip") from None
    return "02:42:" + ":".join(f"{byte:02x}" for byte in packed)


def _check_ifname(name: str, field: str) -> None:
    if not name or len(name) > IFNAMSIZ or "/" in name or any(ch.isspace() for ch in name):
        raise InvalidInput(f"not a valid interface name: {name!r}", field=field,
                           hint=f"1 to {IFNAMSIZ} characters, no '/' or whitespace")


def _interface(cidr: str, field: str) -> ipaddress.IPv4Interface:
    try:
        if "/" not in cidr:  # a bare address would silently become a /32 with no on-link subnet
            raise ValueError(cidr)
        return ipaddress.IPv4Interface(cidr)
    except ValueError:
        raise InvalidInput(f"not an IPv4 address with prefix: {cidr!r}", field=field,
                           hint="like 172.30.0.1/16") from None


# --- rtnetlink encoding (pure: unit tested without a kernel) -------------------

def attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute (struct nlattr + payload), padded to 4 bytes."""
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def attr_str(kind: int, text: str) -> bytes:
    return attr(kind, text.encode() + b"\0")


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """Attributes of a message body from ``offset``; the nested flag bits are
    dropped from the type, a repeated type keeps its last value."""
    found: dict[int, bytes] = {}
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        found[kind & 0x3FFF] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return found


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode()


def link_info(flags: int = 0, index: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change)


def veth_request(host_if: str, bridge_index: int, peer: str, mac: str, netns_fd: int, mtu: int | None) -> bytes:
    """RTM_NEWLINK body for a veth pair: the host end up and enslaved to the
    bridge, the peer created straight inside the namespace open at ``netns_fd``."""
    mtu_attr = attr_u32(IFLA_MTU, mtu) if mtu else b""
    peer_body = (link_info() + attr_str(IFLA_IFNAME, peer) + attr(IFLA_ADDRESS, bytes.fromhex(mac.replace(":", "")))
                 + mtu_attr + attr_u32(IFLA_NET_NS_FD, netns_fd))
    info = attr(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "veth")
                + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_body)))
    return (link_info(IFF_UP, 0, IFF_UP) + attr_str(IFLA_IFNAME, host_if) + attr_u32(IFLA_MASTER, bridge_index)
            + mtu_attr + info)


def bridge_request(name: str, mac: str, mtu: int | None) -> bytes:
    """RTM_NEWLINK body creating an up bridge with a fixed MAC (otherwise the
    bridge takes its ports' lowest MAC, which changes as containers come and go)."""
    mtu_attr = attr_u32(IFLA_MTU, mtu) if mtu else b""
    return (link_info(IFF_UP, 0, IFF_UP) + attr_str(IFLA_IFNAME, name)
            + attr(IFLA_ADDRESS, bytes.fromhex(mac.replace(":", ""))) + mtu_attr
            + attr(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "bridge")))


def address_request(index: int, iface: ipaddress.IPv4Interface) -> bytes:
    """RTM_NEWADDR body: ``iface`` (address/prefix) with its broadcast address."""
    packed = iface.ip.packed
    body = _IFADDR.pack(socket.AF_INET, iface.network.prefixlen, 0, 0, index)
    body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
    if iface.network.prefixlen < 31:
        body += attr(IFA_BROADCAST, iface.network.broadcast_address.packed)
    return body


def default_route_request(index: int, gateway: str, dst: str = "0.0.0.0/0") -> bytes:
    """RTM_NEWROUTE body: ``dst`` (default 0.0.0.0/0) via ``gateway`` out of interface ``index``."""
    net = ipaddress.IPv4Network(dst)
    body = _RTMSG.pack(socket.AF_INET, net.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST, 0)
    dst_attr = attr(RTA_DST, net.network_address.packed) if net.prefixlen else b""
    return body + dst_attr + attr(RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed) + attr_u32(RTA_OIF, index)


# --- the socket ----------------------------------------------------------------

class NetlinkError(OSError):
    """A request the kernel refused; ``strerror`` includes its extended ack text."""


class Rtnl:
    """One NETLINK_ROUTE socket; ``request`` sends a message and collects the
    answer (the ack, or every part of a dump)."""

    def __init__(self, sock: socket.socket | None = None) -> None:
        self.sock = sock or _netlink_socket()
        self.seq = 0
        self._lock = threading.Lock()  # the host socket is shared by a process's threads

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @classmethod
    def in_netns(cls, netns_fd: int) -> Rtnl:
        """A socket inside the namespace open at ``netns_fd``: join it, open
        the socket, come back (the socket stays in that namespace)."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(netns_fd)
            try:
                sock = _netlink_socket()
            finally:
                _setns(own)  # if this fails the thread is lost in the container: _setns raises loudly
        finally:
            os.close(own)
        return cls(sock)

    def request(self, msg_type: int, body: bytes, flags: int = 0, dump: bool = False) -> list[tuple[int, bytes]]:
        with self._lock:
            return self._request(msg_type, body, flags, dump)

    def _request(self, msg_type: int, body: bytes, flags: int, dump: bool) -> list[tuple[int, bytes]]:
        self.seq += 1
        flags |= NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        self.sock.send(_HDR.pack(_HDR.size + len(body), msg_type, flags, self.seq, 0) + body)
        answers: list[tuple[int, bytes]] = []
        while True:
            data = self.sock.recv(_RECV_BUFFER)
            for kind, mflags, seq, payload in _messages(data):
                if seq != self.seq:
                    continue  # a late answer to an abandoned request
                if kind in (NLMSG_ERROR, NLMSG_DONE):
                    _raise_for(kind, mflags, payload)
                    return answers
                answers.append((kind, payload))

    def link(self, name: str) -> tuple[int, dict[int, bytes], int] | None:
        """(index, attributes, flags) of the link called ``name``, or None."""
        try:
            answers = self.request(RTM_GETLINK, link_info() + attr_str(IFLA_IFNAME, name))
        except NetlinkError as err:
            if err.errno == errnos.ENODEV:
                return None
            raise
        for kind, payload in answers:
            if kind == RTM_NEWLINK:
                _family, _type, index, flags, _change = _IFINFO.unpack_from(payload)
                return index, parse_attrs(payload, _IFINFO.size), flags
        return None

    def delete_link(self, index: int) -> bool:
        try:
            self.request(RTM_DELLINK, link_info(0, index))
        except NetlinkError as err:
            if err.errno == errnos.ENODEV:
                return False
            raise
        return True

    def addresses(self) -> Iterator[tuple[int, ipaddress.IPv4Interface]]:
        """(interface index, address/prefix) for every IPv4 address."""
        for kind, payload in self.request(RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0), dump=True):
            if kind != RTM_NEWADDR:
                continue
            family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(payload)
            attrs = parse_attrs(payload, _IFADDR.size)
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if family == socket.AF_INET and raw:
                yield index, ipaddress.IPv4Interface((raw, prefixlen))


def _netlink_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    try:
        sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)  # the kernel's error text, for hints
        sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)  # acks without a copy of our request
    except OSError:
        pass  # old kernels: plain errno only
    sock.bind((0, 0))
    return sock


def _messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    offset = 0
    while offset + _HDR.size <= len(data):
        length, kind, flags, seq, _pid = _HDR.unpack_from(data, offset)
        if length < _HDR.size:
            break
        yield kind, flags, seq, data[offset + _HDR.size:offset + length]
        offset += (length + 3) & ~3


def _raise_for(kind: int, flags: int, payload: bytes) -> None:
    """Turn an NLMSG_ERROR/NLMSG_DONE carrying a negative errno into NetlinkError."""
    code = -struct.unpack_from("=i", payload)[0] if len(payload) >= 4 else 0
    if not code:
        return
    text = os.strerror(code)
    if kind == NLMSG_ERROR and flags & NLM_F_ACK_TLVS:
        message = parse_attrs(payload, 4 + _HDR.size).get(NLMSGERR_ATTR_MSG)
        if message:
            text = f"{text}: {_cstr(message)}"
    raise NetlinkError(code, text)


_LIBC_SETNS = None


def _setns(fd: int) -> None:
    global _LIBC_SETNS
    if _LIBC_SETNS is None:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).setns
        fn.argtypes, fn.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        _LIBC_SETNS = fn
    if _LIBC_SETNS(fd, CLONE_NEWNET) != 0:
        code = __import__("ctypes").get_errno()
        raise InvalidState(f"setns(network namespace) failed: {os.strerror(code)}", field="netns",
                           hint="berth must run as root in the host's network namespace")


# One host socket per process; a forked child opens its own.
_HOST: tuple[int, Rtnl] | None = None


def _host() -> Rtnl:
    global _HOST
    if _HOST is None or _HOST[0] != os.getpid():
        _HOST = (os.getpid(), Rtnl())
    return _HOST[1]


def _failed(step: str, err: OSError, field: str, hint: str | None = None) -> InvalidState:
    return InvalidState(f"{step} failed: {err.strerror or err}", field=field, hint=hint)


# --- bridges ---------------------------------------------------------------------

def bridge_exists(name: str) -> bool:
    _check_ifname(name, "bridge")
    return _host().link(name) is not None


def ensure_bridge(name: str, gateway_cidr: str, mtu: int | None) -> bool:
    """Create or repair the bridge: up, MTU, exactly the gateway address,
    route_localnet on. Idempotent; returns True if anything changed."""
    _check_ifname(name, "bridge")
    gateway = _interface(gateway_cidr, "gateway")
    rtnl = _host()
    changed = False
    try:
        found = rtnl.link(name)
        if found is None:
            rtnl.request(RTM_NEWLINK, bridge_request(name, mac_for(str(gateway.ip)), mtu),
                         NLM_F_CREATE | NLM_F_EXCL)
            found, changed = rtnl.link(name), True
        if found is None:
            raise InvalidState(f"bridge {name} vanished while it was being set up", field="bridge")
        index, attrs, flags = found
        current_mtu = struct.unpack("=I", attrs[IFLA_MTU])[0] if IFLA_MTU in attrs else None
        if (mtu and current_mtu != mtu) or not flags & IFF_UP:
            body = link_info(IFF_UP, index, IFF_UP) + (attr_u32(IFLA_MTU, mtu) if mtu else b"")
            rtnl.request(RTM_NEWLINK, body)
            changed = True
        changed |= _ensure_only_address(rtnl, index, gateway)
    except NetlinkError as err:
        raise _failed(f"setting up bridge {name}", err, "bridge") from None
    changed |= _write_sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")
    return changed


def _ensure_only_address(rtnl: Rtnl, index: int, wanted: ipaddress.IPv4Interface) -> bool:
    present = [iface for owner, iface in rtnl.addresses() if owner == index]
    changed = False
    for iface in present:
        if iface != wanted:  # a leftover from an earlier network with this bridge name
            rtnl.request(RTM_DELADDR, address_request(index, iface))
            changed = True
    if wanted not in present:
        rtnl.request(RTM_NEWADDR, address_request(index, wanted), NLM_F_CREATE | NLM_F_REPLACE)
        changed = True
    return changed


def remove_bridge(name: str) -> bool:
    """Delete the bridge (its ports are released, not deleted); False if absent."""
    _check_ifname(name, "bridge")
    return remove_link(name, f"bridge {name}", "bridge")


def remove_link(name: str, what: str, field: str) -> bool:
    """Delete the host link ``name``; False if absent; InvalidState naming ``what`` on failure."""
    rtnl = _host()
    found = rtnl.link(name)
    if found is None:
        return False
    try:
        return rtnl.delete_link(found[0])
    except NetlinkError as err:
        raise _failed(f"removing {what}", err, field) from None


def _write_sysctl(key: str, value: str) -> bool:
    """Set /proc/sys/<key>; True if it changed."""
    path = "/proc/sys/" + key
    try:
        with open(path) as handle:
            if handle.read().strip() == value:
                return False
        with open(path, "w") as handle:
            handle.write(value)
    except OSError as err:
        raise InvalidState(f"cannot set {key.replace('/', '.')}={value}: {err.strerror}", field="sysctl",
                           hint="berth must run as root with /proc/sys writable") from None
    return True


# --- host facts ------------------------------------------------------------------

def host_routes() -> list[str]:
    """Every IPv4 destination (CIDR) in the host's main routing table except the
    default route, plus every host address's network: subnets IPAM must avoid."""
    found: set[ipaddress.IPv4Network] = set()
    rtnl = _host()
    body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
    for kind, payload in rtnl.request(RTM_GETROUTE, body, dump=True):
        family, dst_len, _src, _tos, table, _proto, _scope, _type, _flags = _RTMSG.unpack_from(payload)
        attrs = parse_attrs(payload, _RTMSG.size)
        if RTA_TABLE in attrs:
            table = struct.unpack("=I", attrs[RTA_TABLE])[0]
        if kind != RTM_NEWROUTE or family != socket.AF_INET or table != RT_TABLE_MAIN or dst_len == 0:
            continue
        dst = attrs.get(RTA_DST, b"\0\0\0\0")
        found.add(ipaddress.IPv4Network((dst, dst_len), strict=False))
    found.update(iface.network for _index, iface in rtnl.addresses())
    return [str(net) for net in sorted(found)]


def host_addresses() -> list[str]:
    """The host's IPv4 addresses (loopback included), in interface order."""
    return [str(iface.ip) for _index, iface in sorted(_host().addresses(), key=lambda item: item[0])]


# --- containers --------------------------------------------------------------------

def attach(netns: str, bridge: str, host_if: str, ifname: str, address_cidr: str, gateway: str | None,
           mac: str, mtu: int | None, routes: tuple[tuple[str, str], ...] = ()) -> None:
    """Connect the network namespace at path ``netns`` to ``bridge``: veth
    ``host_if`` on the bridge, ``ifname`` inside with ``mac`` and
    ``address_cidr``, up, default route via ``gateway`` when given, and
    ``routes`` ((subnet, via) pairs: an overlay network's whole subnet via
    this host's slice gateway, for a container whose default route is elsewhere). A stale
    ``host_if`` is deleted first; on failure nothing made here is left behind
    and InvalidState names the step."""
    for name, field in ((bridge, "bridge"), (host_if, "host_if"), (ifname, "ifname")):
        _check_ifname(name, field)
    iface = _interface(address_cidr, "address")
    if not _is_mac(mac):
        raise InvalidInput(f"not a MAC address: {mac!r}", field="mac", hint="like 02:42:ac:1e:00:02")
    try:
        gateway_ip = ipaddress.IPv4Address(gateway) if gateway else None
    except ValueError:
        raise InvalidInput(f"not an IPv4 address: {gateway!r}", field="gateway") from None
    try:
        fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise InvalidState(f"opening network namespace {netns} failed: {err.strerror}", field="netns",
                           hint="the container's init process must be alive (/proc/<pid>/ns/net)") from None
    try:
        _attach(fd, bridge, host_if, ifname, iface, gateway_ip, mac, mtu, routes)
    finally:
        os.close(fd)


def _is_mac(mac: str) -> bool:
    parts = mac.split(":")
    return len(parts) == 6 and all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts)


def _attach(fd: int, bridge: str, host_if: str, ifname: str, iface: ipaddress.IPv4Interface,
            gateway: ipaddress.IPv4Address | None, mac: str, mtu: int | None,
            routes: tuple[tuple[str, str], ...] = ()) -> None:
    rtnl = _host()
    found = rtnl.link(bridge)
    if found is None:
        raise InvalidState(f"bridge {bridge} does not exist", field="bridge",
                           hint="realize the network (ensure_bridge) before attaching containers")
    stale = rtnl.link(host_if)
    if stale is not None:
        rtnl.delete_link(stale[0])  # a crashed attach's leftover: the name is ours by construction
    step = "creating the veth pair"
    try:
        rtnl.request(RTM_NEWLINK, veth_request(host_if, found[0], ifname, mac, fd, mtu), NLM_F_CREATE | NLM_F_EXCL)
        step = "turning on hairpin mode"
        _hairpin(rtnl, host_if)
        step = "configuring the container's end"
        with Rtnl.in_netns(fd) as inner:
            _configure_inner(inner, ifname, iface, gateway, routes)
    except (OSError, InvalidState) as err:
        _undo(rtnl, host_if)
        if isinstance(err, InvalidState):
            raise
        hint = "is the interface name already used in the container?" if err.errno == errnos.EEXIST else None
        raise _failed(f"attach: {step} ({host_if} → {ifname} on {bridge})", err, "networks", hint) from None


def _hairpin(rtnl: Rtnl, host_if: str) -> None:
    """Let the bridge send a frame back out of the port it came in on. With
    br_netfilter, a container reaching its own published port via a host
    address is DNATed on the bridge and must leave through its own port;
    without hairpin mode the bridge drops it (Docker sets it too when its
    userland proxy is off). Reflected broadcasts are harmless for IPv4.

    Over rtnetlink (what `bridge link set ... hairpin on` sends), not
    /sys/class/net: sysfs lists the links of the network namespace that
    mounted it, so a berth running in a namespace of its own (a fleet host
    entered with nsenter, a test worker) would not find its port there."""
    found = rtnl.link(host_if)
    if found is None:
        raise InvalidState(f"attach: {host_if} vanished before hairpin mode was set", field="networks")
    protinfo = attr(IFLA_PROTINFO | NLA_F_NESTED, attr(IFLA_BRPORT_MODE, b"\x01"))
    rtnl.request(RTM_SETLINK, _IFINFO.pack(AF_BRIDGE, 0, found[0], 0, 0) + protinfo)


def _configure_inner(inner: Rtnl, ifname: str, iface: ipaddress.IPv4Interface,
                     gateway: ipaddress.IPv4Address | None, routes: tuple[tuple[str, str], ...] = ()) -> None:
    found = inner.link(ifname)
    if found is None:
        raise InvalidState(f"attach: {ifname} did not appear in the container", field="networks")
    index = found[0]
    inner.request(RTM_NEWADDR, address_request(index, iface), NLM_F_CREATE | NLM_F_EXCL)
    inner.request(RTM_NEWLINK, link_info(IFF_UP, index, IFF_UP))
    if gateway is not None:
        inner.request(RTM_NEWROUTE, default_route_request(index, str(gateway)), NLM_F_CREATE | NLM_F_EXCL)
    for dst, via in routes:
        inner.request(RTM_NEWROUTE, default_route_request(index, via, dst), NLM_F_CREATE | NLM_F_REPLACE)


def _undo(rtnl: Rtnl, host_if: str) -> None:
    try:
        found = rtnl.link(host_if)
        if found is not None:
            rtnl.delete_link(found[0])
    except OSError:
        pass  # the original error matters more; the deterministic name allows a later cleanup


def detach(host_if: str) -> bool:
    """Delete the host end of a container's veth (its peer goes with it);
    False if it is already gone (e.g. the container's namespace died)."""
    _check_ifname(host_if, "host_if")
    rtnl = _host()
    found = rtnl.link(host_if)
    if found is None:
        return False
    try:
        return rtnl.delete_link(found[0])
    except NetlinkError as err:
        raise _failed(f"detach {host_if}", err, "host_if") from None
