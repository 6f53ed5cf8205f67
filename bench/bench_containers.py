"""Container benchmark (issue 7 figures), side by side with podman in one run.

  - whole-process `run --rm` of `true` without network (the berth CLI vs
    `podman run --rm --network none`), median of N;
  - 50 detached containers (`sleep`) started one after another: time each;
  - engine memory per running container at 50: PSS (and RSS) of every engine
    process (berth: the shared monitor; podman: the 50 conmons) divided by 50.

Both use a busybox-static image made here and state on the root disk.
Run: .build/venv/bin/python bench/bench_containers.py [--runs 20] [--count 50]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.runtime import make_rootfs

SCRATCH = Path("/var/tmp")  # the root disk, where a user's state would be
# podman asks for nofile=1048576, above these hosts' hard limit (shared/MACHINE.md): crun refuses it
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: {result.stderr.decode()[-300:]}")
    return elapsed


def memory(pids: list[int]) -> tuple[float, float]:
    """(PSS, RSS) in MB summed over pids."""
    pss = rss = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
    return pss / 1024, rss / 1024


def pids_of(name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def bench_berth(work: Path, rootfs: Path, runs: int, count: int) -> dict:
    engine = Engine.open(work / "state", work / "run")
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sh"]), parse_reference("local/box:1"))
    berth = [sys.executable, str(REPO / "bin" / "berth"), "--state-root", str(work / "state"),
             "--run-root", str(work / "run")]
    none = ["--network", "none"]   # issue 7's figures are without network (bench_container_networks.py has them)
    timed([*berth, "run", "--rm", *none, "--name", "warm", "local/box:1", "true"])
    run_rm = [timed([*berth, "run", "--rm", *none, "--name", f"r{i}", "local/box:1", "true"]) for i in range(runs)]
    detached = [timed([*berth, "run", "-d", *none, "--name", f"d{i}", "local/box:1", "sleep", "600"])
                for i in range(count)]
    monitor = int((work / "run" / "monitor.pid").read_text())
    pss, rss = memory([monitor])
    subprocess.run([*berth, "rm", "-f", *[f"d{i}" for i in range(count)]], capture_output=True, check=False)
    api = _detached_via_api(engine, count, "api")
    limited = _detached_via_api(engine, count, "lim", {"memory": "256m", "cpus": "0.5", "pids_limit": 100})
    return {"run --rm true (median ms)": round(statistics.median(run_rm), 1),
            f"{count} detached: ms each (median)": round(statistics.median(detached), 1),
            f"engine PSS per container at {count} (MB)": round(pss / count, 2),
            f"engine RSS per container at {count} (MB)": round(rss / count, 2),
            f"{count} detached via the engine API (no CLI start-up): ms each": api,
            "same with memory, cpus and pids limits: ms each": limited,
            "cost of the limits at start (ms)": round(limited - api, 1),
            "engine processes": 1}


def _detached_via_api(engine: Engine, count: int, prefix: str, resources: dict | None = None) -> float:
    from ansible_collections.berth.engine.plugins.module_utils.containers.options import build_spec
    from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService

    service = ContainerService(engine)
    spec = build_spec("local/box:1", {"command": ["sleep", "600"], "network_mode": "none", **(resources or {})})
    times = []
    for i in range(count):
        start = time.perf_counter()
        record = service.create(f"{prefix}{i}", spec)
        service.start(record["id"])
        times.append((time.perf_counter() - start) * 1000)
    for i in range(count):
        service.remove(f"{prefix}{i}", force=True)
    return round(statistics.median(times), 1)


def bench_podman(work: Path, rootfs: Path, runs: int, count: int) -> dict:
    # crun refuses hybrid cgroups: podman runs with runc here
    podman = ["podman", "--root", str(work / "storage"), "--runroot", str(work / "run"), "--tmpdir",
              str(work / "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", "runc"]
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True).stdout
    subprocess.run([*podman, "import", "-", "localhost/box:1"], input=tar, capture_output=True, check=True)
    before = set(pids_of("conmon"))
    try:
        timed([*podman, "run", "--rm", "--network", "none", *LIMITS, "localhost/box:1", "true"])
        run_rm = [timed([*podman, "run", "--rm", "--network", "none", *LIMITS, "localhost/box:1", "true"])
                  for _run in range(runs)]
        detached = [timed([*podman, "run", "-d", "--network", "none", *LIMITS, "--name", f"d{i}", "localhost/box:1",
                           "sleep", "600"]) for i in range(count)]
        conmons = [p for p in pids_of("conmon") if p not in before]
        pss, rss = memory(conmons)
        return {"run --rm true (median ms)": round(statistics.median(run_rm), 1),
                f"{count} detached: ms each (median)": round(statistics.median(detached), 1),
                f"engine PSS per container at {count} (MB)": round(pss / count, 2),
                f"engine RSS per container at {count} (MB)": round(rss / count, 2),
                "engine processes": len(conmons)}
    finally:
        subprocess.run([*podman, "rm", "-af", "-t", "0"], capture_output=True, check=False)
        subprocess.run([*podman, "system", "reset", "-f"], capture_output=True, check=False)
        subprocess.run(["umount", "-R", str(work / "storage")], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="berth-bench-ct-", dir=SCRATCH))
    try:
        rootfs = make_rootfs(work / "image")
        results = {"berth": bench_berth(work / "berth", rootfs, args.runs, args.count)}
        if shutil.which("podman"):
            results["podman"] = bench_podman(work / "podman", rootfs, args.runs, args.count)
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
