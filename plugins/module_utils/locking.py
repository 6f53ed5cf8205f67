"""Advisory file locks: the engine's only concurrency control.

Rules (see docs/ARCHITECTURE.md, "Locking"): every read-modify-write of a
metadata collection holds that collection's lock exclusively; locks are
``flock`` on files under ``<state_root>/locks`` so they vanish with the process
that held them (a crashed playbook never leaves a stale lock); a process takes
at most one collection lock at a time except in the fixed order
``content < snapshots < images < containers < volumes < networks``, which
rules out deadlock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import Conflict

LOCK_ORDER = ("content", "snapshots", "images", "containers", "volumes", "networks")


class FileLock:
    """An exclusive or shared ``flock`` on one file, re-entrant per instance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._depth = 0

    def acquire(self, *, shared: bool = False, timeout: float | None = None) -> None:
        if self._fd is not None:
            self._depth += 1
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            _flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, timeout, self.path)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._depth = fd, 1

    def release(self) -> None:
        if self._fd is None:
            return
        self._depth -= 1
        if self._depth == 0:
            os.close(self._fd)  # closing the fd drops the flock
            self._fd = None

    @contextlib.contextmanager
    def held(self, *, shared: bool = False, timeout: float | None = None) -> Iterator[None]:
        self.acquire(shared=shared, timeout=timeout)
        try:
            yield
        finally:
            self.release()

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False if another process holds it."""
        try:
            self.acquire(timeout=0)
        except Conflict:
            return False
        return True


def _flock(fd: int, op: int, timeout: float | None, path: Path) -> None:
    if timeout is None:
        fcntl.flock(fd, op)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise Conflict(f"lock {path} is held by another process", field="state_root",
                               hint="another berth operation on this state root is running; retry") from None
            time.sleep(0.01)
