"""What a test run may leave on the host, and a comparison before/after.

A container engine's tests must leave no mounts, links, network namespaces,
cgroups, nft tables or processes behind. ``HostSnapshot.take()`` records
them; ``leaks(before, after)`` lists what appeared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_ROOTS = [Path("/sys/fs/cgroup")]

# Mount points that the kernel or iproute2 sets up once per host and then keeps:
# the first `ip netns add` on a host bind-mounts /run/netns onto itself (shared
# propagation) so namespace mounts under it propagate; it is never undone, and a
# test that makes the first namespace on a fresh host has not leaked it. Each
# namespace mounted *under* /run/netns still counts.
HOST_ONCE_MOUNT_POINTS = frozenset({"/run/netns"})


def _mounts() -> set[str]:
    return mounts_from_mountinfo(Path("/proc/self/mountinfo").read_text())


def mounts_from_mountinfo(text: str) -> set[str]:
    """'<mount point> <fstype>' for every mount in a mountinfo text, less the
    mount points a host sets up once (HOST_ONCE_MOUNT_POINTS)."""
    found = set()
    for line in text.splitlines():
        before, _sep, after = line.partition(" - ")
        mount_point = before.split()[4]
        if mount_point in HOST_ONCE_MOUNT_POINTS:
            continue
        found.add(f"{mount_point} {after.split()[0]}")
    return found


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def _netns() -> set[str]:
    path = Path("/run/netns")
    return {p.name for p in path.iterdir()} if path.is_dir() else set()


def _cgroups() -> set[str]:
    """Cgroup dirs named like berth's (berth*), anywhere under the cgroup mounts."""
    found = set()
    for root in CGROUP_ROOTS:
        if not root.is_dir():
            continue
        for dirpath, dirnames, _files in os.walk(root):
            for name in dirnames:
                if "berth" in name:
                    found.add(os.path.join(dirpath, name))
            if dirpath.count("/") > 8:
                dirnames.clear()
    return found


def _nft_tables() -> set[str]:
    if not shutil.which("nft"):
        return set()
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def _processes() -> set[str]:
    """Processes whose command line mentions berth (engine monitors, containers' inits)."""
    found = set()
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "berth" in cmdline and "pytest" not in cmdline and "docker-registry" not in cmdline:
            found.add(f"{entry.name}: {cmdline.strip()[:120]}")
    return found


@dataclass
class HostSnapshot:
    mounts: set[str] = field(default_factory=set)
    links: set[str] = field(default_factory=set)
    netns: set[str] = field(default_factory=set)
    cgroups: set[str] = field(default_factory=set)
    nft_tables: set[str] = field(default_factory=set)
    processes: set[str] = field(default_factory=set)

    @classmethod
    def take(cls) -> HostSnapshot:
        return cls(_mounts(), _links(), _netns(), _cgroups(), _nft_tables(), _processes())


def leaks(before: HostSnapshot, after: HostSnapshot) -> dict[str, list[str]]:
    found = {}
    for name in ("mounts", "links", "netns", "cgroups", "nft_tables", "processes"):
        new = sorted(getattr(after, name) - getattr(before, name))
        if new:
            found[name] = new
    return found
