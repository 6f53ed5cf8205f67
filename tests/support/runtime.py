"""Helpers for the runtime tests: bundles, running berth-runtime and runc side
by side, a probe that reports isolation from the inside, and a leak check
scoped to one container (its cgroups, its processes, its state dir)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BERTH_RUNTIME = [sys.executable, str(REPO / "bin" / "berth-runtime")]
RUNC = shutil.which("runc")

# Printed by the probe, one section per fact; the same script runs under both runtimes.
PROBE = r"""
echo "== pid"; echo $$
echo "== hostname"; hostname
echo "== others"; ps -o comm | grep -c -v -E '^(COMMAND|sh|ps|grep|exe)$'
echo "== pids"; ps -o pid | tail -n +2 | sort -n | tail -n 1 | awk '{print ($1 < 50) ? "small" : "large"}'
echo "== id"; id
echo "== caps"; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status
echo "== nnp"; grep NoNewPrivs /proc/self/status
echo "== seccomp"; grep -E '^Seccomp:' /proc/self/status
echo "== masked"; for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /sys/firmware; do
  printf '%s:' "$p"; head -c 16 "$p" 2>/dev/null | wc -c; done
echo "== readonly"; for p in /proc/sys/kernel/hostname /proc/sysrq-trigger /sys/kernel/uevent_helper; do
  (echo x > "$p") 2>/dev/null && echo "$p: writable" || echo "$p: refused"; done
echo "== sys"; touch /sys/probe 2>/dev/null && echo writable || echo refused
echo "== rlimits"; ulimit -n; ulimit -Hn
echo "== netns"; ls /sys/class/net | sort; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags
echo "== root"; touch /probe-root 2>/dev/null && echo writable || echo refused
echo "== dev"; ls /dev | sort | tr '\n' ' '; echo
echo "== cgroupns"; cat /proc/self/cgroup | grep -E '^0::|:memory:' | sed 's/^[0-9]*://'
"""


def container_cgroup_file(container_id: str, v1: str, v2: str) -> str:
    """A berth container's cgroup file as the kernel shows it: ``v1`` ("memory/memory.limit_in_bytes") under
    the v1 hierarchy, else ``v2`` ("memory.max") in the unified one."""
    for path in (Path("/sys/fs/cgroup") / v1.split("/")[0] / f"berth-{container_id}" / v1.split("/")[1],
                 Path("/sys/fs/cgroup") / f"berth-{container_id}" / v2):
        if path.exists():
            return path.read_text().strip()
    raise AssertionError(f"no {v1} / {v2} for {container_id}")


def passwd_only_rootfs(directory: Path) -> Path:
    """``directory``/rootfs holding only an /etc/passwd that knows root: an image to plan against (never run)."""
    rootfs = directory / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    return rootfs


def make_rootfs(directory: Path, applets: tuple[str, ...] = ()) -> Path:
    """A busybox root under ``directory`` with the common applets linked (and ``applets``)."""
    from tests.support.images import populate_busybox

    rootfs = directory / "rootfs"
    populate_busybox(rootfs)
    for applet in ("awk", "sort", "tail", "wc", "grep", "printf", "tr", "sed", "readlink", "tty", *applets):
        link = rootfs / "bin" / applet
        if not link.is_symlink():
            link.symlink_to("busybox")
    return rootfs


def web_rootfs(directory: Path, applets: tuple[str, ...], udpecho: Path, page: str) -> Path:
    """make_rootfs plus the network tests' servers: udpecho on PATH and /www/index.html saying ``page``."""
    rootfs = make_rootfs(directory, applets)
    shutil.copy2(udpecho, rootfs / "bin" / "udpecho")
    (rootfs / "www").mkdir()
    (rootfs / "www" / "index.html").write_text(page)
    return rootfs


def runc_spec(bundle: Path, rootfs: Path, args: list[str], **changes: Any) -> dict:
    """A config.json as `runc spec` writes it, pointed at ``rootfs``, then changed."""
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "config.json").unlink(missing_ok=True)
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["root"]["path"] = str(rootfs)
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    if not any(n["type"] == "cgroup" for n in config["linux"]["namespaces"]):
        config["linux"]["namespaces"].append({"type": "cgroup"})  # runc spec adds it on v2 hosts only
    for key, value in changes.items():
        _set(config, key, value)
    write_config(bundle, config)
    return config


def _set(config: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    if value is _DELETE:
        node.pop(last, None)
    else:
        node[last] = value


_DELETE = object()
DELETE = _DELETE


def write_config(bundle: Path, config: dict) -> None:
    (bundle / "config.json").write_text(json.dumps(config, indent=1))


def berth(root: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BERTH_RUNTIME, "--root", str(root), *args], capture_output=True, text=True,
                          timeout=60, check=False, **kwargs)


def berth_detached(root: Path, *args: str, logs: Path) -> subprocess.CompletedProcess[str]:
    """create / run --detach: the container inherits the runtime's stdio, so
    pipes would stay open until it exits; stdout and stderr go to files."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout", "w") as out, open(logs / "stderr", "w") as err:
        result = subprocess.run([*BERTH_RUNTIME, "--root", str(root), *args], stdout=out, stderr=err,
                                timeout=60, check=False)
    return subprocess.CompletedProcess(result.args, result.returncode, (logs / "stdout").read_text(),
                                       (logs / "stderr").read_text())


def runc(root: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runc", "--root", str(root), *args], capture_output=True, text=True,
                          timeout=60, check=False, **kwargs)


def run_both(tmp_path: Path, bundle: Path, name: str) -> tuple[str, str]:
    """Run the bundle under runc, then berth-runtime, each leaving nothing
    behind; their stdouts (runc's, berth's)."""
    outputs = []
    for label, runner in (("runc", runc), ("berth", berth)):
        cid = f"berth-rt-{name}-{label}"
        result = runner(tmp_path / f"{label}-root", "run", "--bundle", str(bundle), cid)
        assert result.returncode == 0, f"{label}: {result.stderr}"
        assert not container_leaks(cid, tmp_path / f"{label}-root")
        outputs.append(result.stdout)
    return outputs[0], outputs[1]


def sections(output: str) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    current = "preamble"
    for line in output.splitlines():
        if line.startswith("== "):
            current = line[3:].strip()
            found[current] = []
        else:
            found.setdefault(current, []).append(line.rstrip())
    return {key: "\n".join(lines) for key, lines in found.items()}


def normalized_mounts(mountinfo: str) -> list[str]:
    """Mount point, fs type and options of each mount, sorted: what must match
    between two runtimes (ids, device numbers and sources may differ)."""
    rows = []
    for line in mountinfo.splitlines():
        before, _sep, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 6 or len(tail) < 3:
            continue
        super_options = ",".join(o for o in tail[2].split(",") if not o.startswith(("uuid=", "size=", "nr_inodes=")))
        if tail[0] == "overlay":
            super_options = "overlay"
        rows.append(f"{fields[4]} {tail[0]} {fields[5]} {re.sub(r'/[^,]*', '', super_options)}")
    return sorted(rows)


def container_leaks(container_id: str, state_root: Path) -> list[str]:
    """What a container left behind: cgroup dirs named after it, its state dir,
    mounts under its bundle or root."""
    found = []
    for base, dirnames, _files in os.walk("/sys/fs/cgroup"):
        for name in dirnames:
            if name.startswith(container_id):
                found.append(os.path.join(base, name))
        if base.count("/") > 7:
            dirnames.clear()
    if (state_root / container_id).exists():
        found.append(str(state_root / container_id))
    return found


def mounts_under(path: Path) -> list[str]:
    text = Path("/proc/self/mountinfo").read_text()
    return [line.split()[4] for line in text.splitlines() if line.split()[4].startswith(str(path))]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
