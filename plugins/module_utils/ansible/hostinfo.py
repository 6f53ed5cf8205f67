"""Facts about the host and the engine's store (``host_info`` module, ``berth info``).

Read-only: it never creates the state root, so it is safe in check mode and
on hosts where berth has not been set up yet.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path
from typing import Any

from ..cgroups.detect import detect
from ..engine import Engine
from ..fsutil import disk_usage
from ..version import BERTH_VERSION


def cgroup_layout() -> dict[str, Any]:
    """Which cgroup hierarchies are mounted: v1 controllers and/or a cgroup2 mount."""
    return detect().as_dict()


def kernel_features() -> dict[str, bool]:
    filesystems = Path("/proc/filesystems").read_text()
    return {
        "overlay": "\toverlay\n" in filesystems,
        "tmpfs": "\ttmpfs\n" in filesystems,
        "user_namespaces": Path("/proc/self/ns/user").exists(),
        "nft": shutil.which("nft") is not None,
        "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1",
    }


def store_summary(engine: Engine, *, measure: bool) -> dict[str, Any]:
    layout = engine.layout
    blobs = engine.blobs.list()
    snapshots = engine.snapshots.list()
    summary: dict[str, Any] = {
        "initialized": layout.exists(),
        "blobs": len(blobs),
        "blob_bytes": sum(engine.blobs.size(d) for d in blobs),
        "snapshots": len(snapshots),
    }
    if measure:
        summary["snapshot_bytes"] = sum(disk_usage(s.fs) for s in snapshots)
    return summary


def host_info(engine: Engine, *, measure_disk: bool = False) -> dict[str, Any]:
    uname = platform.uname()
    return {
        "berth_version": BERTH_VERSION,
        "state_root": str(engine.layout.state_root),
        "run_root": str(engine.layout.run_root),
        "kernel": uname.release,
        "architecture": uname.machine,
        "euid": os.geteuid(),
        "cgroups": cgroup_layout(),
        "features": kernel_features(),
        "store": store_summary(engine, measure=measure_disk),
    }
