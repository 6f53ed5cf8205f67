"""What hardening costs (issue 14): this checkout against an earlier one, side by side.

Two figures, each timed from outside as whole processes, the two checkouts
interleaved round by round so the machine's drift hits both alike:
  - a pull of the 3-layer ~95 MB Debian fixture image from a local
    docker-registry into a fresh state root on the root disk (a child process
    per pull that opens the engine and pulls through the engine API: the CLI
    has no pull verb yet);
  - a 20-container start: `berth run -d --network none` of `sleep` twenty
    times through each checkout's own CLI (its monitor started by the first).

The earlier checkout is any clone of the project (e.g. `git worktree add
/tmp/before <commit>`); it runs with this venv's Python.
Run: .build/venv/bin/python bench/bench_hardening.py --before /tmp/before [--rounds 3] [--count 20]
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

from tests.support.debian import build_debian_layout
from tests.support.images import push
from tests.support.registry import start_registry
from tests.support.runtime import make_rootfs

SCRATCH = Path("/var/tmp")  # the root disk, where a user's /var/lib/berth would be
_PULL = """
import sys, pathlib
sys.path[:0] = [{collections!r}]
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import RegistryOptions
from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.service import make_client
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
root = pathlib.Path({root!r})
ref = parse_reference({name!r})
store = ImageStore(Engine.open(root / "state", root / "run"))
Puller(store, make_client(ref.registry, RegistryOptions())).pull(ref)
"""
_IMPORT = """
import sys, pathlib
sys.path[:0] = [{collections!r}]
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
try:  # the model moved to the ansible surface; older checkouts (compared against) have it in image/
    from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
except ImportError:
    from ansible_collections.berth.engine.plugins.module_utils.image.models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
root = pathlib.Path({root!r})
store = ImageStore(Engine.open(root / "state", root / "run"))
import_rootfs(store, pathlib.Path({rootfs!r}), ImportConfig(cmd=["sh"]), parse_reference("local/box:1"))
"""


def collections_of(checkout: Path) -> str:
    """The checkout importable as ansible_collections.berth.engine (a link, as bootstrap makes)."""
    link = checkout / ".build" / "collections" / "ansible_collections" / "berth" / "engine"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(checkout)
    return str(checkout / ".build" / "collections")


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)[:200]}: {result.stderr.decode()[-600:]}")
    return elapsed


def pull_once(checkout: Path, name: str, work: Path) -> float:
    root = Path(tempfile.mkdtemp(prefix="pull-", dir=work))
    try:
        code = _PULL.format(collections=collections_of(checkout), root=str(root), name=name)
        return timed([sys.executable, "-c", code])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def start_many(checkout: Path, rootfs: Path, work: Path, count: int) -> list[float]:
    """Seconds for each of ``count`` detached starts, then everything removed."""
    root = Path(tempfile.mkdtemp(prefix="ct-", dir=work))
    code = _IMPORT.format(collections=collections_of(checkout), root=str(root), rootfs=str(rootfs))
    timed([sys.executable, "-c", code])
    berth = [sys.executable, str(checkout / "bin" / "berth"), "--state-root", str(root / "state"),
             "--run-root", str(root / "run")]
    names = [f"h{i}" for i in range(count)]
    try:
        return [timed([*berth, "run", "-d", "--network", "none", "--name", n, "local/box:1", "sleep", "600"])
                for n in names]
    finally:
        subprocess.run([*berth, "rm", "-f", *names], capture_output=True, check=False)
        deadline = time.monotonic() + 10
        while (root / "run" / "monitor.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    checkouts = {"before": args.before.resolve(), "after": REPO}
    work = Path(tempfile.mkdtemp(prefix="berth-bench-hardening-", dir=SCRATCH))
    registry = start_registry(work / "registry")
    pulls: dict[str, list[float]] = {label: [] for label in checkouts}
    starts: dict[str, list[float]] = {label: [] for label in checkouts}
    totals: dict[str, list[float]] = {label: [] for label in checkouts}
    try:
        name = f"{registry.host}/bench/debian:1"
        push(build_debian_layout(), registry, "bench/debian", "1")
        rootfs = make_rootfs(work / "image")
        for round_no in range(args.rounds):
            order = list(checkouts.items()) if round_no % 2 == 0 else list(reversed(checkouts.items()))
            for label, checkout in order:
                pulls[label].append(pull_once(checkout, name, work))
                each = start_many(checkout, rootfs, work, args.count)
                starts[label] += each
                totals[label].append(sum(each))
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)
    result = {label: {"pull of the Debian image (s)": summary(pulls[label]),
                      f"{args.count} detached starts: total (s)": summary(totals[label]),
                      "one detached start (s)": summary(starts[label])} for label in checkouts}
    result["after / before (medians)"] = {
        "pull": round(statistics.median(pulls["after"]) / statistics.median(pulls["before"]), 3),
        "start": round(statistics.median(starts["after"]) / statistics.median(starts["before"]), 3)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
