"""A fake cgroupfs: a temp dir laid out like the kernel's, reacting as it does.

``FakeCgroupfs`` is a ``cgroups.kernel.Kernel`` over plain directories, so the
cgroup core runs on it unchanged. It keeps the kernel behaviour the core
relies on, and that a directory of plain files lacks:

- mkdir makes a cgroup's interface files (v1: those of the hierarchy's
  controllers; v2: the core files plus those of the controllers its parent
  delegates); rmdir refuses (EBUSY) while processes or child cgroups are in;
- ``cgroup.procs`` moves a live process (ESRCH for a dead one) and lists
  only live ones; on v2 a non-root cgroup that delegates controllers holds
  no processes (EBUSY);
- ``cgroup.subtree_control`` enables only what ``cgroup.controllers`` offers;
  ``cgroup.events`` reports populated/frozen; ``pids.current`` counts;
- memory limits are rounded to pages, v1 memory+swap must stay >= memory,
  cpusets must lie within the parent's and read back as ranges.

Processes are real (the suite spawns ``sleep``), signals are real.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ansible_collections.berth.engine.plugins.module_utils.cgroups.detect import Hierarchy, detect
from ansible_collections.berth.engine.plugins.module_utils.cgroups.kernel import Kernel
from ansible_collections.berth.engine.plugins.module_utils.cgroups.protocol import PAGE, V1_UNLIMITED
from ansible_collections.berth.engine.plugins.module_utils.units import expand_cpuset

V1_FILES = {
    "memory": {"memory.limit_in_bytes": str(V1_UNLIMITED), "memory.memsw.limit_in_bytes": str(V1_UNLIMITED),
               "memory.soft_limit_in_bytes": str(V1_UNLIMITED), "memory.swappiness": "60",
               "memory.usage_in_bytes": "1048576",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
    "cpu": {"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1"},
    "cpuacct": {"cpuacct.usage": "123456"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "pids": {"pids.max": "max", "pids.current": ""},
    "blkio": {"blkio.weight": "500", "blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
              "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": ""},
    "freezer": {"freezer.state": "THAWED"},
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
}
V2_FILES = {
    "memory": {"memory.max": "max", "memory.low": "0", "memory.swap.max": "max", "memory.current": "4096",
               "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
    "cpu": {"cpu.weight": "100", "cpu.max": "max 100000", "cpu.stat": "usage_usec 250\n"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "pids": {"pids.max": "max", "pids.current": ""},
    "io": {"io.weight": "default 100", "io.max": ""},
    "hugetlb": {"hugetlb.2MB.max": "max"},
}
V2_CORE = {"cgroup.procs": "", "cgroup.events": "", "cgroup.freeze": "0", "cgroup.subtree_control": "",
           "cgroup.controllers": "", "cgroup.type": "domain"}
# Debian's v1 layout: cpu and cpuacct share a hierarchy; name=systemd holds no controller.
V1_HIERARCHIES = {"memory": ("memory",), "cpu,cpuacct": ("cpu", "cpuacct"), "cpuset": ("cpuset",),
                  "pids": ("pids",), "blkio": ("blkio",), "freezer": ("freezer",), "devices": ("devices",),
                  "systemd": ("name=systemd",)}
ROOT_CPUS, ROOT_MEMS = "0-1", "0"


class FakeCgroupfs(Kernel):
    """``layout``: ``v1``, ``v2`` or ``hybrid`` (v1 plus a cgroup2 mount offering only hugetlb, as these machines)."""

    def __init__(self, base: Path, layout: str) -> None:
        self.base = base
        self.layout = layout
        self.v1_roots: dict[str, tuple[str, ...]] = {}
        self.unified: str | None = None
        if layout in ("v1", "hybrid"):
            for name, options in V1_HIERARCHIES.items():
                root = base / name
                root.mkdir(parents=True)
                self.v1_roots[str(root)] = options
                self._populate(str(root), root=True)
        if layout in ("v2", "hybrid"):
            self.unified = str(base / "unified") if layout == "hybrid" else str(base)
            Path(self.unified).mkdir(parents=True, exist_ok=True)
            self._populate(self.unified, root=True)
            offered = "cpuset cpu io memory pids" if layout == "v2" else "hugetlb"  # hybrid: as these machines
            Path(self.unified, "cgroup.controllers").write_text(offered)
            if layout == "v2":
                Path(self.unified, "cpuset.cpus.effective").write_text(ROOT_CPUS)

    # -- what detect() reads ---------------------------------------------------
    def mountinfo(self) -> str:
        lines = [f"{20 + i} 1 0:{40 + i} / {root} rw,nosuid,relatime - cgroup cgroup rw,{','.join(options)}"
                 for i, (root, options) in enumerate(sorted(self.v1_roots.items()))]
        if self.unified:
            lines.append(f"19 1 0:39 / {self.unified} rw,nosuid,relatime - cgroup2 cgroup2 rw,nsdelegate")
        return "\n".join(lines) + "\n"

    def hierarchy(self) -> Hierarchy:
        return detect(self.mountinfo())

    # -- Kernel ----------------------------------------------------------------
    def mkdir(self, path: str) -> None:
        if os.path.isdir(path):
            return
        os.mkdir(path)  # FileNotFoundError without a parent, as the kernel
        self._populate(path, root=False)

    def rmdir(self, path: str) -> None:
        if not os.path.isdir(path):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        if self.children(path) or self._live(path):
            raise OSError(errno.EBUSY, "Device or resource busy", path)
        shutil.rmtree(path)

    def read(self, path: str) -> str:
        directory, name = os.path.split(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        if name == "cgroup.procs":
            return "".join(f"{pid}\n" for pid in self._live(directory))
        if name == "pids.current":
            return f"{len(self._subtree_pids(directory))}\n"
        if name == "cgroup.events" and self._is_v2(directory):
            return f"populated {int(bool(self._subtree_pids(directory)))}\nfrozen {int(self._v2_frozen(directory))}\n"
        if name == "cgroup.controllers" and directory != self.unified and self._is_v2(directory):
            return Path(directory).parent.joinpath("cgroup.subtree_control").read_text()
        return Path(path).read_text()

    def write(self, path: str, value: str) -> None:
        directory, name = os.path.split(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        value = value.strip()
        handler = getattr(self, "_write_" + name.replace(".", "_"), None)
        stored = handler(directory, value) if handler else value
        if stored is not None:
            Path(path).write_text(stored)

    # -- the kernel's reactions ------------------------------------------------
    def _write_cgroup_procs(self, directory: str, value: str) -> None:
        pid = int(value)
        if not _alive(pid):
            raise ProcessLookupError(errno.ESRCH, "No such process")
        if self._is_v2(directory) and directory != self.unified and self.read(f"{directory}/cgroup.subtree_control"):
            raise OSError(errno.EBUSY, "Device or resource busy")  # v2: no processes in a delegating cgroup
        root = self._root_of(directory)
        for procs in Path(root).rglob("cgroup.procs"):
            kept = [p for p in procs.read_text().split() if int(p) != pid]
            procs.write_text("".join(f"{p}\n" for p in kept))
        Path(directory, "cgroup.procs").write_text(Path(directory, "cgroup.procs").read_text() + f"{pid}\n")

    def _write_cgroup_subtree_control(self, directory: str, value: str) -> str:
        offered = set(self.read(f"{directory}/cgroup.controllers").split())
        enabled = set(self.read(f"{directory}/cgroup.subtree_control").split())
        for token in value.split():
            if token[1:] not in offered:
                raise OSError(errno.ENOENT, "No such file or directory")
            if directory != self.unified and self._live(directory):
                raise OSError(errno.EBUSY, "Device or resource busy")
            enabled = enabled | {token[1:]} if token[0] == "+" else enabled - {token[1:]}
        for child in self.children(directory):  # the children get the controllers' files now
            for controller in enabled:
                for file, default in V2_FILES.get(controller, {}).items():
                    if not os.path.exists(f"{child}/{file}"):
                        Path(child, file).write_text(default)
        return " ".join(sorted(enabled))

    def _write_freezer_state(self, _directory: str, value: str) -> str:
        if value not in ("FROZEN", "THAWED"):
            raise OSError(errno.EINVAL, "Invalid argument")
        return value

    def _write_memory_limit_in_bytes(self, directory: str, value: str) -> str:
        limit = _v1_bytes(value)
        if limit > int(Path(directory, "memory.memsw.limit_in_bytes").read_text()):
            raise OSError(errno.EINVAL, "Invalid argument")  # memory+swap must stay >= memory
        return str(limit)

    def _write_memory_memsw_limit_in_bytes(self, directory: str, value: str) -> str:
        limit = _v1_bytes(value)
        if limit < int(Path(directory, "memory.limit_in_bytes").read_text()):
            raise OSError(errno.EINVAL, "Invalid argument")
        return str(limit)

    def _write_memory_soft_limit_in_bytes(self, _directory: str, value: str) -> str:
        return str(_v1_bytes(value))

    def _write_memory_max(self, _directory: str, value: str) -> str:
        return value if value == "max" else str(int(value) // PAGE * PAGE)

    _write_memory_low = _write_memory_max
    _write_memory_swap_max = _write_memory_max

    def _write_cpuset_cpus(self, directory: str, value: str) -> str:
        return self._cpuset(directory, "cpuset.cpus", value)

    def _write_cpuset_mems(self, directory: str, value: str) -> str:
        return self._cpuset(directory, "cpuset.mems", value)

    def _cpuset(self, directory: str, name: str, value: str) -> str:
        wanted = expand_cpuset(value)
        if not wanted <= expand_cpuset(self._effective(directory, name)):
            raise OSError(errno.EINVAL, "Invalid argument")
        return _ranges(wanted)

    # -- helpers ---------------------------------------------------------------
    def _populate(self, directory: str, *, root: bool) -> None:
        files: dict[str, str] = {}
        if self._is_v2(directory):
            files.update(V2_CORE)
            parent = os.path.dirname(directory)
            enabled = () if root else Path(parent, "cgroup.subtree_control").read_text().split()
            for controller in enabled:
                files.update(V2_FILES.get(controller, {}))
        else:
            files["cgroup.procs"] = ""
            for controller in self.v1_roots[self._root_of(directory)]:
                files.update(V1_FILES.get(controller, {}))
            if root and "cpuset.cpus" in files:
                files.update({"cpuset.cpus": ROOT_CPUS, "cpuset.mems": ROOT_MEMS})
            if root:
                files.pop("freezer.state", None)  # the root cannot be frozen
        for name, value in files.items():
            Path(directory, name).write_text(value)

    def _root_of(self, directory: str) -> str:
        for root in [*self.v1_roots, *([self.unified] if self.unified else [])]:
            if directory == root or directory.startswith(root + "/"):
                return root
        raise FileNotFoundError(errno.ENOENT, "not below a cgroup mount", directory)

    def _is_v2(self, directory: str) -> bool:
        return self.unified is not None and self._root_of(directory) == self.unified

    def _effective(self, directory: str, name: str) -> str:
        """The cpuset a cgroup may use: its parent's, up to a set one (v2: an empty file inherits)."""
        parent = os.path.dirname(directory)
        text = Path(parent, name).read_text().strip() if Path(parent, name).exists() else ""
        if text or parent == self._root_of(directory):
            return text or (ROOT_CPUS if name == "cpuset.cpus" else ROOT_MEMS)
        return self._effective(parent, name)

    def _live(self, directory: str) -> list[int]:
        try:
            listed = Path(directory, "cgroup.procs").read_text().split()
        except FileNotFoundError:
            return []
        return [int(p) for p in listed if _alive(int(p))]

    def _subtree_pids(self, directory: str) -> list[int]:
        return [pid for procs in Path(directory).rglob("cgroup.procs") for pid in self._live(str(procs.parent))]

    def _v2_frozen(self, directory: str) -> bool:
        current = directory
        while True:
            if Path(current, "cgroup.freeze").read_text().strip() == "1":
                return True
            if current == self.unified:
                return False
            current = os.path.dirname(current)


def _alive(pid: int) -> bool:
    """Running, not a zombie: the kernel drops exited tasks from cgroup.procs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _v1_bytes(value: str) -> int:
    number = int(value)
    return V1_UNLIMITED if number < 0 or number >= V1_UNLIMITED else number // PAGE * PAGE


def _ranges(ids: set[int]) -> str:
    """The kernel's list format: ``0-1,4``."""
    parts: list[str] = []
    for number in sorted(ids):
        if parts and int(parts[-1].rpartition("-")[2]) == number - 1:
            parts[-1] = f"{parts[-1].partition('-')[0]}-{number}"
        else:
            parts.append(str(number))
    return ",".join(parts)
