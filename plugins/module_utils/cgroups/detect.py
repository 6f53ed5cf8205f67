"""Where each controller lives: pure v2, pure v1, or hybrid (v1 controllers
plus a cgroup2 mount, as on these build machines — shared/MACHINE.md).

A driver is chosen per host, not per controller: when any v1 controller is
mounted, controllers are managed on v1 (the cgroup2 mount of a hybrid host
holds none of them), otherwise on the unified hierarchy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidState
from ..mountinfo import MountEntry, read_mounts

V1_CONTROLLERS = frozenset({"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                            "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"})


@dataclass(frozen=True)
class Hierarchy:
    mode: str                                   # v2 | v1 | hybrid | none
    unified: Path | None = None                 # the cgroup2 mount point
    v1: dict[str, Path] = field(default_factory=dict)
    v2_controllers: frozenset[str] = frozenset()

    @property
    def driver(self) -> str:
        return "v1" if self.v1 else "v2"

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "v1_controllers": {k: str(v) for k, v in sorted(self.v1.items())},
                "v2_mount": str(self.unified) if self.unified else None,
                "v2_controllers": sorted(self.v2_controllers), "driver": self.driver}


def detect(mounts: Iterable[MountEntry] | None = None) -> Hierarchy:
    v1: dict[str, Path] = {}
    unified: Path | None = None
    for mount in read_mounts() if mounts is None else mounts:
        if mount.fstype == "cgroup2" and unified is None:
            unified = Path(mount.mount_point)
        elif mount.fstype == "cgroup":
            for option in mount.super_options:
                if option in V1_CONTROLLERS:
                    v1.setdefault(option, Path(mount.mount_point))
    controllers: frozenset[str] = frozenset()
    if unified is not None and (unified / "cgroup.controllers").exists():
        controllers = frozenset((unified / "cgroup.controllers").read_text().split())
    mode = "hybrid" if v1 and unified else "v1" if v1 else "v2" if unified else "none"
    return Hierarchy(mode, unified, v1, controllers)


def require(hierarchy: Hierarchy) -> Hierarchy:
    if hierarchy.mode == "none":
        raise InvalidState("no cgroup filesystem is mounted", field="cgroups",
                           hint="mount cgroup2 at /sys/fs/cgroup (or the v1 controllers) first")
    return hierarchy
