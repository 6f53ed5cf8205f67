"""What every benchmark of `bench/run.py` shares: whole-process timing from
outside, engines interleaved round by round, figures and failures recorded the
same way, and the machine the figures were read on.

A benchmark is a `Bench` (one row of RESULTS.md, one chart): per engine a list
of samples, or the reason the engine gave no figure. A suite (bench/suite_*.py)
fills benches through a `Context` and never prints figures itself: run.py
writes them all to results.json and report.py renders that.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRATCH = Path("/var/tmp")  # the root disk, where a user's state would be
VENV_PYTHON = str(REPO / ".build" / "venv" / "bin" / "python")


class PreconditionFailed(Exception):
    """A run did not do what it was measured for (the peer failed, the re-run
    changed something, the container did not start): no figure is recorded."""


@dataclass
class Bench:
    """One benchmark: its workload, peers, goal, and per engine samples (bars)
    or per engine a curve over `x` (lines)."""

    id: str
    title: str
    unit: str
    workload: str
    goal: str
    chart: str = "bars"  # "bars" (median, min-max whiskers) or "lines" (a value per x)
    x: list[float] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)
    curves: dict[str, list[float | None]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    met: bool | None = None
    verdict: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, engine: str, value: float) -> None:
        self.samples.setdefault(engine, []).append(round(value, 3))

    def point(self, engine: str, index: int, value: float | None) -> None:
        curve = self.curves.setdefault(engine, [None] * len(self.x))
        curve[index] = None if value is None else round(value, 3)

    def fail(self, engine: str, reason: str) -> None:
        self.failures[engine] = reason[-1600:]

    def median(self, engine: str) -> float | None:
        """The median of the engine's good runs (a round that failed its precondition added none)."""
        values = self.samples.get(engine)
        return statistics.median(values) if values else None

    def judge(self, met: bool | None, verdict: str) -> None:
        """Records whether berth meets the goal; None when a figure it needs is missing."""
        self.met, self.verdict = met, verdict


@dataclass
class Context:
    """Where a suite works and how much it does."""

    work: Path
    smoke: bool
    rounds: int
    benches: list[Bench] = field(default_factory=list)
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    def bench(self, id: str, title: str, unit: str, workload: str, goal: str, **kw: Any) -> Bench:
        made = Bench(id=id, title=title, unit=unit, workload=workload, goal=goal, **kw)
        self.benches.append(made)
        return made

    def scale(self, full: int, smoke: int = 1) -> int:
        """A count of the full run, or its smoke-mode stand-in."""
        return smoke if self.smoke else full

    def workdir(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def run_checked(command: Sequence[str], *, env: dict[str, str] | None = None, input: bytes | None = None,
                timeout: float = 600, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Runs a command; a non-zero exit is a PreconditionFailed naming it and its stderr."""
    try:
        done = subprocess.run(list(command), capture_output=True, env=env, input=input, timeout=timeout,
                              cwd=cwd, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PreconditionFailed(f"{command[0]}: {error}") from error
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).decode(errors="replace").strip()[-400:]
        raise PreconditionFailed(f"`{' '.join(command)[:200]}` exited {done.returncode}: {tail}")
    return done


def timed_ms(command: Sequence[str], **kw: Any) -> float:
    """Wall time of one whole process, exec to exit, in ms (it must succeed)."""
    start = time.perf_counter()
    run_checked(command, **kw)
    return (time.perf_counter() - start) * 1000


def rotated(engines: Sequence[str], round_index: int) -> list[str]:
    """The engines in a different order each round, so drift hits all alike."""
    shift = round_index % len(engines) if engines else 0
    return list(engines[shift:]) + list(engines[:shift])


def interleave(ctx: Context, steps: dict[str, Callable[[int], None]], rounds: int | None = None) -> None:
    """Runs each engine's step once per round, the order rotating; a failing
    engine is recorded by its step (see `attempt`) and the others go on."""
    for index in range(rounds if rounds is not None else ctx.rounds):
        for engine in rotated(list(steps), index):
            ctx.log(f"  round {index + 1}: {engine}")
            steps[engine](index)


def attempt(benches: Sequence[Bench], engine: str, work: Callable[[], None]) -> bool:
    """Runs one engine's measurement; a failed precondition becomes that
    engine's failure in every bench it feeds, not a crash of the suite."""
    try:
        work()
        return True
    except PreconditionFailed as error:
        for bench in benches:
            bench.fail(engine, str(error))
        return False


def tool_version(command: Sequence[str]) -> str:
    if not shutil.which(command[0]):
        return "not installed"
    try:
        out = subprocess.run(list(command), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"
    return (out.stdout or out.stderr).strip().splitlines()[0][:120] if (out.stdout or out.stderr) else "unknown"


def machine() -> dict[str, Any]:
    """The machine and the versions the figures were read with."""
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    return {
        "kernel": platform.release(), "cpus": os.cpu_count(), "memory": meminfo.split(":", 1)[1].strip(),
        "python": platform.python_version(), "berth_commit": commit, "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_at_start": os.getloadavg()[0],
        "cgroups": "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "hybrid (v1 + v2)",
        "versions": {name: tool_version(command) for name, command in {
            "runc": ["runc", "--version"], "crun": ["crun", "--version"], "podman": ["podman", "--version"],
            "docker": ["dockerd", "--version"], "buildah": ["buildah", "--version"],
            "skopeo": ["skopeo", "--version"], "ansible-core": [str(REPO / ".build/venv/bin/ansible"), "--version"],
            "podman-compose": [str(REPO / ".build/venv/bin/podman-compose"), "--version"],
        }.items()},
    }


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A work directory on the root disk, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=SCRATCH))
    try:
        yield path
    finally:
        subprocess.run(["umount", "-R", "-l", str(path)], capture_output=True, check=False)
        shutil.rmtree(path, ignore_errors=True)


def dump(path: Path, meta: dict[str, Any], benches: Sequence[Bench], errors: dict[str, str]) -> None:
    payload = {"machine": meta, "suite_errors": errors, "benchmarks": [asdict(b) for b in benches]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)
