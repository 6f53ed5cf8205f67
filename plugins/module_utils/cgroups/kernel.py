"""The kernel as the cgroup core sees it: files on cgroupfs and signals.

Every read, write, mkdir and rmdir the managers make goes through one
``Kernel``, so the conformance suite can run the same managers against a
fake cgroupfs that reacts as the kernel does (tests/unit/cgroups/fakefs.py)
and against the real one. Plain ``os`` calls and ``str`` paths: berth-runtime
imports this for every container, and pathlib or dataclasses would cost it
milliseconds at start-up.
"""

from __future__ import annotations

import contextlib
import os


class Kernel:
    """The real cgroupfs (whatever is mounted where ``detect`` found it)."""

    def read(self, path: str) -> str:
        with open(path) as handle:
            return handle.read()

    def write(self, path: str, value: str) -> None:
        # cgroupfs takes one value per write(2): no buffering, no O_CREAT/O_TRUNC surprises
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def mkdir(self, path: str) -> None:
        """Make one cgroup directory; an existing one is success."""
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o755)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def children(self, path: str) -> list[str]:
        """The child cgroups of ``path`` (absent: none)."""
        try:
            with os.scandir(path) as entries:
                return sorted(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return []

    def kill(self, pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # it exited since cgroup.procs listed it
            os.kill(pid, signum)


KERNEL = Kernel()
