"""Network micro-benchmark: what links.py and firewall.py cost per call.

  - import time in a fresh interpreter: pyroute2 (what links.py avoids), links, firewall;
  - ensure_bridge: create (and remove) a bridge; the idempotent re-check;
  - attach / detach: 20 network namespaces, per call; for comparison the same
    attach done with pyroute2 (after its import), and a whole fresh process
    doing import + attach (what a container monitor pays);
  - firewall: ensure_network, publish, republish, unpublish, port_in_use,
    through libnftables (ctypes) and through the nft binary.

Uses bridges br-5eedbench*, netns berthtest-bench-*, nft table ip berthbench;
removes them all. Run as root: .build/venv/bin/python bench/bench_network.py [--count 20]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from ansible_collections.berth.engine.plugins.module_utils.network import firewall, links

PKG = "ansible_collections.berth.engine.plugins.module_utils.network"
BRIDGE, SUBNET = "br-5eedbench00", "10.251.200"
ROWS: list[tuple[str, str, float, float]] = []
PYCACHE = "/tmp/berth-bench-pycache"


def row(what: str, how: str, samples: list[float]) -> None:
    ROWS.append((what, how, statistics.median(samples), max(samples)))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def fresh(code: str, runs: int, warm_up: bool = True) -> list[float]:
    """Milliseconds the snippet's own timer reports, each in a new interpreter.
    Bytecode is cached (outside the repository) as an installed collection's
    would be, and a first warm-up run is not counted."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(REPO / ".build" / "collections"), PYTHONPYCACHEPREFIX=PYCACHE)
    out = []
    for _run in range(runs + warm_up):
        text = subprocess.run([sys.executable, "-c", f"import time\nt=time.perf_counter()\n{code}\n"
                               "print((time.perf_counter()-t)*1000)"], capture_output=True, text=True,
                              check=True, env=env).stdout
        out.append(float(text.split()[-1]))
    return out[warm_up:]


@contextlib.contextmanager
def namespaces(count: int) -> Iterator[list[str]]:
    names = [f"berthtest-bench-{i}" for i in range(count)]
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
        yield [f"/run/netns/{name}" for name in names]
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def bench_imports(runs: int) -> None:
    row("import", "pyroute2 (IPRoute)", fresh("from pyroute2 import IPRoute", runs))
    row("import", "links.py", fresh(f"from {PKG} import links", runs))
    row("import", "firewall.py", fresh(f"from {PKG} import firewall", runs))


def bench_bridges(runs: int) -> None:
    created, removed = [], []
    for i in range(runs):
        name = f"br-5eedbench{i + 1:02d}"
        created.append(timed(lambda n=name, i=i: links.ensure_bridge(n, f"10.252.{200 + i}.1/24", None)))
        removed.append(timed(lambda n=name: links.remove_bridge(n)))
    row("ensure_bridge", "create", created)
    row("remove_bridge", "", removed)
    links.ensure_bridge(BRIDGE, f"{SUBNET}.1/24", None)
    row("ensure_bridge", "exists (no change)",
        [timed(lambda: links.ensure_bridge(BRIDGE, f"{SUBNET}.1/24", None)) for _run in range(runs)])


def _args(i: int, netns: str) -> tuple[str, str, str, str, str, str, str, None]:
    ip = f"{SUBNET}.{i + 10}"
    return netns, BRIDGE, f"vbbench{i:04d}", "eth0", f"{ip}/24", f"{SUBNET}.1", links.mac_for(ip), None


def bench_attach(count: int) -> None:
    with namespaces(count) as paths:
        calls = [_args(i, path) for i, path in enumerate(paths)]
        row(f"attach ({count} netns)", "links.py", [timed(lambda a=a: links.attach(*a)) for a in calls])
        row("detach", "links.py", [timed(lambda i=i: links.detach(f"vbbench{i:04d}")) for i in range(count)])
    with namespaces(count) as paths:
        calls = [_args(i, path) for i, path in enumerate(paths)]
        attach_times = [timed(lambda a=a: pyroute2_attach(*a)) for a in calls]
        row(f"attach ({count} netns)", "pyroute2, imported", attach_times)
        for i in range(count):
            links.detach(f"vbbench{i:04d}")
    with namespaces(5) as paths:  # what a monitor pays: a new interpreter importing links and attaching
        fresh(f"from {PKG} import links", 0)  # bytecode cached
        samples = []
        for path in paths:
            samples += fresh(f"from {PKG} import links\nlinks.attach(*{list(_args(0, path))!r})", 1, warm_up=False)
            links.detach("vbbench0000")
        row("process: import + attach", "links.py", samples)


def pyroute2_attach(netns: str, bridge: str, host_if: str, ifname: str, cidr: str, gateway: str, mac: str,
                    _mtu: None) -> None:
    """The same attach with pyroute2 (IPRoute inside the netns via the same setns trick)."""
    from pyroute2 import IPRoute

    fd = os.open(netns, os.O_RDONLY)
    try:
        with IPRoute(groups=0) as ipr:
            index = ipr.link_lookup(ifname=bridge)[0]
            ipr.link("add", ifname=host_if, kind="veth", master=index, state="up",
                     peer={"ifname": ifname, "net_ns_fd": fd, "address": mac})
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        links._setns(fd)
        try:
            inner = IPRoute(groups=0)
        finally:
            links._setns(own)
            os.close(own)
        with inner:
            idx = inner.link_lookup(ifname=ifname)[0]
            address, prefix = cidr.split("/")
            inner.addr("add", index=idx, address=address, prefixlen=int(prefix))
            inner.link("set", index=idx, state="up")
            inner.route("add", dst="default", gateway=gateway)
    finally:
        os.close(fd)


def bench_firewall(runs: int) -> None:
    ports = [firewall.Published("", 28080, "tcp", f"{SUBNET}.10", 80),
             firewall.Published("127.0.0.1", 28081, "udp", f"{SUBNET}.10", 53)]
    net = firewall.NetRules("5eedbench" * 7, BRIDGE, f"{SUBNET}.0/24", False)
    for how, nft in (("libnftables", firewall.Nft()), ("nft binary", firewall.Nft(library=None))):
        fw = firewall.Firewall("berthbench", nft)
        try:
            row("ensure_network", how, [timed(lambda f=fw: f.ensure_network(net)) for _run in range(runs)])
            publish, unpublish = [], []
            for _run in range(runs):
                publish.append(timed(lambda f=fw: f.publish("c" * 64, BRIDGE, ports)))
                unpublish.append(timed(lambda f=fw: f.unpublish("c" * 64)))
            row("publish (2 ports)", how, publish)
            fw.publish("c" * 64, BRIDGE, ports)
            row("publish again (replace)", how, [timed(lambda f=fw: f.publish("c" * 64, BRIDGE, ports))
                                                 for _run in range(runs)])
            row("unpublish", how, unpublish)
            row("port_in_use", how, [timed(lambda f=fw: f.port_in_use("", 28090, "tcp")) for _run in range(runs)])
            row("remove_network (last)", how, [timed(lambda f=fw: f.remove_network(net.network_id))])
        finally:
            fw.remove_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="namespaces to attach")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    try:
        bench_imports(args.runs)
        bench_bridges(args.runs)
        bench_attach(args.count)
        bench_firewall(args.runs)
    finally:
        links.remove_bridge(BRIDGE)
    print(f"{'operation':28} {'how':24} {'median ms':>10} {'max ms':>8}")
    for what, how, median, worst in ROWS:
        print(f"{what:28} {how:24} {median:10.2f} {worst:8.2f}")


if __name__ == "__main__":
    main()
