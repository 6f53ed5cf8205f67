"""The headline benchmark (issue 20): a playbook converging one network, one
volume and N containers (busybox ``sleep 3600``, each on the network, with the
volume, a published port 127.0.0.1:<distinct>:80 and three env vars) as a
per-item loop, timed as whole ``ansible-playbook`` processes: converge from
nothing, the no-op re-run (must report changed=0) and ``--check`` of the
converged state (changed=0). Engines: berth's modules, community.docker on a
private dockerd, containers.podman on an isolated podman, and the same play
shape with ``ansible.builtin.ping`` per task (Ansible's own floor). Then the
same under Mitogen (``mitogen_linear``). Each round ends with a teardown (not
timed). CPU = RUSAGE_CHILDREN of ansible-playbook (+ berth's agent, as
bench_task_cost.agents_cpu reads it), in ``extra``.

run.py has already entered a private network namespace: dockerd's bridge and
chains, podman's CNI bridge and nft tables go with it; CNI's /var/lib/cni
entries are removed by PodmanCompose.close().
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.bench_compose import load_busybox
from bench.bench_task_cost import agents_cpu, freeze
from bench.harness import REPO, Bench, Context, PreconditionFailed, attempt, interleave, run_checked
from bench.peers import private_dockerd
from tests.support.devinstall import stop_agents
from tests.support.images import build_busybox_layout, save_docker_archive
from tests.support.playbook import run_playbook, write_playbook

WHEEL = Path("/work/cache/wheels/ansible-12.3.0-py3-none-any.whl")
PEER_COLLECTIONS = REPO / ".build" / "bench" / "collections"
PEER_PARTS = ("community/docker", "containers/podman", "community/library_inventory_filtering_v1")
INTERPRETER = "/usr/bin/python3"
FIRST_PORT = 18300
NET, VOL, IMAGE = "benchnet", "benchvol", "busybox:latest"
PHASES = ("converge", "rerun", "check")
Step = Callable[[Path, bool], tuple[float, float, int]]


def peer_collections() -> Path:
    """community.docker and containers.podman from PyPI's ansible wheel (extracted once)."""
    if not all((PEER_COLLECTIONS / "ansible_collections" / part).is_dir() for part in PEER_PARTS):
        with zipfile.ZipFile(WHEEL) as wheel:
            members = [m for m in wheel.namelist() if m.startswith(tuple(f"ansible_collections/{p}/"
                                                                         for p in PEER_PARTS))]
            wheel.extractall(PEER_COLLECTIONS, members)
    return PEER_COLLECTIONS


def collections_tree(work: Path) -> Path:
    """One collections path for every engine: a frozen berth plus links to the peers' collections
    (run_playbook sets ANSIBLE_COLLECTIONS_PATH to BERTH_DEV_COLLECTIONS alone)."""
    tree = freeze(work / "coll")
    for part in PEER_PARTS:
        namespace, name = part.split("/")
        target = tree / "ansible_collections" / namespace
        target.mkdir(parents=True, exist_ok=True)
        (target / name).symlink_to(peer_collections() / "ansible_collections" / part)
    return tree


def container_args(engine: str) -> dict[str, Any]:
    """One container of the loop, in each engine's option names (same workload)."""
    common = {"name": "c{{ item }}", "image": IMAGE, "command": ["sleep", "3600"], "state": "started",
              "published_ports": [f"127.0.0.1:{{{{ {FIRST_PORT} + item }}}}:80"],
              "env": {"ROLE": "c{{ item }}", "INDEX": "{{ item | string }}", "TIER": "bench"}}
    if engine == "berth":
        return {**common, "networks": [{"name": NET}], "volumes": [f"{VOL}:/data"]}
    if engine == "community.docker":
        return {**common, "networks": [{"name": NET}], "networks_cli_compatible": True,
                "volumes": [f"{VOL}:/data"], "stop_timeout": 1}
    return {**common, "network": [NET], "volume": [f"{VOL}:/data"]}


def item_loop(items: int) -> str:
    return f"{{{{ range(1, {items + 1}) | list }}}}"


def tasks(engine: str, items: int, extra: dict[str, Any]) -> list[dict[str, Any]]:
    loop = item_loop(items)
    if engine == "ping (floor)":
        return [{"name": "network", "ansible.builtin.ping": {}}, {"name": "volume", "ansible.builtin.ping": {}},
                {"name": "containers", "ansible.builtin.ping": {}, "loop": loop}]
    modules = {"berth": ("berth.engine.network", "berth.engine.volume", "berth.engine.container", "name"),
               "community.docker": ("community.docker.docker_network", "community.docker.docker_volume",
                                    "community.docker.docker_container", "volume_name"),
               "containers.podman": ("containers.podman.podman_network", "containers.podman.podman_volume",
                                     "containers.podman.podman_container", "name")}[engine]
    net, vol, ctr, vol_key = modules
    return [{"name": "network", net: {"name": NET, **extra}},
            {"name": "volume", vol: {vol_key: VOL, **extra}},
            {"name": "containers", ctr: {**container_args(engine), **extra}, "loop": loop}]


def playbook(directory: Path, engine: str, items: int, *, extra: dict[str, Any] | None = None,
             defaults: dict[str, Any] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return write_playbook(directory, tasks(engine, items, extra or {}), name="play.yml",
                          vars={"ansible_python_interpreter": INTERPRETER}, module_defaults=defaults)


def timed_play(play: Path, *, check: bool, env: dict[str, str], agents: bool) -> tuple[float, float, int]:
    """(wall s, CPU s, changed) of one ansible-playbook run; a failed task is a PreconditionFailed."""
    before, agent_before, start = resource.getrusage(resource.RUSAGE_CHILDREN), agents_cpu() if agents else 0, \
        time.monotonic()
    result = run_playbook(play, check=check, pin_digest=False, env=env)   # the action plugin digests, as for a user
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.failed or result.returncode:
        failed = [line for line in result.output.splitlines() if line.startswith(("fatal:", "failed:"))]
        raise PreconditionFailed(f"{play.parent.name} check={check} failed: "
                                 f"{' | '.join(failed)[:1500] or result.output[-500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    cpu += (agents_cpu() - agent_before) if agents else 0
    return wall, cpu, result.changed


class Engine:
    """One engine's play, its teardown and where its figures go."""

    def __init__(self, name: str, play: Path, teardown: Callable[[], None], env: dict[str, str]) -> None:
        self.name, self.play, self.teardown, self.env = name, play, teardown, env

    def round(self, benches: dict[str, Bench]) -> None:
        def work() -> None:
            try:
                for phase in PHASES:
                    wall, cpu, changed = timed_play(self.play, check=phase == "check", env=self.env,
                                                    agents=self.name.startswith("berth"))
                    if phase == "converge" and changed == 0 and not self.name.startswith("ping"):
                        raise PreconditionFailed(f"{phase}: converging from nothing reported changed=0")
                    if phase != "converge" and changed != 0:
                        raise PreconditionFailed(f"{phase}: reported changed={changed}, not 0")
                    benches[phase].add(self.name, wall)
                    benches[phase].extra.setdefault("cpu_s", {}).setdefault(self.name, []).append(round(cpu, 3))
            finally:
                self.teardown()
        attempt(list(benches.values()), self.name, work)


def berth_engine(ctx: Context, layout: Path, items: int, env: dict[str, str]) -> Engine:
    root = ctx.workdir("berth-root")
    load_busybox(root, layout)
    defaults = {"group/berth.engine.all": {"state_root": str(root / "state"), "run_root": str(root / "run")}}
    play = playbook(ctx.workdir("play-berth"), "berth", items, defaults=defaults)
    down = write_playbook(ctx.workdir("down-berth"), [
        {"berth.engine.container": {"name": "c{{ item }}", "state": "absent"}, "loop": item_loop(items)},
        {"berth.engine.network": {"name": NET, "state": "absent"}},
        {"berth.engine.volume": {"name": VOL, "state": "absent"}}], name="down.yml",
        vars={"ansible_python_interpreter": INTERPRETER}, module_defaults=defaults)
    return Engine("berth", play, lambda: _quiet(lambda: run_playbook(down, pin_digest=False, env=env)), env)


def docker_engine(ctx: Context, cli: list[str], layout: Path, items: int, env: dict[str, str]) -> Engine:
    archive = ctx.workdir("docker-img") / "busybox.tar"
    if not archive.exists():   # the Mitogen pass loads it again (a no-op for dockerd)
        save_docker_archive_of(layout, archive)
    run_checked([*cli, "load", "-i", str(archive)])
    host = {"docker_host": cli[2]}
    play = playbook(ctx.workdir("play-docker"), "community.docker", items, extra=host)

    def teardown() -> None:
        names = subprocess.run([*cli, "ps", "-aq"], capture_output=True, text=True, check=False).stdout.split()
        if names:
            subprocess.run([*cli, "rm", "-f", "-v", *names], capture_output=True, check=False)
        subprocess.run([*cli, "network", "rm", NET], capture_output=True, check=False)
        subprocess.run([*cli, "volume", "rm", "-f", VOL], capture_output=True, check=False)
    return Engine("community.docker", play, teardown, env)


def save_docker_archive_of(layout: Path, path: Path) -> Path:
    from tests.support.images import read_layout

    return save_docker_archive(read_layout(layout, "latest"), path, IMAGE)


def podman_engine(ctx: Context, podman: Any, layout: Path, items: int, env: dict[str, str]) -> Engine:
    podman.load(f"oci:{layout}:latest")
    play = playbook(ctx.workdir("play-podman"), "containers.podman", items,
                    extra={"executable": str(podman.podman_path)})
    return Engine("containers.podman", play, podman.reset, env)


def ping_engine(ctx: Context, items: int, env: dict[str, str]) -> Engine:
    return Engine("ping (floor)", playbook(ctx.workdir("play-ping"), "ping (floor)", items), lambda: None, env)


def _quiet(action: Callable[[], Any]) -> None:
    try:
        action()
    except (AssertionError, OSError, subprocess.SubprocessError) as error:
        print(f"teardown: {error}")


@contextmanager
def peers(ctx: Context, stack: ExitStack) -> Iterator[dict[str, Any]]:
    """The peers that are installed: {"community.docker": docker CLI, "containers.podman": PodmanCompose}."""
    found: dict[str, Any] = {}
    cli = stack.enter_context(private_dockerd(ctx.workdir("dockerd")))
    if cli:
        found["community.docker"] = cli
    if shutil.which("podman") and shutil.which("skopeo"):
        from tests.support.podman_compose import PodmanCompose

        podman = PodmanCompose("pb")
        stack.callback(lambda: _report_left(ctx, podman.close()))
        found["containers.podman"] = podman
    yield found


def _report_left(ctx: Context, left: list[str]) -> None:
    if left:
        ctx.log(f"playbook suite: podman left {left}")


def make_benches(ctx: Context, items: int, suffix: str, goal: str) -> dict[str, Bench]:
    titles = {"converge": "converge from nothing", "rerun": "no-op re-run (changed=0)",
              "check": "--check of the converged state (changed=0)"}
    workload = (f"ansible-playbook, localhost -c local: 1 network, 1 volume, {items} containers (busybox sleep, "
                f"network, volume, 127.0.0.1 port, 3 env) as a per-item loop")
    key = suffix.strip(" ()").lower().replace(" ", "-")
    return {phase: ctx.bench(f"playbook-{phase}{'-' + key if key else ''}",
                             f"{items}-container playbook: {titles[phase]}{suffix}", "s", workload, goal)
            for phase in PHASES}


def judge(benches: dict[str, Bench], half: bool) -> None:
    for phase, bench in benches.items():
        berth, peers = bench.median("berth"), [bench.median(p) for p in ("community.docker", "containers.podman")]
        best = min((p for p in peers if p is not None), default=None)
        if berth is None or best is None:
            bench.judge(None, "a figure is missing")
        elif not half:
            bench.judge(None, f"berth {berth:.2f} s, faster peer {best:.2f} s ({berth / best:.2f}x)")
        else:
            bench.judge(berth <= best / 2, f"berth {berth:.2f} s vs faster peer {best:.2f} s "
                                           f"({berth / best:.2f}x; goal <= 0.5x) [{phase}]")


def run(ctx: Context) -> None:
    items = ctx.scale(20, 1)
    os.environ["BERTH_DEV_PREFIX_ROOT"] = str(ctx.workdir("bd"))
    os.environ["BERTH_DEV_COLLECTIONS"] = str(collections_tree(ctx.work))
    layout = build_busybox_layout(ctx.workdir("busybox")).layout
    plain = make_benches(ctx, items, "", "each <= 1/2 of the faster peer's")
    mito = make_benches(ctx, items, " (Mitogen)", "report")
    with ExitStack() as stack:
        stack.callback(stop_agents)
        found = stack.enter_context(peers(ctx, stack))
        for benches, env, rounds in ((plain, {}, ctx.rounds), (mito, mitogen_env(), 1)):
            engines = {"berth": berth_engine(ctx, layout, items, env)}
            if ctx.smoke and benches is mito:   # smoke checks that berth runs under Mitogen; the peers ran above
                engines["ping (floor)"] = ping_engine(ctx, items, env)
                for peer in ("community.docker", "containers.podman"):
                    for bench in benches.values():
                        bench.fail(peer, "not run in smoke mode (the peers' Mitogen runs are in the full run)")
                interleave(ctx, {name: (lambda _i, e=e, b=benches: e.round(b)) for name, e in engines.items()}, 1)
                continue
            if "community.docker" in found:
                engines["community.docker"] = docker_engine(ctx, found["community.docker"], layout, items, env)
            if "containers.podman" in found:
                engines["containers.podman"] = podman_engine(ctx, found["containers.podman"], layout, items, env)
            engines["ping (floor)"] = ping_engine(ctx, items, env)
            for missing in {"community.docker", "containers.podman"} - set(found):
                for bench in benches.values():
                    bench.fail(missing, "not installed")
            interleave(ctx, {name: (lambda _i, e=e, b=benches: e.round(b)) for name, e in engines.items()}, rounds)
    judge(plain, half=True)
    judge(mito, half=False)


def mitogen_env() -> dict[str, str]:
    from tests.support.fleet import mitogen_strategy_dir

    return {"ANSIBLE_STRATEGY": "mitogen_linear", "ANSIBLE_STRATEGY_PLUGINS": mitogen_strategy_dir()}
