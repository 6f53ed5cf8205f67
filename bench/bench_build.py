"""Dockerfile builds (issue 17): `berth build` side by side with `buildah bud`
in one run, round by round (the order alternates so the machine's drift hits
both alike). Every figure is a whole process timed from outside:

  - a 6-instruction build on the busybox base (ENV, WORKDIR, COPY, RUN, RUN,
    CMD): cold (``--no-cache``) and fully cached;
  - a COPY of 500 files: cold and cached;
  - berth's check-mode prediction (``berth build --check``) of both, cached
    (the question a playbook's check run asks); buildah has no such mode.

buildah runs as it would on a host: overlay storage, runc (``--isolation
oci``), no network, ``--layers`` so it caches per instruction as berth does.
Both stores are on the root disk (/var/tmp), where a user's would be, and get
the same busybox base (tests/support/images.py) under the same name.

Goals (issue 17): cached rebuild <= 0.3 s and faster than buildah's; cold no
slower than buildah's; check-mode prediction <= 0.3 s.

Run: .build/venv/bin/python bench/bench_build.py [--rounds 3] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from bench.bench_containers import timed as timed_ms
from tests.support.images import build_busybox_layout

SCRATCH = Path("/var/tmp")  # the root disk
BASE = "docker.io/library/busybox:latest"
SIX = """\
FROM busybox
ENV APP=/app
WORKDIR /app
COPY app.txt ./
RUN echo built > built && cat app.txt >> built
RUN ls -la /app > listing
CMD ["cat", "/app/built"]
"""
FILES = 500
GOAL_S = 0.3


def contexts(work: Path) -> dict[str, Path]:
    six = work / "ctx-six"
    six.mkdir()
    (six / "Dockerfile").write_text(SIX)
    (six / "app.txt").write_text("app\n")
    many = work / "ctx-copy500"
    (many / "files").mkdir(parents=True)
    (many / "Dockerfile").write_text("FROM busybox\nCOPY files/ /files/\n")
    for i in range(FILES):
        (many / "files" / f"f{i:03d}.txt").write_text(f"file {i}\n" * 4)
    return {"six": six, "copy500": many}


class BerthTool:
    name = "berth"

    def __init__(self, work: Path, layout: Path) -> None:
        from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
        from ansible_collections.berth.engine.plugins.module_utils.image.archive import load_archive
        from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
        from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore

        self.root = work / "berth"
        engine = Engine.open(self.root / "state", self.root / "run")
        load_archive(ImageStore(engine), layout, parse_reference("busybox:latest"))
        self.prefix = [sys.executable, str(REPO / "bin" / "berth"), "--state-root", str(self.root / "state"),
                       "--run-root", str(self.root / "run")]

    def build(self, context: Path, tag: str, *, cold: bool) -> list[str]:
        return [*self.prefix, "build", "-q", "-t", tag, *(["--no-cache"] if cold else []), str(context)]

    def check(self, context: Path, tag: str) -> list[str]:
        return [*self.prefix, "build", "--check", "-t", tag, str(context)]

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class BuildahTool:
    name = "buildah"

    def __init__(self, work: Path, layout: Path) -> None:
        # buildah refuses long run roots; the store itself stays on the root disk
        self.run_root = Path(tempfile.mkdtemp(prefix="bb-run-"))
        self.root = work / "buildah"
        self.prefix = ["buildah", "--root", str(self.root), "--runroot", str(self.run_root),
                       "--storage-driver", "overlay"]
        image_id = subprocess.run([*self.prefix, "pull", "-q", f"oci:{layout}:latest"], capture_output=True,
                                  text=True, check=True).stdout.split()[-1]
        subprocess.run([*self.prefix, "tag", image_id, BASE], capture_output=True, check=True)

    def build(self, context: Path, tag: str, *, cold: bool) -> list[str]:
        return [*self.prefix, "bud", "--layers", "--isolation", "oci", "--runtime", "runc", "--network", "none",
                "--pull-never", "-q", "-t", tag, *(["--no-cache"] if cold else []), str(context)]

    def close(self) -> None:
        subprocess.run([*self.prefix, "rm", "-a"], capture_output=True, check=False)
        subprocess.run([*self.prefix, "rmi", "-a", "-f"], capture_output=True, check=False)
        subprocess.run(["umount", str(self.root / "overlay")], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.run_root, ignore_errors=True)


def tool_round(tool: BerthTool | BuildahTool, ctx: dict[str, Path], runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    for label, context in ctx.items():
        tag = f"bench/{label}:1"
        timed_ms(tool.build(context, tag, cold=False))   # the cache is warm from here on
        figures[f"{label} cold"] = [timed_ms(tool.build(context, tag, cold=True)) for _run in range(runs)]
        figures[f"{label} cached"] = [timed_ms(tool.build(context, tag, cold=False)) for _run in range(runs)]
        if isinstance(tool, BerthTool):
            figures[f"{label} check"] = [timed_ms(tool.check(context, tag)) for _run in range(runs)]
    return figures


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1),
            "max": round(max(values), 1), "n": len(values)}


def goals(report: dict[str, dict[str, dict[str, float]]]) -> dict[str, bool]:
    berth, buildah = report["berth"], report["buildah"]
    met = {}
    for label in ("six", "copy500"):
        met[f"{label} cached <= {GOAL_S}s"] = berth[f"{label} cached"]["median"] <= GOAL_S * 1000
        met[f"{label} cached faster than buildah"] = berth[f"{label} cached"]["median"] < buildah[f"{label} cached"][
            "median"]
        met[f"{label} cold no slower than buildah"] = berth[f"{label} cold"]["median"] <= buildah[f"{label} cold"][
            "median"]
        met[f"{label} check <= {GOAL_S}s"] = berth[f"{label} check"]["median"] <= GOAL_S * 1000
    return met


def table(report: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = sorted({key for figures in report.values() for key in figures})
    lines = [f"{'ms (median, min-max)':<22}" + "".join(f"{name:>24}" for name in report)]
    for row in rows:
        cells = []
        for name in report:
            f = report[name].get(row)
            cells.append(f"{f['median']:>9.1f} ({f['min']:.0f}-{f['max']:.0f})" if f else "-")
        lines.append(f"{row:<22}" + "".join(f"{cell:>24}" for cell in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="berth-bench-build-", dir=SCRATCH))
    raw: dict[str, dict[str, list[float]]] = {"berth": {}, "buildah": {}}
    tools: list[BerthTool | BuildahTool] = []
    try:
        layout = build_busybox_layout(work / "base").layout
        ctx = contexts(work)
        tools = [BerthTool(work, layout), BuildahTool(work, layout)]
        for round_no in range(args.rounds):
            for tool in tools if round_no % 2 == 0 else list(reversed(tools)):
                for key, values in tool_round(tool, ctx, args.runs).items():
                    raw[tool.name].setdefault(key, []).extend(values)
    finally:
        for tool in tools:
            tool.close()
        shutil.rmtree(work, ignore_errors=True)
    report = {name: {key: summary(values) for key, values in figures.items()} for name, figures in raw.items()}
    if args.json:
        print(json.dumps({"figures": report, "goals": goals(report)}, indent=2))
        return
    print(table(report))
    for goal, met in goals(report).items():
        print(f"  {'met ' if met else 'MISSED'}  {goal}")


if __name__ == "__main__":
    main()
