"""The ``Syscalls`` protocol: the system calls the runtime makes.

Kept apart from ``syscalls`` so the runtime's start-up does not import typing;
``syscalls.Syscalls`` still names it (loaded on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    import os

StrPath: TypeAlias = "str | os.PathLike[str]"


@runtime_checkable
class Syscalls(Protocol):
    """The system calls the runtime makes. All raise SystemCallError on failure."""

    def unshare(self, flags: int) -> None:
        """unshare(2): move this process into new namespaces (CLONE_NEW* flags)."""

    def setns(self, fd: int, nstype: int = 0) -> None:
        """setns(2): join the namespace open at ``fd``; ``nstype`` (a CLONE_NEW*
        flag, 0 = any) makes the kernel check that fd is of that kind."""

    def mount(self, source: StrPath | None, target: StrPath, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        """mount(2): mount ``source`` on ``target``, or with MS_BIND, MS_MOVE,
        MS_REMOUNT or a propagation flag, change an existing mount."""

    def umount2(self, target: StrPath, flags: int = 0) -> None:
        """umount2(2): unmount ``target`` (MNT_DETACH for a lazy unmount)."""

    def pivot_root(self, new_root: StrPath, put_old: StrPath) -> None:
        """pivot_root(2) via syscall(2): make ``new_root`` the root mount and
        move the old root to ``put_old``."""

    def sethostname(self, name: str) -> None:
        """sethostname(2): set the hostname of this UTS namespace."""

    def setdomainname(self, name: str) -> None:
        """setdomainname(2): set the NIS domain name of this UTS namespace."""

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        """prctl(2) with integer arguments; returns the call's non-negative result."""

    def mknod(self, path: StrPath, mode: int, dev: int) -> None:
        """mknod(2): create a device node or FIFO (``dev`` from os.makedev)."""

    def chroot(self, path: StrPath) -> None:
        """chroot(2): change this process's root directory."""
