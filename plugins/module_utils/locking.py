"""Advisory file locks: the engine's only concurrency control.

Rules (see docs/ARCHITECTURE.md, "Locking"): every read-modify-write of a
metadata collection holds that collection's lock exclusively; locks are
``flock`` on files under ``<state_root>/locks`` so they vanish with the process
that held them (a crashed playbook never leaves a stale lock); a process takes
at most one collection lock at a time except in the fixed order
``content < snapshots < images < containers < volumes < networks``, which
rules out deadlock.

Cleanup may unlink a lock file (with the tree it guards) while another
process has it open but not yet locked. A flock on such an orphaned inode
guards nothing, so ``acquire`` re-checks after every flock that the path
still names the inode it locked (open, flock, fstat vs stat) and otherwise
starts over — or, with ``create=False``, reports the lock as gone.

A read-only view of the engine hands out ``ReadOnlyFileLock``: an exclusive
lock (taken only to write) raises ``ReadOnlyViolation``; a shared one never
creates the lock file, and a missing file means nobody holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import Conflict, ReadOnlyViolation

LOCK_ORDER = ("content", "snapshots", "images", "containers", "volumes", "networks", "buildcache")


class LockGone(Exception):
    """The lock file vanished (its owner's tree was cleaned up): nothing to lock."""


class FileLock:
    """An exclusive or shared ``flock`` on one file, re-entrant per instance.

    ``create=False`` is for cleanup code probing someone else's lock: it never
    recreates a lock file that is gone, and ``acquire`` raises ``LockGone``.
    """

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.create = create
        self._fd: int | None = None
        self._depth = 0

    def acquire(self, *, shared: bool = False, timeout: float | None = None) -> None:
        if self._fd is not None:
            self._depth += 1
            return
        op = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            fd = self._open()
            try:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                _flock(fd, op, left, self.path)
                if _still_named(fd, self.path):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)   # we locked an unlinked or replaced inode: start over on the path's current one
            if not self.create:
                raise LockGone(str(self.path))
        self._fd, self._depth = fd, 1

    def _open(self) -> int:
        if not self.create:
            try:
                return os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                raise LockGone(str(self.path)) from None
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

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

    def try_acquire(self, *, shared: bool = False) -> bool:
        """Take the lock without waiting; False if another process holds it
        (or, with ``create=False``, if the lock file is gone)."""
        try:
            self.acquire(shared=shared, timeout=0)
        except (Conflict, LockGone):
            return False
        return True

    @property
    def held_now(self) -> bool:
        return self._fd is not None


class ReadOnlyFileLock(FileLock):
    """A read-only view's lock: shared only, and never creating the file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, create=False)
        self._absent = 0   # shared acquisitions of a lock file that does not exist

    def acquire(self, *, shared: bool = False, timeout: float | None = None) -> None:
        if not shared:
            raise ReadOnlyViolation(f"exclusive lock {self.path.name}")
        if self._absent:
            self._absent += 1
            return
        try:
            super().acquire(shared=True, timeout=timeout)
        except LockGone:
            self._absent = 1   # no lock file, so no holder: a reader has nothing to wait for

    def release(self) -> None:
        if self._absent:
            self._absent -= 1
            return
        super().release()

    @property
    def held_now(self) -> bool:
        return self._absent > 0 or super().held_now


def _still_named(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the inode open at ``fd``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


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
