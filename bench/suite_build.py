"""Dockerfile builds (issue 17's workloads) in bench/run.py: `berth build`
against `buildah bud` (overlay store, runc, --layers), each a whole process.

The tools, the base image and the two build contexts are bench/bench_build.py's;
this suite only interleaves them round by round and records every run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from bench.bench_build import GOAL_S, BerthTool, BuildahTool, contexts
from bench.harness import Bench, Context, PreconditionFailed, attempt, interleave, timed_ms
from tests.support.images import build_busybox_layout

ENGINES = ("berth", "buildah")
WORKLOADS = {  # context label -> the title of its benches
    "six": ("build 6 instructions", "FROM busybox; ENV, WORKDIR, COPY, RUN, RUN, CMD"),
    "copy500": ("COPY of 500 files", "FROM busybox; COPY of a directory of 500 small files"),
}
Tool = BerthTool | BuildahTool


def make_benches(ctx: Context, runs: int) -> dict[str, Bench]:
    benches = {}
    for label, (title, workload) in WORKLOADS.items():
        for mode in ("cold", "cached"):
            goal = (f"<= {GOAL_S} s and < buildah" if mode == "cached" else "< buildah")
            how = "--no-cache" if mode == "cold" else "every layer cached"
            benches[f"{label} {mode}"] = ctx.bench(
                f"build-{label}-{mode}", f"{title} {mode}", "s",
                f"{workload}; {how}; whole process; {runs} runs per round, store on the root disk", goal)
    return benches


def open_tool(engine: str, work: Path, layout: Path) -> Tool:
    if engine == "buildah" and not shutil.which("buildah"):
        raise PreconditionFailed("buildah: not installed")
    try:
        return BerthTool(work, layout) if engine == "berth" else BuildahTool(work, layout)
    except Exception as error:  # a peer that cannot even load the base gives no figure, the suite goes on
        raise PreconditionFailed(f"{engine}: preparing the base image failed: {error}") from error


def engine_round(tool: Tool, builds: dict[str, Path], benches: dict[str, Bench], engine: str, runs: int) -> None:
    for label, context in builds.items():
        tag = f"bench/{label}:1"
        timed_ms(tool.build(context, tag, cold=False))   # the cache is warm from here on (not timed)
        cold = [timed_ms(tool.build(context, tag, cold=True)) / 1000 for _run in range(runs)]
        cached = [timed_ms(tool.build(context, tag, cold=False)) / 1000 for _run in range(runs)]
        for value in cold:
            benches[f"{label} cold"].add(engine, value)
        for value in cached:
            benches[f"{label} cached"].add(engine, value)


def step(tools: dict[str, Tool], builds: dict[str, Path], benches: dict[str, Bench], engine: str,
         runs: int) -> Callable[[int], None]:
    def one(_round: int) -> None:
        if engine in tools and engine not in next(iter(benches.values())).failures:
            attempt(list(benches.values()), engine, lambda: engine_round(tools[engine], builds, benches, engine, runs))
    return one


def judge(benches: dict[str, Bench]) -> None:
    for key, bench in benches.items():
        berth, buildah = bench.median("berth"), bench.median("buildah")
        if berth is None or buildah is None:
            bench.judge(None, "no figure for " + ("berth" if berth is None else "buildah"))
            continue
        faster = berth < buildah
        if key.endswith("cached"):
            met = faster and berth <= GOAL_S
            bench.judge(met, f"berth {berth:.3f} s vs buildah {buildah:.3f} s (goal <= {GOAL_S} s and faster)")
        else:
            bench.judge(faster, f"berth {berth:.3f} s vs buildah {buildah:.3f} s (goal: faster)")
        bench.extra["ratio_berth_to_buildah"] = round(berth / buildah, 3)


def run(ctx: Context) -> None:
    runs = ctx.scale(3, 1)
    benches = make_benches(ctx, runs)
    work = ctx.workdir("build")
    tools: dict[str, Tool] = {}
    try:
        layout = build_busybox_layout(work / "base").layout
        builds = contexts(work)
        for engine in ENGINES:
            def open_one(engine: str = engine) -> None:
                tools[engine] = open_tool(engine, work, layout)
            attempt(list(benches.values()), engine, open_one)
        interleave(ctx, {engine: step(tools, builds, benches, engine, runs) for engine in ENGINES})
    finally:
        for tool in tools.values():
            tool.close()
    judge(benches)
