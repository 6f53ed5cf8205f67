"""One cgroup, in every hierarchy the host mounts: the one implementation
the engine, berth-runtime and the ``cgroup`` module share.

What is the same on v1 and v2 lives here: path rules, creation (v2
controller delegation, v1 cpuset inheritance), placing and listing
processes, signals, the freezer, removal, and limits as a plan (desired
writes minus what the kernel already reports) applied with ordering
retries. A driver (``v1/``, ``v2/``) only says which files carry the limits
and where the stats are.

Every wait on the kernel (freezing, processes dying, a cgroup emptying)
polls up to ``TIMEOUT``; a cgroup still in use is a ``Conflict``, a kernel
that does not do what it is told within the time an ``InvalidState``.
Standard library only, ``str`` paths: berth-runtime imports this for every
container.
"""

from __future__ import annotations

import errno
import signal
import time

from ..errors import Conflict, InvalidInput, InvalidState
from .detect import Hierarchy
from .kernel import KERNEL, Kernel

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable

    from .protocol import Stats, Write
    from .resources import Resources

TIMEOUT = 10.0
POLL = 0.005
# What a cgroup2 parent delegates to its children (top-down, before the child is made).
V2_DELEGATED = ("cpuset", "cpu", "io", "memory", "pids", "hugetlb")
# not a regex: see runtime/state.py
_COMPONENT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@:+-")
_IN_USE_HINT = "stop them, move them, or use absent_processes: kill"


def check_path(path: str, field: str = "path") -> str:
    """A cgroup path relative to the hierarchy root, e.g. ``berth/web``."""
    if not isinstance(path, str) or not path or path.startswith("/"):
        raise InvalidInput(f"{path!r} is not a relative cgroup path", field=field,
                           hint="give a path below the cgroup root such as berth/web (no leading /)")
    parts = path.split("/")
    if any(p in ("", ".", "..") or not _COMPONENT_CHARS.issuperset(p) for p in parts):
        raise InvalidInput(f"{path!r} is not a valid cgroup path", field=field,
                           hint="use names of letters, digits and . _ - @ : + separated by /, without ..")
    return path


class BaseManager:
    """One cgroup path on this host's hierarchies; ``version`` names the driver."""

    version = ""

    def __init__(self, path: str, hierarchy: Hierarchy, device: Callable[[str, str], str] | None = None,
                 kernel: Kernel = KERNEL) -> None:
        self.path = check_path(path)
        self.hierarchy = hierarchy
        self._device = device
        self.kernel = kernel
        self.warnings: list[str] = []

    def device(self, path: str, field: str) -> str:
        """``major:minor`` of a throttled block device (by default: stat its path)."""
        if self._device is not None:
            return self._device(path, field)
        from ..units import device_number  # only limits with device throttles need it

        return device_number(path, field)

    # -- to be provided by a driver ------------------------------------------
    def desired(self, resources: Resources) -> list[Write]:
        raise NotImplementedError

    def stats(self) -> Stats:
        raise NotImplementedError

    # -- where the cgroup lives -----------------------------------------------
    def dirs(self) -> list[str]:
        """The cgroup's directory in every hierarchy."""
        return [f"{root}/{self.path}" for root in self.hierarchy.roots()]

    def dir_for(self, controller: str) -> str | None:
        """The directory holding ``controller``'s files (None: not mounted)."""
        found = self.hierarchy
        if controller in found.v1:
            return f"{found.v1[controller]}/{self.path}"
        if found.unified and (not found.v1 or controller in found.v2_controllers):
            return f"{found.unified}/{self.path}"
        return None

    def exists(self) -> bool:
        dirs = self.dirs()
        return bool(dirs) and all(self.kernel.isdir(d) for d in dirs)

    def create(self) -> None:
        """mkdir the cgroup level by level in every hierarchy. On cgroup2 each
        ancestor first delegates its controllers (v2 enables them top-down);
        a new v1 cpuset copies its parent's cpus and mems (empty, it refuses
        tasks with ENOSPC)."""
        cpuset_root = self.hierarchy.v1.get("cpuset")
        for root in self.hierarchy.roots():
            current = root
            for part in self.path.split("/"):
                parent, current = current, f"{current}/{part}"
                if root == self.hierarchy.unified:
                    self._delegate(parent)
                try:
                    self.kernel.mkdir(current)
                except OSError as err:
                    raise InvalidState(f"cannot create cgroup {current}: {err.strerror}", field="path",
                                       hint="check that the hierarchy is mounted read-write") from None
                if root == cpuset_root:
                    self._inherit_cpuset(parent, current)

    def _delegate(self, directory: str) -> None:
        try:
            available = self.kernel.read(f"{directory}/cgroup.controllers").split()
            enabled = self.kernel.read(f"{directory}/cgroup.subtree_control").split()
        except OSError:
            return
        missing = [c for c in V2_DELEGATED if c in available and c not in enabled]
        if not missing:
            return
        try:
            self.kernel.write(f"{directory}/cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
        except OSError:
            # one at a time, so one refusal does not block the others; a cgroup
            # with processes of its own delegates none: limits then warn where they apply
            for controller in missing:
                try:
                    self.kernel.write(f"{directory}/cgroup.subtree_control", f"+{controller}")
                except OSError:
                    continue

    def _inherit_cpuset(self, parent: str, child: str) -> None:
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not self._text(f"{child}/{name}"):
                self.kernel.write(f"{child}/{name}", self._text(f"{parent}/{name}"))

    # -- processes ------------------------------------------------------------
    def add_process(self, pid: int) -> None:
        """Move ``pid`` into the cgroup in every hierarchy. An OSError is left
        as it is: ESRCH means the process is gone, which the runtime expects."""
        for directory in self.dirs():
            self.kernel.write(f"{directory}/cgroup.procs", str(pid))

    def processes(self) -> list[int]:
        pids: set[int] = set()
        for directory in self.dirs():
            pids.update(self._pids(directory))
        return sorted(pids)

    def signal_all(self, signum: int) -> None:
        for pid in self.processes():
            self.kernel.kill(pid, signum)

    def kill_all(self) -> None:
        """SIGKILL every process of the cgroup and wait until they are gone."""
        self.thaw()  # a frozen task cannot die
        deadline = time.monotonic() + TIMEOUT
        while pids := self.processes():
            for pid in pids:
                self.kernel.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise InvalidState(f"processes {pids[:10]} of cgroup {self.path} did not die within "
                                   f"{TIMEOUT:.0f}s", field="path")
            time.sleep(POLL)

    def release(self, pid: int) -> None:
        """Move ``pid`` out, to the parent cgroup in every hierarchy. Where a
        cgroup2 parent delegates controllers it holds no processes (EBUSY):
        the nearest ancestor that can takes it (the root always can)."""
        for root in self.hierarchy.roots():
            ancestors = self.path.split("/")[:-1]
            while True:
                target = "/".join([root, *ancestors])
                try:
                    self.kernel.write(f"{target}/cgroup.procs", str(pid))
                    break
                except ProcessLookupError:
                    return  # it exited meanwhile: nothing left to move
                except OSError as err:
                    if err.errno != errno.EBUSY or not ancestors:
                        raise Conflict(f"cannot move process {pid} to {target}: {err.strerror}",
                                       field="absent_processes", hint="use absent_processes: kill") from None
                    ancestors.pop()

    # -- freezer --------------------------------------------------------------
    def _freezer(self) -> tuple[str, str, str] | None:
        """(file, frozen value, thawed value): the v1 freezer where it is
        mounted, else cgroup2's own cgroup.freeze (also on hybrid hosts)."""
        if "freezer" in self.hierarchy.v1:
            return f"{self.hierarchy.v1['freezer']}/{self.path}/freezer.state", "FROZEN", "THAWED"
        if self.hierarchy.unified:
            return f"{self.hierarchy.unified}/{self.path}/cgroup.freeze", "1", "0"
        return None

    def freeze(self) -> None:
        """Freeze every process and wait until the kernel reports it done."""
        freezer = self._freezer()
        if freezer is None:
            raise InvalidState(f"cgroup {self.path} cannot be frozen: no freezer on this host", field="cgroups",
                               hint="mount the v1 freezer controller or cgroup2")
        self.kernel.write(freezer[0], freezer[1])
        self._wait(self.frozen, "freezing")

    def thaw(self) -> None:
        freezer = self._freezer()
        if freezer is not None and self.kernel.exists(freezer[0]):
            self.kernel.write(freezer[0], freezer[2])

    def frozen(self) -> bool:
        if "freezer" in self.hierarchy.v1:
            return self._text(f"{self.hierarchy.v1['freezer']}/{self.path}/freezer.state") == "FROZEN"
        if self.hierarchy.unified:
            return read_int(self.kernel, f"{self.hierarchy.unified}/{self.path}/cgroup.events", "frozen") == 1
        return False

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not done():
            if time.monotonic() > deadline:
                raise InvalidState(f"cgroup {self.path} did not finish {what} within {TIMEOUT:.0f}s", field="path")
            time.sleep(POLL)

    # -- removal --------------------------------------------------------------
    def remove(self, *, force: bool = False) -> None:
        """rmdir the cgroup in every hierarchy (an absent one is success).

        ``force`` (the runtime's delete: the subtree is the container's)
        kills what is still inside and removes child cgroups first; without
        it, processes or child cgroups are a ``Conflict``. Either way EBUSY
        is retried while the kernel finishes tearing down tasks that have
        exited: it lags their exit."""
        deadline = time.monotonic() + TIMEOUT
        for directory in self.dirs():
            self._remove_dir(directory, force, deadline)

    def _remove_dir(self, directory: str, force: bool, deadline: float) -> None:
        while True:
            try:
                self.kernel.rmdir(directory)
                return
            except FileNotFoundError:
                return
            except OSError as err:
                if err.errno != errno.EBUSY:
                    raise InvalidState(f"cannot remove cgroup {directory}: {err.strerror}", field="path") from None
            children, pids = self.kernel.children(directory), self._pids(directory)
            if (children or pids) and not force:
                what = "processes" if pids else "child cgroups"
                raise Conflict(f"cgroup {self.path} still has {what}", field="path", hint=_IN_USE_HINT)
            for child in children:
                self._remove_dir(child, force, deadline)
            if pids:
                self.thaw()
                for pid in pids:
                    self.kernel.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise Conflict(f"cgroup {directory} is still busy after {TIMEOUT:.0f}s", field="path",
                               hint="processes are still inside; kill them and retry")
            time.sleep(POLL)

    # -- limits ---------------------------------------------------------------
    def read(self, writes: list[Write]) -> dict[str, str | None]:
        """Current contents of the files ``writes`` touch (None: absent)."""
        current: dict[str, str | None] = {}
        for write in writes:
            directory = self.dir_for(write.controller)
            try:
                current[write.file] = self.kernel.read(f"{directory}/{write.file}") if directory else None
            except OSError:
                current[write.file] = None
        return current

    def plan(self, resources: Resources) -> list[Write]:
        desired = self.desired(resources)
        current = self.read(desired) if self.exists() else {}
        return [w for w in desired if not w.satisfied_by(current.get(w.file))]

    def apply(self, resources: Resources) -> list[Write]:
        """Create the cgroup if needed and write what differs; returns the writes made."""
        self.create()
        pending = self.plan(resources)
        done: list[Write] = []
        # Some limits constrain each other (v1 memory vs memory+swap, quota vs
        # period): a write the kernel refuses now may pass once the others are in.
        for _round in range(2):
            failed: list[tuple[Write, OSError]] = []
            for write in pending:
                try:
                    if self._write(write):
                        done.append(write)
                except OSError as err:
                    failed.append((write, err))
            pending = [w for w, _err in failed]
            if not failed:
                return done
        write, err = failed[0]
        raise InvalidInput(f"the kernel refused {write.value!r} for {write.file} in {self.path}: {err.strerror}",
                           field=write.controller, hint="check the value against the host's limits")

    def _write(self, write: Write) -> bool:
        directory = self.dir_for(write.controller)
        if directory is None or not self.kernel.exists(f"{directory}/{write.file}"):
            self.warnings.append(f"{write.file} does not exist on this kernel ({self.version}); "
                                 f"{write.value!r} was not applied")
            return False
        self.kernel.write(f"{directory}/{write.file}", write.value)
        return True

    def write_file(self, controller: str, file: str, value: str) -> None:
        """One write outside the limits (the runtime's v1 device rules)."""
        directory = self.dir_for(controller)
        if directory is None:
            raise InvalidState(f"the {controller} controller is not mounted", field="cgroups")
        self.kernel.write(f"{directory}/{file}", value)

    # -- reading --------------------------------------------------------------
    def _pids(self, directory: str) -> list[int]:
        try:
            return [int(p) for p in self.kernel.read(f"{directory}/cgroup.procs").split()]
        except OSError:
            return []

    def _text(self, path: str) -> str:
        try:
            return self.kernel.read(path).strip()
        except OSError:
            return ""


def read_int(kernel: Kernel, path: str, key: str | None = None) -> int | None:
    """An integer file (``max``: None), or one ``key value`` line of a flat-keyed file."""
    try:
        text = kernel.read(path)
    except OSError:
        return None
    if key is None:
        value = text.strip()
        return None if value in ("max", "") else int(value)
    for line in text.splitlines():
        name, _sep, value = line.partition(" ")
        if name == key:
            return int(value)
    return None
