"""What a CLI user feels, side by side with podman (runc) and docker (a private
dockerd): `run --rm IMAGE true` without network and on the default bridge,
COUNT x `run -d ... sleep 600` one after another, and the engine-side memory
per running container at COUNT (PSS: berth's shared monitor, podman's conmons,
docker's containerd-shims, divided by COUNT).

berth's round is bench/bench_core.py's `cli_round` (bin/berth, the image made
with make_rootfs and imported through the engine API); the peers import the
same rootfs tarball. podman is tests/support/podman_compose.py's isolated one
(own store, CNI configs and network namespace).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.bench_containers import LIMITS, memory
from bench.bench_core import cli_round
from bench.harness import REPO, Bench, Context, PreconditionFailed, attempt, interleave, run_checked, timed_ms
from bench.peers import private_dockerd
from tests.support.podman_compose import PodmanCompose
from tests.support.runtime import make_rootfs

IMAGE = "localhost/box:1"
ENGINES = ("berth", "podman", "docker")
ENGINE_PROCESS = {"podman": "conmon", "docker": "containerd-shim"}   # the per-container process on their side
Round = Callable[[int], dict[str, list[float]]]


def engine_pss(process: str, ids: list[str]) -> float:
    """PSS (MB) of every `process` whose command line names one of these containers."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if proc.name.isdigit() and Path(argv[0].decode()).name.startswith(process) \
                and any(i.encode() in arg for i in ids for arg in argv):
            pids.append(int(proc.name))
    if len(pids) < len(ids):
        raise PreconditionFailed(f"{process}: {len(pids)} processes for {len(ids)} running containers")
    return memory(pids)[0]


def peer_round(cli: list[str], process: str, runs: int, count: int, bridge: bool, tag: str) -> dict[str, list[float]]:
    """One round of a peer's CLI: the same shape as cli_round's figures."""
    rm = [*cli, "run", "--rm", *LIMITS]
    figures: dict[str, list[float]] = {"none": [], "bridge": [], "detached": []}
    timed_ms([*rm, "--network", "none", IMAGE, "true"])   # warm, untimed
    figures["none"] = [timed_ms([*rm, "--network", "none", IMAGE, "true"]) for _run in range(runs)]
    if bridge:
        figures["bridge"] = [timed_ms([*rm, IMAGE, "true"]) for _run in range(runs)]
    names = [f"bench-{tag}-{i}" for i in range(count)]
    ids: list[str] = []
    try:
        for name in names:
            command = [*cli, "run", "-d", "--network", "none", *LIMITS, "--name", name, IMAGE, "sleep", "600"]
            figures["detached"].append(timed_ms(command))
        ids = run_checked([*cli, "ps", "-q", "--no-trunc"]).stdout.decode().split()
        figures["pss"] = [engine_pss(process, ids) / count]
    finally:
        subprocess.run([*cli, "rm", "-f", *names], capture_output=True, check=False, timeout=300)
    return figures


def import_tar(cli: list[str], rootfs: Path) -> None:
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True).stdout
    run_checked([*cli, "import", "-", IMAGE], input=tar)


@contextmanager
def peers(ctx: Context, rootfs: Path) -> Iterator[dict[str, list[str] | str]]:
    """Each peer's CLI prefix (image imported), or why there is none."""
    found: dict[str, list[str] | str] = {}
    with ExitStack() as stack:
        if shutil.which("podman"):
            podman = PodmanCompose("cli")
            stack.callback(lambda: ctx.log(f"  podman leftovers: {podman.close() or 'none'}"))
            found["podman"] = [str(podman.podman_path)]
        else:
            found["podman"] = "podman: not installed"
        docker = stack.enter_context(private_dockerd(ctx.workdir("cli-dockerd"), bridge=True))  # run.py: own netns
        found["docker"] = docker if docker is not None else "docker: dockerd or docker not installed"
        for engine, cli in list(found.items()):
            if isinstance(cli, list):
                try:
                    import_tar(cli, rootfs)
                except PreconditionFailed as error:
                    found[engine] = f"{engine}: importing the image failed: {error}"
        yield found


def berth_round(ctx: Context, rootfs: Path, runs: int, count: int) -> Round:
    def one(index: int) -> dict[str, list[float]]:
        try:
            return cli_round(REPO, rootfs, ctx.workdir(f"cli-berth-r{index}"), runs, count)
        except SystemExit as error:   # bench_core's timing reports a failed command this way
            raise PreconditionFailed(str(error)) from error
    return one


def record(benches: dict[str, Bench], engine: str, figures: dict[str, list[float]]) -> None:
    for key, values in figures.items():
        for value in values:
            benches[key].add(engine, value)


def step(benches: dict[str, Bench], engine: str, measure: Round) -> Callable[[int], None]:
    def one(index: int) -> None:
        if engine not in benches["none"].failures:
            attempt(list(benches.values()), engine, lambda: record(benches, engine, measure(index)))
    return one


def judge(bench: Bench, limit: float, beat_peers: bool) -> None:
    berth = bench.median("berth")
    if berth is None:
        bench.judge(None, "no figure for berth")
        return
    digits = 2 if bench.unit == "MB" else 1
    verdicts = [(berth <= limit, f"berth {berth:.{digits}f} {bench.unit} (goal <= {limit})")]
    missing = []
    for peer in ("podman", "docker") if beat_peers else ():
        theirs = bench.median(peer)
        if theirs is None:
            missing.append(peer)
        else:
            verdicts.append((berth < theirs, f"{peer} {theirs:.{digits}f}"))
    met: bool | None = all(ok for ok, _text in verdicts)
    text = "; ".join(t for _ok, t in verdicts)
    if met and missing:
        met, text = None, f"{text}; no figure for {', '.join(missing)}"
    bench.judge(met, text)


def make_benches(ctx: Context, runs: int, count: int) -> dict[str, Bench]:
    common = "busybox-static image (make_rootfs + import); bin/berth, podman --runtime runc, docker CLI; whole process"
    return {
        "none": ctx.bench("cli-run-none", "CLI run --rm true, --network none", "ms",
                          f"{common}; `run --rm --network none IMAGE true`, {runs} runs per round",
                          "<= 50 ms and < podman, docker"),
        "bridge": ctx.bench("cli-run-bridge", "CLI run --rm true, default bridge", "ms",
                            f"{common}; `run --rm IMAGE true` on the default bridge, {runs} runs per round",
                            "<= 60 ms and < podman, docker"),
        "detached": ctx.bench("cli-run-detached", f"{count} x run -d, per container", "ms",
                              f"{common}; {count} x `run -d --network none IMAGE sleep 600` one after another",
                              "<= 60 ms each (median)"),
        "pss": ctx.bench("cli-memory", f"engine memory per running container at {count}", "MB",
                         f"PSS of berth's monitor / podman's conmons / docker's containerd-shims at {count} "
                         "running containers, divided by the count", "<= 0.25 MB"),
    }


def run(ctx: Context) -> None:
    runs, count = ctx.scale(10, 1), ctx.scale(50, 3)
    benches = make_benches(ctx, runs, count)
    rootfs = make_rootfs(ctx.workdir("cli-image"))
    with peers(ctx, rootfs) as found:
        rounds: dict[str, Round] = {"berth": berth_round(ctx, rootfs, runs, count)}
        for engine, cli in found.items():
            if isinstance(cli, str):
                for bench in benches.values():
                    bench.fail(engine, cli)
                continue
            rounds[engine] = (lambda index, c=cli, e=engine:
                              peer_round(c, ENGINE_PROCESS[e], runs, count, True, f"r{index}"))
        interleave(ctx, {engine: step(benches, engine, measure) for engine, measure in rounds.items()})
    judge(benches["none"], 50, True)
    judge(benches["bridge"], 60, True)
    judge(benches["detached"], 60, False)
    judge(benches["pss"], 0.25, False)
