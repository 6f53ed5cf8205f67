"""What a no-op berth task costs against Ansible's own: CPU of a 20-item loop
of ``berth.engine.container`` on converged containers vs a 20-item loop of
``ansible.builtin.ping``, same play shape, localhost ``-c local``, the
modules under /usr/bin/python3 (Ansible's discovered interpreter on Debian).

CPU = user+sys of ansible-playbook and every process it waited for
(RUSAGE_CHILDREN), plus what the engine agent and its workers spent meanwhile
(the agent's own and its reaped children's times from /proc/<pid>/stat): the
agent is not ansible-playbook's descendant, and its work is the task's.
Runs are paired (ping, container, ping, container, ...); the median of each
is reported with the ratio (goal: container <= 1.3 x ping).

The engine is a dev install (tests/support/devinstall.py: engine.json naming
the test venv's python), of a frozen copy of the collection (so edits to the
tree while it runs change nothing), which runs the same agent code a
role-made install runs. Root only; everything runs in a private network
namespace and is removed at the end.

    sudo .build/venv/bin/python bench/bench_task_cost.py [--rounds 5] [--items 20]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from tests.support.devinstall import agent_pids, stop_agents
from tests.support.playbook import module_env, run_playbook, write_playbook

IMAGE = "bench/task-cost:1"
INTERPRETER = "/usr/bin/python3"


def agents_cpu() -> float:
    """user+sys of every dev agent and its reaped workers, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in agent_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))   # utime stime cutime cstime
    return total / ticks


def timed(play: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``play``; it must not fail."""
    before, agents, start = resource.getrusage(resource.RUSAGE_CHILDREN), agents_cpu(), time.monotonic()
    result = run_playbook(play, pin_digest=False)   # the action plugin computes it, as for a user
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.failed or result.returncode:
        raise SystemExit(f"{play.name} failed:\n{result.output[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime) + (agents_cpu() - agents)
    return cpu, wall


def loop_play(directory: Path, name: str, task: dict[str, Any], items: int, defaults: dict[str, Any]) -> Path:
    return write_playbook(directory, [{**task, "loop": [f"c{i}" for i in range(items)]}], name=name,
                          vars={"ansible_python_interpreter": INTERPRETER}, module_defaults=defaults)


def freeze(collections: Path) -> Path:
    """A copy of the collection the benchmark's playbooks run (and its engine digest names)."""
    target = collections / "ansible_collections" / "berth" / "engine"
    for part in ("plugins", "meta"):
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, target / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "galaxy.yml", target / "galaxy.yml")
    return collections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    from tests.support.isolation import enter_private_netns

    enter_private_netns()
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        os.environ["BERTH_DEV_PREFIX_ROOT"] = os.path.join(tmp, "bd")
        os.environ["BERTH_DEV_COLLECTIONS"] = str(freeze(Path(tmp) / "coll"))
        env = module_env(Path(tmp), IMAGE, ImportConfig(cmd=["sleep", "3600"]))
        context = next(env)
        try:
            report = measure(Path(tmp), context["defaults"], args.rounds, args.items)
        finally:
            next(env, None)   # containers removed through the module, leak checks
            stop_agents()
    print(json.dumps(report, indent=2))


def measure(directory: Path, defaults: dict[str, Any], rounds: int, items: int) -> dict[str, Any]:
    container = loop_play(directory, "container.yml",
                          {"berth.engine.container": {"name": "{{ item }}", "image": IMAGE}}, items, defaults)
    ping = loop_play(directory, "ping.yml", {"ansible.builtin.ping": {}}, items, defaults)
    first = run_playbook(container)   # converge (and start the agent): the measured runs are no-ops
    if first.failed:
        raise SystemExit(f"converging failed:\n{first.output[-3000:]}")
    timed(ping)   # warm both plays' caches alike (controller bytecode, the digest cache)
    timed(container)
    runs: dict[str, list[tuple[float, float]]] = {"ping": [], "container": []}
    for _i in range(rounds):
        runs["ping"].append(timed(ping))
        runs["container"].append(timed(container))
    cpu = {name: statistics.median(c for c, _w in values) for name, values in runs.items()}
    wall = {name: statistics.median(w for _c, w in values) for name, values in runs.items()}
    return {"items": items, "rounds": rounds, "interpreter": INTERPRETER, "install": "dev (tests/support/devinstall)",
            "cpu_s": cpu, "wall_s": wall, "cpu_ratio": round(cpu["container"] / cpu["ping"], 3),
            "runs": runs}


if __name__ == "__main__":
    main()
