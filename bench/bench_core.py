"""What the container-core redesign (issue 15) costs: this checkout against an
earlier one, side by side, round by round (the order alternates so the
machine's drift hits both alike). Every figure is a whole process timed from
outside, through each checkout's own CLI or runtime:

  - `berth run --rm --network none IMAGE true` (median ms);
  - the same on the default bridge network: its median minus the first is
    networking's cost;
  - `berth run -d --network none IMAGE sleep` COUNT times: ms each (median),
    then the shared monitor's PSS divided by COUNT;
  - `berth-runtime run` of a prepared bundle running `true`, then
    `berth-runtime delete --force` (median ms each).

Run: .build/venv/bin/python bench/bench_core.py --before /path/to/checkout [--rounds 3] [--runs 10] [--count 50]
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

from bench.bench_containers import memory
from bench.bench_hardening import _IMPORT, collections_of
from tests.support.runtime import make_rootfs, runc_spec

SCRATCH = Path("/var/tmp")  # the root disk, where a user's /var/lib/berth would be


def timed_ms(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=False, env=env)
    elapsed = (time.perf_counter() - start) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)[:200]}: {result.stderr.decode()[-600:]}")
    return elapsed


def cli_round(checkout: Path, rootfs: Path, work: Path, runs: int, count: int) -> dict[str, list[float]]:
    root = Path(tempfile.mkdtemp(prefix="core-", dir=work))
    script = _IMPORT.format(collections=collections_of(checkout), root=str(root), rootfs=str(rootfs))
    timed_ms([sys.executable, "-c", script])
    berth = [sys.executable, str(checkout / "bin" / "berth"), "--state-root", str(root / "state"),
             "--run-root", str(root / "run")]
    names = [f"d{i}" for i in range(count)]
    try:
        timed_ms([*berth, "run", "--rm", "--network", "none", "--name", "warm", "local/box:1", "true"])
        none = [timed_ms([*berth, "run", "--rm", "--network", "none", "--name", f"n{i}", "local/box:1", "true"])
                for i in range(runs)]
        bridge = [timed_ms([*berth, "run", "--rm", "--name", f"b{i}", "local/box:1", "true"]) for i in range(runs)]
        detached = [timed_ms([*berth, "run", "-d", "--network", "none", "--name", n, "local/box:1", "sleep", "600"])
                    for n in names]
        pss, _rss = memory([int((root / "run" / "monitor.pid").read_text())])
        return {"none": none, "bridge": bridge, "detached": detached, "pss": [pss / count]}
    finally:
        subprocess.run([*berth, "rm", "-f", *names], capture_output=True, check=False)
        deadline = time.monotonic() + 10
        while (root / "run" / "monitor.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        drop_networks(root)
        shutil.rmtree(root, ignore_errors=True)


def drop_networks(root: Path) -> None:
    """The round's networks leave the kernel (bridge, nft elements) before
    its state root goes: a bridge per round would use up the default pools."""
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    from ansible_collections.berth.engine.plugins.module_utils.network.service import HostKernel
    from ansible_collections.berth.engine.plugins.module_utils.network.store import NetworkStore

    kernel = HostKernel()
    for record in NetworkStore(Engine.open(root / "state", root / "run")).list():
        if record.get("bridge"):
            kernel.remove_firewall(record["id"])
            kernel.remove_bridge(record["bridge"])


def runtime_round(checkout: Path, bundle: Path, work: Path, runs: int) -> dict[str, list[float]]:
    state = Path(tempfile.mkdtemp(prefix="rt-", dir=work))
    runtime = [sys.executable, str(checkout / "bin" / "berth-runtime"), "--root", str(state)]
    runs_ms, deletes_ms = [], []
    try:
        for index in range(runs):
            cid = f"core{index}"
            runs_ms.append(timed_ms([*runtime, "run", "--bundle", str(bundle), cid]))
            deletes_ms.append(timed_ms([*runtime, "delete", "--force", cid]))
        return {"runtime run": runs_ms, "runtime delete": deletes_ms}
    finally:
        shutil.rmtree(state, ignore_errors=True)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    checkouts = {"before": args.before.resolve(), "after": REPO}
    work = Path(tempfile.mkdtemp(prefix="berth-bench-core-", dir=SCRATCH))
    raw: dict[str, dict[str, list[float]]] = {label: {} for label in checkouts}
    try:
        rootfs = make_rootfs(work / "image")
        bundle = work / "bundle"
        runc_spec(bundle, rootfs, ["true"])
        for round_no in range(args.rounds):
            order = list(checkouts.items()) if round_no % 2 == 0 else list(reversed(checkouts.items()))
            for label, checkout in order:
                for source in (cli_round(checkout, rootfs, work, args.runs, args.count),
                               runtime_round(checkout, bundle, work, args.runs)):
                    for key, values in source.items():
                        raw[label].setdefault(key, []).extend(values)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {label: {key: summary(values) for key, values in figures.items()} for label, figures in raw.items()}
    for label in checkouts:
        report[label]["networking cost (ms)"] = round(report[label]["bridge"]["median"]
                                                      - report[label]["none"]["median"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
