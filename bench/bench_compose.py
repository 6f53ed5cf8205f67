"""Compose projects (issue 18): a 20-service project converged through the
compose module, through `berth compose` and through podman-compose 1.6 on
Debian's podman, side by side in one run. Each service has the project's one
network, a named volume of its own, one published port (127.0.0.1, distinct
host ports) and three environment variables: the converge workload of the
benchmark issue. Every figure is a whole process timed from outside:

  - the module: `ansible-playbook` of a one-task play (berth.engine.compose on
    localhost) — up from nothing, the no-op up (must report changed=0) and
    `--check` of the converged project;
  - `berth compose up -d` from nothing, the no-op up, and `--dry-run`;
  - `podman-compose up -d` from nothing and its no-op (same file; podman
    isolated as tests/support/podman_compose.py sets it up; no check mode).

Rounds alternate the order of the three tools; each round ends with the
project taken down (not timed). Medians over rounds.

Goals (issue 18), through the module: up <= 5 s, no-op <= 3 s, check <= 3 s,
and each faster than podman-compose's.

Run as root, from the repo: .build/venv/bin/python bench/bench_compose.py [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
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

from bench.bench_task_cost import freeze
from tests.support.devinstall import stop_agents
from tests.support.images import build_busybox_layout
from tests.support.playbook import run_playbook, write_playbook
from tests.support.podman_compose import PodmanCompose

SERVICES = 20
FIRST_PORT = 18100
SCRATCH = Path("/var/tmp")  # the root disk, where a user's stores are
GOALS_S = {"up": 5.0, "noop": 3.0, "check": 3.0}


def compose_file(services: int = SERVICES) -> str:
    lines = ["name: bench", "services:"]
    for i in range(1, services + 1):
        lines += [f"  s{i:02d}:", "    image: busybox:latest", '    command: [sleep, "3600"]',
                  "    stop_grace_period: 1s", "    networks: [app]", f"    volumes: [s{i:02d}-data:/data]",
                  f'    ports: ["127.0.0.1:{FIRST_PORT + i}:80"]',
                  f"    environment: {{ROLE: s{i:02d}, INDEX: \"{i}\", TIER: bench}}"]
    lines += ["networks:", "  app: {}", "volumes:"] + [f"  s{i:02d}-data: {{}}" for i in range(1, services + 1)]
    return "\n".join(lines) + "\n"


def wall(run: Any) -> float:
    start = time.monotonic()
    run()
    return time.monotonic() - start


def checked(done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, done.args))}: {done.stderr[-2000:]}")


class ModuleTool:
    name = "module"

    def __init__(self, work: Path, project: Path, layout: Path) -> None:
        self.root = work / "module-root"
        load_busybox(self.root, layout)
        defaults = {"group/berth.engine.all": {"state_root": str(self.root / "state"),
                                               "run_root": str(self.root / "run")}}
        task = {"name": "project", "berth.engine.compose": {"project_src": str(project)}}
        self.up_play = write_playbook(work, [task], name="up.yml", module_defaults=defaults)
        self.down_play = write_playbook(work, [{"name": "down", "berth.engine.compose": {
            "project_src": str(project), "state": "absent", "remove_volumes": True}}], name="down.yml",
            module_defaults=defaults)

    def play(self, playbook: Path, *, check: bool = False, changed: int | None = None) -> None:
        result = run_playbook(playbook, check=check, pin_digest=False)   # the action plugin digests, as for a user
        if result.failed or result.returncode or (changed is not None and result.changed != changed):
            raise SystemExit(f"{playbook.name} (check={check}) changed={result.changed}:\n{result.output[-3000:]}")

    def round(self) -> dict[str, float]:
        figures = {"up": wall(lambda: self.play(self.up_play, changed=1)),
                   "noop": wall(lambda: self.play(self.up_play, changed=0)),
                   "check": wall(lambda: self.play(self.up_play, check=True, changed=0))}
        self.play(self.down_play)
        return figures


class CliTool:
    name = "berth compose"

    def __init__(self, work: Path, project: Path, layout: Path) -> None:
        self.root = work / "cli-root"
        self.project = project
        load_busybox(self.root, layout)

    def berth(self, *args: str) -> None:
        checked(subprocess.run([sys.executable, str(REPO / "bin" / "berth"), "--state-root",
                                str(self.root / "state"), "--run-root", str(self.root / "run"), "compose", *args],
                               capture_output=True, text=True, cwd=self.project, check=False, timeout=300))

    def round(self) -> dict[str, float]:
        figures = {"up": wall(lambda: self.berth("up", "-d")), "noop": wall(lambda: self.berth("up", "-d")),
                   "check": wall(lambda: self.berth("up", "-d", "--dry-run"))}
        self.berth("down", "-v")
        return figures


class PodmanComposeTool:
    name = "podman-compose"

    def __init__(self, project: Path, layout: Path) -> None:
        self.project = project
        self.podman = PodmanCompose("bench")
        self.podman.load(f"oci:{layout}:latest")

    def round(self) -> dict[str, float]:
        figures = {"up": wall(lambda: checked(self.podman.compose("up", "-d", cwd=self.project, timeout=600))),
                   "noop": wall(lambda: checked(self.podman.compose("up", "-d", cwd=self.project, timeout=600)))}
        checked(self.podman.compose("down", "-v", "-t", "0", cwd=self.project, timeout=600))
        self.podman.reset()
        return figures

    def close(self) -> list[str]:
        return self.podman.close()


def load_busybox(root: Path, layout: Path) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    from ansible_collections.berth.engine.plugins.module_utils.image.archive import load_archive
    from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
    from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore

    engine = Engine.open(root / "state", root / "run")
    load_archive(ImageStore(engine), layout, parse_reference("busybox:latest"))


def measure(work: Path, rounds: int) -> dict[str, dict[str, list[float]]]:
    project = work / "bench"
    project.mkdir()
    (project / "compose.yaml").write_text(compose_file())
    layout = build_busybox_layout(work / "busybox").layout
    tools: list[Any] = [ModuleTool(work, project, layout), CliTool(work, project, layout),
                        PodmanComposeTool(project, layout)]
    runs: dict[str, dict[str, list[float]]] = {tool.name: {} for tool in tools}
    try:
        for number in range(rounds):
            for tool in tools[number % len(tools):] + tools[:number % len(tools)]:
                for figure, seconds in tool.round().items():
                    runs[tool.name].setdefault(figure, []).append(round(seconds, 3))
    finally:
        left = tools[-1].close()
        if left:
            print(f"podman left: {left}", file=sys.stderr)
    return runs


def medians(runs: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {tool: {figure: round(statistics.median(values), 3) for figure, values in figures.items()}
            for tool, figures in runs.items()}


def goals(report: dict[str, dict[str, float]]) -> dict[str, bool]:
    module, podman = report["module"], report["podman-compose"]
    met = {f"module {figure} <= {goal:g} s": module[figure] <= goal for figure, goal in GOALS_S.items()}
    met.update({f"module {figure} faster than podman-compose's": module[figure] < podman[figure]
                for figure in ("up", "noop")})
    return met


def table(report: dict[str, dict[str, float]]) -> str:
    rows = [f"{'20 services (s, median)':28} {'up':>8} {'no-op up':>9} {'check':>8}"]
    for tool, figures in report.items():
        cells = [f"{figures[f]:8.2f}" if f in figures else f"{'n/a':>8}" for f in ("up", "noop", "check")]
        rows.append(f"{tool:28} {cells[0]} {cells[1]:>9} {cells[2]}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    from tests.support.isolation import enter_private_netns

    enter_private_netns()   # berth's bridge, veths and nft rules go with this process's namespace
    work = Path(tempfile.mkdtemp(prefix="berth-bench-compose-", dir=SCRATCH))
    try:
        os.environ["BERTH_DEV_PREFIX_ROOT"] = str(work / "bd")
        os.environ["BERTH_DEV_COLLECTIONS"] = str(freeze(work / "coll"))
        runs = measure(work, args.rounds)
    finally:
        stop_agents()
        shutil.rmtree(work, ignore_errors=True)
    report = medians(runs)
    if args.json:
        print(json.dumps({"services": SERVICES, "rounds": args.rounds, "figures_s": report, "runs_s": runs,
                          "goals": goals(report)}, indent=2))
        return
    print(table(report))
    for goal, met in goals(report).items():
        print(f"  {'met ' if met else 'MISSED'}  {goal}")


if __name__ == "__main__":
    main()
