"""Start the kernel's slow part of a cgroup migration while Python imports.

The first write to any ``cgroup.procs`` takes the kernel's global
threadgroup rwsem for writing, which waits for an RCU grace period (~10 ms
here, and runc pays it too); writes in the next grace period are fast. So the
launcher calls ``start`` before importing the runtime: a thread rewrites this
process's own pid into the cgroup it is already in (a no-op move), and by the
time ``create`` moves the container's init, the lock is warm.

Only os-level calls (no ``io`` objects, no Python locks): the runtime forks
while this thread may still be in its write.
"""

from __future__ import annotations

import _thread
import os

_COMMANDS = ("create", "run", "exec")


def start(argv: list[str]) -> None:
    if any(arg in _COMMANDS for arg in argv[:6]):
        _thread.start_new_thread(_rewrite_own_pid, ())


def _rewrite_own_pid() -> None:
    try:
        path = _own_procs_file()
        if path:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
    except OSError:
        pass  # read-only cgroupfs, no permission: only the speed-up is lost


def _own_procs_file() -> str | None:
    fd = os.open("/proc/self/cgroup", os.O_RDONLY | os.O_CLOEXEC)
    try:
        text = os.read(fd, 65536).decode()
    finally:
        os.close(fd)
    candidates = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, path = parts[1], parts[2].rstrip("/")
        if controllers == "":  # the unified hierarchy: pure v2, or hybrid's cgroup2 mount
            candidates += [f"/sys/fs/cgroup/unified{path}/cgroup.procs", f"/sys/fs/cgroup{path}/cgroup.procs"]
        else:
            name = controllers.split(",")[0].replace("name=", "")
            candidates.append(f"/sys/fs/cgroup/{name}{path}/cgroup.procs")
    return next((c for c in candidates if os.path.exists(c)), None)
