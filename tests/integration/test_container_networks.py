"""Containers on networks, on the real kernel: names and aliases (TCP and
UDP), isolation, internal networks, published ports from every side, live
connect/disconnect, static addresses, crashes and bad input — nothing left."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network
from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.network import firewall
from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
from tests.integration.test_containers import Berth
from tests.support.isolation import netns_name
from tests.support.leaks import ContainerWatch
from tests.support.networks import drop_networks
from tests.support.runtime import mounts_under, wait_for, web_rootfs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/netbox:1"
OUTSIDE_NS = netns_name("outside")   # /run/netns is host-wide: named per test process
HOST_SIDE, OUTSIDE_IP, HOST_IP = "bto-host", "10.254.77.2", "10.254.77.1"
OUTSIDE_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8099)); s.listen(8); print("ready", flush=True)
while True:
    c, peer = s.accept(); c.recv(4096); body = f"outside sees {peer[0]}\\n".encode()
    c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body); c.close()
"""


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


@pytest.fixture
def outside() -> Iterator[subprocess.Popen[str]]:
    """A network namespace playing an external host, linked to the host by a
    /30 (the host's end, 10.254.77.1, is a host address), serving on 8099."""
    subprocess.run(["ip", "netns", "add", OUTSIDE_NS], check=True)
    server = None
    try:
        for cmd in (["ip", "link", "add", HOST_SIDE, "type", "veth", "peer", "name", "bto-out"],
                    ["ip", "link", "set", "bto-out", "netns", OUTSIDE_NS],
                    ["ip", "addr", "add", f"{HOST_IP}/30", "dev", HOST_SIDE], ["ip", "link", "set", HOST_SIDE, "up"],
                    ["ip", "-n", OUTSIDE_NS, "addr", "add", f"{OUTSIDE_IP}/30", "dev", "bto-out"],
                    ["ip", "-n", OUTSIDE_NS, "link", "set", "bto-out", "up"],
                    ["ip", "-n", OUTSIDE_NS, "link", "set", "lo", "up"]):
            subprocess.run(cmd, check=True)
        server = subprocess.Popen(["ip", "netns", "exec", OUTSIDE_NS, sys.executable, "-c", OUTSIDE_SERVER],
                                  stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield server
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", HOST_SIDE], check=False)
        subprocess.run(["ip", "netns", "del", OUTSIDE_NS], check=False)


@pytest.fixture
def berth(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, udpecho: Path) -> Iterator[Berth]:
    links_before, published_before = _links(), set(firewall.Firewall().published())   # e.g. the demo app's
    tool = Berth(tmp_path)
    rootfs = web_rootfs(tmp_path_factory.mktemp("netbox"), ("timeout", "ping", "nslookup", "cut", "seq"), udpecho,
                        "hello from web\n")
    engine = Engine.open(tool.state, tool.run)
    made = ContainerWatch(engine.layout.containers)
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sh"], exposed_ports=["80/tcp", "5353/udp"]),
                  parse_reference(IMAGE))
    tool.engine = engine  # type: ignore[attr-defined]
    yield tool
    for name in json.loads(tool("ps", "-a", "--json").stdout or "{}"):
        tool("rm", "-f", name, check=False)
    assert wait_for(lambda: tool.monitor_pid() is None, timeout=10), "the monitor did not exit"
    drop_networks(engine)
    assert not mounts_under(tmp_path)
    assert _links() - links_before == set(), "veths or bridges left behind"
    assert set(firewall.Firewall().published()) <= published_before, "published ports left behind"
    leftovers = made.cgroups_left()
    made.close()
    assert not leftovers, f"container cgroups left behind: {leftovers}"


def network(berth: Berth, name: str, subnet: str, **options: object) -> dict:
    service = NetworkService(berth.engine)  # type: ignore[attr-defined]
    request = NetworkRequest(name=name, ipam_config=[{"subnet": subnet}], **options)
    return converge_network(service, request)["network"]


def sh(berth: Berth, name: str, script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = berth("run", "--rm", "--name", name, *args, IMAGE, "sh", "-c", script, check=False)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def state(berth: Berth, name: str) -> dict:
    return berth.inspect(name)["state"]


GET = "printf 'GET / HTTP/1.0\\r\\n\\r\\n'"
WEB = "httpd -p 80 -h /www; exec udpecho serve 5353"
RESOLVE = "$(awk -v n={} '$2==n || $3==n {{print $1}}' /etc/hosts)"   # busybox wget resolves through it too


def test_names_and_aliases_over_tcp_and_udp_only_on_user_networks(berth: Berth) -> None:
    network(berth, "app", "10.254.10.0/24")
    berth("run", "-d", "--name", "srv", "--network", "app", "--network-alias", "db", IMAGE, "sh", "-c", WEB)
    out = sh(berth, "cli", "wget -q -O - http://srv/; wget -q -O - http://db/; udpecho send "
             + RESOLVE.format("db") + " 5353 ping", "--network", "app")
    assert out.stdout == "hello from web\n" * 2 + "echo: ping"
    assert wait_for(lambda: "ping" in berth("logs", "srv").stdout, timeout=5)
    # the default network resolves no container names (Docker's behaviour)
    berth("run", "-d", "--name", "plain", IMAGE, "httpd", "-f", "-p", "80", "-h", "/www")
    hosts = sh(berth, "cli2", "cat /etc/hosts").stdout   # (a failed lookup crashes static busybox's wget)
    assert "plain" not in hosts and "srv" not in hosts
    ip = state(berth, "plain")["networks"]["bridge"]["ip"]
    assert sh(berth, "cli3", f"wget -q -O - http://{ip}/").stdout == "hello from web\n"


def test_isolation_between_networks_and_internal(berth: Berth, outside: subprocess.Popen[str]) -> None:
    network(berth, "front", "10.254.12.0/24")
    network(berth, "back", "10.254.13.0/24")
    network(berth, "sealed", "10.254.14.0/24", internal=True)
    berth("run", "-d", "--name", "api", "--network", "back", IMAGE, "httpd", "-f", "-p", "80", "-h", "/www")
    api = state(berth, "api")["networks"]["back"]["ip"]
    # (busybox's wget -T crashes in Debian's static build: nc -w bounds the blocked attempts)
    blocked = sh(berth, "x", f"{GET} | nc -w 3 {api} 80", "--network", "front", check=False)
    assert blocked.returncode != 0 and blocked.stdout == "", "traffic between two networks is dropped"
    out = sh(berth, "y", f"wget -q -O - http://{OUTSIDE_IP}:8099/", "--network", "front")
    assert out.stdout == f"outside sees {HOST_IP}\n", "outbound traffic is masqueraded"
    sealed = sh(berth, "z", f"{GET} | nc -w 3 {OUTSIDE_IP} 8099", "--network", "sealed", check=False)
    assert sealed.returncode != 0 and sealed.stdout == "", "an internal network has no way out"


def test_published_ports_from_every_side(berth: Berth, outside: subprocess.Popen[str]) -> None:
    network(berth, "pub", "10.254.15.0/24")
    berth("run", "-d", "--name", "web", "--network", "pub", "-p", "18081:80", "-p", "127.0.0.1::80",
          "-p", "15353:5353/udp", IMAGE, "sh", "-c", WEB)
    ports = state(berth, "web")["ports"]
    random_port = next(p["host_port"] for p in ports if p["host_ip"] == "127.0.0.1")
    assert 1024 < random_port < 65536
    for url in ("http://127.0.0.1:18081/", f"http://{HOST_IP}:18081/", f"http://127.0.0.1:{random_port}/"):
        with urllib.request.urlopen(url, timeout=5) as page:
            assert page.read() == b"hello from web\n", url
    external = subprocess.run(["ip", "netns", "exec", OUTSIDE_NS, "/bin/busybox", "wget", "-q", "-O", "-",
                               f"http://{HOST_IP}:18081/"], capture_output=True, text=True, timeout=10, check=False)
    assert external.stdout == "hello from web\n", external.stderr
    hairpin = sh(berth, "peer", f"wget -q -O - http://{HOST_IP}:18081/", "--network", "pub")
    assert hairpin.stdout == "hello from web\n"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"over udp\n", ("127.0.0.1", 15353))
    assert wait_for(lambda: "over udp" in berth("logs", "web").stdout, timeout=5)
    taken = berth("run", "-d", "--name", "clash", "--network", "pub", "-p", "18081:80", IMAGE, "sleep", "9",
                  check=False)
    assert taken.returncode == 125 and "18081" in taken.stderr and "in use" in taken.stderr
    assert state(berth, "clash")["status"] != "running"
    web_id = berth.inspect("web")["id"]
    berth("stop", "-t", "1", "web")
    assert firewall.Firewall().published(web_id) == [], "rules go when the container stops"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 18081), 2).close()


def test_publish_all_and_host_listener_conflict(berth: Berth) -> None:
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 18083))
        listener.listen()
        refused = berth("run", "-d", "--name", "busy", "-p", "18083:80", IMAGE, "sleep", "9", check=False)
        assert refused.returncode == 125 and "18083" in refused.stderr and "in use" in refused.stderr
    network(berth, "extra", "10.254.22.0/24")
    berth("run", "-d", "--name", "all", "--network", "extra", "-P", IMAGE, "httpd", "-f", "-p", "80", "-h", "/www")
    ports = state(berth, "all")["ports"]
    assert {(p["container_port"], p["proto"]) for p in ports} == {(80, "tcp"), (5353, "udp")}
    network(berth, "more", "10.254.23.0/24")
    ContainerService(berth.engine).set_networks("all", [{"name": "extra"}, {"name": "more"}])  # type: ignore
    assert state(berth, "all")["ports"] == ports, "a live connect keeps the random host ports"


def inside(pid: int) -> dict[str, tuple[str, int, str]]:
    """The container's IPv4 interfaces as pyroute2 (an independent netlink client) reads them."""
    from pyroute2 import NetNS

    with NetNS(f"/proc/{pid}/ns/net") as ns:
        macs = {link["index"]: link.get_attr("IFLA_ADDRESS") for link in ns.get_links()}
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ns.get_links()}
        return {names[a["index"]]: (a.get_attr("IFA_ADDRESS"), a["prefixlen"], macs[a["index"]])
                for a in ns.get_addr(family=socket.AF_INET)}


def test_live_connect_disconnect_and_static_address(berth: Berth) -> None:
    network(berth, "one", "10.254.16.0/24")
    network(berth, "two", "10.254.17.0/24")
    service = ContainerService(berth.engine)  # type: ignore[attr-defined]
    berth("run", "-d", "--name", "live", "--network", "one", "--ip", "10.254.16.50", IMAGE, "sleep", "60")
    pid = state(berth, "live")["pid"]
    service.set_networks("live", [{"name": "one", "ipv4_address": "10.254.16.50"}, {"name": "two"}])
    addresses = berth("exec", "live", "ip", "-o", "-4", "addr").stdout
    assert "eth0" in addresses and "10.254.16.50" in addresses and "eth1" in addresses and "10.254.17." in addresses
    service.set_networks("live", [{"name": "two"}])
    addresses = berth("exec", "live", "ip", "-o", "-4", "addr").stdout
    assert "10.254.16.50" not in addresses and "eth1" in addresses
    assert state(berth, "live")["pid"] == pid, "connect and disconnect happen in place"
    assert inside(pid) == {"eth1": ("10.254.17.2", 24, state(berth, "live")["networks"]["two"]["mac"]),
                           "lo": ("127.0.0.1", 8, "00:00:00:00:00:00")}
    service.set_networks("live", [{"name": "one", "ipv4_address": "10.254.16.50"}])
    berth("stop", "-t", "0", "live")
    berth("start", "live")
    assert state(berth, "live")["networks"]["one"]["ip"] == "10.254.16.50", "a restart keeps a static address"
    taken = berth("run", "-d", "--name", "twin", "--network", "one", "--ip", "10.254.16.50", IMAGE, "true",
                  check=False)
    assert taken.returncode == 125 and "in use by container live" in taken.stderr


def test_killed_monitor_then_converge_leaves_nothing(berth: Berth) -> None:
    network(berth, "crash", "10.254.18.0/24")
    berth("run", "-d", "--name", "victim", "--network", "crash", "-p", "18084:80", IMAGE, "sleep", "60")
    pid, veth = state(berth, "victim")["pid"], state(berth, "victim")["networks"]["crash"]["host_if"]
    os.kill(berth.monitor_pid() or 0, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=5)
    assert state(berth, "victim")["status"] == "exited"   # refresh() repairs the record...
    victim_id = berth.inspect("victim")["id"]
    assert firewall.Firewall().published(victim_id) == [] and veth not in _links()   # ...and the host
    berth("start", "victim")                              # converging again: a new monitor, same address
    again = state(berth, "victim")
    assert again["status"] == "running" and again["ports"][0]["host_port"] == 18084
    assert again["networks"]["crash"]["host_if"] == veth


@pytest.mark.parametrize("args, words", [
    (["-p", "99999:80"], "published_ports"),
    (["-p", "80:http"], "published_ports"),
    (["--network", "nowhere"], "network 'nowhere' does not exist"),
    (["--network", "host", "--network", "app"], "cannot be combined"),
    (["--network-alias", "x"], "user-defined network"),
])
def test_bad_input_creates_nothing(berth: Berth, args: list[str], words: str) -> None:
    result = berth("run", "--name", "bad", *args, IMAGE, "true", check=False)
    assert result.returncode == 125 and words in result.stderr, result.stderr
    assert berth("inspect", "bad", check=False).returncode == 1


def test_static_address_outside_the_range(berth: Berth) -> None:
    network(berth, "ranged", "10.254.19.0/24")
    result = berth("run", "--name", "far", "--network", "ranged", "--ip", "10.254.20.5", IMAGE, "true", check=False)
    assert result.returncode == 125 and "10.254.20.5" in result.stderr
    service = NetworkService(berth.engine)  # type: ignore[attr-defined]
    assert service.store.allocations(service.require("ranged")["id"]) == {}, "nothing allocated"


def test_network_modes_host_none_and_container(berth: Berth) -> None:
    host_links = _links()
    inside_host = sh(berth, "h", "ip -o link | cut -d: -f2", "--network", "host").stdout.split()
    assert {name.split("@")[0] for name in inside_host} == host_links, "network_mode host shares the host's links"
    assert sh(berth, "n", "ip -o link | cut -d: -f2", "--network", "none").stdout.split() == ["lo"]
    berth("run", "-d", "--name", "owner", IMAGE, "sleep", "60")
    owner_ip = state(berth, "owner")["networks"]["bridge"]["ip"]
    joined = sh(berth, "j", "ip -o -4 addr", "--network", "container:owner").stdout
    assert owner_ip in joined, "container:<name> joins that container's network namespace"
    stopped = berth("create", "--name", "parked", IMAGE, "true")
    assert stopped.returncode == 0
    refused = berth("run", "--rm", "--name", "k", "--network", "container:parked", IMAGE, "true", check=False)
    assert refused.returncode == 125 and "parked is not running" in refused.stderr


def test_addresses_go_back_to_the_pool_on_removal(berth: Berth) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.network.store import NetworkStore

    network_id = network(berth, "pool", "10.254.21.0/24")["id"]
    store = NetworkStore(berth.engine)  # type: ignore[attr-defined]
    berth("run", "-d", "--name", "p1", "--network", "pool", IMAGE, "sleep", "60")
    berth("create", "--name", "p2", "--network", "pool", IMAGE, "true")
    assert len(store.allocations(network_id)) == 1, "an address is taken at start, kept while the container exists"
    berth("stop", "-t", "0", "p1")
    assert len(store.allocations(network_id)) == 1
    berth("rm", "p1", "p2")
    assert store.allocations(network_id) == {}
