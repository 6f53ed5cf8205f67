"""Overlay networks on the real kernel, without SSH: three network namespaces
as hosts on an underlay bridge of their own (tests/support/overlay_hosts.py),
the engine run inside each; containers on different hosts reach each other
by address (ICMP, TCP, UDP, an MTU-sized transfer), a published port of an
overlay container works, VXLAN from a non-peer is dropped, a peer taken out
of ``peers`` loses its entries, and nothing is left behind."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.overlay_hosts import Host, underlay
from tests.support.runtime import mounts_under, wait_for, web_rootfs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/ovbox:1"
SUBNET = "10.240.0.0/16"
PORT = 4789


@pytest.fixture
def hosts(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, udpecho: Path) -> Iterator[list[Host]]:
    rootfs = web_rootfs(tmp_path_factory.mktemp("ovbox"), ("timeout", "ping", "nc", "head", "dd", "md5sum"),
                        udpecho, "hello over the overlay\n")
    (rootfs / "www" / "big").write_bytes(os.urandom(1 << 20))  # full-size TCP segments across the overlay
    with underlay(tmp_path, 3) as made:
        for host in made:
            engine = Engine.open(host.cli.state, host.cli.run)
            import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sh"], exposed_ports=["80/tcp"]),
                          parse_reference(IMAGE))
        yield made
        for host in made:
            for name in json.loads(host.cli("ps", "-a", "--json").stdout or "{}"):
                host.cli("rm", "-f", name, check=False)
            assert wait_for(lambda h=host: h.cli.monitor_pid() is None, timeout=10), "a monitor did not exit"
            for record in host.network(name="shop", state="absent", force=True, **roots(host)).get("actions", []):
                assert "removed" in record
            assert kernel_leftovers(host) == [], f"{host.name}: left behind"
    assert not mounts_under(tmp_path)


def roots(host: Host) -> dict:
    return {"engine": {"state_root": str(host.cli.state), "run_root": str(host.cli.run)}}


def shop(host: Host, peers: list[Host], check: bool = False, **extra: object) -> dict:
    return host.network(check=check, name="shop", driver="overlay", ipam_config=[{"subnet": SUBNET}],
                        overlay={"local_address": host.address, "peers": [p.address for p in peers], "port": PORT,
                                 **extra}, **roots(host))


def kernel_leftovers(host: Host) -> list[str]:
    links = host.sh("ip", "-o", "link").stdout
    found = [line.split(":")[1].strip() for line in links.splitlines()
             if any(line.split(":")[1].strip().startswith(p) for p in ("vx-", "br-", "vb"))]
    routes = host.sh("ip", "route").stdout
    found += [line for line in routes.splitlines() if line.startswith("10.240.")]
    table = host.sh("nft", "list", "table", "ip", "berth", check=False)
    if table.returncode == 0:
        found.append("nft table ip berth")
    return found


def run(host: Host, name: str, script: str, *args: str) -> None:
    host.cli("run", "-d", "--name", name, "--network", "shop", *args, IMAGE, "sh", "-c", script)


def inside(host: Host, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = host.cli("run", "--rm", "--network", "shop", IMAGE, "sh", "-c", script, check=False)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def address(host: Host, name: str) -> str:
    return host.ip_of(name, "shop")


def test_overlay_across_hosts(hosts: list[Host]) -> None:
    a, b, c = hosts
    peers = [a, b]
    # check mode on a fresh host plans everything and creates nothing
    planned = shop(a, peers, check=True)
    assert planned["changed"] and not planned.get("failed"), planned
    assert kernel_leftovers(a) == []
    first = [shop(h, peers) for h in (a, b)]
    assert all(r["changed"] for r in first), first
    assert [shop(h, peers)["changed"] for h in (a, b)] == [False, False]
    assert not shop(a, peers, check=True)["changed"]
    record = first[0]["network"]
    overlay = record["overlay"]
    assert overlay["peers"] == [a.address, b.address] and overlay["host_subnet"] == "10.240.0.0/24"
    assert record["subnet"] == "10.240.0.0/24" and record["gateway"] == "10.240.0.1"
    assert overlay["slices"] == {a.address: "10.240.0.0/24", b.address: "10.240.1.0/24"}
    assert overlay["mtu"] == 1450 and record["mtu"] == 1450

    run(a, "web", "httpd -p 80 -h /www; exec udpecho serve 5353", "-p", "8080:80")
    web = address(a, "web")
    assert web.startswith("10.240.0.")
    assert wait_for(lambda: inside(b, f"ping -c 1 -W 2 {web}", check=False).returncode == 0, timeout=10)
    got = inside(b, f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc {web} 80").stdout
    assert "hello over the overlay" in got
    assert "echo: hi" in inside(b, f"udpecho send {web} 5353 hi").stdout
    # an MTU-sized transfer (1450 - 28 bytes of ICMP payload, do not fragment) crosses
    inside(b, f"ping -c 1 -W 2 -s 1422 {web}")
    size = inside(b, f"printf 'GET /big HTTP/1.0\\r\\n\\r\\n' | nc {web} 80 | wc -c").stdout.strip()
    assert int(size) > 1 << 20, size
    # the container's address is seen unchanged (no masquerade between slices)
    run(b, "client", "sleep 600")
    client = address(b, "client")
    assert client.startswith("10.240.1.")
    # published port of an overlay container, from another host's underlay
    got = b.python(f"""
        import socket
        s = socket.create_connection(("{a.address}", 8080), timeout=5)
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        print(s.makefile("rb").read().decode())
    """)
    assert "hello over the overlay" in got.stdout, got

    # VXLAN from a host that is not a peer is dropped by a's firewall
    before = _drops(a)
    c.python(f"""
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(5):
            s.sendto(b"\\x08\\x00\\x00\\x00" + b"\\x00\\x00\\x01\\x00" + b"x" * 60, ("{a.address}", {PORT}))
    """)
    assert wait_for(lambda: _drops(a) >= before + 5, timeout=5), (before, _drops(a))

    # a third host joins, then leaves: only the per-peer entries change
    bridge_index = _ifindex(a, record["bridge"])
    assert shop(a, [a, b, c])["changed"]
    assert c.address in a.sh("bridge", "fdb", "show", "dev", overlay["device"]).stdout
    diff = shop(a, [a, b], check=True)
    assert diff["changed"] and any("converged peers" in x for x in diff["actions"]), diff
    assert shop(a, [a, b])["changed"]
    fdb = a.sh("bridge", "fdb", "show", "dev", overlay["device"]).stdout
    assert c.address not in fdb and b.address in fdb
    assert "10.240.2.0/24" not in a.sh("ip", "route").stdout
    allowed = a.sh("nft", "list", "set", "ip", "berth", "vxlan_peers").stdout
    assert c.address not in allowed and b.address in allowed
    assert _ifindex(a, record["bridge"]) == bridge_index, "the bridge was recreated"
    assert inside(b, f"ping -c 1 -W 2 {web}", check=False).returncode == 0, "containers disrupted"


def _drops(host: Host) -> int:
    """Packets the input chain's VXLAN drop rule has counted (nft counters via a listed ruleset)."""
    text = host.sh("nft", "-j", "list", "chain", "ip", "berth", "input").stdout
    for item in json.loads(text)["nftables"]:
        rule = item.get("rule")
        if rule and any("drop" in e for e in rule["expr"]):
            return sum(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
    return 0


def _ifindex(host: Host, name: str) -> int:
    return int(host.sh("cat", f"/sys/class/net/{name}/ifindex", check=False).stdout.strip() or
               host.sh("ip", "-o", "link", "show", name).stdout.split(":")[0])


def test_bad_input_leaves_nothing(hosts: list[Host]) -> None:
    a, b, _c = hosts
    cases = [
        ({"local_address": "198.51.100.99"}, "overlay.local_address"),
        ({"vni": 1 << 24}, "overlay.vni"),
        ({"port": 0}, "overlay.port"),
        ({"host_subnet": "10.99.0.0/24"}, "overlay.host_subnet"),
    ]
    for extra, field in cases:
        result = shop(a, [a, b], **extra)
        assert result.get("failed") and result["field"] == field, (extra, result)
    result = a.network(name="shop", driver="overlay", encrypted=True, ipam_config=[{"subnet": SUBNET}],
                       overlay={"local_address": a.address}, **roots(a))
    assert result.get("failed") and "CONFIG_INET_ESP" in result["msg"] and result["field"] == "encrypted"
    assert kernel_leftovers(a) == []
