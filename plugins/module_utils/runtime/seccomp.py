"""linux.seccomp of a spec, compiled and loaded through libseccomp (ctypes).

libseccomp (Debian's libseccomp2, which runc and podman use too) turns the
profile into a BPF program for every listed architecture; berth only maps
the spec's names and numbers onto its API. The program is compiled and
exported before the fork, so the init only hands its bytes to the kernel
(``Syscalls.seccomp_filter``, the prctl libseccomp's own load makes): no
library code runs in the container's process, and a test records the load.
"""

from __future__ import annotations

import ctypes
import errno
import os

from ..errors import InvalidInput, InvalidState, SystemCallError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from .. import syscalls as sc

_ACTIONS = {"SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
            "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ALLOW": 0x7FFF0000, "SCMP_ACT_LOG": 0x7FFC0000}
_WITH_VALUE = {"SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000}
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _library() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        raise InvalidInput("the config carries a seccomp profile but libseccomp is not installed",
                           field="linux.seccomp", hint="apt-get install libseccomp2") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def action(name: str, value: int | None, default_errno: int = errno.EPERM) -> int:
    if name in _ACTIONS:
        return _ACTIONS[name]
    if name in _WITH_VALUE:
        return _WITH_VALUE[name] | ((default_errno if value is None else value) & 0xFFFF)
    raise InvalidInput(f"unsupported seccomp action {name!r}", field="linux.seccomp",
                       hint=f"use one of {', '.join(sorted([*_ACTIONS, *_WITH_VALUE]))}")


def compile_profile(profile: dict) -> bytes:
    """The profile as the BPF program the kernel loads (checked and built
    before any fork)."""
    lib = _library()
    default_errno = profile.get("defaultErrnoRet", errno.EPERM)
    default = action(profile.get("defaultAction", ""), default_errno)
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise InvalidInput("libseccomp refused the default action", field="linux.seccomp.defaultAction")
    try:
        _add_architectures(lib, ctx, profile.get("architectures") or [])
        for index, rule in enumerate(profile.get("syscalls") or []):
            _add_rule(lib, ctx, rule, default, default_errno, f"linux.seccomp.syscalls[{index}]")
        return _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)


def _add_architectures(lib: ctypes.CDLL, ctx: int, architectures: list[str]) -> None:
    for arch in architectures:
        token = lib.seccomp_arch_resolve_name(arch.removeprefix("SCMP_ARCH_").lower().encode())
        if token:
            result = lib.seccomp_arch_add(ctx, token)
            if result not in (0, -errno.EEXIST):
                raise InvalidInput(f"cannot add architecture {arch}", field="linux.seccomp.architectures")


def _export(lib: ctypes.CDLL, ctx: int) -> bytes:
    """The context's BPF program, written by libseccomp into a memfd (no
    size limit, unlike a pipe nobody reads while it writes)."""
    fd = os.memfd_create("berth-seccomp", os.MFD_CLOEXEC)
    try:
        result = lib.seccomp_export_bpf(ctx, fd)
        if result != 0:
            raise InvalidState(f"libseccomp cannot export the filter: {os.strerror(-result)}",
                               field="linux.seccomp")
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def _add_rule(lib: ctypes.CDLL, ctx: ctypes.c_void_p, rule: dict, default: int, default_errno: int,
              field: str) -> None:
    act = action(rule.get("action", ""), rule.get("errnoRet"), default_errno)
    if act == default:
        return  # libseccomp rejects rules that repeat the default action
    args = rule.get("args") or []
    groups = [[a] for a in args] if len(args) > 1 and len({a["index"] for a in args}) == 1 else [args]
    for name in rule.get("names") or []:
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            continue  # unknown on this architecture/libseccomp: skipped, as runc does
        for group in groups:
            array = (_ArgCmp * max(len(group), 1))()
            for i, arg in enumerate(group):
                if arg.get("op") not in _OPS:
                    raise InvalidInput(f"unknown comparison {arg.get('op')!r}", field=f"{field}.args")
                array[i] = _ArgCmp(arg["index"], _OPS[arg["op"]], arg.get("value", 0), arg.get("valueTwo", 0))
            result = lib.seccomp_rule_add_array(ctx, act, number, len(group), array)
            # -EEXIST: an earlier rule for this syscall already covers it (podman's
            # profile repeats socket rules per capability); the first rule stands.
            if result not in (0, -errno.EEXIST):
                raise InvalidInput(f"libseccomp refused the rule for {name}: {-result}", field=field)


def load(program: bytes, calls: sc.Syscalls) -> None:
    """Install the compiled filter on this process (needs no_new_privs or
    CAP_SYS_ADMIN: see the init's order)."""
    try:
        calls.seccomp_filter(program)
    except SystemCallError as err:
        raise InvalidState(f"cannot load the seccomp filter: {os.strerror(err.errno)}", field="linux.seccomp",
                           hint=err.hint) from None
