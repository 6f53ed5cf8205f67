"""The fleet scenarios' application: the host role, a base image imported
from a busybox tar, the overlay network ``shop`` over every host of
``shop_hosts`` and two containers per host (``app-<host>``: httpd, alias
``alias-<host>``, fh1's published on the underlay's port 8080; ``client-<host>``:
a shell to probe from). The bench (bench/bench_fleet.py) converges the same play.

(busybox wget's -T segfaults in Debian 12's busybox-static 1.35: probes use ``timeout``.)
Probes run inside a host's containers through the host's ``berth`` CLI (as a
user on that host would), or — for what busybox cannot do (UDP, a datagram
with DF set) — the host's python3 in a container's network namespace.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.fleet import Fleet, FleetHost, FleetResult

IMAGE = "berth-fleet/busybox:1"
SUBNET = "10.240.0.0/16"
TAR_ON_HOST = "/tmp/berth-fleet-busybox.tar"
PEERS = "{{ shop_peers | default(groups['shop_hosts'] | map('extract', hostvars, 'berth_underlay') | list) }}"


def network_task(**overlay: Any) -> dict[str, Any]:
    return {"name": "The overlay network shop", "berth.engine.network": {
        "name": "shop", "driver": "overlay", "ipam_config": [{"subnet": SUBNET}],
        "overlay": {"local_address": "{{ berth_underlay }}", "peers": PEERS, **overlay}}}


def app_task(env: dict[str, str] | None = None, ipv4_address: str | None = None) -> dict[str, Any]:
    network: dict[str, Any] = {"name": "shop", "aliases": ["alias-{{ inventory_hostname }}"]}
    if ipv4_address:
        network["ipv4_address"] = ipv4_address
    return {"name": "The app container", "berth.engine.container": {
        "name": "app-{{ inventory_hostname }}", "image": IMAGE,
        "command": ["sh", "-c", "mkdir -p /www && echo {{ inventory_hostname }} > /www/index.html"
                    " && dd if=/dev/zero of=/www/big bs=64k count=32 2>/dev/null && exec httpd -f -p 80 -h /www"],
        "networks": [network], "env": env or {},
        "published_ports": "{{ ['8080:80'] if inventory_hostname == 'fh1' else [] }}"}}


def converge_tasks(tar: Path) -> list[dict[str, Any]]:
    return [
        # Scratch input, not engine state: copied under --check too, so the import can plan.
        {"name": "The base image's rootfs tar", "check_mode": False,
         "ansible.builtin.copy": {"src": str(tar), "dest": TAR_ON_HOST, "mode": "0644"}},
        {"name": "The base image", "berth.engine.image": {
            "name": IMAGE, "source": "import", "import_path": TAR_ON_HOST,
            "import_config": {"cmd": ["/bin/sh"], "env": {"PATH": "/bin"}, "working_dir": "/"}}},
        network_task(),
        app_task(),
        {"name": "The client container", "berth.engine.container": {
            "name": "client-{{ inventory_hostname }}", "image": IMAGE, "command": ["sleep", "100000"],
            "networks": [{"name": "shop"}], "stop_signal": "SIGKILL"}},
    ]


@dataclass(frozen=True)
class ShopRuns:
    """The fleet after the role and the overlay app's converge, each run twice (the runs kept for judging)."""

    fleet: Fleet
    role_first: FleetResult
    role_again: FleetResult
    shop_first: FleetResult
    shop_again: FleetResult


def role_play(fleet: Fleet) -> Path:
    """The role, then a berth module and an ordinary one, under the interpreter Ansible discovers."""
    return fleet.write_play("role", [
        {"name": "A berth module after the role", "berth.engine.host_info": {}, "register": "info"},
        {"name": "Other modules are unaffected", "ansible.builtin.copy": {"content": "x\n", "dest": "/tmp/plain"}},
        {"name": "The interpreter used", "ansible.builtin.assert": {"that": [
            "discovered_interpreter_python is match('/usr/bin/python3')", "info.host.kernel is defined"]}},
    ], roles=["berth.engine.host"])


def converge_play(fleet: Fleet, tar: Path, name: str = "shop converge", **play: Any) -> Path:
    return fleet.write_play(name, converge_tasks(tar), roles=["berth.engine.host"], **play)


# --- probes ---------------------------------------------------------------------------


def berth(host: FleetHost, *args: str, check: bool = True, timeout: float = 60) -> str:
    return host.run("berth", *args, check=check, timeout=timeout).stdout


def in_container(host: FleetHost, container: str, script: str, check: bool = True, timeout: float = 30) -> str:
    result = host.run("berth", "exec", container, "sh", "-c", script, check=check, timeout=timeout)
    return result.stdout


def inspect(host: FleetHost, container: str) -> dict[str, Any]:
    found = json.loads(berth(host, "--json", "inspect", container))   # {name: record}
    return found[container] if container in found else next(iter(found.values()))


def container_pid(host: FleetHost, container: str) -> int:
    state = inspect(host, container).get("state") or {}
    return int(state["pid"])


def shop_address(host: FleetHost, container: str) -> str:
    """The container's address on ``shop``, from its record."""
    record = inspect(host, container)
    attached = ((record.get("state") or {}).get("networks") or {}).get("shop") or {}
    if attached.get("ip"):
        return str(attached["ip"])
    raise AssertionError(f"no shop address in {container}'s record: {json.dumps(record)[:2000]}")


def probe_all(host: FleetHost, container: str, urls: list[str]) -> dict[str, str]:
    """Each URL fetched from inside ``container`` in one ``berth exec`` (each exec costs a CLI start)."""
    script = "; ".join(f"echo \"@@ {url} $(timeout 10 wget -q -O - {url} 2>&1)\"" for url in urls)
    out = in_container(host, container, script)
    return {line.split()[1]: " ".join(line.split()[2:]) for line in out.splitlines() if line.startswith("@@ ")}


def lookup(host: FleetHost, container: str, name: str) -> list[str]:
    """The addresses ``name`` resolves to from inside ``container`` (busybox nslookup: UDP to its resolver)."""
    out = in_container(host, container, f"nslookup {name} 2>&1 || true")
    answers = out.split("Name:", 1)[1] if "Name:" in out else ""
    return [line.split()[-1] for line in answers.splitlines() if line.strip().startswith("Address")]


def wait_lookup(host: FleetHost, container: str, name: str, want: str, timeout: float = 15) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = lookup(host, container, name)
        if want in found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def netns_python(host: FleetHost, container: str, code: str, timeout: float = 30) -> str:
    """The host's python3 in the container's network namespace (for UDP and DF probes busybox lacks)."""
    pid = container_pid(host, container)
    return host.run("nsenter", "-t", str(pid), "-n", "/usr/bin/python3", "-c", code, timeout=timeout).stdout


UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", {port}))
s.settimeout({timeout})
print("ready", flush=True)
try:   # one datagram, echoed, then exit (a killed nsenter leaves this child running otherwise)
    data, peer = s.recvfrom(65535)
    print(len(data), peer[0], flush=True)
    s.sendto(data, peer)
except socket.timeout:
    pass
"""

UDP_SEND = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)   # IP_MTU_DISCOVER = IP_PMTUDISC_DO: DF set, never fragmented here
s.settimeout(2)
payload = b"x" * {size}
for attempt in range(5):
    try:
        s.sendto(payload, ("{address}", {port}))
        data, _ = s.recvfrom(65535)
        print("echoed", len(data))
        break
    except socket.timeout:
        continue
    except OSError as error:
        print("error", error)
        break
else:
    print("no echo")
"""


def host_state(host: FleetHost) -> dict[str, str]:
    """What a run on another host must leave alone: the host's engine records and kernel state."""
    state: dict[str, str] = {}
    root = host.path("/var/lib/berth")
    for path in sorted(root.rglob("*.json")):
        if "/containers/" in str(path) or "/networks/" in str(path):
            state[str(path.relative_to(root))] = path.read_text()
    for argv in (("ip", "route", "show", "table", "all"), ("ip", "neigh", "show", "nud", "permanent"),
                 ("bridge", "fdb", "show"), ("ip", "-br", "link")):
        state[" ".join(argv)] = host.run(*argv, check=False).stdout
    return state
