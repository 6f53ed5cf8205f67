"""Container network rules in nftables: one table, ``ip berth``, nothing else.

API (module functions act on the default ``Firewall()``, table "berth"):

    NetRules(network_id, bridge, subnet, internal)              frozen dataclass
    Published(host_ip, host_port, proto, container_ip, container_port)
    Firewall(table: str = "berth", nft: Nft | None = None)
        .ensure_network(net: NetRules) -> None      idempotent; sets ip_forward=1 for a non-internal network
        .remove_network(network_id: str) -> None    the last one removes the table
        .remove_all() -> None
        .publish(container_id: str, bridge: str, ports: list[Published]) -> None   replaces earlier ones
        .unpublish(container_id: str) -> None
        .published(container_id: str | None = None) -> list[Published]
        .port_in_use(host_ip: str, port: int, proto: str, exclude: str | None = None) -> bool
        .ruleset() -> str
        .state() -> TableState | None                 elements with their owners (tests, debugging)
    forward_blockers(nft=None, table="berth") -> list[str]   other tables' forward chains with policy drop

The table is static rules over sets and maps; networks and ports are set/map
elements, so every change is one atomic transaction that adds or deletes
elements (O(1) lookups per packet, no rule handles to track). Elements carry
their owner (network or container id) as a comment; that is how
``remove_network``/``unpublish`` find them.

    set bridges  { ifname }             every berth bridge (isolation, published-port acceptance)
    set same     { ifname . ifname }    bridge . bridge: traffic within one network
    set hairpin  { subnet . ifname }    a network's subnet . its bridge (hairpin masquerade)
    set internal { ifname }             bridges of internal networks
    set masq     { ipv4_addr interval } subnets of non-internal networks
    map pub_any  { proto . port : container ip . port }          host_ip "" / 0.0.0.0
    map pub_ip   { host ip . proto . port : container ip . port } one host address
    set vxlan_peers, vxlan_ports, overlay, dns   overlay networks' elements (overlay_firewall.py)
    chain input       filter/input, prio filter, policy accept: VXLAN from an overlay's peers accept, any other
        VXLAN to an overlay port counted and dropped; DNS to a slice gateway from its overlay accept
    chain forward     filter/forward, prio filter (0), policy accept:
        same-network accept; internal in/out drop; into a bridge: established or
        DNAT (published) accept, anything else drop (isolation between networks,
        no direct access to unpublished ports); everything else falls through.
    chain prerouting  nat/prerouting, prio dstnat (-100): to a local address → publish
    chain output      nat/output, prio -100: the same for the host's own processes (127.0.0.1 too)
    chain publish     dnat via pub_ip, then pub_any
    chain postrouting nat/postrouting, prio srcnat (100):
        127.0.0.0/8 leaving via a bridge → masquerade (localhost publishing; needs route_localnet on the bridge)
        DNATed, from a subnet, leaving via that subnet's bridge → masquerade (hairpin: replies return
        via the host; matched by subnet because br_netfilter's bridged packets have no input device here)
        between two addresses of one overlay subnet → return (no masquerade across slices)
        from a masq subnet leaving via a non-berth interface → masquerade

A drop verdict in any table is final: a foreign forward chain with policy drop
(Docker's iptables FORWARD) blocks container traffic whatever this table says.
berth never edits foreign tables; ``forward_blockers()`` names them for a warning.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
from dataclasses import dataclass

from ..errors import Conflict, InvalidInput, InvalidState
from .links import _write_sysctl

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import Any

TABLE = "berth"
LIBNFTABLES = "libnftables.so.1"
NFT_CTX_OUTPUT_JSON = 1 << 4
PROTOCOLS = ("tcp", "udp")
_PROTO_NAMES = {6: "tcp", 17: "udp"}
_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")  # ids/table names put into nft text: no quoting needed
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
OVERLAY_SETS = ("vxlan_peers", "vxlan_ports", "overlay", "dns")


@dataclass(frozen=True)
class NetRules:
    network_id: str
    bridge: str
    subnet: str
    internal: bool


@dataclass(frozen=True)
class Published:
    host_ip: str  # "" or "0.0.0.0": every host address
    host_port: int
    proto: str  # "tcp" | "udp"
    container_ip: str
    container_port: int


# --- running nft -------------------------------------------------------------------

class Nft:
    """Runs nft command text as one transaction: libnftables through ctypes
    (no process per call), else the ``nft`` binary."""

    def __init__(self, library: str | None = LIBNFTABLES) -> None:
        self._lock = threading.Lock()
        self._lib: Any = None
        self._ctx: Any = None
        if library:
            self._open(library)

    @property
    def backend(self) -> str:
        return "libnftables" if self._ctx else "nft"

    def _open(self, library: str) -> None:
        import ctypes

        try:
            lib = ctypes.CDLL(library)
        except OSError:
            return  # no library: the binary fallback
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
            getattr(lib, name).restype = ctypes.c_char_p
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        ctx = lib.nft_ctx_new(0)
        if not ctx:
            return
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        self._lib, self._ctx = lib, ctx

    def run(self, text: str, as_json: bool = False) -> str:
        """Run ``text``; its output (JSON text when ``as_json``). Raises
        NftError carrying nft's error message."""
        if self._ctx is None:
            return self._run_binary(text, as_json)
        with self._lock:
            lib, ctx = self._lib, self._ctx
            flags = lib.nft_ctx_output_get_flags(ctx)
            lib.nft_ctx_output_set_flags(ctx, flags | NFT_CTX_OUTPUT_JSON if as_json else flags)
            try:
                code = lib.nft_run_cmd_from_buffer(ctx, text.encode())
            finally:
                lib.nft_ctx_output_set_flags(ctx, flags)
            # reading a buffer also rewinds it for the next command
            output = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
            error = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
        if code != 0:
            raise NftError(error.strip() or f"nft failed ({code})", text)
        return output

    @staticmethod
    def _run_binary(text: str, as_json: bool) -> str:
        # nft -j -f - would read stdin as JSON first and then find it empty: JSON (list) commands go in argv
        command = ["nft", "-j", *text.split()] if as_json else ["nft", "-f", "-"]
        import subprocess  # only for this fallback: ~3 ms of start-up

        try:
            done = subprocess.run(command, input=text, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise InvalidState("neither libnftables nor the nft command is available", field="networks",
                               hint="install the nftables package") from None
        if done.returncode != 0:
            raise NftError(done.stderr.strip() or f"nft failed ({done.returncode})", text)
        return done.stdout


class NftError(InvalidState):
    """nft refused a command; ``missing`` when the object does not exist."""

    def __init__(self, error: str, commands: str) -> None:
        super().__init__(f"nftables: {error.splitlines()[0] if error else 'failed'}", field="networks",
                         hint="the command: " + " | ".join(error.splitlines()[1:3]))
        self.missing = "No such file or directory" in error
        self.commands = commands


_NFT: Nft | None = None


def default_nft() -> Nft:
    global _NFT
    if _NFT is None:
        _NFT = Nft()
    return _NFT


# --- rule text (pure: unit tested) ------------------------------------------------------

def skeleton(table: str) -> list[str]:
    """The table, its sets/maps and chains with their static rules, as
    idempotent commands: ``add`` keeps existing objects and elements, each
    chain is flushed and refilled in the same transaction."""
    t = f"ip {table}"
    lines = [
        f"add table {t}",
        f"add set {t} bridges {{ type ifname; }}",
        f"add set {t} same {{ type ifname . ifname; }}",
        f"add set {t} internal {{ type ifname; }}",
        f"add set {t} masq {{ type ipv4_addr; flags interval; }}",
        f"add set {t} hairpin {{ type ipv4_addr . ifname; flags interval; }}",
        f"add map {t} pub_any {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}",
        f"add map {t} pub_ip {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}",
        # overlay networks (overlay_firewall.py): VXLAN from listed peers only, no masquerade inside the overlay
        f"add set {t} vxlan_peers {{ type inet_service . ipv4_addr; }}",
        f"add set {t} vxlan_ports {{ type inet_service; }}",
        f"add set {t} overlay {{ type ipv4_addr . ipv4_addr; flags interval; }}",
        f"add set {t} dns {{ type ipv4_addr . ipv4_addr; flags interval; }}",
    ]
    chains = {
        "forward": ("type filter hook forward priority filter; policy accept;", [
            "iifname . oifname @same accept",  # within one network (bridged, with br_netfilter)
            "iifname @internal drop",  # internal networks: nothing leaves ...
            "oifname @internal drop",  # ... and nothing enters
            "oifname @bridges ct state established,related accept",  # replies to containers
            "oifname @bridges ct status dnat accept",  # published ports, from anywhere
            "oifname @bridges drop",  # other networks, unpublished ports
        ]),
        "input": ("type filter hook input priority filter; policy accept;", [
            "udp dport . ip saddr @vxlan_peers accept",  # VXLAN from an overlay's peers ...
            "udp dport @vxlan_ports counter drop",  # ... and from nobody else (counted: tests, debugging)
            "meta l4proto { tcp, udp } th dport 53 ip saddr . ip daddr @dns accept",  # the overlay's resolver
        ]),
        "prerouting": ("type nat hook prerouting priority dstnat; policy accept;", [
            "fib daddr type local jump publish"]),
        "output": ("type nat hook output priority -100; policy accept;", [  # nft 1.0.6: no "dstnat" in output
            "fib daddr type local jump publish"]),
        "publish": ("", [
            "dnat ip to ip daddr . meta l4proto . th dport map @pub_ip",
            "dnat ip to meta l4proto . th dport map @pub_any",
        ]),
        "postrouting": ("type nat hook postrouting priority srcnat; policy accept;", [
            "oifname @bridges ip saddr 127.0.0.0/8 masquerade",  # published on 127.0.0.1
            # hairpin: by source subnet, as bridged (br_netfilter) packets have no input device here
            "ct status dnat ip saddr . oifname @hairpin masquerade",
            "ip saddr . ip daddr @overlay return",  # between an overlay's slices: addresses kept
            "ip saddr @masq oifname != @bridges masquerade",  # containers going out
        ]),
    }
    # every chain exists before any rule jumps to one
    lines.extend(f"add chain {t} {name} {{ {spec} }}" if spec else f"add chain {t} {name}"
                 for name, (spec, _rules) in chains.items())
    for name, (_spec, rules) in chains.items():
        lines.append(f"flush chain {t} {name}")
        lines.extend(f"add rule {t} {name} {rule}" for rule in rules)
    return lines


def network_elements(net: NetRules) -> dict[str, str]:
    """Set name → element text (with the owner comment) for one network;
    ``internal``/``masq`` hold only the one that applies."""
    comment = f'comment "{net.network_id}"'
    chosen = {
        "bridges": f'"{net.bridge}" {comment}',
        "same": f'"{net.bridge}" . "{net.bridge}" {comment}',
        "hairpin": f'{net.subnet} . "{net.bridge}" {comment}',
    }
    if net.internal:
        chosen["internal"] = f'"{net.bridge}" {comment}'
    else:
        chosen["masq"] = f"{net.subnet} {comment}"
    return chosen


def network_commands(table: str, net: NetRules) -> list[str]:
    t = f"ip {table}"
    lines = [f"add element {t} {name} {{ {text} }}" for name, text in network_elements(net).items()]
    # the element this network must not have: add + delete = delete-if-present
    other, text = ("masq", net.subnet) if net.internal else ("internal", f'"{net.bridge}"')
    lines += [f"add element {t} {other} {{ {text} }}", f"delete element {t} {other} {{ {text} }}"]
    return lines


def port_key(port: Published) -> tuple[str, str]:
    """(map, key text) of a published port."""
    if port.host_ip in ("", "0.0.0.0"):
        return "pub_any", f"{port.proto} . {port.host_port}"
    return "pub_ip", f"{port.host_ip} . {port.proto} . {port.host_port}"


def publish_commands(table: str, container_id: str, old: list[Published], new: list[Published]) -> list[str]:
    t = f"ip {table}"
    lines = [f"delete element {t} {m} {{ {k} }}" for m, k in map(port_key, old)]
    for port in new:
        name, key = port_key(port)
        # create, not add: a key another process published meanwhile fails instead of being kept silently
        lines.append(f'create element {t} {name} {{ {key} comment "{container_id}" : '
                     f"{port.container_ip} . {port.container_port} }}")
    return lines


def _overlaps(a: Published, b: Published) -> bool:
    """Whether two publications claim the same host socket (any address overlaps every address)."""
    if a.proto != b.proto or a.host_port != b.host_port:
        return False
    any_a, any_b = a.host_ip in ("", "0.0.0.0"), b.host_ip in ("", "0.0.0.0")
    return any_a or any_b or a.host_ip == b.host_ip


# --- reading the table back ---------------------------------------------------------------

def _value(raw: Any) -> Any:
    """An nft JSON element value as plain Python: concat → tuple, prefix → CIDR text."""
    if isinstance(raw, dict):
        if "concat" in raw:
            return tuple(_value(part) for part in raw["concat"])
        if "prefix" in raw:
            return f"{raw['prefix']['addr']}/{raw['prefix']['len']}"
        if "range" in raw:
            return f"{raw['range'][0]}-{raw['range'][1]}"
    return raw


def _element(raw: Any) -> tuple[Any, str | None]:
    if isinstance(raw, dict) and "elem" in raw:
        return _value(raw["elem"]["val"]), raw["elem"].get("comment")
    return _value(raw), None


@dataclass
class TableState:
    """The elements of the table: set name → [(value, owner)], map name →
    [(key, value, owner)]."""

    sets: dict[str, list[tuple[Any, str | None]]]
    maps: dict[str, list[tuple[Any, Any, str | None]]]

    @classmethod
    def from_json(cls, text: str) -> TableState:
        sets: dict[str, list[tuple[Any, str | None]]] = {}
        maps: dict[str, list[tuple[Any, Any, str | None]]] = {}
        for item in json.loads(text).get("nftables", []):
            if "set" in item:
                sets[item["set"]["name"]] = [_element(raw) for raw in item["set"].get("elem", [])]
            elif "map" in item:
                entries = maps.setdefault(item["map"]["name"], [])
                for key_raw, value_raw in item["map"].get("elem", []):
                    key, owner = _element(key_raw)
                    entries.append((key, _value(value_raw), owner))
        return cls(sets, maps)

    def published(self, owner: str | None = None) -> list[tuple[str, Published]]:
        """(owner, port) for every publication, or only ``owner``'s."""
        found = []
        for name in ("pub_ip", "pub_any"):
            for key, value, who in self.maps.get(name, []):
                if owner is not None and who != owner:
                    continue
                host_ip, proto, port = key if name == "pub_ip" else ("", *key)
                proto = _PROTO_NAMES.get(proto, proto)  # numeric if nft ever prints it so
                found.append((who or "", Published(host_ip, int(port), proto, value[0], int(value[1]))))
        return found

    def owned(self, set_name: str, owner: str) -> list[Any]:
        return [value for value, who in self.sets.get(set_name, []) if who == owner]


def _element_text(set_name: str, value: Any) -> str:
    if set_name in ("bridges", "internal"):
        return f'"{value}"'
    if set_name == "same":
        return " . ".join(f'"{part}"' for part in value)
    if set_name == "hairpin":
        return f'{value[0]} . "{value[1]}"'
    if set_name in ("vxlan_peers", "overlay", "dns"):
        return " . ".join(str(part) for part in value)
    return str(value)  # masq: CIDR


# --- the firewall --------------------------------------------------------------------------

class Firewall:
    """berth's rules in table ``ip <table>`` (tests use their own table name)."""

    def __init__(self, table: str = TABLE, nft: Nft | None = None) -> None:
        _ident(table, "table")
        self.table = table
        self.nft = nft or default_nft()

    def state(self) -> TableState | None:
        """The table's elements and owners; None when the table does not exist."""
        try:
            return TableState.from_json(self.nft.run(f"list table ip {self.table}", as_json=True))
        except NftError as err:
            if err.missing:
                return None
            raise

    def ensure_network(self, net: NetRules) -> None:
        """Create the table if needed and add the network's elements;
        idempotent. A non-internal network turns on net.ipv4.ip_forward."""
        _ident(net.network_id, "network_id")
        _bridge(net.bridge)
        subnet = _subnet(net.subnet)
        net = NetRules(net.network_id, net.bridge, str(subnet), net.internal)
        self.nft.run("\n".join(skeleton(self.table) + network_commands(self.table, net)))
        if not net.internal:
            _write_sysctl("net/ipv4/ip_forward", "1")

    def remove_network(self, network_id: str) -> None:
        """Delete the network's elements; the table goes with the last network."""
        _ident(network_id, "network_id")
        state = self.state()
        if state is None:
            return
        if not [who for _value, who in state.sets.get("bridges", []) if who != network_id]:
            self.remove_all()
            return
        t = f"ip {self.table}"
        lines = [f"delete element {t} {name} {{ {_element_text(name, value)} }}"
                 for name in ("bridges", "same", "hairpin", "internal", "masq", *OVERLAY_SETS)
                 for value in state.owned(name, network_id)]
        if lines:
            self.nft.run("\n".join(lines))

    def remove_all(self) -> None:
        """Delete the whole table (no error if absent)."""
        t = f"ip {self.table}"
        self.nft.run(f"add table {t}\ndelete table {t}")

    def publish(self, container_id: str, bridge: str, ports: list[Published]) -> None:
        """DNAT ``ports`` to the container, replacing its earlier publications,
        in one transaction. Conflict if another container holds one of them."""
        _ident(container_id, "container_id")
        _bridge(bridge)
        wanted = [_check_port(port) for port in ports]
        for index, port in enumerate(wanted):
            if any(_overlaps(port, other) for other in wanted[:index]):
                raise InvalidInput(f"port {_show(port)} is published twice", field="ports")
        state = self.state()
        if state is None or bridge not in [value for value, _who in state.sets.get("bridges", [])]:
            raise InvalidState(f"network on bridge {bridge} has no firewall rules", field="networks",
                               hint="realize the network (ensure_network) before publishing ports")
        old = []
        for owner, port in state.published():
            if owner == container_id:
                old.append(port)
            elif clash := next((mine for mine in wanted if _overlaps(mine, port)), None):
                raise Conflict(f"port {_show(clash)} is already published by container {owner[:12]}",
                               field="ports", hint="choose another host port or host address")
        if old or wanted:
            self._publish_run(container_id, old, wanted)

    def _publish_run(self, container_id: str, old: list[Published], wanted: list[Published]) -> None:
        try:
            self.nft.run("\n".join(publish_commands(self.table, container_id, old, wanted)))
        except NftError as err:
            if "File exists" in str(err) or "File exists" in (err.hint or ""):
                raise Conflict("a port was published by another container meanwhile", field="ports",
                               hint="choose another host port") from None
            raise

    def unpublish(self, container_id: str) -> None:
        """Remove the container's publications (none: nothing to do)."""
        _ident(container_id, "container_id")
        state = self.state()
        old = [port for _owner, port in state.published(container_id)] if state else []
        if old:
            self.nft.run("\n".join(publish_commands(self.table, container_id, old, [])))

    def published(self, container_id: str | None = None) -> list[Published]:
        state = self.state()
        return [port for _owner, port in state.published(container_id)] if state else []

    def port_in_use(self, host_ip: str, port: int, proto: str, exclude: str | None = None) -> bool:
        """True if a host socket holds ``host_ip:port/proto`` or a berth
        container (other than ``exclude``) publishes an overlapping one."""
        probe = _check_port(Published(host_ip, port, proto, "0.0.0.0", 1))
        if _socket_busy(probe.host_ip or "0.0.0.0", port, proto):
            return True
        state = self.state()
        return bool(state) and any(owner != exclude and _overlaps(probe, other)
                                   for owner, other in state.published())

    def ruleset(self) -> str:
        """The table as nft text ("" when it does not exist)."""
        try:
            return self.nft.run(f"list table ip {self.table}")
        except NftError as err:
            if err.missing:
                return ""
            raise


def forward_blockers(nft: Nft | None = None, table: str = TABLE) -> list[str]:
    """Forward-hook chains of other tables whose policy is drop (e.g. Docker's
    iptables FORWARD): they drop container traffic whatever berth's table accepts."""
    data = json.loads((nft or default_nft()).run("list chains", as_json=True) or "{}")
    found = []
    for item in data.get("nftables", []):
        chain = item.get("chain")
        if not chain or (chain["family"], chain["table"]) == ("ip", table):
            continue
        if chain.get("hook") == "forward" and chain.get("policy") == "drop":
            found.append(f"{chain['family']} {chain['table']} {chain['name']}")
    return found


# --- validation -----------------------------------------------------------------------------

def _ident(value: str, field: str) -> None:
    if not isinstance(value, str) or not _IDENT.fullmatch(value):
        raise InvalidInput(f"not a valid id: {value!r}", field=field, hint="letters, digits, '_', '.', '-'")


def _bridge(name: str) -> None:
    if not isinstance(name, str) or not _IFNAME.fullmatch(name):
        raise InvalidInput(f"not a valid bridge name: {name!r}", field="bridge")


def _subnet(text: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise InvalidInput(f"not an IPv4 subnet: {text!r}", field="subnet", hint="like 172.30.0.0/16") from None


def _check_port(port: Published) -> Published:
    """Validated, with host_ip "0.0.0.0" normalised to ""."""
    if port.proto not in PROTOCOLS:
        raise InvalidInput(f"unknown protocol {port.proto!r}", field="ports", hint="tcp or udp")
    for value in (port.host_port, port.container_port):
        if not isinstance(value, int) or not 1 <= value <= 65535:
            raise InvalidInput(f"port {value!r} out of range", field="ports", hint="1 to 65535")
    host_ip = "" if port.host_ip in ("", "0.0.0.0") else port.host_ip
    try:
        for address in (host_ip or "0.0.0.0", port.container_ip):
            ipaddress.IPv4Address(address)
    except ValueError as err:
        raise InvalidInput(f"not an IPv4 address: {err}", field="ports") from None
    return Published(host_ip, port.host_port, port.proto, port.container_ip, port.container_port)


def _show(port: Published) -> str:
    return f"{port.host_ip or '0.0.0.0'}:{port.host_port}/{port.proto}"


def _socket_busy(host_ip: str, port: int, proto: str) -> bool:
    """Try to bind: EADDRINUSE means a host socket holds it. SO_REUSEADDR for
    TCP so connections lingering in TIME_WAIT do not count."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        if proto == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host_ip, port))
        except OSError as err:
            if err.errno == 98:  # EADDRINUSE
                return True
            if err.errno == 99:  # EADDRNOTAVAIL
                raise InvalidInput(f"{host_ip} is not an address of this host", field="ports",
                                   hint="use one of the host's addresses, or leave host_ip empty") from None
            raise InvalidState(f"cannot probe {host_ip}:{port}/{proto}: {err.strerror}", field="ports") from None
    return False


# --- the contract's functions, on the default table ---------------------------------------

def ensure_network(net: NetRules) -> None:
    Firewall().ensure_network(net)


def remove_network(network_id: str) -> None:
    Firewall().remove_network(network_id)


def remove_all() -> None:
    Firewall().remove_all()


def publish(container_id: str, bridge: str, ports: list[Published]) -> None:
    Firewall().publish(container_id, bridge, ports)


def unpublish(container_id: str) -> None:
    Firewall().unpublish(container_id)


def port_in_use(host_ip: str, port: int, proto: str, exclude: str | None = None) -> bool:
    return Firewall().port_in_use(host_ip, port, proto, exclude)


def ruleset() -> str:
    return Firewall().ruleset()
