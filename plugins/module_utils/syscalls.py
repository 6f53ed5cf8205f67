"""The Linux system calls the runtime needs, behind one interface.

Python 3.11 has no ``os.unshare`` / ``os.setns`` and no ``mount`` at all, so
``LinuxSyscalls`` calls libc through ctypes. The engine depends only on the
``Syscalls`` protocol; unit tests pass ``syscalls_fake.RecordingSyscalls``
instead, which records the calls and can fail on cue.

Every failure raises ``errors.SystemCallError`` built by ``syscall_error()``,
so the real implementation and the fake produce identical errors: the call,
its arguments (flags shown symbolically), errno and a hint for common causes.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import functools
import os
from collections.abc import Mapping
from types import MappingProxyType

from .errors import InvalidState, SystemCallError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import Any, NoReturn, TypeAlias

    StrPath: TypeAlias = str | os.PathLike[str]

# --- constants (values from the kernel's uapi headers) -----------------------

# Namespace flags for unshare(2) / setns(2) (linux/sched.h).
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# The names used under /proc/<pid>/ns/ and in the OCI runtime spec.
NAMESPACE_TYPES: Mapping[str, int] = MappingProxyType({
    "mnt": CLONE_NEWNS,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID,
    "net": CLONE_NEWNET,
    "cgroup": CLONE_NEWCGROUP,
    "time": CLONE_NEWTIME,
})

# mount(2) flags (linux/mount.h).
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_POSIXACL = 1 << 16
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_I_VERSION = 1 << 23
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

# umount2(2) flags (sys/mount.h).
MNT_FORCE = 1
MNT_DETACH = 2
MNT_EXPIRE = 4
UMOUNT_NOFOLLOW = 8

# prctl(2) options a container's init sequence uses (linux/prctl.h).
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_GET_KEEPCAPS = 7
PR_SET_KEEPCAPS = 8
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_GET_SECUREBITS = 27
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
# arg2 of PR_CAP_AMBIENT (sub-operations, not options: their values overlap).
PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_LOWER = 3
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2  # arg2 of PR_SET_SECCOMP (linux/seccomp.h)
_BPF_INSTRUCTION = 8  # sizeof(struct sock_filter)
_CAP_VERSION_3 = 0x20080522  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set

# pivot_root has no glibc wrapper, so it goes through syscall(2), whose number
# depends on the ABI: the machine plus pointer width (a 32-bit Python on an
# x86_64 kernel uses the i386 table). 41 is the asm-generic number.
_PIVOT_ROOT_NR: Mapping[tuple[str, int], int] = MappingProxyType({
    ("x86_64", 64): 155,
    ("amd64", 64): 155,
    ("x86_64", 32): 217,
    ("i386", 32): 217,
    ("i686", 32): 217,
    ("aarch64", 64): 41,
    ("arm64", 64): 41,
    ("riscv64", 64): 41,
})


def pivot_root_number(machine: str | None = None, bits: int | None = None) -> int | None:
    """The pivot_root syscall number for ``machine`` (default: this host) and
    pointer width (default: this Python), or None when unknown."""
    machine = (machine or os.uname().machine).lower()
    bits = bits or ctypes.sizeof(ctypes.c_void_p) * 8
    return _PIVOT_ROOT_NR.get((machine, bits))


# --- errors --------------------------------------------------------------------

_EPERM_ADMIN = "needs root: CAP_SYS_ADMIN in the owning user namespace"

# (call, errno) → hint; checked before the call-independent table below.
_CALL_HINTS: Mapping[tuple[str, int], str] = MappingProxyType({
    ("unshare", errnos.EINVAL): (
        "a flag is unknown to this kernel (CLONE_NEWTIME needs 5.6), or CLONE_NEWUSER was asked by a "
        "multi-threaded process"),
    ("unshare", errnos.EPERM): (
        f"{_EPERM_ADMIN}; for CLONE_NEWUSER, unprivileged user namespaces may be disabled by sysctl"),
    ("unshare", errnos.ENOSPC): "a namespace count limit was reached (/proc/sys/user/max_*_namespaces)",
    ("unshare", errnos.EUSERS): "the user namespace nesting limit (32) was reached",
    ("setns", errnos.EINVAL): (
        "fd is not a namespace file, nstype does not match it, or joining a user namespace from a "
        "multi-threaded process"),
    ("setns", errnos.EBADF): "fd is not an open file descriptor",
    ("setns", errnos.EPERM): "needs CAP_SYS_ADMIN in the target namespace's user namespace",
    ("mount", errnos.EINVAL): (
        "bad flag combination or filesystem option, or a bind/move/propagation/remount target that is not a "
        "mount point"),
    ("mount", errnos.ENOENT): "the source or target path does not exist",
    ("mount", errnos.ENODEV): "the kernel does not support this filesystem type (module not loaded?)",
    ("mount", errnos.EBUSY): "the source is already mounted or the target is busy",
    ("mount", errnos.ENOTDIR): "the target (or a path component) is not a directory",
    ("umount2", errnos.EBUSY): (
        "still in use (open files, a cwd or submounts); retry with MNT_DETACH for a lazy unmount"),
    ("umount2", errnos.EINVAL): "the target is not a mount point, or the flags are invalid",
    ("pivot_root", errnos.EINVAL): (
        "new_root must be a mount point (bind-mount it onto itself), put_old must be at or under new_root, "
        "and no involved mount may be shared (make / private with MS_REC|MS_PRIVATE first)"),
    ("pivot_root", errnos.EBUSY): (
        "new_root or put_old is on the current root filesystem, or put_old has a mount on it"),
    ("pivot_root", errnos.ENOSYS): "pivot_root is not available for this architecture",
    ("sethostname", errnos.EINVAL): "the name is longer than 64 bytes",
    ("sethostname", errnos.EPERM): f"{_EPERM_ADMIN}; unshare CLONE_NEWUTS first so the host keeps its name",
    ("setdomainname", errnos.EINVAL): "the name is longer than 64 bytes",
    ("setdomainname", errnos.EPERM): f"{_EPERM_ADMIN}; unshare CLONE_NEWUTS first so the host keeps its name",
    ("prctl", errnos.EINVAL): "unknown option or bad argument for it on this kernel",
    ("prctl", errnos.EPERM): (
        "the option needs a capability (PR_CAPBSET_DROP needs CAP_SETPCAP) or is locked by securebits"),
    ("mknod", errnos.EPERM): (
        "device nodes need CAP_MKNOD and cannot be created inside a user namespace; bind-mount the host's "
        "device instead"),
    ("mknod", errnos.EEXIST): "the path already exists",
    ("chroot", errnos.EPERM): "needs CAP_SYS_CHROOT",
    ("setgroups", errnos.EPERM): "needs CAP_SETGID; a user namespace may deny setgroups (/proc/<pid>/setgroups)",
    ("setresgid", errnos.EPERM): "needs CAP_SETGID, and in a user namespace the gid must be mapped",
    ("setresuid", errnos.EPERM): "needs CAP_SETUID, and in a user namespace the uid must be mapped",
    ("setresgid", errnos.EINVAL): "the gid is not mapped in this user namespace",
    ("setresuid", errnos.EINVAL): "the uid is not mapped in this user namespace",
    ("capset", errnos.EPERM): "a set may not grow beyond the permitted set and the bounding set",
    ("setrlimit", errnos.EPERM): "raising a hard limit needs CAP_SYS_RESOURCE",
    ("setrlimit", errnos.EINVAL): "the soft limit is above the hard limit",
    ("seccomp_filter", errnos.EACCES): "needs no_new_privs or CAP_SYS_ADMIN: load the filter before the caps drop",
    ("seccomp_filter", errnos.EINVAL): "the kernel refused the BPF program",
    ("execve", errnos.ENOENT): "the file, or its interpreter (#! line or ELF loader), does not exist",
    ("execve", errnos.EACCES): "not executable: mode bits, a noexec mount, or not a regular file",
    ("execve", errnos.ENOEXEC): "not a format the kernel can run (no #! line, wrong architecture)",
})

_ERRNO_HINTS: Mapping[int, str] = MappingProxyType({
    errnos.EPERM: _EPERM_ADMIN,
    errnos.EACCES: "permission denied on a path component (search permission, or a noexec/nodev mount)",
    errnos.ENOENT: "a path does not exist",
    errnos.ENOTDIR: "a path component is not a directory",
    errnos.ENOSYS: "the kernel does not provide this system call",
    errnos.EROFS: "the filesystem is read-only",
    errnos.ENOMEM: "the kernel is out of memory",
})


def hint_for(call: str, err: int) -> str | None:
    """What usually causes ``err`` from ``call``, phrased as what to check."""
    return _CALL_HINTS.get((call, err)) or _ERRNO_HINTS.get(err)


class _Shown(int):
    """An int argument that shows itself symbolically in error text
    (``MS_REC|MS_PRIVATE`` rather than 278528) but still equals the int."""

    _text: str

    def __new__(cls, value: int, text: str) -> _Shown:
        obj = super().__new__(cls, value)
        obj._text = text
        return obj

    def __repr__(self) -> str:
        return self._text

    __str__ = __repr__


def _names(prefixes: tuple[str, ...], skip: str = "") -> dict[int, str]:
    # Built from this module's constants so a new constant is named for free.
    return {value: name for name, value in globals().items()
            if name.startswith(prefixes) and not (skip and name.startswith(skip)) and isinstance(value, int)}


_CLONE_NAMES = _names(("CLONE_NEW",))
_MS_NAMES = _names(("MS_",))
_UMOUNT_NAMES = _names(("MNT_", "UMOUNT_"))
_PR_NAMES = _names(("PR_",), skip="PR_CAP_AMBIENT_")


def _flags_text(value: int, names: Mapping[int, str]) -> str:
    parts: list[str] = []
    rest = value
    for bit, name in sorted(names.items()):
        if value & bit == bit:
            parts.append(name)
            rest &= ~bit
    if rest:
        parts.append(hex(rest))
    return "|".join(parts) or "0"


def _show(call: str, index: int, value: Any) -> Any:
    """``value`` (argument ``index`` of ``call``) in its readable form."""
    if not isinstance(value, int) or isinstance(value, (bool, _Shown)):  # None, str, or already shown
        return value
    if (call, index) in (("unshare", 0), ("setns", 1)):
        return _Shown(value, _flags_text(value, _CLONE_NAMES))
    if (call, index) == ("mount", 3):
        return _Shown(value, _flags_text(value, _MS_NAMES))
    if (call, index) == ("umount2", 1):
        return _Shown(value, _flags_text(value, _UMOUNT_NAMES))
    if (call, index) == ("prctl", 0) and value in _PR_NAMES:
        return _Shown(value, _PR_NAMES[value])
    if (call, index) == ("mknod", 1):
        return _Shown(value, oct(value))
    if call == "capset":
        return _Shown(value, hex(value))
    return value


def syscall_error(call: str, err: int, args: tuple[Any, ...] = (), *, hint: str | None = None) -> SystemCallError:
    """The SystemCallError for ``call(*args)`` failing with ``err``.

    Shared by LinuxSyscalls and the fake so both report failures alike."""
    shown = tuple(_show(call, i, a) for i, a in enumerate(args))
    return SystemCallError(call, err, args=shown, hint=hint or hint_for(call, err))


# --- the interface -------------------------------------------------------------


# ``Syscalls`` (the typing.Protocol) lives in syscalls_protocol and is loaded on
# first use: importing typing costs ~2 ms, and berth-runtime starts once per
# container and never needs the protocol at run time.
def __getattr__(name: str) -> object:
    if name == "Syscalls":
        from .syscalls_protocol import Syscalls

        return Syscalls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the real thing ------------------------------------------------------------

# name → (restype, argtypes). mount's data is a const void *, always a C string here.
_PROTOTYPES: Mapping[str, tuple[Any, list[Any]]] = MappingProxyType({
    "unshare": (ctypes.c_int, [ctypes.c_int]),
    "setns": (ctypes.c_int, [ctypes.c_int, ctypes.c_int]),
    "mount": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]),
    "umount2": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_int]),
    "sethostname": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t]),
    "setdomainname": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t]),
    "prctl": (ctypes.c_int, [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]),
    "syscall": (ctypes.c_long, [ctypes.c_long, ctypes.c_char_p, ctypes.c_char_p]),  # only used for pivot_root
    "capset": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
})


def _load_libc() -> ctypes.CDLL:
    # The running interpreter already links libc; dlopen(NULL) finds it without
    # find_library's ldconfig/gcc subprocess. Fall back for static builds.
    libc = ctypes.CDLL(None, use_errno=True)
    if hasattr(libc, "setns"):
        return libc
    from ctypes import util  # only for static builds: find_library spawns ldconfig

    path = util.find_library("c")
    if path is None:
        raise InvalidState("cannot find the C library", hint="berth needs a glibc or musl based Linux host")
    return ctypes.CDLL(path, use_errno=True)


def _encode(value: StrPath | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def _plain(value: StrPath | None) -> str | None:
    """A path argument as it appears in errors and records: str, not Path."""
    return None if value is None else os.fspath(value)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _via_os(call: str, args: tuple[Any, ...], function: Any, *fn_args: Any) -> Any:
    """``function(*fn_args)`` (an ``os`` wrapper Python already gets right),
    its OSError turned into the SystemCallError for ``call(*args)``."""
    try:
        return function(*fn_args)
    except OSError as exc:
        raise syscall_error(call, exc.errno or errnos.EIO, args) from None


class LinuxSyscalls:
    """``Syscalls`` on the running kernel, through libc via ctypes."""

    def __init__(self) -> None:
        libc = _load_libc()
        # libc[name] gives a private function object, so these prototypes do
        # not change what other code gets from the same CDLL.
        self._fn: dict[str, Any] = {}
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = libc[name]
            fn.restype, fn.argtypes = restype, argtypes
            self._fn[name] = fn
        self._pivot_root_nr = pivot_root_number()

    def _call(self, call: str, args: tuple[Any, ...], *c_args: Any, via: str | None = None) -> int:
        """Run libc function ``via`` (default: ``call``) and turn its -1 return
        into SystemCallError for ``call(*args)``."""
        result = self._fn[via or call](*c_args)
        if result == -1:
            raise syscall_error(call, ctypes.get_errno(), args)
        return int(result)

    def unshare(self, flags: int) -> None:
        """unshare(2): move this process into new namespaces (CLONE_NEW* flags)."""
        self._call("unshare", (flags,), flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        """setns(2): join the namespace open at ``fd``; ``nstype`` (a CLONE_NEW*
        flag, 0 = any) makes the kernel check that fd is of that kind."""
        self._call("setns", (fd, nstype), fd, nstype)

    def mount(self, source: StrPath | None, target: StrPath, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        """mount(2): mount ``source`` on ``target``, or with MS_BIND, MS_MOVE,
        MS_REMOUNT or a propagation flag, change an existing mount."""
        args = (_plain(source), _plain(target), fstype, flags, data)
        self._call("mount", args, _encode(source), _encode(target), _encode(fstype), flags, _encode(data))

    def umount2(self, target: StrPath, flags: int = 0) -> None:
        """umount2(2): unmount ``target`` (MNT_DETACH for a lazy unmount)."""
        self._call("umount2", (_plain(target), flags), _encode(target), flags)

    def pivot_root(self, new_root: StrPath, put_old: StrPath) -> None:
        """pivot_root(2) via syscall(2): make ``new_root`` the root mount and
        move the old root to ``put_old``."""
        args = (_plain(new_root), _plain(put_old))
        if self._pivot_root_nr is None:
            raise syscall_error("pivot_root", errnos.ENOSYS, args,
                                hint=f"berth does not know the pivot_root number for {os.uname().machine}")
        self._call("pivot_root", args, self._pivot_root_nr, _encode(new_root), _encode(put_old), via="syscall")

    def sethostname(self, name: str) -> None:
        """sethostname(2): set the hostname of this UTS namespace."""
        raw = os.fsencode(name)
        self._call("sethostname", (name,), raw, len(raw))

    def setdomainname(self, name: str) -> None:
        """setdomainname(2): set the NIS domain name of this UTS namespace."""
        raw = os.fsencode(name)
        self._call("setdomainname", (name,), raw, len(raw))

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        """prctl(2) with integer arguments; returns the call's non-negative result."""
        args = (option, arg2, arg3, arg4, arg5)
        return self._call("prctl", args, *args)

    # mknod and chroot go through os: Python already wraps them correctly, and
    # glibc only exports a plain ``mknod`` symbol since 2.33.
    def mknod(self, path: StrPath, mode: int, dev: int) -> None:
        """mknod(2): create a device node or FIFO (``dev`` from os.makedev)."""
        try:
            os.mknod(path, mode, dev)
        except OSError as exc:
            raise syscall_error("mknod", exc.errno or errnos.EIO, (_plain(path), mode, dev)) from None

    def chroot(self, path: StrPath) -> None:
        """chroot(2): change this process's root directory."""
        try:
            os.chroot(path)
        except OSError as exc:
            raise syscall_error("chroot", exc.errno or errnos.EIO, (_plain(path),)) from None

    # -- the process's own state ----------------------------------------------------
    def chdir(self, path: StrPath) -> None:
        """chdir(2): change the working directory."""
        _via_os("chdir", (_plain(path),), os.chdir, path)

    def fchdir(self, fd: int) -> None:
        """fchdir(2): change the working directory to the directory open at ``fd``."""
        _via_os("fchdir", (fd,), os.fchdir, fd)

    def setsid(self) -> None:
        """setsid(2): start a new session (no controlling terminal)."""
        _via_os("setsid", (), os.setsid)

    def setgroups(self, gids: list[int]) -> None:
        """setgroups(2): set the supplementary group ids."""
        _via_os("setgroups", (list(gids),), os.setgroups, gids)

    def setresgid(self, rgid: int, egid: int, sgid: int) -> None:
        """setresgid(2): set the real, effective and saved group ids."""
        _via_os("setresgid", (rgid, egid, sgid), os.setresgid, rgid, egid, sgid)

    def setresuid(self, ruid: int, euid: int, suid: int) -> None:
        """setresuid(2): set the real, effective and saved user ids."""
        _via_os("setresuid", (ruid, euid, suid), os.setresuid, ruid, euid, suid)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        """capset(2) of this thread: each set a bit mask of capability numbers."""
        header = _CapHeader(_CAP_VERSION_3, 0)
        data = (_CapData * 2)()
        for word in range(2):
            shift = 32 * word
            data[word].effective = (effective >> shift) & 0xFFFFFFFF
            data[word].permitted = (permitted >> shift) & 0xFFFFFFFF
            data[word].inheritable = (inheritable >> shift) & 0xFFFFFFFF
        self._call("capset", (effective, permitted, inheritable), ctypes.byref(header), data)

    def getrlimit(self, resource: int) -> tuple[int, int]:
        """getrlimit(2): the (soft, hard) limit of an RLIMIT_* resource."""
        import resource as rlimits  # a builtin module; loaded already wherever limits are set

        return _via_os("getrlimit", (resource,), rlimits.getrlimit, resource)

    def setrlimit(self, resource: int, soft: int, hard: int) -> None:
        """setrlimit(2): set the soft and hard limit of an RLIMIT_* resource."""
        import resource as rlimits

        args = (resource, soft, hard)
        try:
            _via_os("setrlimit", args, rlimits.setrlimit, resource, (soft, hard))
        except ValueError as exc:  # Python's words for the kernel's EPERM and EINVAL
            err = errnos.EPERM if "not allowed" in str(exc) else errnos.EINVAL
            raise syscall_error("setrlimit", err, args) from None

    def seccomp_filter(self, program: bytes) -> None:
        """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER): install a classic BPF
        program (struct sock_filter entries, 8 bytes each) as this thread's
        seccomp filter; needs no_new_privs or CAP_SYS_ADMIN."""
        count = len(program) // _BPF_INSTRUCTION
        shown = (_Shown(count, f"<{count} BPF instructions>"),)
        if not count or len(program) % _BPF_INSTRUCTION or count > 0xFFFF:
            raise syscall_error("seccomp_filter", errnos.EINVAL, shown)
        buffer = ctypes.create_string_buffer(program, len(program))
        fprog = _SockFprog(count, ctypes.addressof(buffer))
        result = self._fn["prctl"](PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0)
        if result == -1:
            raise syscall_error("seccomp_filter", ctypes.get_errno(), shown)

    def execve(self, path: StrPath | int, args: list[str], env: dict[str, str]) -> NoReturn:
        """execve(2) (fexecve(3) for a descriptor): replace this process;
        returns only by raising."""
        _via_os("execve", (path if isinstance(path, int) else _plain(path), list(args)), os.execve, path, args, env)
        raise syscall_error("execve", errnos.EIO, (path,))  # not reached: execve returns only on failure


@functools.cache
def default_syscalls() -> LinuxSyscalls:
    """The process-wide LinuxSyscalls (libc is loaded once)."""
    return LinuxSyscalls()
