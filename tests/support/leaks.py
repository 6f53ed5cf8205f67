"""What a test run may leave on the host, and a comparison before/after.

A container engine's tests must leave no mounts, links, network namespaces,
cgroups, nft tables or processes behind. ``HostSnapshot.take()`` records
them; ``leaks(before, after)`` lists what appeared.

Other test sessions may run on the same host at the same time (other
checkouts, other xdist workers), so what appeared is not all ours.
``Scope`` says what one test process owns — its own network namespace (see
tests/support/isolation.py), its pytest temp dir, the containers its fixtures
watched being made (``ContainerWatch``) — and ``session_leaks`` keeps what is
ours, plus whatever nobody else can own and that stays (``settle``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import struct
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_ROOTS = [Path("/sys/fs/cgroup")]
KINDS = ("mounts", "links", "netns", "cgroups", "nft_tables", "processes")

# Mount points that the kernel or iproute2 sets up once per host and then keeps:
# the first `ip netns add` on a host bind-mounts /run/netns onto itself (shared
# propagation) so namespace mounts under it propagate; it is never undone, and a
# test that makes the first namespace on a fresh host has not leaked it. Each
# namespace mounted *under* /run/netns still counts.
HOST_ONCE_MOUNT_POINTS = frozenset({"/run/netns"})

# The engine names a container's cgroup berth-<64 hex id> (containers/limits.py).
_CONTAINER_CGROUP = re.compile(r"berth-([0-9a-f]{64})")
# Everything a container made under a state root's containers/ dir is named by its id.
OWNED_CONTAINER_IDS: set[str] = set()


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
    return cgroup_dirs(lambda name: "berth" in name)


def cgroup_dirs(wanted: Callable[[str], bool], max_depth: int = 8) -> set[str]:
    """Cgroup dirs under the cgroup mounts whose name ``wanted`` accepts."""
    found = set()
    for root in CGROUP_ROOTS:
        if not root.is_dir():
            continue
        for dirpath, dirnames, _files in os.walk(root):
            found.update(os.path.join(dirpath, name) for name in dirnames if wanted(name))
            if dirpath.count("/") > max_depth:
                dirnames.clear()
    return found


def container_cgroups(ids: Iterable[str]) -> set[str]:
    """The cgroup dirs of these containers (berth-<id>, at any depth: under a cgroup_parent too)."""
    names = {f"berth-{container_id}" for container_id in ids}
    return cgroup_dirs(names.__contains__) if names else set()


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
    for name in KINDS:
        new = sorted(getattr(after, name) - getattr(before, name))
        if new:
            found[name] = new
    return found


# --- what one test process owns ---------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What one test process owns on a shared host.

    ``basetemp``: its pytest temp dir (every state root, run root and bundle of
    its tests is under it); ``others_temp``: where other sessions' temp dirs
    live (e.g. /tmp/pytest-of-root), so paths there but outside ``basetemp``
    are theirs; ``netns_inode``: the private network namespace it runs in
    (None: the host's, shared), so links and nft tables there are all its own;
    ``tag``: the token its tests put in the names of the network namespaces
    they make; ``container_ids``: the containers its fixtures saw being made."""

    basetemp: Path
    others_temp: Path | None = None
    netns_inode: int | None = None
    tag: str = ""
    container_ids: frozenset[str] = frozenset()

    def is_ours(self, kind: str, item: str) -> bool | None:
        """True: ours; False: someone else's; None: cannot tell (kept if it stays)."""
        if kind in ("links", "nft_tables"):
            return True if self.netns_inode is not None else None
        if kind == "mounts":
            return self._path_owner(item.rsplit(" ", 1)[0])
        if kind == "netns":
            return self._path_owner(f"/run/netns/{item}")
        if kind == "cgroups":
            return self._cgroup_owner(item)
        if kind == "processes":
            return self._process_owner(int(item.split(":", 1)[0]))
        return None

    def _cgroup_owner(self, path: str) -> bool:
        """A container's (berth-<id>): ours if a fixture saw it made, or its
        dir is still in one of our state roots. Any other (a test's budget,
        berth-runtime's berth-rt-*): ours if it carries our tag; tests check
        those themselves (runtime.container_leaks, their parent fixtures)."""
        name = path.rsplit("/", 1)[1]
        match = _CONTAINER_CGROUP.fullmatch(name)
        if match:
            return match.group(1) in self.container_ids or _container_dir_under(self.basetemp, match.group(1))
        return bool(self.tag) and self.tag in re.split(r"[-_.]", name)

    def _path_owner(self, path: str) -> bool | None:
        if _under(path, self.basetemp):
            return True
        if self.others_temp is not None and _under(path, self.others_temp):
            return False
        if path.startswith("/run/netns/"):   # our tests name theirs with our tag
            return bool(self.tag) and self.tag in re.split(r"[-_.]", path.rsplit("/", 1)[1])
        return None

    def _process_owner(self, pid: int) -> bool | None:
        proc = Path(f"/proc/{pid}")
        with contextlib.suppress(OSError):
            if self.netns_inode is not None and os.stat(proc / "ns" / "net").st_ino == self.netns_inode:
                return True
        # In a namespace of our own, every process our tests start is in it,
        # or (a container's init in its own) has its root in our temp dir:
        # anything else is another session's (e.g. ansible-test's pylint of berth).
        owners = set() if self.netns_inode is None else {False}
        for link in ("root", "cwd"):
            with contextlib.suppress(OSError):
                owners.add(self._path_owner(os.readlink(proc / link)))
        with contextlib.suppress(OSError):
            for arg in (proc / "cmdline").read_bytes().decode(errors="replace").split("\0"):
                if arg.startswith("/"):
                    owners.add(self._path_owner(arg))
        return True if True in owners else (False if False in owners else None)


def _container_dir_under(root: Path, container_id: str, max_depth: int = 4) -> bool:
    """Is there a ``containers/<id>`` dir (a state root's) within a few levels of ``root``?"""
    for dirpath, dirnames, _files in os.walk(root):
        if os.path.basename(dirpath) == "containers" and container_id in dirnames:
            return True
        if dirpath.count("/") - str(root).count("/") >= max_depth:
            dirnames.clear()
        else:
            dirnames[:] = [d for d in dirnames if d not in ("rootfs", "content", "snapshots", "storage")]
    return False


def _under(path: str, root: Path) -> bool:
    return path == str(root) or path.startswith(f"{root}/")


def session_leaks(before: HostSnapshot, scope: Scope, take: Callable[[], HostSnapshot] = HostSnapshot.take,
                  settle: float = 10.0) -> dict[str, list[str]]:
    """What appeared since ``before`` and belongs to ``scope``, or belongs to
    nobody we can tell and is still there after ``settle`` seconds (another
    session's short-lived things come and go; a leak stays). Our own things
    get the same grace: a monitor may still be exiting when the last test ends."""
    candidates = {(kind, item) for kind, items in leaks(before, take()).items() for item in items
                  if scope.is_ours(kind, item) is not False}
    deadline = time.monotonic() + settle
    while candidates and time.monotonic() < deadline:
        time.sleep(0.5)
        now = take()
        candidates = {(kind, item) for kind, item in candidates if item in getattr(now, kind)}
    found: dict[str, list[str]] = {}
    for kind, item in sorted(candidates):
        found.setdefault(kind, []).append(item)
    return found


# --- containers a test made ------------------------------------------------------------

_IN_MOVED_TO, _IN_CREATE, _IN_Q_OVERFLOW, _IN_ONLYDIR = 0x80, 0x100, 0x4000, 0x01000000
_EVENT = struct.Struct("iIII")


class ContainerWatch:
    """The ids of the containers made under one state root while a test runs,
    removed ones included: an inotify watch on the root's containers/ dir,
    where each container gets ``<id>/`` first (containers/store.py). The
    kernel queues the events, so nothing polls; ``ids()`` reads them.

    Ids seen are also added to OWNED_CONTAINER_IDS, for the session's check."""

    def __init__(self, containers_dir: Path) -> None:
        self.dir = containers_dir
        self.seen: set[str] = set()
        self.overflowed = False
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        containers_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if libc.inotify_add_watch(self.fd, os.fsencode(containers_dir), _IN_CREATE | _IN_MOVED_TO | _IN_ONLYDIR) < 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, f"inotify_add_watch {containers_dir}")
        self._add(p.name for p in containers_dir.iterdir())

    def ids(self) -> set[str]:
        """Every container id seen so far (and still there)."""
        self._drain()
        with contextlib.suppress(OSError):
            self._add(p.name for p in self.dir.iterdir())
        return set(self.seen)

    def cgroups_left(self) -> set[str]:
        return container_cgroups(self.ids())

    def close(self) -> None:
        if self.fd >= 0:
            self._drain()
            os.close(self.fd)
            self.fd = -1

    def _drain(self) -> None:
        while self.fd >= 0:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                _wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size:offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                self.overflowed |= bool(mask & _IN_Q_OVERFLOW)
                self._add([os.fsdecode(name)])

    def _add(self, names: Iterable[str]) -> None:
        ids = {name for name in names if re.fullmatch(r"[0-9a-f]{64}", name)}
        self.seen |= ids
        OWNED_CONTAINER_IDS.update(ids)
