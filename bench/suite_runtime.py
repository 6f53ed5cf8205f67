"""`berth-runtime run` and `delete --force` of a prepared bundle (busybox-static
root, runc's default config, process `true`) against runc and crun on the same
bundle: each command a whole process timed from outside, run and delete paired.

The bundle is bench/bench_runtime.py's (tests/support/runtime.py); crun is
measured only where its `run` works (it refuses these hybrid-cgroup hosts).
"""

from __future__ import annotations

import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from bench.harness import REPO, Bench, Context, PreconditionFailed, attempt, interleave, run_checked, timed_ms
from tests.support.runtime import make_rootfs, runc_spec

ENGINES = ("berth", "runc", "crun")
SYSTEM_PYTHON = "/usr/bin/python3"   # a managed host's python: the role's launcher runs the runtime with it
GOAL = "<= 2x runc"


def installed_launcher(work: Path) -> Path:
    """berth-runtime as the berth.engine.host role installs it: its launcher (Debian's python3 -IS), the
    engine under a prefix whose lib is this checkout's collection tree, compiled for that python."""
    sys.path.insert(0, str(REPO / "roles" / "host" / "files"))
    import berth_host

    prefix = work / "prefix"
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "lib").symlink_to(REPO / ".build" / "collections")
    (work / "bin").mkdir()
    spec = {"prefix": str(prefix), "python": SYSTEM_PYTHON, "bin_dir": str(work / "bin")}
    launcher = Path(berth_host._paths(spec)["runtime"])
    launcher.write_text(berth_host.launchers(spec)[str(launcher)])
    launcher.chmod(0o755)
    run_checked([SYSTEM_PYTHON, "-m", "compileall", "-q", str(REPO / "plugins" / "module_utils")])
    return launcher


def runtime_command(engine: str, state: Path, launcher: Path) -> list[str]:
    if engine == "berth":
        return [str(launcher), "--root", str(state)]
    if not shutil.which(engine):
        raise PreconditionFailed(f"{engine}: not installed")
    return [engine, "--root", str(state)]


def pair(command: list[str], bundle: Path, cid: str) -> tuple[float, float]:
    """One `run` of `true` and the `delete --force` after it (ms each)."""
    run_ms = timed_ms([*command, "run", "--bundle", str(bundle), cid])
    return run_ms, timed_ms([*command, "delete", "--force", cid])


def step(ctx: Context, engine: str, bundle: Path, benches: tuple[Bench, Bench], pairs: int,
         launcher: Path) -> Callable[[int], None]:
    def one_round(index: int) -> None:
        if engine in benches[0].failures:
            return
        state = ctx.workdir(f"runtime-{engine}-r{index}")

        def measure() -> None:
            command = runtime_command(engine, state, launcher)
            for number in range(pairs):
                run_ms, delete_ms = pair(command, bundle, f"bench-{index}-{number}")
                benches[0].add(engine, run_ms)
                benches[1].add(engine, delete_ms)

        attempt(benches, engine, measure)
        shutil.rmtree(state, ignore_errors=True)
    return one_round


def warm(ctx: Context, bundle: Path, benches: tuple[Bench, Bench], launcher: Path) -> None:
    """One untimed pair per engine: the page cache is warm, and an engine whose
    `run` does not work here (crun on hybrid cgroups) is recorded once."""
    for engine in ENGINES:
        state = ctx.workdir(f"runtime-{engine}-warm")
        attempt(benches, engine, lambda e=engine, s=state: pair(runtime_command(e, s, launcher), bundle, "bench-warm"))
        shutil.rmtree(state, ignore_errors=True)


def python_floor(runs: int) -> float:
    return statistics.median(timed_ms([SYSTEM_PYTHON, "-I", "-S", "-c", "pass"]) for _run in range(runs))


def judge(bench: Bench) -> None:
    berth, runc = bench.median("berth"), bench.median("runc")
    if berth is None or runc is None:
        bench.judge(None, "no figure for berth or runc")
        return
    ratio = berth / runc
    bench.extra["berth / runc"] = round(ratio, 2)
    bench.judge(ratio <= 2, f"berth {berth:.1f} ms = {ratio:.2f}x runc {runc:.1f} ms (goal <= 2x)")


def run(ctx: Context) -> None:
    pairs = ctx.scale(20, 1)
    workload = (f"a prepared bundle (busybox-static root, runc's default config, process `true`); berth-runtime "
                f"as the host role installs it (launcher `#!/usr/bin/python3 -IS`); "
                f"whole process timed from outside; run then delete --force paired; {pairs} pairs per round")
    benches = (ctx.bench("runtime-run", "runtime run true", "ms", workload, GOAL),
               ctx.bench("runtime-delete", "runtime delete --force", "ms", workload, GOAL))
    base = ctx.workdir("runtime")
    bundle = base / "bundle"
    runc_spec(bundle, make_rootfs(base / "image"), ["true"])
    launcher = installed_launcher(ctx.workdir("runtime-install"))
    warm(ctx, bundle, benches, launcher)
    interleave(ctx, {engine: step(ctx, engine, bundle, benches, pairs, launcher) for engine in ENGINES})
    floor = round(python_floor(ctx.scale(20, 3)), 1)
    for bench in benches:
        bench.extra["python3 -I -S -c pass (ms, median): the floor under berth-runtime"] = floor
        judge(bench)
