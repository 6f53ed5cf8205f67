"""Compose projects (issue 18's workload) in bench/run.py: one project of 20
services (2 in smoke mode: network, a volume each, a published port, three
environment variables) converged through the berth.engine.compose module (a
one-task play), through `berth compose` and through podman-compose on an
isolated podman, each a whole process timed from outside.

The tools and the compose file are bench/bench_compose.py's. Per round each
engine brings the project up from nothing, runs the no-op up (the module's
must report changed=0), the check (module: --check, changed=0; CLI:
--dry-run; podman-compose has none), then takes it down (not timed).
run.py has already entered a private network namespace for the whole run.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from bench.bench_compose import GOALS_S, CliTool, ModuleTool, PodmanComposeTool, checked, compose_file, wall
from bench.bench_task_cost import freeze
from bench.harness import Bench, Context, PreconditionFailed, attempt, interleave
from tests.support.devinstall import stop_agents
from tests.support.images import build_busybox_layout
from tests.support.podman_compose import PODMAN_COMPOSE

MODULE, CLI, PODMAN = "berth.engine.compose (module)", "berth compose (CLI)", "podman-compose"
ENGINES = (MODULE, CLI, PODMAN)
FIGURES = {"up": "compose up", "noop": "compose no-op up", "check": "compose check"}


@contextmanager
def preconditions() -> Iterator[None]:
    """bench_compose's tools end with SystemExit on a failed run: here that is a failed precondition."""
    try:
        yield
    except SystemExit as error:
        raise PreconditionFailed(str(error.code)[-600:]) from error


@contextmanager
def dev_install(work: Path) -> Iterator[Path]:
    """The dev install the module's plays use (a frozen copy of the collection), its agents stopped after."""
    saved = {key: os.environ.get(key) for key in ("BERTH_DEV_PREFIX_ROOT", "BERTH_DEV_COLLECTIONS")}
    prefix = work / "bd"
    os.environ["BERTH_DEV_PREFIX_ROOT"] = str(prefix)
    os.environ["BERTH_DEV_COLLECTIONS"] = str(freeze(work / "coll"))
    try:
        yield prefix
    finally:
        stop_agents(prefix)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def make_benches(ctx: Context, services: int) -> dict[str, Bench]:
    workload = (f"{services} services (busybox sleep, one network, a named volume and a published port each, "
                "3 env vars); whole process")
    how = {"up": "up -d from nothing", "noop": "up -d again (module: changed=0 required)",
           "check": "module: ansible-playbook --check (changed=0); CLI: up -d --dry-run; podman-compose: none"}
    return {key: ctx.bench(f"compose-{key}", title, "s", f"{workload}; {how[key]}",
                           f"module <= {GOALS_S[key]:g} s" + (" and < podman-compose" if key != "check" else ""))
            for key, title in FIGURES.items()}


def module_round(tool: ModuleTool) -> dict[str, float]:
    try:
        return {"up": wall(lambda: tool.play(tool.up_play, changed=1)),
                "noop": wall(lambda: tool.play(tool.up_play, changed=0)),
                "check": wall(lambda: tool.play(tool.up_play, check=True, changed=0))}
    finally:
        tool.play(tool.down_play)


def cli_round(tool: CliTool) -> dict[str, float]:
    try:
        return {"up": wall(lambda: tool.berth("up", "-d")), "noop": wall(lambda: tool.berth("up", "-d")),
                "check": wall(lambda: tool.berth("up", "-d", "--dry-run"))}
    finally:
        tool.berth("down", "-v")


def podman_round(tool: PodmanComposeTool) -> dict[str, float]:
    def up() -> None:
        checked(tool.podman.compose("up", "-d", cwd=tool.project, timeout=600))
    try:
        return {"up": wall(up), "noop": wall(up)}
    finally:
        tool.podman.compose("down", "-v", "-t", "0", cwd=tool.project, timeout=600)
        tool.podman.reset()


ROUNDS: dict[str, Callable[[Any], dict[str, float]]] = {MODULE: module_round, CLI: cli_round, PODMAN: podman_round}


def step(tools: dict[str, Any], benches: dict[str, Bench], engine: str) -> Callable[[int], None]:
    def measured() -> None:
        with preconditions():
            figures = ROUNDS[engine](tools[engine])
        for key, seconds in figures.items():
            benches[key].add(engine, seconds)

    def one(_round: int) -> None:
        if engine in tools and engine not in benches["up"].failures:
            attempt(list(benches.values()), engine, measured)
    return one


def open_tools(work: Path, project: Path, layout: Path, benches: dict[str, Bench]) -> dict[str, Any]:
    tools: dict[str, Any] = {}
    makers = {MODULE: lambda: ModuleTool(work, project, layout), CLI: lambda: CliTool(work, project, layout),
              PODMAN: lambda: PodmanComposeTool(project, layout)}
    for engine, make in makers.items():
        def opened(engine: str = engine, make: Callable[[], Any] = make) -> None:
            if engine == PODMAN and not (shutil.which("podman") and Path(PODMAN_COMPOSE).exists()):
                raise PreconditionFailed("podman or podman-compose: not installed")
            try:
                tools[engine] = make()
            except Exception as error:  # the peer could not even load the image: no figure, the suite goes on
                raise PreconditionFailed(f"preparing {engine} failed: {error}") from error
        attempt(list(benches.values()), engine, opened)
    return tools


def stop_monitors(roots: list[Path], timeout: float = 15.0) -> None:
    """berth's monitors end on their own once no container is left; one that does not is ended here."""
    deadline = time.monotonic() + timeout
    for root in roots:
        pid_file = root / "run" / "monitor.pid"
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_file.exists():
            with suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)


def judge(benches: dict[str, Bench]) -> None:
    for key, bench in benches.items():
        module, podman = bench.median(MODULE), bench.median(PODMAN)
        if module is None:
            bench.judge(None, "no figure for the module")
            continue
        within = module <= GOALS_S[key]
        if key == "check":
            bench.extra["note"] = "podman-compose has no check mode"
            bench.judge(within, f"module {module:.2f} s (goal <= {GOALS_S[key]:g} s)")
        elif podman is None:
            bench.judge(None, f"module {module:.2f} s; no podman-compose figure to compare")
        else:
            bench.judge(within and module < podman,
                        f"module {module:.2f} s vs podman-compose {podman:.2f} s (goal <= {GOALS_S[key]:g} s "
                        "and faster)")


def run(ctx: Context) -> None:
    services = ctx.scale(20, 2)
    benches = make_benches(ctx, services)
    work = ctx.workdir("compose")
    project = work / "bench"
    project.mkdir(exist_ok=True)
    (project / "compose.yaml").write_text(compose_file(services))
    tools: dict[str, Any] = {}
    with dev_install(work):
        try:
            layout = build_busybox_layout(work / "busybox").layout
            tools = open_tools(work, project, layout, benches)
            interleave(ctx, {engine: step(tools, benches, engine) for engine in ENGINES})
        finally:
            if PODMAN in tools:
                left = tools[PODMAN].close()
                if left:
                    benches["up"].extra["podman_left"] = left
            stop_monitors([work / "module-root", work / "cli-root"])
    judge(benches)
