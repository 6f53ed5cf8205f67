"""results.json -> RESULTS.md and charts/*.png (matplotlib, no screen).

Bars: the median of every engine's samples, whiskers from min to max.
Lines: one curve per engine over the benchmark's x (the scaling runs).
Everything here is derived from results.json alone, so `bench/run.py
--report` renders the same page again without measuring anything.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"


def verdict(bench: dict[str, Any]) -> str:
    met = bench.get("met")
    mark = "met" if met else ("**missed**" if met is False else "n/a")
    return f"{mark} — {bench.get('verdict', '')}".rstrip(" —")


def bar_rows(bench: dict[str, Any]) -> list[str]:
    rows = ["| engine | median | min | max | runs |", "|---|---:|---:|---:|---:|"]
    unit = bench["unit"]
    for engine, values in bench["samples"].items():
        if not values:
            continue
        rows.append(f"| {engine} | {fmt(statistics.median(values), unit)} | {fmt(min(values), unit)} | "
                    f"{fmt(max(values), unit)} | {len(values)} |")
    return rows


def curve_rows(bench: dict[str, Any]) -> list[str]:
    xs = bench["x"]
    rows = ["| engine | " + " | ".join(f"N={x:g}" for x in xs) + " |", "|---|" + "---:|" * len(xs)]
    for engine, values in bench["curves"].items():
        rows.append(f"| {engine} | " + " | ".join(fmt(v, bench["unit"]) for v in values) + " |")
    return rows


def section(bench: dict[str, Any], chart: str | None) -> list[str]:
    lines = [f"### {bench['title']}", "", f"- workload: {bench['workload']}",
             f"- goal: {bench['goal']} — {verdict(bench)}", f"- unit: {bench['unit']}", ""]
    lines += curve_rows(bench) if bench["chart"] == "lines" else bar_rows(bench)
    for engine, reason in bench["failures"].items():
        what = "some runs failed" if bench["samples"].get(engine) else "no figure"
        lines.append(f"\n- **{engine}: {what}** — {' '.join(reason.split())[:600]}")
    extra = {k: v for k, v in bench.get("extra", {}).items() if k != "suite"}
    if extra:
        lines += ["", "<details><summary>more figures</summary>", "", "```json",
                  json.dumps(extra, indent=1)[:4000], "```", "</details>"]
    if chart:
        lines += ["", f"![{bench['title']}](charts/{chart})"]
    return [*lines, ""]


def draw(bench: dict[str, Any], path: Path) -> bool:
    """Writes the bench's chart; False when it has nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    try:
        if not (_lines(axes, bench) if bench["chart"] == "lines" else _bars(axes, bench)):
            return False
        axes.set_title(bench["title"][:80], fontsize=10)
        axes.set_ylabel(bench["unit"])
        axes.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        figure.savefig(path)
        return True
    finally:
        plt.close(figure)


def _bars(axes: Any, bench: dict[str, Any]) -> bool:
    engines = [e for e, v in bench["samples"].items() if v]
    if not engines:
        return False
    medians = [statistics.median(bench["samples"][e]) for e in engines]
    low = [m - min(bench["samples"][e]) for m, e in zip(medians, engines, strict=True)]
    high = [max(bench["samples"][e]) - m for m, e in zip(medians, engines, strict=True)]
    colours = ["tab:blue" if e.startswith("berth") else "tab:grey" for e in engines]
    axes.bar(range(len(engines)), medians, yerr=[low, high], capsize=4, color=colours)
    axes.set_xticks(range(len(engines)), [e.replace(" ", "\n", 1) for e in engines], fontsize=8)
    return True


def _lines(axes: Any, bench: dict[str, Any]) -> bool:
    drawn = False
    for engine, values in bench["curves"].items():
        points = [(x, v) for x, v in zip(bench["x"], values, strict=False) if v is not None]
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=engine)
            drawn = True
    if drawn:
        axes.set_xlabel("containers on the network (N)")
        axes.legend(fontsize=8)
    return drawn


def summary_rows(benches: list[dict[str, Any]]) -> list[str]:
    rows = ["| benchmark | berth | peers (median) | goal | |", "|---|---:|---|---|---|"]
    for bench in benches:
        if bench["chart"] == "lines":
            berth = next((v for e, v in bench["curves"].items() if e.startswith("berth")), [])
            shown = " / ".join(fmt(v, bench["unit"]) for v in berth) or "—"
            peers = "; ".join(f"{e}: " + " / ".join(fmt(v, bench["unit"]) for v in vs)
                              for e, vs in bench["curves"].items() if not e.startswith("berth"))
        else:
            figures = {e: statistics.median(v) for e, v in bench["samples"].items() if v}
            berth_key = next((e for e in figures if e.startswith("berth")), None)
            shown = fmt(figures.get(berth_key), bench["unit"]) if berth_key else "—"
            peers = ", ".join(f"{e} {fmt(v, bench['unit'])}" for e, v in figures.items() if e != berth_key)
        rows.append(f"| [{bench['title']}](#{anchor(bench['title'])}) ({bench['unit']}) | {shown} | {peers} | "
                    f"{bench['goal']} | {verdict(bench).split(' — ', maxsplit=1)[0]} |")
    return rows


def anchor(title: str) -> str:
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def write_report(results: Path, out: Path) -> Path:
    data = json.loads(results.read_text())
    charts = out / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    for old in charts.glob("*.png"):
        old.unlink()
    meta, benches = data["machine"], data["benchmarks"]
    rounds = "SMOKE (N=1, one round: not figures)" if meta.get("smoke") else f"{meta.get('rounds')} interleaved rounds"
    lines = ["# berth benchmark report", "",
             "Made by `scripts/bench.sh` (bench/run.py) from `results.json`; do not edit by hand.", "",
             f"- machine: {meta.get('cpus')} CPUs, {meta.get('memory')}, kernel {meta.get('kernel')}, "
             f"cgroups {meta.get('cgroups')}, load at start {meta.get('load_at_start')}",
             f"- berth {meta.get('berth_commit')}, python {meta.get('python')}, {meta.get('date')}; {rounds}; "
             f"total {meta.get('total_seconds', '?')} s",
             "- versions: " + "; ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()), "",
             "## Summary", "", *summary_rows(benches), ""]
    for suite, error in data.get("suite_errors", {}).items():
        lines += [f"**suite {suite} crashed**: `{error.strip().splitlines()[-1][:300]}`", ""]
    lines += ["## Benchmarks", ""]
    for bench in benches:
        name = f"{bench['id']}.png"
        lines += section(bench, name if draw(bench, charts / name) else None)
    page = out / "RESULTS.md"
    page.write_text("\n".join(lines) + "\n")
    return page
