"""The benchmark report (issue 20): every benchmark, side by side with the
peers installed here, in one command.

    scripts/bench.sh                 # full run (<= 45 min): bench/results.json, bench/RESULTS.md, bench/charts/
    scripts/bench.sh --smoke         # N=1, one round: what CI runs (writes under --out, default a temp dir)
    scripts/bench.sh --only cli,pull # some suites
    scripts/bench.sh --report        # RESULTS.md and the charts again from results.json, nothing measured

scripts/bench.sh installs what the peers need (Debian's docker.io and crun,
matplotlib, the peers' collections) and runs this file with the test venv.
The whole run happens in a private network namespace: bridges, veths, nft
tables and the peers' iptables chains all go with it. Each suite is one
bench/suite_<name>.py; a suite that crashes is recorded as such and the
others go on.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from bench.harness import SCRATCH, Context, dump, machine
from bench.report import write_report

SUITES = ["runtime", "cli", "pull", "build", "playbook", "compose", "scaling"]
HERE = Path(__file__).resolve().parent


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="N=1 and one round: checks every benchmark runs")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per benchmark (full run)")
    parser.add_argument("--only", default="", help=f"comma-separated suites of {', '.join(SUITES)}")
    parser.add_argument("--out", type=Path, help="where results.json, RESULTS.md and charts/ go "
                        "(default: bench/ for a full run, a temp dir for --smoke)")
    parser.add_argument("--report", action="store_true", help="only render RESULTS.md and charts from results.json")
    return parser.parse_args()


def chosen(only: str) -> list[str]:
    names = [n.strip() for n in only.split(",") if n.strip()] or SUITES
    unknown = sorted(set(names) - set(SUITES))
    if unknown:
        raise SystemExit(f"bench: unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    return names


def run_suites(ctx: Context, names: list[str], out: Path, meta: dict) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name in names:
        started = time.monotonic()
        ctx.log(f"bench: suite {name}")
        before = len(ctx.benches)
        try:
            importlib.import_module(f"bench.suite_{name}").run(ctx)
        except Exception:  # a crashed suite is a finding of the report, not the end of the run
            errors[name] = traceback.format_exc()[-3000:]
            ctx.log(f"bench: suite {name} crashed:\n{errors[name]}")
        for bench in ctx.benches[before:]:
            bench.extra.setdefault("suite", name)
        meta.setdefault("suite_seconds", {})[name] = round(time.monotonic() - started, 1)
        dump(out / "results.json", meta, ctx.benches, errors)   # progress survives a later crash
    return errors


def main() -> int:
    args = parse()
    out = args.out or (Path(tempfile.mkdtemp(prefix="berth-bench-smoke-")) if args.smoke else HERE)
    out.mkdir(parents=True, exist_ok=True)
    if args.report:
        write_report(out / "results.json", out)
        return 0
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (the benchmarks start containers)")
    from tests.support.isolation import enter_private_netns

    enter_private_netns()
    names = chosen(args.only)
    meta = machine()
    meta.update({"smoke": args.smoke, "rounds": 1 if args.smoke else args.rounds, "suites": names})
    work = Path(tempfile.mkdtemp(prefix="berth-bench-", dir=SCRATCH))
    ctx = Context(work=work, smoke=args.smoke, rounds=meta["rounds"])
    started = time.monotonic()
    try:
        errors = run_suites(ctx, names, out, meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta["total_seconds"] = round(time.monotonic() - started, 1)
    dump(out / "results.json", meta, ctx.benches, errors)
    write_report(out / "results.json", out)
    ctx.log(f"bench: {len(ctx.benches)} benchmarks in {meta['total_seconds']} s; report in {out / 'RESULTS.md'}")
    failed = [b.id for b in ctx.benches
              if any(e.startswith("berth") for e in b.failures) or (b.samples == {} and b.curves == {})]
    return 1 if errors or (args.smoke and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
