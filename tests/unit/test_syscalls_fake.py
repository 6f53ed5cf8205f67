"""The recording Syscalls fake, the shared error builder, and the contract
that keeps the fake and LinuxSyscalls in step with the Syscalls protocol."""

from __future__ import annotations

import ctypes
import errno
import inspect
import os
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils import syscalls as sc
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidState, SystemCallError
from ansible_collections.berth.engine.plugins.module_utils.syscalls import (
    CLONE_NEWNS,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    NAMESPACE_TYPES,
    PR_SET_NO_NEW_PRIVS,
    LinuxSyscalls,
    Syscalls,
    syscall_error,
)
from ansible_collections.berth.engine.plugins.module_utils.syscalls_fake import (
    RLIM_INFINITY,
    Call,
    Execed,
    RecordingSyscalls,
)

PROTOCOL_METHODS = {"unshare", "setns", "mount", "umount2", "pivot_root", "sethostname", "setdomainname",
                    "prctl", "mknod", "chroot", "chdir", "fchdir", "setsid", "setgroups", "setresgid", "setresuid",
                    "capset", "getrlimit", "setrlimit", "seccomp_filter", "execve"}


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(value) for name, value in vars(cls).items()
            if callable(value) and not name.startswith("_")}


# --- recording -----------------------------------------------------------------


def test_records_calls_in_order_with_defaults_and_paths_as_str() -> None:
    fake = RecordingSyscalls()
    fake.unshare(CLONE_NEWNS | CLONE_NEWUTS)
    fake.mount(None, "/", None, MS_REC | MS_PRIVATE)
    fake.mount(Path("/src"), Path("/dst"), None, MS_BIND)
    fake.pivot_root(".", ".")
    fake.umount2(".", MNT_DETACH)
    fake.sethostname("c1")

    assert fake.calls == [
        Call("unshare", (CLONE_NEWNS | CLONE_NEWUTS,)),
        Call("mount", (None, "/", None, MS_REC | MS_PRIVATE, None)),
        Call("mount", ("/src", "/dst", None, MS_BIND, None)),
        Call("pivot_root", (".", ".")),
        Call("umount2", (".", MNT_DETACH)),
        Call("sethostname", ("c1",)),
    ]
    assert fake.names() == ["unshare", "mount", "mount", "pivot_root", "umount2", "sethostname"]
    assert [c.args[1] for c in fake.find("mount")] == ["/", "/dst"]
    assert fake.last("mount").args[0] == "/src"
    assert fake.find("chroot") == []


def test_every_protocol_method_is_recorded_and_touches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Anything reaching libc or the os wrappers would be a host change.
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the fake touched the host")

    monkeypatch.setattr(ctypes, "CDLL", refuse)
    for name in ("mknod", "chroot", "mount", "unshare", "setns", "sethostname", "chdir", "fchdir", "setsid",
                 "setgroups", "setresgid", "setresuid", "execve"):
        monkeypatch.setattr(os, name, refuse, raising=False)

    fake = RecordingSyscalls()
    fake.unshare(CLONE_NEWUTS)
    fake.setns(3)
    fake.mount("tmpfs", "/x", "tmpfs", 0, "size=1m")
    fake.umount2("/x")
    fake.pivot_root("/new", "/new/old")
    fake.sethostname("h")
    fake.setdomainname("d")
    assert fake.prctl(PR_SET_NO_NEW_PRIVS, 1) == 0
    fake.mknod("/dev/null", 0o20666, os.makedev(1, 3))
    fake.chroot("/new")
    fake.chdir(Path("/w"))
    fake.fchdir(5)
    fake.setsid()
    fake.setgroups([10, 20])
    fake.setresgid(1, 1, 1)
    fake.setresuid(2, 2, 2)
    fake.capset(1 << 5, 1 << 5, 0)
    assert fake.getrlimit(7) == (RLIM_INFINITY, RLIM_INFINITY)
    fake.setrlimit(7, 100, 200)
    assert fake.getrlimit(7) == (100, 200), "the fake keeps what was set, as the kernel does"
    fake.seccomp_filter(b"\0" * 8)
    with pytest.raises(Execed) as execed:
        fake.execve(Path("/bin/sh"), ["sh", "-c", "true"], {"PATH": "/bin"})

    assert set(fake.names()) == PROTOCOL_METHODS
    assert execed.value.call == Call("execve", ("/bin/sh", ("sh", "-c", "true"), {"PATH": "/bin"}))
    assert fake.calls[-1] == execed.value.call
    assert fake.last("setgroups") == Call("setgroups", ((10, 20),))
    assert fake.last("chdir") == Call("chdir", ("/w",))
    assert fake.last("setns") == Call("setns", (3, 0))
    assert fake.last("prctl") == Call("prctl", (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))


def test_execve_is_not_caught_by_the_runtimes_exception_handlers() -> None:
    fake = RecordingSyscalls()
    try:
        fake.execve("/bin/true", ["true"], {})
    except Exception:  # the point: a plain handler must not stop it
        pytest.fail("Execed must pass through `except Exception`")
    except Execed:
        pass


def test_a_scripted_execve_failure_raises_like_the_kernel() -> None:
    fake = RecordingSyscalls().fail_on("execve", errno.ENOENT)
    with pytest.raises(SystemCallError) as info:
        fake.execve("/missing", ["missing"], {})
    assert info.value.errno == errno.ENOENT and "interpreter" in (info.value.hint or "")


def test_capset_errors_show_masks_in_hex() -> None:
    assert "capset(0x20, 0x20, 0x0)" in str(syscall_error("capset", errno.EPERM, (32, 32, 0)))


def test_prctl_returns_the_scripted_result() -> None:
    fake = RecordingSyscalls()
    fake.prctl_results[sc.PR_GET_NO_NEW_PRIVS] = 1
    assert fake.prctl(sc.PR_GET_NO_NEW_PRIVS) == 1
    assert fake.prctl(sc.PR_GET_DUMPABLE) == 0


def test_reset_forgets_calls_but_keeps_failures() -> None:
    fake = RecordingSyscalls().fail_on("chroot", errno.EPERM)
    fake.unshare(CLONE_NEWNS)
    fake.reset()
    assert fake.calls == []
    with pytest.raises(SystemCallError):
        fake.chroot("/")


def test_last_without_such_call_names_what_was_called() -> None:
    fake = RecordingSyscalls()
    fake.unshare(CLONE_NEWNS)
    with pytest.raises(LookupError, match=r"no mount call.*'unshare'"):
        fake.last("mount")


# --- scripted failures ---------------------------------------------------------


def test_scripted_failure_raises_what_linux_syscalls_would() -> None:
    fake = RecordingSyscalls().fail_on("umount2", errno.EBUSY)
    with pytest.raises(SystemCallError) as info:
        fake.umount2(Path("/run/berth/c1/rootfs"))

    err = info.value
    assert isinstance(err, InvalidState)
    assert (err.call, err.errno, err.call_args) == ("umount2", errno.EBUSY, ("/run/berth/c1/rootfs", 0))
    text = str(err)
    assert text.startswith("umount2('/run/berth/c1/rootfs', 0) failed: [Errno 16] ")
    assert os.strerror(errno.EBUSY) in text
    assert "MNT_DETACH" in (err.hint or "")
    # Identical to the error LinuxSyscalls builds for the same failure.
    same = syscall_error("umount2", errno.EBUSY, ("/run/berth/c1/rootfs", 0))
    assert (str(err), err.as_dict()) == (str(same), same.as_dict())
    # The failed call was still recorded: the kernel saw it.
    assert fake.names() == ["umount2"]


def test_failure_only_when_the_predicate_matches() -> None:
    fake = RecordingSyscalls().fail_on("mount", errno.ENOENT, when=lambda call: call.args[1] == "/missing")
    fake.mount("tmpfs", "/here", "tmpfs")
    with pytest.raises(SystemCallError) as info:
        fake.mount("tmpfs", "/missing", "tmpfs")
    assert info.value.errno == errno.ENOENT
    assert "'/missing'" in str(info.value)
    fake.mount("tmpfs", "/here/too", "tmpfs")
    assert len(fake.find("mount")) == 3


def test_failure_times_then_success() -> None:
    fake = RecordingSyscalls().fail_on("umount2", errno.EBUSY, times=2)
    for _attempt in range(2):
        with pytest.raises(SystemCallError):
            fake.umount2("/m")
    fake.umount2("/m")
    assert fake.names() == ["umount2"] * 3


def test_times_counts_only_matching_calls() -> None:
    fake = RecordingSyscalls().fail_on("setns", errno.EINVAL, when=lambda call: call.args[1] == CLONE_NEWNS,
                                       times=1)
    fake.setns(4, CLONE_NEWUTS)
    with pytest.raises(SystemCallError):
        fake.setns(5, CLONE_NEWNS)
    fake.setns(5, CLONE_NEWNS)


def test_first_matching_rule_wins() -> None:
    fake = (RecordingSyscalls()
            .fail_on("unshare", errno.EPERM, times=1)
            .fail_on("unshare", errno.EINVAL))
    errnos = []
    for _attempt in range(2):
        with pytest.raises(SystemCallError) as info:
            fake.unshare(CLONE_NEWNS)
        errnos.append(info.value.errno)
    assert errnos == [errno.EPERM, errno.EINVAL]


def test_prctl_failure_names_the_option() -> None:
    fake = RecordingSyscalls().fail_on("prctl", errno.EINVAL)
    with pytest.raises(SystemCallError, match=r"^prctl\(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0\) failed: \[Errno 22\]"):
        fake.prctl(PR_SET_NO_NEW_PRIVS, 1)


@pytest.mark.parametrize(("name", "errno_", "times", "message"), [
    ("mout", errno.EPERM, None, "not a Syscalls method"),
    ("mount", 0, None, "errno must be positive"),
    ("mount", errno.EPERM, 0, "times must be at least 1"),
])
def test_fail_on_rejects_mistakes(name: str, errno_: int, times: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RecordingSyscalls().fail_on(name, errno_, times=times)


# --- the shared error builder --------------------------------------------------


def test_error_shows_flags_symbolically_but_keeps_the_values() -> None:
    err = syscall_error("mount", errno.EINVAL, (None, "/", None, MS_REC | MS_PRIVATE | 0x8000000, None))
    assert "mount(None, '/', None, MS_REC|MS_PRIVATE|0x8000000, None) failed: [Errno 22]" in str(err)
    assert err.call_args[3] == MS_REC | MS_PRIVATE | 0x8000000

    assert "unshare(CLONE_NEWNS|CLONE_NEWUTS)" in str(syscall_error("unshare", errno.EPERM, (0x04020000,)))
    assert "unshare(0x1)" in str(syscall_error("unshare", errno.EINVAL, (1,)))
    assert "setns(7, 0)" in str(syscall_error("setns", errno.EBADF, (7, 0)))
    assert "umount2('/m', MNT_DETACH)" in str(syscall_error("umount2", errno.EBUSY, ("/m", MNT_DETACH)))
    assert "mknod('/d', 0o20666, 259)" in str(syscall_error("mknod", errno.EPERM, ("/d", 0o20666, 259)))


@pytest.mark.parametrize(("call", "errno_", "words"), [
    ("mount", errno.EPERM, "CAP_SYS_ADMIN"),
    ("unshare", errno.EPERM, "CAP_SYS_ADMIN"),
    ("pivot_root", errno.EINVAL, "mount point"),
    ("pivot_root", errno.EINVAL, "MS_PRIVATE"),
    ("umount2", errno.EBUSY, "MNT_DETACH"),
    ("mount", errno.ENODEV, "filesystem type"),
    ("mknod", errno.EPERM, "CAP_MKNOD"),
    ("sethostname", errno.EPERM, "CLONE_NEWUTS"),
    ("chroot", errno.ENOENT, "does not exist"),  # the call-independent table
])
def test_hints_for_common_errnos(call: str, errno_: int, words: str) -> None:
    err = syscall_error(call, errno_)
    assert err.hint and words in err.hint
    assert f"({err.hint})" in str(err)


def test_unknown_errno_has_no_hint_and_an_explicit_hint_wins() -> None:
    assert syscall_error("mount", errno.EXDEV).hint is None
    assert syscall_error("mount", errno.EPERM, hint="try rootless mode").hint == "try rootless mode"


# --- constants -----------------------------------------------------------------


def test_namespace_types_cover_every_namespace_with_distinct_bits() -> None:
    assert set(NAMESPACE_TYPES) == {"mnt", "uts", "ipc", "user", "pid", "net", "cgroup", "time"}
    flags = list(NAMESPACE_TYPES.values())
    assert all(f and f & (f - 1) == 0 for f in flags)  # single bits
    assert len(set(flags)) == len(flags)
    with pytest.raises(TypeError):
        NAMESPACE_TYPES["mnt"] = 0  # type: ignore[index]


def test_pivot_root_numbers_per_abi() -> None:
    assert sc.pivot_root_number("x86_64", 64) == 155
    assert sc.pivot_root_number("aarch64", 64) == 41
    assert sc.pivot_root_number("x86_64", 32) == 217
    assert sc.pivot_root_number("sparc64", 64) is None


# --- the contract ----------------------------------------------------------------


def test_protocol_has_the_documented_methods_each_with_a_docstring() -> None:
    methods = _public_methods(Syscalls)
    assert set(methods) == PROTOCOL_METHODS
    for name in methods:
        assert (getattr(Syscalls, name).__doc__ or "").strip(), f"Syscalls.{name} has no docstring"


@pytest.mark.parametrize("impl", [LinuxSyscalls, RecordingSyscalls])
def test_implementations_match_the_protocol_signatures(impl: type) -> None:
    expected = _public_methods(Syscalls)
    actual = _public_methods(impl)
    missing = set(expected) - set(actual)
    assert not missing, f"{impl.__name__} lacks {sorted(missing)}"
    for name, signature in expected.items():
        assert actual[name] == signature, f"{impl.__name__}.{name}{actual[name]} != Syscalls.{name}{signature}"
        assert getattr(impl, name).__doc__, f"{impl.__name__}.{name} has no docstring"


def test_linux_syscalls_adds_no_methods_outside_the_protocol() -> None:
    # Anything the engine could call on the real one must exist on the fake.
    assert set(_public_methods(LinuxSyscalls)) == PROTOCOL_METHODS


def test_both_are_runtime_instances_of_the_protocol() -> None:
    assert isinstance(RecordingSyscalls(), Syscalls)
    real = sc.default_syscalls()  # loads libc, makes no call
    assert isinstance(real, Syscalls)
    assert sc.default_syscalls() is real
