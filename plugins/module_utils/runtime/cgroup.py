"""The container's cgroup as the runtime sees it: one directory per mounted
hierarchy (v1 controllers, the cgroup2 mount, or both on hybrid hosts).

Placement, listing, freezing and removal are plain file operations here, so
``run``/``delete`` stay fast; limits from ``linux.resources`` go through the
engine's cgroup drivers (``cgroups/``), imported only when a config sets any.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import time

from ..errors import InvalidInput, InvalidState

_MOUNTINFO = "/proc/self/mountinfo"
_V2_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "pids", "hugetlb")
# Devices every container may use whatever the spec's device rules say
# (runc allows the same: the runtime creates them in /dev itself).
_DEFAULT_ALLOW = ("c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                  "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm")
_PATH_PART = re.compile(r"^[A-Za-z0-9_.@:+-]+$")


def hierarchies() -> tuple[dict[str, str], str | None, dict[str, str]]:
    """(v1 controller -> mount point, cgroup2 mount point or None,
    v1 mount point -> its hierarchy options such as "cpu" or "name=systemd")."""
    v1: dict[str, str] = {}
    mounts: dict[str, str] = {}
    unified = None
    with open(_MOUNTINFO) as handle:
        for line in handle:
            fields = line.split()
            sep = fields.index("-")
            fstype, mount_point = fields[sep + 1], fields[4]
            if fstype == "cgroup2" and unified is None:
                unified = mount_point
            elif fstype == "cgroup":
                options = [o for o in fields[sep + 3].split(",") if o not in ("rw", "ro", "xattr", "clone_children")
                           and not o.startswith("release_agent")]
                mounts.setdefault(mount_point, ",".join(options))
                for option in options:
                    if not option.startswith("name="):
                        v1.setdefault(option, mount_point)
    return v1, unified, mounts


def cgroup_path(config: dict, container_id: str) -> str:
    """linux.cgroupsPath as a path below each hierarchy root, without a leading /.

    ``slice:prefix:name`` (systemd form, passed with --systemd-cgroup) maps to
    ``slice/prefix-name.scope`` on cgroupfs; an empty value gives ``<id>`` as runc."""
    raw = (config.get("linux") or {}).get("cgroupsPath") or ""
    if raw.count(":") == 2 and not raw.startswith("/"):
        slice_, prefix, name = raw.split(":")
        raw = f"{slice_ or 'system.slice'}/{prefix}-{name}.scope" if prefix else f"{slice_}/{name}"
    path = raw.strip("/") or container_id
    if any(part in (".", "..") or not _PATH_PART.fullmatch(part) for part in path.split("/")):
        raise InvalidInput(f"cgroupsPath {raw!r} is not a valid cgroup path", field="linux.cgroupsPath",
                           hint="use names of letters, digits and . _ - @ : + separated by /")
    return path


class ContainerCgroup:
    """The container's cgroup in every mounted hierarchy."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.v1, self.unified, self.v1_mounts = hierarchies()
        mounts = sorted(self.v1_mounts) + ([self.unified] if self.unified else [])
        self.dirs = [os.path.join(mount, path) for mount in mounts]

    def _dir(self, controller: str) -> str | None:
        if controller in self.v1:
            return os.path.join(self.v1[controller], self.path)
        return os.path.join(self.unified, self.path) if self.unified and not self.v1 else None

    def create(self) -> None:
        for directory in self.dirs:
            if self.unified and directory.startswith(self.unified + "/"):
                _enable_v2_controllers(self.unified, self.path)
            os.makedirs(directory, exist_ok=True)
        if "cpuset" in self.v1:
            _inherit_cpuset(self.v1["cpuset"], self.path)

    def add(self, pid: int) -> None:
        for directory in self.dirs:
            with open(os.path.join(directory, "cgroup.procs"), "w") as handle:
                handle.write(str(pid))

    def processes(self) -> list[int]:
        pids: set[int] = set()
        for directory in self.dirs:
            try:
                with open(os.path.join(directory, "cgroup.procs")) as handle:
                    pids.update(int(p) for p in handle.read().split())
            except OSError:
                continue
        return sorted(pids)

    def signal_all(self, signum: int) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                continue

    def freeze(self, frozen: bool) -> None:
        directory = self._dir("freezer") if "freezer" in self.v1 else None  # v2: cgroup.freeze
        if directory:
            _write(os.path.join(directory, "freezer.state"), "FROZEN" if frozen else "THAWED")
        elif self.unified:
            _write(os.path.join(self.unified, self.path, "cgroup.freeze"), "1" if frozen else "0")
        deadline = time.monotonic() + 10
        while frozen and not self.frozen():
            if time.monotonic() > deadline:
                raise InvalidState(f"cgroup {self.path} did not freeze within 10s")
            time.sleep(0.005)

    def frozen(self) -> bool:
        directory = self._dir("freezer") if "freezer" in self.v1 else None
        if directory:
            return _read(os.path.join(directory, "freezer.state")).strip() == "FROZEN"
        if self.unified:
            return "frozen 1" in _read(os.path.join(self.unified, self.path, "cgroup.events"))
        return False

    def apply_devices(self, rules: list[dict]) -> None:
        """The spec's allow/deny list plus the defaults: the v1 devices
        controller, or on pure v2 an eBPF device program (devices_bpf)."""
        if "devices" not in self.v1:
            if self.unified and not self.v1:
                from . import devices_bpf

                devices_bpf.attach(os.path.join(self.unified, self.path),
                                   devices_bpf.rules_from_spec(rules, list(_DEFAULT_ALLOW)))
            return
        directory = os.path.join(self.v1["devices"], self.path)
        for rule in rules:
            kind, major, minor = rule.get("type", "a"), rule.get("major", -1), rule.get("minor", -1)
            entry = "a" if kind == "a" and major in (-1, None) and minor in (-1, None) else \
                f"{kind} {'*' if major in (-1, None) else major}:{'*' if minor in (-1, None) else minor} " \
                f"{rule.get('access') or 'rwm'}"
            _write(os.path.join(directory, "devices.allow" if rule.get("allow") else "devices.deny"), entry)
        for entry in _DEFAULT_ALLOW:
            _write(os.path.join(directory, "devices.allow"), entry)

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left, then rmdir in every hierarchy (retrying while the
        kernel finishes tearing down exiting tasks)."""
        deadline = time.monotonic() + timeout
        for directory in self.dirs:
            while True:
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError as err:
                    if err.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise InvalidState(f"cannot remove cgroup {directory}: {err.strerror}",
                                           hint="processes are still inside; kill them and retry delete") from None
                    self.signal_all(signal.SIGKILL)
                    time.sleep(0.005)


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


def _inherit_cpuset(root: str, path: str) -> None:
    """A new v1 cpuset starts empty and refuses tasks (ENOSPC) until it has
    cpus and mems: copy them down from the parent at each level."""
    current = root
    for part in path.split("/"):
        parent, current = current, os.path.join(current, part)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not _read(os.path.join(current, name)).strip():
                _write(os.path.join(current, name), _read(os.path.join(parent, name)).strip())


def _enable_v2_controllers(root: str, path: str) -> None:
    """v2 delegates top-down: enable the available controllers in each
    ancestor's subtree_control before creating the leaf."""
    current = root
    for part in path.split("/"):
        available = _read(os.path.join(current, "cgroup.controllers")).split()
        wanted = " ".join(f"+{c}" for c in _V2_CONTROLLERS if c in available)
        if wanted:
            # a populated cgroup cannot delegate; limits then fail loudly where they apply
            with contextlib.suppress(OSError):
                _write(os.path.join(current, "cgroup.subtree_control"), wanted)
        current = os.path.join(current, part)
        os.makedirs(current, exist_ok=True)


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _write(path: str, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)
