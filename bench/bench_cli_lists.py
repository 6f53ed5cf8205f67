"""Listing figures (issue 19): the everyday listing verbs with 200 images and
200 containers present, side by side with podman in one run.

  - 200 distinct images (each imported from its own small rootfs: one file
    that differs) plus the busybox image the containers are made from;
  - 200 created (not started) containers;
  - whole processes timed from outside, median of N each (wall and CPU time):
    `berth images`, `berth ps -a`, `berth system df`, and `podman images`
    over the same 200 images imported into a podman store of its own.

Goal: each berth verb at most 150 ms. State lives on the root disk (/var/tmp),
where a user's would. Run:
  .build/venv/bin/python bench/bench_cli_lists.py [--runs 10] [--count 200] [--profile]
--profile also prints `python -X importtime`'s top imports and cProfile's top
functions of one `berth system df`, for looking into what is slow.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.runtime import make_rootfs

SCRATCH = Path("/var/tmp")
GOAL_MS = 150.0
# As a user's shell runs it: .pyc files written (scripts/bootstrap.sh sets PYTHONDONTWRITEBYTECODE, which would
# time compiling the sources on every call)
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
VERBS = {"images": ["images"], "ps -a": ["ps", "-a"], "system df": ["system", "df"]}


def timed(command: list[str]) -> tuple[float, float] | str:
    """(wall, CPU) milliseconds of one whole process, or its error (a verb missing in this checkout is
    reported, not fatal). CPU time (user + system, from the children's rusage) is what a loaded machine
    changes least: the wall time there also counts waiting for a core."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=False, env=USER_ENV)
    elapsed = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        return f"exit {result.returncode}: {result.stderr.decode()[-200:].strip()}"
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return elapsed, cpu


def median_of(command: list[str], runs: int) -> dict[str, float] | str:
    first = timed(command)   # warm: the page cache and .pyc files, as a user's second call finds them
    if isinstance(first, str):
        return first
    times = [timed(command) for _run in range(runs)]
    errors = [t for t in times if isinstance(t, str)]
    if errors:
        return errors[0]
    measured = [t for t in times if not isinstance(t, str)]
    return {"wall ms": round(statistics.median(t[0] for t in measured), 1),
            "cpu ms": round(statistics.median(t[1] for t in measured), 1)}


def small_rootfs(work: Path, index: int) -> Path:
    root = work / f"img{index}"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "image-id").write_text(f"{index}\n")
    return root


def fill_berth(state: Path, run: Path, box: Path, tiny: list[Path], containers: int) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.containers.options import build_spec
    from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService

    engine = Engine.open(state, run)
    store = ImageStore(engine)
    import_rootfs(store, box, ImportConfig(cmd=["sh"]), parse_reference("local/box:1"))
    for index, root in enumerate(tiny):
        import_rootfs(store, root, ImportConfig(cmd=["sh"]), parse_reference(f"local/many{index}:1"))
    service = ContainerService(engine)
    spec = build_spec("local/box:1", {"command": ["sleep", "600"], "network_mode": "none"})
    for index in range(containers):
        service.create(f"c{index}", spec)


def bench_berth(work: Path, box: Path, tiny: list[Path], runs: int, containers: int) -> dict[str, Any]:
    state, run = work / "state", work / "run"
    fill_berth(state, run, box, tiny, containers)
    berth = [sys.executable, str(REPO / "bin" / "berth"), "--state-root", str(state), "--run-root", str(run)]
    results = {f"berth {verb}": median_of([*berth, *args], runs) for verb, args in VERBS.items()}
    results["python -c pass (the interpreter's own start)"] = median_of([sys.executable, "-c", "pass"], runs)
    return results


def profile(work: Path) -> str:
    """The slowest imports and functions of one `berth system df` (state of bench_berth)."""
    berth = [str(REPO / "bin" / "berth"), "--state-root", str(work / "state"), "--run-root", str(work / "run"),
             "system", "df"]
    imports = subprocess.run([sys.executable, "-X", "importtime", *berth], capture_output=True, text=True,
                             check=False).stderr.splitlines()
    rows = sorted((line for line in imports if line.startswith("import time:") and "|" in line
                   and line.split("|")[1].strip().isdigit()), key=lambda line: -int(line.split("|")[1]))
    stats = subprocess.run([sys.executable, "-m", "cProfile", "-s", "cumulative", *berth], capture_output=True,
                           text=True, check=False).stdout.splitlines()
    start = next((i for i, line in enumerate(stats) if "ncalls" in line), 0)
    return "\n".join(["slowest imports (cumulative us):", *rows[:15], "", *stats[start:start + 30]])


def bench_podman(work: Path, tiny: list[Path], runs: int) -> dict[str, Any]:
    podman = ["podman", "--root", str(work / "storage"), "--runroot", str(work / "run"), "--tmpdir",
              str(work / "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    try:
        for index, root in enumerate(tiny):
            tar = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True).stdout
            subprocess.run([*podman, "import", "-", f"localhost/many{index}:1"], input=tar, capture_output=True,
                           check=True)
        return {"podman images": median_of([*podman, "images"], runs)}
    finally:
        subprocess.run([*podman, "system", "reset", "-f"], capture_output=True, check=False)
        subprocess.run(["umount", "-R", str(work / "storage")], capture_output=True, check=False)


def goals(results: dict[str, Any]) -> dict[str, bool]:
    return {key: isinstance(value, dict) and value["wall ms"] <= GOAL_MS for key, value in results.items()
            if key.startswith("berth")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--count", type=int, default=200, help="images and containers each")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the state (printed) for a look afterwards")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="berth-bench-lists-", dir=SCRATCH))
    try:
        box = make_rootfs(work / "image")
        tiny = [small_rootfs(work / "tiny", i) for i in range(args.count)]
        results = bench_berth(work / "berth", box, tiny, args.runs, args.count)
        if shutil.which("podman"):
            results.update(bench_podman(work / "podman", tiny, args.runs))
        print(json.dumps({"results": results, f"goal <= {GOAL_MS:.0f} ms": goals(results),
                          "load average": os.getloadavg(), "cpus": os.cpu_count()}, indent=2))
        if args.profile:
            print(profile(work / "berth"))
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            _remove_berth_state(work / "berth")
            shutil.rmtree(work, ignore_errors=True)


def _remove_berth_state(root: Path) -> None:
    """The containers first (their bundles are the engine's to remove), then the files."""
    if not (root / "state").exists():
        return
    from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService

    service = ContainerService(Engine.open(root / "state", root / "run"))
    for record in service.store.list():
        service.remove(record["id"], force=True)


if __name__ == "__main__":
    main()
