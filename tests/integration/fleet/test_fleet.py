"""Three fresh Debian hosts over real SSH (tests/support/fleet.py), one fleet
per test module and worker: ``converged_shop`` applies the role and
converges the overlay app once (twice each, recording the runs the first two
scenarios judge), so a scenario a parallel worker takes alone still finds
the app converged; the later ones change it in order."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.integration.fleet import shop
from tests.support.fleet import Fleet

SIOCGIFMTU_ETH0 = ("import fcntl, socket, struct\n"
                   "r = fcntl.ioctl(socket.socket(), 0x8921, struct.pack('16si', b'eth0', 0))\n"
                   "print(struct.unpack('16si', r)[1])")


def test_role_on_fresh_hosts_then_rerun_unchanged(converged_shop: shop.ShopRuns) -> None:
    """The role, then a berth module and an ordinary one, under the interpreter Ansible
    discovers (Debian's python3, no pydantic); the re-run changes nothing."""
    first, again = converged_shop.role_first, converged_shop.role_again
    assert first.failed() == 0 and first.returncode == 0, first.summary()
    for host in converged_shop.fleet.hosts:
        assert first.changed(host.name) > 0
        assert host.path("/opt/berth/engine.json").is_file()
        assert host.run("/usr/bin/python3", "-c", "import pydantic", check=False).returncode != 0
    assert again.failed() == 0 and again.changed() == 0, (again.changed_tasks(), again.summary())


def test_overlay_reaches_across_hosts(converged_shop: shop.ShopRuns) -> None:
    """Containers on each host reach the others' by IP, name and alias, over TCP; names
    resolve over UDP (nslookup) and a UDP datagram crosses; the converge re-runs unchanged."""
    result, again = converged_shop.shop_first, converged_shop.shop_again
    assert result.failed() == 0, result.summary()
    assert again.failed() == 0 and again.changed() == 0, (again.changed_tasks(), again.summary())
    hosts = converged_shop.fleet.hosts
    addresses = {h.name: shop.shop_address(h, f"app-{h.name}") for h in hosts}
    for client in hosts:
        want = {f"http://{target}/": server.name for server in hosts
                for target in (addresses[server.name], f"app-{server.name}", f"alias-{server.name}")}
        assert shop.probe_all(client, f"client-{client.name}", list(want)) == want, client.name
        for server in hosts:
            assert addresses[server.name] in shop.lookup(client, f"client-{client.name}", f"alias-{server.name}")
    _udp_crosses(converged_shop.fleet, size=64, port=7001)


def _udp_crosses(fleet: Fleet, size: int, port: int) -> None:
    """A UDP datagram of ``size`` bytes (DF set) from fh2's client to fh1's app and back."""
    import subprocess
    import threading

    server, client = fleet.host("fh1"), fleet.host("fh2")
    address = shop.shop_address(server, "app-fh1")
    pid = shop.container_pid(server, "app-fh1")
    code = shop.UDP_ECHO.format(port=port, timeout=8)
    echo = subprocess.Popen(["nsenter", "-t", str(server.init_pid), "-n", "-m", "-u", "-p", "--", "nsenter", "-t",
                             str(pid), "-n", "/usr/bin/python3", "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert echo.stdout is not None
        assert echo.stdout.readline().strip() == "ready"
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(echo.stdout.readlines()))  # type: ignore[union-attr]
        reader.start()
        sent = shop.netns_python(client, "client-fh2", shop.UDP_SEND.format(size=size, address=address, port=port))
        assert f"echoed {size}" in sent, (sent, lines)
    finally:
        echo.kill()
        echo.wait()


@pytest.mark.usefixtures("converged_shop")
def test_published_port_of_an_overlay_container(shop_fleet: Fleet) -> None:
    """fh1's app publishes 8080:80: the controller reaches it over the underlay, and so does another host."""
    fh1 = shop_fleet.host("fh1")
    with urllib.request.urlopen(f"http://{fh1.address}:8080/", timeout=5) as response:
        assert response.read().decode().strip() == "fh1"
    got = shop_fleet.host("fh2").run("timeout", "10", "busybox", "wget", "-q", "-O", "-", f"http://{fh1.address}:8080/")
    assert got.stdout.strip() == "fh1"


@pytest.mark.usefixtures("converged_shop")
def test_mtu_sized_transfer_crosses(shop_fleet: Fleet) -> None:
    """A datagram as large as the overlay's MTU allows, with DF set, crosses; so does a 2 MiB TCP transfer."""
    fh2 = shop_fleet.host("fh2")
    # not /sys/class/net: sysfs shows the machine's links wherever it is read from
    underlay_mtu = json.loads(fh2.run("ip", "-j", "link", "show", "eth0").stdout)[0]["mtu"]
    overlay_mtu = int(shop.netns_python(fh2, "client-fh2", SIOCGIFMTU_ETH0).strip())
    assert overlay_mtu <= underlay_mtu - 50, (overlay_mtu, underlay_mtu)   # VXLAN's overhead over IPv4
    _udp_crosses(shop_fleet, size=overlay_mtu - 28, port=7003)
    size = shop.in_container(fh2, "client-fh2", "timeout 10 wget -q -O - http://app-fh1/big | wc -c")
    assert int(size) == 2 * 1024 * 1024


@pytest.mark.usefixtures("converged_shop")
def test_recreated_container_followed_by_name_and_limit_leaves_others(shop_fleet: Fleet, rootfs_tar: Path) -> None:
    """app-fh1 recreated with a new address by a run limited to fh1: fh2 and fh3 follow by name
    within seconds, without a run there, and nothing of theirs changed."""
    fh1, others = shop_fleet.host("fh1"), [h for h in shop_fleet.hosts if h.name != "fh1"]
    old = shop.shop_address(fh1, "app-fh1")
    new = ".".join([*old.split(".")[:3], str(int(old.split(".")[3]) + 100)])
    before = {h.name: shop.host_state(h) for h in others}
    tasks = shop.converge_tasks(rootfs_tar)
    tasks[3] = shop.app_task(env={"GENERATION": "2"}, ipv4_address=new)
    play = shop_fleet.write_play("recreate", tasks, roles=["berth.engine.host"])
    result = shop_fleet.play(play, limit="fh1")
    assert result.failed() == 0 and set(result.recap) == {"fh1"}, result.summary()
    assert shop.shop_address(fh1, "app-fh1") == new
    for host in others:
        assert new in shop.wait_lookup(host, f"client-{host.name}", "app-fh1", new), host.name
        got = shop.in_container(host, f"client-{host.name}", "timeout 10 wget -q -O - http://alias-fh1/")
        assert got.strip() == "fh1"
        assert shop.host_state(host) == before[host.name], f"{host.name} changed by a run limited to fh1"


@pytest.mark.usefixtures("converged_shop")
def test_spoofed_vxlan_from_a_non_peer_is_dropped(shop_fleet: Fleet) -> None:
    """A VXLAN packet for shop's VNI from an underlay address that is not a peer never reaches
    fh1's container; the same packet with a peer's source address does (so the packet is right)."""
    from tests.integration.fleet.spoof import send_spoofed_vxlan

    fh1, fh2 = shop_fleet.host("fh1"), shop_fleet.host("fh2")
    got = send_spoofed_vxlan(shop_fleet, target=fh1, peer=fh2, rogue_address=f"{shop_fleet.net}.99")
    assert got["from_rogue"] == 0, got
    assert got["as_peer"] >= 1, f"the crafted packet never arrived even from a peer's address: {got}"


@pytest.mark.usefixtures("converged_shop")
def test_kill_monitor_then_converge(shop_fleet: Fleet, rootfs_tar: Path) -> None:
    """kill -9 of fh2's monitor: the next converge brings everything back, names resolve again."""
    fh2 = shop_fleet.host("fh2")
    pid = fh2.path("/run/berth/monitor.pid").read_text().split()[0]
    fh2.run("kill", "-9", pid)
    result = shop_fleet.play(shop.converge_play(shop_fleet, rootfs_tar))
    assert result.failed() == 0, result.summary()
    for client in shop_fleet.hosts:
        got = shop.in_container(client, f"client-{client.name}", "timeout 10 wget -q -O - http://alias-fh2/")
        assert got.strip() == "fh2", client.name


@pytest.mark.usefixtures("converged_shop")
def test_converge_under_mitogen(shop_fleet: Fleet, rootfs_tar: Path) -> None:
    """strategy mitogen_linear (modules in a persistent interpreter per host): a change, then no change."""
    tasks = shop.converge_tasks(rootfs_tar)
    tasks[3] = shop.app_task(env={"GENERATION": "mitogen"})
    play = shop_fleet.write_play("mitogen", tasks, roles=["berth.engine.host"])
    changed = shop_fleet.play(play, strategy="mitogen_linear")
    assert changed.failed() == 0 and changed.changed() > 0, changed.summary()
    again = shop_fleet.play(play, strategy="mitogen_linear")
    assert again.failed() == 0 and again.changed() == 0, (again.changed_tasks(), again.summary())
    for client in shop_fleet.hosts:
        got = shop.in_container(client, f"client-{client.name}", "timeout 10 wget -q -O - http://alias-fh3/")
        assert got.strip() == "fh3", client.name


@pytest.mark.usefixtures("converged_shop")
def test_host_removed_from_peers(shop_fleet: Fleet, rootfs_tar: Path) -> None:
    """fh3 leaves shop's peers: the next run on fh1 and fh2 removes every trace of it there."""
    fh3 = shop_fleet.host("fh3")
    staying = [h for h in shop_fleet.hosts if h is not fh3]
    play = shop.converge_play(shop_fleet, rootfs_tar, name="without fh3")
    result = shop_fleet.play(play, limit="fh1,fh2", extra_vars={"shop_peers": [h.address for h in staying]})
    assert result.failed() == 0 and result.changed() > 0, result.summary()
    for host in staying:
        kernel = "\n".join(host.run(*argv).stdout for argv in (
            ("ip", "route", "show"), ("ip", "neigh", "show", "nud", "permanent"), ("bridge", "fdb", "show")))
        assert fh3.address not in kernel, (host.name, kernel)
        assert not shop.lookup(host, f"client-{host.name}", "app-fh3"), host.name
