"""The ``Syscalls`` protocol: the system calls the runtime makes.

Kept apart from ``syscalls`` so the runtime's start-up does not import typing;
``syscalls.Syscalls`` still names it (loaded on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn, Protocol, TypeAlias, runtime_checkable

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

    # --- the process's own state: what the init changes on its way to execve ---

    def chdir(self, path: StrPath) -> None:
        """chdir(2): change the working directory."""

    def fchdir(self, fd: int) -> None:
        """fchdir(2): change the working directory to the directory open at ``fd``."""

    def setsid(self) -> None:
        """setsid(2): start a new session (no controlling terminal)."""

    def setgroups(self, gids: list[int]) -> None:
        """setgroups(2): set the supplementary group ids."""

    def setresgid(self, rgid: int, egid: int, sgid: int) -> None:
        """setresgid(2): set the real, effective and saved group ids."""

    def setresuid(self, ruid: int, euid: int, suid: int) -> None:
        """setresuid(2): set the real, effective and saved user ids."""

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        """capset(2) of this thread: each set a bit mask of capability numbers."""

    def getrlimit(self, resource: int) -> tuple[int, int]:
        """getrlimit(2): the (soft, hard) limit of an RLIMIT_* resource."""

    def setrlimit(self, resource: int, soft: int, hard: int) -> None:
        """setrlimit(2): set the soft and hard limit of an RLIMIT_* resource."""

    def seccomp_filter(self, program: bytes) -> None:
        """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER): install a classic BPF
        program (struct sock_filter entries, 8 bytes each) as this thread's
        seccomp filter; needs no_new_privs or CAP_SYS_ADMIN."""

    def execve(self, path: StrPath | int, args: list[str], env: dict[str, str]) -> NoReturn:
        """execve(2) (fexecve(3) for a descriptor): replace this process;
        returns only by raising."""
