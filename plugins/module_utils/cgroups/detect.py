"""Where each controller lives: pure v2, pure v1, or hybrid (v1 controllers
plus a cgroup2 mount, as on these build machines — shared/MACHINE.md).

One detection for the engine and the runtime. A cgroup lives in every
mounted hierarchy (each v1 hierarchy, named ones such as ``name=systemd``
included, and the cgroup2 mount), as runc places a container. Limits are
written by one driver per host: when any v1 controller is mounted, by the v1
driver (the cgroup2 mount of a hybrid host holds none of the limit
controllers), otherwise by the v2 driver on the unified hierarchy.
"""

from __future__ import annotations

from ..errors import InvalidState

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (berth-runtime's start-up)
if TYPE_CHECKING:
    from typing import Any

MOUNTINFO = "/proc/self/mountinfo"
V1_CONTROLLERS = frozenset({"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                            "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"})
# Mount flags of a v1 hierarchy left out of what a container's own cgroup
# mount passes back to mount(2) (the rest names the hierarchy: cpu,cpuacct).
_NOT_HIERARCHY = frozenset({"rw", "ro", "xattr", "clone_children"})


class Hierarchy:
    """The host's cgroup mounts.

    ``v1``: controller -> mount point; ``v1_mounts``: mount point -> the
    options naming its hierarchy (``cpu,cpuacct``, ``name=systemd``);
    ``unified``: the cgroup2 mount point or None."""

    __slots__ = ("_v2_controllers", "mode", "unified", "v1", "v1_mounts")

    def __init__(self, mode: str, unified: str | None = None, v1: dict[str, str] | None = None,
                 v2_controllers: frozenset[str] | None = None, v1_mounts: dict[str, str] | None = None) -> None:
        self.mode = mode                       # v2 | v1 | hybrid | none
        self.unified = unified
        self.v1 = dict(v1 or {})
        self.v1_mounts = dict(v1_mounts) if v1_mounts is not None else _mounts_of(self.v1)
        self._v2_controllers = v2_controllers

    @property
    def driver(self) -> str:
        return "v1" if self.v1 else "v2"

    @property
    def v2_controllers(self) -> frozenset[str]:
        """What the cgroup2 root offers (read when first asked: the runtime rarely needs it)."""
        if self._v2_controllers is None:
            found: frozenset[str] = frozenset()
            if self.unified is not None:
                try:
                    with open(f"{self.unified}/cgroup.controllers") as handle:
                        found = frozenset(handle.read().split())
                except OSError:
                    pass
            self._v2_controllers = found
        return self._v2_controllers

    def roots(self) -> list[str]:
        """Every hierarchy's mount point: the v1 ones, then the cgroup2 mount."""
        return sorted(self.v1_mounts) + ([self.unified] if self.unified else [])

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "v1_controllers": dict(sorted(self.v1.items())),
                "v2_mount": self.unified, "v2_controllers": sorted(self.v2_controllers), "driver": self.driver}


def detect(mountinfo: str | None = None) -> Hierarchy:
    """The hierarchies in ``mountinfo`` (proc(5) format; default: this process's)."""
    if mountinfo is None:
        with open(MOUNTINFO) as handle:
            mountinfo = handle.read()
    v1: dict[str, str] = {}
    mounts: dict[str, str] = {}
    unified: str | None = None
    for line in mountinfo.splitlines():
        # mountinfo.py parses every field into a dataclass; only three matter here, at start-up speed
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        fstype, mount_point = fields[sep + 1], _unescape(fields[4])
        if fstype == "cgroup2" and unified is None:
            unified = mount_point
        elif fstype == "cgroup" and len(fields) > sep + 3:
            options = [o for o in fields[sep + 3].split(",")
                       if o not in _NOT_HIERARCHY and not o.startswith("release_agent=")]
            identity = ",".join(options)
            if identity in mounts.values():
                continue  # the same hierarchy mounted again (a bind): its first mount serves
            mounts[mount_point] = identity
            for option in options:
                if option in V1_CONTROLLERS:
                    v1.setdefault(option, mount_point)
    mode = "hybrid" if v1 and unified else "v1" if v1 else "v2" if unified else "none"
    return Hierarchy(mode, unified, v1, v1_mounts=mounts)


def require(hierarchy: Hierarchy) -> Hierarchy:
    if hierarchy.mode == "none":
        raise InvalidState("no cgroup filesystem is mounted", field="cgroups",
                           hint="mount cgroup2 at /sys/fs/cgroup (or the v1 controllers) first")
    return hierarchy


def _mounts_of(v1: dict[str, str]) -> dict[str, str]:
    mounts: dict[str, list[str]] = {}
    for controller, mount_point in sorted(v1.items()):
        mounts.setdefault(mount_point, []).append(controller)
    return {point: ",".join(names) for point, names in mounts.items()}


def _unescape(field: str) -> str:
    # mountinfo octal-escapes space, tab, newline and backslash
    if "\\" not in field:
        return field
    import re  # only for a mount point with an escape in its path: no regex compiled at each runtime start

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
