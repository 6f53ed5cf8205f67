"""The container's cgroup as the runtime sees it: the engine's one cgroup
implementation (``cgroups/``: detection, path rules, creation with v2
delegation and v1 cpuset inheritance, placement, freeze, removal) plus what
only an OCI runtime does with it: the ``linux.cgroupsPath`` forms, the
spec's device rules, and the container's own cgroup mounts.

Limits from ``linux.resources`` go through the same core's drivers
(``resources.py``), imported only when a config sets any.
"""

from __future__ import annotations

import contextlib
import os

from ..cgroups.base import BaseManager, check_path
from ..cgroups.detect import Hierarchy, detect
from ..cgroups.kernel import KERNEL, Kernel

# Devices every container may use whatever the spec's device rules say
# (runc allows the same: the runtime creates them in /dev itself).
_DEFAULT_ALLOW = ("c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                  "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm")


def cgroup_path(config: dict, container_id: str) -> str:
    """linux.cgroupsPath as a path below each hierarchy root, without a leading /.

    ``slice:prefix:name`` (systemd form, passed with --systemd-cgroup) maps to
    ``slice/prefix-name.scope`` on cgroupfs; an empty value gives ``<id>`` as runc."""
    raw = (config.get("linux") or {}).get("cgroupsPath") or ""
    if raw.count(":") == 2 and not raw.startswith("/"):
        slice_, prefix, name = raw.split(":")
        raw = f"{slice_ or 'system.slice'}/{prefix}-{name}.scope" if prefix else f"{slice_}/{name}"
    return check_path(raw.strip("/") or container_id, "linux.cgroupsPath")


class ContainerCgroup:
    """The container's cgroup in every mounted hierarchy (``cgroup``: the
    shared core's manager; a host without any cgroupfs runs containers
    without one, as before)."""

    def __init__(self, path: str, hierarchy: Hierarchy | None = None, kernel: Kernel = KERNEL) -> None:
        self.cgroup = BaseManager(path, hierarchy or detect(), kernel=kernel)
        self.path = self.cgroup.path
        self.v1_mounts = self.cgroup.hierarchy.v1_mounts

    def create(self) -> None:
        self.cgroup.create()

    def add(self, pid: int) -> None:
        self.cgroup.add_process(pid)

    def processes(self) -> list[int]:
        return self.cgroup.processes()

    def signal_all(self, signum: int) -> None:
        self.cgroup.signal_all(signum)

    def freeze(self, frozen: bool) -> None:
        if frozen:
            self.cgroup.freeze()
        else:
            self.cgroup.thaw()

    def frozen(self) -> bool:
        return self.cgroup.frozen()

    def remove(self) -> None:
        """Kill what is left, then remove the cgroup and anything the
        container made below it, in every hierarchy."""
        self.cgroup.remove(force=True)

    def apply_devices(self, rules: list[dict]) -> None:
        """The spec's allow/deny list plus the defaults: the v1 devices
        controller, or on pure v2 an eBPF device program (devices_bpf)."""
        hierarchy = self.cgroup.hierarchy
        if "devices" in hierarchy.v1:
            for file, entry in device_writes(rules):
                self.cgroup.write_file("devices", file, entry)
        elif hierarchy.unified and not hierarchy.v1:
            from . import devices_bpf

            devices_bpf.attach(f"{hierarchy.unified}/{self.path}",
                               devices_bpf.rules_from_spec(rules, list(_DEFAULT_ALLOW)))


def device_writes(rules: list[dict]) -> list[tuple[str, str]]:
    """The v1 devices controller's writes for the spec's rules, then the defaults, in order."""
    writes = []
    for rule in rules:
        kind, major, minor = rule.get("type", "a"), rule.get("major", -1), rule.get("minor", -1)
        entry = "a" if kind == "a" and major in (-1, None) and minor in (-1, None) else \
            f"{kind} {'*' if major in (-1, None) else major}:{'*' if minor in (-1, None) else minor} " \
            f"{rule.get('access') or 'rwm'}"
        writes.append(("devices.allow" if rule.get("allow") else "devices.deny", entry))
    return writes + [("devices.allow", entry) for entry in _DEFAULT_ALLOW]


def mount_cgroupfs(v1_mounts: dict[str, str]) -> object:
    """A mounter for spec mounts of type cgroup, run in the container's cgroup
    namespace: cgroup2 on v2 hosts; on v1/hybrid hosts a tmpfs holding one
    cgroup mount per v1 hierarchy, as runc does (the hybrid cgroup2 is left out)."""

    def mount(target: str, flags: int, calls: object, reopen: object) -> None:
        """``target`` names the mount point (a /proc/self/fd path); ``reopen()``
        opens it afresh, i.e. the tmpfs just mounted there."""
        from .. import syscalls as sc

        if not v1_mounts:
            calls.mount("cgroup", target, "cgroup2", flags)  # type: ignore[attr-defined]
            return
        calls.mount("tmpfs", target, "tmpfs", flags & ~sc.MS_RDONLY, "mode=755")  # type: ignore[attr-defined]
        tmpfs = reopen()  # type: ignore[operator]
        try:
            for mount_point, options in sorted(v1_mounts.items()):
                name = os.path.basename(mount_point)
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=tmpfs)
                inner = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=tmpfs)
                try:
                    calls.mount("cgroup", f"/proc/self/fd/{inner}", "cgroup", flags, options)  # type: ignore[attr-defined]
                finally:
                    os.close(inner)
        finally:
            os.close(tmpfs)

    return mount
