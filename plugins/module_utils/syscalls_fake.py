"""A ``Syscalls`` test double: records every call, fails on cue, never
touches the host.

Unit tests hand ``RecordingSyscalls`` to the runtime and assert on the
sequence of calls it made; ``fail_on`` scripts the errors the kernel would
return, raised exactly as ``LinuxSyscalls`` raises them (``syscall_error``).
Calls that change the calling process (credentials, capabilities, seccomp,
cwd, execve) are recorded and never made, so the runtime's whole start-up
runs inside a test; ``execve`` ends it by raising ``Execed``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from .syscalls import syscall_error
from .syscalls_protocol import StrPath, Syscalls


@dataclass(frozen=True)
class Call:
    """One recorded call: the method name and its arguments, defaults filled
    in and paths as str, so tests compare against plain tuples."""

    name: str
    args: tuple[Any, ...]


class Execed(BaseException):
    """Raised by the fake's ``execve`` in place of replacing the process: the
    caller's code after it never runs, as after a real execve. A
    BaseException, so the runtime's own ``except Exception`` handlers let it
    through to the test."""

    def __init__(self, call: Call) -> None:
        super().__init__(call)
        self.call = call


RLIM_INFINITY = -1  # resource.RLIM_INFINITY on Linux


@dataclass
class _Failure:
    """A scripted failure; ``remaining`` None means every matching call fails."""

    name: str
    errno: int
    when: Callable[[Call], bool] | None
    remaining: int | None

    def matches(self, call: Call) -> bool:
        if call.name != self.name or self.remaining == 0:
            return False
        return self.when is None or bool(self.when(call))


# The methods a failure can be scripted for: exactly the protocol's.
_CALL_NAMES = frozenset(name for name, value in vars(Syscalls).items()
                        if callable(value) and not name.startswith("_"))


def _plain(value: Any) -> Any:
    # Record Path arguments as str, like LinuxSyscalls reports them.
    return os.fspath(value) if isinstance(value, os.PathLike) else value


class RecordingSyscalls:
    """``Syscalls`` that records calls in ``.calls`` instead of making them.

    A call is recorded before any scripted failure is raised, as the kernel
    did see it. ``prctl`` returns ``prctl_results.get(option, 0)``;
    ``getrlimit`` answers from ``rlimits`` (unlimited when absent), which
    ``setrlimit`` updates.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.prctl_results: dict[int, int] = {}
        self.rlimits: dict[int, tuple[int, int]] = {}
        self._failures: list[_Failure] = []

    # --- scripting and assertions ---

    def fail_on(self, name: str, errno: int, *, when: Callable[[Call], bool] | None = None,
                times: int | None = None) -> RecordingSyscalls:
        """Make calls to ``name`` fail with ``errno``: only those for which
        ``when(call)`` is true, and only the next ``times`` of them (None: all).
        Rules are tried in the order they were added; returns self to chain."""
        if name not in _CALL_NAMES:
            raise ValueError(f"{name!r} is not a Syscalls method (one of {sorted(_CALL_NAMES)})")
        if errno <= 0:
            raise ValueError(f"errno must be positive, got {errno}")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 or None, got {times}")
        self._failures.append(_Failure(name, errno, when, times))
        return self

    def names(self) -> list[str]:
        """The names of the recorded calls, in order."""
        return [call.name for call in self.calls]

    def find(self, name: str) -> list[Call]:
        """The recorded calls to ``name``, in order."""
        return [call for call in self.calls if call.name == name]

    def last(self, name: str) -> Call:
        """The most recent call to ``name``; LookupError if there was none."""
        found = self.find(name)
        if not found:
            raise LookupError(f"no {name} call was recorded (calls: {self.names()})")
        return found[-1]

    def reset(self) -> None:
        """Forget recorded calls (scripted failures stay)."""
        self.calls.clear()

    def _record(self, name: str, *args: Any) -> None:
        call = Call(name, tuple(_plain(a) for a in args))
        self.calls.append(call)
        for failure in self._failures:
            if failure.matches(call):
                if failure.remaining is not None:
                    failure.remaining -= 1
                raise syscall_error(name, failure.errno, call.args)

    # --- the Syscalls protocol ---

    def unshare(self, flags: int) -> None:
        """Records unshare(2)."""
        self._record("unshare", flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        """Records setns(2)."""
        self._record("setns", fd, nstype)

    def mount(self, source: StrPath | None, target: StrPath, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        """Records mount(2)."""
        self._record("mount", source, target, fstype, flags, data)

    def umount2(self, target: StrPath, flags: int = 0) -> None:
        """Records umount2(2)."""
        self._record("umount2", target, flags)

    def pivot_root(self, new_root: StrPath, put_old: StrPath) -> None:
        """Records pivot_root(2)."""
        self._record("pivot_root", new_root, put_old)

    def sethostname(self, name: str) -> None:
        """Records sethostname(2)."""
        self._record("sethostname", name)

    def setdomainname(self, name: str) -> None:
        """Records setdomainname(2)."""
        self._record("setdomainname", name)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        """Records prctl(2); returns ``prctl_results.get(option, 0)``."""
        self._record("prctl", option, arg2, arg3, arg4, arg5)
        return self.prctl_results.get(option, 0)

    def mknod(self, path: StrPath, mode: int, dev: int) -> None:
        """Records mknod(2)."""
        self._record("mknod", path, mode, dev)

    def chroot(self, path: StrPath) -> None:
        """Records chroot(2)."""
        self._record("chroot", path)

    def chdir(self, path: StrPath) -> None:
        """Records chdir(2)."""
        self._record("chdir", path)

    def fchdir(self, fd: int) -> None:
        """Records fchdir(2)."""
        self._record("fchdir", fd)

    def setsid(self) -> None:
        """Records setsid(2)."""
        self._record("setsid")

    def setgroups(self, gids: list[int]) -> None:
        """Records setgroups(2); the gids as a tuple."""
        self._record("setgroups", tuple(gids))

    def setresgid(self, rgid: int, egid: int, sgid: int) -> None:
        """Records setresgid(2)."""
        self._record("setresgid", rgid, egid, sgid)

    def setresuid(self, ruid: int, euid: int, suid: int) -> None:
        """Records setresuid(2)."""
        self._record("setresuid", ruid, euid, suid)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        """Records capset(2)."""
        self._record("capset", effective, permitted, inheritable)

    def getrlimit(self, resource: int) -> tuple[int, int]:
        """Records getrlimit(2); answers from ``rlimits``."""
        self._record("getrlimit", resource)
        return self.rlimits.get(resource, (RLIM_INFINITY, RLIM_INFINITY))

    def setrlimit(self, resource: int, soft: int, hard: int) -> None:
        """Records setrlimit(2) and keeps the limit for ``getrlimit``."""
        self._record("setrlimit", resource, soft, hard)
        self.rlimits[resource] = (soft, hard)

    def seccomp_filter(self, program: bytes) -> None:
        """Records the seccomp filter's installation (the program's bytes)."""
        self._record("seccomp_filter", program)

    def execve(self, path: StrPath | int, args: list[str], env: dict[str, str]) -> NoReturn:
        """Records execve(2), then raises ``Execed`` (or the scripted failure)."""
        self._record("execve", path, tuple(args), dict(env))
        raise Execed(self.calls[-1])
