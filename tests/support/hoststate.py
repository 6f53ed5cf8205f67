"""Fingerprints of what an engine operation could have written: the files
under its roots, and the kernel objects it manages (links and addresses,
nftables, mounts, cgroups, processes). Two equal fingerprints mean nothing
was written — down to a directory's mtime, which any create-then-delete
would bump. ``python -m tests.support.hoststate`` writes one as JSON, so a
playbook can take one between two tasks from inside the namespaces the
modules run in."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF = "tests.support.hoststate"   # as run by a play: `python -m tests.support.hoststate ...`
_TIMERS = re.compile(r"\b(\w+_timer)\s+[\d.]+")


def tree_state(*roots: Path) -> dict[str, tuple[object, ...]]:
    """path -> (type, mode, size, mtime_ns, sha256 or link target) for every
    entry under the roots, the roots included (a missing root is absent)."""
    found: dict[str, tuple[object, ...]] = {}
    for root in roots:
        if not os.path.lexists(root):
            continue
        found[str(root)] = _entry(root)
        for directory, dirs, files in os.walk(root):
            for name in sorted(dirs + files):
                path = Path(directory) / name
                found[str(path)] = _entry(path)
    return found


def _entry(path: Path) -> tuple[object, ...]:
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        content: object = hashlib.sha256(path.read_bytes()).hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        content = os.readlink(path)
    else:
        content = None
    size = st.st_size if not stat.S_ISDIR(st.st_mode) else None   # a dir's size is the fs's business
    return (kind, stat.S_IMODE(st.st_mode), size, st.st_mtime_ns, content)


def tree_differences(before: dict[str, tuple[object, ...]], after: dict[str, tuple[object, ...]]) -> list[str]:
    """Readable lines: what appeared, vanished or changed."""
    lines = [f"new: {p}" for p in sorted(set(after) - set(before))]
    lines += [f"gone: {p}" for p in sorted(set(before) - set(after))]
    lines += [f"changed: {p}: {before[p]} -> {after[p]}" for p in sorted(set(before) & set(after))
              if before[p] != after[p]]
    return lines


def _run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def kernel_state(cgroup_names: Iterable[str], *, mount_roots: Iterable[Path] | None = None, enter: Sequence[str] = (),
                 mountinfo: Path = Path("/proc/self/mountinfo")) -> dict[str, object]:
    """The kernel objects of a network namespace — all of them: links,
    addresses, routes, the nft ruleset (``enter`` is the command prefix that
    runs ``ip``/``nft`` there, such as ``nsenter --net=...``) — the mounts in
    ``mountinfo`` (all, or those naming one of ``mount_roots``), and the
    cgroup dirs whose paths contain one of ``cgroup_names``."""
    roots = None if mount_roots is None else [str(r) for r in mount_roots]
    mounts = [line for line in mountinfo.read_text().splitlines()
              if roots is None or any(f" {r}" in line or f"={r}" in line for r in roots)]
    links = _TIMERS.sub(r"\1", _run(*enter, "ip", "-d", "link", "show"))   # a bridge's timers tick
    return {"links": links, "addresses": _run(*enter, "ip", "addr", "show"),
            "routes": _run(*enter, "ip", "route", "show", "table", "all"),
            "nft": _run(*enter, "nft", "list", "ruleset"), "mounts": mounts, "cgroups": cgroup_state(cgroup_names)}


def cgroup_state(names: Iterable[str]) -> dict[str, tuple[object, ...]]:
    """Every cgroup dir (any hierarchy) whose path contains one of ``names``:
    its mtime and its member processes."""
    wanted = [n for n in names if n]
    found: dict[str, tuple[object, ...]] = {}
    for directory, _dirs, _files in os.walk(CGROUP_ROOT):
        if not any(name in directory for name in wanted):
            continue
        path = Path(directory)
        procs = (path / "cgroup.procs").read_text() if (path / "cgroup.procs").exists() else None
        found[directory] = (path.stat().st_mtime_ns, procs)
    return found


def processes_naming(base: Path) -> list[tuple[int, str]]:
    """Processes whose command line names ``base`` (monitors, containers'
    shims), Ansible's own and the fingerprint's (and its shell's) aside."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if str(base) in cmdline and "ansible" not in cmdline and SELF not in cmdline:
                    found.append((int(proc.name), cmdline))
    return sorted(found)


def fingerprint(trees: Iterable[Path], base: Path, cgroup_names: Iterable[str]) -> dict[str, Any]:
    """Everything above, from inside the namespaces under test (run as a task
    of the play): their whole mount table, as no other test mounts there."""
    kernel = kernel_state(cgroup_names)
    # other tests' network namespaces (isolation.netns_name: berthtest-<pid>-*) come and go under
    # /run/netns meanwhile, and /run/netns propagates into every mount namespace copied from the host
    kernel["mounts"] = [m for m in kernel["mounts"] if " /run/netns/berthtest-" not in m]
    kernel["processes"] = processes_naming(base)
    return {"tree": tree_state(*trees), "kernel": kernel}


def fingerprint_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed between two ``fingerprint``s, readable."""
    lines = tree_differences(before["tree"], after["tree"])
    for key in before["kernel"]:
        if before["kernel"][key] != after["kernel"][key]:
            lines.append(f"kernel {key} changed:\n--- before\n{_show(before['kernel'][key])}\n"
                         f"--- after\n{_show(after['kernel'][key])}")
    return lines


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=1)


def main(argv: list[str]) -> int:
    """``python -m tests.support.hoststate OUT --tree DIR... --base DIR --cgroup NAME...``: a fingerprint as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--tree", type=Path, action="append", default=[])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--cgroup", action="append", default=[])
    args = parser.parse_args(argv)
    args.out.write_text(json.dumps(fingerprint(args.tree, args.base, args.cgroup)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
