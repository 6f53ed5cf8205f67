"""How cost grows with work (issue 20's scaling row): N = 1, 10, 50, 200
containers (smoke: 1, 3) on ONE user-defined bridge network, berth's CLI
against an isolated podman (runc, CNI; tests/support/podman_compose.py).

Both engines grow side by side: each step adds containers (`run -d --network
NET --name cK busybox sleep 3600`, each a whole process timed from outside)
until N run, then reads:

  - start latency at N: the median of the last (up to) 5 `run -d` of the step,
    the N-th included (N=1: that one start);
  - engine memory: RSS and PSS summed over the engine's processes (berth: its
    monitor; podman: the conmons of its containers), MB;
  - name propagation: from the start of the N-th `run -d` (named X) until every
    other running container on the network resolves X, read from outside in
    each peer's /etc/hosts through /proc/<pid>/root (berth writes peers' hosts
    files; podman 4.3 with CNI has no dnsname plugin here, so it may never).

Before any of it each engine starts one container with --network none (not on
the network, not timed) so the N=1 start does not pay berth's monitor start;
it is in the memory figures of both (a constant: the slope is unaffected).
One pass (the curves are not repeated per round: 200 containers x 2 engines).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_compose import load_busybox
from bench.bench_containers import memory
from bench.harness import REPO, Bench, Context, PreconditionFailed, attempt, interleave, run_checked, timed_ms
from tests.support.images import build_busybox_layout
from tests.support.podman_compose import PodmanCompose

NETWORK = "scalenet"
SUBNETS = {"berth": "10.254.202.0/24", "podman": "10.254.203.0/24"}
LAST = 5                 # starts the latency at N is the median of
PROPAGATION_WAIT = 3.0   # seconds a name has to reach every peer, else the engine has no figure
ENGINES = ("berth", "podman")


@dataclass
class Fleet:
    """One engine's growing set of containers on the network."""

    name: str
    prefix: list[str]                 # the engine's command, before the verb
    image: str
    started: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    failed: bool = False

    def run_d(self, name: str) -> list[str]:
        return [*self.prefix, "run", "-d", "--network", NETWORK, "--name", name, self.image, "sleep", "3600"]

    def inspect_pids(self, names: list[str]) -> None:
        done = run_checked([*self.prefix, "inspect", *names], timeout=300)
        for document in json.loads(done.stdout):
            name = document["Name"].lstrip("/")
            pid = int(document["State"]["Pid"])
            if not pid:
                raise PreconditionFailed(f"{self.name}: container {name} is not running")
            self.pids[name] = pid

    def prepare(self, subnet: str) -> None:
        """The network and the anchor container (off the network); half-made, everything is taken down."""
        try:
            run_checked([*self.prefix, "network", "create", "--subnet", subnet, NETWORK])
            run_checked([*self.prefix, "run", "-d", "--network", "none", "--name", "anchor", self.image,
                         "sleep", "3600"])
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        raise NotImplementedError


class BerthFleet(Fleet):
    def __init__(self, root: Path, layout: Path) -> None:
        load_busybox(root, layout)
        super().__init__("berth", [sys.executable, str(REPO / "bin" / "berth"), "--state-root",
                                   str(root / "state"), "--run-root", str(root / "run")], "busybox:latest")
        self.root = root
        self.prepare(SUBNETS["berth"])

    def engine_pids(self) -> list[int]:
        return [int((self.root / "run" / "monitor.pid").read_text())]

    def close(self) -> None:
        names = ["anchor", *self.started]
        for index in range(0, len(names), 50):
            subprocess.run([*self.prefix, "rm", "-f", *names[index:index + 50]], capture_output=True, check=False)
        subprocess.run([*self.prefix, "network", "rm", NETWORK], capture_output=True, check=False)
        pid_file, deadline = self.root / "run" / "monitor.pid", time.monotonic() + 15
        while pid_file.exists() and time.monotonic() < deadline:   # it ends once no container is left
            time.sleep(0.1)
        if pid_file.exists():
            subprocess.run(["kill", pid_file.read_text().strip()], capture_output=True, check=False)


class PodmanFleet(Fleet):
    def __init__(self, layout: Path) -> None:
        self.podman = PodmanCompose("scale")
        super().__init__("podman", [str(self.podman.podman_path)], "docker.io/library/busybox:latest")
        self.podman.load(f"oci:{layout}:latest")
        self.prepare(SUBNETS["podman"])

    def engine_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-a", "-x", "conmon"], capture_output=True, text=True, check=False).stdout
        return [int(line.split()[0]) for line in out.splitlines() if str(self.podman.base) in line]

    def close(self) -> None:
        left = self.podman.close()
        if left:
            raise PreconditionFailed(f"podman left behind: {left}")


def resolved(pid: int, name: str) -> tuple[bool, int]:
    """Whether the container of pid lists name in its /etc/hosts, and the file's size."""
    try:
        text = Path(f"/proc/{pid}/root/etc/hosts").read_text()
    except OSError:
        return False, 0
    return any(name in line.split()[1:] for line in text.splitlines() if line.strip()), len(text)


def cpu_ms(pids: list[int]) -> float:
    """User + system CPU of pids so far, ms."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    start_ms: float
    rss_mb: float
    pss_mb: float
    propagation_ms: float | None
    engine_cpu_ms: float
    hosts_bytes: int
    at_return: bool


def propagate(fleet: Fleet, name: str, started: float) -> tuple[float | None, int, bool]:
    """ms from `started` until every peer lists name (None: not within PROPAGATION_WAIT), the bytes of
    the peers' hosts files (what one membership change rewrites) and whether all had it at the first look
    (right after `run -d` returned: the update was synchronous)."""
    peers = [fleet.pids[peer] for peer in fleet.started if peer != name]
    if not peers:
        return None, 0, False
    waiting, size, first = list(peers), 0, True
    while waiting:
        seen = [(pid, *resolved(pid, name)) for pid in waiting]
        size += sum(length for _pid, ok, length in seen if ok)
        waiting = [pid for pid, ok, _length in seen if not ok]
        if waiting and time.perf_counter() - started > PROPAGATION_WAIT:
            return None, size, False
        if waiting:
            first = False
            time.sleep(0.005)
    return (time.perf_counter() - started) * 1000, size, first


def grow(fleet: Fleet, target: int) -> Figures:
    """Starts containers until `target` run; the figures of the last one."""
    times = []
    while len(fleet.started) < target - 1:
        name = f"c{len(fleet.started) + 1}"
        times.append(timed_ms(fleet.run_d(name), timeout=120))
        fleet.started.append(name)
    if fleet.started:
        fleet.inspect_pids([name for name in fleet.started if name not in fleet.pids])
    name = f"c{target}"
    engine = fleet.engine_pids()
    cpu_before = cpu_ms(engine)
    started = time.perf_counter()
    run_checked(fleet.run_d(name), timeout=120)
    times.append((time.perf_counter() - started) * 1000)
    fleet.started.append(name)
    propagation, size, at_return = propagate(fleet, name, started)
    fleet.inspect_pids([name])   # after: the peers' view is read first, and is what counts
    engine = fleet.engine_pids()
    cpu = cpu_ms(engine) - cpu_before if fleet.name == "berth" else 0.0   # conmons come and go: not comparable
    pss, rss = memory(engine)
    return Figures(statistics.median(times[-LAST:]), rss, pss, propagation, cpu, size, at_return)


def make_benches(ctx: Context, targets: list[int]) -> dict[str, Bench]:
    xs = [float(n) for n in targets]
    workload = ("N busybox `sleep 3600` containers on one user-defined bridge network, started one after "
                "another with `run -d --network NET` (whole process)")
    return {
        "start": ctx.bench("scaling-start", "start latency of the N-th container", "ms",
                           f"{workload}; median of the last {LAST} starts up to N", "N=200 start <= 1.5x N=1 start",
                           chart="lines", x=xs),
        "rss": ctx.bench("scaling-rss", "engine memory (RSS) at N containers", "MB",
                         f"{workload}; RSS summed: berth's monitor, podman's conmons", "linear, slope <= 0.5 MB",
                         chart="lines", x=xs),
        "pss": ctx.bench("scaling-pss", "engine memory (PSS) at N containers", "MB",
                         f"{workload}; PSS summed: berth's monitor, podman's conmons", "linear, slope <= 0.5 MB",
                         chart="lines", x=xs),
        "names": ctx.bench("scaling-names", "name propagation to every peer at N", "ms",
                           f"{workload}; from the N-th `run -d` start until all N-1 peers' /etc/hosts list it",
                           "report", chart="lines", x=xs),
    }


def record(benches: dict[str, Bench], fleet: Fleet, index: int, figures: Figures) -> None:
    benches["start"].point(fleet.name, index, figures.start_ms)
    benches["rss"].point(fleet.name, index, figures.rss_mb)
    benches["pss"].point(fleet.name, index, figures.pss_mb)
    benches["names"].point(fleet.name, index, figures.propagation_ms)
    n = int(benches["start"].x[index])
    if n > 1:
        benches["names"].extra.setdefault("all peers had it when run -d returned", {}).setdefault(
            fleet.name, {})[n] = figures.at_return
    if fleet.name == "berth":
        benches["names"].extra.setdefault("berth monitor CPU ms for the N-th start", {})[n] = round(
            figures.engine_cpu_ms, 1)
        benches["names"].extra.setdefault("berth peers' hosts bytes rewritten by the N-th start", {})[n] = (
            figures.hosts_bytes)
    if figures.propagation_ms is None and n > 1:
        benches["names"].failures.setdefault(
            fleet.name, f"at N={n} the name had not reached every peer's /etc/hosts within {PROPAGATION_WAIT} s"
            + (" (podman 4.3 with CNI and no dnsname plugin here: no names of other containers)"
               if fleet.name == "podman" else ""))


def step(fleets: dict[str, Fleet], benches: dict[str, Bench], engine: str,
         targets: list[int]) -> Callable[[int], None]:
    def one(index: int) -> None:
        fleet = fleets.get(engine)
        if fleet is None or fleet.failed:
            return

        def measured() -> None:
            record(benches, fleet, index, grow(fleet, targets[index]))
        if not attempt([benches[key] for key in ("start", "rss", "pss")], engine, measured):
            fleet.failed = True
    return one


def slope(xs: list[float], ys: list[float | None]) -> float | None:
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    if len(points) < 2:
        return None
    return statistics.linear_regression([p[0] for p in points], [p[1] for p in points]).slope


def judge(benches: dict[str, Bench]) -> None:
    start = benches["start"]
    curve = start.curves.get("berth") or []
    if len(curve) >= 2 and curve[0] and curve[-1] is not None and "berth" not in start.failures:
        ratio = curve[-1] / curve[0]
        start.extra["berth last/first"] = round(ratio, 2)
        start.judge(ratio <= 1.5, f"berth N={start.x[-1]:g} {curve[-1]:.0f} ms = {ratio:.2f}x N=1 {curve[0]:.0f} ms")
    else:
        start.judge(None, "no berth curve")
    for key in ("rss", "pss"):
        bench = benches[key]
        fits = {engine: slope(bench.x, values) for engine, values in bench.curves.items()}
        bench.extra["slope MB per container"] = {e: None if s is None else round(s, 3) for e, s in fits.items()}
        berth = fits.get("berth")
        bench.judge(None if berth is None else berth <= 0.5,
                    "no berth curve" if berth is None else f"berth slope {berth:.3f} MB per container (goal <= 0.5)")
    names = benches["names"]
    last = (names.curves.get("berth") or [None])[-1]
    names.judge(None, "report only" if last is None else f"report only: berth {last:.0f} ms at N={names.x[-1]:g}")
    seen = names.extra.get("all peers had it when run -d returned", {}).get("berth", {})
    synchronous = bool(seen) and all(ok for n, ok in seen.items() if n > 1)
    names.extra["how"] = (
        "berth rewrites every running peer's hosts file in the monitor while it attaches the new container, "
        + ("before `run -d` returns (every peer had the name at the first look): the propagation time is the "
           "run's own wall time" if synchronous else "not always before `run -d` returns")
        + "; the bytes rewritten per start grow as N^2 (N-1 peers x N lines each)")


def open_fleets(work: Path, layout: Path, benches: dict[str, Bench]) -> dict[str, Fleet]:
    fleets: dict[str, Fleet] = {}
    makers: dict[str, Callable[[], Fleet]] = {"berth": lambda: BerthFleet(work / "berth", layout),
                                              "podman": lambda: PodmanFleet(layout)}
    for engine, make in makers.items():
        def opened(engine: str = engine, make: Callable[[], Fleet] = make) -> None:
            if engine == "podman" and not shutil.which("podman"):
                raise PreconditionFailed("podman: not installed")
            try:
                fleets[engine] = make()
            except PreconditionFailed:
                raise
            except Exception as error:  # a peer that cannot even start gives no figure, the suite goes on
                raise PreconditionFailed(f"preparing {engine} failed: {error}") from error
        attempt(list(benches.values()), engine, opened)
    return fleets


def run(ctx: Context) -> None:
    targets = [1, 3] if ctx.smoke else [1, 10, 50, 200]
    benches = make_benches(ctx, targets)
    work = ctx.workdir("scaling")
    fleets: dict[str, Fleet] = {}
    try:
        layout = build_busybox_layout(work / "busybox").layout
        fleets = open_fleets(work, layout, benches)
        interleave(ctx, {engine: step(fleets, benches, engine, targets) for engine in ENGINES},
                   rounds=len(targets))
    finally:
        for engine, fleet in fleets.items():
            attempt([benches["start"]], engine, fleet.close)
    judge(benches)
