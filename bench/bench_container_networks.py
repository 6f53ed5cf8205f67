"""Networking benchmark (issue 9 figures), side by side with podman in one run.

  - what networking adds to a whole-process `run --rm true`: the default
    bridge network vs `--network none`, median of N, berth and podman;
  - N containers on one user-defined network started one after another
    (`run -d`, ms each, median), berth and podman.

Both use a busybox-static image made here, state on the root disk, and
networks on subnets in 10.254.200.0/22 (removed afterwards).
Run: .build/venv/bin/python bench/bench_container_networks.py [--runs 20] [--count 50]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from bench.bench_containers import LIMITS, SCRATCH, timed
from tests.support.networks import drop_networks
from tests.support.runtime import make_rootfs


def medians(command: list[str], runs: int, name: str) -> float:
    timed([*command[:-2], "--name", f"{name}-warm", *command[-2:]])
    return round(statistics.median(timed([*command[:-2], "--name", f"{name}{i}", *command[-2:]])
                                   for i in range(runs)), 1)


def bench_berth(work: Path, rootfs: Path, runs: int, count: int) -> dict:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network
    from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService

    engine = Engine.open(work / "state", work / "run")
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sh"]), parse_reference("local/box:1"))
    berth = [sys.executable, str(REPO / "bin" / "berth"), "--state-root", str(work / "state"),
             "--run-root", str(work / "run")]
    try:
        none = medians([*berth, "run", "--rm", "--network", "none", "local/box:1", "true"], runs, "n")
        bridge = medians([*berth, "run", "--rm", "local/box:1", "true"], runs, "b")
        converge_network(NetworkService(engine), NetworkRequest(name="benchnet",
                                                                ipam_config=[{"subnet": "10.254.200.0/24"}]))
        on_net = [timed([*berth, "run", "-d", "--network", "benchnet", "--name", f"d{i}", "local/box:1",
                         "sleep", "600"]) for i in range(count)]
        return {"run --rm true, --network none (median ms)": none,
                "run --rm true, default bridge (median ms)": bridge,
                "networking adds (ms)": round(bridge - none, 1),
                f"{count} detached on one network: ms each (median)": round(statistics.median(on_net), 1)}
    finally:
        subprocess.run([*berth, "rm", "-f", *[f"d{i}" for i in range(count)]], capture_output=True, check=False)
        drop_networks(engine)


def _host_net() -> tuple[set[str], set[str]]:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout
    return ({line.split(":")[1].strip().split("@")[0] for line in links.splitlines()},
            {line.strip() for line in tables.splitlines() if line.strip()})


def _undo_podman_net(before: tuple[set[str], set[str]]) -> None:
    """podman (CNI) leaves its bridge and iptables-nft tables behind; the bench takes away what it made."""
    links, tables = _host_net()
    for link in links - before[0]:
        subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
    for table in tables - before[1]:
        subprocess.run(["nft", "delete", *table.split()], capture_output=True, check=False)


def bench_podman(work: Path, rootfs: Path, runs: int, count: int) -> dict:
    before = _host_net()
    podman = ["podman", "--root", str(work / "storage"), "--runroot", str(work / "run"), "--tmpdir",
              str(work / "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", "runc"]
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True).stdout
    subprocess.run([*podman, "import", "-", "localhost/box:1"], input=tar, capture_output=True, check=True)
    try:
        none = medians([*podman, "run", "--rm", "--network", "none", *LIMITS, "localhost/box:1", "true"], runs, "n")
        bridge = medians([*podman, "run", "--rm", *LIMITS, "localhost/box:1", "true"], runs, "b")
        subprocess.run([*podman, "network", "create", "--subnet", "10.254.201.0/24", "benchnet"],
                       capture_output=True, check=True)
        on_net = [timed([*podman, "run", "-d", "--network", "benchnet", *LIMITS, "--name", f"d{i}",
                         "localhost/box:1", "sleep", "600"]) for i in range(count)]
        return {"run --rm true, --network none (median ms)": none,
                "run --rm true, default bridge (median ms)": bridge,
                "networking adds (ms)": round(bridge - none, 1),
                f"{count} detached on one network: ms each (median)": round(statistics.median(on_net), 1)}
    finally:
        subprocess.run([*podman, "rm", "-af", "-t", "0"], capture_output=True, check=False)
        subprocess.run([*podman, "network", "rm", "-f", "benchnet"], capture_output=True, check=False)
        subprocess.run([*podman, "system", "reset", "-f"], capture_output=True, check=False)
        subprocess.run(["umount", "-R", str(work / "storage")], capture_output=True, check=False)
        _undo_podman_net(before)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--no-podman", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="berth-bench-net-", dir=SCRATCH))
    try:
        rootfs = make_rootfs(work / "image")
        results = {"berth": bench_berth(work / "berth", rootfs, args.runs, args.count)}
        if shutil.which("podman") and not args.no_podman:
            try:
                results["podman"] = bench_podman(work / "podman", rootfs, args.runs, args.count)
            except (subprocess.CalledProcessError, SystemExit) as err:
                results["podman"] = {"error": str(err)[-300:]}
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
