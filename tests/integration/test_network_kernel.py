"""links.py and firewall.py on the real kernel: bridges, veths, nftables.

A module-scoped lab: three berth networks (A and B normal, I internal), four
"containers" (network namespaces a1, a2 on A, b1 on B, i1 on I) and an
"outside" namespace joined to the host by its own veth /30, playing the
internet. Sockets are opened inside a namespace by this process itself
(setns in the calling thread, socket(), setns back: a socket keeps its
namespace), so servers and clients need no helper processes; ping runs
busybox under ``ip netns exec``.

Every server answers with the peer address it saw, which proves NAT: the
outside sees the host's address (masquerade), a published port sees the real
client from outside and the gateway for hairpin traffic.

The firewall uses table ``ip berthtest`` so the engine's own table is never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidInput, InvalidState
from ansible_collections.berth.engine.plugins.module_utils.network import links
from ansible_collections.berth.engine.plugins.module_utils.network.firewall import (
    Firewall,
    NetRules,
    Nft,
    Published,
)
from tests.support.peers import needs_peer

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"), needs_peer("ip", why="iproute2")]

T = TypeVar("T")
TABLE = "berthtest"
NET_A, NET_B, NET_I = "5eed0a" + "a" * 58, "5eed0b" + "b" * 58, "5eed0c" + "c" * 58
SUBNET = {NET_A: "10.251.71", NET_B: "10.252.71", NET_I: "10.251.72"}
OUT_HOST, OUT_PEER = "10.253.71.1", "10.253.71.2"  # the outside link, a /30
OUT_IF = "vbtestout0"
SHORT = 0.4  # seconds to wait for an answer that must not come

_libc = ctypes.CDLL(None, use_errno=True)


# --- running code inside a namespace -----------------------------------------------

def in_netns(path: str | None, fn: Callable[[], T]) -> T:
    """Run ``fn`` with this thread in the network namespace at ``path`` (None: the host's)."""
    if path is None:
        return fn()
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(path, os.O_RDONLY)
    try:
        assert _libc.setns(target, 0x40000000) == 0
        try:
            return fn()
        finally:
            assert _libc.setns(own, 0x40000000) == 0
    finally:
        os.close(target)
        os.close(own)


def ns_socket(path: str | None, proto: str) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    return in_netns(path, lambda: socket.socket(socket.AF_INET, kind))


class Server:
    """Answers each TCP connection / UDP datagram with the client address it sees."""

    def __init__(self, netns: str | None, ip: str, port: int, proto: str) -> None:
        self.sock = ns_socket(netns, proto)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.proto = proto
        if proto == "tcp":
            self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                if self.proto == "tcp":
                    conn, peer = self.sock.accept()
                    with conn:
                        conn.sendall(peer[0].encode())
                else:
                    _data, peer = self.sock.recvfrom(100)
                    if peer is None:  # shut down
                        return
                    self.sock.sendto(peer[0].encode(), peer)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(2)


@contextlib.contextmanager
def serving(netns: str | None, ip: str, port: int, *protos: str) -> Iterator[None]:
    servers = [Server(netns, ip, port, proto) for proto in protos or ("tcp", "udp")]
    try:
        yield
    finally:
        for server in servers:
            server.close()


def ask(netns: str | None, ip: str, port: int, proto: str, timeout: float = 2.0) -> str | None:
    """The address the server saw us as, or None (refused, dropped, timed out)."""
    with ns_socket(netns, proto) as sock:
        sock.settimeout(timeout)
        try:
            if proto == "tcp":
                sock.connect((ip, port))
                return sock.recv(100).decode() or None
            sock.sendto(b"?", (ip, port))
            return sock.recvfrom(100)[0].decode()
        except OSError:
            return None


def ping(netns: str, ip: str) -> bool:
    done = subprocess.run(["ip", "netns", "exec", os.path.basename(netns), "busybox", "ping", "-c1", "-W1", ip],
                          capture_output=True, check=False)
    return done.returncode == 0


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the lab -------------------------------------------------------------------------

@dataclass
class Lab:
    fw: Firewall
    ns: dict[str, str] = field(default_factory=dict)  # short name → /run/netns path
    ip: dict[str, str] = field(default_factory=dict)
    host_if: dict[str, str] = field(default_factory=dict)
    bridges: dict[str, str] = field(default_factory=dict)  # network id → bridge

    def gateway(self, net: str) -> str:
        return SUBNET[net] + ".1"


def make_netns(name: str) -> str:
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")  # berth-runtime does this for containers
    return f"/run/netns/{name}"


def drop_netns(path: str) -> None:
    subprocess.run(["ip", "netns", "del", os.path.basename(path)], capture_output=True, check=False)


def _build(lab: Lab, prefix: str) -> None:
    for net in (NET_A, NET_B, NET_I):
        bridge = links.bridge_name(net, False)
        lab.bridges[net] = bridge
        assert links.ensure_bridge(bridge, f"{lab.gateway(net)}/24", None)
        lab.fw.ensure_network(NetRules(net, bridge, SUBNET[net] + ".0/24", internal=net == NET_I))
    for short, net, host in (("a1", NET_A, 2), ("a2", NET_A, 3), ("b1", NET_B, 2), ("i1", NET_I, 2)):
        lab.ns[short] = make_netns(f"{prefix}-{short}")
        lab.ip[short] = f"{SUBNET[net]}.{host}"
        lab.host_if[short] = links.host_ifname(f"{prefix}-{short}", net)
        links.attach(lab.ns[short], lab.bridges[net], lab.host_if[short], "eth0", f"{lab.ip[short]}/24",
                     lab.gateway(net), links.mac_for(lab.ip[short]), None)
    # the outside: its own /30 to the host, no route to container subnets (like the internet)
    lab.ns["out"] = make_netns(f"{prefix}-out")
    sh("ip", "link", "add", OUT_IF, "type", "veth", "peer", "name", "eth0", "netns", f"{prefix}-out")
    sh("ip", "addr", "add", f"{OUT_HOST}/30", "dev", OUT_IF)
    sh("ip", "link", "set", OUT_IF, "up")
    sh("ip", "-n", f"{prefix}-out", "addr", "add", f"{OUT_PEER}/30", "dev", "eth0")
    sh("ip", "-n", f"{prefix}-out", "link", "set", "eth0", "up")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    prefix = f"berthtest-{os.getpid()}"
    built = Lab(Firewall(TABLE))
    try:
        _build(built, prefix)
        yield built
    finally:
        for host_if in built.host_if.values():
            links.detach(host_if)
        subprocess.run(["ip", "link", "del", OUT_IF], capture_output=True, check=False)
        for path in built.ns.values():
            drop_netns(path)
        for bridge in built.bridges.values():
            links.remove_bridge(bridge)
        built.fw.remove_all()


@pytest.fixture
def scratch_ns() -> Iterator[Callable[[str], str]]:
    made: list[str] = []

    def make(short: str) -> str:
        made.append(make_netns(f"berthtest-{os.getpid()}-{short}"))
        return made[-1]

    try:
        yield make
    finally:
        for path in made:
            drop_netns(path)


# --- links ---------------------------------------------------------------------------

def test_attach_configures_the_container_end(lab: Lab) -> None:
    out = subprocess.run(["ip", "-n", os.path.basename(lab.ns["a1"]), "-o", "addr", "show", "eth0"],
                         capture_output=True, text=True, check=True).stdout
    assert f"{lab.ip['a1']}/24" in out
    route = subprocess.run(["ip", "-n", os.path.basename(lab.ns["a1"]), "route", "show", "default"],
                           capture_output=True, text=True, check=True).stdout
    assert f"via {lab.gateway(NET_A)} dev eth0" in route
    mac = subprocess.run(["ip", "-n", os.path.basename(lab.ns["a1"]), "-o", "link", "show", "eth0"],
                         capture_output=True, text=True, check=True).stdout
    assert links.mac_for(lab.ip["a1"]) in mac
    master = subprocess.run(["ip", "-o", "link", "show", lab.host_if["a1"]], capture_output=True, text=True,
                            check=True).stdout
    assert f"master {lab.bridges[NET_A]}" in master and "state UP" in master


def test_ensure_bridge_is_idempotent_and_sets_route_localnet(lab: Lab) -> None:
    bridge = lab.bridges[NET_A]
    assert links.ensure_bridge(bridge, f"{lab.gateway(NET_A)}/24", None) is False
    assert links.bridge_exists(bridge)
    with open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet") as handle:
        assert handle.read().strip() == "1"
    assert f"{SUBNET[NET_A]}.0/24" in links.host_routes()
    assert f"{OUT_HOST[:-2]}.0/30" in links.host_routes()
    assert lab.gateway(NET_A) in links.host_addresses()


def test_ensure_bridge_repairs_mtu_and_address_and_remove_bridge() -> None:
    name = "br-5eed0d000000"
    try:
        assert links.ensure_bridge(name, "10.251.73.1/24", 1400) is True
        assert links.ensure_bridge(name, "10.251.73.1/24", 1400) is False
        assert links.ensure_bridge(name, "10.251.74.1/24", 1450) is True  # address replaced, MTU changed
        out = subprocess.run(["ip", "-o", "addr", "show", name], capture_output=True, text=True, check=True).stdout
        assert "10.251.74.1/24" in out and "10.251.73.1" not in out
        assert "mtu 1450" in subprocess.run(["ip", "link", "show", name], capture_output=True, text=True,
                                            check=True).stdout
    finally:
        links.remove_bridge(name)
    assert not links.bridge_exists(name)
    assert links.remove_bridge(name) is False


def test_attach_with_a_bad_netns_path_leaves_no_veth(lab: Lab) -> None:
    host_if = links.host_ifname("bad-netns", NET_A)
    with pytest.raises(InvalidState) as caught:
        links.attach("/proc/999999999/ns/net", lab.bridges[NET_A], host_if, "eth0", f"{SUBNET[NET_A]}.90/24",
                     None, links.mac_for(f"{SUBNET[NET_A]}.90"), None)
    assert caught.value.field == "netns"
    assert not link_exists(host_if)


def test_attach_failing_inside_the_netns_leaves_no_veth(lab: Lab) -> None:
    host_if = links.host_ifname("a1-twice", NET_B)
    with pytest.raises(InvalidState) as caught:  # a1 has an eth0 already
        links.attach(lab.ns["a1"], lab.bridges[NET_B], host_if, "eth0", f"{SUBNET[NET_B]}.91/24", None,
                     links.mac_for(f"{SUBNET[NET_B]}.91"), None)
    assert "creating the veth pair" in str(caught.value)
    assert not link_exists(host_if)


def test_attach_to_a_missing_bridge_fails_cleanly(lab: Lab) -> None:
    host_if = links.host_ifname("no-bridge", NET_A)
    with pytest.raises(InvalidState, match="does not exist"):
        links.attach(lab.ns["a1"], "br-5eed0e000000", host_if, "eth1", "10.251.75.2/24", None,
                     links.mac_for("10.251.75.2"), None)
    assert not link_exists(host_if)


def test_attach_replaces_a_stale_host_end_and_detach_removes_it(lab: Lab,
                                                                scratch_ns: Callable[[str], str]) -> None:
    first, second = scratch_ns("s1"), scratch_ns("s2")
    host_if = links.host_ifname("stale", NET_A)
    ip = f"{SUBNET[NET_A]}.92"
    try:
        links.attach(first, lab.bridges[NET_A], host_if, "eth0", f"{ip}/24", None, links.mac_for(ip), 1400)
        # a crash left host_if behind; attaching again (another namespace) replaces it
        links.attach(second, lab.bridges[NET_A], host_if, "eth0", f"{ip}/24", None, links.mac_for(ip), 1400)
        assert "eth0" not in subprocess.run(["ip", "-n", os.path.basename(first), "-o", "link"],
                                            capture_output=True, text=True, check=True).stdout
        inner = subprocess.run(["ip", "-n", os.path.basename(second), "-o", "link", "show", "eth0"],
                               capture_output=True, text=True, check=True).stdout
        assert "mtu 1400" in inner
        assert ping(second, lab.ip["a1"])
    finally:
        assert links.detach(host_if) is True
    assert not link_exists(host_if)
    assert links.detach(host_if) is False
    assert "eth0" not in subprocess.run(["ip", "-n", os.path.basename(second), "-o", "link"],
                                        capture_output=True, text=True, check=True).stdout


def test_attach_rejects_bad_input(lab: Lab) -> None:
    with pytest.raises(InvalidInput) as caught:
        links.attach(lab.ns["a1"], lab.bridges[NET_A], "vb-this-name-is-too-long", "eth1", "10.0.0.2/24", None,
                     "02:42:0a:00:00:02", None)
    assert caught.value.field == "host_if"
    with pytest.raises(InvalidInput):
        links.attach(lab.ns["a1"], lab.bridges[NET_A], "vbx", "eth1", "10.0.0.2/24", None, "02:42:zz", None)


# --- traffic within and between networks ----------------------------------------------

@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_two_containers_on_one_bridge_talk(lab: Lab, proto: str) -> None:
    with serving(lab.ns["a2"], "0.0.0.0", 7000, proto):
        assert ask(lab.ns["a1"], lab.ip["a2"], 7000, proto) == lab.ip["a1"]  # no NAT inside a network


def test_ping_within_a_network_and_to_the_gateway(lab: Lab) -> None:
    assert ping(lab.ns["a1"], lab.ip["a2"])
    assert ping(lab.ns["a1"], lab.gateway(NET_A))


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_networks_are_isolated(lab: Lab, proto: str) -> None:
    with serving(lab.ns["b1"], "0.0.0.0", 7001, proto), serving(lab.ns["a2"], "0.0.0.0", 7001, proto):
        assert ask(lab.ns["a1"], lab.ip["b1"], 7001, proto, SHORT) is None
        assert ask(lab.ns["b1"], lab.ip["a2"], 7001, proto, SHORT) is None
    assert not ping(lab.ns["a1"], lab.ip["b1"])


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_outside_is_reached_masqueraded_but_not_from_an_internal_network(lab: Lab, proto: str) -> None:
    with serving(lab.ns["out"], "0.0.0.0", 7002, proto):
        assert ask(lab.ns["a1"], OUT_PEER, 7002, proto) == OUT_HOST  # the outside sees the host
        assert ask(lab.ns["b1"], OUT_PEER, 7002, proto) == OUT_HOST
        assert ask(lab.ns["i1"], OUT_PEER, 7002, proto, SHORT) is None


def test_internal_network_cannot_be_entered_from_another_network(lab: Lab) -> None:
    with serving(lab.ns["i1"], "0.0.0.0", 7003, "tcp"):
        assert ask(lab.ns["a1"], lab.ip["i1"], 7003, "tcp", SHORT) is None


def test_outside_cannot_reach_unpublished_container_ports_directly(lab: Lab) -> None:
    out = os.path.basename(lab.ns["out"])
    sh("ip", "-n", out, "route", "add", f"{SUBNET[NET_A]}.0/24", "via", OUT_HOST)
    try:
        with serving(lab.ns["a1"], "0.0.0.0", 7004, "tcp"):
            assert ask(lab.ns["out"], lab.ip["a1"], 7004, "tcp", SHORT) is None
    finally:
        sh("ip", "-n", out, "route", "del", f"{SUBNET[NET_A]}.0/24")


# --- published ports --------------------------------------------------------------------

@pytest.fixture(params=["libnftables", "nft"])
def fw(request: pytest.FixtureRequest, lab: Lab) -> Firewall:
    """The lab's firewall through either backend (same table)."""
    backend = Firewall(TABLE, Nft() if request.param == "libnftables" else Nft(library=None))
    assert backend.nft.backend == request.param
    return backend


@contextlib.contextmanager
def published(fw: Firewall, lab: Lab, owner: str, ports: list[Published]) -> Iterator[None]:
    fw.publish(owner, lab.bridges[NET_A], ports)
    try:
        yield
    finally:
        fw.unpublish(owner)


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_published_port_answers_everywhere(lab: Lab, fw: Firewall, proto: str) -> None:
    port = free_port()
    with serving(lab.ns["a1"], "0.0.0.0", 8000, proto), \
            published(fw, lab, "c-a1", [Published("", port, proto, lab.ip["a1"], 8000)]):
        assert ask(None, "127.0.0.1", port, proto) == lab.gateway(NET_A)  # 127/8 masqueraded onto the bridge
        assert ask(None, OUT_HOST, port, proto) == OUT_HOST  # a host process keeps its source
        assert ask(lab.ns["out"], OUT_HOST, port, proto) == OUT_PEER  # outside: the real client
        assert ask(lab.ns["a2"], OUT_HOST, port, proto) == lab.gateway(NET_A)  # hairpin, masqueraded
        assert ask(lab.ns["a1"], OUT_HOST, port, proto) == lab.gateway(NET_A)  # hairpin to itself
        assert ask(lab.ns["a2"], lab.gateway(NET_A), port, proto) == lab.gateway(NET_A)
        assert ask(lab.ns["b1"], OUT_HOST, port, proto) == lab.ip["b1"]  # another network, via the host
    assert ask(None, "127.0.0.1", port, proto, SHORT) is None
    assert ask(lab.ns["out"], OUT_HOST, port, proto, SHORT) is None


def test_host_ip_restricts_a_published_port(lab: Lab, fw: Firewall) -> None:
    local, outside = free_port(), free_port()
    ports = [Published("127.0.0.1", local, "tcp", lab.ip["a1"], 8001),
             Published(OUT_HOST, outside, "tcp", lab.ip["a1"], 8001)]
    with serving(lab.ns["a1"], "0.0.0.0", 8001, "tcp"), published(fw, lab, "c-a1", ports):
        assert ask(None, "127.0.0.1", local, "tcp") == lab.gateway(NET_A)
        assert ask(None, OUT_HOST, local, "tcp", SHORT) is None
        assert ask(lab.ns["out"], OUT_HOST, local, "tcp", SHORT) is None
        assert ask(lab.ns["out"], OUT_HOST, outside, "tcp") == OUT_PEER
        assert ask(None, "127.0.0.1", outside, "tcp", SHORT) is None


def test_publish_replaces_and_unpublish_removes(lab: Lab, fw: Firewall) -> None:
    first, second = free_port(), free_port()
    with serving(lab.ns["a1"], "0.0.0.0", 8002, "tcp"):
        fw.publish("c-a1", lab.bridges[NET_A], [Published("", first, "tcp", lab.ip["a1"], 8002)])
        try:
            fw.publish("c-a1", lab.bridges[NET_A], [Published("", second, "tcp", lab.ip["a1"], 8002)])
            assert [p.host_port for p in fw.published("c-a1")] == [second]
            assert ask(None, "127.0.0.1", first, "tcp", SHORT) is None
            assert ask(None, "127.0.0.1", second, "tcp") == lab.gateway(NET_A)
        finally:
            fw.unpublish("c-a1")
        fw.unpublish("c-a1")  # nothing left: no error
        assert fw.published("c-a1") == []
        assert ask(None, "127.0.0.1", second, "tcp", SHORT) is None


def test_publish_conflicts_and_port_in_use(lab: Lab, fw: Firewall) -> None:
    taken, listened = free_port(), free_port()
    with published(fw, lab, "c-a1", [Published("", taken, "udp", lab.ip["a1"], 53)]):
        assert fw.port_in_use("", taken, "udp")
        assert fw.port_in_use("127.0.0.1", taken, "udp")
        assert not fw.port_in_use("", taken, "tcp")
        assert not fw.port_in_use("", taken, "udp", exclude="c-a1")
        with pytest.raises(Conflict) as caught:
            fw.publish("c-a2", lab.bridges[NET_A], [Published("127.0.0.1", taken, "udp", lab.ip["a2"], 53)])
        assert caught.value.field == "ports"
    assert not fw.port_in_use("", taken, "udp")
    with serving(None, "127.0.0.1", listened, "tcp"):
        assert fw.port_in_use("", listened, "tcp")
        assert fw.port_in_use("127.0.0.1", listened, "tcp")
        assert not fw.port_in_use(OUT_HOST, listened, "tcp")
    with pytest.raises(InvalidInput):
        fw.port_in_use("203.0.113.9", listened, "tcp")  # not a host address


def test_publish_needs_the_network_and_valid_ports(lab: Lab, fw: Firewall) -> None:
    with pytest.raises(InvalidState):
        fw.publish("c-x", "br-5eed0e000000", [Published("", 9, "tcp", "10.251.75.2", 9)])
    with pytest.raises(InvalidInput):
        fw.publish("c-x", lab.bridges[NET_A], [Published("", 70000, "tcp", lab.ip["a1"], 9)])
    with pytest.raises(InvalidInput):
        fw.publish("c-x", lab.bridges[NET_A], [Published("", 9, "sctp", lab.ip["a1"], 9)])
    with pytest.raises(InvalidInput):
        fw.publish("c-x", lab.bridges[NET_A], [Published("", 9, "tcp", lab.ip["a1"], 9)] * 2)


# --- table lifecycle ---------------------------------------------------------------------

def _tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout


def test_remove_network_and_remove_all_leave_no_table() -> None:
    fw = Firewall("berthtest2")
    try:
        fw.ensure_network(NetRules(NET_A, "br-5eed0aaaaaaa", "10.251.76.0/24", False))
        fw.ensure_network(NetRules(NET_A, "br-5eed0aaaaaaa", "10.251.76.0/24", False))  # idempotent
        fw.ensure_network(NetRules(NET_I, "br-5eed0ccccccc", "10.251.77.0/24", True))
        fw.publish("c-1", "br-5eed0aaaaaaa", [Published("", 9, "tcp", "10.251.76.2", 9)])
        state = fw.state()
        assert state is not None
        assert state.owned("bridges", NET_A) == ["br-5eed0aaaaaaa"]
        assert state.owned("masq", NET_A) == ["10.251.76.0/24"] and state.owned("masq", NET_I) == []
        assert state.owned("internal", NET_I) == ["br-5eed0ccccccc"] and state.owned("internal", NET_A) == []
        assert state.owned("hairpin", NET_A) == [("10.251.76.0/24", "br-5eed0aaaaaaa")]
        fw.remove_network(NET_A)
        text = fw.ruleset()
        assert "br-5eed0aaaaaaa" not in text and "10.251.76.0/24" not in text and "br-5eed0ccccccc" in text
        assert "c-1" in text  # publications outlive their network until unpublished
        fw.remove_network(NET_A)  # gone already: no error
        fw.remove_network(NET_I)  # the last network takes the table with it
        assert "berthtest2" not in _tables()
        assert fw.ruleset() == ""
        fw.ensure_network(NetRules(NET_B, "br-5eed0bbbbbbb", "10.252.76.0/24", False))
        fw.remove_all()
        assert "berthtest2" not in _tables()
        fw.remove_all()
    finally:
        fw.remove_all()


def test_network_internal_flag_can_flip() -> None:
    fw = Firewall("berthtest2")
    try:
        fw.ensure_network(NetRules(NET_A, "br-5eed0aaaaaaa", "10.251.76.0/24", True))
        fw.ensure_network(NetRules(NET_A, "br-5eed0aaaaaaa", "10.251.76.0/24", False))
        state = fw.state()
        assert state is not None
        assert state.owned("internal", NET_A) == [] and state.owned("masq", NET_A) == ["10.251.76.0/24"]
    finally:
        fw.remove_all()
