"""linux.seccomp of a spec, compiled and loaded through libseccomp (ctypes).

libseccomp (Debian's libseccomp2, which runc and podman use too) turns the
profile into a BPF program for every listed architecture; berth only maps
the spec's names and numbers onto its API.
"""

from __future__ import annotations

import ctypes
import errno

from ..errors import InvalidInput, InvalidState

_ACTIONS = {"SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
            "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ALLOW": 0x7FFF0000, "SCMP_ACT_LOG": 0x7FFC0000}
_WITH_VALUE = {"SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000}
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_FLTATR_CTL_NNP = 3


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
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def action(name: str, value: int | None, default_errno: int = errno.EPERM) -> int:
    if name in _ACTIONS:
        return _ACTIONS[name]
    if name in _WITH_VALUE:
        return _WITH_VALUE[name] | ((default_errno if value is None else value) & 0xFFFF)
    raise InvalidInput(f"unsupported seccomp action {name!r}", field="linux.seccomp",
                       hint=f"use one of {', '.join(sorted([*_ACTIONS, *_WITH_VALUE]))}")


def compile_profile(profile: dict) -> tuple[object, ctypes.c_void_p]:
    """A libseccomp context holding the profile (checked before any fork)."""
    lib = _library()
    default_errno = profile.get("defaultErrnoRet", errno.EPERM)
    default = action(profile.get("defaultAction", ""), default_errno)
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise InvalidInput("libseccomp refused the default action", field="linux.seccomp.defaultAction")
    if lib.seccomp_attr_set(ctx, _FLTATR_CTL_NNP, 0) != 0:
        raise InvalidState("libseccomp cannot leave no_new_privs to the runtime")
    for arch in profile.get("architectures") or []:
        token = lib.seccomp_arch_resolve_name(arch.removeprefix("SCMP_ARCH_").lower().encode())
        if token:
            result = lib.seccomp_arch_add(ctx, token)
            if result not in (0, -errno.EEXIST):
                raise InvalidInput(f"cannot add architecture {arch}", field="linux.seccomp.architectures")
    for index, rule in enumerate(profile.get("syscalls") or []):
        _add_rule(lib, ctx, rule, default, default_errno, f"linux.seccomp.syscalls[{index}]")
    return lib, ctx


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


def load(compiled: tuple[object, ctypes.c_void_p]) -> None:
    lib, ctx = compiled
    result = lib.seccomp_load(ctx)  # type: ignore[attr-defined]
    if result != 0:
        raise InvalidState(f"seccomp_load failed: errno {-result}", field="linux.seccomp")
