"""Fleet figures: a simulated fleet of three fresh hosts over SSH (tests/support/fleet.py).

  - converge (fresh hosts), no-op re-run and ``--check`` of the role + the overlay
    network ``shop`` + six containers (two per host; tests/integration/fleet/shop.py),
    with Ansible's default strategy and with Mitogen (``mitogen_linear``), each on a
    fleet of its own: wall time and CPU (RUSAGE_CHILDREN: ansible-playbook, its ssh
    and everything they waited for on this machine — the hosts' side included, as
    the hosts are namespaces of this machine, but not daemons they leave running);
  - TCP round-trip latency (1-byte ping-pong) and throughput (a 256 MiB stream)
    between containers: across hosts over the overlay, vs two containers on one
    host's bridge, vs the hosts' own underlay (host to host, no overlay);
  - a name lookup: an A query to the container's resolver for a container of
    another host (the resolver asks its peer), vs one of the same host.

The measuring programs are the host's python3 run in the containers' network
namespaces (busybox has none). Run as root, from the repo, in a network namespace
of its own: .build/venv/bin/python bench/bench_fleet.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from tests.integration.fleet import shop
from tests.support.fleet import Fleet, FleetHost, busybox_tar, fleet
from tests.support.isolation import enter_private_netns

ROWS: list[tuple[str, str, str]] = []

SERVER = r"""
import socket, sys
mode = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7100)); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if mode == "echo":
    while True:
        b = c.recv(1)
        if not b: break
        c.sendall(b)
else:
    n = 0
    while True:
        b = c.recv(1 << 20)
        if not b: break
        n += len(b)
    c.sendall(str(n).encode())
"""

CLIENT = r"""
import socket, sys, time
mode, address = sys.argv[1], sys.argv[2]
c = socket.create_connection((address, 7100), timeout=10); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if mode == "echo":
    samples = []
    for _i in range(3000):
        t = time.perf_counter(); c.sendall(b"x"); c.recv(1); samples.append(time.perf_counter() - t)
    samples.sort(); print(samples[len(samples) // 2] * 1e3)
else:
    total, chunk = 256 << 20, b"\0" * (1 << 20)
    t = time.perf_counter()
    for _i in range(total >> 20): c.sendall(chunk)
    c.shutdown(socket.SHUT_WR); got = int(c.recv(64)); elapsed = time.perf_counter() - t
    assert got == total, got
    print(total * 8 / elapsed / 1e9)
"""

DNS = r"""
import random, socket, struct, sys, time
server, name = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
samples = []
for _i in range(200):
    ident = random.randrange(65536)
    query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)
    t = time.perf_counter(); s.sendto(query, (server, 53)); answer = s.recv(4096)
    samples.append(time.perf_counter() - t)
    assert struct.unpack("!H", answer[6:8])[0] >= 1, "no answer for " + name
samples.sort(); print(samples[len(samples) // 2] * 1e3)
"""


def in_netns(host: FleetHost, pid: int | None, code: str, *args: str) -> list[str]:
    """argv running ``code`` with the host's python3 in a container's network namespace (pid None: the host's)."""
    inner = ["nsenter", "-t", str(pid), "-n"] if pid else []
    return ["nsenter", "-t", str(host.init_pid), "-n", "-m", "-u", "-p", "--", *inner, "/usr/bin/python3", "-c",
            code, *args]


def tcp(server: tuple[FleetHost, int | None], client: tuple[FleetHost, int | None], address: str,
        mode: str) -> float:
    proc = subprocess.Popen(in_netns(*server, SERVER, mode), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        out = subprocess.run(in_netns(*client, CLIENT, mode, address), capture_output=True, text=True,
                             check=True, timeout=120).stdout
        return float(out)
    finally:
        proc.kill()
        proc.wait()


def network_rows(started: Fleet) -> None:
    fh1, fh2 = started.host("fh1"), started.host("fh2")
    app1 = (fh1, shop.container_pid(fh1, "app-fh1"))
    app1_address = shop.shop_address(fh1, "app-fh1")
    paths = {"overlay (fh2 -> fh1 container)": ((fh2, shop.container_pid(fh2, "client-fh2")), app1, app1_address),
             "bridge (fh1 -> fh1 container)": ((fh1, shop.container_pid(fh1, "client-fh1")), app1, app1_address),
             "underlay (host fh2 -> host fh1)": ((fh2, None), (fh1, None), fh1.address)}
    for label, (client, server, address) in paths.items():
        latency = statistics.median(tcp(server, client, address, "echo") for _i in range(3))
        throughput = statistics.median(tcp(server, client, address, "sink") for _i in range(3))
        ROWS.append((f"TCP round trip, {label}", f"{latency:.3f} ms", "median of 3x3000"))
        ROWS.append((f"TCP throughput, {label}", f"{throughput:.2f} Gbit/s", "median of 3x256 MiB"))
    resolv = shop.in_container(fh2, "client-fh2", "cat /etc/resolv.conf")
    nameserver = next(line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver"))
    client = shop.container_pid(fh2, "client-fh2")
    for label, name in (("another host's container", "app-fh1"), ("this host's container", "app-fh2")):
        out = subprocess.run(in_netns(fh2, client, DNS, nameserver, name), capture_output=True, text=True,
                             check=True, timeout=60).stdout
        ROWS.append((f"name lookup, {label}", f"{float(out):.3f} ms", f"median of 200 A queries to {nameserver}"))


def playbook_rows(directory: Path, tar: Path, strategy: str | None, measure_network: bool) -> None:
    label = strategy or "linear (default)"
    with fleet(directory, 3) as started:
        play = shop.converge_play(started, tar)
        for what, kwargs in (("converge, fresh hosts", {}), ("no-op re-run", {}), ("--check", {"check": True})):
            result = started.play(play, strategy=strategy, **kwargs)
            if result.failed():
                raise SystemExit(f"{what} under {label} failed:\n{result.summary()}")
            ROWS.append((f"{what} [{label}]", f"{result.wall:.1f} s wall, {result.cpu:.1f} s CPU",
                         f"changed={result.changed()}"))
        if measure_network:
            network_rows(started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-mitogen", action="store_true")
    args = parser.parse_args()
    if enter_private_netns() is None:
        print("(running in this process's network namespace: not root, or opted out)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="berth-bench-fleet-") as scratch:
        root = Path(scratch)
        tar = busybox_tar(root)
        started = time.monotonic()
        playbook_rows(root / "linear", tar, None, measure_network=True)
        if not args.no_mitogen:
            playbook_rows(root / "mitogen", tar, "mitogen_linear", measure_network=False)
    print(f"{'figure':56} {'value':28} note")
    for what, value, note in ROWS:
        print(f"{what:56} {value:28} {note}")
    print(f"(bench wall time {time.monotonic() - started:.0f} s)")
    print(json.dumps({"rows": ROWS}))


if __name__ == "__main__":
    main()
