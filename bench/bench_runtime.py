"""Runtime benchmark (issue 6 figures), side by side in one run.

Whole-process `run` of one prepared bundle (busybox-static root, runc's
default config, process `true`), timed from exec of the runtime command to its
exit, median and p90 of N runs each, for: runc and crun (Debian's, when
installed) and berth-runtime (the checkout's bin/berth-runtime under the venv
Python). Also reports the floor under berth-runtime: Python start-up alone
(`python -I -c pass`) and the import of its CLI.

Run: .build/venv/bin/python bench/bench_runtime.py [--runs 50]
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

from tests.support.runtime import make_rootfs, runc_spec


def time_runs(command: list[str], runs: int, cid_arg: bool) -> list[float]:
    samples = []
    for index in range(runs):
        argv = [*command, f"berth-bench-{index}"] if cid_arg else command
        start = time.perf_counter()
        result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        samples.append((time.perf_counter() - start) * 1000)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.decode()}")
    return samples


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 1),
            "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1], 1),
            "min_ms": round(ordered[0], 1), "runs": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="berth-bench-rt-"))
    try:
        rootfs = make_rootfs(work)
        bundle = work / "bundle"
        runc_spec(bundle, rootfs, ["true"])
        python = sys.executable
        peers = {
            "runc": ["runc", "--root", str(work / "runc"), "run", "--bundle", str(bundle)],
            "crun": ["crun", "--root", str(work / "crun"), "run", "--bundle", str(bundle)],
            "berth-runtime": [python, str(REPO / "bin" / "berth-runtime"), "--root", str(work / "berth"),
                              "run", "--bundle", str(bundle)],
        }
        results = {}
        for name, command in peers.items():
            if shutil.which(command[0]) is None:
                continue
            try:
                time_runs(command, 3, True)  # warm the page cache
            except SystemExit as failed:  # crun refuses these hybrid-cgroup hosts
                results[name] = {"error": str(failed).splitlines()[-1][-160:]}
                continue
            results[name] = summary(time_runs(command, args.runs, True))
        results["python -I -c pass"] = summary(time_runs([python, "-I", "-c", "pass"], args.runs, False))
        cli_import = f"import sys; sys.path.insert(0, {str(REPO)!r}); import plugins.module_utils.runtime.cli"
        results["python + import runtime cli"] = summary(time_runs([python, "-I", "-c", cli_import],
                                                                   args.runs, False))
        if "runc" in results:
            ratio = results["berth-runtime"]["median_ms"] / results["runc"]["median_ms"]
            results["berth-runtime / runc"] = round(ratio, 2)
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
